/**
 * The run's lifecycle: start, heartbeat, stop, patch, import, baseline, and settling a start
 * that two replicas took at once. It owns the run: every change goes through here, one run at a
 * time in this process (./locks.ts). Measuring is the measuring service's (./measuring.ts); a
 * stop measures once and builds the summary once, and that summary is both stored (its figures
 * for Grafana) and answered.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, notFound } from '../errors.js';
import { platformOf } from '../domain/arrival.js';
import { emptyRun } from '../domain/run.js';
import { summaryOf, type Run, type RunSummary, type SummarySettings } from '../domain/run-record.js';
import { storedViews } from '../domain/run-fields.js';
import { JOULES_PER_UWH } from '../domain/scores.js';
import { resolveScope } from '../domain/scope.js';
import type { HostRepository } from '../repo/hosts.js';
import { preferredRow, type RunRepository } from '../repo/runs.js';
import type { ImportItem, PatchBody, StartBody, StopBody } from '../schemas/runs.js';
import { checkImportedRuns } from '../validate.js';
import type { RunLocks } from './locks.js';
import type { MeasuringService } from './measuring.js';

export interface LifecycleOptions {
  summary: SummarySettings;
  /** the host a run measures when the caller names none */
  defaultHost: string;
  /** the platform of a run that names none and whose hosts' collectors say none (WATTSCOPE_PLATFORM of the API); `unknown` when unset */
  fallbackPlatform?: string | undefined;
  now?: (() => number) | undefined;
}

type Results = Pick<StopBody, 'inferences' | 'correct' | 'accuracy' | 'labels'>;

function checkResult(input: Results, inferences: number | null): void {
  const n = input.inferences ?? inferences;
  if (input.correct !== undefined && n !== null && input.correct > n) throw new ApiError(400, `body/correct must be ≤ inferences (${n})`, { field: 'correct' });
}

/** The run with results given (at its stop, or later). */
function withResults(run: Run, input: Results): Run {
  return { ...run, inferences: input.inferences ?? run.inferences, correct: input.correct ?? run.correct, accuracy: input.accuracy ?? run.accuracy, labels: { ...run.labels, ...input.labels } };
}

/**
 * A client's clock may run ahead of the API's (a window filed as a run, stamped by its host's
 * collector): a time this far past the API's now is taken as now-ish, not refused.
 */
export const CLOCK_TOLERANCE_MS = 5000;
/** How far back a run may be filed after the fact (`started_at`). */
export const MAX_PAST_START_MS = 30 * 86_400_000;

/** The start of a new run: `started_at` when it is filed after the fact, else now. */
function startOf(startedAt: string | undefined, now: number): number {
  if (startedAt === undefined) return now;
  const start = Date.parse(startedAt);
  if (!Number.isFinite(start) || start > now + CLOCK_TOLERANCE_MS || start < now - MAX_PAST_START_MS) {
    throw new ApiError(400, `body/started_at must be between ${new Date(now - MAX_PAST_START_MS).toISOString()} (30 days ago) and now`, { field: 'started_at' });
  }
  return start;
}

/** The end of a stopped run: `ended_at` when the stop comes after the fact, else now. */
function endOf(run: Run, endedAt: string | undefined, now: number): number {
  if (endedAt === undefined) return now;
  const end = Date.parse(endedAt);
  if (!Number.isFinite(end) || end < run.started_at_ms || end > now + CLOCK_TOLERANCE_MS) {
    throw new ApiError(400, `body/ended_at must be between the run’s start (${new Date(run.started_at_ms).toISOString()}) and now`, { field: 'ended_at' });
  }
  return end;
}

export class RunLifecycle {
  private readonly now: () => number;

  constructor(
    private readonly runs: RunRepository,
    private readonly hosts: HostRepository,
    private readonly measuring: MeasuringService,
    private readonly locks: RunLocks,
    private readonly opts: LifecycleOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  summary(run: Run): RunSummary {
    return summaryOf(run, this.opts.summary);
  }

  /** Stores the run with the summary's figures for Grafana; the summary is the answer. */
  private async persist(run: Run): Promise<RunSummary> {
    const summary = this.summary(run);
    await this.runs.save(run, storedViews(summary));
    return summary;
  }

  private async get(runId: string): Promise<Run> {
    const run = await this.runs.get(runId);
    if (!run) throw notFound(runId);
    return run;
  }

  async start(input: StartBody, callerHost: string | undefined): Promise<{ run: Run; created: boolean }> {
    const runId = input.run_id ?? `r-${randomUUID()}`;
    return this.locks.exclusive(runId, async () => {
      const existing = input.run_id ? await this.runs.get(runId) : undefined;
      if (existing) {
        if (existing.model !== input.model) throw new ApiError(409, `run_id "${runId}" is already a run of model "${existing.model}"`, { field: 'run_id', run: this.summary(existing) });
        return { run: existing, created: false };
      }
      if (input.warmup && input.series_id === undefined) throw new ApiError(400, 'body/warmup: a warm-up run belongs to a series: give series_id too', { field: 'warmup' });
      const now = this.now();
      const startedAt = startOf(input.started_at, now);
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
        ...emptyRun({ run_id: runId, model: input.model, platform, started_at_ms: startedAt, kind: input.kind ?? 'inference', hosts }),
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
      return input.run_id ? this.settleStart(run, input.model) : { run, created: true };
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
    if (this.runs.canRetag) for (const r of rows) if (r !== winner) await this.runs.deleteRow(r);
    if (winner.started_at_ms === run.started_at_ms && winner.platform === run.platform && winner.model === run.model) return { run, created: true };
    if (winner.model !== model) throw new ApiError(409, `run_id "${run.run_id}" is already a run of model "${winner.model}"`, { field: 'run_id', run: this.summary(winner) });
    return { run: winner, created: false };
  }

  heartbeat(runId: string): Promise<Run> {
    return this.locks.exclusive(runId, async () => {
      const run = await this.get(runId);
      if (run.status !== 'running') throw new ApiError(409, `run "${runId}" is ${run.status}, not running`, { run: this.summary(run) });
      const updated = { ...run, heartbeat_at_ms: this.now() };
      await this.runs.save(updated);
      return updated;
    });
  }

  /** Waits for the collectors' last points, measures once, stores and answers one summary. */
  stop(runId: string, input: StopBody): Promise<RunSummary> {
    return this.locks.exclusive(runId, async () => {
      const run = await this.get(runId);
      if (run.status !== 'running') throw new ApiError(409, `run "${runId}" was already stopped (${run.status})`, { run: this.summary(run) });
      checkResult(input, run.inferences);
      const end = endOf(run, input.ended_at, this.now());
      const measured = await this.measuring.measureEnded(run, end, { wait: true });
      return this.persist({ ...withResults(measured, input), status: input.status ?? 'completed', ended_at_ms: end, heartbeat_at_ms: end });
    });
  }

  /** Results given later, and a corrected platform (the point is written anew under it). */
  patch(runId: string, input: PatchBody): Promise<RunSummary> {
    return this.locks.exclusive(runId, async () => {
      const run = await this.get(runId);
      checkResult(input, run.inferences);
      const updated = withResults(run, input);
      if (input.platform === undefined || input.platform === run.platform) return this.persist(updated);
      if (!this.runs.canRetag) {
        throw new ApiError(501, 'this InfluxDB cannot delete points (InfluxDB 3), so a run’s platform — a tag, part of the point’s identity — cannot be changed in place', { field: 'platform' });
      }
      const summary = this.summary({ ...updated, platform: input.platform });
      return this.summary(await this.runs.retag(updated, input.platform, storedViews(summary), this.now()));
    });
  }

  /**
   * Imports a batch whole or not at all: every item is checked (../validate.ts) and no run_id
   * may exist already, before one line is written. `batch`: the body was an array, so fields
   * are named `<i>/<field>` as the schema's errors name them.
   */
  async import(items: readonly ImportItem[], options: { batch: boolean }): Promise<RunSummary[]> {
    const now = this.now();
    const field = (i: number, name: string) => (options.batch ? `${i}/${name}` : name);
    const runs = items.map((item, i): Run => {
      if (item.energy_j === undefined && item.energy_per_inference_uwh === undefined) {
        throw new ApiError(400, `body/${field(i, 'energy_j')} or energy_per_inference_uwh is required`, { field: field(i, 'energy_j') });
      }
      const started = item.started_at !== undefined ? Date.parse(item.started_at) : now - i;
      if (!Number.isFinite(started)) throw new ApiError(400, `body/${field(i, 'started_at')} must be an ISO 8601 date-time`, { field: field(i, 'started_at') });
      const energy = item.energy_j ?? (item.energy_per_inference_uwh ?? 0) * item.inferences * JOULES_PER_UWH;
      const duration = item.duration_s ?? null;
      return {
        ...emptyRun({ run_id: item.run_id ?? `r-${randomUUID()}`, model: item.model, platform: item.platform, started_at_ms: started, kind: 'imported', hosts: [] }),
        status: 'completed',
        dataset: item.dataset ?? null,
        batch_size: item.batch_size ?? null,
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
    checkImportedRuns(items, runs, this.opts.summary, field);
    const given = items.flatMap((item) => (item.run_id === undefined ? [] : [item.run_id]));
    return this.locks.exclusiveAll(given, async () => {
      const taken = await this.runs.getMany(given);
      const i = items.findIndex((item) => item.run_id !== undefined && taken.has(item.run_id));
      const existing = taken.get(items[i]?.run_id ?? '');
      if (existing) {
        throw new ApiError(409, `body/${field(i, 'run_id')}: run_id "${existing.run_id}" is already a run (of model "${existing.model}"); nothing of this import was stored`, { field: field(i, 'run_id'), run: this.summary(existing) });
      }
      const summaries = runs.map((r) => this.summary(r));
      await this.runs.saveMany(runs, summaries.map(storedViews));
      return summaries;
    });
  }

  /**
   * A completed baseline run over the last `seconds` on `host`: each source's idle power. Like a
   * stop, it first waits for the collector's points that cover the window's end.
   */
  async baseline(host: string, seconds: number, platform: string | undefined): Promise<RunSummary> {
    const end = this.now();
    const start = end - seconds * 1000;
    const resolved = platform ?? platformOf([host], await this.hosts.latest([host])) ?? (this.opts.fallbackPlatform || 'unknown');
    const run = emptyRun({ run_id: `b-${randomUUID()}`, model: 'idle', platform: resolved, started_at_ms: start, kind: 'baseline', hosts: [host] });
    const measured = await this.measuring.measureEnded(run, end, { wait: true });
    if (measured.energy_j === null) throw new ApiError(422, `no power data from host "${host}" in the last ${seconds} s: is its collector running?`, { field: 'host' });
    return this.persist({ ...measured, status: 'completed', ended_at_ms: end, heartbeat_at_ms: end });
  }
}
