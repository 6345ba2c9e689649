/**
 * The steady part of a run's power curve (pure): where the rise at the start has settled and
 * before the tail at the end begins. ML.ENERGY reports energy only over the steady state: the
 * rise (loading a model, CUDA initialising, clocks ramping) and the tail (writing results, a
 * GPU coming down) are not what one more inference costs.
 *
 * The curve is the run's total power in equal buckets (bucket means of the points that end in
 * each bucket). The level is the median of the middle half of the run, the noise what the
 * second differences of its buckets there say (robust to a trend and to a step); a bucket is steady when it lies within a band around the level:
 * K_SIGMA robust standard deviations, and never narrower than REL_BAND of the level (a curve with
 * no noise at all would otherwise call a 0.1 % drift a departure). The rise ends where HOLD
 * buckets in a row are steady, searching from the start; the tail begins after the last such
 * run of buckets, searching from the end. What happens in between (a dip, a spike) is the run's
 * own behaviour and stays in. A steady part shorter than half the run is none (a ramp).
 */

export interface PowerBucket {
  /** bucket start, epoch ms */
  timeMs: number;
  watts: number;
}

export interface SteadyOptions {
  /** how much earlier than its bucket a point's power began: the points' own interval (the collector's report interval) */
  pointIntervalMs?: number;
}

export type Steady =
  | { found: true; fromMs: number; toMs: number; riseS: number; tailS: number; levelW: number; bandW: number }
  | { found: false; reason: string };

/** robust standard deviations a steady bucket may stray from the level */
export const K_SIGMA = 4;
/** and never less than this fraction of the level */
export const REL_BAND = 0.05;
/** buckets in a row that must be steady for the rise to have ended (or the tail not begun) */
export const HOLD = 3;
/** fewer buckets than this inside the run cannot tell a rise from a steady part */
export const MIN_BUCKETS = 6;
/**
 * The steady part must be at least this share of the run: a curve that climbs all the way
 * (a ramp) passes through its median level for a few buckets, which is not a steady state.
 */
export const MIN_STEADY_SHARE = 0.5;

const median = (sorted: readonly number[]) => {
  const m = sorted.length / 2;
  return sorted.length % 2 ? (sorted[Math.floor(m)] as number) : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2;
};

/**
 * The steady window of a run over [t0, t1] from its power curve in buckets of `bucketMs`.
 *
 * The window is placed conservatively, since its average power must not take in the ramps: a
 * bucket holds the points that *end* in it, and a point's power began `pointIntervalMs` before its
 * end, so the window starts at the first steady bucket's start (the unsteady bucket before it
 * holds points up to there) and ends a point's interval before the last steady bucket's end
 * (the unsteady bucket after it holds points that began then).
 */
export function steadyState(buckets: readonly PowerBucket[], bucketMs: number, t0: number, t1: number, opts: SteadyOptions = {}): Steady {
  const lagMs = opts.pointIntervalMs ?? bucketMs;
  const inRun = [...buckets].filter((b) => Number.isFinite(b.watts) && b.timeMs < t1 && b.timeMs + bucketMs > t0).sort((a, b) => a.timeMs - b.timeMs);
  if (inRun.length < MIN_BUCKETS) return { found: false, reason: `too short to tell a rise from a steady part: ${inRun.length} power buckets of ${bucketMs / 1000} s, at least ${MIN_BUCKETS} needed` };
  const n = inRun.length;
  const middle = inRun.slice(Math.floor(n / 4), Math.ceil((3 * n) / 4)).map((b) => b.watts);
  const levelW = median([...middle].sort((a, b) => a - b));
  // the noise from second differences of neighbouring buckets (w[i−1] − 2·w[i] + w[i+1]), which a
  // straight trend (a ramp through the middle) does not move and a step moves only where it is:
  // for normal noise of σ they have σ·√6, and 1.4826 · their median absolute value estimates that
  const second = middle.slice(2).map((w, i) => Math.abs(w - 2 * (middle[i + 1] as number) + (middle[i] as number))).sort((a, b) => a - b);
  const sigma = second.length > 0 ? (1.4826 * median(second)) / Math.sqrt(6) : 0;
  const bandW = Math.max(K_SIGMA * sigma, REL_BAND * Math.abs(levelW));
  const steady = inRun.map((b) => Math.abs(b.watts - levelW) <= bandW);
  const holds = (i: number) => i >= 0 && i + HOLD <= n && steady.slice(i, i + HOLD).every(Boolean);
  let first = -1;
  for (let i = 0; i + HOLD <= n && first < 0; i++) if (holds(i)) first = i;
  let last = -1;
  for (let j = n - HOLD; j >= 0 && last < 0; j--) if (holds(j)) last = j + HOLD - 1;
  if (first < 0 || last < first) return { found: false, reason: `no steady part: the power never holds within ±${bandW.toFixed(1)} W of its level (${levelW.toFixed(1)} W) for ${HOLD} buckets in a row` };
  const fromMs = Math.min(t1, Math.max(t0, (inRun[first] as PowerBucket).timeMs));
  // the last bucket that reaches the run's end is cut by the end itself, not by a tail
  const lastBucket = inRun[last] as PowerBucket;
  const toMs = last === n - 1 ? t1 : Math.max(fromMs, Math.min(t1, lastBucket.timeMs + bucketMs - lagMs));
  if (toMs <= fromMs) return { found: false, reason: 'no steady part: the rise and the tail leave no time between them' };
  if (toMs - fromMs < MIN_STEADY_SHARE * (t1 - t0)) {
    return { found: false, reason: `no steady part: the power holds within ±${bandW.toFixed(1)} W of its level (${levelW.toFixed(1)} W) for only ${((toMs - fromMs) / 1000).toFixed(1)} s of the run's ${((t1 - t0) / 1000).toFixed(1)} s` };
  }
  return { found: true, fromMs, toMs, riseS: (fromMs - t0) / 1000, tailS: (t1 - toMs) / 1000, levelW, bandW };
}
