/**
 * Edge integration of one power channel (pure; no I/O, no clock of its own).
 *
 * Readings arrive at the fast sample rate with monotonic times. A `counter` channel reports
 * its running energy (J): consecutive readings are differenced, a wrap is undone with the
 * counter's range, and the energy of an interval is exact whatever the sample rate. A `sampled`
 * or `estimated` channel reports power (W), integrated by the trapezoid rule. `cut(t)` closes
 * the interval that ends at the last reading and returns its energy, so that consecutive
 * intervals tile time without gap or overlap.
 */
import type { PowerMethod } from '../common/model.js';

export interface IntervalEnergy {
  energyJ: number;
  intervalS: number;
  powerW: number;
  minW: number;
  maxW: number;
  /** counter wraps undone in this interval */
  wraps: number;
  /** counter resets (went down with no known range): that step's energy is unknown, counted 0 */
  resets: number;
}

export class ChannelIntegrator {
  private lastT: number | undefined;
  private lastValue: number | undefined;
  private startT: number | undefined;
  private energy = 0;
  private minW = Infinity;
  private maxW = -Infinity;
  private wraps = 0;
  private resets = 0;

  constructor(
    private readonly method: PowerMethod,
    private readonly wrapJ?: number,
  ) {}

  /** A reading at monotonic time `tMs`: joules for counters, watts otherwise. */
  add(tMs: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const prevT = this.lastT;
    const prevV = this.lastValue;
    if (prevT !== undefined && tMs <= prevT) return; // time must move forward
    this.startT ??= tMs;
    if (prevT !== undefined && prevV !== undefined) {
      const dt = (tMs - prevT) / 1000;
      let segmentJ: number;
      if (this.method === 'counter') {
        let d = value - prevV;
        if (d < 0) {
          if (this.wrapJ !== undefined && this.wrapJ > 0) {
            d += this.wrapJ;
            this.wraps++;
          } else {
            d = 0;
            this.resets++;
          }
        }
        segmentJ = d;
        const p = d / dt;
        this.minW = Math.min(this.minW, p);
        this.maxW = Math.max(this.maxW, p);
      } else {
        segmentJ = ((prevV + value) / 2) * dt;
      }
      this.energy += segmentJ;
    }
    if (this.method !== 'counter') {
      this.minW = Math.min(this.minW, value);
      this.maxW = Math.max(this.maxW, value);
    }
    this.lastT = tMs;
    this.lastValue = value;
  }

  /** Closes the interval at the last reading; undefined if it has no length yet. */
  cut(): IntervalEnergy | undefined {
    if (this.startT === undefined || this.lastT === undefined || this.lastT <= this.startT) return undefined;
    const intervalS = (this.lastT - this.startT) / 1000;
    const energyJ = this.energy;
    const powerW = energyJ / intervalS;
    const out: IntervalEnergy = {
      energyJ,
      intervalS,
      powerW,
      minW: Number.isFinite(this.minW) ? this.minW : powerW,
      maxW: Number.isFinite(this.maxW) ? this.maxW : powerW,
      wraps: this.wraps,
      resets: this.resets,
    };
    this.startT = this.lastT;
    this.energy = 0;
    this.wraps = 0;
    this.resets = 0;
    // the next interval's min/max start from the reading that begins it
    this.minW = this.method === 'counter' || this.lastValue === undefined ? Infinity : this.lastValue;
    this.maxW = this.method === 'counter' || this.lastValue === undefined ? -Infinity : this.lastValue;
    return out;
  }
}
