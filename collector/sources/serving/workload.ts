/**
 * An endpoint's counters from one scrape to the next (pure; no I/O, no clock of its own): the
 * work done in between, per engine and model, as exact counter differences.
 *
 * - The first scrape of an endpoint is its baseline: what the server did before it is not known
 *   to be in any interval, so it is not counted.
 * - A counter that goes down, or whose `_created` time moves on, was restarted (the server or its
 *   engine restarted): as Prometheus' `increase()` takes it, it counts again from 0, so its value
 *   is the work since the restart. The work between the last scrape and the restart is lost —
 *   at most one scrape interval's — and the restart is counted.
 * - A series that appears after the baseline (a new model, a new `finished_reason`) started at 0:
 *   its value is counted. A series that vanishes is forgotten; if it comes back, it is new.
 * - A value that is not finite, or negative, is left out and the series keeps its last reading.
 */
import type { WorkloadCount } from '../../../common/model.js';
import type { CountedSeries } from './engines.js';

export interface WorkloadInterval {
  engine: string;
  model: string;
  /** per count the engine has: the work in the interval */
  counts: Partial<Record<WorkloadCount, number>>;
}

export interface ScrapeWork {
  /** the interval since the previous scrape of the endpoint, in seconds */
  intervalS: number;
  intervals: WorkloadInterval[];
  /** counters found restarted in this scrape */
  resets: number;
  /** values left out (not finite, negative) */
  rejected: number;
}

interface Reading {
  value: number;
  created: number | undefined;
}

export class EndpointCounters {
  private last = new Map<string, Reading>();
  private lastT: number | undefined;

  /** Whether a scrape has been taken (the baseline). */
  get primed(): boolean {
    return this.lastT !== undefined;
  }

  /**
   * One scrape's series at monotonic time `tMs`: the work since the previous scrape, or
   * undefined for the baseline (and for a time that does not move forward).
   */
  observe(series: readonly CountedSeries[], tMs: number): ScrapeWork | undefined {
    const prevT = this.lastT;
    if (prevT !== undefined && tMs <= prevT) return undefined;
    const next = new Map<string, Reading>();
    const intervals = new Map<string, WorkloadInterval>();
    let resets = 0;
    let rejected = 0;
    for (const s of series) {
      const before = this.last.get(s.key);
      if (!Number.isFinite(s.value) || s.value < 0) {
        rejected++;
        if (before) next.set(s.key, before);
        continue;
      }
      next.set(s.key, { value: s.value, created: s.created });
      if (prevT === undefined) continue;
      const id = `${s.engine}\u0000${s.model}`;
      let iv = intervals.get(id);
      if (!iv) intervals.set(id, (iv = { engine: s.engine, model: s.model, counts: {} }));
      let delta: number;
      if (!before) delta = s.value;
      else if (s.value < before.value || (s.created !== undefined && before.created !== undefined && s.created > before.created)) {
        resets++;
        delta = s.value;
      } else delta = s.value - before.value;
      iv.counts[s.count] = (iv.counts[s.count] ?? 0) + delta;
    }
    this.last = next;
    this.lastT = tMs;
    if (prevT === undefined) return undefined;
    return { intervalS: (tMs - prevT) / 1000, intervals: [...intervals.values()], resets, rejected };
  }
}
