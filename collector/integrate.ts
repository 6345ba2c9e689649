/**
 * Edge integration of one power channel (pure; no I/O, no clock of its own).
 *
 * Readings arrive at the fast sample rate with monotonic times. A `counter` channel reports
 * its running energy (J): consecutive readings are differenced, a wrap is undone with the
 * counter's range, and the energy of an interval is exact whatever the sample rate. A step that
 * implies more power than the channel can draw — a decrease that a wrap would not explain
 * plausibly, or a jump — is a **reset** (driver reload, suspend/resume, a device restarting
 * its counter): its energy is unknown, so that step is left out of the interval (energy and
 * covered time alike) instead of adding up to a whole counter range. A counter that updates
 * more slowly than it is read (DCGM's, refreshed once per scrape) moves in steps that hold all
 * the energy since it last moved: its power is judged over that time, not over one sample
 * period (which would make a 700 W board look like a 7 kW reset). A `sampled` or `averaged`
 * channel reports power (W), integrated by the trapezoid rule; one whose readings are the mean
 * power since the previous reading (the CPU estimate) by that mean over each step, exactly. `cut(t)` closes
 * the interval that ends at the last reading and returns its energy, so that consecutive
 * intervals tile time without gap or overlap. A sampled or averaged power below zero or above
 * the channel's plausible maximum is left out (the trapezoid bridges over it), as is anything
 * not finite.
 */
import type { PowerMethod } from '../common/model.js';

export interface IntervalEnergy {
  /** monotonic time of the reading that ends the interval (ms) */
  endT: number;
  energyJ: number;
  intervalS: number;
  powerW: number;
  minW: number;
  maxW: number;
  /** counter wraps undone in this interval */
  wraps: number;
  /** counter resets: those steps' energy is unknown and their time is not in `intervalS` */
  resets: number;
  /** seconds of the interval before this process's first reading, bridged from a seeded one (see seed()) */
  bridgedS: number;
}

/**
 * The most a channel of each domain can plausibly draw, for telling a counter's wrap from a
 * reset where the channel does not say. Generous: a reset implied as a wrap is off by orders of
 * magnitude (e.g. 30 kJ in 0.1 s is 300 kW), a real wrap within a few watts of the truth.
 */
export const PLAUSIBLE_MAX_W: Readonly<Record<string, number>> = { cpu: 2000, dram: 1000, gpu: 3000, soc: 1000, system: 20000, other: 20000 };

export class ChannelIntegrator {
  private lastT: number | undefined;
  private lastValue: number | undefined;
  /** counters: the time of the reading at which the value last changed */
  private movedT: number | undefined;
  private startT: number | undefined;
  private energy = 0;
  private minW = Infinity;
  private maxW = -Infinity;
  private wraps = 0;
  private resets = 0;
  /** time of reset steps in this interval, left out of its length */
  private unknownMs = 0;
  /** a seeded reading not yet followed by a real one: the time it was taken */
  private seededT: number | undefined;
  private bridgedMs = 0;
  /**
   * counters: energy of the moves since the last reading that counted towards the extremes, and
   * when the first of them began (readings on demand move the counter without counting)
   */
  private pendingJ = 0;
  private pendingSince: number | undefined;
  /** energy and covered time since the first reading (reset steps left out of both): for readings on demand */
  private totalEnergyJ = 0;
  private totalCoveredMs = 0;

  constructor(
    private readonly method: PowerMethod,
    private readonly wrapJ?: number,
    /** above this a counter step is a reset (PLAUSIBLE_MAX_W by domain where unknown) */
    private readonly maxPowerW: number = Infinity,
    /** each reading is the mean power since the previous one (the CPU estimate): a step's energy is that mean × its length, not a trapezoid */
    private readonly meanSinceLast = false,
  ) {}

  /**
   * A counter's reading taken before this process started (a collector restarted in the same
   * boot): the first real reading is differenced from it as from any other, so the interval
   * between them — the restart — is measured exactly, or left out as a reset when the step
   * implies more than the channel can draw. Only before the first reading; counters only.
   */
  seed(tMs: number, value: number): void {
    if (this.method !== 'counter' || this.lastT !== undefined || !Number.isFinite(value)) return;
    this.lastT = tMs;
    this.lastValue = value;
    this.startT = tMs;
    this.movedT = tMs;
    this.seededT = tMs;
  }

  /** The last reading (monotonic ms, and joules or watts), if any: the same object, updated, each time. */
  get lastReading(): { readonly tMs: number; readonly value: number } | undefined {
    if (this.lastT === undefined || this.lastValue === undefined) return undefined;
    this.last.tMs = this.lastT;
    this.last.value = this.lastValue;
    return this.last;
  }
  private readonly last = { tMs: 0, value: 0 };

  /** Energy (J) since the first reading, up to the last one: what the interval cuts have reported and the open interval so far. */
  get totalJ(): number {
    return this.totalEnergyJ;
  }

  /** Seconds since the first reading that `totalJ` covers (a reset's step is in neither). */
  get coveredS(): number {
    return this.totalCoveredMs / 1000;
  }

  /**
   * A reading at monotonic time `tMs`: joules for counters, watts otherwise. Returns false, and
   * leaves the reading out, when it is not one a sensor can give: not finite, a negative counter,
   * or a power below zero or above the channel's plausible maximum (a garbage value of a
   * driver, not a load). `extremes` false (a reading on demand, between the agent's own): a
   * counter's minimum and maximum power stay those between the agent's own readings, whose
   * moves are judged over the time since the counter last moved before them (a reading on
   * demand spans so little time that a counter's update granularity would show as a swing).
   */
  add(tMs: number, value: number, extremes = true): boolean {
    if (!Number.isFinite(value)) return false;
    if (this.method === 'counter' ? value < 0 : value < 0 || value > this.maxPowerW) return false;
    const prevT = this.lastT;
    const prevV = this.lastValue;
    if (prevT !== undefined && tMs <= prevT) return true; // time must move forward: a repeat, not a bad value
    this.startT ??= tMs;
    if (prevT === undefined) this.movedT = tMs;
    if (prevT !== undefined && prevV !== undefined) {
      const dt = (tMs - prevT) / 1000;
      this.totalCoveredMs += tMs - prevT;
      let segmentJ: number;
      if (this.method === 'counter') {
        let d = value - prevV;
        let wrapped = false;
        if (d < 0 && this.wrapJ !== undefined && this.wrapJ > 0) {
          d += this.wrapJ;
          wrapped = true;
        }
        // the energy of this step accrued since the counter last moved
        const since = Math.max(this.movedT ?? prevT, this.startT);
        const spanS = (tMs - since) / 1000;
        if (d === 0) {
          segmentJ = 0;
        } else if (d < 0 || d / spanS > this.maxPowerW || (wrapped && this.seededT !== undefined && spanS * this.maxPowerW >= (this.wrapJ as number))) {
          // a reset: this step's energy is unknown; leave it out rather than guess (so is a wrap
          // across a restart long enough for two: which one it was is a guess)
          this.resets++;
          this.unknownMs += tMs - since;
          this.totalCoveredMs -= tMs - since;
          segmentJ = 0;
          this.movedT = tMs;
          this.pendingJ = 0;
          this.pendingSince = undefined;
        } else {
          if (wrapped) this.wraps++;
          segmentJ = d;
          this.pendingSince ??= since;
          this.pendingJ += d;
          this.movedT = tMs;
        }
        if (extremes && this.pendingSince !== undefined && this.movedT !== undefined && this.movedT > this.pendingSince) {
          const p = this.pendingJ / ((this.movedT - this.pendingSince) / 1000);
          this.minW = Math.min(this.minW, p);
          this.maxW = Math.max(this.maxW, p);
          this.pendingJ = 0;
          this.pendingSince = undefined;
        }
      } else {
        segmentJ = this.meanSinceLast ? value * dt : ((prevV + value) / 2) * dt;
      }
      this.energy += segmentJ;
      this.totalEnergyJ += segmentJ;
      if (this.seededT !== undefined) {
        // the step from the seeded reading: bridged, unless it was left out as a reset
        if (segmentJ > 0 || value === prevV) this.bridgedMs += tMs - this.seededT;
        this.seededT = undefined;
      }
    }
    // a mean since the last reading covers the step to it: the first one's covers time before any interval
    if (this.method !== 'counter' && (!this.meanSinceLast || prevT !== undefined)) {
      this.minW = Math.min(this.minW, value);
      this.maxW = Math.max(this.maxW, value);
    }
    this.lastT = tMs;
    this.lastValue = value;
    return true;
  }

  /**
   * Closes the interval at the last reading; undefined if it has no length yet. An interval
   * that was all reset steps comes back with `intervalS` 0 (nothing known to report, but its
   * resets are counted).
   */
  cut(): IntervalEnergy | undefined {
    if (this.startT === undefined || this.lastT === undefined || this.lastT <= this.startT) return undefined;
    const intervalS = Math.max(0, this.lastT - this.startT - this.unknownMs) / 1000;
    const energyJ = this.energy;
    const powerW = intervalS > 0 ? energyJ / intervalS : 0;
    const out: IntervalEnergy = {
      endT: this.lastT,
      energyJ,
      intervalS,
      powerW,
      minW: Number.isFinite(this.minW) ? this.minW : powerW,
      maxW: Number.isFinite(this.maxW) ? this.maxW : powerW,
      wraps: this.wraps,
      resets: this.resets,
      bridgedS: this.bridgedMs / 1000,
    };
    this.startT = this.lastT;
    this.bridgedMs = 0;
    this.energy = 0;
    this.wraps = 0;
    this.resets = 0;
    this.unknownMs = 0;
    // the next interval's min/max start from the reading that begins it
    // a counter's steps and a mean's readings belong to the interval they end; an instantaneous power starts the next one too
    const carried = this.method === 'counter' || this.meanSinceLast || this.lastValue === undefined;
    this.minW = carried ? Infinity : (this.lastValue as number);
    this.maxW = carried ? -Infinity : (this.lastValue as number);
    return out;
  }
}
