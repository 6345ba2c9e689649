/**
 * What the routes ask of runs: start, heartbeat, stop, patch, import, baselines, and the cron
 * jobs' abandon and recompute. Energy and scores come from the pure modules in ./domain; the
 * repositories are the only I/O.
 */
import { randomUUID } from 'node:crypto';
import { RUN, type RunStatus } from '../common/model.js';
import { logger } from '../common/log.js';
import { netEnergy, windowEnergy } from './domain/energy.js';
import { FULL_COVERAGE, applyMeasured, scoresOf, summaryOf, type Run, type RunSummary } from './domain/run.js';
import { JOULES_PER_UWH, type NetScoreCoefficients } from './domain/scores.js';
import { ApiError, notFound } from './errors.js';
import type { PowerRepository } from './repo/power.js';
import type { RunRepository } from './repo/runs.js';
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
  /** the host a run measures when the caller names none */
  defaultHost: string;
  /** the platform a run gets when the caller names none */
  defaultPlatform: string;
  now?: () => number;
  /** told how long each energy computation took, in seconds */
  observeEnergyQuery?: (seconds: number) => void;
  /**
   * How long a stop may wait for the points that cover the run's last moments (collectors
   * report once per interval, so the point that ends after the run lands up to a second
   * later). Default 2500 ms; 0 never waits.
   */
  settleMs?: number;
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
    return summaryOf(run, this.opts.netscore);
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
      const now = this.now();
      const run: Run = {
        ...emptyRun({
          run_id: runId,
          model: input.model,
          platform: input.platform ?? this.opts.defaultPlatform,
          started_at_ms: now,
          kind: input.kind ?? 'inference',
          hosts: input.hosts ?? [callerHost ?? this.opts.defaultHost],
        }),
        dataset: input.dataset ?? null,
        batch_size: input.batch_size ?? null,
        params_m: input.params_m ?? null,
        macs_g: input.macs_g ?? null,
        labels: input.labels ?? {},
        heartbeat_at_ms: now,
      };
      await this.runs.save(run);
      return { run, created: true };
    });
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

  /** Energy, coverage, host metrics and net energy of a run's window, ending at `endMs`. */
  async measure(run: Run, endMs: number): Promise<Run> {
    const t0 = run.started_at_ms;
    const t1 = Math.max(t0, endMs);
    const started = performance.now();
    const { series, metrics } = await this.power.window(run.hosts, t0, t1);
    this.opts.observeEnergyQuery?.((performance.now() - started) / 1000);
    const gross = windowEnergy(series, t0, t1);
    const idle = new Map<string, number>();
    for (const host of run.hosts) {
      const baseline = await this.runs.latestBaseline(host, t0);
      for (const s of baseline?.sources ?? []) idle.set(`${s.host}\u0000${s.source}`, s.avgPowerW);
    }
    const seconds = (t1 - t0) / 1000;
    return applyMeasured(run, { energy_j: gross.energyJ, energy_net_j: idle.size > 0 ? netEnergy(gross, idle, seconds) : gross.energyJ, coverage: gross.coverage, sources: gross.sources, ...metrics }, t1);
  }

  /** Stored scores for Grafana's tables (the summary recomputes them with reasons). */
  private derived(run: Run): Record<string, number | null> {
    const s = scoresOf(run, this.opts.netscore);
    const F = RUN.fields;
    return {
      [F.energyPerInferenceUwh]: s.energy_per_inference_uwh.value,
      [F.compositeScore]: s.composite_score.value,
      [F.netscore]: s.netscore.value,
      [F.infoDensity]: s.info_density.value,
      [F.accuracyResolved]: s.accuracy.value,
    };
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
      let measured = await this.measure(run, end);
      const settle = this.opts.settleMs ?? 2500;
      if (settle > 0 && (measured.coverage ?? 0) < FULL_COVERAGE && measured.energy_j !== null) {
        await new Promise((r) => setTimeout(r, settle));
        measured = await this.measure(run, end);
      }
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

  async patch(runId: string, input: ResultInput): Promise<Run> {
    return this.exclusive(runId, async () => {
      const run = await this.get(runId);
      checkResult(input, run.inferences);
      const updated: Run = {
        ...run,
        inferences: input.inferences ?? run.inferences,
        correct: input.correct ?? run.correct,
        accuracy: input.accuracy ?? run.accuracy,
        labels: { ...run.labels, ...input.labels },
      };
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

  /** A completed baseline run over the last `seconds` of data on `host`: each source's idle power. */
  async baseline(host: string, seconds: number, platform: string | undefined): Promise<Run> {
    const end = this.now();
    const run = emptyRun({ run_id: `b-${randomUUID()}`, model: 'idle', platform: platform ?? this.opts.defaultPlatform, started_at_ms: end - seconds * 1000, kind: 'baseline', hosts: [host] });
    const measured = await this.measure(run, end);
    if (measured.energy_j === null) throw new ApiError(422, `no power data from host "${host}" in the last ${seconds} s: is its collector running?`, { field: 'host' });
    const done: Run = { ...measured, status: 'completed', ended_at_ms: end, heartbeat_at_ms: end };
    await this.persist(done);
    return done;
  }

  /** Running runs without a heartbeat for `timeoutMs` become abandoned, with energy up to their last heartbeat. */
  async abandonStale(timeoutMs: number): Promise<number> {
    const running = await this.runs.list({ status: 'running', limit: 10_000, offset: 0 });
    let n = 0;
    for (const run of running) {
      const last = run.heartbeat_at_ms ?? run.started_at_ms;
      if (this.now() - last < timeoutMs) continue;
      await this.exclusive(run.run_id, async () => {
        const current = await this.runs.get(run.run_id);
        if (!current || current.status !== 'running') return;
        const measured = await this.measure(current, last);
        await this.persist({ ...measured, status: 'abandoned', ended_at_ms: last });
        n++;
        log.info('run abandoned: no heartbeat', { run_id: run.run_id, last_heartbeat: new Date(last).toISOString() });
      });
    }
    return n;
  }

  /** Ended runs of the last `days` whose coverage was partial are measured again (late points arrive from collector spools). */
  async recomputePartial(days = 7): Promise<number> {
    const since = this.now() - days * 86_400_000;
    let n = 0;
    for (const status of ['completed', 'failed', 'abandoned'] as RunStatus[]) {
      const runs = await this.runs.list({ status, fromMs: since, limit: 10_000, offset: 0 });
      for (const run of runs) {
        if (run.kind === 'imported' || run.coverage === null || run.coverage >= FULL_COVERAGE || run.ended_at_ms === null) continue;
        await this.exclusive(run.run_id, async () => {
          const current = await this.runs.get(run.run_id);
          if (!current || current.ended_at_ms === null) return;
          const measured = await this.measure(current, current.ended_at_ms);
          if ((measured.coverage ?? 0) <= (current.coverage ?? 0) + 1e-9) return;
          await this.persist(measured);
          n++;
          log.info('partial run recomputed with late points', { run_id: run.run_id, coverage_before: current.coverage, coverage: measured.coverage });
        });
      }
    }
    return n;
  }
}
