/**
 * The comparison of models × platforms (GET /api/compare), kept up to date instead of read
 * whole on every request. With 10,000 runs stored, reading every completed run page by page
 * took 12–23 s a request (bench/README.md, "Reads"); here every completed run is read once (the
 * columns the comparison needs, one statement), and after that only the runs the log of changes
 * (RUN_CHANGES, written with every ended run by any replica) names since the view last looked.
 * Each reply is computed from the view in memory, and kept per query until the view changes
 * (its data version); requests that come together wait on one refresh.
 *
 * The log is read from a little before the view was loaded (LOOKBACK: replicas' clocks differ
 * by less than that), and the view is read whole again every RELOAD_MS in the background — so a
 * change stamped by a clock further behind than LOOKBACK is still seen, within the hour.
 */
import { COMPARED, compare, type Comparison } from '../domain/compare.js';
import { summaryOf, type Run, type RunSummary, type SummarySettings } from '../domain/run-record.js';
import type { RunKind } from '../../common/model.js';
import type { RunFilter, RunRepository } from '../repo/runs.js';

/** What a comparison is of: completed runs of these kinds, and of a model, a platform, a time range where given. */
export type CompareFilter = Pick<RunFilter, 'model' | 'platform' | 'fromMs' | 'toMs'> & { kinds: readonly RunKind[] };

/** How far before the view's load the log is read: more than replicas' clocks differ. */
export const LOOKBACK_MS = 10 * 60_000;
/** The view is read whole again this often (in the background), whatever the log says. */
export const RELOAD_MS = 60 * 60_000;
/** Replies kept (per query) at most. */
const KEPT = 64;

/** What the comparison reads of a run: its summary's compared fields and what it is grouped and filtered by. */
type Compared = Pick<RunSummary, 'model' | 'platform' | 'series_id' | 'warmup' | (typeof COMPARED)[number]> & { kind: Run['kind']; started_at_ms: number };

interface View {
  runs: Map<string, Compared>;
  /** the log is read from here on */
  sinceMs: number;
  loadedAtMs: number;
  /** log entries applied (writer and time) */
  applied: Set<string>;
  version: number;
}

export class ComparisonView {
  private view: View | undefined;
  private loading: Promise<View> | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly replies = new Map<string, { version: number; reply: Comparison }>();

  constructor(
    private readonly runs: RunRepository,
    private readonly settings: SummarySettings,
    /** the wall clock (the log's entries are stamped with the writers' wall clocks, not a run's) */
    private readonly wallClock: () => number = Date.now,
  ) {}

  private compact(run: Run): Compared {
    const s = summaryOf(run, this.settings);
    const out: Record<string, unknown> = { model: s.model, platform: s.platform, series_id: s.series_id, warmup: s.warmup, kind: run.kind, started_at_ms: run.started_at_ms };
    for (const c of COMPARED) out[c] = s[c];
    return out as Compared;
  }

  private async load(): Promise<View> {
    const sinceMs = this.wallClock() - LOOKBACK_MS;
    // the log's entries so far were written before the runs are read: what they name is in the read
    const applied = new Set((await this.runs.changesSince(sinceMs)).map((c) => c.entry));
    const runs = new Map<string, Compared>();
    for (const run of await this.runs.completed()) runs.set(run.run_id, this.compact(run));
    return { runs, sinceMs, loadedAtMs: this.wallClock(), applied, version: (this.view?.version ?? 0) + 1 };
  }

  /** The view, brought up to date with the runs the log names that it has not applied. */
  private async current(): Promise<View> {
    if (!this.view) {
      this.loading ??= this.load().finally(() => (this.loading = undefined));
      this.view = await this.loading;
    }
    const view = this.view;
    this.refreshing ??= this.apply(view).finally(() => (this.refreshing = undefined));
    await this.refreshing;
    if (this.wallClock() - view.loadedAtMs > RELOAD_MS && !this.loading) {
      // read whole again in the background; replies go on from the view until it is ready
      this.loading = this.load().finally(() => (this.loading = undefined));
      this.loading.then((fresh) => (this.view = fresh), () => undefined);
    }
    return this.view;
  }

  private async apply(view: View): Promise<void> {
    const fresh = (await this.runs.changesSince(view.sinceMs)).filter((c) => !view.applied.has(c.entry));
    if (fresh.length === 0) return;
    const found = await this.runs.getMany(fresh.map((c) => c.runId));
    for (const c of fresh) {
      const run = found.get(c.runId);
      if (run && run.status === 'completed') view.runs.set(c.runId, this.compact(run));
      else view.runs.delete(c.runId);
      view.applied.add(c.entry);
    }
    view.version++;
  }

  /** Models × platforms over the completed runs the filter asks for, as compare() gives them. */
  async compare(filter: CompareFilter, reference: string | undefined): Promise<Comparison> {
    const view = await this.current();
    const key = JSON.stringify([filter, reference ?? null]);
    const kept = this.replies.get(key);
    if (kept && kept.version === view.version) return kept.reply;
    const kinds: readonly string[] = filter.kinds;
    const chosen = [...view.runs.values()]
      .filter(
        (r) =>
          kinds.includes(r.kind) &&
          (filter.model === undefined || r.model === filter.model) &&
          (filter.platform === undefined || r.platform === filter.platform) &&
          (filter.fromMs === undefined || r.started_at_ms >= filter.fromMs) &&
          (filter.toMs === undefined || r.started_at_ms <= filter.toMs),
      )
      // the runs of each kind, newest first: the order they were always compared in (sums in the same order)
      .sort((a, b) => kinds.indexOf(a.kind) - kinds.indexOf(b.kind) || b.started_at_ms - a.started_at_ms);
    const reply = compare(chosen, reference);
    if (this.replies.size >= KEPT) this.replies.clear();
    this.replies.set(key, { version: view.version, reply });
    return reply;
  }
}
