/**
 * The dead-letter file beside the spool (`dead-letter.lp`): points that must not block the ones
 * behind them — refused by InfluxDB for good (a field-type conflict, outside a bucket's
 * retention) or unreadable in the spool (a bad byte) — are kept here, each group after a
 * `# <time> <reason>` comment line, so that a person can read why, fix and re-import them
 * (`influx write` and `curl --data-binary @file` skip comment lines). Bounded: past `maxBytes`
 * points are only counted.
 */
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const DEAD_LETTER_FILE = 'dead-letter.lp';

export class DeadLetters {
  readonly path: string;
  private size: number;

  constructor(
    dir: string,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {
    this.path = join(dir, DEAD_LETTER_FILE);
    try {
      this.size = existsSync(this.path) ? statSync(this.path).size : 0;
    } catch {
      this.size = 0; // a failing disk: add() finds out, and says false
    }
  }

  /** Appends lines under one reason; false when they could not be kept (bound, disk). */
  add(lines: readonly string[], reason: string): boolean {
    if (lines.length === 0) return true;
    const text = `# ${new Date().toISOString()} ${reason.replace(/[\r\n]+/g, ' ').slice(0, 2000)}\n${lines.map((l) => l.replace(/[\r\n]/g, ' ')).join('\n')}\n`;
    const data = Buffer.from(text);
    if (this.size + data.length > this.maxBytes) return false;
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'a');
      for (let written = 0; written < data.length; ) written += writeSync(fd, data, written);
      this.size += data.length;
      return true;
    } catch {
      return false;
    } finally {
      try {
        if (fd !== undefined) closeSync(fd);
      } catch {
        // released whatever close reports
      }
    }
  }
}
