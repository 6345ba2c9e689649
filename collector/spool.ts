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
 * - a disk that fails reads too (EIO: a dying disk, a lost network volume): what is on it waits
 *   there, what arrives meanwhile is sent from memory; no call of the spool throws for it;
 * - a disk that fails from the start (a restart on a broken disk): the spool runs in memory
 *   only (`diskless`), and takes up its directory as soon as the disk works again;
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
export const DROP_REASONS = ['spool_bound', 'memory_full', 'disk_failed_at_exit'] as const;
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
  /**
   * bound of the copy in memory of the newest unsent lines (default 1 MiB: minutes of a large
   * host's points, far more than one flush interval's)
   */
  tailMaxBytes?: number;
}

/** A line appended to the disk and not yet sent, kept in memory too: where it lies on the disk. */
interface TailLine {
  seq: number;
  start: number;
  end: number;
  line: string;
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

  /**
   * The newest unsent lines, as written to the disk, oldest first: sending reads them from here
   * (no read of the disk while the sender keeps up), and they are still sent when the disk stops
   * reading (EIO). Bounded by `tailMaxBytes`: past it, the oldest are left to the disk alone.
   */
  private tail: TailLine[] = [];
  private tailHead = 0;
  private tailBytes = 0;
  private readonly tailMaxBytes: number;
  /** what the disk did wrong last, while it does: for /healthz */
  diskFailure: { code: string; since: number } | undefined;
  /** true while the spool's directory could not even be read: points live in memory only */
  diskless = false;

  constructor(private readonly opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.cursorSyncMs = opts.cursorSyncMs ?? 5000;
    this.memoryMaxBytes = opts.memoryMaxBytes ?? 16 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(opts.maxBytes / 16)));
    this.tailMaxBytes = opts.tailMaxBytes ?? 1024 * 1024;
    this.cursor = { seq: 1, offset: 0 };
    try {
      this.loadDisk();
    } catch (e) {
      this.diskless = true;
      this.diskFailed(e);
    }
  }

  /** Reads the spool's directory: its segments, a cut tail repaired, the saved cursor checked. */
  private loadDisk(): void {
    mkdirSync(this.dir, { recursive: true });
    const segments: number[] = [];
    for (const f of readdirSync(this.dir)) {
      const m = SEGMENT.exec(f);
      if (m) segments.push(Number(m[1]));
    }
    segments.sort((a, b) => a - b);
    const sizes = new Map<number, number>();
    for (const seq of segments) sizes.set(seq, statSync(this.path(seq)).size);
    this.segments = segments;
    this.sizes = sizes;
    this.repairTail();
    this.cursor = this.checkedCursor(this.readCursor());
  }

  /** A disk operation failed: counted, said (once per code, by the owner), remembered until the disk works again. */
  private diskFailed(e: unknown): void {
    const code = errnoCode(e) ?? 'EIO';
    this.diskFailedAt = Date.now();
    this.diskFailure ??= { code, since: Date.now() };
    this.opts.onDiskError?.(code, e);
  }

  /** Closes a descriptor of a disk that may be failing (close can report EIO too). */
  private closeQuietly(fd: number | undefined): void {
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // the descriptor is released whatever close reports
    }
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
    if (this.memory.length > 0 || this.diskless) this.retryDisk();
    if (this.memory.length === 0 && !this.diskless && this.writeToDisk(lines)) return;
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
        this.closeQuietly(this.fd);
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
        // opened again at the next try: a descriptor of a failing disk may stay broken
        this.closeQuietly(this.fd);
        this.fd = undefined;
      }
      this.diskFailed(e);
      return false;
    }
    this.sizes.set(seq, before + data.length);
    this.diskFailure = undefined;
    this.keepTail(seq, before, lines);
    this.enforceBound();
    return true;
  }

  /** Keeps the lines just written at [seq, from) in the in-memory tail, within its bound. */
  private keepTail(seq: number, from: number, lines: readonly string[]): void {
    let at = from;
    for (const line of lines) {
      const end = at + Buffer.byteLength(line) + 1;
      this.tail.push({ seq, start: at, end, line });
      this.tailBytes += end - at;
      at = end;
    }
    while (this.tailBytes > this.tailMaxBytes && this.tailHead < this.tail.length) this.dropTailHead();
    this.compactTail();
  }

  private dropTailHead(): void {
    const t = this.tail[this.tailHead++] as TailLine;
    this.tailBytes -= t.end - t.start;
  }

  /** The array is cut only now and then: shifting it line by line would copy it every time. */
  private compactTail(): void {
    if (this.tailHead > 1024 && this.tailHead * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailHead);
      this.tailHead = 0;
    }
  }

  /**
   * Unsent lines from the in-memory tail, when it holds the very next one after the cursor: the
   * cursor at a line's start, or at the end of its segment with the tail going on in the next.
   */
  private peekTail(maxLines: number): Batch | undefined {
    const first = this.tail[this.tailHead];
    if (!first) return undefined;
    const { seq, offset } = this.cursor;
    const covered = (first.seq === seq && first.start === offset) || (first.start === 0 && first.seq > seq && offset >= (this.sizes.get(seq) ?? 0) && !this.segments.some((x) => x > seq && x < first.seq && (this.sizes.get(x) ?? 0) > 0));
    if (!covered) return undefined;
    const lines: string[] = [];
    let last = first;
    for (let i = this.tailHead; i < this.tail.length && lines.length < maxLines; i++) {
      last = this.tail[i] as TailLine;
      lines.push(last.line);
    }
    return { lines, corrupt: [], end: { seq: last.seq, offset: last.end } };
  }

  /** Forgets the tail's lines that lie before `end` (sent, or dropped with their segment). */
  private trimTail(end: Cursor): void {
    while (this.tailHead < this.tail.length) {
      const t = this.tail[this.tailHead] as TailLine;
      if (t.seq > end.seq || (t.seq === end.seq && t.end > end.offset)) break;
      this.dropTailHead();
    }
    this.compactTail();
  }

  /** Moves the memory buffer to disk once the disk takes writes again (tried at most every diskRetryMs). */
  private retryDisk(): void {
    if (this.diskFailedAt !== undefined && Date.now() - this.diskFailedAt < (this.opts.diskRetryMs ?? 1000)) return;
    if (this.diskless) {
      try {
        this.loadDisk();
        this.diskless = false;
      } catch (e) {
        this.diskFailed(e);
        return;
      }
    }
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
      this.trimTail({ seq: oldest, offset: Infinity });
      this.removeSegment(oldest);
    }
  }

  /** Lines of a segment from `from` on; 0 where the disk will not say (the drop is still counted as one). */
  private countLines(seq: number, from: number): number {
    let buf: Buffer;
    try {
      buf = readFileSync(this.path(seq)).subarray(from);
    } catch (e) {
      this.diskFailed(e);
      return 0;
    }
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
    const fromTail = this.peekTail(maxLines);
    if (fromTail) return fromTail;
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
      try {
        readSync(this.readerFor(seq), buf, 0, length, offset);
      } catch (e) {
        // what is on the disk waits there until it reads again; what came meanwhile goes now
        this.diskFailed(e);
        this.closeQuietly(this.reader?.fd);
        this.reader = undefined;
        return this.peekMemory(maxLines);
      }
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
      if (this.reader) this.closeQuietly(this.reader.fd);
      this.reader = undefined;
      this.reader = { seq, fd: openSync(this.path(seq), 'r') };
    }
    return this.reader.fd;
  }

  /** Forgets a segment; a file the disk will not delete now is sent again after a restart (harmless). */
  private removeSegment(seq: number): void {
    if (this.reader?.seq === seq) {
      this.closeQuietly(this.reader.fd);
      this.reader = undefined;
    }
    this.sizes.delete(seq);
    try {
      rmSync(this.path(seq), { force: true });
    } catch (e) {
      this.diskFailed(e);
    }
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
    this.trimTail(end);
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
      this.closeQuietly(this.cursorFd);
      this.cursorFd = undefined;
      this.diskFailed(e);
    }
  }

  close(): void {
    if (this.memory.length > 0) {
      // a last try: what the disk still refuses is lost with the process, and counted
      this.diskFailedAt = undefined;
      this.retryDisk();
      if (this.memory.length > 0) {
        this.droppedLines += this.memory.length;
        this.opts.onDrop?.(this.memory.length, 'disk_failed_at_exit');
        this.memory = [];
        this.memoryBytes = 0;
      }
    }
    if (this.cursorDirty && !this.diskless) this.saveCursor();
    for (const fd of [this.fd, this.cursorFd, this.reader?.fd]) this.closeQuietly(fd);
    this.fd = undefined;
    this.cursorFd = undefined;
    this.reader = undefined;
  }
}
