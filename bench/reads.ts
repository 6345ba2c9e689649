/**
 * Heavy reads over a large history: 10,000 runs stored (completed and imported runs of 50 models
 * on 8 platforms, some in series, and failed, abandoned, running and baseline runs beside them),
 * then GET /api/compare alone and four at once, the runs list and the CSV export alone and beside
 * the comparisons, over HTTP on a listening API. The baseline, in the same run on the same data:
 * the comparison as it was read before (every completed run, page by page, `SELECT *`, each
 * summarised).
 *
 *   npm run bench -- reads [runs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../api/app.js';
import { compare } from '../api/domain/compare.js';
import { emptyRun } from '../api/domain/run.js';
import { summaryOf, type Run, type RunSummary, type SummarySettings } from '../api/domain/run-record.js';
import { storedViews } from '../api/domain/run-fields.js';
import { DEFAULT_NETSCORE } from '../api/domain/scores.js';
import { RunRepository, rowToRun } from '../api/repo/runs.js';
import { MEASUREMENT } from '../common/model.js';
import { ident, iql, num } from '../common/storage/influxql.js';
import { loadConfig } from '../common/config.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import type { RunKind, RunStatus } from '../common/model.js';
import { InfluxStore } from '../common/storage/store.js';
import { fmt, percentile } from './proc.js';

const MODELS = 50;
const PLATFORMS = ['A100-40G', 'H100-80G', 'L4', 'T4', 'RTX-4090', 'Jetson-Orin', 'EPYC-9654', 'Xeon-8480'];
const SETTINGS: SummarySettings = { netscore: DEFAULT_NETSCORE, gridIntensity: 436, energyPrice: undefined };

/** A pseudo-random but repeatable history of `n` runs (mulberry32). */
export function history(n: number, base: number): Run[] {
  let a = 20261203;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, (_, i) => {
    const model = `model-${i % MODELS}`;
    const platform = PLATFORMS[Math.floor(i / MODELS) % PLATFORMS.length] as string;
    const roll = rand();
    const kind: RunKind = roll < 0.2 ? 'imported' : roll < 0.23 ? 'baseline' : 'inference';
    const status: RunStatus = kind === 'imported' ? 'completed' : roll < 0.9 ? 'completed' : roll < 0.95 ? 'failed' : roll < 0.99 ? 'abandoned' : 'running';
    const started = base + i * 60_000;
    const duration = 30 + Math.floor(rand() * 600);
    const watts = 80 + rand() * 300;
    const host = `host-${i % 64}`;
    const sources = [
      { host, source: 'nvml/0', domain: 'gpu', method: 'counter', inRun: true, energyJ: watts * 0.7 * duration, coverage: 1, avgPowerW: watts * 0.7 },
      { host, source: 'nvml/1', domain: 'gpu', method: 'counter', inRun: true, energyJ: watts * 0.1 * duration, coverage: 1, avgPowerW: watts * 0.1 },
      { host, source: 'rapl/package-0', domain: 'cpu', method: 'counter', inRun: true, energyJ: watts * 0.15 * duration, coverage: 1, avgPowerW: watts * 0.15 },
      { host, source: 'rapl/dram-0', domain: 'dram', method: 'counter', inRun: true, energyJ: watts * 0.05 * duration, coverage: 1, avgPowerW: watts * 0.05 },
    ];
    const series = kind === 'inference' && i % 10 < 4 ? `s-${model}-${platform}` : null;
    const run: Run = {
      ...emptyRun({ run_id: `r-${i.toString().padStart(6, '0')}`, model, platform, started_at_ms: started, kind, hosts: kind === 'imported' ? [] : [host] }),
      status,
      dataset: 'imagenet-val',
      batch_size: 64,
      inferences: 50_000,
      accuracy: 0.6 + 0.3 * rand(),
      params_m: 5 + (i % MODELS),
      macs_g: 0.5 + (i % 7),
      labels: { team: `t${i % 5}`, commit: `c${i}` },
      heartbeat_at_ms: started + duration * 1000,
      ended_at_ms: status === 'running' ? null : started + duration * 1000,
      duration_s: status === 'running' ? null : duration,
      energy_j: status === 'running' ? null : watts * duration,
      energy_net_j: status === 'running' ? null : (watts - 40) * duration,
      avg_power_w: status === 'running' ? null : watts,
      coverage: kind === 'imported' ? null : 1,
      sources: kind === 'imported' ? [] : sources,
      avg_gpu_power_w: watts * 0.8,
      avg_gpu_util_pct: 90 * rand(),
      avg_gpu_mem_pct: 50 * rand(),
      avg_cpu_pct: 20 * rand(),
      energy_host_j: watts * duration,
      grid_intensity: kind === 'imported' ? {} : { [host]: 300 + (i % 3) * 100 },
      series_id: series,
      warmup: series !== null && i % 10 === 0,
      steady_rise_s: 2,
      steady_tail_s: 1,
      steady_power_w: watts * 0.98,
      steady_reason: null,
    };
    return run;
  });
}

/** The comparison as it was read before: every completed run of each kind, page by page, each summarised. */
async function compareByScanning(runs: RunRepository): Promise<ReturnType<typeof compare>> {
  const summaries: RunSummary[] = [];
  for (const kind of ['inference', 'imported'] as const) for await (const run of runs.all({ kind, status: 'completed' })) summaries.push(summaryOf(run, SETTINGS));
  return compare(summaries);
}

/** A page of the runs list as it was read before: `SELECT *` in time order, each summarised. */
async function pageBySelectAll(store: InfluxStore, limit: number): Promise<RunSummary[]> {
  const rows = await store.rows(iql`SELECT * FROM ${ident(MEASUREMENT.run)} ORDER BY time DESC LIMIT ${num(limit)}`);
  return rows.map((r) => summaryOf(rowToRun(r), SETTINGS));
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

/** One line of the table: p50, p90 and max of the latencies, and how many of each status. */
function row(way: string, request: string, ms: readonly number[], statuses: ReadonlyMap<number, number> | string): string {
  const st = typeof statuses === 'string' ? statuses : [...statuses].map(([s, n]) => `${n}× ${s}`).join(', ');
  return `| ${way} | ${request} | ${fmt(percentile(ms, 50), 0)} ms | ${fmt(percentile(ms, 90), 0)} ms | ${fmt(Math.max(...ms), 0)} ms | ${st} |`;
}

export async function benchReads(count = 10_000): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-reads-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  try {
    const store = await InfluxStore.open({ url: influx.url, org: '', db: 'bench', timeoutMs: 120_000 });
    const repo = new RunRepository(store);
    const base = Date.UTC(2026, 0, 1);
    const runs = history(count, base);
    const w0 = performance.now();
    for (let i = 0; i < runs.length; i += 1000) {
      const chunk = runs.slice(i, i + 1000);
      await repo.saveMany(chunk, chunk.map((r) => storedViews(summaryOf(r, SETTINGS))));
    }
    const writeS = (performance.now() - w0) / 1000;
    const app = await buildApp({ config: loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '10000000', WATTSCOPE_LOG_LEVEL: 'warn' }), store, stopWaitMs: 0 });
    const url = await app.fastify.listen({ port: 0, host: '127.0.0.1' });
    const get = async (path: string) => {
      const t = performance.now();
      const res = await fetch(url + path);
      const text = await res.text();
      return { ms: performance.now() - t, status: res.status, bytes: text.length, text };
    };
    const completed = runs.filter((r) => r.status === 'completed' && (r.kind === 'inference' || r.kind === 'imported')).length;
    console.log(`\n### Reads over ${count.toLocaleString('en-US')} runs (${completed.toLocaleString('en-US')} completed inference and imported runs of ${MODELS} models on ${PLATFORMS.length} platforms; written in ${fmt(writeS, 1)} s)\n`);
    const rows: string[] = [];

    // the baseline: how compare read before
    const scans: number[] = [];
    let scanned = compare([]);
    for (let i = 0; i < 2; i++) {
      const [ms, c] = await timed(() => compareByScanning(repo));
      scans.push(ms);
      scanned = c;
    }
    rows.push(row('baseline: every completed run, page by page (SELECT *), each summarised', 'the comparison alone, n=2', scans, '—'));
    const oldList: number[] = [];
    for (let i = 0; i < 5; i++) oldList.push((await timed(() => pageBySelectAll(store, 100)))[0]);
    rows.push(row('baseline: SELECT * in time order', 'the 100 newest runs alone, n=5', oldList, '—'));
    const oldBeside: number[] = [];
    for (let round = 0; round < 2; round++) {
      const [[ms]] = await Promise.all([timed(() => pageBySelectAll(store, 100)), ...Array.from({ length: 4 }, () => compareByScanning(repo))]);
      oldBeside.push(ms);
    }
    rows.push(row('baseline: SELECT * in time order', 'the 100 newest runs beside four baseline comparisons, 2 rounds', oldBeside, '—'));

    // GET /api/compare now: the first after a change, then the next ones
    const first = await get('/api/compare');
    const same = JSON.stringify((JSON.parse(first.text) as ReturnType<typeof compare>).rows) === JSON.stringify(scanned.rows);
    const alone: number[] = [];
    for (let i = 0; i < 10; i++) alone.push((await get('/api/compare')).ms);
    rows.push(row('Wattscope', 'GET /api/compare, the first (every completed run read once)', [first.ms], String(first.status)));
    rows.push(row('Wattscope', 'GET /api/compare alone, n=10', alone, '10× 200'));
    const four: number[] = [];
    const statuses = new Map<number, number>();
    for (let round = 0; round < 5; round++) {
      for (const r of await Promise.all(Array.from({ length: 4 }, () => get('/api/compare')))) {
        four.push(r.ms);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }
    rows.push(row('Wattscope', 'GET /api/compare, four at once, 5 rounds', four, statuses));
    // a change (a run stopped) makes the next comparison read again
    const started = (await fetch(`${url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'model-0', platform: PLATFORMS[0], hosts: ['nowhere'] }) }).then((r) => r.json())) as { run_id: string };
    await fetch(`${url}/api/runs/${started.run_id}/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inferences: 10 }) });
    const afterChange = await get('/api/compare');
    rows.push(row('Wattscope', 'GET /api/compare after a run was stopped', [afterChange.ms], String(afterChange.status)));

    // the runs list and the export, alone and beside four comparisons
    for (const [what, path] of [
      ['GET /api/runs (100 newest)', '/api/runs?limit=100'],
      ['GET /api/runs?limit=200 (the page’s list)', '/api/runs?limit=200'],
      ['CSV export, one page of 1,000', '/api/runs?format=csv&limit=1000'],
    ] as const) {
      const solo: number[] = [];
      const soloStatus = new Map<number, number>();
      let bytes = 0;
      for (let i = 0; i < 10; i++) {
        const r = await get(path);
        solo.push(r.ms);
        soloStatus.set(r.status, (soloStatus.get(r.status) ?? 0) + 1);
        bytes = r.bytes;
      }
      rows.push(row('Wattscope', `${what} alone, n=10 (${fmt(bytes / 1024, 0)} KiB)`, solo, soloStatus));
      const beside: number[] = [];
      const besideStatus = new Map<number, number>();
      // a run changes between rounds, so each round's comparisons read afresh
      for (let round = 0; round < 3; round++) {
        await fetch(`${url}/api/runs/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'model-1', platform: PLATFORMS[1], inferences: 100, energy_j: 50 + round }) });
        const [listed] = await Promise.all([get(path), ...Array.from({ length: 4 }, () => get('/api/compare'))]);
        beside.push(listed.ms);
        besideStatus.set(listed.status, (besideStatus.get(listed.status) ?? 0) + 1);
      }
      rows.push(row('Wattscope', `${what} beside four comparisons of fresh data, 3 rounds`, beside, besideStatus));
    }
    console.log('| way | request | p50 | p90 | max | statuses |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    console.log(`\nthe comparison equals the baseline's: ${same ? 'yes' : 'NO'}; baseline p50 / Wattscope p50 alone: ${fmt(percentile(scans, 50) / percentile(alone, 50), 0)}×`);
    await app.fastify.close();
  } finally {
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
