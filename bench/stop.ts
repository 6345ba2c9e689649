/**
 * What a run's stop costs, and what it gives: a real `wattscope collect` on its defaults (it
 * sends every 5 s) on a fixture host whose RAPL package is driven at 40 W (63 W in all with
 * its GPU board), and two APIs over the same database side by side: one that waits for the
 * collectors' last points (today's default), one that answers at once (before the wait, as the
 * first release did). Pairs of 3 s runs, one on each API, start and stop together; for each
 * way: the stop's latency (p50, p99), the energy's error against the truth and how many runs
 * come back partial.
 *
 *   npm run bench -- stop [pairs]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { copyTree } from '../common/copy-tree.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../api/app.js';
import type { RunSummary } from '../api/domain/run-record.js';
import { loadConfig } from '../common/config.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import { packageRoot } from '../common/paths.js';
import { InfluxStore } from '../common/storage/store.js';
import { fmt, percentile, raplDriver, sleep } from './proc.js';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'hosts', 'desktop-intel');
const BIN = join(packageRoot(), 'bin', 'wattscope.js');
const PKG = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';
const HOST_W = 40 + 23;

interface Way {
  name: string;
  app: App;
  latencies: number[];
  errors: number[];
  partial: number;
}

export async function benchStop(pairs = 15): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-stop-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  const root = join(work, 'host');
  copyTree(FIXTURE, root); // its files are links into the sources' testdata: copied as files
  const driver = raplDriver(join(root, PKG), 40);
  const collector = spawn(process.execPath, [BIN, 'collect'], {
    env: { PATH: process.env.PATH, HOME: root, WATTSCOPE_PROCFS_ROOT: join(root, 'proc'), WATTSCOPE_SYSFS_ROOT: join(root, 'sys'), WATTSCOPE_COLLECTOR_PORT: '0', WATTSCOPE_HOST: 'bench-host', WATTSCOPE_INFLUX_URL: influx.url, WATTSCOPE_INFLUX_DB: 'bench' },
    stdio: 'ignore',
  });
  try {
    const store = await InfluxStore.open({ url: influx.url, org: '', db: 'bench', timeoutMs: 30_000 });
    const config = loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '1000000' });
    const ways: Way[] = [
      { name: 'waits for the collectors’ last points (default)', app: await buildApp({ config, store }), latencies: [], errors: [], partial: 0 },
      { name: 'answers at once (no wait, as before)', app: await buildApp({ config, store, stopWaitMs: 0 }), latencies: [], errors: [], partial: 0 },
    ];
    await sleep(6000); // the collector's first points and host record
    for (let i = 0; i < pairs; i++) {
      const ids = await Promise.all(ways.map(async (w) => (await w.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'bench', hosts: ['bench-host'] } })).json<{ run_id: string }>().run_id));
      // stops land at every phase of the collector's 5 s flush
      await sleep(3000 + ((i * 1700) % 5000));
      await Promise.all(
        ways.map(async (w, k) => {
          const t = performance.now();
          const s = (await w.app.fastify.inject({ method: 'POST', url: `/api/runs/${ids[k]}/stop`, payload: {} })).json<RunSummary>();
          w.latencies.push(performance.now() - t);
          const truth = HOST_W * (s.duration_s ?? 0);
          w.errors.push(s.energy_j === null ? 1 : Math.abs(s.energy_j - truth) / truth);
          if (s.partial) w.partial++;
        }),
      );
    }
    console.log(`\n### A run's stop with the collector on its defaults (sends every 5 s): ${pairs} pairs of 3–8 s runs, started and stopped together\n`);
    console.log('| stop | p50 | p99 | energy error, median | energy error, worst | partial |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const w of ways) {
      console.log(`| ${w.name} | ${fmt(percentile(w.latencies, 50), 0)} ms | ${fmt(percentile(w.latencies, 99), 0)} ms | ${fmt(percentile(w.errors, 50) * 100, 2)} % | ${fmt(Math.max(...w.errors) * 100, 2)} % | ${w.partial} of ${pairs} |`);
    }
    for (const w of ways) await w.app.fastify.close();
  } finally {
    collector.kill('SIGTERM');
    driver.kill('SIGTERM');
    await sleep(500);
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
