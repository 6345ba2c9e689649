/**
 * The on-disk spool: every point is appended here before it is sent, and sent from here in
 * order. A cursor file remembers how far InfluxDB has accepted, so points survive an outage of
 * InfluxDB, a SIGTERM and a SIGKILL alike; a replay after a crash may send a batch twice, which
 * InfluxDB absorbs (a point with the same series and timestamp overwrites itself).
 *
 * Layout: `seg-<16 digits>.lp` segment files of line protocol (one point per line) and
 * `cursor.json` ({ seq, offset } of the first unsent byte). Bounded by `maxBytes`: past it the
 * oldest segment is dropped first, sent or not, and its lines are counted as dropped.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Cursor {
  seq: number;
  offset: number;
}

export interface Batch {
  lines: string[];
  end: Cursor;
}

const SEGMENT = /^seg-(\d{16})\.lp$/;
const segName = (seq: number) => `seg-${String(seq).padStart(16, '0')}.lp`;

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes?: number;
  onDrop?: (lines: number) => void;
  /**
   * How often the cursor reaches the disk (default 5 s; always at close). After a crash the
   * points sent since are sent again: harmless, InfluxDB overwrites a point with itself.
   */
  cursorSyncMs?: number;
}

const CURSOR_BYTES = 96;

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
  droppedLines = 0;

  constructor(private readonly opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.cursorSyncMs = opts.cursorSyncMs ?? 5000;
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(opts.maxBytes / 16)));
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      const m = SEGMENT.exec(f);
      if (m) this.segments.push(Number(m[1]));
    }
    this.segments.sort((a, b) => a - b);
    for (const seq of this.segments) this.sizes.set(seq, statSync(this.path(seq)).size);
    this.cursor = this.readCursor();
    this.repairTail();
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
      return first;
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
    } finally {
      closeSync(fd);
    }
  }

  /** Bytes not yet sent. */
  get pendingBytes(): number {
    let total = 0;
    for (const seq of this.segments) {
      if (seq < this.cursor.seq) continue;
      total += (this.sizes.get(seq) ?? 0) - (seq === this.cursor.seq ? this.cursor.offset : 0);
    }
    return Math.max(0, total);
  }

  get totalBytes(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  /** Appends lines (each a complete point) durably enough to survive a crash of this process. */
  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const data = Buffer.from(lines.join('\n') + '\n');
    let seq = this.segments[this.segments.length - 1];
    if (seq === undefined || (this.sizes.get(seq) ?? 0) >= this.segmentBytes) {
      seq = (seq ?? this.cursor.seq - 1) + 1;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      this.segments.push(seq);
      this.sizes.set(seq, 0);
    }
    this.fd ??= openSync(this.path(seq), 'a');
    writeSync(this.fd, data);
    this.sizes.set(seq, (this.sizes.get(seq) ?? 0) + data.length);
    this.enforceBound();
  }

  /** Drops the oldest segments while the spool is over its bound. */
  enforceBound(): void {
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments.shift() as number;
      if (oldest >= this.cursor.seq) {
        const lines = this.countLines(oldest, oldest === this.cursor.seq ? this.cursor.offset : 0);
        this.droppedLines += lines;
        this.opts.onDrop?.(lines);
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

  /** Up to `maxLines` unsent lines from the cursor on, and the cursor just after them. */
  peek(maxLines: number, maxBytes = 4 * 1024 * 1024): Batch | undefined {
    let { seq, offset } = this.cursor;
    while (true) {
      const size = this.sizes.get(seq);
      if (size === undefined || offset >= size) {
        const next = this.segments.find((s) => s > seq);
        if (next === undefined) return undefined;
        seq = next;
        offset = 0;
        continue;
      }
      const length = Math.min(size - offset, maxBytes);
      const buf = Buffer.alloc(length);
      readSync(this.readerFor(seq), buf, 0, length, offset);
      const lines: string[] = [];
      let pos = 0;
      while (lines.length < maxLines) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl < 0) break;
        if (nl > pos) lines.push(buf.toString('utf8', pos, nl));
        pos = nl + 1;
      }
      if (pos === 0) return undefined; // a line longer than maxBytes cannot be: points are small
      return { lines, end: { seq, offset: offset + pos } };
    }
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

  /** Marks everything before `end` as sent; removes segments that are wholly sent. */
  commit(end: Cursor): void {
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
    this.cursorFd ??= openSync(join(this.dir, 'cursor.json'), 'w');
    writeSync(this.cursorFd, JSON.stringify(this.cursor).padEnd(CURSOR_BYTES - 1) + '\n', 0);
    this.cursorSavedAt = Date.now();
    this.cursorDirty = false;
  }

  close(): void {
    if (this.cursorDirty) this.saveCursor();
    for (const fd of [this.fd, this.cursorFd, this.reader?.fd]) if (fd !== undefined) closeSync(fd);
    this.fd = undefined;
    this.cursorFd = undefined;
    this.reader = undefined;
  }
}
