/**
 * The measuring service: a run's energy, scores' inputs and steady part at a moment. It owns
 * waiting for the collectors' last points after a run's end (DESIGN §5: what the user reads when
 * a run ends must be final), gathers everything the measurement reads in one batch of named
 * queries (../repo/measurement.ts) and hands it to the pure measurement (../domain/measure.ts).
 */
import { logger } from '../../common/log.js';
import type { HostRecord } from '../../common/host-record.js';
import { arrivalBudgetMs, expectedSources, expectedWorkload, stillMissing, type ExpectedSource } from '../domain/arrival.js';
import { clockShifts, type ApiClock } from '../domain/clock.js';
import { latestRecords, measureRun } from '../domain/measure.js';
import type { Run } from '../domain/run-record.js';
import type { HostRepository } from '../repo/hosts.js';
import type { MeasurementReads } from '../repo/measurement.js';

const log = logger('api');

export interface MeasuringOptions {
  /** g CO₂ per kWh of hosts whose collectors say none */
  gridIntensity: number;
  /**
   * The most a stop (or a baseline) waits for the collectors' last points past its end: each
   * host's flush and report intervals plus a margin, bounded by this. 0 never waits (tests that
   * drive the clock themselves).
   */
  maxWaitMs: number;
  /** how often the arrival of the last points is checked while waiting */
  pollMs?: number | undefined;
  /** this API's clock minus InfluxDB's, seconds, with its error (for hosts whose clock is off) */
  apiClock?: (() => ApiClock | undefined) | undefined;
  /** told how long each measurement's reads took, in seconds */
  observeEnergyQuery?: ((seconds: number) => void) | undefined;
}

/** What a stop waited for and what it found. */
export interface Arrival {
  waitedMs: number;
  /** expected sources that sent nothing past the end within the wait */
  silent: ExpectedSource[];
}

export class MeasuringService {
  constructor(
    private readonly reads: MeasurementReads,
    private readonly hosts: HostRepository,
    private readonly opts: MeasuringOptions,
  ) {}

  /**
   * Energy, coverage, host metrics and net energy of a run's window ending at `endMs` (a running
   * run so far). The sources expected are the ones the hosts' records list over the window: one
   * that sent nothing makes the run partial (coverage 0 for that source) instead of vanishing.
   */
  measure(run: Run, endMs: number): Promise<Run> {
    return this.measureWith(run, endMs, undefined, false);
  }

  /**
   * A run's figures at its end, with its steady part (inference and training runs; baselines
   * have none). `wait`: first wait until the collectors' points that cover the end have arrived.
   */
  async measureEnded(run: Run, endMs: number, options: { wait?: boolean } = {}): Promise<Run> {
    // without a wait the host records come in the measurement's own batch
    const records = options.wait && this.opts.maxWaitMs > 0 ? (await this.awaitArrival(run.hosts, run.started_at_ms, endMs)).records : undefined;
    const measured = await this.measureWith(run, endMs, records, run.kind === 'inference' || run.kind === 'training');
    return { ...measured, ended_at_ms: endMs };
  }

  private async measureWith(run: Run, endMs: number, records: readonly HostRecord[] | undefined, steady: boolean): Promise<Run> {
    const started = performance.now();
    const inputs = await this.reads.gather({ run, endMs, records, steady, apiClock: this.opts.apiClock?.() });
    this.opts.observeEnergyQuery?.((performance.now() - started) / 1000);
    const { run: measured, unresolvedGpus } = measureRun({ ...inputs, gridIntensity: this.opts.gridIntensity });
    if (unresolvedGpus.length > 0) log.once(`unresolved:${run.run_id}`, 'warn', 'GPUs of a run’s scope are not on its hosts as their collectors list them; not counted', { run_id: run.run_id, gpus: unresolvedGpus.join(',') });
    return measured;
  }

  /**
   * Waits until every source the hosts' records list (and every serving endpoint they scrape
   * that wrote around the run) has a point that ends at or after `endMs` — the points that
   * cover a window's last seconds are up to a flush interval late — bounded by the hosts' flush
   * and report intervals plus a margin. Hosts with no record: the
   * sources already seen in the window are waited for, with the collector's default intervals.
   */
  async awaitArrival(hosts: readonly string[], t0: number, endMs: number): Promise<{ arrival: Arrival; records: HostRecord[] }> {
    const records = await this.hosts.during(hosts, t0, endMs);
    const maxWaitMs = this.opts.maxWaitMs;
    if (maxWaitMs <= 0) return { arrival: { waitedMs: 0, silent: [] }, records };
    const started = performance.now();
    let expected = expectedSources(records);
    const described = new Set(records.map((r) => r.host));
    const undescribed = hosts.filter((h) => !described.has(h));
    if (undescribed.length > 0) {
      // no record (a collector older than the record): what it sent in the window is what it reads
      const seen = await this.hosts.lastPoints(undescribed, t0);
      expected = [...expected, ...[...seen.keys()].map((k) => ({ host: k.split('\u0000')[0] ?? '', source: k.split('\u0000')[1] ?? '', domain: '', method: '' }))];
    }
    const latest = latestRecords(records);
    const apiClock = this.opts.apiClock?.();
    // a host whose clock is off is waited for in its own clock (../domain/clock.ts)
    const shifts = clockShifts(hosts, latest, apiClock);
    const since = t0 - 60_000 + Math.min(0, ...shifts.shiftMs.values());
    // the serving endpoints whose servers wrote around the run (or whose collector started since,
    // its first points perhaps not in): their points that cover its end are waited for too
    let last = await this.hosts.lastPoints(hosts, since);
    expected = [...expected, ...expectedWorkload(records, last, since)];
    if (expected.length === 0) return { arrival: { waitedMs: 0, silent: [] }, records };
    const budgetMs = arrivalBudgetMs(hosts, latest, maxWaitMs, apiClock?.offsetS, shifts);
    const pollMs = this.opts.pollMs ?? 250;
    for (;;) {
      const missing = stillMissing(expected, last, endMs, shifts);
      const waited = performance.now() - started;
      if (missing.length === 0 || waited >= budgetMs) return { arrival: { waitedMs: waited, silent: missing }, records };
      await new Promise((r) => setTimeout(r, Math.min(pollMs, budgetMs - waited)));
      last = await this.hosts.lastPoints(hosts, since);
    }
  }
}
