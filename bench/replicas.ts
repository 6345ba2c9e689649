/**
 * Two API replicas on one database for 10 minutes of real time, with their cron jobs running as
 * scheduled (node-cron, every minute: abandon stale runs, recompute partial runs, roll up), and
 * runs started on both — against one replica alone on a second database that gets the same
 * points, the same runs and the same clock (the baseline, in the same process and run).
 *
 * - Points: 8 hosts (16 power sources, 8 GPUs, CPU) written every 5 s to both databases, after
 *   24 h of history at a 10 s report interval (144 buckets for the rollup jobs to race over).
 *   One host goes silent for 90 s and its points arrive 3 minutes late (a spool replay);
 *   another's last minutes never arrive.
 * - Runs: a run every 3 s, started on one replica of the pair and stopped on the other (the
 *   single replica gets the same request, run_id and times); some on the silent hosts (partial,
 *   recomputed); one every 30 s left without heartbeat (abandoned after 2 minutes); now and then
 *   a stop sent to both replicas at once (a client's retry).
 * - At the end: the rollup points, watermark, run records and summaries of the pair against the
 *   single replica's; rows per run; and every write the pair's jobs made, point by point: a
 *   field given two different values within one minute is a conflicting write.
 *
 *   npm run bench -- replicas [minutes]
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../api/app.js';
import { JOB_NAMES, startJobs, type ScheduledJob } from '../api/jobs/index.js';
import type { RunSummary } from '../api/domain/run-record.js';
import { loadConfig } from '../common/config.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import { MEASUREMENT, type Sample } from '../common/model.js';
import { ident, iql } from '../common/storage/influxql.js';
import { toLines } from '../common/storage/line-protocol.js';
import { InfluxStore, type Row } from '../common/storage/store.js';
import { hostRecordOf, reportSamples } from './fleet-host.js';
import { fmt, sleep } from './proc.js';

const MIN = 60_000;
const HOSTS = ['r-00', 'r-01', 'r-02', 'r-03', 'r-04', 'r-05', 'late-0', 'gone-0'];
const KEEP = new Set<string>([MEASUREMENT.power, MEASUREMENT.gpu, MEASUREMENT.cpu]);

interface Replica {
  name: string;
  app: App;
  jobs: ScheduledJob[];
  /** lines its jobs wrote: job, minute of the firing, line */
  jobWrites: Array<{ job: string; minute: number; line: string }>;
}

/** Every row of a measurement, tags merged in, in a stable order. */
async function dump(store: InfluxStore, measurement: string): Promise<Row[]> {
  const [r] = await store.query(iql`SELECT * FROM ${ident(measurement)} GROUP BY *`);
  const rows: Row[] = [];
  for (const s of r?.series ?? []) for (const v of s.values) rows.push({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i] ?? null])) });
  return rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** Point key and fields (value text) of a line of ours (no spaces inside field values but strings). */
function splitLine(line: string): { key: string; fields: Map<string, string> } {
  const parts = line.split(/(?<!\\) /);
  const fieldText = parts.slice(1, -1).join(' ');
  const fields = new Map<string, string>();
  let quoted = false;
  let start = 0;
  for (let i = 0; i <= fieldText.length; i++) {
    const c = fieldText[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if ((c === ',' && !quoted) || i === fieldText.length) {
      const kv = fieldText.slice(start, i);
      const eq = kv.indexOf('=');
      fields.set(kv.slice(0, eq), kv.slice(eq + 1));
      start = i + 1;
    }
  }
  return { key: `${parts[0] ?? ''} ${parts[parts.length - 1] ?? ''}`, fields };
}

export async function benchReplicas(minutes = 10): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-replicas-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  const replicas: Replica[] = [];
  let writerTimer: NodeJS.Timeout | undefined;
  try {
    const open = (db: string) => InfluxStore.open({ url: influx.url, org: '', db, timeoutMs: 30_000 });
    const dataStores = [await open('pair'), await open('single')];
    const writeBoth = async (samples: Sample[]) => {
      const lines = toLines(samples);
      await Promise.all(
        dataStores.map(async (s) => {
          const w = s.writer({ batchSize: 20_000 });
          w.writeLines(lines);
          await w.close();
        }),
      );
    };

    // 24 h of history at a 10 s report interval, then live points every second
    const t0 = performance.now();
    const liveFrom = Math.floor(Date.now() / 1000) * 1000;
    const histFrom = liveFrom - 24 * 3_600_000;
    await writeBoth(HOSTS.map((h) => hostRecordOf(h, histFrom - MIN, histFrom - 2 * MIN, 10)));
    for (let from = histFrom; from < liveFrom; from += 3_600_000) {
      const samples: Sample[] = [];
      for (let t = from + 10_000; t <= from + 3_600_000; t += 10_000) HOSTS.forEach((h, k) => samples.push(...reportSamples(h, k, (t - histFrom) / 10_000, t, 10, 0).filter((s) => KEEP.has(s.measurement))));
      await writeBoth(samples);
    }
    await writeBoth(HOSTS.map((h) => hostRecordOf(h, liveFrom, histFrom - 2 * MIN, 1)));
    const setupS = (performance.now() - t0) / 1000;

    // live points: each second's report of every host, sent every 5 s as collectors do; `late-0`
    // is silent from minute 2 to 3.5 and its points come at minute 6.5; `gone-0`'s stop at minute 7
    const startedAt = Date.now();
    const at = (m: number) => startedAt + m * MIN;
    const withheld: Sample[] = [];
    let lastT = liveFrom;
    let i = 0;
    const sendLive = async () => {
      const now = Date.now();
      const samples: Sample[] = [];
      for (let t = lastT + 1000; t <= now; t += 1000) {
        i++;
        HOSTS.forEach((h, k) => {
          if (h === 'gone-0' && t > at(7)) return;
          const s = reportSamples(h, k, i, t, 1, 0).filter((x) => KEEP.has(x.measurement));
          if (h === 'late-0' && t > at(2) && t <= at(3.5)) withheld.push(...s);
          else samples.push(...s);
        });
        lastT = t;
      }
      if (now >= at(6.5) && withheld.length > 0) samples.push(...withheld.splice(0));
      await writeBoth(samples);
    };
    await sendLive();
    writerTimer = setInterval(() => void sendLive().catch((e: unknown) => console.error('live points:', e)), 5000);

    // the pair and the single replica, each with a store of its own and its jobs on schedule
    const clock: { pinned: number | undefined } = { pinned: undefined };
    const now = () => clock.pinned ?? Date.now();
    const als = new AsyncLocalStorage<string>();
    const config = loadConfig({ HOME: work, WATTSCOPE_API_RATE_LIMIT: '10000000', WATTSCOPE_RUN_TIMEOUT: '2', WATTSCOPE_LOG_LEVEL: 'warn' });
    for (const [name, db] of [['pair-a', 'pair'], ['pair-b', 'pair'], ['single', 'single']] as const) {
      const store = await open(db);
      const replica: Replica = { name, app: undefined as unknown as App, jobs: [], jobWrites: [] };
      const writer = store.writer.bind(store);
      store.writer = (options) => {
        const w = writer(options);
        const writeLines = w.writeLines.bind(w);
        w.writeLines = (lines) => {
          const job = als.getStore();
          if (job) for (const line of lines) replica.jobWrites.push({ job, minute: Math.floor(Date.now() / MIN), line });
          writeLines(lines);
        };
        return w;
      };
      replica.app = await buildApp({ config, store, now });
      const { jobs } = replica.app;
      // the jobs' writes are told apart from the requests' by the async context they run in
      const traced = Object.fromEntries(JOB_NAMES.map((name) => [name, { run: () => als.run(name, () => jobs[name].run()) }])) as Record<(typeof JOB_NAMES)[number], { run(): Promise<number> }>;
      replica.jobs = startJobs(traced, { metrics: replica.app.metrics });
      replicas.push(replica);
    }
    const [a, b, single] = replicas as [Replica, Replica, Replica];

    const inject = (r: Replica, method: 'GET' | 'POST', url: string, payload?: object) => r.app.fastify.inject({ method, url, ...(payload ? { payload } : {}) });
    /**
     * The same request on a pair replica and on the single one. A start or a heartbeat takes the
     * API's clock: those run one at a time with the clock pinned, so that both read the same
     * time; a stop names its end (ended_at) and needs no pin.
     */
    let pinChain: Promise<unknown> = Promise.resolve();
    const both = (pairReplica: Replica, url: string, payload: object, pin: boolean) => {
      const send = () => Promise.all([inject(pairReplica, 'POST', url, payload), inject(single, 'POST', url, payload)]);
      if (!pin) return send();
      const next = pinChain.then(async () => {
        clock.pinned = Date.now();
        try {
          return await send();
        } finally {
          clock.pinned = undefined;
        }
      });
      pinChain = next.catch(() => undefined);
      return next;
    };
    const failures: string[] = [];
    const check = (what: string, codes: number[], ok: number[]) => {
      if (!codes.every((c) => ok.includes(c))) failures.push(`${what}: ${codes.join(', ')}`);
    };
    const pending: Array<Promise<void>> = [];
    const runIds: string[] = [];
    let n = 0;
    const endAt = startedAt + minutes * MIN;
    while (Date.now() < endAt) {
      const k = n++;
      const id = `run-${k}`;
      runIds.push(id);
      const [on, off] = k % 2 === 0 ? [a, b] : [b, a];
      const abandoned = k % 10 === 5;
      const hosts = Date.now() > at(1.8) && Date.now() < at(3.3) && k % 3 === 0 ? ['late-0'] : Date.now() > at(6.5) && Date.now() < at(7.5) && k % 3 === 0 ? ['gone-0', 'r-01'] : [HOSTS[k % 6] as string, ...(k % 4 === 0 ? [HOSTS[(k + 1) % 6] as string] : [])];
      const started = await both(on, '/api/runs', { model: `m-${k % 3}`, run_id: id, hosts, labels: { bench: 'replicas' } }, true);
      check(`start ${id}`, started.map((s) => s.statusCode), [201]);
      pending.push(
        (async () => {
          await sleep(abandoned ? 20_000 : 8_000 + ((k * 7919) % 25_000));
          if (abandoned) {
            check(`heartbeat ${id}`, (await both(off, `/api/runs/${id}/heartbeat`, {}, true)).map((s) => s.statusCode), [200]);
            return;
          }
          // a few seconds back: never after a clock pinned for a start in flight
          const end = new Date(Date.now() - 5000).toISOString();
          if (k % 7 === 3) {
            // a client's retry: the stop reaches both replicas of the pair at once
            const [x, y, z] = await Promise.all([inject(a, 'POST', `/api/runs/${id}/stop`, { inferences: 500, ended_at: end }), inject(b, 'POST', `/api/runs/${id}/stop`, { inferences: 500, ended_at: end }), inject(single, 'POST', `/api/runs/${id}/stop`, { inferences: 500, ended_at: end })]);
            check(`retried stop ${id}`, [x.statusCode, y.statusCode].sort(), [200, 409]);
            check(`retried stop ${id} (one completes it)`, [Math.min(x.statusCode, y.statusCode)], [200]);
            check(`stop ${id} (single)`, [z.statusCode], [200]);
          } else {
            check(`stop ${id}`, (await both(off, `/api/runs/${id}/stop`, { inferences: 500, ended_at: end }, false)).map((s) => s.statusCode), [200]);
          }
        })(),
      );
      await sleep(3000);
    }
    await Promise.all(pending);
    // the last firing of the jobs at the next minute, then the schedule stops
    await sleep(MIN - (Date.now() % MIN) + 25_000);
    for (const r of replicas) for (const j of r.jobs) await j.stop();
    clearInterval(writerTimer);
    writerTimer = undefined;
    const wmBefore = await Promise.all([a.app.jobs.rollup.watermark(), single.app.jobs.rollup.watermark()]);
    // both to the same time: the pair may be a minute ahead of the single one on the history
    const settle = Date.now();
    for (const r of [a, single]) while ((await r.app.jobs.rollup.advance(settle)) > 0);
    const elapsedMin = (Date.now() - startedAt) / MIN;

    // ---------------------------------------------------------------- the comparison
    const [pairStore, singleStore] = dataStores as [InfluxStore, InfluxStore];
    const rows: string[] = [];
    const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
    for (const m of [MEASUREMENT.powerRollup, MEASUREMENT.gpuRollup, MEASUREMENT.cpuRollup]) {
      const [p, s] = await Promise.all([dump(pairStore, m), dump(singleStore, m)]);
      rows.push(`| \`${m}\` points | ${p.length.toLocaleString('en-US')} | ${s.length.toLocaleString('en-US')} | ${same(p, s) ? 'identical' : `**differ** (${p.filter((r, j) => !same(r, s[j])).length} rows)`} |`);
    }
    const [wmP, wmS] = await Promise.all([a.app.jobs.rollup.watermark(), single.app.jobs.rollup.watermark()]);
    rows.push(`| rollup watermark (at the last scheduled firing → after one final advance of each) | ${new Date(wmBefore[0] ?? 0).toISOString()} → ${new Date(wmP ?? 0).toISOString()} | ${new Date(wmBefore[1] ?? 0).toISOString()} → ${new Date(wmS ?? 0).toISOString()} | ${wmP === wmS ? 'identical' : '**differ**'} |`);
    const [runsP, runsS] = await Promise.all([dump(pairStore, MEASUREMENT.run), dump(singleStore, MEASUREMENT.run)]);
    const byId = (rs: Row[]) => new Map(rs.map((r) => [String(r.run_id), r]));
    const pIds = byId(runsP);
    const sIds = byId(runsS);
    const differing = [...sIds].filter(([id, r]) => !same(r, pIds.get(id))).map(([id]) => id);
    rows.push(`| run records (every field) | ${runsP.length} | ${runsS.length} | ${differing.length === 0 ? 'identical' : `**${differing.length} differ**: ${differing.slice(0, 5).join(', ')}`} |`);
    rows.push(`| rows per run_id | ${runsP.length === pIds.size ? 'one each' : `**${runsP.length - pIds.size} duplicates**`} | ${runsS.length === sIds.size ? 'one each' : `**${runsS.length - sIds.size} duplicates**`} | |`);
    const status = (rs: Row[]) => ['completed', 'abandoned', 'running'].map((st) => `${rs.filter((r) => r.status === st).length} ${st}`).join(', ');
    rows.push(`| runs by status | ${status(runsP)} | ${status(runsS)} | |`);
    const partial = (rs: Row[]) => rs.filter((r) => typeof r.coverage === 'number' && r.coverage < 0.99).length;
    const recomputed = (rs: Row[]) => rs.filter((r) => typeof r.recompute_attempts === 'number');
    const attempts = (rs: Row[]) => recomputed(rs).reduce((x, r) => x + (r.recompute_attempts as number), 0);
    rows.push(`| runs measured again for late points (attempts in all) / partial at the end | ${recomputed(runsP).length} (${attempts(runsP)}) / ${partial(runsP)} | ${recomputed(runsS).length} (${attempts(runsS)}) / ${partial(runsS)} | |`);
    let summariesSame = 0;
    for (const id of sIds.keys()) {
      // at one time: a running run's summary is its energy so far
      clock.pinned = Date.now();
      const [x, y, z] = await Promise.all([a, b, single].map(async (r) => (await inject(r, 'GET', `/api/runs/${id}`)).json<RunSummary>()));
      clock.pinned = undefined;
      if (same(x, z) && same(y, z)) summariesSame++;
    }
    rows.push(`| run summaries (GET /api/runs/:id on each replica) | ${sIds.size} | ${sIds.size} | ${summariesSame === sIds.size ? 'identical' : `**${sIds.size - summariesSame} differ**`} |`);
    // the pair's job writes, point by point and field by field, within each minute's firing
    const values = new Map<string, Set<string>>();
    const writers = new Map<string, Set<string>>();
    let jobLines = 0;
    for (const r of [a, b]) {
      for (const w of r.jobWrites) {
        jobLines++;
        const { key, fields } = splitLine(w.line);
        const point = `${w.minute} ${key}`;
        writers.set(point, (writers.get(point) ?? new Set()).add(r.name));
        for (const [f, v] of fields) values.set(`${point} ${f}`, (values.get(`${point} ${f}`) ?? new Set()).add(v));
      }
    }
    const conflicts = [...values].filter(([, v]) => v.size > 1);
    const byBoth = [...writers.values()].filter((w) => w.size === 2).length;
    rows.push(`| the pair's job writes: lines / points written by both replicas in the same minute / fields given two values | ${jobLines.toLocaleString('en-US')} / ${byBoth.toLocaleString('en-US')} / ${conflicts.length === 0 ? '**none**' : `**${conflicts.length}**: ${conflicts.slice(0, 3).map(([k]) => k).join('; ')}`} | | |`);
    const jobRuns = async (r: Replica) => {
      const text = (await r.app.fastify.inject('/metrics')).body;
      return /wattscope_api_job_failures_total\{[^}]*\} [1-9]/.test(text) ? 'failures counted' : 'no failures';
    };
    rows.push(`| jobs (every minute, each replica) | ${await jobRuns(a)}, ${await jobRuns(b)} | ${await jobRuns(single)} | |`);

    console.log(`\n### Two API replicas on one database for ${fmt(elapsedMin, 1)} minutes, cron jobs as scheduled, against one replica alone on a copy of the data\n`);
    console.log(`${runIds.length} runs started (half on each replica of the pair, stopped on the other), 8 hosts sending every 5 s after 24 h of history (set up in ${fmt(setupS, 0)} s); requests refused or failed: ${failures.length === 0 ? 'none' : failures.slice(0, 5).join('; ')}\n`);
    console.log('| what | two replicas, one database | one replica (baseline) | same? |');
    console.log('| --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    for (const r of replicas) await r.app.fastify.close();
  } finally {
    clearInterval(writerTimer);
    for (const r of replicas) for (const j of r.jobs) await j.stop();
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
