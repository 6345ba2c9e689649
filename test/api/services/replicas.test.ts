/**
 * Two API replicas on one database, with their cron jobs (abandon stale runs, recompute partial
 * runs, roll up) fired concurrently many times, against a second database that one replica
 * alone processes with the same data, the same runs and the same clock. Both replicas run on
 * the suite's real influxd, each with a store of its own (as two processes would); each is
 * slowed by random delays before its queries (a few ms, sometimes 150 ms) so that their steps
 * interleave every way: one reads what the other has just written, or has not yet, and the one
 * that read first may write last.
 *
 * What must hold: the rollup points, the watermark and every run record equal the single
 * replica's; no run has two rows; a partial run's attempts are exactly the schedule's; the
 * watermark never goes backwards; and within one firing, no field of any point gets two
 * different values from the two replicas (no conflicting writes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../api/app.js';
import { manually, startJobs, type ScheduledJob } from '../../../api/jobs/index.js';
import { scheduledAttempt, MAX_RECOMPUTE_ATTEMPTS } from '../../../api/domain/recompute.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { loadConfig } from '../../../common/config.js';
import { hostRecordSample } from '../../../common/host-record.js';
import type { Sample } from '../../../common/model.js';
import { InfluxStore, ident, iql, toLines, type Row } from '../../../common/storage/index.js';
import { testSettings } from '../../helpers.js';
import { metricValue } from '../../collector/power-points.js';

const MIN = 60_000;
const B0 = Date.UTC(2026, 5, 1, 0, 0, 0);
const HOURS = 12;
const STEP_S = 5;
/** where the runs end (the partial ones): 11:05 on the first day of the data */
const E = B0 + 11 * 3_600_000 + 5 * MIN;

interface Replica {
  name: string;
  app: App;
  store: InfluxStore;
  jobs: ScheduledJob[];
}

/** A small deterministic PRNG (mulberry32): the replicas' delays, the same every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Points every 5 s of a host's two in-total sources, its GPU and its CPU, minus `gaps`. */
function hostData(host: string, gaps: Array<{ source: string; from: number; to: number }> = []): Sample[] {
  const out: Sample[] = [];
  const inGap = (source: string, t: number) => gaps.some((g) => g.source === source && t > g.from && t <= g.to);
  const h = host.charCodeAt(1);
  for (let t = B0 + STEP_S * 1000; t <= B0 + HOURS * 3_600_000; t += STEP_S * 1000) {
    const i = (t - B0) / 1000;
    for (const [source, domain, w] of [['nvml/0', 'gpu', 200 + 40 * Math.sin(i / 300 + h)], ['rapl/package-0', 'cpu', 60 + (i % 17)]] as const) {
      if (inGap(source, t)) continue;
      out.push({ measurement: 'power', tags: { host, platform: 'H100', source, domain, method: 'counter', in_total: 'true' }, fields: { energy_j: w * STEP_S, power_w: w, interval_s: STEP_S }, timeMs: t });
    }
    out.push({ measurement: 'gpu', tags: { host, platform: 'H100', gpu: '0', gpu_name: 'NVIDIA H100' }, fields: { util_pct: (i * 7) % 100, mem_used_bytes: 4e10, mem_total_bytes: 8e10 }, timeMs: t });
    out.push({ measurement: 'cpu', tags: { host, platform: 'H100', cpu: 'all' }, fields: { usage_pct: (i * 3) % 100 }, timeMs: t });
  }
  return out;
}

function hostRecord(host: string): Sample {
  return hostRecordSample({
    host,
    platform: 'H100',
    cpuModel: 'AMD EPYC 9654',
    gpus: [{ index: 0, name: 'NVIDIA H100' }],
    sources: [
      { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 },
      { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true },
    ],
    sampleHz: 10,
    reportIntervalS: STEP_S,
    flushIntervalS: 5,
    version: '0.1.0',
    clockOffsetS: 0,
    clockOffsetErrorS: 0.1,
    startedAtMs: B0 - 2 * MIN,
    timeMs: B0 - MIN,
  });
}

/** h3 misses 11:00–11:05 of its GPU until the late points come; h4 misses 11:00–11:10 for good. */
const H3_GAP = { source: 'nvml/0', from: B0 + 11 * 3_600_000, to: B0 + 11 * 3_600_000 + 5 * MIN };
const H4_GAP = { source: 'nvml/0', from: B0 + 11 * 3_600_000, to: B0 + 11 * 3_600_000 + 10 * MIN };
const lateH3 = () => hostData('h3').filter((s) => s.measurement === 'power' && s.tags.source === 'nvml/0' && s.timeMs > H3_GAP.from && s.timeMs <= H3_GAP.to);

/** Every row of a measurement, tags merged in, in a stable order: what a comparison sees. */
async function dump(store: InfluxStore, measurement: string): Promise<Row[]> {
  const [r] = await store.query(iql`SELECT * FROM ${ident(measurement)} GROUP BY *`);
  const rows: Row[] = [];
  for (const s of r?.series ?? []) for (const v of s.values) rows.push({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i] ?? null])) });
  return rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** One line of line protocol as (point key, field → value text), for the conflict check. */
function parseLine(line: string): { key: string; fields: Map<string, string> } {
  const space = /(?<!\\) /g;
  const parts = line.split(space);
  const [series = '', fieldText = '', time = ''] = [parts[0], parts.slice(1, -1).join(' '), parts[parts.length - 1]];
  const fields = new Map<string, string>();
  // field values here are numbers or JSON strings; split at commas outside quotes
  let depth = false;
  let start = 0;
  for (let i = 0; i <= fieldText.length; i++) {
    const c = fieldText[i];
    if (c === '\\') i++;
    else if (c === '"') depth = !depth;
    else if ((c === ',' && !depth) || i === fieldText.length) {
      const kv = fieldText.slice(start, i);
      const eq = kv.indexOf('=');
      fields.set(kv.slice(0, eq), kv.slice(eq + 1));
      start = i + 1;
    }
  }
  return { key: `${series} ${time}`, fields };
}

describe('two API replicas on one database (real influxd)', () => {
  const clock = { now: B0, skewA2: 0 };
  let a1: Replica;
  let a2: Replica;
  let single: Replica;
  /** lines each replica of the pair wrote during the current firing */
  let captured: Array<{ replica: string; line: string }> | undefined;
  const watermarksWritten: number[] = [];
  /**
   * Holds the first `count` queries whose text contains `match` until all have come: both
   * replicas' checks that a run_id is free happen before either writes the run.
   */
  let barrier: { match: string; count: number; waiters: Array<() => void> } | undefined;

  async function replica(name: string, db: string, now: () => number, seed?: number): Promise<Replica> {
    const store = await InfluxStore.open({ ...testSettings('unused'), db });
    const rand = seed === undefined ? undefined : prng(seed);
    const query = store.query.bind(store);
    store.query = async (q, options) => {
      if (rand) {
        // mostly a few ms, sometimes long enough for the other replica to go a step further
        const r = rand();
        await new Promise((resolve) => setTimeout(resolve, r < 0.15 ? 150 : Math.floor(r * 25)));
      }
      const b = barrier;
      if (b && b.count > 0 && q.text.includes(b.match)) {
        b.count--;
        if (b.count === 0) for (const release of b.waiters) release();
        else await new Promise<void>((resolve) => b.waiters.push(resolve));
      }
      return query(q, options);
    };
    const writer = store.writer.bind(store);
    store.writer = (options) => {
      const w = writer(options);
      const writeLines = w.writeLines.bind(w);
      w.writeLines = (lines) => {
        for (const line of lines) {
          captured?.push({ replica: name, line });
          if (line.startsWith('wattscope_state,key=rollup_10m ')) watermarksWritten.push(Number(/watermark_ms=([0-9.e+]+)/.exec(line)?.[1]));
        }
        writeLines(lines);
      };
      return w;
    };
    const config = loadConfig({ HOME: '/nonexistent', WATTSCOPE_HOST: 'h1', WATTSCOPE_API_RATE_LIMIT: '1000000', WATTSCOPE_RUN_TIMEOUT: '5' });
    const app = await buildApp({ config, store, now, stopWaitMs: 0 });
    await app.fastify.ready();
    // the test fires them (execute()); their schedule on the real clock would fire them at
    // minute boundaries with the test's clock, in between the test's own steps
    const jobs = startJobs(app.jobs, { metrics: app.metrics, scheduler: manually });
    return { name, app, store, jobs };
  }

  beforeAll(async () => {
    const dbA = testSettings('replicas_a').db;
    const dbB = testSettings('replicas_b').db;
    a1 = await replica('a1', dbA, () => clock.now, 20261122);
    a2 = await replica('a2', dbA, () => clock.now + clock.skewA2, 7);
    single = await replica('single', dbB, () => clock.now);
    const data = [...['h1', 'h2', 'h3', 'h4'].map(hostRecord), ...hostData('h1'), ...hostData('h2'), ...hostData('h3', [H3_GAP]), ...hostData('h4', [H4_GAP])];
    for (const store of [a1.store, single.store]) {
      const w = store.writer({ batchSize: 20_000 });
      w.writeLines(toLines(data));
      await w.close();
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of [a1, a2, single]) await r?.app.fastify.close();
  });

  /** The same request on a replica of the pair and on the single one, at the same clock. */
  async function both(at: number, on: Replica, method: 'POST', url: string, payload: object): Promise<[number, number]> {
    clock.now = at;
    const pair = await on.app.fastify.inject({ method, url, payload });
    const alone = await single.app.fastify.inject({ method, url, payload });
    return [pair.statusCode, alone.statusCode];
  }

  /** Fires every job of both replicas at once (and the single replica's), at `at`. */
  async function fire(at: number): Promise<void> {
    clock.now = at;
    captured = [];
    await Promise.all([...a1.jobs, ...a2.jobs].map((j) => j.execute()));
    const lines = captured;
    captured = undefined;
    await Promise.all(single.jobs.map((j) => j.execute()));
    // no conflicting writes: within one firing, each field of a point got one value from both replicas
    const values = new Map<string, Set<string>>();
    for (const { line } of lines) {
      const { key, fields } = parseLine(line);
      for (const [f, v] of fields) {
        const k = `${key} ${f}`;
        values.set(k, (values.get(k) ?? new Set()).add(v));
      }
    }
    const conflicts = [...values].filter(([, v]) => v.size > 1).map(([k, v]) => `${k}: ${[...v].join(' ≠ ')}`);
    expect(conflicts, `conflicting writes when firing at ${new Date(at).toISOString()}`).toEqual([]);
  }

  it('end with the rollups, watermark and run records of a single replica, attempts exact, no duplicate row', async () => {
    // runs started on both replicas and stopped on the other; each also on the single replica
    const runs: Array<{ id: string; hosts: string[]; start: number; end?: number; on: Replica; stopOn: Replica }> = [
      { id: 'r-full-1', hosts: ['h1'], start: B0 + 10.5 * 3_600_000, end: B0 + 10.5 * 3_600_000 + 20 * MIN, on: a1, stopOn: a2 },
      { id: 'r-full-2', hosts: ['h1', 'h2'], start: B0 + 10 * 3_600_000, end: E - 2 * MIN, on: a2, stopOn: a1 },
      { id: 'r-part-h3', hosts: ['h3'], start: B0 + 10 * 3_600_000 + 58 * MIN, end: E, on: a1, stopOn: a2 },
      { id: 'r-part-h1h3', hosts: ['h1', 'h3'], start: B0 + 11 * 3_600_000 + MIN, end: E - MIN, on: a2, stopOn: a2 },
      { id: 'r-part-h4', hosts: ['h4'], start: B0 + 10 * 3_600_000 + 55 * MIN, end: E, on: a2, stopOn: a1 },
      { id: 'r-stale', hosts: ['h1'], start: B0 + 11 * 3_600_000, on: a1, stopOn: a1 },
    ];
    for (const r of runs) expect(await both(r.start, r.on, 'POST', '/api/runs', { model: 'm', run_id: r.id, hosts: r.hosts })).toEqual([201, 201]);
    // a heartbeat for the run that goes silent afterwards (abandoned 5 min later)
    expect(await both(B0 + 11 * 3_600_000 + 2 * MIN, a2, 'POST', '/api/runs/r-stale/heartbeat', {})).toEqual([200, 200]);
    // a retried start that both replicas take at once, the second's clock 7 ms ahead
    clock.now = B0 + 11 * 3_600_000 + 3 * MIN;
    clock.skewA2 = 7;
    const dup = await Promise.all([a1, a2].map((r) => r.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', run_id: 'r-retried', hosts: ['h2'] } })));
    clock.skewA2 = 0;
    // each says it created the run, or one answers with the other's (200): never an error
    expect(dup.every((d) => d.statusCode === 200 || d.statusCode === 201)).toBe(true);
    expect(dup.some((d) => d.statusCode === 201)).toBe(true);
    expect(new Set(dup.map((d) => d.json<{ run_id: string }>().run_id))).toEqual(new Set(['r-retried']));
    // which replica's start stands depends on the race (a replica that finds the other's row
    // answers with it): the single replica starts it at the start that stood
    const stood = (await a1.app.reads.get('r-retried')).started_at_ms;
    expect([clock.now, clock.now + 7]).toContain(stood);
    clock.now = stood;
    await single.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', run_id: 'r-retried', hosts: ['h2'] } });
    // stops; one of them retried on both replicas at once (one completes it, or both do alike)
    for (const r of runs.filter((x) => x.end !== undefined)) {
      expect(await both(r.end as number, r.stopOn, 'POST', `/api/runs/${r.id}/stop`, { inferences: 1000, ended_at: new Date(r.end as number).toISOString() })).toEqual([200, 200]);
    }
    clock.now = E + 10_000;
    const retriedStop = { inferences: 10, ended_at: new Date(E).toISOString() };
    const stops = await Promise.all([a1, a2].map((r) => r.app.fastify.inject({ method: 'POST', url: '/api/runs/r-retried/stop', payload: retriedStop })));
    expect(stops.some((s) => s.statusCode === 200)).toBe(true);
    expect(stops.every((s) => s.statusCode === 200 || s.statusCode === 409)).toBe(true);
    expect((await single.app.fastify.inject({ method: 'POST', url: '/api/runs/r-retried/stop', payload: retriedStop })).statusCode).toBe(200);

    const partial = ['r-part-h3', 'r-part-h1h3', 'r-part-h4'];
    for (const id of partial) expect((await a1.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>().partial, id).toBe(true);

    // the jobs, fired many times; some firings jump over several slots of the schedule, late
    // points for h3 arrive in between, and the last firings pass the schedule's end
    const firings = [30_000, 61_000, 90_000, 3 * MIN, 3 * MIN, 10 * MIN, 10 * MIN, 40 * MIN, 3 * 60 * MIN, 20 * 60 * MIN, 36 * 60 * MIN, 36 * 60 * MIN + 5_000];
    let lastWatermark = -Infinity;
    for (const [k, offset] of firings.entries()) {
      if (offset === 10 * MIN && firings[k - 1] !== offset) {
        for (const store of [a1.store, single.store]) await store.write(lateH3());
      }
      await fire(E + offset);
      const wm = (await a1.app.jobs.rollup.watermark()) ?? -Infinity;
      // never backwards, and never below what a replica has written
      expect(wm).toBeGreaterThanOrEqual(lastWatermark);
      expect(wm).toBe(Math.max(...watermarksWritten));
      lastWatermark = wm;
      for (const id of partial) {
        const run = await a1.app.runs.get(id);
        const end = run?.ended_at_ms as number;
        // counted once per slot however many replicas measured it: never past the schedule, and
        // after every firing what the single replica counted
        expect(run?.recompute_attempts ?? 0, `${id} at +${offset / MIN} min`).toBeLessThanOrEqual(scheduledAttempt(end, E + offset));
        expect(run?.recompute_attempts, `${id} at +${offset / MIN} min`).toBe((await single.app.runs.get(id))?.recompute_attempts);
      }
    }
    // past the data, the watermark goes on through empty buckets up to the clock; let both
    // databases catch up with the last firing's clock (36 buckets a run), then compare
    const final = E + firings[firings.length - 1]!;
    const limit = Math.floor((final - 10 * MIN) / (10 * MIN)) * 10 * MIN;
    for (const r of [a1, single]) while ((await r.app.jobs.rollup.advance(final)) > 0);
    expect(await a1.app.jobs.rollup.watermark()).toBe(limit);
    expect(lastWatermark).toBeGreaterThan(B0 + HOURS * 3_600_000);

    // the outcome, measurement by measurement, against the single replica's
    for (const m of ['power_10m', 'gpu_10m', 'cpu_10m']) {
      const [pair, alone] = await Promise.all([dump(a1.store, m), dump(single.store, m)]);
      expect(pair.length, m).toBeGreaterThan(0);
      expect(pair, m).toEqual(alone);
    }
    expect(await a1.app.jobs.rollup.watermark()).toBe(await single.app.jobs.rollup.watermark());
    const [pairRuns, aloneRuns] = await Promise.all([dump(a1.store, 'run'), dump(single.store, 'run')]);
    expect(pairRuns).toEqual(aloneRuns);
    // one row per run
    const ids = pairRuns.map((r) => r.run_id);
    expect(ids.length).toBe(runs.length + 1);
    expect(new Set(ids).size).toBe(ids.length);

    // and the outcome is the right one: attempts are the schedule's, the late points counted
    const summary = async (id: string) => (await a2.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    const attempts = async (id: string) => (await a2.app.reads.get(id)).recompute_attempts;
    for (const id of ['r-part-h3', 'r-part-h1h3']) {
      const s = await summary(id);
      expect(s.partial, id).toBe(false);
      // whole again at the firing 10 min after the end: its 4th slot (1, 2, 4, 8 min)
      expect(await attempts(id), id).toBe(scheduledAttempt(Date.parse(s.ended_at as string), E + 10 * MIN));
    }
    const h4 = await summary('r-part-h4');
    expect(h4.partial).toBe(true);
    expect(await attempts('r-part-h4')).toBe(MAX_RECOMPUTE_ATTEMPTS);
    expect(scheduledAttempt(E, final)).toBe(MAX_RECOMPUTE_ATTEMPTS);
    expect(h4.partial_final).toMatch(/^the last of its 12 scheduled measurements, 34 h after its end, still finds it partial: h4\/nvml\/0 at /);
    const stale = await summary('r-stale');
    expect(stale.status).toBe('abandoned');
    expect(stale.ended_at).toBe(new Date(B0 + 11 * 3_600_000 + 2 * MIN).toISOString());
    const retried = await summary('r-retried');
    expect(retried.started_at).toBe(new Date(stood).toISOString());
    expect(retried.status).toBe('completed');
    // no job failed in either replica (a failure is counted, not thrown)
    for (const r of [a1, a2, single]) {
      const text = (await r.app.fastify.inject('/metrics')).body;
      for (const job of ['abandon', 'recompute', 'rollup']) expect(metricValue(text, 'wattscope_api_job_failures_total', { job }) ?? 0, `${r.name} ${job}`).toBe(0);
    }
  }, 240_000);

  it('leaves one row of a start that both replicas took at once, the first started', async () => {
    const at = B0 + 11 * 3_600_000 + 30 * MIN;
    clock.now = at;
    clock.skewA2 = 7;
    barrier = { match: `'r-twice'`, count: 2, waiters: [] };
    const answers = await Promise.all([a1, a2].map((r) => r.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', run_id: 'r-twice', hosts: ['h2'] } })));
    clock.skewA2 = 0;
    barrier = undefined;
    // neither found the other's run before writing its own; the one that saw both rows after
    // writing answers with the first started (200), or both say they created it (201)
    expect(answers.every((a) => a.statusCode === 201 || a.statusCode === 200)).toBe(true);
    expect(answers.some((a) => a.statusCode === 201)).toBe(true);
    expect(answers.some((a) => a.json<{ started_at: string }>().started_at === new Date(at).toISOString())).toBe(true);
    const rows = (await dump(a1.store, 'run')).filter((r) => r.run_id === 'r-twice');
    expect(rows.map((r) => r.time)).toEqual([at]);
    for (const r of [a1, a2]) expect((await r.app.reads.get('r-twice')).started_at_ms).toBe(at);
  });
});
