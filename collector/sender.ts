/**
 * Sends the spool to InfluxDB in order, one batch at a time, and advances the spool's cursor
 * only after InfluxDB accepted the batch. While InfluxDB is unreachable it backs off
 * (1 s doubling to 30 s) and the points wait in the spool.
 */
import type { Logger } from '../common/log.js';
import { StorageError } from '../common/storage/errors.js';
import type { Writer } from '../common/storage/store.js';
import type { CollectorMetrics } from './metrics.js';
import type { Spool } from './spool.js';

export class Sender {
  private inFlight: Promise<void> | undefined;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private wasDown = false;
  private stopped = false;

  constructor(
    private readonly spool: Spool,
    private readonly writer: Writer,
    private readonly metrics: CollectorMetrics,
    private readonly log: Logger,
    private readonly batchLines = 5000,
  ) {}

  private flushTimer: NodeJS.Timeout | undefined;
  private lastSendAt = 0;

  /** Asks for a send within `flushMs` of the last one (points wait in the spool meanwhile). */
  kickWithin(flushMs: number): void {
    if (this.stopped || this.flushTimer) return;
    const wait = this.lastSendAt + flushMs - Date.now();
    if (wait <= 0) return this.kick();
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.kick();
    }, wait);
    this.flushTimer.unref();
  }

  /** Asks for a send now; at most one runs at a time. */
  kick(): void {
    if (this.stopped || this.inFlight || this.retryTimer) return;
    this.lastSendAt = Date.now();
    this.inFlight = this.drain().finally(() => {
      this.inFlight = undefined;
    });
  }

  /** Sends until the spool is empty or a write fails; returns true if it emptied the spool. */
  private async drain(): Promise<void> {
    while (!this.stopped) {
      const batch = this.spool.peek(this.batchLines);
      if (!batch) break;
      this.writer.writeLines(batch.lines);
      try {
        await this.writer.flush();
      } catch (e) {
        this.onFailure(e);
        return;
      }
      this.spool.commit(batch.end);
      this.metrics.pointsWritten.inc(batch.lines.length);
      this.metrics.lastWriteAt = Date.now();
      if (this.wasDown) {
        this.log.info('InfluxDB is reachable again; spooled points are being sent');
        this.wasDown = false;
      }
      this.backoffMs = 0;
    }
    this.metrics.spoolBytes.set(this.spool.pendingBytes);
  }

  private onFailure(e: unknown): void {
    const code = e instanceof StorageError ? e.code : 'unknown';
    this.metrics.writeErrors.inc({ code });
    this.metrics.spoolBytes.set(this.spool.pendingBytes);
    if (!this.wasDown) {
      this.log.warn('cannot write to InfluxDB; points are kept in the spool and sent once it is back', { error: e });
      this.wasDown = true;
    }
    this.backoffMs = Math.min(30_000, this.backoffMs ? this.backoffMs * 2 : 1000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.backoffMs);
    this.retryTimer.unref();
  }

  /** Tries to send everything left before `deadlineMs`; what is not sent stays in the spool. */
  async flush(deadlineMs: number): Promise<boolean> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    while (Date.now() < deadlineMs) {
      await this.inFlight;
      if (!this.spool.peek(1)) return true;
      this.kick();
      await this.inFlight;
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadlineMs - Date.now()))));
      }
    }
    return !this.spool.peek(1);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.flushTimer);
  }
}
