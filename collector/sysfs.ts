/**
 * Small synchronous readers for procfs/sysfs files (sysfs reads do not block on disk).
 *
 * Everything read here is input from outside: a driver's text may be padded with NULs (a real
 * amdgpu `name` file is "amdgpu\n" and then NULs to the page's end), cut short, garbage, huge
 * (a file that is not a sysfs attribute), or gone between discovery and read. Text is cut at
 * its first NUL or newline, refused with control characters or past a length bound; numbers
 * are plain decimals and finite, or nothing.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

/** A sysfs attribute is at most a page: anything longer is not one, and is not read whole. */
export const ATTRIBUTE_MAX_BYTES = 4096;

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** A whole procfs file's text (/proc/cpuinfo), or undefined when it cannot be read. */
export function readTextOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** At most `max` bytes of a file from its start; `truncated` when there was more. Throws as readFileSync. */
export function readBounded(path: string, max: number = ATTRIBUTE_MAX_BYTES): { bytes: Buffer; truncated: boolean } {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    return { bytes: buf.subarray(0, Math.min(n, max)), truncated: n > max };
  } finally {
    closeSync(fd);
  }
}

/** The end of an attribute's value: its first NUL or newline, else its length. */
function valueEnd(buf: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) if (buf[i] === 0x00 || buf[i] === 0x0a) return i;
  return n;
}

/** Sensor text: a chip's `name`, a label, a model name. The default bound suits every name a driver gives. */
export const SENSOR_TEXT_MAX = 128;

export type SensorText = { text: string; problem?: undefined } | { text?: undefined; problem: string };

/**
 * Sensor text as it may become a tag or an id: cut at the first NUL or newline, trimmed; refused
 * (with why) when empty, longer than `max`, holding control characters or a replacement
 * character (bytes that are not UTF-8), or ending with a backslash (line protocol cannot carry
 * that in a tag).
 */
export function sensorText(raw: string, max: number = SENSOR_TEXT_MAX): SensorText {
  let end = raw.length;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0 || c === 0x0a) {
      end = i;
      break;
    }
  }
  const text = raw.slice(0, end).trim();
  if (text === '') return { problem: 'it is empty' };
  if (text.length > max) return { problem: `it is longer than ${max} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ufffd]/.test(text)) return { problem: `it holds control characters or bytes that are not text (${JSON.stringify(text.slice(0, 40))})` };
  if (text.endsWith('\\')) return { problem: 'it ends with a backslash' };
  return { text };
}

/** A sysfs text attribute: undefined when the file is absent or unreadable; else its text or why it is unusable. */
export function readSensorText(path: string, max: number = SENSOR_TEXT_MAX): SensorText | undefined {
  let read: { bytes: Buffer; truncated: boolean };
  try {
    read = readBounded(path);
  } catch {
    return undefined;
  }
  const end = valueEnd(read.bytes, read.bytes.length);
  if (read.truncated && end === read.bytes.length) return { problem: `it is longer than ${ATTRIBUTE_MAX_BYTES} bytes: not a sysfs attribute` };
  return sensorText(read.bytes.toString('utf8', 0, end), max);
}

/** A short word of an attribute (a battery's `Discharging`), or undefined: absent, unreadable or not text. */
export function readTrimmed(path: string): string | undefined {
  return readSensorText(path)?.text;
}

/** A plain decimal number: digits, an optional sign and fraction; anything else (hex, exponents, words) is not one. */
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;

/**
 * The number in an attribute's first `n` bytes: cut at the first NUL or newline, trimmed; NaN
 * when what is there is not a plain finite decimal; undefined when nothing is. A value that
 * fills the whole buffer (`full`) is longer than any attribute's number and is refused (NaN).
 */
function parseAttributeNumber(buf: Buffer, n: number, full: boolean): number | undefined {
  const end = valueEnd(buf, n);
  if (full && end === n) return NaN;
  // nearly every read: a plain decimal integer (energy_uj, power1_input), parsed from the bytes without a string
  let stop = end;
  while (stop > 0 && buf[stop - 1] === 0x20) stop--;
  if (stop > 0 && stop <= 15) {
    let v = 0;
    let i = 0;
    for (; i < stop; i++) {
      const c = buf[i] as number;
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
    }
    if (i === stop) return v;
  }
  const text = buf.toString('latin1', 0, end).trim();
  if (text === '') return undefined;
  if (!DECIMAL.test(text)) return NaN;
  const v = Number(text);
  return Number.isFinite(v) ? v : NaN;
}

/** An integer file such as energy_uj; undefined if absent, empty or not a finite decimal number. */
export function readNumber(path: string): number | undefined {
  let read: { bytes: Buffer; truncated: boolean };
  try {
    read = readBounded(path, 64);
  } catch {
    return undefined;
  }
  const v = parseAttributeNumber(read.bytes, read.bytes.length, read.truncated);
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

/**
 * Why a numeric attribute cannot be read as a sensor value now, or undefined when it can:
 * for the one warning that names the file when a channel is skipped at discovery.
 */
export function numberProblem(path: string): string | undefined {
  let read: { bytes: Buffer; truncated: boolean };
  try {
    read = readBounded(path, 64);
  } catch (e) {
    return `it cannot be read (${errnoCode(e) ?? String(e)})`;
  }
  const v = parseAttributeNumber(read.bytes, read.bytes.length, read.truncated);
  if (v === undefined) return 'it is empty';
  if (Number.isNaN(v)) return `it is not a finite decimal number (${JSON.stringify(read.bytes.toString('latin1', 0, Math.min(valueEnd(read.bytes, read.bytes.length), 40)))})`;
  return undefined;
}

/**
 * Scanning procfs text without making strings: numberAt() reads the plain decimal integer at
 * or after an index (spaces and tabs skipped) and leaves its end in `scan.end`.
 */
export const scan = { end: 0 };

/** The decimal integer at or after `i` in `text` (leading blanks skipped); NaN where there is none. End in `scan.end`. */
export function numberAt(text: string, i: number): number {
  const n = text.length;
  let c = text.charCodeAt(i);
  while (i < n && (c === 0x20 || c === 0x09)) c = text.charCodeAt(++i);
  const start = i;
  let v = 0;
  while (i < n && c >= 0x30 && c <= 0x39) {
    v = v * 10 + (c - 0x30);
    c = text.charCodeAt(++i);
  }
  scan.end = i;
  return i === start ? NaN : v;
}

/** The index just past the end of the line at `i` (past its newline), or the text's length. */
export function nextLine(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl < 0 ? text.length : nl + 1;
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
  /** The attribute's text, cut at its first NUL or newline and trimmed (a short word such as a battery's `Discharging`). */
  readString(): string {
    const n = this.readBytes();
    return this.buf.toString('latin1', 0, valueEnd(this.buf, n)).trim();
  }
  /**
   * The attribute as a number: undefined when it is empty, NaN when it is not a plain finite
   * decimal (garbage, or longer than any attribute's number: it fills the buffer). A plain
   * decimal integer (energy_uj, power1_input: nearly every read) is parsed from the bytes,
   * without a string.
   */
  readNumber(): number | undefined {
    const n = this.readBytes();
    return parseAttributeNumber(this.buf, n, n === this.buf.length);
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** procfs texts read by shared readers since beginSharedReads(), by path */
const sharedTexts = new Map<string, string>();
let sharing = 0;

/**
 * Between these two (an agent's tick, in a try/finally), the shared readers of each procfs file
 * read it once between them: what the sources and run attribution read is of one moment.
 * Outside, every read reads the file.
 */
export function beginSharedReads(): void {
  sharing++;
}

export function endSharedReads(): void {
  if (--sharing === 0) sharedTexts.clear();
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
  constructor(
    readonly path: string,
    /**
     * between beginSharedReads() and endSharedReads() (an agent's tick), the text read is shared with every other shared
     * reader of the same path: the readers of one tick (/proc/stat: the cpu source, the CPU
     * estimate, run attribution) read the file once between them
     */
    private readonly shared = false,
  ) {}
  read(): string {
    if (!this.shared || sharing === 0) return this.readFile();
    const known = sharedTexts.get(this.path);
    if (known !== undefined) return known;
    const text = this.readFile();
    sharedTexts.set(this.path, text);
    return text;
  }
  private readFile(): string {
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
