/**
 * The on-disk spool: every point is appended here before it is sent, and sent from here in
 * order. A cursor file remembers how far InfluxDB has accepted, so points survive an outage of
 * InfluxDB, a SIGTERM and a SIGKILL alike; a replay after a crash may send a batch twice, which
 * InfluxDB absorbs (a point with the same series and timestamp overwrites itself).
 *
 * Layout: `seg-<16 digits>.lp` segment files of line protocol (one point per line) and
 * `cursor.json` ({ seq, offset } of the first unsent byte). Bounded by `maxBytes`: past it the
 * oldest segment is dropped first, sent or not, and its lines are counted as dropped.
 *
 * What the disk does wrong is survived, not crashed on:
 * - a full disk (ENOSPC) or another write error: the append is undone to the last whole line
 *   and the points wait in a bounded memory buffer (counted drops past it), which goes to disk
 *   as soon as the disk takes writes again, and is sent from memory meanwhile;
 * - a line that cannot be a point (a bad byte, a torn write): `peek` hands it apart as corrupt,
 *   so it can be put aside, and sending goes on after it;
 * - a cut tail (a power cut, a full disk at a crash): the half line is cut off at start, and a
 *   saved cursor that points past the end or into a line is brought back to a line boundary.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync, readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { errnoCode } from './sysfs.js';

export interface Cursor {
  seq: number;
  offset: number;
}

export interface CorruptLine {
  line: string;
  why: string;
}

export interface Batch {
  /** lines to send, in order */
  lines: string[];
  /** lines in the same stretch that cannot be points: put them aside, never send them */
  corrupt: CorruptLine[];
  /** the cursor just after the batch */
  end: Cursor;
  /** set when the batch came from the memory buffer: the id of its last line */
  memoryEnd?: number;
}

const SEGMENT = /^seg-(\d{16})\.lp$/;
const segName = (seq: number) => `seg-${String(seq).padStart(16, '0')}.lp`;

/** Why the spool drops points (counted in wattscope_collector_points_dropped_total{reason}) */
export const DROP_REASONS = ['spool_bound', 'memory_full', 'disk_full_at_exit'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes?: number;
  onDrop?: (lines: number, reason: DropReason) => void;
  /** a write to the disk failed (its errno code); the points are kept in memory */
  onDiskError?: (code: string, error: unknown) => void;
  /** the disk takes writes again; the points kept in memory went to it */
  onDiskRecovered?: (lines: number) => void;
  /** something found at start that had to be repaired */
  onRepair?: (what: string) => void;
  /** why a line read back cannot be a point, or undefined when it can */
  validate?: (line: string) => string | undefined;
  /**
   * How often the cursor reaches the disk (default 5 s; always at close). After a crash the
   * points sent since are sent again: harmless, InfluxDB overwrites a point with itself.
   */
  cursorSyncMs?: number;
  /** bound of the memory buffer used while the disk refuses writes (default 16 MiB) */
  memoryMaxBytes?: number;
  /** how often a refusing disk is tried again (default 1 s) */
  diskRetryMs?: number;
}

const CURSOR_BYTES = 96;
/** at most this much is read at once; a longer run of bytes without a newline is corrupt */
const MAX_READ = 4 * 1024 * 1024;

export class Spool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private segments: number[] = [];
  private sizes = new Map<number, number>();
  private fd: number | undefined;
  private cursor: Cursor;
  private cursorFd: number | undefined;
  private cursorSavedAt = 0;
  private cursorDirty = false;
  private readonly cursorSyncMs: number;
  private reader: { seq: number; fd: number } | undefined;
  /** lines the disk would not take, oldest first; the first has id `memoryBase` */
  private memory: string[] = [];
  private memoryBase = 0;
  private memoryBytes = 0;
  private readonly memoryMaxBytes: number;
  private diskFailedAt: number | undefined;
  droppedLines = 0;

  constructor(private readonly opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.cursorSyncMs = opts.cursorSyncMs ?? 5000;
    this.memoryMaxBytes = opts.memoryMaxBytes ?? 16 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(opts.maxBytes / 16)));
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      const m = SEGMENT.exec(f);
      if (m) this.segments.push(Number(m[1]));
    }
    this.segments.sort((a, b) => a - b);
    for (const seq of this.segments) this.sizes.set(seq, statSync(this.path(seq)).size);
    this.repairTail();
    this.cursor = this.checkedCursor(this.readCursor());
  }

  private path(seq: number): string {
    return join(this.dir, segName(seq));
  }

  private readCursor(): Cursor {
    const file = join(this.dir, 'cursor.json');
    const first: Cursor = { seq: this.segments[0] ?? 1, offset: 0 };
    if (!existsSync(file)) return first;
    try {
      // a torn write reads as bad JSON: then everything still spooled is sent again
      const c = JSON.parse(readFileSync(file, 'utf8').trim()) as Cursor;
      if (!Number.isInteger(c.seq) || !Number.isInteger(c.offset) || c.offset < 0) return first;
      // the cursor's segment may be gone (dropped for the bound): start at the oldest left
      if (!this.segments.includes(c.seq)) return c.seq < (this.segments[0] ?? Infinity) ? first : { seq: c.seq, offset: 0 };
      return c;
    } catch {
      this.opts.onRepair?.('the saved cursor was unreadable: everything still spooled is sent again (InfluxDB overwrites what it has)');
      return first;
    }
  }

  /**
   * The saved cursor must point at the start of a line inside its segment: a tail cut since it
   * was saved (and new lines appended there) would otherwise make sending start mid-line.
   */
  private checkedCursor(c: Cursor): Cursor {
    const size = this.sizes.get(c.seq);
    if (size === undefined || c.offset === 0) return c;
    if (c.offset > size) {
      this.opts.onRepair?.(`the saved cursor pointed past the end of ${segName(c.seq)} (cut since it was saved): sending resumes at its end`);
      return { seq: c.seq, offset: size };
    }
    const fd = openSync(this.path(c.seq), 'r');
    try {
      const one = Buffer.alloc(1);
      readSync(fd, one, 0, 1, c.offset - 1);
      if (one[0] === 0x0a) return c;
      // inside a line: the rest of that line is not a point of its own; resume at the next line
      const chunk = Buffer.alloc(Math.min(MAX_READ, size - c.offset));
      const n = readSync(fd, chunk, 0, chunk.length, c.offset);
      const nl = chunk.subarray(0, n).indexOf(0x0a);
      this.opts.onRepair?.(`the saved cursor pointed into a line of ${segName(c.seq)}: sending resumes at the next whole line`);
      return { seq: c.seq, offset: nl < 0 ? size : c.offset + nl + 1 };
    } finally {
      closeSync(fd);
    }
  }

  /** A crash mid-append can leave half a line at the end of the last segment: cut it off. */
  private repairTail(): void {
    const last = this.segments[this.segments.length - 1];
    if (last === undefined) return;
    const size = this.sizes.get(last) ?? 0;
    if (size === 0) return;
    const fd = openSync(this.path(last), 'r+');
    try {
      const tailLen = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(tailLen);
      readSync(fd, buf, 0, tailLen, size - tailLen);
      const nl = buf.lastIndexOf(0x0a);
      if (nl === tailLen - 1) return;
      const keep = nl < 0 ? size - tailLen : size - tailLen + nl + 1;
      ftruncateSync(fd, keep);
      this.sizes.set(last, keep);
      this.opts.onRepair?.(`cut ${size - keep} bytes of a half-written line off the end of ${segName(last)}`);
    } finally {
      closeSync(fd);
    }
  }

  /** Bytes not yet sent (on disk and in the memory buffer). */
  get pendingBytes(): number {
    let total = 0;
    for (const seq of this.segments) {
      if (seq < this.cursor.seq) continue;
      total += (this.sizes.get(seq) ?? 0) - (seq === this.cursor.seq ? this.cursor.offset : 0);
    }
    return Math.max(0, total) + this.memoryBytes;
  }

  get totalBytes(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  /** Points waiting in memory because the disk refused them. */
  get memoryLines(): number {
    return this.memory.length;
  }

  /**
   * Appends lines (each a complete point) durably enough to survive a crash of this process.
   * Never throws for the disk's sake: what the disk refuses waits in memory.
   */
  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    if (this.memory.length > 0) this.retryDisk();
    if (this.memory.length === 0 && this.writeToDisk(lines)) return;
    this.keepInMemory(lines);
  }

  /** One write of whole lines at the end of the last segment; on failure, nothing of it stays. */
  private writeToDisk(lines: readonly string[]): boolean {
    const data = Buffer.from(lines.join('\n') + '\n');
    let seq = this.segments[this.segments.length - 1];
    let before = seq === undefined ? 0 : (this.sizes.get(seq) ?? 0);
    try {
      if (seq === undefined || before >= this.segmentBytes) {
        const next = (seq ?? this.cursor.seq - 1) + 1;
        const fd = openSync(this.path(next), 'a');
        if (this.fd !== undefined) closeSync(this.fd);
        this.fd = fd;
        this.segments.push(next);
        this.sizes.set(next, 0);
        seq = next;
        before = 0;
      }
      this.fd ??= openSync(this.path(seq), 'a');
      // a short write (a disk filling up) is continued; an error undoes the whole append
      for (let written = 0; written < data.length; ) written += writeSync(this.fd, data, written);
    } catch (e) {
      if (this.fd !== undefined) {
        try {
          ftruncateSync(this.fd, before);
        } catch {
          // the start-up repair cuts a half line if this cannot
        }
      }
      this.diskFailedAt = Date.now();
      this.opts.onDiskError?.(errnoCode(e) ?? 'EIO', e);
      return false;
    }
    this.sizes.set(seq, before + data.length);
    this.enforceBound();
    return true;
  }

  /** Moves the memory buffer to disk once the disk takes writes again (tried at most every diskRetryMs). */
  private retryDisk(): void {
    if (this.diskFailedAt !== undefined && Date.now() - this.diskFailedAt < (this.opts.diskRetryMs ?? 1000)) return;
    const n = this.memory.length;
    if (!this.writeToDisk(this.memory)) return;
    this.memoryBase += n;
    this.memory = [];
    this.memoryBytes = 0;
    this.diskFailedAt = undefined;
    this.opts.onDiskRecovered?.(n);
  }

  private keepInMemory(lines: readonly string[]): void {
    let dropped = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line) + 1;
      if (this.memoryBytes + bytes > this.memoryMaxBytes) {
        dropped++;
        continue;
      }
      this.memory.push(line);
      this.memoryBytes += bytes;
    }
    if (dropped > 0) {
      this.droppedLines += dropped;
      this.opts.onDrop?.(dropped, 'memory_full');
    }
  }

  /** Drops the oldest segments while the spool is over its bound. */
  enforceBound(): void {
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments.shift() as number;
      if (oldest >= this.cursor.seq) {
        const lines = this.countLines(oldest, oldest === this.cursor.seq ? this.cursor.offset : 0);
        this.droppedLines += lines;
        this.opts.onDrop?.(lines, 'spool_bound');
        this.cursor = { seq: this.segments[0] as number, offset: 0 };
        this.saveCursor();
      }
      this.removeSegment(oldest);
    }
  }

  private countLines(seq: number, from: number): number {
    const buf = readFileSync(this.path(seq)).subarray(from);
    let n = 0;
    for (const b of buf) if (b === 0x0a) n++;
    return n;
  }

  /**
   * Up to `maxLines` unsent lines from the cursor on, and the cursor just after them; lines
   * that cannot be points come back apart, as `corrupt`. When the disk holds nothing unsent,
   * the lines waiting in memory.
   */
  peek(maxLines: number, maxBytes = MAX_READ): Batch | undefined {
    let { seq, offset } = this.cursor;
    while (true) {
      const size = this.sizes.get(seq);
      if (size === undefined || offset >= size) {
        const next = this.segments.find((s) => s > seq);
        if (next === undefined) return this.peekMemory(maxLines);
        seq = next;
        offset = 0;
        continue;
      }
      const length = Math.min(size - offset, maxBytes);
      const buf = Buffer.alloc(length);
      readSync(this.readerFor(seq), buf, 0, length, offset);
      const lines: string[] = [];
      const corrupt: CorruptLine[] = [];
      let pos = 0;
      while (lines.length + corrupt.length < maxLines) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl < 0) break;
        if (nl > pos) this.sort(buf.subarray(pos, nl), lines, corrupt);
        pos = nl + 1;
      }
      if (pos === 0) {
        // no newline in a whole read: bytes that cannot be a point (our lines are far shorter)
        const isLast = seq === this.segments[this.segments.length - 1];
        if (isLast && length < maxBytes) return this.peekMemory(maxLines);
        corrupt.push({ line: buf.toString('latin1', 0, Math.min(length, 256)) + '…', why: `${length} bytes without a line end` });
        pos = length;
      }
      return { lines, corrupt, end: { seq, offset: offset + pos } };
    }
  }

  private sort(bytes: Buffer, lines: string[], corrupt: CorruptLine[]): void {
    if (!isUtf8(bytes)) {
      corrupt.push({ line: bytes.toString('latin1'), why: 'not valid UTF-8' });
      return;
    }
    const line = bytes.toString('utf8');
    const why = this.opts.validate?.(line);
    if (why) corrupt.push({ line, why });
    else lines.push(line);
  }

  private peekMemory(maxLines: number): Batch | undefined {
    if (this.memory.length === 0) return undefined;
    const lines = this.memory.slice(0, maxLines);
    return { lines, corrupt: [], end: { ...this.cursor }, memoryEnd: this.memoryBase + lines.length - 1 };
  }

  private readerFor(seq: number): number {
    if (this.reader?.seq !== seq) {
      if (this.reader) closeSync(this.reader.fd);
      this.reader = { seq, fd: openSync(this.path(seq), 'r') };
    }
    return this.reader.fd;
  }

  private removeSegment(seq: number): void {
    if (this.reader?.seq === seq) {
      closeSync(this.reader.fd);
      this.reader = undefined;
    }
    rmSync(this.path(seq), { force: true });
    this.sizes.delete(seq);
  }

  /** Marks a batch as sent: everything before its end; segments wholly sent are removed. */
  commit(end: Cursor, memoryEnd?: number): void {
    if (memoryEnd !== undefined) {
      // lines moved to disk since the peek are sent again from there (InfluxDB overwrites them)
      const n = Math.min(this.memory.length, memoryEnd - this.memoryBase + 1);
      if (n > 0) {
        for (const line of this.memory.splice(0, n)) this.memoryBytes -= Buffer.byteLength(line) + 1;
        this.memoryBase += n;
      }
      return;
    }
    this.cursor = end;
    this.cursorDirty = true;
    if (Date.now() - this.cursorSavedAt >= this.cursorSyncMs) this.saveCursor();
    const last = this.segments[this.segments.length - 1];
    while (this.segments.length > 0 && (this.segments[0] as number) < end.seq) this.removeSegment(this.segments.shift() as number);
    // the segment being written stays; a wholly sent older one goes
    if (end.seq !== last && end.offset >= (this.sizes.get(end.seq) ?? Infinity)) {
      this.segments = this.segments.filter((s) => s !== end.seq);
      this.removeSegment(end.seq);
    }
  }

  /** Writes the cursor in place (fixed length, one write): no rename, no new file. */
  private saveCursor(): void {
    try {
      this.cursorFd ??= openSync(join(this.dir, 'cursor.json'), 'w');
      writeSync(this.cursorFd, JSON.stringify(this.cursor).padEnd(CURSOR_BYTES - 1) + '\n', 0);
      this.cursorSavedAt = Date.now();
      this.cursorDirty = false;
    } catch (e) {
      // kept dirty: saved at the next commit or at close; a crash meanwhile resends (harmless)
      this.opts.onDiskError?.(errnoCode(e) ?? 'EIO', e);
    }
  }

  close(): void {
    if (this.memory.length > 0) {
      // a last try: what the disk still refuses is lost with the process, and counted
      this.diskFailedAt = undefined;
      this.retryDisk();
      if (this.memory.length > 0) {
        this.droppedLines += this.memory.length;
        this.opts.onDrop?.(this.memory.length, 'disk_full_at_exit');
        this.memory = [];
        this.memoryBytes = 0;
      }
    }
    if (this.cursorDirty) this.saveCursor();
    for (const fd of [this.fd, this.cursorFd, this.reader?.fd]) if (fd !== undefined) closeSync(fd);
    this.fd = undefined;
    this.cursorFd = undefined;
    this.reader = undefined;
  }
}
