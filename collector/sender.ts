/**
 * Sends the spool to InfluxDB in order, one batch at a time, and advances the spool's cursor
 * only after InfluxDB took the batch.
 *
 * - What can succeed later (InfluxDB down, 5xx, 429, a missing database or bucket, refused
 *   credentials) is retried with backoff (1 s doubling to 15 s); the points wait in the spool.
 * - What InfluxDB refuses for good (400, 413, 422: a field-type conflict, a point outside a
 *   bucket's retention) is split in halves until the refused lines are found; those go to the
 *   dead-letter file with the server's message, and everything else is sent. A refused batch
 *   never blocks the points behind it.
 * - Lines the spool cannot read back as points go to the dead-letter file too.
 */
import type { Logger } from '../common/log.js';
import { StorageError } from '../common/storage/errors.js';
import type { Writer } from '../common/storage/store.js';
import type { DeadLetters } from './dead-letter.js';
import type { CollectorMetrics, DEAD_LETTER_REASONS } from './metrics.js';
import type { Spool } from './spool.js';

/** InfluxDB refused these lines for good (not worth retrying as they are). */
const REFUSED_FOR_GOOD = new Set([400, 413, 422]);

export class Sender {
  private inFlight: Promise<void> | undefined;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private wasDown = false;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastSendAt = 0;
  /** the last failure while InfluxDB does not take points, for /healthz */
  lastError: string | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly writer: Writer,
    private readonly deadLetters: DeadLetters,
    private readonly metrics: CollectorMetrics,
    private readonly log: Logger,
    private readonly batchLines = 5000,
  ) {}

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

  /** Sends until the spool is empty or a write fails in a way worth retrying. */
  private async drain(): Promise<void> {
    while (!this.stopped) {
      const batch = this.spool.peek(this.batchLines);
      if (!batch) break;
      if (batch.corrupt.length > 0) {
        for (const c of batch.corrupt) this.deadLetter([c.line], 'corrupt', `unreadable in the spool (${c.why})`);
      }
      try {
        if (batch.lines.length > 0) await this.send(batch.lines);
      } catch (e) {
        this.onFailure(e);
        return;
      }
      this.spool.commit(batch.end, batch.memoryEnd);
      this.metrics.lastWriteAt = Date.now();
      if (this.wasDown) {
        this.log.info('InfluxDB takes points again; spooled points are being sent');
        this.wasDown = false;
      }
      this.metrics.unreachableSince = undefined;
      this.lastError = undefined;
      this.backoffMs = 0;
    }
    this.metrics.spoolBytes.set(this.spool.pendingBytes);
    this.metrics.spoolMemoryPoints.set(this.spool.memoryLines);
  }

  /**
   * Writes lines; a refusal for good is narrowed down by halves to the refused lines, which
   * are dead-lettered. Throws what is worth retrying (the whole batch is sent again then; what
   * already landed is overwritten with itself).
   */
  private async send(lines: readonly string[]): Promise<void> {
    this.writer.writeLines(lines);
    try {
      await this.writer.flush();
      this.metrics.pointsWritten.inc(lines.length);
    } catch (e) {
      if (!(e instanceof StorageError) || e.code !== 'write' || !REFUSED_FOR_GOOD.has(e.status ?? 0)) throw e;
      if (lines.length === 1) {
        this.deadLetter(lines, 'refused', `refused by InfluxDB (${e.status}): ${serverMessage(e)}`);
        return;
      }
      const half = Math.ceil(lines.length / 2);
      await this.send(lines.slice(0, half));
      await this.send(lines.slice(half));
    }
  }

  private deadLetter(lines: readonly string[], reason: (typeof DEAD_LETTER_REASONS)[number], why: string): void {
    const kept = this.deadLetters.add(lines, why);
    this.metrics.pointsDeadLettered.inc({ reason }, lines.length);
    if (!kept) this.metrics.pointsDropped.inc({ reason: 'dead_letter_full' }, lines.length);
    this.log.once(
      `dead-letter:${reason}`,
      'warn',
      `${reason === 'refused' ? 'InfluxDB refused points for good' : 'points in the spool are unreadable'}; they are put aside in ${this.deadLetters.path} and the others are sent (later ones are only counted: wattscope_collector_points_dead_lettered_total)`,
      { why, lines: lines.length, kept },
    );
  }

  private onFailure(e: unknown): void {
    const code = e instanceof StorageError ? e.code : 'unknown';
    this.metrics.writeErrors.inc({ code });
    this.metrics.spoolBytes.set(this.spool.pendingBytes);
    this.metrics.unreachableSince ??= Date.now();
    this.lastError = e instanceof Error ? e.message : String(e);
    if (!this.wasDown) {
      this.log.warn('cannot write to InfluxDB; points are kept in the spool and sent once it takes them', { error: e });
      this.wasDown = true;
    }
    this.backoffMs = Math.min(15_000, this.backoffMs ? this.backoffMs * 2 : 1000);
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

/** The server's own words, without the advice our error messages add. */
function serverMessage(e: StorageError): string {
  return e.message.replace(/^InfluxDB rejected the data \(\d+\): /, '');
}
