/**
 * What the routes read of runs: one run as it stands (a running run measured so far), pages of
 * runs, the comparison of models × platforms, a series and its statistics, a run's power curve,
 * the hosts. Every reply's summary is computed here from the run's one definition.
 */
import type { HostRecord } from '../../common/host-record.js';
import type { Comparison } from '../domain/compare.js';
import { seriesStatistics, type SeriesStatistics } from '../domain/series.js';
import { summaryOf, type Run, type RunSummary, type SummarySettings } from '../domain/run-record.js';
import { ApiError, notFound } from '../errors.js';
import type { HostRepository } from '../repo/hosts.js';
import type { LiveRepository, PowerTable } from '../repo/live.js';
import type { RunFilter, RunRepository } from '../repo/runs.js';
import { ComparisonView, type CompareFilter } from './comparison.js';
import type { MeasuringService } from './measuring.js';

/** Bucket so that a chart has at most ~600 points per series. */
export function bucketFor(spanMs: number): number {
  return Math.max(1000, Math.ceil(spanMs / 600 / 1000) * 1000);
}

export interface RunPower extends PowerTable {
  run_id: string;
  started_at_ms: number;
  ended_at_ms: number | null;
  idle_w: number | null;
  baselines: Array<{ host: string; run_id: string; idle_w: number; started_at: string }>;
}

export class RunReads {
  private readonly now: () => number;
  private readonly comparison: ComparisonView;

  constructor(
    private readonly runs: RunRepository,
    private readonly hostRepo: HostRepository,
    private readonly live: LiveRepository,
    private readonly measuring: MeasuringService,
    private readonly opts: { summary: SummarySettings; now?: (() => number) | undefined },
  ) {
    this.now = opts.now ?? Date.now;
    this.comparison = new ComparisonView(runs, opts.summary);
  }

  summary(run: Run): RunSummary {
    return summaryOf(run, this.opts.summary);
  }

  async get(runId: string): Promise<Run> {
    const run = await this.runs.get(runId);
    if (!run) throw notFound(runId);
    return run;
  }

  /** A run as it stands: a running run's energy and scores so far (computed, not stored). */
  async current(runId: string): Promise<RunSummary> {
    const run = await this.get(runId);
    return this.summary(run.status === 'running' ? await this.measuring.measure(run, this.now()) : run);
  }

  /** One page of runs, newest first, and whether another may follow. */
  async page(filter: RunFilter): Promise<{ runs: RunSummary[]; more: boolean }> {
    const { runs, more } = await this.runs.page(filter);
    return { runs: runs.map((r) => this.summary(r)), more };
  }

  /** Reads the comparison's view now (a server's start), so that the first GET /api/compare does not. */
  async warm(): Promise<void> {
    await this.comparison.compare({ kinds: ['inference', 'imported'] }, undefined);
  }

  /** Models × platforms over the completed runs of `kinds` (./comparison.ts: kept up to date, not read whole each time). */
  compare(filter: CompareFilter, reference: string | undefined): Promise<Comparison> {
    return this.comparison.compare(filter, reference);
  }

  async series(seriesId: string): Promise<SeriesStatistics & { members: RunSummary[] }> {
    const runs: Run[] = [];
    for await (const run of this.runs.all({ seriesId })) runs.push(run);
    if (runs.length === 0) throw new ApiError(404, `no run belongs to series "${seriesId}"`);
    const members = runs.sort((a, b) => a.started_at_ms - b.started_at_ms).map((r) => this.summary(r));
    return { ...seriesStatistics(seriesId, members), members };
  }

  /** A run's power curve per source (with a margin around it), and the idle power its net energy subtracts. */
  async runPower(runId: string): Promise<RunPower> {
    const run = await this.get(runId);
    // live data: real time, whatever clock the runs are on
    const end = run.ended_at_ms ?? Date.now();
    const pad = Math.max(2000, (end - run.started_at_ms) * 0.05);
    const from = run.started_at_ms - pad;
    const to = end + pad;
    const tables = await Promise.all(run.hosts.map((h) => this.live.powerTable(from, to, bucketFor(to - from), h)));
    const times = [...new Set(tables.flatMap((t) => t.times))].sort((a, b) => a - b);
    const series = tables.flatMap((t) => {
      const at = new Map(t.times.map((time, i) => [time, i]));
      return t.series.map((s) => ({ ...s, power_w: times.map((time) => s.power_w[at.get(time) ?? -1] ?? null) }));
    });
    // the idle power the run's net energy subtracts: each host's latest baseline before the run
    const baselines = [];
    for (const [host, b] of await this.runs.latestBaselines(run.hosts, run.started_at_ms)) {
      if (b.avg_power_w !== null) baselines.push({ host, run_id: b.run_id, idle_w: b.avg_power_w, started_at: new Date(b.started_at_ms).toISOString() });
    }
    const idle_w = baselines.length === run.hosts.length && baselines.length > 0 ? baselines.reduce((a, b) => a + b.idle_w, 0) : null;
    return { run_id: run.run_id, started_at_ms: run.started_at_ms, ended_at_ms: run.ended_at_ms, times, series, idle_w, baselines };
  }

  /** Power per source over the last `minutes` (mean per bucket). */
  livePower(minutes: number, host: string | undefined): Promise<PowerTable> {
    const to = Date.now();
    const from = to - minutes * 60_000;
    return this.live.powerTable(from, to, bucketFor(to - from), host);
  }

  hosts(): Promise<HostRecord[]> {
    return this.hostRepo.all();
  }
}
