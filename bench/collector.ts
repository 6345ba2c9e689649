/**
 * Collector cost: whole-process CPU time and memory of `wattscope collect` on its defaults (10 Hz
 * sample rate, 1 s reports, sends every 5 s) on two hosts — one whose power channels are all
 * energy counters (4 RAPL zones: it wakes once a second) and one with sampled sensors beside them
 * (the same and 2 hwmon sensors averaged by the chip: it wakes ten times a second) — each with
 * every procfs source on this machine's /proc, writing to a real influxd; side by side in the
 * same run with Debian's prometheus-node-exporter (cpu, meminfo, diskstats, netdev, rapl
 * collectors on the same sysfs) scraped at 1 Hz, and with Node's own floor: bare Node processes
 * that only wake on the same timer and read the same files (./floor.ts). Also 8 GPUs at 10 Hz
 * through the nvidia-smi and dcgm-exporter stand-ins (on the sampled host), and 8 power sources
 * at 100 Hz. `rounds` windows of `seconds` each, one after another, show the spread.
 *
 *   npm run bench -- collector [seconds per round] [rounds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree } from '../common/copy-tree.js';
import { findInfluxd, freePort, startInfluxd } from '../common/influxd.js';
import { packageRoot } from '../common/paths.js';
import { fmt, machineBusyS, sleep, usage, type ProcUsage } from './proc.js';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'hosts', 'desktop-intel');
const BIN = join(packageRoot(), 'bin', 'wattscope.js');
const FLOOR = join(packageRoot(), 'dist', 'bench', 'floor.js');

/** The desktop fixture's sysfs: its RAPL zones (the MMIO twin where `keepMmio`), its 2 hwmon sensors where `hwmon`, and `extraGpus` more amdgpu sensors. */
function sysfs(dir: string, opts: { keepMmio: boolean; hwmon: boolean; extraGpus: number }): string {
  const root = join(dir, 'sys');
  // its files are links into the sources' testdata: copied as files, its own links kept
  copyTree(join(FIXTURE, 'sys'), root);
  if (!opts.keepMmio) rmSync(join(root, 'class/powercap/intel-rapl-mmio:0'));
  if (!opts.hwmon) rmSync(join(root, 'class/hwmon'), { recursive: true });
  for (let i = 0; i < opts.extraGpus; i++) {
    const dev = join(root, `devices/pci0000:00/0000:00:0${2 + i}.0/hwmon/hwmon${10 + i}`);
    mkdirSync(dev, { recursive: true });
    writeFileSync(join(dev, 'name'), 'amdgpu\n');
    writeFileSync(join(dev, 'power1_average'), '31000000\n');
    symlinkSync(`../../devices/pci0000:00/0000:00:0${2 + i}.0/hwmon/hwmon${10 + i}`, join(root, `class/hwmon/hwmon${10 + i}`));
  }
  return root;
}

/** The files the collector reads on a host: RAPL energy counters, hwmon power sensors, and the procfs files of its host metrics. */
function filesOf(sys: string): { rapl: string[]; hwmon: string[]; procfs: string[] } {
  const powercap = join(sys, 'class', 'powercap');
  const rapl = readdirSync(powercap)
    .filter((d) => /^intel-rapl(-mmio)?:/.test(d))
    .map((d) => join(powercap, d, 'energy_uj'));
  const hwmonRoot = join(sys, 'class', 'hwmon');
  const hwmon = existsSync(hwmonRoot)
    ? readdirSync(hwmonRoot).flatMap((h) => {
        const dir = join(hwmonRoot, h);
        return readdirSync(dir)
          .filter((f) => /^power\d+_(input|average)$/.test(f))
          .map((f) => join(dir, f));
      })
    : [];
  return { rapl, hwmon, procfs: ['/proc/stat', '/proc/meminfo', '/proc/diskstats', '/proc/net/dev'] };
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

interface Row {
  key: string;
  name: string;
  child: ChildProcess;
}

/** CPU seconds per second of wall time, as a share of one core in %. */
const share = (before: ProcUsage, after: ProcUsage, seconds: number) => ((after.cpuS - before.cpuS) / seconds) * 100;

const range = (xs: readonly number[], digits = 3) => (xs.length === 1 ? fmt(xs[0] as number, digits) : `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`);

export async function benchCollector(seconds = 120, rounds = 2): Promise<void> {
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
    const floor = (hz: number, fast: readonly string[], perSecond: readonly string[]) => {
      // on V8's tiers the collector runs on (cli/tier.ts): what is left is the collector's own
      const child = spawn(process.execPath, ['--max-opt=1', FLOOR, String(hz), fast.join(','), perSecond.join(',')], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      return child;
    };
    const dcgm = await dcgm8();
    closers.push(dcgm.close);
    const counterSys = sysfs(join(work, 'counters'), { keepMmio: false, hwmon: false, extraGpus: 0 }); // 4 RAPL zones
    const sampledSys = sysfs(join(work, 'sampled'), { keepMmio: false, hwmon: true, extraGpus: 0 }); // 4 RAPL zones, 2 hwmon averaged
    const counterFiles = filesOf(counterSys);
    const sampledFiles = filesOf(sampledSys);
    const nePort = await freePort();
    const rows: Row[] = [
      {
        key: 'ne',
        name: 'prometheus-node-exporter (cpu, meminfo, diskstats, netdev, rapl on the counter host’s sysfs), scraped at 1 Hz',
        child: spawn(
          'prometheus-node-exporter',
          ['--path.procfs=/proc', `--path.sysfs=${counterSys}`, '--collector.disable-defaults', '--collector.cpu', '--collector.meminfo', '--collector.diskstats', '--collector.netdev', '--collector.rapl', `--web.listen-address=127.0.0.1:${nePort}`],
          { stdio: 'ignore' },
        ),
      },
      { key: 'counters', name: `wattscope collect on its defaults, host of counters: procfs + ${counterFiles.rapl.length} RAPL (wakes once a second)`, child: collector('counters', counterSys, {}) },
      { key: 'floorCounters', name: `Node’s floor for it: a bare Node process (the same V8 tiers), a 1 Hz timer reading the same ${counterFiles.procfs.length + counterFiles.rapl.length} files`, child: floor(1, [...counterFiles.procfs, ...counterFiles.rapl], []) },
      { key: 'sampled', name: `wattscope collect on its defaults, host with sampled sensors: procfs + ${sampledFiles.rapl.length} RAPL + ${sampledFiles.hwmon.length} hwmon averaged (wakes 10 times a second)`, child: collector('sampled', sampledSys, {}) },
      { key: 'floorSampled', name: `Node’s floor for it: a 10 Hz timer reading the ${sampledFiles.rapl.length + sampledFiles.hwmon.length} sensors, the ${sampledFiles.procfs.length} procfs files once a second`, child: floor(10, [...sampledFiles.rapl, ...sampledFiles.hwmon], sampledFiles.procfs) },
      {
        key: 'gpus',
        name: 'wattscope collect, 8 GPUs read at 10 Hz (nvidia-smi and dcgm-exporter stand-ins) + the sampled host',
        child: collector('gpus', sampledSys, {
          WATTSCOPE_DCGM_URL: dcgm.url,
          WATTSCOPE_NVIDIA_SMI: join(SOURCES, 'nvidia-smi', 'testdata', 'bin', 'nvidia-smi'),
          NVIDIA_SMI_REPLAY: nvidiaSmi8(work),
        }),
      },
      { key: 'hz100', name: 'wattscope collect, 8 power sources read at 100 Hz (5 RAPL, 3 hwmon) + procfs', child: collector('100hz', sysfs(join(work, 'hz100'), { keepMmio: true, hwmon: true, extraGpus: 1 }), { WATTSCOPE_SAMPLE_HZ: '100' }) },
    ];
    children.push(...rows.filter((r) => r.key === 'ne').map((r) => r.child));
    // start-up is not what is measured: let everything settle first
    await sleep(10_000);
    const scrape = setInterval(() => void fetch(`http://127.0.0.1:${nePort}/metrics`).then((r) => r.text(), () => ''), 1000);
    const pid = (c: ChildProcess) => c.pid as number;
    const results: Array<{ cpu: Record<string, number>; rss: Record<string, ProcUsage>; seconds: number; others: number; load: [number, number] }> = [];
    for (let round = 0; round < rounds; round++) {
      const load0 = loadavg()[0] as number;
      const before = Object.fromEntries(rows.map((r) => [r.key, usage(pid(r.child))]));
      const busy0 = machineBusyS();
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const elapsed = (performance.now() - t0) / 1000;
      const after = Object.fromEntries(rows.map((r) => [r.key, usage(pid(r.child))]));
      const busy = machineBusyS() - busy0;
      const cpu = Object.fromEntries(rows.map((r) => [r.key, share(before[r.key] as ProcUsage, after[r.key] as ProcUsage, elapsed)]));
      const ours = rows.reduce((a, r) => a + ((after[r.key] as ProcUsage).cpuS - (before[r.key] as ProcUsage).cpuS), 0);
      results.push({ cpu, rss: after, seconds: elapsed, others: ((busy - ours) / elapsed) * 100, load: [load0, loadavg()[0] as number] });
    }
    clearInterval(scrape);
    // every collector must have sent its points, or its cost is that of a broken one
    const count = async (db: string, q: string) => {
      const r = await fetch(`${influx.url}/query?db=${db}&q=${encodeURIComponent(q)}`);
      return ((await r.json()) as { results?: Array<{ series?: Array<{ values?: unknown[][] }> }> }).results?.[0]?.series?.[0]?.values ?? [];
    };
    const sent = await Promise.all(['counters', 'sampled', 'gpus', '100hz'].map(async (name) => `${name} ${String((await count(`bench_${name}`, 'SELECT count(energy_j) FROM power'))[0]?.[1] ?? 0)}`));
    const gpuSeries = await count('bench_gpus', 'SHOW TAG VALUES FROM gpu WITH KEY = gpu');

    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const of = (key: string) => results.map((r) => r.cpu[key] as number);
    console.log(`\n### Collector cost (${rounds} rounds of ${fmt(seconds, 0)} s, after 10 s of warm-up, all ${rows.length} processes side by side)\n`);
    console.log(`| process | share of one core, per round | mean | CPU time per hour (mean) | RSS | peak RSS |`);
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) {
      const last = results[results.length - 1]?.rss[r.key] as ProcUsage;
      console.log(`| ${r.name} | ${of(r.key).map((x) => `${fmt(x, 3)} %`).join(' / ')} | ${fmt(mean(of(r.key)), 3)} % | ${fmt((mean(of(r.key)) / 100) * 3600, 1)} s | ${fmt(last.rssBytes / 2 ** 20, 1)} MB | ${fmt(last.peakRssBytes / 2 ** 20, 1)} MB |`);
    }
    console.log(`\nmachine: load average (1 min) ${results.map((r) => `${fmt(r.load[0], 2)} → ${fmt(r.load[1], 2)}`).join(', ')} per round; other processes ${results.map((r) => `${fmt(r.others, 0)} %`).join(', ')} of one core (2 vCPUs = 200 %)`);
    console.log(`power points written: ${sent.join(', ')}; GPUs seen by the GPU collector: ${gpuSeries.length}`);
    const ratio = (a: string, b: string) => results.map((r) => (r.cpu[a] as number) / (r.cpu[b] as number));
    const above = (a: string, b: string) => results.map((r) => (((r.cpu[a] as number) - (r.cpu[b] as number)) / 100) * 1000);
    console.log(`\nCPU ratio to node_exporter, per round: host of counters ${range(ratio('counters', 'ne'), 2)} (target ≤ 0.5); host with sampled sensors ${range(ratio('sampled', 'ne'), 2)}`);
    console.log(`above Node’s floor (ms of CPU a second), per round: host of counters ${range(above('counters', 'floorCounters'), 2)} (the floor ${range(of('floorCounters').map((x) => x * 10), 2)}); host with sampled sensors ${range(above('sampled', 'floorSampled'), 2)} (the floor ${range(of('floorSampled').map((x) => x * 10), 2)})`);
    console.log(`8 GPUs at 10 Hz: ${range(of('gpus'))} % of one core (target ≤ 1 %)`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const close of closers) close();
    await sleep(1000);
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
