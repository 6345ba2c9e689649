/**
 * API cost: the energy summary of a 24 h run at 1 Hz over 16 sources (1.38 million points)
 * computed the Wattscope way (sums on the server, two edge points per series) against a naive
 * baseline that fetches every point and integrates it, in the same run on the same data; and
 * 200 concurrent start/stop pairs over HTTP.
 *
 *   npm run bench -- api
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../api/app.js';
import { insideFraction, windowEnergy } from '../api/domain/energy.js';
import { PowerRepository } from '../api/repo/power.js';
import { RollupJob } from '../api/jobs/rollup.js';
import { loadConfig } from '../common/config.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import { MEASUREMENT, POWER } from '../common/model.js';
import { anyOf, ident, iql, str, timeMs } from '../common/storage/influxql.js';
import { InfluxStore } from '../common/storage/store.js';
import { toLine } from '../common/storage/line-protocol.js';
import { fmt, percentile } from './proc.js';

const SOURCES = 16;
const SECONDS = 24 * 3600;

/** The naive way: every point of the window to the client, integrated there. */
async function naiveEnergy(store: InfluxStore, hosts: string[], t0: number, t1: number): Promise<number> {
  const [r] = await store.query(
    iql`SELECT ${ident(POWER.fields.energyJ)}, ${ident(POWER.fields.intervalS)} FROM ${ident(MEASUREMENT.power)} WHERE ${ident('host')} =~ ${anyOf(hosts)} AND ${ident(POWER.tags.inTotal)} = ${str('true')} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1 + 600_000)} GROUP BY ${ident('host')}, ${ident(POWER.tags.source)}`,
  );
  let energy = 0;
  for (const s of r?.series ?? []) {
    for (const [t, e, i] of s.values as Array<[number, number, number]>) energy += e * insideFraction({ timeMs: t, energyJ: e, intervalS: i }, t0, t1);
  }
  return energy;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

export async function benchApi(): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-api-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  try {
    const store = await InfluxStore.open({ url: influx.url, org: '', db: 'bench', timeoutMs: 120_000 });
    const base = Date.UTC(2026, 0, 1);
    const writeStart = performance.now();
    const writer = store.writer({ batchSize: 10_000 });
    for (let t = 0; t < SECONDS; t += 3600) {
      const lines: string[] = [];
      for (let k = t; k < t + 3600; k++) {
        for (let s = 0; s < SOURCES; s++) {
          const w = 50 + s * 10 + 20 * Math.sin(k / 60 + s);
          lines.push(toLine({ measurement: 'power', tags: { host: 'bench-host', source: `src/${s}`, domain: 'gpu', method: 'counter', in_total: 'true' }, fields: { energy_j: w, power_w: w, interval_s: 1 }, timeMs: base + (k + 1) * 1000 }) as string);
        }
      }
      writer.writeLines(lines);
      await writer.flush();
    }
    await writer.close();
    const writeS = (performance.now() - writeStart) / 1000;
    console.log(`\n### Run summary of a 24 h run at 1 Hz over ${SOURCES} sources (${(SECONDS * SOURCES).toLocaleString('en-US')} points, written in ${fmt(writeS, 1)} s)\n`);

    // the API's rollup job catches up on the history, as it does every minute in production
    const rollStart = performance.now();
    const rollups = new RollupJob(store, { maxBuckets: 1000 });
    let rolled = 0;
    for (let n = await rollups.advance(base + (SECONDS + 600) * 1000); n > 0; n = await rollups.advance(base + (SECONDS + 600) * 1000)) rolled += n;
    const rollS = (performance.now() - rollStart) / 1000;

    const clock = { now: base + 1234 };
    const app = await buildApp({ config: loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '1000000' }), store, now: () => clock.now, stopWaitMs: 0 });
    const started = await app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'bench', hosts: ['bench-host'] } });
    const id = started.json<{ run_id: string }>().run_id;
    clock.now = base + SECONDS * 1000 - 567;
    const run = await app.reads.get(id);
    const t1 = clock.now;
    const fast: number[] = [];
    let fastEnergy = 0;
    for (let i = 0; i < 30; i++) {
      const [ms, measured] = await timed(() => app.measuring.measure(run, t1));
      fast.push(ms);
      fastEnergy = measured.energy_j as number;
    }
    const rawOnly = new PowerRepository(store, 1000 * 3600_000);
    const serverSums: number[] = [];
    let serverJ = 0;
    for (let i = 0; i < 10; i++) {
      const [ms, w] = await timed(() => rawOnly.window(run.hosts, run.started_at_ms, t1));
      serverSums.push(ms);
      serverJ = windowEnergy(w.series, run.started_at_ms, t1).energyJ as number;
    }
    const naive: number[] = [];
    let naiveJ = 0;
    for (let i = 0; i < 5; i++) {
      const [ms, e] = await timed(() => naiveEnergy(store, run.hosts, run.started_at_ms, t1));
      naive.push(ms);
      naiveJ = e;
    }
    // the whole stop (read, measure once with the steady part, store) of that run and of four more like it
    const stopsOf24h: Array<{ ms: number; status: number }> = [];
    for (let k = 0; k < 5; k++) {
      let runId = id;
      if (k > 0) {
        clock.now = base + 1234;
        runId = (await app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'bench', hosts: ['bench-host'] } })).json<{ run_id: string }>().run_id;
        clock.now = t1;
      }
      const [ms, res] = await timed(() => app.fastify.inject({ method: 'POST', url: `/api/runs/${runId}/stop`, payload: { inferences: 1_000_000, accuracy: 0.76 } }));
      stopsOf24h.push({ ms, status: res.statusCode });
    }
    const wattscopeP50 = percentile(fast, 50);
    const naiveP50 = percentile(naive, 50);
    console.log('| way | p50 | p90 | energy (J) |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| Wattscope: 10-min rollups inside, server-side sums of raw points at the edges, 2 edge points per series, n=${fast.length} | ${fmt(wattscopeP50, 1)} ms | ${fmt(percentile(fast, 90), 1)} ms | ${fmt(fastEnergy, 3)} |`);
    console.log(`| Wattscope without rollups: server-side sums over every raw point, n=${serverSums.length} | ${fmt(percentile(serverSums, 50), 1)} ms | ${fmt(percentile(serverSums, 90), 1)} ms | ${fmt(serverJ, 3)} |`);
    console.log(`| naive baseline: fetch every point, integrate in the client, n=${naive.length} | ${fmt(naiveP50, 1)} ms | ${fmt(percentile(naive, 90), 1)} ms | ${fmt(naiveJ, 3)} |`);
    const [getMs] = await timed(() => app.fastify.inject(`/api/runs/${id}`));
    const stopMs = stopsOf24h.map((s) => s.ms);
    console.log(
      `\nspeed-up over the naive baseline (p50): ${fmt(naiveP50 / wattscopeP50, 1)}×; energies agree to ${(Math.abs(fastEnergy - naiveJ) / naiveJ).toExponential(1)} (relative); rolling up the 24 h history: ${rolled} buckets in ${fmt(rollS, 1)} s (once, in the background); the whole POST /stop of such a run (its energy and steady part read once): p50 ${fmt(percentile(stopMs, 50), 1)} ms over ${stopsOf24h.length} runs, the first in the process ${fmt(stopMs[0] ?? 0, 1)} ms (statuses ${[...new Set(stopsOf24h.map((s) => s.status))].join(', ')}); GET of its stored summary afterwards: ${fmt(getMs, 1)} ms`,
    );
    await app.fastify.close();

    // 200 concurrent start/stop pairs over HTTP, through a listening server
    const live = await buildApp({ config: loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '1000000' }), store, stopWaitMs: 0 });
    const url = await live.fastify.listen({ port: 0, host: '127.0.0.1' });
    const post = async (path: string, body: unknown) => {
      const t = performance.now();
      const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.json()) as { run_id?: string; status?: string };
      return { ms: performance.now() - t, status: res.status, json };
    };
    // two bursts on the same API: the first also opens the 200 connections of the load and the
    // API's to InfluxDB (one Node process does both here), the second finds them open
    const rows: string[] = [];
    let summary = '';
    // the baseline: one pair at a time, before the bursts (what a request costs with nothing beside it)
    const alone = { starts: [] as number[], stops: [] as number[] };
    for (let i = 0; i < 20; i++) {
      const s = await post('/api/runs', { model: `alone-${i}`, hosts: ['bench-host'], labels: { bench: 'alone' } });
      const e = await post(`/api/runs/${s.json.run_id}/stop`, { inferences: 100 });
      alone.starts.push(s.ms);
      alone.stops.push(e.ms);
    }
    rows.push(`| baseline: one pair at a time, n=20 | POST /api/runs | ${fmt(percentile(alone.starts, 50), 1)} ms | ${fmt(percentile(alone.starts, 99), 1)} ms | ${fmt(Math.max(...alone.starts), 1)} ms |`);
    rows.push(`| baseline: one pair at a time, n=20 | POST /api/runs/:id/stop | ${fmt(percentile(alone.stops, 50), 1)} ms | ${fmt(percentile(alone.stops, 99), 1)} ms | ${fmt(Math.max(...alone.stops), 1)} ms |`);
    for (const burst of [1, 2]) {
      const pairsStart = performance.now();
      const results = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const s = await post('/api/runs', { model: `pair-${i}`, hosts: ['bench-host'], labels: { bench: `pairs-${burst}` } });
          const e = await post(`/api/runs/${s.json.run_id}/stop`, { inferences: 100 });
          return { start: s, stop: e, id: s.json.run_id as string };
        }),
      );
      const pairsS = (performance.now() - pairsStart) / 1000;
      const stored = await live.runs.list({ labels: { bench: `pairs-${burst}` }, limit: 1000, offset: 0 });
      const completed = stored.filter((r) => r.status === 'completed').length;
      const starts = results.map((r) => r.start.ms);
      const stops = results.map((r) => r.stop.ms);
      const failures = results.filter((r) => r.start.status !== 201 || r.stop.status !== 200).length;
      const which = burst === 1 ? 'first burst' : 'second burst';
      rows.push(`| ${which} (${fmt(pairsS, 2)} s in all) | POST /api/runs | ${fmt(percentile(starts, 50), 1)} ms | ${fmt(percentile(starts, 99), 1)} ms | ${fmt(Math.max(...starts), 1)} ms |`);
      rows.push(`| ${which} | POST /api/runs/:id/stop | ${fmt(percentile(stops, 50), 1)} ms | ${fmt(percentile(stops, 99), 1)} ms | ${fmt(Math.max(...stops), 1)} ms |`);
      summary += `${which}: failed requests ${failures}; runs stored ${stored.length} of 200, completed ${completed}. `;
    }
    console.log('\n### 200 concurrent start/stop pairs over HTTP, twice\n');
    console.log('| burst | request | p50 | p99 | max |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    console.log(`\n${summary.trim()}`);
    await live.fastify.close();
  } finally {
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
