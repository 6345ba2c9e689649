/** The collector's own metrics (prom-client) and its power readings as gauges. */
import { Counter, Gauge, Registry } from 'prom-client';

export class CollectorMetrics {
  readonly registry = new Registry();
  readonly sourceDuration = new Gauge({
    name: 'wattscope_collector_source_duration_seconds',
    help: 'Time spent reading each source during the last report interval.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly sourceSuccess = new Gauge({
    name: 'wattscope_collector_source_success',
    help: '1 if every read of the source succeeded in the last report interval, else 0.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly pointsWritten = new Counter({ name: 'wattscope_collector_points_written_total', help: 'Points accepted by InfluxDB.', registers: [this.registry] });
  readonly pointsSpooled = new Counter({ name: 'wattscope_collector_points_spooled_total', help: 'Points appended to the on-disk spool (every point goes through it).', registers: [this.registry] });
  readonly pointsDropped = new Counter({
    name: 'wattscope_collector_points_dropped_total',
    help: 'Points dropped because the spool reached its bound (oldest first).',
    registers: [this.registry],
  });
  readonly spoolBytes = new Gauge({ name: 'wattscope_collector_spool_bytes', help: 'Bytes of unsent points in the spool.', registers: [this.registry] });
  readonly writeErrors = new Counter({ name: 'wattscope_collector_write_errors_total', help: 'Failed writes to InfluxDB.', labelNames: ['code'], registers: [this.registry] });
  readonly skippedTicks = new Counter({ name: 'wattscope_collector_skipped_ticks_total', help: 'Sample ticks skipped because the previous one was still running.', registers: [this.registry] });
  readonly counterWraps = new Counter({ name: 'wattscope_collector_counter_wraps_total', help: 'Energy counter wraps undone.', labelNames: ['source'], registers: [this.registry] });
  readonly power = new Gauge({
    name: 'wattscope_power_watts',
    help: 'Average power of each source over the last report interval.',
    labelNames: ['source', 'domain', 'method', 'in_total'],
    registers: [this.registry],
  });
  lastWriteAt: number | undefined;
  readonly lastWriteAge: Gauge = new Gauge({
    name: 'wattscope_collector_last_write_age_seconds',
    help: 'Seconds since the last successful write to InfluxDB (-1: none yet).',
    registers: [this.registry],
    collect: () => {
      this.lastWriteAge.set(this.lastWriteAt === undefined ? -1 : (Date.now() - this.lastWriteAt) / 1000);
    },
  });

  // prom-client's default metrics are left out: their event-loop monitor wakes the process
  // many times a second, which costs more than the collector itself. These two are computed
  // only when scraped.
  readonly processCpu: Gauge = new Gauge({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time of the collector process, in seconds.',
    registers: [this.registry],
    collect: () => {
      const u = process.cpuUsage();
      this.processCpu.set((u.user + u.system) / 1e6);
    },
  });
  readonly processRss: Gauge = new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory of the collector process.',
    registers: [this.registry],
    collect: () => {
      this.processRss.set(process.memoryUsage.rss());
    },
  });
}
