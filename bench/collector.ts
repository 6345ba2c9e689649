/**
 * Collector cost: whole-process CPU time per hour and memory of `wattscope collect` reading at
 * 1 Hz (every procfs source on this machine's /proc, 4 RAPL zones and 2 hwmon sensors on a
 * fixture sysfs, writing to a real influxd), side by side in the same run with Debian's
 * prometheus-node-exporter (cpu, meminfo, diskstats, netdev, rapl collectors) scraped at 1 Hz;
 * the same on its defaults (power read at 10 Hz); 8 GPUs read at 10 Hz through the nvidia-smi
 * and dcgm-exporter stand-ins (the host at 1 s reports); and 8 power sources read at 100 Hz.
 *
 *   npm run bench -- collector [seconds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, mkdtempSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
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

const SOURCES = join(packageRoot(), 'collector', 'sources');
/** PCI addresses of the 8 GPUs of the simulated server; nvidia-smi and DCGM name them alike. */
const BUSES = ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB'].map((b) => `00000000:${b}:00.0`);

/** The 2-GPU nvidia-smi rows of the testdata (after their header of fields) made into sweeps of 8 GPUs. */
export function nvidiaSmi8(dir: string): string {
  const [header, ...rows] = readFileSync(join(SOURCES, 'nvidia-smi', 'testdata', 'a100x2.csv'), 'utf8').split('\n').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i + 1 < rows.length; i += 2) {
    for (let k = 0; k < 8; k++) {
      const cols = (rows[i + (k % 2)] as string).split(', ');
      cols[0] = String(k);
      cols[1] = BUSES[k] as string;
      out.push(cols.join(', '));
    }
  }
  const path = join(dir, 'nvidia-smi-8.csv');
  writeFileSync(path, `${header}\n${out.join('\n')}\n`);
  return path;
}

/** A dcgm-exporter stand-in for 8 GPUs (the captured 2-GPU text, repeated) whose energy counters advance at 300 W. */
export async function dcgm8(): Promise<{ url: string; close: () => void }> {
  const lines = readFileSync(join(SOURCES, 'dcgm', 'testdata', 'h100x2.prom'), 'utf8').split('\n');
  const t0 = performance.now();
  const server = createServer((_req, res) => {
    const out: string[] = [];
    for (const line of lines) {
      const m = /gpu="([01])"/.exec(line);
      if (!m) {
        out.push(line);
        continue;
      }
      for (let k = Number(m[1]); k < 8; k += 2) {
        let l = line.replace(/gpu="[01]"/, `gpu="${k}"`).replace(/pci_bus_id="[^"]*"/, `pci_bus_id="${BUSES[k]}"`).replace(/device="nvidia[01]"/, `device="nvidia${k}"`).replace(/UUID="GPU-([0-9a-f-]*)"/, (_, u: string) => `UUID="GPU-${u.slice(0, -1)}${k}"`);
        if (l.startsWith('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')) l = l.replace(/ \d+$/, ` ${Math.floor(1e9 * (k + 1) + 300 * (performance.now() - t0))}`);
        out.push(l);
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(out.join('\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/metrics`, close: () => server.close() };
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
  const closers: Array<() => void> = [];
  try {
    const collector = (name: string, sys: string, env: Record<string, string>) => {
      const child = spawn(process.execPath, [BIN, 'collect'], {
        env: {
          PATH: process.env.PATH,
          HOME: work,
          WATTSCOPE_PROCFS_ROOT: '/proc',
          WATTSCOPE_SYSFS_ROOT: sys,
          WATTSCOPE_INFLUX_URL: influx.url,
          WATTSCOPE_INFLUX_DB: `bench_${name}`,
          WATTSCOPE_SPOOL_DIR: join(work, `spool-${name}`),
          WATTSCOPE_COLLECTOR_PORT: '0',
          WATTSCOPE_LOG_LEVEL: 'error',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    const dcgm = await dcgm8();
    closers.push(dcgm.close);
    const hostSys = sysfs(join(work, 'a'), false, 0); // 4 RAPL zones, 2 hwmon
    const at1Hz = collector('1hz', hostSys, { WATTSCOPE_SAMPLE_HZ: '1' }); // power read once a second, as node_exporter is scraped
    const defaults = collector('defaults', hostSys, {}); // power read at 10 Hz (the default), reports every 1 s, sends every 5 s
    const gpus = collector('gpus', hostSys, {
      WATTSCOPE_SAMPLE_HZ: '10',
      WATTSCOPE_DCGM_URL: dcgm.url,
      WATTSCOPE_NVIDIA_SMI: join(SOURCES, 'nvidia-smi', 'testdata', 'bin', 'nvidia-smi'),
      NVIDIA_SMI_REPLAY: nvidiaSmi8(work),
    });
    const at100Hz = collector('100hz', sysfs(join(work, 'b'), true, 1), { WATTSCOPE_SAMPLE_HZ: '100' }); // 5 RAPL zones, 3 hwmon: 8 sources
    const nePort = await freePort();
    const nodeExporter = spawn(
      'prometheus-node-exporter',
      ['--path.procfs=/proc', `--path.sysfs=${hostSys}`, '--collector.disable-defaults', '--collector.cpu', '--collector.meminfo', '--collector.diskstats', '--collector.netdev', '--collector.rapl', `--web.listen-address=127.0.0.1:${nePort}`],
      { stdio: 'ignore' },
    );
    children.push(nodeExporter);
    // start-up is not what is measured: let everything settle first
    await sleep(8000);
    const scrape = setInterval(() => void fetch(`http://127.0.0.1:${nePort}/metrics`).then((r) => r.text(), () => ''), 1000);
    const procs = { c1: at1Hz, cd: defaults, cg: gpus, c100: at100Hz, ne: nodeExporter };
    const pid = (c: ChildProcess) => c.pid as number;
    const before = Object.fromEntries(Object.entries(procs).map(([k, c]) => [k, usage(pid(c))])) as Record<keyof typeof procs, ProcUsage>;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const after = Object.fromEntries(Object.entries(procs).map(([k, c]) => [k, usage(pid(c))])) as Record<keyof typeof procs, ProcUsage>;
    clearInterval(scrape);
    // every collector must have sent its points, or its cost is that of a broken one
    const sent = await Promise.all(
      ['1hz', 'defaults', 'gpus', '100hz'].map(async (name) => {
        const r = await fetch(`${influx.url}/query?db=bench_${name}&q=${encodeURIComponent('SELECT count(energy_j) FROM power')}`);
        const body = (await r.json()) as { results?: Array<{ series?: Array<{ values?: unknown[][] }> }> };
        return `${name} ${String(body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0)}`;
      }),
    );
    const gpuSeries = await fetch(`${influx.url}/query?db=bench_gpus&q=${encodeURIComponent('SHOW TAG VALUES FROM gpu WITH KEY = gpu')}`).then((r) => r.json() as Promise<{ results?: Array<{ series?: Array<{ values?: unknown[][] }> }> }>);
    const c1 = after.c1.cpuS - before.c1.cpuS;
    const ne = after.ne.cpuS - before.ne.cpuS;
    console.log(`\n### Collector cost (${fmt(elapsed, 0)} s measured after 8 s of warm-up, all five running side by side)\n`);
    console.log('| process | CPU time per hour | share of one core | RSS | peak RSS |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(report({ name: 'wattscope collect, power read at 1 Hz: procfs + 4 RAPL + 2 hwmon, reports every 1 s, sends every 5 s', before: before.c1, after: after.c1, seconds: elapsed }));
    console.log(report({ name: 'prometheus-node-exporter 1.5.0 (cpu, meminfo, diskstats, netdev, rapl), scraped at 1 Hz', before: before.ne, after: after.ne, seconds: elapsed }));
    console.log(report({ name: 'wattscope collect on its defaults: the same, power read at 10 Hz', before: before.cd, after: after.cd, seconds: elapsed }));
    console.log(report({ name: 'wattscope collect, 8 GPUs read at 10 Hz (nvidia-smi and dcgm-exporter stand-ins) + the host above', before: before.cg, after: after.cg, seconds: elapsed }));
    console.log(report({ name: 'wattscope collect, 8 power sources read at 100 Hz (+ procfs), sends every 5 s', before: before.c100, after: after.c100, seconds: elapsed }));
    console.log(`\npower points written: ${sent.join(', ')}; GPUs seen by the GPU collector: ${(gpuSeries.results?.[0]?.series?.[0]?.values ?? []).length}`);
    const cd = after.cd.cpuS - before.cd.cpuS;
    console.log(`\nCPU ratio to node_exporter (1 Hz): collector reading power at 1 Hz ${fmt(c1 / ne, 2)}, on its defaults (10 Hz) ${fmt(cd / ne, 2)}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const close of closers) close();
    await sleep(500);
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
