/**
 * Collector cost: whole-process CPU time per hour and memory of `wattscope collect` at 1 Hz
 * (every procfs source on this machine's /proc, 4 RAPL zones and 2 hwmon sensors on a fixture
 * sysfs, writing to a real influxd), side by side in the same run with Debian's
 * prometheus-node-exporter (cpu, meminfo, diskstats, netdev, rapl collectors) scraped at 1 Hz;
 * and the cost of sampling 8 power sources at 100 Hz.
 *
 *   npm run bench -- collector [seconds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree } from '../common/copy-tree.js';
import { findInfluxd, freePort, startInfluxd } from '../common/influxd.js';
import { packageRoot } from '../common/paths.js';
import { fmt, sleep, usage, type ProcUsage } from './proc.js';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'hosts', 'desktop-intel');
const BIN = join(packageRoot(), 'bin', 'wattscope.js');

/** The desktop fixture's sysfs with `zones` RAPL zones and `extraGpus` more amdgpu sensors. */
function sysfs(dir: string, keepMmio: boolean, extraGpus: number): string {
  const root = join(dir, 'sys');
  // its files are links into the sources' testdata: copied as files, its own links kept
  copyTree(join(FIXTURE, 'sys'), root);
  if (!keepMmio) rmSync(join(root, 'class/powercap/intel-rapl-mmio:0'));
  for (let i = 0; i < extraGpus; i++) {
    const dev = join(root, `devices/pci0000:00/0000:00:0${2 + i}.0/hwmon/hwmon${10 + i}`);
    mkdirSync(dev, { recursive: true });
    writeFileSync(join(dev, 'name'), 'amdgpu\n');
    writeFileSync(join(dev, 'power1_average'), '31000000\n');
    symlinkSync(`../../devices/pci0000:00/0000:00:0${2 + i}.0/hwmon/hwmon${10 + i}`, join(root, `class/hwmon/hwmon${10 + i}`));
  }
  return root;
}

interface Measured {
  name: string;
  before: ProcUsage;
  after: ProcUsage;
  seconds: number;
}

function report(m: Measured): string {
  const cpu = m.after.cpuS - m.before.cpuS;
  const perHour = (cpu / m.seconds) * 3600;
  const pct = (cpu / m.seconds) * 100;
  return `| ${m.name} | ${fmt(perHour, 1)} s | ${fmt(pct, 3)} % | ${fmt(m.after.rssBytes / 2 ** 20, 1)} MB | ${fmt(m.after.peakRssBytes / 2 ** 20, 1)} MB |`;
}

export async function benchCollector(seconds = 120): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  const children: ChildProcess[] = [];
  try {
    const collector = (name: string, sampleHz: number, sys: string, flushS?: number) => {
      const child = spawn(process.execPath, [BIN, 'collect'], {
        env: {
          PATH: process.env.PATH,
          HOME: work,
          WATTSCOPE_PROCFS_ROOT: '/proc',
          WATTSCOPE_SYSFS_ROOT: sys,
          WATTSCOPE_SAMPLE_HZ: String(sampleHz),
          WATTSCOPE_INFLUX_URL: influx.url,
          WATTSCOPE_INFLUX_DB: `bench_${name}`,
          WATTSCOPE_SPOOL_DIR: join(work, `spool-${name}`),
          WATTSCOPE_COLLECTOR_PORT: '0',
          WATTSCOPE_LOG_LEVEL: 'warn',
          ...(flushS === undefined ? {} : { WATTSCOPE_FLUSH_INTERVAL_S: String(flushS) }),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const at1Hz = collector('1hz', 1, sysfs(join(work, 'a'), false, 0)); // 4 RAPL zones, 2 hwmon; default flush (5 s)
    const at1HzFlush1 = collector('1hz_flush1', 1, join(work, 'a', 'sys'), 1); // the same, sending every second
    const at100Hz = collector('100hz', 100, sysfs(join(work, 'b'), true, 1)); // 5 RAPL zones, 3 hwmon: 8 sources
    const nePort = await freePort();
    const nodeExporter = spawn(
      'prometheus-node-exporter',
      ['--path.procfs=/proc', `--path.sysfs=${join(work, 'a', 'sys')}`, '--collector.disable-defaults', '--collector.cpu', '--collector.meminfo', '--collector.diskstats', '--collector.netdev', '--collector.rapl', `--web.listen-address=127.0.0.1:${nePort}`],
      { stdio: 'ignore' },
    );
    children.push(nodeExporter);
    // start-up is not what is measured: let everything settle first
    await sleep(5000);
    const scrape = setInterval(() => void fetch(`http://127.0.0.1:${nePort}/metrics`).then((r) => r.text(), () => ''), 1000);
    const pids = { c1: at1Hz.pid as number, c1f: at1HzFlush1.pid as number, c100: at100Hz.pid as number, ne: nodeExporter.pid as number };
    const before = { c1: usage(pids.c1), c1f: usage(pids.c1f), c100: usage(pids.c100), ne: usage(pids.ne) };
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const after = { c1: usage(pids.c1), c1f: usage(pids.c1f), c100: usage(pids.c100), ne: usage(pids.ne) };
    clearInterval(scrape);
    const c1 = after.c1.cpuS - before.c1.cpuS;
    const ne = after.ne.cpuS - before.ne.cpuS;
    console.log(`\n### Collector cost (${fmt(elapsed, 0)} s measured after 5 s of warm-up, all four running side by side)\n`);
    console.log('| process | CPU time per hour | share of one core | RSS | peak RSS |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(report({ name: 'wattscope collect, 1 Hz: procfs + 4 RAPL + 2 hwmon, sending to influxd every 5 s (default)', before: before.c1, after: after.c1, seconds: elapsed }));
    console.log(report({ name: 'wattscope collect, the same, sending every second (`wattscope up`)', before: before.c1f, after: after.c1f, seconds: elapsed }));
    console.log(report({ name: 'prometheus-node-exporter 1.5.0 (cpu, meminfo, diskstats, netdev, rapl), scraped at 1 Hz', before: before.ne, after: after.ne, seconds: elapsed }));
    console.log(report({ name: 'wattscope collect, 100 Hz sampling of 8 power sources (+ procfs at 1 Hz), sending every 5 s', before: before.c100, after: after.c100, seconds: elapsed }));
    console.log(`\nCPU ratio collector (1 Hz, default) / node_exporter (1 Hz): ${fmt(c1 / ne, 2)}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(500);
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
