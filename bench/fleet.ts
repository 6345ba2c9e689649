/**
 * How far one InfluxDB goes, and what a fleet costs (one influxd, Debian's 1.6.7, on this
 * machine), in four parts, each beside its baseline from the same run:
 *
 * 1. Ingest: N simulated GPU servers (bench/fleet-host.ts: each with its own spool directory,
 *    the collector's spool → Sender path, sending every 5 s), N = 1, 2, 4, … while every write
 *    succeeds and p99 write latency stays under 1 s; per step the points/s taken, write latency,
 *    influxd's and the senders' CPU, the spools' growth, and — after the senders drain — the
 *    points counted in InfluxDB against the points generated. Baseline: influxd's own ingest of
 *    the same lines POSTed to /write in batches of 10,000, 4 at once (the ceiling).
 * 2. The summary of one run over 64 hosts × 8 GPUs, 1 h and 24 h long, from a 24 h history
 *    written in bulk and rolled up by the API's rollup job: p50/p99 of the API's energy
 *    computation and the bytes of InfluxDB's /query answers it reads. Baselines: the same
 *    without rollups (server-side sums over every raw point), and every point fetched (1 h).
 * 3. 50 run starts and 50 stops per second for 2 minutes over that fleet's history, through
 *    HTTP, with the stop's real wait for the collectors' last points (the points are there
 *    already, so it answers at once). Baseline: the same requests one at a time.
 *
 *   npm run bench -- fleet [measure seconds per step] [load seconds] [most hosts]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp } from '../api/app.js';
import { insideFraction, windowEnergy } from '../api/domain/energy.js';
import type { Run } from '../api/domain/run-record.js';
import { PowerRepository } from '../api/repo/power.js';
import { RollupJob } from '../api/jobs/rollup.js';
import { loadConfig } from '../common/config.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import { MEASUREMENT, POWER } from '../common/model.js';
import { anyOf, ident, iql, str, timeMs } from '../common/storage/influxql.js';
import { toLine, toLines } from '../common/storage/line-protocol.js';
import { InfluxStore } from '../common/storage/store.js';
import { GPUS, POINTS_PER_REPORT, POWER_SOURCES, SimHost, hostRecordOf, reportSamples } from './fleet-host.js';
import { fmt, machineBusyS, percentile, sleep, usage } from './proc.js';
import { rawWrite } from './raw-write.js';

const FLUSH_MS = 5000;
const MB = 2 ** 20;
const MIN = 60_000;
const HOUR = 3_600_000;

/** What each field counted in InfluxDB is, per measurement: a field every point of it has. */
const COUNTED: Array<[string, string]> = [
  [MEASUREMENT.power, POWER.fields.energyJ],
  [MEASUREMENT.cpu, 'usage_pct'],
  [MEASUREMENT.mem, 'used_bytes'],
  [MEASUREMENT.disk, 'busy_pct'],
  [MEASUREMENT.net, 'rx_bytes_per_s'],
  [MEASUREMENT.gpu, 'util_pct'],
  [MEASUREMENT.host, 'version'],
];

async function countPoints(store: InfluxStore, hosts: readonly string[]): Promise<number> {
  let total = 0;
  // a few hundred hosts per regular expression keeps each query small
  for (let i = 0; i < hosts.length; i += 200) {
    const match = anyOf(hosts.slice(i, i + 200));
    for (const [m, f] of COUNTED) {
      const [row] = await store.rows(iql`SELECT count(${ident(f)}) AS n FROM ${ident(m)} WHERE ${ident('host')} =~ ${match}`);
      total += typeof row?.n === 'number' ? row.n : 0;
    }
  }
  return total;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Step {
  hosts: number;
  generatedPerS: number;
  writtenPerS: number;
  p50: number;
  p99: number;
  errors: number;
  influxdCpuPct: number;
  sendersCpuPct: number;
  othersCpuPct: number;
  loopP99Ms: number;
  spoolGrowthMb: number;
  counted: number;
  generated: number;
  lost: number;
  drained: boolean;
  failure: string | undefined;
}

/** Step N: N hosts for a warm-up and `measureS` seconds, then drained and counted. */
async function ingestStep(url: string, influxdPid: number, n: number, work: string, measureS: number): Promise<Step> {
  const names = Array.from({ length: n }, (_, i) => `s${n}-h${i}`);
  const stores = await Promise.all(names.map(() => InfluxStore.open({ url, org: '', db: 'fleet', timeoutMs: 10_000 })));
  const hosts = names.map((name, i) => new SimHost(name, join(work, 'spools', name), stores[i] as InfluxStore, FLUSH_MS));
  // every phase of the flush interval, as in a fleet whose collectors started at any time
  hosts.forEach((h, i) => h.start((i * FLUSH_MS) / n));
  await sleep(FLUSH_MS + 2000);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const sum = async (f: (h: SimHost) => number | Promise<number>) => (await Promise.all(hosts.map(f))).reduce((a, b) => a + b, 0);
  const before = { at: Date.now(), machine: machineBusyS(), influxd: usage(influxdPid).cpuS, self: cpuNow(), written: await sum((h) => h.pointsWritten()), generated: await sum((h) => h.generated), pending: await sum((h) => h.spool.pendingBytes) };
  loop.enable();
  await sleep(measureS * 1000);
  loop.disable();
  const after = { at: Date.now(), machine: machineBusyS(), influxd: usage(influxdPid).cpuS, self: cpuNow(), written: await sum((h) => h.pointsWritten()), generated: await sum((h) => h.generated), pending: await sum((h) => h.spool.pendingBytes) };
  const seconds = (after.at - before.at) / 1000;
  const latencies = hosts.flatMap((h) => h.writes.filter((w) => w.endedAt >= before.at && w.endedAt <= after.at).map((w) => w.ms));
  for (const h of hosts) h.stopReporting();
  const drained = (await Promise.all(hosts.map((h) => h.drain(Date.now() + 120_000)))).every(Boolean);
  const errors = await sum((h) => h.writeErrors());
  const generated = await sum((h) => h.generated);
  const lost = await sum((h) => h.pointsLost());
  const counted = await countPoints(stores[0] as InfluxStore, names);
  rmSync(join(work, 'spools'), { recursive: true, force: true });
  const p99 = latencies.length > 0 ? percentile(latencies, 99) : NaN;
  const failure =
    errors > 0 ? `${errors} write errors` : !(p99 < 1000) ? `p99 write latency ${fmt(p99, 0)} ms ≥ 1 s` : counted !== generated ? `${generated - counted} points missing in InfluxDB` : !drained ? 'spools not drained in 2 min' : undefined;
  return {
    hosts: n,
    generatedPerS: (after.generated - before.generated) / seconds,
    writtenPerS: (after.written - before.written) / seconds,
    p50: latencies.length > 0 ? percentile(latencies, 50) : NaN,
    p99,
    errors,
    influxdCpuPct: ((after.influxd - before.influxd) / seconds) * 100,
    sendersCpuPct: ((after.self - before.self) / seconds) * 100,
    othersCpuPct: ((after.machine - before.machine - (after.influxd - before.influxd) - (after.self - before.self)) / seconds) * 100,
    loopP99Ms: loop.percentile(99) / 1e6,
    spoolGrowthMb: (after.pending - before.pending) / MB,
    counted,
    generated,
    lost,
    drained,
    failure,
  };
}

/**
 * The lines of `names` over `reports` reports, in bodies of `batch` lines, made as they are asked
 * for. For the bulk history: toLine's output rebuilt from its parts — each series' key (made by
 * toLine itself once per host and series), then the fields sorted by name with their values as
 * String(n), as the InfluxDB client's Point writes them — ten times faster than a Point per
 * line, and checked equal to toLine's line on every 97th report.
 */
function historyBodies(names: readonly string[], fromMs: number, reports: number, intervalS: number, batch: number, keep: ReadonlySet<string>): () => { body: string; points: number } | undefined {
  const keys = new Map<string, Array<{ key: string; fields: string[] }>>();
  let r = 0;
  let h = 0;
  let pending: string[] = [];
  return () => {
    while (pending.length < batch && r < reports) {
      const host = names[h] as string;
      const t = fromMs + (r + 1) * intervalS * 1000;
      const samples = reportSamples(host, h, r, t, intervalS, 0).filter((x) => keep.has(x.measurement));
      let layout = keys.get(host);
      if (!layout) {
        layout = samples.map((x) => ({ key: (toLine(x) as string).replace(/ [^ ]+ [^ ]+$/, ''), fields: Object.keys(x.fields).sort() }));
        keys.set(host, layout);
      }
      samples.forEach((x, k) => {
        const { key, fields } = layout[k] as { key: string; fields: string[] };
        let text = '';
        for (const f of fields) text += (text ? ',' : '') + f + '=' + String(x.fields[f] as number);
        const line = `${key} ${text} ${x.timeMs}`;
        if (r % 97 === 0 && line !== toLine(x)) throw new Error(`history line differs from toLine's:\n${line}\n${toLine(x) ?? ''}`);
        pending.push(line);
      });
      if (++h === names.length) {
        h = 0;
        r++;
      }
    }
    if (pending.length === 0) return undefined;
    const lines = pending.slice(0, batch);
    pending = pending.slice(batch);
    return { body: lines.join('\n'), points: lines.length };
  };
}

/** The same lines the simulated hosts write (toLines), made before the clock starts, in bodies of `batch`. */
function renderedBodies(names: readonly string[], fromMs: number, reports: number, batch: number): () => { body: string; points: number } | undefined {
  const bodies: Array<{ body: string; points: number }> = [];
  let pending: string[] = [];
  for (let r = 0; r < reports; r++) {
    names.forEach((name, h) => {
      for (const line of toLines(reportSamples(name, h, r, fromMs + (r + 1) * 1000, 1))) pending.push(line);
    });
    if (pending.length >= batch || r === reports - 1) {
      for (let i = 0; i < pending.length; i += batch) bodies.push({ body: pending.slice(i, i + batch).join('\n'), points: Math.min(batch, pending.length - i) });
      pending = [];
    }
  }
  let i = 0;
  return () => bodies[i++];
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

/** Every in-total point of the window to the client, integrated there (the naive baseline). */
async function naiveEnergy(store: InfluxStore, hosts: string[], t0: number, t1: number): Promise<number> {
  const [r] = await store.query(
    iql`SELECT ${ident(POWER.fields.energyJ)}, ${ident(POWER.fields.intervalS)} FROM ${ident(MEASUREMENT.power)} WHERE ${ident('host')} =~ ${anyOf(hosts)} AND ${ident(POWER.tags.inTotal)} = ${str('true')} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1 + 600_000)} GROUP BY ${ident('host')}, ${ident(POWER.tags.source)}`,
  );
  let energy = 0;
  for (const s of r?.series ?? []) for (const [t, e, i] of s.values as Array<[number, number, number]>) energy += e * insideFraction({ timeMs: t, energyJ: e, intervalS: i }, t0, t1);
  return energy;
}

export async function benchFleet(measureS = 15, loadS = 120, maxHosts = 4096): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-fleet-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  const benchStart = performance.now();
  const elapsedS = () => (performance.now() - benchStart) / 1000;
  try {
    // ---------------------------------------------------------------- 1. ingest
    await InfluxStore.open({ url: influx.url, org: '', db: 'fleet', timeoutMs: 10_000 });
    // the first minute creates the series (as a fleet's first minute does); the next 5 are measured
    const ceilNames = Array.from({ length: 64 }, (_, i) => `ceiling-h${i}`);
    await rawWrite(influx.url, 'fleet', renderedBodies(ceilNames, Date.UTC(2026, 10, 1), 60, 10_000), 4);
    const ceilBodies = renderedBodies(ceilNames, Date.UTC(2026, 10, 1) + 60_000, 300, 10_000);
    const ceilBefore = { influxd: usage(influx.pid).cpuS, machine: machineBusyS(), self: cpuNow() };
    const ceiling = await rawWrite(influx.url, 'fleet', ceilBodies, 4);
    const ceilCpu = ((usage(influx.pid).cpuS - ceilBefore.influxd) / ceiling.seconds) * 100;
    const ceilOthers = ((machineBusyS() - ceilBefore.machine - (usage(influx.pid).cpuS - ceilBefore.influxd) - (cpuNow() - ceilBefore.self)) / ceiling.seconds) * 100;
    const ceilingPerS = ceiling.points / ceiling.seconds;
    console.log(`\n### Ingest: simulated GPU servers (64 cores, 8 GPUs, 16 power sources: ${POINTS_PER_REPORT} points/s each), each through its own spool and Sender, sending every 5 s, into one influxd (${fmt(measureS, 0)} s measured per step)\n`);
    console.log(`Ceiling (baseline, same run): influxd's own ingest of the same lines, POSTed to /write in batches of 10,000, 4 at once: **${fmt(ceilingPerS, 0)} points/s** (${ceiling.points.toLocaleString('en-US')} points in ${fmt(ceiling.seconds, 1)} s, after a first minute that made the series; influxd at ${fmt(ceilCpu, 0)} % of one core, other processes on this shared machine ${fmt(ceilOthers, 0)} %) — ${fmt(ceilingPerS / POINTS_PER_REPORT, 0)} hosts' worth.\n`);
    console.log('| hosts | points/s generated | points/s written | share of the ceiling | write p50 | write p99 | write errors | influxd CPU (% of one core; 2 vCPUs = 200 %) | senders’ CPU (% of one core) | other processes’ CPU | senders’ event-loop delay p99 | spool growth while measured | points in InfluxDB / generated (after draining) |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const steps: Step[] = [];
    for (let n = 1; n <= maxHosts; n *= 2) {
      const s = await ingestStep(influx.url, influx.pid, n, work, measureS);
      steps.push(s);
      console.log(
        `| ${s.hosts} | ${fmt(s.generatedPerS, 0)} | ${fmt(s.writtenPerS, 0)} | ${fmt((100 * s.writtenPerS) / ceilingPerS, 1)} % | ${fmt(s.p50, 1)} ms | ${fmt(s.p99, 1)} ms | ${s.errors} | ${fmt(s.influxdCpuPct, 0)} % | ${fmt(s.sendersCpuPct, 0)} % | ${fmt(s.othersCpuPct, 0)} % | ${fmt(s.loopP99Ms, 0)} ms | ${fmt(s.spoolGrowthMb, 1)} MB | ${s.counted.toLocaleString('en-US')} / ${s.generated.toLocaleString('en-US')}${s.lost > 0 ? ` (${s.lost} dropped or dead-lettered)` : ''} |`,
      );
      if (s.failure || s.counted !== s.generated) break;
      // keep the whole benchmark near 15 minutes on a 2-vCPU machine
      if (elapsedS() + (measureS + 15) * 2.5 > 8 * 60) {
        console.log(`\n(stepping stopped at ${n} hosts for time: the benchmark keeps to ~15 minutes)`);
        break;
      }
    }
    const passing = steps.filter((s) => !s.failure);
    const best = passing[passing.length - 1];
    const failed = steps.find((s) => s.failure);
    console.log(`\nlargest N with no write error, p99 write latency < 1 s and every point in InfluxDB: **${best?.hosts ?? 0} hosts** (${fmt(best?.writtenPerS ?? 0, 0)} points/s, ${fmt((100 * (best?.writtenPerS ?? 0)) / ceilingPerS, 1)} % of the ceiling)`);
    if (failed) {
      console.log(
        `first step past it: ${failed.hosts} hosts — ${failed.failure}; influxd at ${fmt(failed.influxdCpuPct, 0)} % of one core (of 200 %), the senders at ${fmt(failed.sendersCpuPct, 0)} % of one core, other processes at ${fmt(failed.othersCpuPct, 0)} % (event-loop delay p99 ${fmt(failed.loopP99Ms, 0)} ms), spools ${failed.spoolGrowthMb > 1 ? `grew by ${fmt(failed.spoolGrowthMb, 1)} MB` : 'did not grow'}; after draining, ${failed.counted.toLocaleString('en-US')} of ${failed.generated.toLocaleString('en-US')} points in InfluxDB`,
      );
    }
    const lossless = steps.every((s) => s.counted === s.generated);
    console.log(`points lost over all steps: ${lossless ? 'none' : steps.reduce((a, s) => a + s.generated - s.counted, 0)} (counted in InfluxDB after the senders drained, against the points generated); ingest part took ${fmt(elapsedS(), 0)} s`);

    // ---------------------------------------------------------------- 2. one run over 64 hosts × 8 GPUs
    const FLEET = 64;
    const intervalS = 10;
    const histStart = Date.UTC(2026, 9, 1);
    const histEnd = histStart + 25 * HOUR;
    const fleetHosts = Array.from({ length: FLEET }, (_, i) => `gpu-${String(i).padStart(2, '0')}`);
    const store = await InfluxStore.open({ url: influx.url, org: '', db: 'history', timeoutMs: 120_000 });
    await store.write(fleetHosts.map((h) => hostRecordOf(h, histStart - MIN, histStart - 2 * MIN, intervalS)));
    const keep = new Set<string>([MEASUREMENT.power, MEASUREMENT.gpu, MEASUREMENT.cpu]);
    const histT0 = performance.now();
    const hist = await rawWrite(influx.url, 'history', historyBodies(fleetHosts, histStart, (25 * 3600) / intervalS, intervalS, 10_000, keep), 4);
    const histS = (performance.now() - histT0) / 1000;
    const rollT0 = performance.now();
    const rollups = new RollupJob(store, { maxBuckets: 1000 });
    let rolled = 0;
    for (let k = await rollups.advance(histEnd + 20 * MIN); k > 0; k = await rollups.advance(histEnd + 20 * MIN)) rolled += k;
    const rollS = (performance.now() - rollT0) / 1000;
    console.log(
      `\n### The summary of one run over 64 hosts × 8 GPUs (${FLEET * POWER_SOURCES.length} power series, ${FLEET * POWER_SOURCES.filter((s) => s.in_total).length} in the total; ${FLEET * GPUS} GPUs)\n`,
    );
    console.log(
      `History: 25 h of power, gpu and cpu points of 64 hosts at a 10 s report interval (${hist.points.toLocaleString('en-US')} points, written in bulk in ${fmt(histS, 0)} s; 1 s reports would be 10× the points, ~${fmt((histS * 10) / 60, 0)} min to write at this rate), rolled up by the API's rollup job: ${rolled} buckets in ${fmt(rollS, 0)} s.\n`,
    );
    const clock = { now: histEnd - 30 * MIN };
    const config = loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '10000000', WATTSCOPE_LOG_LEVEL: 'warn' });
    const app = await buildApp({ config, store, now: () => clock.now });
    const t1 = histEnd - 30 * MIN - 4321;
    const rawOnly = new PowerRepository(store, 1000 * HOUR);
    const rows: string[] = [];
    const energies: Record<string, number> = {};
    for (const [label, lengthMs, repeats] of [['1 h', HOUR, 20], ['24 h', 24 * HOUR, 20]] as const) {
      const t0 = t1 - lengthMs;
      clock.now = t0;
      const started = await app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: `fleet-${label}`, hosts: fleetHosts } });
      const run: Run = await app.reads.get(started.json<{ run_id: string }>().run_id);
      clock.now = t1;
      const times: number[] = [];
      const q0 = { ...store.queryStats };
      let energy = 0;
      for (let k = 0; k < repeats; k++) {
        const [ms, m] = await timed(() => app.measuring.measure(run, t1));
        times.push(ms);
        energy = m.energy_j as number;
      }
      const perSummary = { bytes: (store.queryStats.bytes - q0.bytes) / repeats, requests: (store.queryStats.requests - q0.requests) / repeats };
      energies[label] = energy;
      rows.push(`| ${label} | Wattscope: rollups inside, raw sums at the edges, 2 edge points per series (n=${repeats}) | ${fmt(percentile(times, 50), 1)} ms | ${fmt(percentile(times, 99), 1)} ms | ${fmt(perSummary.bytes / 1024, 1)} KiB in ${fmt(perSummary.requests, 0)} requests | ${fmt(energy / 3.6e6, 3)} kWh |`);
      const rawTimes: number[] = [];
      const r0 = { ...store.queryStats };
      let rawJ = 0;
      for (let k = 0; k < 5; k++) {
        const [ms, w] = await timed(() => rawOnly.window(run.hosts, run.started_at_ms, t1));
        rawTimes.push(ms);
        rawJ = windowEnergy(w.series, run.started_at_ms, t1).energyJ as number;
      }
      rows.push(`| ${label} | without rollups: server-side sums over every raw point (n=5) | ${fmt(percentile(rawTimes, 50), 1)} ms | ${fmt(percentile(rawTimes, 99), 1)} ms | ${fmt((store.queryStats.bytes - r0.bytes) / 5 / 1024, 1)} KiB | ${fmt(rawJ / 3.6e6, 3)} kWh |`);
      if (label === '1 h') {
        const n0 = { ...store.queryStats };
        const [ms, naiveJ] = await timed(() => naiveEnergy(store, run.hosts, run.started_at_ms, t1));
        rows.push(`| ${label} | naive: every in-total point to the client (n=1) | ${fmt(ms, 1)} ms | — | ${fmt((store.queryStats.bytes - n0.bytes) / MB, 1)} MiB | ${fmt(naiveJ / 3.6e6, 3)} kWh |`);
      } else {
        const [row] = await store.rows(iql`SELECT count(${ident(POWER.fields.energyJ)}) AS n FROM ${ident(MEASUREMENT.power)} WHERE ${ident(POWER.tags.inTotal)} = ${str('true')} AND time > ${timeMs(run.started_at_ms)} AND time <= ${timeMs(t1)}`);
        rows.push(`| ${label} | naive: every in-total point to the client | not run (${Number(row?.n ?? 0).toLocaleString('en-US')} points) | — | — | — |`);
      }
      // and the whole stop, with its wait for the collectors' last points (they are there)
      const [stopMs, stopped] = await timed(() => app.fastify.inject({ method: 'POST', url: `/api/runs/${run.run_id}/stop`, payload: { inferences: 1000 } }));
      rows.push(`| ${label} | the whole POST /stop of that run (waits for last points, measures, stores) | ${fmt(stopMs, 1)} ms (status ${stopped.statusCode}) | — | — | — |`);
    }
    console.log('| run | way | p50 | p99 | fetched from InfluxDB per summary | energy |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    await app.fastify.close();

    // ---------------------------------------------------------------- 3. 50 starts and stops per second
    // The API's clock runs in real time, set back into the history: runs start and stop at real
    // rates, and their hosts' points are already there, so a stop's wait for the collectors'
    // last points ends at its first check — as it does in a fleet whose collectors are live.
    const shift = Date.now() - (histEnd - 2 * HOUR);
    const live = await buildApp({ config, store, now: () => Date.now() - shift });
    const url = await live.fastify.listen({ port: 0, host: '127.0.0.1' });
    const post = async (path: string, body: unknown) => {
      const t = performance.now();
      try {
        const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const json = (await res.json()) as { run_id?: string };
        return { ms: performance.now() - t, ok: res.ok, json };
      } catch {
        return { ms: performance.now() - t, ok: false, json: {} as { run_id?: string } };
      }
    };
    const host = (i: number) => fleetHosts[(i * 7) % FLEET] as string;
    const one = { starts: [] as number[], stops: [] as number[], failed: 0 };
    for (let i = 0; i < 50; i++) {
      const s = await post('/api/runs', { model: 'fleet-seq', hosts: [host(i)], labels: { bench: 'fleet-seq' } });
      const e = await post(`/api/runs/${s.json.run_id}/stop`, { inferences: 100 });
      one.starts.push(s.ms);
      one.stops.push(e.ms);
      if (!s.ok || !e.ok) one.failed++;
    }
    const load = { starts: [] as number[], stops: [] as number[], failed: 0, started: 0, timeline: [] as Array<{ at: number; start: number; stop: number }> };
    const pending: Array<Promise<void>> = [];
    const loadT0 = performance.now();
    const cpu0 = { self: cpuNow(), influxd: usage(influx.pid).cpuS, machine: machineBusyS() };
    for (let i = 0; performance.now() - loadT0 < loadS * 1000; i++) {
      // open loop: one start every 20 ms whatever the answers, each stopped 1–5 s later
      const due = loadT0 + i * 20;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      load.started++;
      pending.push(
        (async () => {
          const s = await post('/api/runs', { model: 'fleet-load', hosts: [host(i)], labels: { bench: 'fleet-load' } });
          load.starts.push(s.ms);
          if (!s.ok) {
            load.failed++;
            return;
          }
          await sleep(1000 + ((i * 619) % 4000));
          const e = await post(`/api/runs/${s.json.run_id}/stop`, { inferences: 100 });
          load.stops.push(e.ms);
          load.timeline.push({ at: performance.now() - loadT0, start: s.ms, stop: e.ms });
          if (!e.ok) load.failed++;
        })(),
      );
    }
    await Promise.all(pending);
    const loadElapsed = (performance.now() - loadT0) / 1000;
    const cpu1 = { self: cpuNow(), influxd: usage(influx.pid).cpuS, machine: machineBusyS() };
    let stored = 0;
    let completed = 0;
    for await (const r of live.runs.all({ labels: { bench: 'fleet-load' } })) {
      stored++;
      if (r.status === 'completed') completed++;
    }
    console.log(`\n### Run starts and stops over that fleet's history: 50 starts/s for ${fmt(loadS, 0)} s, each run stopped 1–5 s later (so ~50 stops/s), over HTTP, each run on one of the 64 hosts\n`);
    console.log('| load | request | p50 | p99 | max | failed |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    console.log(`| baseline: one request at a time (n=50) | POST /api/runs | ${fmt(percentile(one.starts, 50), 1)} ms | ${fmt(percentile(one.starts, 99), 1)} ms | ${fmt(Math.max(...one.starts), 1)} ms | ${one.failed} |`);
    console.log(`| baseline: one request at a time (n=50) | POST /api/runs/:id/stop | ${fmt(percentile(one.stops, 50), 1)} ms | ${fmt(percentile(one.stops, 99), 1)} ms | ${fmt(Math.max(...one.stops), 1)} ms | |`);
    console.log(`| 50 starts/s + 50 stops/s (n=${load.starts.length}) | POST /api/runs | ${fmt(percentile(load.starts, 50), 1)} ms | ${fmt(percentile(load.starts, 99), 1)} ms | ${fmt(Math.max(...load.starts), 1)} ms | ${load.failed} |`);
    console.log(`| 50 starts/s + 50 stops/s (n=${load.stops.length}) | POST /api/runs/:id/stop | ${fmt(percentile(load.stops, 50), 1)} ms | ${fmt(percentile(load.stops, 99), 1)} ms | ${fmt(Math.max(...load.stops), 1)} ms | |`);
    console.log(
      `\nruns started: ${load.started} in ${fmt(loadElapsed, 0)} s (${fmt(load.started / loadS, 1)}/s); stored: ${stored}, completed: ${completed}; failed requests: ${load.failed}; CPU while loaded: the API and load generator (one Node process) ${fmt(((cpu1.self - cpu0.self) / loadElapsed) * 100, 0)} % of one core, influxd ${fmt(((cpu1.influxd - cpu0.influxd) / loadElapsed) * 100, 0)} %, other processes on this shared machine ${fmt(((cpu1.machine - cpu0.machine - (cpu1.self - cpu0.self) - (cpu1.influxd - cpu0.influxd)) / loadElapsed) * 100, 0)} %`,
    );
    const windows: string[] = [];
    for (let w = 0; w * 30_000 < loadElapsed * 1000; w++) {
      const inWindow = load.timeline.filter((x) => x.at >= w * 30_000 && x.at < (w + 1) * 30_000);
      if (inWindow.length > 0) windows.push(`${w * 30}–${(w + 1) * 30} s: ${fmt(percentile(inWindow.map((x) => x.start), 99), 0)} / ${fmt(percentile(inWindow.map((x) => x.stop), 99), 0)} ms`);
    }
    console.log(`p99 of start / stop by 30 s of the load (by when the stop answered): ${windows.join('; ')}`);
    await live.fastify.close();
    console.log(`\nwhole fleet benchmark: ${fmt(elapsedS() / 60, 1)} min; energies of the two runs: 1 h ${fmt((energies['1 h'] ?? 0) / 3.6e6, 3)} kWh, 24 h ${fmt((energies['24 h'] ?? 0) / 3.6e6, 3)} kWh`);
  } finally {
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
