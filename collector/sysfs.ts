/** Small synchronous readers for procfs/sysfs files (sysfs reads do not block on disk). */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** An integer file such as energy_uj; undefined if absent or not a number. */
export function readNumber(path: string): number | undefined {
  const text = readTrimmed(path);
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

export function errnoCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * A sysfs attribute read again and again (an energy counter at 100 Hz): the file stays open
 * and each read is one pread at offset 0 into a reused buffer, instead of open/read/close and
 * a new string every time. Errors are thrown as from readFileSync (EACCES stays EACCES).
 */
export class AttributeReader {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(64);
  constructor(readonly path: string) {}
  /** One pread from offset 0 into the buffer: the bytes read. */
  private readBytes(): number {
    try {
      this.fd ??= openSync(this.path, 'r');
      return readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch (e) {
      this.close();
      throw e;
    }
  }
  /** The attribute's text, trimmed (a short word such as a battery's `Discharging`). */
  readString(): string {
    return this.buf.toString('latin1', 0, this.readBytes()).trim();
  }
  /**
   * The attribute as a number; undefined when it is empty or not a number. A plain decimal
   * integer (energy_uj, power1_average: nearly every read) is parsed from the bytes, without a
   * string; anything else goes through Number().
   */
  readNumber(): number | undefined {
    const n = this.readBytes();
    const buf = this.buf;
    let end = n;
    while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x20)) end--;
    if (end > 0 && end <= 15) {
      let v = 0;
      let i = 0;
      for (; i < end; i++) {
        const c = buf[i] as number;
        if (c < 0x30 || c > 0x39) break;
        v = v * 10 + (c - 0x30);
      }
      if (i === end) return v;
    }
    const text = buf.toString('latin1', 0, n).trim();
    if (text === '') return undefined;
    const v = Number(text);
    return Number.isFinite(v) ? v : undefined;
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A procfs file read once per report interval (/proc/stat, /proc/meminfo, /proc/diskstats,
 * /proc/net/dev): kept open and read with pread from offset 0 (procfs builds the text afresh
 * for each read from the start) into a reused buffer that grows to the file's size, instead of
 * open/fstat/read/close every time. Errors are thrown as from readFileSync.
 */
export class ProcFile {
  private fd: number | undefined;
  private buf = Buffer.allocUnsafe(8192);
  constructor(readonly path: string) {}
  read(): string {
    let n = 0;
    try {
      this.fd ??= openSync(this.path, 'r');
      for (;;) {
        if (n === this.buf.length) {
          const bigger = Buffer.allocUnsafe(this.buf.length * 2);
          this.buf.copy(bigger, 0, 0, n);
          this.buf = bigger;
        }
        const got = readSync(this.fd, this.buf, n, this.buf.length - n, n);
        if (got === 0) break;
        n += got;
      }
    } catch (e) {
      this.close();
      throw e;
    }
    return this.buf.toString('utf8', 0, n);
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
