/**
 * How a run's window is read (pure): from raw points alone, or — over a window holding whole
 * rollup buckets — raw at the two ends and rollups in the middle, for every series rolled up in
 * every one of those buckets, raw points for the others (docs/DATA-MODEL.md "Rollups"). The
 * repository (../repo/power.ts) turns the plan into statements; the sums are the same either way.
 */
import { bucketsInside } from './rollup.js';

/** A time range: the lower bound open or closed, the upper bound open or closed (ms). */
export interface TimeRange {
  from: number;
  fromInclusive: boolean;
  to: number;
  toInclusive: boolean;
}

export type WindowPlan =
  | { kind: 'raw'; whole: TimeRange }
  | {
      kind: 'rollups';
      /** (t0, A) and [Z, t1]: raw */
      left: TimeRange;
      right: TimeRange;
      /** [A, Z): whole buckets */
      middle: TimeRange;
      buckets: number;
    };

/** Rollups pay off from two whole buckets on; a shorter window is read raw. */
export const MIN_ROLLED_BUCKETS = 2;

export function planWindow(t0: number, t1: number, bucketMs: number): WindowPlan {
  const mid = bucketsInside(t0, t1, bucketMs);
  if (!mid || mid.count < MIN_ROLLED_BUCKETS) return { kind: 'raw', whole: { from: t0, fromInclusive: false, to: t1, toInclusive: true } };
  return {
    kind: 'rollups',
    left: { from: t0, fromInclusive: false, to: mid.from, toInclusive: false },
    middle: { from: mid.from, fromInclusive: true, to: mid.to, toInclusive: false },
    right: { from: mid.to, fromInclusive: true, to: t1, toInclusive: true },
    buckets: mid.count,
  };
}

export interface HostSource {
  host: string;
  source: string;
}

const key = (s: HostSource) => `${s.host}\u0000${s.source}`;

/**
 * Which series' middle comes from rollups: a host+source rolled up in every bucket of the middle
 * (then no late point can change it). The others — a bucket with a gap, a series new in the
 * window — are summed from their raw points.
 */
export function splitMiddle(candidates: readonly HostSource[], rolled: ReadonlyArray<HostSource & { buckets: number }>, buckets: number): { fromRollups: Set<string>; raw: HostSource[] } {
  const fromRollups = new Set(rolled.filter((r) => r.buckets === buckets).map(key));
  return { fromRollups, raw: candidates.filter((c) => !fromRollups.has(key(c))) };
}

export const hostSourceKey = key;

/** Host metrics (GPU and CPU averages) come from rollups only once the rollup job has passed the middle's end. */
export function metricsFromRollups(watermarkMs: number | null, middle: TimeRange): boolean {
  return watermarkMs !== null && watermarkMs >= middle.to;
}
