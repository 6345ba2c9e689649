/**
 * The agent: reads every power channel at the sample rate, integrates each at the edge, and
 * once per report interval emits one `power` point per channel (docs/DATA-MODEL.md) plus the
 * sources' host metrics. Ticks run on the monotonic clock; a tick that is still running when
 * the next is due makes that one skipped, not stacked. Points carry wall-clock timestamps.
 */
import { MEASUREMENT, POWER, type Sample } from '../common/model.js';
import { sampleProblem } from '../common/storage/line-protocol.js';
import type { Logger } from '../common/log.js';
import { ChannelIntegrator, PLAUSIBLE_MAX_W } from './integrate.js';
import type { CollectorMetrics } from './metrics.js';
import { SourceError, type PowerChannel, type Source } from './source.js';
import type { ChannelInterval } from './attribution.js';
import type { CounterReading } from './counter-state.js';

interface ChannelState {
  channel: PowerChannel;
  source: Source;
  /** the tags of its points, made once (frozen: the line-protocol writer keeps their text) */
  tags: Readonly<Record<string, string>>;
  integrator: ChannelIntegrator;
  /** read no more: its tags cannot be written, or its reads need a person (permission) until the next rediscovery */
  disabled: boolean;
  /** whether its points' tags can be written at all */
  writable: boolean;
  /** the channel's power gauge and energy counter, looked up once (prom-client hashes labels on every call) */
  gauge?: { set(v: number): void };
  energy?: { inc(v: number): void };
  /** report intervals in a row in which a counter did not move */
  stillIntervals: number;
  /** energy of the intervals reported since the agent started (J): with the open interval's, what GET /energy answers */
  reportedJ: number;
  stuck: boolean;
}

/**
 * A counter that stands still this long on a running machine is a broken read (its source
 * would read 0 W): counters of every sensor here advance many times a second.
 */
const STUCK_AFTER_S = 5;

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
  /** every counter channel's last reading, after each report (./counter-state.ts keeps them for a restart) */
  onCounters?: (readings: Record<string, CounterReading>) => void;
}

/** A channel's energy since the agent started, as GET /energy answers it (./energy-endpoint.ts). */
export interface ChannelEnergy {
  channel: PowerChannel;
  /** joules since the agent started (for a channel found later: since it was found) */
  energyJ: number;
}

export class Agent {
  private states: ChannelState[] = [];
  private sources: Source[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private origin = 0;
  private tickIndex = 0;
  private nextReportAt = 0;
  private readonly samplePeriodMs: number;
  private readonly reportPeriodMs: number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly readTime = new Map<string, number>();
  private readonly readFailed = new Set<string>();
  private readonly sourceGauges = new Map<string, { duration: { set(v: number): void }; success: { set(v: number): void } }>();
  /** frozen tag sets (a source's per-core or per-device tags, made once) already found writable */
  private readonly writableTags = new WeakSet<object>();

  constructor(private readonly opts: AgentOptions) {
    this.samplePeriodMs = 1000 / opts.sampleHz;
    this.reportPeriodMs = opts.reportIntervalS * 1000;
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    this.setSources(opts.sources);
  }

  /**
   * Replaces the set of sources (rediscovery). A channel seen before keeps its integrator (its
   * interval goes on) but reads through the new source's channel object: the old source is
   * closed by the caller.
   */
  setSources(sources: Source[]): void {
    const known = new Map(this.states.map((s) => [s.channel.id, s]));
    this.sources = sources;
    for (const source of sources) this.opts.metrics.watchSource(source.name);
    this.states = sources.flatMap((source) =>
      source.channels().map((channel): ChannelState => {
        const prev = known.get(channel.id);
        // the same id, method, domain and in_total: the same tags, kept with the rest
        if (prev && prev.channel.method === channel.method && prev.channel.wrapJ === channel.wrapJ && prev.channel.domain === channel.domain && prev.channel.inTotal === channel.inTotal) {
          return { ...prev, channel, source, disabled: !prev.writable, writable: prev.writable };
        }
        const tags = Object.freeze({
          ...this.opts.hostTags,
          [POWER.tags.source]: channel.id,
          [POWER.tags.domain]: channel.domain,
          [POWER.tags.method]: channel.method,
          [POWER.tags.inTotal]: String(channel.inTotal),
        });
        const integrator = new ChannelIntegrator(channel.method, channel.wrapJ, channel.maxPowerW ?? PLAUSIBLE_MAX_W[channel.domain]);
        if (channel.method === 'counter') this.opts.metrics.watchCounter(channel.id);
        // the sources check the text their ids are made of; this is the last guard: a channel
        // whose point could not be written is left out, not every point of the batch with it
        const problem = sampleProblem({ measurement: MEASUREMENT.power, tags, fields: {}, timeMs: 0 });
        if (problem) this.fault(source, 'encode', `encode:${channel.id}`, `power channel ${JSON.stringify(channel.id.slice(0, 80))} of ${source.name} cannot be written (${problem}); it is left out`);
        return { channel, source, tags, integrator, disabled: problem !== undefined, writable: problem === undefined, stillIntervals: 0, stuck: false, reportedJ: 0 };
      }),
    );
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

  /** Each counter channel's last reading, on the wall clock. */
  private counterReadings(wallMs: number, monoNow: number): Record<string, CounterReading> {
    const out: Record<string, CounterReading> = {};
    for (const state of this.states) {
      if (state.channel.method !== 'counter') continue;
      const last = state.integrator.lastReading;
      if (last) out[state.channel.id] = { value: last.value, timeMs: Math.round(wallMs - (monoNow - last.tMs)) };
    }
    return out;
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
    this.tickIndex = -1;
    this.sample(mono);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    const now = this.now();
    const p = this.samplePeriodMs;
    let k = this.tickIndex + 1;
    if (this.origin + k * p < now - p / 2) {
      const due = Math.ceil((now - this.origin) / p);
      if (due > k) {
        this.opts.metrics.skippedTicks.inc(due - k);
        k = due;
      }
    }
    this.tickIndex = k;
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.origin + k * p - now));
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.now();
    try {
      this.sample(now);
      if (now >= this.nextReportAt - this.samplePeriodMs / 2) {
        while (this.nextReportAt <= now + this.samplePeriodMs / 2) this.nextReportAt += this.reportPeriodMs;
        this.report();
      }
    } catch (e) {
      // sample and report guard each source; this is the last guard of the timer itself
      this.opts.log.once('tick', 'error', 'a collector tick failed; the next one runs as usual', { error: e });
    } finally {
      this.schedule();
    }
  }

  /** Reads every channel once, at monotonic time `t`; the time spent is counted per source. */
  sample(t: number = this.now()): void {
    // a source's channels are next to each other: one clock read per source, not two per channel
    let source: Source | undefined;
    let started = 0;
    for (const state of this.states) {
      if (state.disabled) continue;
      if (state.source !== source) {
        const now = performance.now();
        if (source) this.readTime.set(source.name, (this.readTime.get(source.name) ?? 0) + now - started);
        source = state.source;
        started = now;
      }
      try {
        const value = state.channel.read();
        if (value === undefined) this.readFailed.add(state.source.name);
        else if (!state.integrator.add(t, value)) {
          this.readFailed.add(state.source.name);
          const { channel } = state;
          // keyed by its file where it has one: the rediscovery that skips the file then says nothing more
          const key = channel.path ? `problem:${state.source.name}:value:${channel.path}` : `value:${channel.id}`;
          this.fault(state.source, 'value', key, `${channel.id} read ${String(value)} (${channel.reading}${channel.path ? ` in ${channel.path}` : ''}): not a finite, plausible ${channel.method === 'counter' ? 'energy' : 'power'}; such readings are left out (wattscope_collector_source_errors_total)`);
        }
      } catch (e) {
        this.readFailed.add(state.source.name);
        const { channel } = state;
        if (e instanceof SourceError) {
          state.disabled = true;
          this.opts.metrics.sourceErrors.inc({ source: state.source.name, kind: 'read' });
          this.opts.log.once(`disabled:${channel.id}`, 'error', e.message, { source: channel.id });
        } else {
          this.fault(state.source, 'read', `read:${channel.id}`, `reading ${channel.id} failed; will keep trying (wattscope_collector_source_errors_total)`, { error: e });
        }
      }
    }
    if (source) this.readTime.set(source.name, (this.readTime.get(source.name) ?? 0) + performance.now() - started);
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
      state.reportedJ += interval.energyJ;
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
        fields: {
          [POWER.fields.energyJ]: interval.energyJ,
          [POWER.fields.powerW]: interval.powerW,
          [POWER.fields.intervalS]: interval.intervalS,
          [POWER.fields.powerMinW]: interval.minW,
          [POWER.fields.powerMaxW]: interval.maxW,
          ...(interval.bridgedS > 0 ? { [POWER.fields.bridgedS]: interval.bridgedS } : {}),
        },
        timeMs,
      });
      const labels = { source: channel.id, domain: channel.domain, method: channel.method, in_total: String(channel.inTotal) };
      state.gauge ??= metrics.power.labels(labels);
      state.gauge.set(interval.powerW);
      state.energy ??= metrics.energy.labels(labels);
      state.energy.inc(interval.energyJ);
    }
    if (this.opts.attribute) {
      try {
        out.push(...this.opts.attribute(reported));
      } catch (e) {
        this.opts.log.once('attribute', 'warn', 'attributing energy to runs failed; will keep trying', { error: e });
      }
    }
    for (const source of this.sources) {
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
            this.readFailed.add(source.name);
            this.fault(source, 'encode', `encode:${source.name}:${sample.measurement}`, `a ${sample.measurement} point of ${source.name} cannot be written (${problem}); such points are left out, the others go on`);
          }
        }
      } catch (e) {
        this.readFailed.add(source.name);
        this.fault(source, 'collect', `collect:${source.name}`, `collecting ${source.name} failed; will keep trying`, { error: e });
      }
      const failed = source.failedReads?.() ?? 0;
      if (failed > 0) {
        this.readFailed.add(source.name);
        metrics.sourceErrors.inc({ source: source.name, kind: 'read' }, failed);
      }
      this.readTime.set(source.name, (this.readTime.get(source.name) ?? 0) + performance.now() - started);
    }
    for (const source of this.sources) {
      let g = this.sourceGauges.get(source.name);
      if (!g) this.sourceGauges.set(source.name, (g = { duration: metrics.sourceDuration.labels({ source: source.name }), success: metrics.sourceSuccess.labels({ source: source.name }) }));
      g.duration.set((this.readTime.get(source.name) ?? 0) / 1000);
      g.success.set(this.readFailed.has(source.name) ? 0 : 1);
    }
    this.readTime.clear();
    this.readFailed.clear();
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

  /**
   * Every channel read now, as at a sample tick (counters read, sampled powers integrated up to
   * now), and each one's energy since the agent started: the reported intervals' and the open
   * one's. A window's energy is the difference of two such readings (GET /energy). Disabled
   * channels are left out. Cheap: one read per channel, as a sample tick does.
   */
  readNow(t: number = this.now()): { monoMs: number; channels: ChannelEnergy[] } {
    this.sample(t);
    const channels: ChannelEnergy[] = [];
    for (const state of this.states) {
      if (state.disabled) continue;
      channels.push({ channel: state.channel, energyJ: state.reportedJ + state.integrator.pendingJ });
    }
    return { monoMs: t, channels };
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
    this.sample();
    this.report();
  }
}
