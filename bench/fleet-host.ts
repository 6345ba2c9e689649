/**
 * A simulated GPU server for the fleet benchmark: what a real collector writes at default rates
 * on a 64-core host with 8 GPUs and 16 power sources, through the collector's own path —
 * samples → line protocol → its own on-disk spool → the Sender (batches of 5000 lines, no
 * client retries: the spool keeps the points) → InfluxDB, sent every 5 s (the default flush).
 * Only the sensors are simulated; everything after a sample is the collector's code.
 */
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../common/config.js';
import { hostRecordSample, type HostSource } from '../common/host-record.js';
import { logger } from '../common/log.js';
import { CPU, DISK, GPU, HOST_TAGS, MEASUREMENT, MEM, NET, POWER, type Sample } from '../common/model.js';
import { lineProblem } from '../common/storage/line-protocol.js';
import type { InfluxStore } from '../common/storage/store.js';
import { COLLECTOR_MEASUREMENTS, emitThroughSpool } from '../collector/daemon.js';
import { DeadLetters } from '../collector/dead-letter.js';
import { CollectorMetrics } from '../collector/metrics.js';
import { Sender } from '../collector/sender.js';
import { Spool } from '../collector/spool.js';

export const CORES = 64;
export const GPUS = 8;
const DISKS = ['nvme0n1', 'nvme1n1', 'nvme2n1', 'sda'];
const IFACES = ['eth0', 'ib0'];
export const PLATFORM = 'H100-80G';

/** The 16 power sources of a two-socket host with 8 GPUs; 12 of them count in the total. */
export const POWER_SOURCES: HostSource[] = [
  ...Array.from({ length: GPUS }, (_, g): HostSource => ({ id: `nvml/${g}`, domain: 'gpu', method: 'counter', in_total: true, gpu: g })),
  ...[0, 1].flatMap((p): HostSource[] => [
    { id: `rapl/package-${p}`, domain: 'cpu', method: 'counter', in_total: true },
    { id: `rapl/dram-${p}`, domain: 'dram', method: 'counter', in_total: true },
    { id: `rapl/core-${p}`, domain: 'cpu', method: 'counter', in_total: false },
    { id: `rapl/uncore-${p}`, domain: 'cpu', method: 'counter', in_total: false },
  ]),
];

/** Points one host writes per report interval: 16 power, 65 cpu, 1 mem, 4 disk, 2 net, 8 gpu. */
export const POINTS_PER_REPORT = POWER_SOURCES.length + CORES + 1 + 1 + DISKS.length + IFACES.length + GPUS;

/** A source's power at report `i` (W): steady, with a slow swing, different per host and source. */
export function wattsOf(s: number, i: number, seed: number): number {
  const base = s < GPUS ? 350 : s < GPUS + 4 ? 120 : 25;
  return base + 0.2 * base * Math.sin(i / 97 + s + seed);
}

/**
 * One report of a host: every sample a collector emits at the end of the interval
 * (t - intervalS, t], with the field names of common/model.ts. Pure: the same arguments give
 * the same samples.
 */
export function reportSamples(host: string, seed: number, i: number, timeMs: number, intervalS: number, cores = CORES): Sample[] {
  const tags = { [HOST_TAGS.host]: host, [HOST_TAGS.platform]: PLATFORM };
  const out: Sample[] = [];
  POWER_SOURCES.forEach((src, s) => {
    const w = wattsOf(s, i, seed);
    out.push({
      measurement: MEASUREMENT.power,
      tags: { ...tags, [POWER.tags.source]: src.id, [POWER.tags.domain]: src.domain, [POWER.tags.method]: src.method, [POWER.tags.inTotal]: String(src.in_total) },
      fields: { [POWER.fields.energyJ]: w * intervalS, [POWER.fields.powerW]: w, [POWER.fields.intervalS]: intervalS, [POWER.fields.powerMinW]: w * 0.9, [POWER.fields.powerMaxW]: w * 1.1 },
      timeMs,
    });
  });
  const busy = 50 + 40 * Math.sin(i / 50 + seed);
  for (let c = -1; c < cores; c++) {
    const u = Math.max(0, Math.min(100, busy + ((c * 37 + i) % 20) - 10));
    out.push({ measurement: MEASUREMENT.cpu, tags: { ...tags, [CPU.tags.cpu]: c < 0 ? CPU.all : String(c) }, fields: { [CPU.fields.usagePct]: u, [CPU.fields.userPct]: u * 0.8, [CPU.fields.systemPct]: u * 0.15, [CPU.fields.iowaitPct]: u * 0.05 }, timeMs });
  }
  const total = 1024 * 2 ** 30;
  const used = total * (0.3 + 0.1 * Math.sin(i / 300 + seed));
  out.push({ measurement: MEASUREMENT.mem, tags, fields: { [MEM.fields.totalBytes]: total, [MEM.fields.usedBytes]: used, [MEM.fields.availableBytes]: total - used, [MEM.fields.usedPct]: (100 * used) / total }, timeMs });
  for (const device of DISKS) {
    out.push({ measurement: MEASUREMENT.disk, tags: { ...tags, [DISK.tags.device]: device }, fields: { [DISK.fields.readBytesPerS]: 1e8 + i, [DISK.fields.writeBytesPerS]: 5e7, [DISK.fields.readIops]: 2000, [DISK.fields.writeIops]: 800, [DISK.fields.busyPct]: 20 + (i % 7) }, timeMs });
  }
  for (const iface of IFACES) {
    out.push({ measurement: MEASUREMENT.net, tags: { ...tags, [NET.tags.iface]: iface }, fields: { [NET.fields.rxBytesPerS]: 1e9 + i, [NET.fields.txBytesPerS]: 8e8 }, timeMs });
  }
  for (let g = 0; g < GPUS; g++) {
    const util = 70 + 25 * Math.sin(i / 40 + g + seed);
    out.push({
      measurement: MEASUREMENT.gpu,
      tags: { ...tags, [GPU.tags.gpu]: String(g), [GPU.tags.gpuName]: 'NVIDIA H100 80GB HBM3' },
      fields: { [GPU.fields.utilPct]: util, [GPU.fields.memUsedBytes]: 6e10, [GPU.fields.memTotalBytes]: 8.5e10, [GPU.fields.memUtilPct]: util * 0.6, [GPU.fields.tempC]: 60 + util / 5, [GPU.fields.smClockMhz]: 1980 },
      timeMs,
    });
  }
  return out;
}

/** The host record its collector writes at start and every minute. */
export function hostRecordOf(host: string, timeMs: number, startedAtMs: number, reportIntervalS = 1): Sample {
  return hostRecordSample({
    host,
    platform: PLATFORM,
    cpuModel: 'AMD EPYC 9654 96-Core Processor',
    gpus: Array.from({ length: GPUS }, (_, g) => ({ index: g, name: 'NVIDIA H100 80GB HBM3' })),
    sources: POWER_SOURCES,
    sampleHz: 10,
    reportIntervalS,
    flushIntervalS: 5,
    version: '0.1.0',
    clockOffsetS: 0,
    clockOffsetErrorS: 0.05,
    startedAtMs,
    timeMs,
  });
}

const log = logger('fleet-host');
const defaults = loadConfig({ HOME: '/nonexistent' }).collector;

/** One simulated host: its own spool directory, spool, dead letters, metrics, writer and sender. */
export class SimHost {
  readonly metrics = new CollectorMetrics();
  readonly spool: Spool;
  readonly sender: Sender;
  /** lines spooled so far (every point it generated) */
  generated = 0;
  /** durations of each write request (one batch), ms, with when it ended */
  readonly writes: Array<{ endedAt: number; ms: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private i = 0;
  private lastReportAt = 0;
  private readonly startedAt = Date.now();
  private readonly seed: number;

  constructor(
    readonly name: string,
    dir: string,
    store: InfluxStore,
    private readonly flushMs = defaults.flushIntervalS * 1000,
    private readonly reportMs = defaults.reportIntervalS * 1000,
  ) {
    mkdirSync(dir, { recursive: true });
    this.seed = [...name].reduce((a, c) => a + c.charCodeAt(0), 0);
    this.spool = new Spool({
      dir,
      maxBytes: defaults.spoolMaxBytes,
      memoryMaxBytes: defaults.spoolMemoryBytes,
      validate: (line) => lineProblem(line, COLLECTOR_MEASUREMENTS),
      onDrop: (n, reason) => this.metrics.pointsDropped.inc({ reason }, n),
    });
    // as the daemon makes it: no client retries, the spool keeps what was not taken
    const writer = store.writer({ maxRetries: 0, batchSize: 5000 });
    const flush = writer.flush.bind(writer);
    writer.flush = async () => {
      const t = performance.now();
      try {
        await flush();
      } finally {
        this.writes.push({ endedAt: Date.now(), ms: performance.now() - t });
      }
    };
    this.sender = new Sender(this.spool, writer, new DeadLetters(dir), this.metrics, log);
  }

  private emit(samples: Sample[]): void {
    this.generated += emitThroughSpool(samples, this.spool, this.metrics, this.sender, this.flushMs);
  }

  /** Starts reporting after `phaseMs` (hosts of a fleet send at every phase of the flush interval). */
  start(phaseMs: number): void {
    this.timer = setTimeout(() => {
      this.lastReportAt = Date.now();
      this.emit([hostRecordOf(this.name, this.lastReportAt, this.startedAt)]);
      this.sender.kick();
      this.timer = setInterval(() => this.report(), this.reportMs);
    }, phaseMs);
  }

  private report(): void {
    const now = Date.now();
    const intervalS = (now - this.lastReportAt) / 1000;
    this.lastReportAt = now;
    this.i++;
    const samples = reportSamples(this.name, this.seed, this.i, now, intervalS);
    // the host record, every minute with the rediscovery
    if (this.i % 60 === 0) samples.push(hostRecordOf(this.name, now, this.startedAt));
    this.emit(samples);
  }

  /** Stops reporting; what is spooled stays to be drained. */
  stopReporting(): void {
    clearTimeout(this.timer);
    clearInterval(this.timer);
  }

  /** Sends what is left (as the daemon does at shutdown), then closes the spool. */
  async drain(deadlineMs: number): Promise<boolean> {
    const done = await this.sender.flush(deadlineMs);
    this.sender.stop();
    this.spool.close();
    return done;
  }

  async writeErrors(): Promise<number> {
    return (await this.metrics.writeErrors.get()).values.reduce((a, v) => a + v.value, 0);
  }

  async pointsWritten(): Promise<number> {
    return (await this.metrics.pointsWritten.get()).values.reduce((a, v) => a + v.value, 0);
  }

  async pointsLost(): Promise<number> {
    const dropped = (await this.metrics.pointsDropped.get()).values.reduce((a, v) => a + v.value, 0);
    const dead = (await this.metrics.pointsDeadLettered.get()).values.reduce((a, v) => a + v.value, 0);
    return dropped + dead;
  }
}
