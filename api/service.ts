/**
 * What the routes ask of runs: start, heartbeat, stop, patch, import, baselines, and the cron
 * jobs' abandon and recompute. Energy and scores come from the pure modules in ./domain; the
 * repositories are the only I/O.
 */
import { randomUUID } from 'node:crypto';
import type { RunStatus } from '../common/model.js';
import { logger } from '../common/log.js';
import { netEnergy, windowEnergy } from './domain/energy.js';
import { applyMeasured, scoreEnergyOf, scoresOf } from './domain/run.js';
import { FULL_COVERAGE, RUN_FIELDS, storedViews, summaryOf, type Run, type RunSummary, type ScoreEnergy } from './domain/run-record.js';
import { DEFAULT_GRID_INTENSITY } from './domain/carbon.js';
import { steadyState, type PowerBucket } from './domain/steady.js';
import { JOULES_PER_UWH, type NetScoreCoefficients } from './domain/scores.js';
import { ApiError, notFound } from './errors.js';
import type { PowerRepository } from './repo/power.js';
import { preferredRow, type RunRepository } from './repo/runs.js';
import type { HostRepository } from './repo/hosts.js';
import { arrivalBudgetMs, clockOffsets, DEFAULT_REPORT_S, expectedSources, platformOf, stillMissing, type ExpectedSource } from './domain/arrival.js';
import { inScope, resolveScope } from './domain/scope.js';
import { partialReason, recomputePlan } from './domain/recompute.js';
import type { HostRecord } from '../common/host-record.js';
import { checkImportedRuns } from './validate.js';

const log = logger('api');

export interface StartInput {
  model: string;
  run_id?: string | undefined;
  dataset?: string | undefined;
  kind?: 'inference' | 'training' | 'baseline' | undefined;
  hosts?: string[] | undefined;
  platform?: string | undefined;
  batch_size?: number | undefined;
  params_m?: number | undefined;
  macs_g?: number | undefined;
  labels?: Record<string, string> | undefined;
  gpus?: string[] | undefined;
  gpus_from?: 'CUDA_VISIBLE_DEVICES' | 'NVIDIA_VISIBLE_DEVICES' | 'given' | undefined;
  score_energy?: ScoreEnergy | undefined;
  series_id?: string | undefined;
  warmup?: boolean | undefined;
}

export interface ResultInput {
  inferences?: number | undefined;
  correct?: number | undefined;
  accuracy?: number | undefined;
  labels?: Record<string, string> | undefined;
}

export interface StopInput extends ResultInput {
  status?: 'completed' | 'failed' | undefined;
  ended_at?: string | undefined;
}

export interface ImportInput {
  model: string;
  platform: string;
  accuracy?: number | undefined;
  inferences: number;
  energy_j?: number | undefined;
  energy_per_inference_uwh?: number | undefined;
  params_m?: number | undefined;
  macs_g?: number | undefined;
  duration_s?: number | undefined;
  dataset?: string | undefined;
  started_at?: string | undefined;
  labels?: Record<string, string> | undefined;
  run_id?: string | undefined;
}

export interface ServiceOptions {
  netscore: NetScoreCoefficients;
  /** g CO₂ per kWh of hosts whose collectors say none (WATTSCOPE_GRID_INTENSITY of the API); default DEFAULT_GRID_INTENSITY */
  gridIntensity?: number | undefined;
  /** price of a kWh (WATTSCOPE_ENERGY_PRICE); unset: no cost */
  energyPrice?: number | undefined;
  /** the host a run measures when the caller names none */
  defaultHost: string;
  /**
   * the platform a run gets when the caller names none and its hosts' collectors say none
   * (WATTSCOPE_PLATFORM of the API); `unknown` when unset
   */
  fallbackPlatform?: string | undefined;
  now?: () => number;
  /** told how long each energy computation took, in seconds */
  observeEnergyQuery?: (seconds: number) => void;
  /**
   * The most a stop (or a baseline) waits for the collectors' last points past its end: each
   * host's flush and report intervals plus a margin, bounded by this. 0 never waits (tests that
   * drive the clock themselves).
   */
  maxWaitMs?: number;
  /** how often the arrival of the last points is checked while waiting */
  pollMs?: number;
  /** this API's clock minus InfluxDB's, seconds (for hosts whose clock lags) */
  clockOffsetS?: () => number | undefined;
  /** a host's power per source in buckets (api/repo/live.ts), for the steady part of a run's curve */
  powerCurve: PowerCurve;
}

/** Mean power per source of `host` in buckets of `bucketMs` over (fromMs, toMs]: bucket start times and, per source, a value or null per bucket. */
export type PowerCurve = (host: string, fromMs: number, toMs: number, bucketMs: number) => Promise<{
  times: number[];
  series: Array<{ host: string; source: string; in_total: boolean; power_w: Array<number | null> }>;
}>;

/** Buckets of a run's curve for the steady part: one second, or coarser so that a long run has at most this many. */
const STEADY_MAX_BUCKETS = 600;

/** What a stop waited for and what it found. */
export interface Arrival {
  waitedMs: number;
  /** expected sources that sent nothing past the end within the wait */
  silent: ExpectedSource[];
}

function emptyRun(fields: Pick<Run, 'run_id' | 'model' | 'platform' | 'started_at_ms' | 'kind' | 'hosts'>): Run {
  return {
    status: 'running',
    dataset: null,
    batch_size: null,
    inferences: null,
    correct: null,
    accuracy: null,
    params_m: null,
    macs_g: null,
    labels: {},
    heartbeat_at_ms: null,
    ended_at_ms: null,
    duration_s: null,
    energy_j: null,
    energy_net_j: null,
    avg_power_w: null,
    coverage: null,
    sources: [],
    avg_gpu_power_w: null,
    avg_gpu_util_pct: null,
    avg_gpu_mem_pct: null,
    avg_cpu_pct: null,
    clock_offsets: {},
    recompute_attempts: null,
    partial_final: null,
    revised_at_ms: null,
    gpus: null,
    gpus_from: null,
    energy_host_j: null,
    energy_attributed_j: null,
    attributed: null,
    score_energy: 'scoped',
    grid_intensity: {},
    series_id: null,
    warmup: false,
    steady_rise_s: null,
    steady_tail_s: null,
    steady_power_w: null,
    steady_reason: null,
    ...fields,
  };
}

function checkResult(input: ResultInput, inferences: number | null): void {
  const n = input.inferences ?? inferences;
  if (input.correct !== undefined && n !== null && n !== undefined && input.correct > n) {
    throw new ApiError(400, `body/correct must be ≤ inferences (${n})`, { field: 'correct' });
  }
}

/** The end of a stopped run: `ended_at` when the stop comes after the fact, else now. */
function endOf(run: Run, endedAt: string | undefined, now: number): number {
  if (endedAt === undefined) return now;
  const end = Date.parse(endedAt);
  if (!Number.isFinite(end) || end < run.started_at_ms || end > now) {
    throw new ApiError(400, `body/ended_at must be between the run’s start (${new Date(run.started_at_ms).toISOString()}) and now`, { field: 'ended_at' });
  }
  return end;
}

export class RunService {
  private readonly now: () => number;
  /** serialises changes to one run inside this process (two stops racing, a retried start) */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly runs: RunRepository,
    private readonly power: PowerRepository,
    readonly hosts: HostRepository,
    private readonly opts: ServiceOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  private exclusive<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(runId, settled);
    void settled.then(() => {
      if (this.locks.get(runId) === settled) this.locks.delete(runId);
    });
    return next;
  }

  summary(run: Run): RunSummary {
    return summaryOf(run, { netscore: this.opts.netscore, gridIntensity: this.gridIntensity, energyPrice: this.opts.energyPrice });
  }

  private get gridIntensity(): number {
    return this.opts.gridIntensity ?? DEFAULT_GRID_INTENSITY;
  }

  async get(runId: string): Promise<Run> {
    const run = await this.runs.get(runId);
    if (!run) throw notFound(runId);
    return run;
  }

  /** A run as it stands: a running run's energy and scores so far (computed, not stored). */
  async current(runId: string): Promise<Run> {
    const run = await this.get(runId);
    return run.status === 'running' ? this.measure(run, this.now()) : run;
  }

  async start(input: StartInput, callerHost: string | undefined): Promise<{ run: Run; created: boolean }> {
    const runId = input.run_id ?? `r-${randomUUID()}`;
    return this.exclusive(runId, async () => {
      const existing = input.run_id ? await this.runs.get(runId) : undefined;
      if (existing) {
        if (existing.model !== input.model) {
          throw new ApiError(409, `run_id "${runId}" is already a run of model "${existing.model}"`, { field: 'run_id', run: this.summary(existing) });
        }
        return { run: existing, created: false };
      }
      if (input.warmup && input.series_id === undefined) throw new ApiError(400, 'body/warmup: a warm-up run belongs to a series: give series_id too', { field: 'warmup' });
      const now = this.now();
      const hosts = input.hosts ?? [callerHost ?? this.opts.defaultHost];
      const records = await this.hosts.latest(hosts);
      if (input.gpus) {
        const { unresolved } = resolveScope(input.gpus, hosts, records);
        if (unresolved.length > 0) {
          const listed = hosts.map((h) => `${h}: ${records.get(h)?.gpus.map((g) => `${g.index} ${g.uuid ?? ''}`.trim()).join(', ') || 'none'}`).join('; ');
          throw new ApiError(400, `body/gpus: ${unresolved.join(', ')} is not a GPU of the run's hosts as their collectors list them (${listed})`, { field: 'gpus' });
        }
      }
      const platform = input.platform ?? platformOf(hosts, records) ?? (this.opts.fallbackPlatform || 'unknown');
      if (input.series_id !== undefined) await this.checkSeries(input.series_id, input.model, platform);
      const run: Run = {
        ...emptyRun({
          run_id: runId,
          model: input.model,
          platform,
          started_at_ms: now,
          kind: input.kind ?? 'inference',
          hosts,
        }),
        dataset: input.dataset ?? null,
        batch_size: input.batch_size ?? null,
        params_m: input.params_m ?? null,
        macs_g: input.macs_g ?? null,
        labels: input.labels ?? {},
        heartbeat_at_ms: now,
        gpus: input.gpus ?? null,
        gpus_from: input.gpus === undefined ? null : (input.gpus_from ?? 'given'),
        score_energy: input.score_energy ?? 'scoped',
        series_id: input.series_id ?? null,
        warmup: input.warmup ?? false,
      };
      await this.runs.save(run);
      if (!input.run_id) return { run, created: true };
      return this.settleStart(run, input.model);
    });
  }

  /** A series compares repeats of one thing: a run of another model or platform does not join it (409, nothing stored). */
  private async checkSeries(seriesId: string, model: string, platform: string): Promise<void> {
    const [other] = await this.runs.list({ seriesId, limit: 1, offset: 0 });
    if (other && (other.model !== model || other.platform !== platform)) {
      throw new ApiError(409, `series "${seriesId}" holds runs of model "${other.model}" on "${other.platform}"; a run of "${model}" on "${platform}" cannot join it: start another series`, { field: 'series_id' });
    }
  }

  /**
   * The steady part of a run's power curve (./domain/steady.ts): the run's own in-total sources
   * summed per bucket, the rise and the tail found, and the scored energy over what lies between
   * measured exactly (as the run's own energy is) for its average power.
   */
  async steady(run: Run, records: readonly HostRecord[]): Promise<Pick<Run, 'steady_rise_s' | 'steady_tail_s' | 'steady_power_w' | 'steady_reason'>> {
    const none = (reason: string) => ({ steady_rise_s: null, steady_tail_s: null, steady_power_w: null, steady_reason: reason });
    const t0 = run.started_at_ms;
    const t1 = run.ended_at_ms ?? t0;
    const bucketMs = Math.max(1000, Math.ceil((t1 - t0) / STEADY_MAX_BUCKETS / 1000) * 1000);
    const counted = new Set(run.sources.filter((src) => src.inRun !== false && src.coverage > 0).map((src) => `${src.host}\u0000${src.source}`));
    if (counted.size === 0) return none('no power data covers the run');
    const total = new Map<number, { watts: number; sources: number }>();
    for (const host of run.hosts) {
      const curve = await this.opts.powerCurve(host, t0, t1, bucketMs);
      for (const series of curve.series) {
        if (!series.in_total || !counted.has(`${series.host}\u0000${series.source}`)) continue;
        curve.times.forEach((time, i) => {
          const w = series.power_w[i];
          if (w === null || w === undefined) return;
          const b = total.get(time) ?? { watts: 0, sources: 0 };
          total.set(time, { watts: b.watts + w, sources: b.sources + 1 });
        });
      }
    }
    // a bucket that lacks a source's point is not the run's total: left out rather than read as a drop
    const buckets: PowerBucket[] = [...total.entries()].filter(([, b]) => b.sources === counted.size).map(([timeMs, b]) => ({ timeMs, watts: b.watts }));
    const reportS = Math.max(...records.map((r) => r.reportIntervalS ?? DEFAULT_REPORT_S), run.hosts.some((h) => !records.some((r) => r.host === h)) ? DEFAULT_REPORT_S : 0);
    const found = steadyState(buckets, bucketMs, t0, t1, { pointIntervalMs: reportS * 1000 });
    if (!found.found) return none(found.reason);
    const part = await this.measure({ ...run, started_at_ms: found.fromMs }, found.toMs, records);
    const energy = scoreEnergyOf(part);
    if (energy === null) return none('no power data covers the steady part');
    return { steady_rise_s: found.riseS, steady_tail_s: found.tailS, steady_power_w: energy / ((found.toMs - found.fromMs) / 1000), steady_reason: null };
  }

  /** A run's measured figures at its end, with its steady part (baselines and imports have none). */
  private async measureEnded(run: Run, endMs: number, records?: readonly HostRecord[]): Promise<Run> {
    const described = records ?? (await this.hosts.during(run.hosts, run.started_at_ms, Math.max(run.started_at_ms, endMs)));
    const measured = { ...(await this.measure(run, endMs, described)), ended_at_ms: endMs };
    if (run.kind !== 'inference' && run.kind !== 'training') return measured;
    return { ...measured, ...(await this.steady(measured, described)) };
  }

  /**
   * A start with the caller's run_id may have been taken twice at once: a client retried it
   * through a load balancer and two replicas each found no run and wrote one, at their own start
   * times. Each replica reads the rows back after its write; the first started wins in every
   * reader (preferredRow), and a replica that sees another row of the same revision deletes
   * the losers (where the store can delete: InfluxDB 1.x and 2.x), so one row is left.
   */
  private async settleStart(run: Run, model: string): Promise<{ run: Run; created: boolean }> {
    const rows = (await this.runs.rows(run.run_id)).filter((r) => (r.revised_at_ms ?? 0) === 0);
    if (rows.length <= 1) return { run, created: true };
    const winner = rows.reduce(preferredRow);
    if (this.runs.canRetag) {
      for (const r of rows) if (r !== winner) await this.runs.deleteRow(r);
    }
    const ours = winner.started_at_ms === run.started_at_ms && winner.platform === run.platform && winner.model === run.model;
    if (ours) return { run, created: true };
    if (winner.model !== model) throw new ApiError(409, `run_id "${run.run_id}" is already a run of model "${winner.model}"`, { field: 'run_id', run: this.summary(winner) });
    return { run: winner, created: false };
  }

  async heartbeat(runId: string): Promise<Run> {
    return this.exclusive(runId, async () => {
      const run = await this.get(runId);
      if (run.status !== 'running') throw new ApiError(409, `run "${runId}" is ${run.status}, not running`, { run: this.summary(run) });
      const updated = { ...run, heartbeat_at_ms: this.now() };
      await this.runs.save(updated);
      return updated;
    });
  }

  /**
   * A run's platform when the caller names none: the one its hosts' collectors report (several
   * hosts with different platforms: all of them, e.g. `A100-40G+EPYC`), else the API's
   * WATTSCOPE_PLATFORM, else `unknown`.
   */
  async platformFor(hosts: readonly string[]): Promise<string> {
    return platformOf(hosts, await this.hosts.latest(hosts)) ?? (this.opts.fallbackPlatform || 'unknown');
  }

  /**
   * Energy, coverage, host metrics and net energy of a run's window, ending at `endMs`. The
   * sources expected are the ones the hosts' records list over the window: one that sent
   * nothing makes the run partial (coverage 0 for that source) instead of vanishing.
   */
  async measure(run: Run, endMs: number, records?: readonly HostRecord[]): Promise<Run> {
    const t0 = run.started_at_ms;
    const t1 = Math.max(t0, endMs);
    const started = performance.now();
    const described = records ?? (await this.hosts.during(run.hosts, t0, t1));
    const latest = new Map<string, HostRecord>();
    for (const r of described) if ((latest.get(r.host)?.timeMs ?? -Infinity) < r.timeMs) latest.set(r.host, r);
    // the run's GPUs, as its hosts' collectors number them (every GPU when it names none)
    const scope = resolveScope(run.gpus, run.hosts, latest);
    const gpuInRun = (host: string, gpu: number) => scope.indices.get(host)?.has(gpu) ?? true;
    const [{ series, metrics }, attributed] = await Promise.all([this.power.window(run.hosts, t0, t1, gpuInRun), this.power.attributed(run.run_id, run.hosts, t0, t1)]);
    this.opts.observeEnergyQuery?.((performance.now() - started) / 1000);
    const gross = windowEnergy(series, t0, t1, expectedSources(described), (s) => inScope(s.host, s.source, s.domain, scope, latest));
    const idle = new Map<string, number>();
    for (const [host, baseline] of await this.runs.latestBaselines(run.hosts, t0)) {
      // a baseline over several hosts counts for this host's sources only
      for (const s of baseline.sources) if (s.host === host) idle.set(`${s.host}\u0000${s.source}`, s.avgPowerW);
    }
    const seconds = (t1 - t0) / 1000;
    if (scope.unresolved.length > 0) log.once(`unresolved:${run.run_id}`, 'warn', 'GPUs of a run’s scope are not on its hosts as their collectors list them; not counted', { run_id: run.run_id, gpus: scope.unresolved.join(',') });
    const notes = [...new Set(attributed.map((a) => a.note && `${a.host}/${a.source}: ${a.note}`).filter((n): n is string => !!n))];
    const measured = applyMeasured(
      run,
      {
        energy_j: gross.energyJ,
        energy_host_j: gross.hostEnergyJ,
        energy_net_j: idle.size > 0 ? netEnergy(gross, idle, seconds) : gross.energyJ,
        coverage: gross.coverage,
        sources: gross.sources,
        attributed: attributed.length > 0 || notes.length > 0 ? { sources: attributed.map((a) => ({ host: a.host, source: a.source, domain: a.domain, energy_j: a.energyJ, share: a.share })), notes } : null,
        ...metrics,
      },
      t1,
    );
    // each host's grid as its collector says, else the deployment's: kept with the run, as it was when measured
    const grid_intensity = Object.fromEntries(run.hosts.map((h) => [h, latest.get(h)?.gridIntensity ?? this.gridIntensity]));
    return { ...measured, clock_offsets: clockOffsets(run.hosts, latest), grid_intensity };
  }


  /**
   * Waits until every source the hosts' records list has a point that ends at or after
   * `endMs` — the points that cover a window's last seconds are up to a flush interval late —
   * bounded by the hosts' flush and report intervals plus a margin. Hosts with no record: the
   * sources already seen in the window are waited for, with the collector's default intervals.
   */
  async awaitArrival(hosts: readonly string[], t0: number, endMs: number): Promise<{ arrival: Arrival; records: HostRecord[] }> {
    const records = await this.hosts.during(hosts, t0, endMs);
    const maxWaitMs = this.opts.maxWaitMs ?? 30_000;
    const latest = new Map<string, HostRecord>();
    for (const r of records) if ((latest.get(r.host)?.timeMs ?? -Infinity) < r.timeMs) latest.set(r.host, r);
    let expected = expectedSources(records);
    const described = new Set(records.map((r) => r.host));
    const started = performance.now();
    const undescribed = hosts.filter((h) => !described.has(h));
    if (undescribed.length > 0) {
      // no record (a collector older than the record): what it sent in the window is what it reads
      const seen = await this.hosts.lastPoints(undescribed, t0);
      expected = [...expected, ...[...seen.keys()].map((k) => ({ host: k.split('\u0000')[0] as string, source: k.split('\u0000')[1] as string, domain: '', method: '' }))];
    }
    if (maxWaitMs <= 0 || expected.length === 0) return { arrival: { waitedMs: 0, silent: [] }, records };
    const budgetMs = arrivalBudgetMs(hosts, latest, maxWaitMs, this.opts.clockOffsetS?.());
    const pollMs = this.opts.pollMs ?? 250;
    for (;;) {
      const missing = stillMissing(expected, await this.hosts.lastPoints(hosts, t0 - 60_000), endMs);
      const waited = performance.now() - started;
      if (missing.length === 0 || waited >= budgetMs) return { arrival: { waitedMs: waited, silent: missing }, records };
      await new Promise((r) => setTimeout(r, Math.min(pollMs, budgetMs - waited)));
    }
  }

  /** Figures stored for Grafana's tables, which cannot compute them (the summary recomputes them with reasons). */
  private derived(run: Run): Record<string, number | null> {
    return storedViews(this.summary(run));
  }

  private async persist(run: Run): Promise<void> {
    await this.runs.save(run, this.derived(run));
  }

  async stop(runId: string, input: StopInput): Promise<Run> {
    return this.exclusive(runId, async () => {
      const run = await this.get(runId);
      if (run.status !== 'running') throw new ApiError(409, `run "${runId}" was already stopped (${run.status})`, { run: this.summary(run) });
      checkResult(input, run.inferences);
      const end = endOf(run, input.ended_at, this.now());
      const { records } = await this.awaitArrival(run.hosts, run.started_at_ms, end);
      const measured = await this.measureEnded(run, end, records);
      const stopped: Run = {
        ...measured,
        status: input.status ?? 'completed',
        ended_at_ms: end,
        heartbeat_at_ms: end,
        inferences: input.inferences ?? run.inferences,
        correct: input.correct ?? run.correct,
        accuracy: input.accuracy ?? run.accuracy,
        labels: { ...run.labels, ...input.labels },
      };
      await this.persist(stopped);
      return stopped;
    });
  }

  /** Results given later, and a corrected platform (the point is written anew under it). */
  async patch(runId: string, input: ResultInput & { platform?: string | undefined }): Promise<Run> {
    return this.exclusive(runId, async () => {
      const run = await this.get(runId);
      checkResult(input, run.inferences);
      const retag = input.platform !== undefined && input.platform !== run.platform;
      if (retag && !this.runs.canRetag) {
        throw new ApiError(501, 'this InfluxDB cannot delete points (InfluxDB 3), so a run’s platform — a tag, part of the point’s identity — cannot be changed in place', { field: 'platform' });
      }
      const updated: Run = {
        ...run,
        inferences: input.inferences ?? run.inferences,
        correct: input.correct ?? run.correct,
        accuracy: input.accuracy ?? run.accuracy,
        labels: { ...run.labels, ...input.labels },
      };
      if (retag) return this.runs.retag(updated, input.platform as string, this.derived(updated), this.now());
      await this.persist(updated);
      return updated;
    });
  }

  /**
   * Imports a batch whole or not at all: every item is checked (api/validate.ts) and no run_id
   * may exist already, before one line is written. `batch`: the body was an array, so fields
   * are named `<i>/<field>` as the schema's errors name them.
   */
  async import(items: readonly ImportInput[], options: { batch?: boolean } = {}): Promise<Run[]> {
    const now = this.now();
    const field = (i: number, name: string) => ((options.batch ?? items.length > 1) ? `${i}/${name}` : name);
    const runs = items.map((item, i): Run => {
      if (item.energy_j === undefined && item.energy_per_inference_uwh === undefined) {
        throw new ApiError(400, `body/${field(i, 'energy_j')} or energy_per_inference_uwh is required`, { field: field(i, 'energy_j') });
      }
      const started = item.started_at !== undefined ? Date.parse(item.started_at) : now - i;
      if (!Number.isFinite(started)) throw new ApiError(400, `body/${field(i, 'started_at')} must be an ISO 8601 date-time`, { field: field(i, 'started_at') });
      const energy = item.energy_j ?? (item.energy_per_inference_uwh as number) * item.inferences * JOULES_PER_UWH;
      const duration = item.duration_s ?? null;
      return {
        ...emptyRun({ run_id: item.run_id ?? `r-${randomUUID()}`, model: item.model, platform: item.platform, started_at_ms: started, kind: 'imported', hosts: [] }),
        status: 'completed',
        dataset: item.dataset ?? null,
        inferences: item.inferences,
        accuracy: item.accuracy ?? null,
        params_m: item.params_m ?? null,
        macs_g: item.macs_g ?? null,
        labels: item.labels ?? {},
        ended_at_ms: duration === null ? started : started + duration * 1000,
        duration_s: duration,
        energy_j: energy,
        energy_net_j: null,
        avg_power_w: duration ? energy / duration : null,
      };
    });
    checkImportedRuns(items, runs, runs.map((r) => scoresOf(r, this.opts.netscore)), field);
    const given = items.flatMap((item) => (item.run_id === undefined ? [] : [item.run_id]));
    return this.exclusiveAll(given, async () => {
      const taken = await this.runs.getMany(given);
      const i = items.findIndex((item) => item.run_id !== undefined && taken.has(item.run_id));
      if (i >= 0) {
        const existing = taken.get(items[i]?.run_id as string) as Run;
        throw new ApiError(409, `body/${field(i, 'run_id')}: run_id "${existing.run_id}" is already a run (of model "${existing.model}"); nothing of this import was stored`, {
          field: field(i, 'run_id'),
          run: this.summary(existing),
        });
      }
      await this.runs.saveMany(runs, runs.map((r) => this.derived(r)));
      return runs;
    });
  }

  /** `exclusive` over several run ids at once, taken in sorted order so that two batches cannot wait on each other. */
  private exclusiveAll<T>(runIds: readonly string[], fn: () => Promise<T>): Promise<T> {
    const ids = [...new Set(runIds)].sort();
    const take = (k: number): Promise<T> => (k === ids.length ? fn() : this.exclusive(ids[k] as string, () => take(k + 1)));
    return take(0);
  }

  /**
   * A completed baseline run over the last `seconds` on `host`: each source's idle power. Like a
   * stop, it first waits for the collector's points that cover the window's end.
   */
  async baseline(host: string, seconds: number, platform: string | undefined): Promise<Run> {
    const end = this.now();
    const start = end - seconds * 1000;
    const { records } = await this.awaitArrival([host], start, end);
    const run = emptyRun({ run_id: `b-${randomUUID()}`, model: 'idle', platform: platform ?? (await this.platformFor([host])), started_at_ms: start, kind: 'baseline', hosts: [host] });
    const measured = await this.measure(run, end, records);
    if (measured.energy_j === null) throw new ApiError(422, `no power data from host "${host}" in the last ${seconds} s: is its collector running?`, { field: 'host' });
    const done: Run = { ...measured, status: 'completed', ended_at_ms: end, heartbeat_at_ms: end };
    await this.persist(done);
    return done;
  }

  /** Running runs without a heartbeat for `timeoutMs` become abandoned, with energy up to their last heartbeat. */
  async abandonStale(timeoutMs: number): Promise<number> {
    const stale: Run[] = [];
    for await (const run of this.runs.all({ status: 'running' })) {
      if (this.now() - (run.heartbeat_at_ms ?? run.started_at_ms) >= timeoutMs) stale.push(run);
    }
    let n = 0;
    for (const run of stale) {
      const last = run.heartbeat_at_ms ?? run.started_at_ms;
      await this.exclusive(run.run_id, async () => {
        const current = await this.runs.get(run.run_id);
        if (!current || current.status !== 'running') return;
        const measured = await this.measureEnded(current, last);
        await this.persist({ ...measured, status: 'abandoned', ended_at_ms: last });
        n++;
        log.info('run abandoned: no heartbeat', { run_id: run.run_id, last_heartbeat: new Date(last).toISOString() });
      });
    }
    return n;
  }

  /**
   * Ended partial runs of the last `days` are measured again when late points may have arrived
   * (collectors replay their spool after an outage), on a backoff schedule; once it gives up
   * (./domain/recompute.ts) the run's partial state is final, with its reason.
   *
   * Safe with several replicas running it at once, without a lock: the attempt recorded is the
   * schedule's slot (the same in every replica), the measured figures are written only when
   * they cover more than what was read (replicas measuring the same points write the same
   * figures), and a measurement that finds nothing new writes only the schedule's fields, so it
   * can never put back older figures over another replica's better ones.
   */
  async recomputePartial(days = 7): Promise<number> {
    const now = this.now();
    const since = now - days * 86_400_000;
    const due: Run[] = [];
    for (const status of ['completed', 'failed', 'abandoned'] as RunStatus[]) {
      for await (const run of this.runs.all({ status, fromMs: since })) {
        if (recomputePlan(run, now).action !== 'wait') due.push(run);
      }
    }
    let n = 0;
    for (const run of due) {
      await this.exclusive(run.run_id, async () => {
        const current = await this.runs.get(run.run_id);
        if (!current || current.ended_at_ms === null) return;
        const plan = recomputePlan(current, now);
        if (plan.action === 'wait' || plan.dueAtMs === null) return;
        const measured = await this.measureEnded(current, current.ended_at_ms);
        const better = (measured.coverage ?? 0) > (current.coverage ?? 0) + 1e-9;
        const next: Run = { ...(better ? measured : current), recompute_attempts: plan.attempt };
        if ((next.coverage ?? 0) < FULL_COVERAGE && plan.action === 'last') next.partial_final = partialReason(next, plan.dueAtMs);
        if (better) await this.persist(next);
        else await this.runs.saveFields(next, [RUN_FIELDS.recompute_attempts, RUN_FIELDS.partial_final]);
        n++;
        if (better) log.info('partial run recomputed with late points', { run_id: run.run_id, coverage_before: current.coverage, coverage: measured.coverage });
        if (next.partial_final) log.info('partial run left as it is', { run_id: run.run_id, reason: next.partial_final });
      });
    }
    return n;
  }
}
