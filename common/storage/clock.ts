/**
 * This machine's clock against InfluxDB's, from the `Date` header of InfluxDB's responses.
 * `Date` has whole seconds only; but a response whose header says D was sent while the server's
 * clock read [D, D + 1 s), somewhere between our sending the request (s) and receiving its
 * answer (r), so (local − server) lies in [s − D − 1000, r − D] ms. Intersecting those intervals
 * over many responses (sent at varied sub-second phases) narrows the bound to about a round
 * trip. An empty intersection means a clock stepped: the estimate starts again.
 */

export interface ClockOffset {
  /** local clock − server clock, seconds */
  offsetS: number;
  /** half the width of the interval the offset is known to lie in, seconds */
  errorS: number;
  samples: number;
}

export class ClockOffsetEstimator {
  private intervals: Array<[number, number]> = [];

  constructor(private readonly window = 32) {}

  /** One response: its `Date` header, when the request was sent and when its answer came (epoch ms). */
  observe(dateHeader: string | string[] | undefined, sentAtMs: number, receivedAtMs: number): void {
    if (typeof dateHeader !== 'string') return;
    const d = Date.parse(dateHeader);
    if (!Number.isFinite(d)) return;
    const next: [number, number] = [sentAtMs - d - 1000, receivedAtMs - d];
    const [lo, hi] = this.bounds();
    if (Math.max(lo, next[0]) > Math.min(hi, next[1])) this.intervals = [];
    this.intervals.push(next);
    if (this.intervals.length > this.window) this.intervals.shift();
  }

  private bounds(): [number, number] {
    let lo = -Infinity;
    let hi = Infinity;
    for (const [a, b] of this.intervals) {
      lo = Math.max(lo, a);
      hi = Math.min(hi, b);
    }
    return [lo, hi];
  }

  /** The estimate, or undefined before the first response. */
  estimate(): ClockOffset | undefined {
    if (this.intervals.length === 0) return undefined;
    const [lo, hi] = this.bounds();
    return { offsetS: (lo + hi) / 2000, errorS: (hi - lo) / 2000, samples: this.intervals.length };
  }
}
