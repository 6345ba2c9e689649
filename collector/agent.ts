/**
 * The agent: reads every power channel at the rate its reading needs, integrates each at the
 * edge, and once per report interval emits one `power` point per channel (docs/DATA-MODEL.md)
 * plus the sources' host metrics.
 *
 * - A `sampled` or `averaged` power is read at the sample rate: the agent wakes every sample
 *   period while the host has one.
 * - An energy counter is exact however rarely it is read (and so is the CPU estimate, whose
 *   reading is its model's mean power since the last one, from /proc/stat's counters): a host
 *   whose channels are all such wakes only at each report, and more often only where a counter could wrap twice
 *   in between (its range over the channel's plausible maximum power, halved). Where the agent
 *   wakes at the sample rate anyway, the counters are read at those ticks too: once the process
 *   is awake a read is a pread, and a counter reset then loses one sample period, not a report.
 * - `readNow()` reads every channel on demand between ticks (the collector's `GET /energy`):
 *   the readings join the integration like any other, so the reported intervals do not change.
 *
 * Ticks run on the monotonic clock, on one grid of sample periods aligned with the report
 * boundaries; a tick that is still running when the next is due makes that one skipped, not
 * stacked. Points carry wall-clock timestamps. Nothing is allocated per reading on the path a
 * tick takes (the timer's own object aside).
 */
import { MEASUREMENT, POWER, type Sample } from '../common/model.js';
import { sampleProblem } from '../common/storage/line-protocol.js';
import type { Logger } from '../common/log.js';
import { ChannelIntegrator, PLAUSIBLE_MAX_W } from './integrate.js';
import type { ChannelFigures, CollectorMetrics, SourceFigures } from './metrics.js';
import { SourceError, type PowerChannel, type Source } from './source.js';
import { beginSharedReads, endSharedReads } from './sysfs.js';
import type { ChannelInterval } from './attribution.js';
import type { CounterReading, IdentifiedReading } from './counter-state.js';

/** A source's reading time and failures in the current report interval (per source, made once). */
class SourceStats {
  readMs = 0;
  failed = false;
  constructor(
    readonly source: Source,
    /** those of the last report interval, for /metrics */
    readonly figures: SourceFigures,
  ) {}
}

interface ChannelState {
  channel: PowerChannel;
  source: Source;
  stats: SourceStats;
  /** read at the sample rate (an instantaneous or averaged power, an estimate); else a counter */
  fast: boolean;
  /** the tags of its points, made once (frozen: the line-protocol writer keeps their text) */
  tags: Readonly<Record<string, string>>;
  integrator: ChannelIntegrator;
  /** read no more: its tags cannot be written, or its reads need a person (permission) until the next rediscovery */
  disabled: boolean;
  /** whether its points' tags can be written at all */
  writable: boolean;
  /** its power and energy for /metrics, read when scraped */
  figures: ChannelFigures;
  /** report intervals in a row in which a counter did not move */
  stillIntervals: number;
  stuck: boolean;
}

/**
 * A counter that stands still this long on a running machine is a broken read (its source
 * would read 0 W): counters of every sensor here advance many times a second.
 */
const STUCK_AFTER_S = 5;

/** The energy of one channel up to a reading on demand (Agent.readNow). */
export interface ChannelEnergy {
  id: string;
  domain: PowerChannel['domain'];
  method: PowerChannel['method'];
  inTotal: boolean;
  /** joules since the collector's first reading of the channel (a reset's step left out) */
  energyJ: number;
  /** seconds that energy covers */
  coveredS: number;
  /** wall-clock time of the channel's last reading, ms */
  timeMs: number;
}

/**
 * Counters are read at least this often within the time their range lasts at the channel's
 * plausible maximum power: two wraps between readings would be indistinguishable from one.
 */
const WRAP_GUARD = 0.5;

export interface AgentOptions {
  sources: Source[];
  hostTags: Record<string, string>;
  sampleHz: number;
  reportIntervalS: number;
  emit: (samples: Sample[]) => void;
  metrics: CollectorMetrics;
  log: Logger;
  /** points attributed to runs from the intervals just reported (./attribution.ts) */
  attribute?: (intervals: readonly ChannelInterval[]) => Sample[];
  /** monotonic clock in ms (tests may drive it) */
  now?: () => number;
  wallNow?: () => number;
  /**
   * every counter channel's last reading, at each report before its points are emitted
   * (./counter-state.ts keeps them for a restart); the same objects each time, updated
   */
  onCounters?: (readings: readonly IdentifiedReading[]) => void;
  /** false: the agent arms no timer, and the caller calls tick() at `nextTickAt` (tests on a clock of their own) */
  timers?: boolean;
}

export class Agent {
  private states: ChannelState[] = [];
  private stats: SourceStats[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking = false;
  private origin = 0;
  private tickIndex = 0;
  private nextReportAt = 0;
  /** counters are read at least this often (their wrap guard; Infinity where the reports suffice) */
  private counterPeriodMs = Infinity;
  /** monotonic time of the last tick's reading of the counters */
  private lastReadAt = 0;
  /** enabled channels read at the sample rate: while there is one, the agent wakes every sample period */
  private fastChannels = 0;
  private readonly samplePeriodMs: number;
  private readonly reportPeriodMs: number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly onTimer = (): void => this.tick();
  /** frozen tag sets (a source's per-core or per-device tags, made once) already found writable */
  private readonly writableTags = new WeakSet<object>();
  /** the counters' last readings handed to onCounters */
  private readonly readings: IdentifiedReading[] = [];
  /** /metrics' figures of every channel and source seen (kept across rediscoveries, as their series are) */
  private readonly channelFigures = new Map<string, ChannelFigures>();
  private readonly sourceFigures = new Map<string, SourceFigures>();

  constructor(private readonly opts: AgentOptions) {
    this.samplePeriodMs = 1000 / opts.sampleHz;
    this.reportPeriodMs = opts.reportIntervalS * 1000;
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    opts.metrics.channelFigures = () => this.channelFigures.values();
    opts.metrics.sourceFigures = () => this.sourceFigures.values();
    this.setSources(opts.sources);
  }

  /** A channel's /metrics figures: the same object for the same series. */
  private figuresOf(channel: PowerChannel): ChannelFigures {
    const labels = { source: channel.id, domain: channel.domain, method: channel.method, in_total: String(channel.inTotal) };
    const key = `${labels.source}\u0000${labels.domain}\u0000${labels.method}\u0000${labels.in_total}`;
    let f = this.channelFigures.get(key);
    if (!f) this.channelFigures.set(key, (f = { labels, powerW: undefined, unscrapedJ: 0 }));
    return f;
  }

  /**
   * Replaces the set of sources (rediscovery). A channel seen before keeps its integrator (its
   * interval goes on) but reads through the new source's channel object: the old source is
   * closed by the caller.
   */
  setSources(sources: Source[]): void {
    const known = new Map(this.states.map((s) => [s.channel.id, s]));
    const knownStats = new Map(this.stats.map((s) => [s.source.name, s]));
    this.stats = sources.map((source) => {
      const old = knownStats.get(source.name);
      let figures = this.sourceFigures.get(source.name);
      if (!figures) this.sourceFigures.set(source.name, (figures = { source: source.name, durationS: undefined, ok: true }));
      const stats = new SourceStats(source, figures);
      // the same source found again: what it did so far in this report interval
      if (old) {
        stats.readMs = old.readMs;
        stats.failed = old.failed;
      }
      return stats;
    });
    for (const source of sources) this.opts.metrics.watchSource(source.name);
    this.states = sources.flatMap((source, i) =>
      source.channels().map((channel): ChannelState => {
        const prev = known.get(channel.id);
        const stats = this.stats[i] as SourceStats;
        // a counter, or a mean since the last read (the CPU estimate), is exact however rarely it is read
        const fast = !(channel.method === 'counter' || channel.meanSinceLastRead === true);
        // the same id, method, domain and in_total: the same tags, kept with the rest
        if (prev && prev.channel.method === channel.method && prev.channel.wrapJ === channel.wrapJ && prev.channel.domain === channel.domain && prev.channel.inTotal === channel.inTotal) {
          return { ...prev, channel, source, stats, fast, disabled: !prev.writable, writable: prev.writable, figures: this.figuresOf(channel) };
        }
        const tags = Object.freeze({
          ...this.opts.hostTags,
          [POWER.tags.source]: channel.id,
          [POWER.tags.domain]: channel.domain,
          [POWER.tags.method]: channel.method,
          [POWER.tags.inTotal]: String(channel.inTotal),
        });
        const integrator = new ChannelIntegrator(channel.method, channel.wrapJ, channel.maxPowerW ?? PLAUSIBLE_MAX_W[channel.domain], channel.meanSinceLastRead === true);
        if (channel.method === 'counter') this.opts.metrics.watchCounter(channel.id);
        // the sources check the text their ids are made of; this is the last guard: a channel
        // whose point could not be written is left out, not every point of the batch with it
        const problem = sampleProblem({ measurement: MEASUREMENT.power, tags, fields: {}, timeMs: 0 });
        if (problem) this.fault(source, 'encode', `encode:${channel.id}`, `power channel ${JSON.stringify(channel.id.slice(0, 80))} of ${source.name} cannot be written (${problem}); it is left out`);
        return { channel, source, stats, fast, tags, integrator, disabled: problem !== undefined, writable: problem === undefined, stillIntervals: 0, stuck: false, figures: this.figuresOf(channel) };
      }),
    );
    this.planReads();
  }

  /**
   * How often the agent must wake: every sample period while an enabled channel is read at the
   * sample rate; else at each report, and, where a counter's range would not last two report
   * intervals at its plausible maximum power, often enough between reports that its readings
   * are never more than half that time apart (on the grid of sample periods). Replans the timer
   * of a running agent.
   */
  private planReads(): void {
    this.fastChannels = 0;
    let guardMs = Infinity;
    for (const state of this.states) {
      if (state.disabled) continue;
      if (state.fast) this.fastChannels++;
      else if (state.channel.wrapJ !== undefined && state.channel.wrapJ > 0) {
        const maxW = state.channel.maxPowerW ?? PLAUSIBLE_MAX_W[state.channel.domain] ?? Infinity;
        guardMs = Math.min(guardMs, (WRAP_GUARD * 1000 * state.channel.wrapJ) / maxW);
      }
    }
    // on the grid of sample periods, at most this far apart
    this.counterPeriodMs = guardMs < this.reportPeriodMs ? Math.max(guardMs, this.samplePeriodMs) : Infinity;
    if (!this.running) return;
    // woken at the right times from now on: the tick planned may be far off (a host of counters
    // that now has a sampled channel); inside a tick, the tick plans the next one itself
    if (!this.ticking) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.tickIndex = Math.floor((this.now() - this.origin) / this.samplePeriodMs);
      this.schedule();
    }
  }

  /**
   * Counter readings taken before this process started (a restart in the same boot): each
   * counter channel's first reading is differenced from its saved one, so the points after a
   * restart cover the time it took, exactly. Before start() only.
   */
  seedCounters(saved: Readonly<Record<string, CounterReading>>, wallMs: number = this.wallNow(), monoNow: number = this.now()): string[] {
    const seeded: string[] = [];
    for (const state of this.states) {
      const r = saved[state.channel.id];
      if (state.channel.method !== 'counter' || !r || r.timeMs >= wallMs) continue;
      state.integrator.seed(monoNow - (wallMs - r.timeMs), r.value);
      seeded.push(state.channel.id);
    }
    return seeded;
  }

  /** Each counter channel's last reading, on the wall clock: kept in `this.readings`, updated in place. */
  private counterReadings(wallMs: number, monoNow: number): readonly IdentifiedReading[] {
    let n = 0;
    for (const state of this.states) {
      if (state.channel.method !== 'counter') continue;
      const last = state.integrator.lastReading;
      if (!last) continue;
      let r = this.readings[n];
      if (!r) this.readings.push((r = { id: '', value: 0, timeMs: 0 }));
      r.id = state.channel.id;
      r.value = last.value;
      r.timeMs = Math.round(wallMs - (monoNow - last.tMs));
      n++;
    }
    this.readings.length = n;
    return this.readings;
  }

  /**
   * A fault of one source: counted in /metrics (wattscope_collector_source_errors_total), logged
   * once per key; never thrown, so the other channels and sources go on.
   */
  private fault(source: Source, kind: 'read' | 'value' | 'collect' | 'encode', key: string, message: string, fields?: Record<string, unknown>): void {
    this.opts.metrics.sourceErrors.inc({ source: source.name, kind });
    this.opts.log.once(key, 'warn', message, { source: source.name, ...fields });
  }

  get channelIds(): string[] {
    return this.states.filter((s) => !s.disabled).map((s) => s.channel.id);
  }

  start(): void {
    this.running = true;
    const mono = this.now();
    // report boundaries fall on whole wall-clock seconds (multiples of the report interval),
    // which Grafana's time buckets like; sample ticks sit on the same grid
    const wallMs = this.wallNow();
    const boundary = mono + ((this.reportPeriodMs - (wallMs % this.reportPeriodMs)) % this.reportPeriodMs);
    this.origin = boundary - Math.floor((boundary - mono) / this.samplePeriodMs) * this.samplePeriodMs;
    this.nextReportAt = boundary > mono ? boundary : boundary + this.reportPeriodMs;
    this.tickIndex = Math.floor((mono - this.origin) / this.samplePeriodMs + 1e-9);
    this.sample(mono);
    this.lastReadAt = mono;
    this.schedule();
  }

  /** The monotonic time (ms) of the next tick: the grid tick at which anything is next due (Infinity once stopped). */
  get nextTickAt(): number {
    return this.running ? this.origin + this.tickIndex * this.samplePeriodMs : Infinity;
  }

  /** Plans the next tick on the grid at which anything is due, and arms the timer for it. */
  private schedule(): void {
    if (!this.running) return;
    const now = this.now();
    const p = this.samplePeriodMs;
    let k: number;
    if (this.fastChannels > 0) k = this.tickIndex + 1;
    else {
      // only counters: the tick of the next report boundary, or the last tick before the wrap
      // guard runs out since the counters' last reading, whichever comes first
      const report = Math.ceil((this.nextReportAt - p / 2 - this.origin) / p);
      const guard = Math.floor((this.lastReadAt + this.counterPeriodMs - this.origin) / p + 1e-9);
      k = Math.max(this.tickIndex + 1, Math.min(report, guard));
    }
    if (this.origin + k * p < now - p / 2) {
      const due = Math.ceil((now - this.origin) / p);
      if (due > k) {
        if (this.fastChannels > 0) this.opts.metrics.skippedTicks.inc(due - k);
        k = due;
      }
    }
    this.tickIndex = k;
    if (this.opts.timers !== false) this.timer = setTimeout(this.onTimer, Math.max(0, this.origin + k * p - now));
  }

  /**
   * One tick at monotonic time `now`: reads the channels, and reports when a report is due. The
   * timer calls it; a caller that started the agent without timers drives it (tests).
   */
  tick(now: number = this.now()): void {
    if (!this.running) return;
    this.timer = undefined;
    this.ticking = true;
    const half = this.samplePeriodMs / 2;
    beginSharedReads();
    try {
      this.read(now, true);
      this.lastReadAt = now;
      if (now >= this.nextReportAt - half) {
        while (this.nextReportAt <= now + half) this.nextReportAt += this.reportPeriodMs;
        this.report();
      }
    } catch (e) {
      // read and report guard each source; this is the last guard of the timer itself
      this.opts.log.once('tick', 'error', 'a collector tick failed; the next one runs as usual', { error: e });
    } finally {
      endSharedReads();
      this.ticking = false;
      this.schedule();
    }
  }

  /**
   * Every enabled channel read now, between ticks (the collector's `GET /energy`): each reading
   * joins its channel's integration as any other (a counter's step to it is left out of the
   * interval's minimum and maximum power), and the energy so far of every channel comes back.
   */
  readNow(t: number = this.now(), wallMs: number = this.wallNow()): ChannelEnergy[] {
    beginSharedReads();
    try {
      this.read(t, false);
    } finally {
      endSharedReads();
    }
    const out: ChannelEnergy[] = [];
    for (const state of this.states) {
      if (state.disabled) continue;
      const { channel, integrator } = state;
      const last = integrator.lastReading;
      out.push({
        id: channel.id,
        domain: channel.domain,
        method: channel.method,
        inTotal: channel.inTotal,
        energyJ: integrator.totalJ,
        coveredS: integrator.coveredS,
        timeMs: last ? wallMs - (t - last.tMs) : wallMs,
      });
    }
    return out;
  }

  /** Each in-total channel's energy so far (J, by channel id), read now (SourceContext.hostEnergyJ). */
  inTotalEnergyJ(t: number = this.now(), wallMs: number = this.wallNow()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.readNow(t, wallMs)) if (c.inTotal) out[c.id] = c.energyJ;
    return out;
  }

  /** Reads every enabled channel once, at monotonic time `t` (as a tick does). */
  sample(t: number = this.now()): void {
    this.read(t, true);
  }

  /**
   * Reads every enabled channel once, at monotonic time `t`; the time spent is counted per
   * source. `extremes`: whether counters' steps count towards the interval's minimum and
   * maximum power (not for readings on demand).
   */
  private read(t: number, extremes: boolean): void {
    // a source's channels are next to each other: one clock read per source, not two per channel
    let stats: SourceStats | undefined;
    let started = 0;
    const states = this.states;
    for (let i = 0; i < states.length; i++) {
      const state = states[i] as ChannelState;
      if (state.disabled) continue;
      if (state.stats !== stats) {
        const now = performance.now();
        if (stats) stats.readMs += now - started;
        stats = state.stats;
        started = now;
      }
      try {
        const value = state.channel.read();
        if (value === undefined) stats.failed = true;
        else if (!state.integrator.add(t, value, extremes)) {
          stats.failed = true;
          this.badValue(state, value);
        }
      } catch (e) {
        stats.failed = true;
        this.readFault(state, e);
      }
    }
    if (stats) stats.readMs += performance.now() - started;
  }

  /** A reading no sensor can give: counted, said once (keyed by its file where it has one). */
  private badValue(state: ChannelState, value: number): void {
    const { channel } = state;
    // keyed by its file where it has one: the rediscovery that skips the file then says nothing more
    const key = channel.path ? `problem:${state.source.name}:value:${channel.path}` : `value:${channel.id}`;
    this.fault(state.source, 'value', key, `${channel.id} read ${String(value)} (${channel.reading}${channel.path ? ` in ${channel.path}` : ''}): not a finite, plausible ${channel.method === 'counter' ? 'energy' : 'power'}; such readings are left out (wattscope_collector_source_errors_total)`);
  }

  /** A read that threw: a SourceError (a person must act) disables the channel until the next rediscovery; anything else is tried again. */
  private readFault(state: ChannelState, e: unknown): void {
    const { channel } = state;
    if (e instanceof SourceError) {
      state.disabled = true;
      this.opts.metrics.sourceErrors.inc({ source: state.source.name, kind: 'read' });
      this.opts.log.once(`disabled:${channel.id}`, 'error', e.message, { source: channel.id });
      if (state.fast) this.planReads();
    } else {
      this.fault(state.source, 'read', `read:${channel.id}`, `reading ${channel.id} failed; will keep trying (wattscope_collector_source_errors_total)`, { error: e });
    }
  }

  /**
   * Emits one point per channel for the interval that ends now, and the host metrics. A point
   * is stamped with the wall time of the reading that ends its interval: a channel whose last
   * read failed ends a little earlier, and the next point starts exactly there.
   */
  report(wallMs: number = this.wallNow(), monoNow: number = this.now()): Sample[] {
    const out: Sample[] = [];
    const reported: ChannelInterval[] = [];
    const { metrics } = this.opts;
    for (const state of this.states) {
      const interval = state.integrator.cut();
      if (!interval) continue;
      const { channel } = state;
      if (interval.wraps > 0) metrics.energyWraps.inc({ source: channel.id }, interval.wraps);
      if (interval.resets > 0) {
        metrics.energyResets.inc({ source: channel.id }, interval.resets);
        this.opts.log.once(`reset:${channel.id}`, 'warn', `the energy counter of ${channel.id} was reset (driver reload, suspend/resume or a device restart): the energy of that step is unknown and left out; later resets are only counted (wattscope_collector_energy_resets_total)`, { source: channel.id });
      }
      if (channel.method === 'counter') this.watchStill(state, interval.energyJ === 0 && interval.resets === 0);
      if (interval.intervalS <= 0) continue;
      const { tags } = state;
      const timeMs = wallMs - Math.max(0, monoNow - interval.endT);
      reported.push({ channel, source: state.source, energyJ: interval.energyJ, intervalS: interval.intervalS, timeMs });
      out.push({
        measurement: MEASUREMENT.power,
        tags,
        // keys in sorted order, as line protocol writes them (no sort per point)
        fields:
          interval.bridgedS > 0
            ? { [POWER.fields.bridgedS]: interval.bridgedS, [POWER.fields.energyJ]: interval.energyJ, [POWER.fields.intervalS]: interval.intervalS, [POWER.fields.powerMaxW]: interval.maxW, [POWER.fields.powerMinW]: interval.minW, [POWER.fields.powerW]: interval.powerW }
            : { [POWER.fields.energyJ]: interval.energyJ, [POWER.fields.intervalS]: interval.intervalS, [POWER.fields.powerMaxW]: interval.maxW, [POWER.fields.powerMinW]: interval.minW, [POWER.fields.powerW]: interval.powerW },
        timeMs,
      });
      state.figures.powerW = interval.powerW;
      state.figures.unscrapedJ += interval.energyJ;
    }
    if (this.opts.attribute) {
      try {
        out.push(...this.opts.attribute(reported));
      } catch (e) {
        this.opts.log.once('attribute', 'warn', 'attributing energy to runs failed; will keep trying', { error: e });
      }
    }
    for (const stats of this.stats) {
      const { source } = stats;
      if (!source.collect) continue;
      const started = performance.now();
      try {
        for (const sample of source.collect(wallMs)) {
          const tags = sample.tags;
          if (this.writableTags.has(tags)) {
            out.push(sample);
            continue;
          }
          const problem = sampleProblem(sample);
          if (problem === undefined) {
            if (Object.isFrozen(tags)) this.writableTags.add(tags);
            out.push(sample);
          } else {
            stats.failed = true;
            this.fault(source, 'encode', `encode:${source.name}:${sample.measurement}`, `a ${sample.measurement} point of ${source.name} cannot be written (${problem}); such points are left out, the others go on`);
          }
        }
      } catch (e) {
        stats.failed = true;
        this.fault(source, 'collect', `collect:${source.name}`, `collecting ${source.name} failed; will keep trying`, { error: e });
      }
      const failed = source.failedReads?.() ?? 0;
      if (failed > 0) {
        stats.failed = true;
        metrics.sourceErrors.inc({ source: source.name, kind: 'read' }, failed);
      }
      stats.readMs += performance.now() - started;
    }
    for (const stats of this.stats) {
      stats.figures.durationS = stats.readMs / 1000;
      stats.figures.ok = !stats.failed;
      stats.readMs = 0;
      stats.failed = false;
    }
    // the readings first: a process killed between the two may lose an interval (a gap, which
    // coverage shows) but never bridges one it has already reported (counted twice, silently)
    this.opts.onCounters?.(this.counterReadings(wallMs, monoNow));
    if (out.length > 0) {
      try {
        this.opts.emit(out);
      } catch (e) {
        // the spool takes care of its disk's errors; this would be a bug, and must not stop the collector
        metrics.pointsDropped.inc({ reason: 'emit' }, out.length);
        this.opts.log.once('emit', 'error', 'the points of a report could not be spooled; they are lost, later reports go on (wattscope_collector_points_dropped_total{reason="emit"})', { error: e });
      }
    }
    return out;
  }

  /** Flags a counter that has not moved for STUCK_AFTER_S, once, and clears the flag when it moves. */
  private watchStill(state: ChannelState, still: boolean): void {
    const id = state.channel.id;
    state.stillIntervals = still ? state.stillIntervals + 1 : 0;
    const stuck = state.stillIntervals >= Math.max(3, Math.ceil(STUCK_AFTER_S / this.opts.reportIntervalS));
    if (stuck === state.stuck) return;
    state.stuck = stuck;
    this.opts.metrics.counterStuck.set({ source: id }, stuck ? 1 : 0);
    if (stuck) {
      this.opts.log.once(`stuck:${id}`, 'warn', `the energy counter of ${id} has not moved for ${STUCK_AFTER_S} s: the reading is broken (it reports 0 W); check the sensor or its driver (wattscope_collector_energy_stuck)`, { source: id });
    } else {
      this.opts.log.once(`unstuck:${id}`, 'info', `the energy counter of ${id} moves again`, { source: id });
    }
  }

  /** Stops ticking and emits the last, partial interval. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    beginSharedReads();
    try {
      this.sample();
      this.report();
    } finally {
      endSharedReads();
    }
  }
}
