/**
 * Rollups (pure): 10-minute buckets of `power` sums that let a long window's energy be summed
 * from a few points per series instead of every point.
 *
 * A bucket [b, b + 10 min) holds the points whose *end time* lies in it (the same set a raw
 * `time >= b AND time < b + 10m` query sums), so a rollup and the raw points it replaces give
 * the same sums. A series is rolled up for a bucket only when its points **tile** the bucket —
 * each starts where the previous one ended, with no room left at either end — because then no
 * late point (a collector's spool replay) can ever land in it: the rollup is final. Buckets with
 * a gap stay raw, and queries sum them from the raw points.
 */
import type { EdgePoint } from './energy.js';

/** Tolerance for clocks: a report's wall time and its monotonic interval differ by a few ms. */
export const TILE_TOLERANCE_MS = 250;

/** The whole buckets inside (t0, t1], as [A, Z), or undefined when there is none. */
export function bucketsInside(t0: number, t1: number, bucketMs: number): { from: number; to: number; count: number } | undefined {
  const from = Math.floor(t0 / bucketMs) * bucketMs + bucketMs;
  const to = Math.floor(t1 / bucketMs) * bucketMs;
  if (to <= from) return undefined;
  return { from, to, count: (to - from) / bucketMs };
}

/** Whether points (sorted by time, all ending in [b, b + bucketMs)) leave no room for another point. */
export function tiles(points: readonly EdgePoint[], b: number, bucketMs: number, tol = TILE_TOLERANCE_MS): boolean {
  if (points.length === 0) return false;
  const first = points[0] as EdgePoint;
  if (first.timeMs - first.intervalS * 1000 > b + tol) return false;
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1] as EdgePoint;
    const p = points[i] as EdgePoint;
    if (Math.abs(p.timeMs - p.intervalS * 1000 - prev.timeMs) > tol) return false;
  }
  const last = points[points.length - 1] as EdgePoint;
  // the next point starts where the last ends; it ends after the bucket if it is no longer than the last
  return last.timeMs + last.intervalS * 1000 >= b + bucketMs - tol;
}

export interface BucketSums {
  energyJ: number;
  intervalS: number;
  points: number;
}

export function sums(points: readonly EdgePoint[]): BucketSums {
  return { energyJ: points.reduce((a, p) => a + p.energyJ, 0), intervalS: points.reduce((a, p) => a + p.intervalS, 0), points: points.length };
}

/**
 * Groups of keys (hosts) whose counts add up to at most `maxPoints` each, in the order given
 * (a key over the bound alone in its group): the rollup job fetches a fleet's raw points group
 * by group, so that no answer grows with the size of the fleet.
 */
export function packByCount(counts: ReadonlyArray<{ key: string; count: number }>, maxPoints: number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let total = 0;
  for (const { key, count } of counts) {
    if (current.length > 0 && total + count > maxPoints) {
      groups.push(current);
      current = [];
      total = 0;
    }
    current.push(key);
    total += count;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
