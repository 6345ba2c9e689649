/**
 * The collector's own metrics (prom-client) and its power readings as gauges and energy
 * counters, each documented in docs/METRICS.md (a test holds the two together). Names follow
 * Prometheus' conventions (`promtool check metrics` is clean): counters end in `_total`,
 * nothing else does, and no name carries its type. Labelled counters start at 0 for every
 * label value known in advance, so that an alert on `increase()` fires on the first event too.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { buildInfoLabels } from '../common/build-info.js';
import { STORAGE_ERROR_CODES } from '../common/storage/errors.js';
import { DROP_REASONS } from './spool.js';

// prom-client's index also loads its push gateway (http, https), its cluster aggregator and its
// default metrics: ~12 MB of the collector's memory (measured: 54 vs 42 MB for a bare process)
// for nothing it uses. Its three classes are loaded alone, typed by the package's own types.
const require = createRequire(import.meta.url);
const Registry = require('prom-client/lib/registry') as typeof Prom.Registry;
const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge;
const Counter = require('prom-client/lib/counter') as typeof Prom.Counter;
type Gauge = Prom.Gauge;
type Counter = Prom.Counter;

const POWER_LABELS = ['source', 'domain', 'method', 'in_total'] as const;

/**
 * A power channel's figures as the agent keeps them, read into wattscope_power_watts and
 * wattscope_energy_joules_total when /metrics is scraped: a report then costs two stores, not
 * two of prom-client's label hashes per channel.
 */
export interface ChannelFigures {
  readonly labels: Readonly<Record<(typeof POWER_LABELS)[number], string>>;
  /** the average power of the last report interval; undefined before the first */
  powerW: number | undefined;
  /** energy reported since the last scrape (added to the counter then) */
  unscrapedJ: number;
  gauge?: Prom.Gauge.Internal<string>;
  counter?: Prom.Counter.Internal;
}

/** A source's reading time and success in the last report interval, read into their gauges when scraped. */
export interface SourceFigures {
  readonly source: string;
  /** seconds spent reading it in the last report interval; undefined before the first */
  durationS: number | undefined;
  ok: boolean;
}

/** Why points go to the dead-letter file (./sender.ts) */
export const DEAD_LETTER_REASONS = ['refused', 'corrupt'] as const;
/** Points lost: the spool's reasons, and a dead-letter file that could not keep them */
export const LOSS_REASONS = [...DROP_REASONS, 'dead_letter_full', 'emit'] as const;
/** The kinds of a source's faults (wattscope_collector_source_errors_total{kind}) */
export const SOURCE_ERROR_KINDS = ['text', 'value', 'read', 'collect', 'encode'] as const;
/** The errno codes of a failing spool disk shown from the start (others appear when they happen) */
const DISK_ERROR_CODES = ['ENOSPC', 'EIO', 'EROFS', 'EDQUOT'] as const;

/** Every known label value of a counter at 0, so that its series exist before the first event. */
function zeroed(counter: Counter, label: string, values: readonly string[]): void {
  for (const v of values) counter.inc({ [label]: v }, 0);
}

export class CollectorMetrics {
  readonly registry = new Registry();
  /** the agent's channels and sources, read into their families at each scrape */
  channelFigures: () => Iterable<ChannelFigures> = () => [];
  sourceFigures: () => Iterable<SourceFigures> = () => [];
  readonly sourceDuration: Gauge = new Gauge({
    name: 'wattscope_collector_source_duration_seconds',
    help: 'Time spent reading each source during the last report interval.',
    labelNames: ['source'],
    registers: [this.registry],
    collect: () => {
      for (const f of this.sourceFigures()) if (f.durationS !== undefined) this.sourceDuration.set({ source: f.source }, f.durationS);
    },
  });
  readonly sourceSuccess: Gauge = new Gauge({
    name: 'wattscope_collector_source_success',
    help: '1 if every read of the source succeeded in the last report interval, else 0.',
    labelNames: ['source'],
    registers: [this.registry],
    collect: () => {
      for (const f of this.sourceFigures()) if (f.durationS !== undefined) this.sourceSuccess.set({ source: f.source }, f.ok ? 1 : 0);
    },
  });
  readonly sourceErrors = new Counter({
    name: 'wattscope_collector_source_errors_total',
    help: 'Faults of a source, by kind: text (a sensor file whose text is unusable: its channel skipped, counted once per file), value (a reading that is not a finite, plausible number), read (a read that failed), collect (host metrics that failed), encode (a point whose tags cannot be written: left out). Each is logged once; the other sources go on.',
    labelNames: ['source', 'kind'],
    registers: [this.registry],
  });
  readonly pointsWritten = new Counter({ name: 'wattscope_collector_points_written_total', help: 'Points accepted by InfluxDB.', registers: [this.registry] });
  readonly pointsSpooled = new Counter({ name: 'wattscope_collector_points_spooled_total', help: 'Points appended to the on-disk spool (every point goes through it).', registers: [this.registry] });
  readonly pointsDropped = new Counter({
    name: 'wattscope_collector_points_dropped_total',
    help: 'Points lost: the spool reached its bound (oldest segment dropped first), or the disk was full and the memory buffer too.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly pointsDeadLettered = new Counter({
    name: 'wattscope_collector_points_dead_lettered_total',
    help: 'Points moved to the dead-letter file beside the spool: refused by InfluxDB (reason=refused) or unreadable in the spool (reason=corrupt).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({ name: 'wattscope_collector_spool_bytes', help: 'Bytes of unsent points in the spool.', registers: [this.registry] });
  readonly spoolMemoryPoints = new Gauge({
    name: 'wattscope_collector_spool_memory_points',
    help: 'Points held in memory because the spool’s disk refused them (full); written to disk once it takes them again.',
    registers: [this.registry],
  });
  readonly spoolDiskErrors = new Counter({ name: 'wattscope_collector_spool_disk_errors_total', help: 'Failed writes to the spool’s disk (full disk, I/O error).', labelNames: ['code'], registers: [this.registry] });
  readonly writeErrors = new Counter({ name: 'wattscope_collector_write_errors_total', help: 'Failed writes to InfluxDB.', labelNames: ['code'], registers: [this.registry] });
  readonly influxUnreachable = new Gauge({
    name: 'wattscope_collector_influx_unreachable_seconds',
    help: 'Seconds since InfluxDB stopped taking points (0 while it takes them).',
    registers: [this.registry],
    collect: () => {
      this.influxUnreachable.set(this.unreachableSince === undefined ? 0 : (Date.now() - this.unreachableSince) / 1000);
    },
  });
  readonly skippedTicks = new Counter({ name: 'wattscope_collector_skipped_ticks_total', help: 'Sample ticks skipped because the previous one was still running.', registers: [this.registry] });
  readonly energyWraps = new Counter({ name: 'wattscope_collector_energy_wraps_total', help: 'Wraps of an energy counter undone (the counter passed its range and started again from 0).', labelNames: ['source'], registers: [this.registry] });
  readonly energyResets = new Counter({
    name: 'wattscope_collector_energy_resets_total',
    help: 'Resets of an energy counter (a step no wrap explains: driver reload, suspend/resume); that step’s energy is left out.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly counterStuck = new Gauge({
    name: 'wattscope_collector_energy_stuck',
    help: '1 while an energy counter has not moved for several report intervals (a broken read: its source reads 0 W), else 0.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  /** where the clock offset comes from (the storage layer's estimate, once connected) */
  readClockOffset: () => number | undefined = () => undefined;
  readonly clockOffset: Gauge = new Gauge({
    name: 'wattscope_collector_clock_offset_seconds',
    help: 'This host’s clock minus InfluxDB’s, estimated from the Date of InfluxDB’s responses (NaN until known).',
    registers: [this.registry],
    collect: () => {
      this.clockOffset.set(this.readClockOffset() ?? NaN);
    },
  });
  readonly power: Gauge = new Gauge({
    name: 'wattscope_power_watts',
    help: 'Average power of each source over the last report interval.',
    labelNames: POWER_LABELS,
    registers: [this.registry],
    collect: () => {
      for (const f of this.channelFigures()) {
        if (f.powerW === undefined) continue;
        f.gauge ??= this.power.labels(f.labels);
        f.gauge.set(f.powerW);
      }
    },
  });
  readonly energy: Counter = new Counter({
    name: 'wattscope_energy_joules_total',
    help: 'Energy of each source since the collector started (use increase() for a window’s energy).',
    labelNames: POWER_LABELS,
    registers: [this.registry],
    collect: () => {
      for (const f of this.channelFigures()) {
        if (f.powerW === undefined) continue;
        f.counter ??= this.energy.labels(f.labels);
        f.counter.inc(f.unscrapedJ);
        f.unscrapedJ = 0;
      }
    },
  });
  lastWriteAt: number | undefined;
  /** when InfluxDB stopped taking points; undefined while it takes them */
  unreachableSince: number | undefined;
  readonly lastWrite: Gauge = new Gauge({
    name: 'wattscope_collector_last_write_timestamp_seconds',
    help: 'When InfluxDB last accepted points from this collector, in seconds since the epoch (0: not yet since it started).',
    registers: [this.registry],
    collect: () => {
      this.lastWrite.set(this.lastWriteAt === undefined ? 0 : this.lastWriteAt / 1000);
    },
  });
  readonly buildInfo = new Gauge({
    name: 'wattscope_build_info',
    help: 'Always 1; its labels say which Wattscope and Node.js this process runs.',
    labelNames: ['component', 'version', 'nodejs'],
    registers: [this.registry],
  });

  // prom-client's default metrics are left out: their event-loop monitor wakes the process
  // many times a second, which costs more than the collector itself. These two are computed
  // only when scraped, with the standard names and types.
  private cpuSecondsSeen = 0;
  readonly processCpu: Counter = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers: [this.registry],
    collect: () => {
      const u = process.cpuUsage();
      const seconds = (u.user + u.system) / 1e6;
      this.processCpu.inc(Math.max(0, seconds - this.cpuSecondsSeen));
      this.cpuSecondsSeen = Math.max(seconds, this.cpuSecondsSeen);
    },
  });
  readonly processRss: Gauge = new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers: [this.registry],
    collect: () => {
      this.processRss.set(process.memoryUsage.rss());
    },
  });
  readonly processStart = new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers: [this.registry] });

  constructor() {
    this.buildInfo.set(buildInfoLabels('collector'), 1);
    this.processStart.set(Math.round((Date.now() - process.uptime() * 1000) / 1000));
    zeroed(this.pointsDropped, 'reason', LOSS_REASONS);
    zeroed(this.pointsDeadLettered, 'reason', DEAD_LETTER_REASONS);
    zeroed(this.spoolDiskErrors, 'code', DISK_ERROR_CODES);
    zeroed(this.writeErrors, 'code', STORAGE_ERROR_CODES);
    this.watchSource('collector');
  }

  /** A source's fault series, at 0 from its discovery (`collector`: faults of the collector's own points). */
  watchSource(source: string): void {
    for (const kind of SOURCE_ERROR_KINDS) this.sourceErrors.inc({ source, kind }, 0);
  }

  /** A counter channel's series, at 0 from its discovery: its wraps and resets, and whether it is stuck. */
  watchCounter(source: string): void {
    this.energyWraps.inc({ source }, 0);
    this.energyResets.inc({ source }, 0);
    this.counterStuck.set({ source }, 0);
  }
}
