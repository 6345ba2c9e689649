/**
 * One long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N` process for the
 * collector's life (never a process per sample), restarted with backoff when it exits. Owned
 * once (./index.ts) and handed to the nvidia-smi source, so a rediscovery every minute reuses it
 * instead of starting another.
 *
 * Its output is not a stream that wakes the collector at every sweep: the tool writes into a
 * FIFO whose reading end the collector holds non-blocking, and what it wrote is read when a
 * reading is asked for — at the agent's tick, which is awake anyway. Each GPU's last line is
 * kept as bytes; a power reading is parsed from them without making a string, and a whole row
 * (for the `gpu` points, once per report) only when asked. Where no FIFO can be made (no
 * `mkfifo`), the output is read as a stream, with the same parsing.
 *
 * Which power fields the installed driver knows is found once, at start, by asking for all of
 * them: a driver that does not know one refuses the whole query, printing
 * `Field "power.draw.instant" is not a valid field to query.` and exiting; that field is left
 * out and the tool started again, at once. The fields it took are kept for the stream's life.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../common/log.js';

import { decimalIn, OPTIONAL_FIELDS, parseSmiLine, refusedField, SMI_POWER_FIELDS, SMI_WANTED_FIELDS, type SmiPowerField, type SmiRow } from './nvidia-smi-output.js';

export { chooseSmiReading, decimalIn, parseSmiLine, refusedField, SMI_BASE_FIELDS, SMI_POWER_FIELDS, SMI_WANTED_FIELDS, type SmiPowerField, type SmiRow } from './nvidia-smi-output.js';

interface Latest {
  row: SmiRow;
  at: number;
}

/** One GPU's last line of output, as bytes, and when it was read. */
class Slot {
  bytes = Buffer.alloc(512);
  length = 0;
  at = 0;
  /** the row parsed from these bytes, when a whole row was asked for since they came */
  row: SmiRow | undefined;
  set(from: Buffer, start: number, end: number, at: number): void {
    const n = end - start;
    if (n > this.bytes.length) this.bytes = Buffer.alloc(Math.max(n, 2 * this.bytes.length));
    from.copy(this.bytes, 0, start, end);
    this.length = n;
    this.at = at;
    this.row = undefined;
  }
}

/** A line longer than this is no row of the tool's: it is dropped, and the buffer does not grow. */
const MAX_LINE = 65536;

export class SmiStream {
  /** per GPU, its last line of output */
  private readonly slots = new Map<number, Slot>();
  /** per GPU, the power fields it has given a value for (a GPU that drops out keeps what it gave) */
  readonly powerSeen = new Map<number, Set<SmiPowerField>>();
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private closed = false;
  /** the reading end of the FIFO the tool writes into (undefined: its output is read as a stream) */
  private fifo: number | undefined;
  /** bytes read and not yet a whole line */
  private pending = Buffer.alloc(4096);
  private pendingLength = 0;
  private readonly chunk = Buffer.alloc(65536);
  /** rows read from the running tool: before the first, what it says is kept (a refusal) */
  private rows = 0;
  private output = '';
  lastError = '';
  /** the fields asked for: those the driver knows of SMI_WANTED_FIELDS (found at start) */
  fields: string[] = [...SMI_WANTED_FIELDS];
  /** fields the driver refused, in the order it did */
  readonly refused: string[] = [];
  /** each power field's column among `fields` (-1: not asked) */
  private powerColumn: Record<SmiPowerField, number> = { 'power.draw.instant': -1, 'power.draw.average': -1, 'power.draw': -1 };
  private nameColumn = -1;
  /** true once every GPU has reported; false when the tool fails or says nothing in 5 s */
  readonly ready: Promise<boolean>;
  private settle: (ok: boolean) => void = () => undefined;

  constructor(
    readonly bin: string,
    readonly periodMs: number,
    private readonly log: Logger,
  ) {
    this.ready = new Promise<boolean>((resolve) => {
      const timers: { deadline?: NodeJS.Timeout; poll?: NodeJS.Timeout } = {};
      let settled = false;
      this.settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timers.deadline);
        clearInterval(timers.poll);
        resolve(ok);
      };
      timers.deadline = setTimeout(() => {
        this.drain();
        this.settle(this.slots.size > 0);
      }, 5000);
      // a first sweep of every GPU: one more period after the first row, for the others
      timers.poll = setInterval(() => {
        this.drain();
        if (this.slots.size === 0) return;
        clearInterval(timers.poll);
        setTimeout(() => {
          this.drain();
          this.settle(true);
        }, periodMs * 2);
      }, 10);
    });
    this.start();
  }

  /** Per GPU, its last row and when it was read (every row parsed: for discovery). */
  get latest(): Map<number, Latest> {
    this.drain();
    const out = new Map<number, Latest>();
    for (const [index, slot] of this.slots) {
      const row = this.rowOf(slot);
      if (row) out.set(index, { row, at: slot.at });
    }
    return out;
  }

  private start(): void {
    this.planColumns();
    this.rows = 0;
    this.output = '';
    this.pendingLength = 0;
    const args = [`--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits', `-lms`, String(this.periodMs)];
    const fifo = openFifo();
    let child: ChildProcess;
    if (fifo) {
      try {
        child = spawn(this.bin, args, { stdio: ['ignore', fifo.write, 'pipe'] });
      } finally {
        closeSync(fifo.write);
      }
      this.closeFifo();
      this.fifo = fifo.read;
    } else {
      child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (chunk: Buffer) => this.take(chunk, chunk.length));
    }
    this.child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.lastError = (this.lastError + d).slice(-500)));
    child.on('error', () => {
      // ENOENT and the like: reported through 'close'; no row will come
      if (this.slots.size === 0) this.settle(false);
    });
    child.on('close', (code) => {
      if (this.child !== child) return;
      // what it wrote last (a refusal is printed on stdout)
      this.drain();
      if (this.closed) return;
      const refused = this.rows === 0 ? refusedField(`${this.output}\n${this.lastError}`) : undefined;
      if (refused !== undefined && OPTIONAL_FIELDS.has(refused) && this.fields.includes(refused)) {
        // the driver does not know this field: ask again without it, at once
        this.refused.push(refused);
        this.fields = this.fields.filter((f) => f !== refused);
        this.log.debug(`nvidia-smi does not know ${refused} (an older driver); asking without it`);
        this.start();
        return;
      }
      if (this.slots.size === 0) {
        if (refused !== undefined) this.lastError = `${this.output.trim()} ${this.lastError}`.trim();
        this.settle(false);
        if (refused !== undefined) return; // a base field refused: this tool cannot serve, no restart
      }
      this.log.once(`smi-exit:${code}`, 'warn', `nvidia-smi exited (${code}); restarting it`, { stderr: this.lastError.trim() || undefined });
      this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
      this.restartTimer.unref();
      this.backoffMs = Math.min(30_000, this.backoffMs * 2);
    });
  }

  private planColumns(): void {
    for (const f of SMI_POWER_FIELDS) this.powerColumn[f] = this.fields.indexOf(f);
    this.nameColumn = this.fields.indexOf('name');
  }

  /** when the FIFO was last read: the readings of one tick share one read */
  private drainedAt = -Infinity;

  /** drain(), unless it ran within the last millisecond (the other channels of the same tick). */
  private drainOnce(): void {
    const now = performance.now();
    if (now - this.drainedAt < 1) return;
    this.drainedAt = now;
    this.drain();
  }

  /**
   * Reads what the tool wrote since the last call (non-blocking; nothing to read is no error).
   * Called wherever a reading is asked for; costs one read when nothing came.
   */
  drain(): void {
    if (this.fifo === undefined) return;
    for (;;) {
      let n: number;
      // an empty FIFO answers EAGAIN, thrown: made without a stack, it costs little
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        n = readSync(this.fifo, this.chunk, 0, this.chunk.length, null);
      } catch {
        return;
      } finally {
        Error.stackTraceLimit = limit;
      }
      if (n === 0) {
        // the tool closed its end (it exited): 'close' restarts it
        this.closeFifo();
        return;
      }
      this.take(this.chunk, n);
      if (n < this.chunk.length) return;
    }
  }

  private closeFifo(): void {
    if (this.fifo === undefined) return;
    try {
      closeSync(this.fifo);
    } catch {
      // closed whatever it says
    }
    this.fifo = undefined;
  }

  /** Whole lines of `n` bytes just read: each GPU's row kept in its slot. */
  private take(data: Buffer, n: number): void {
    const now = performance.now();
    if (this.rows === 0) this.output = (this.output + data.toString('utf8', 0, Math.min(n, 1000))).slice(-1000);
    let from = 0;
    for (let nl = data.indexOf(0x0a, 0); nl >= 0 && nl < n; nl = data.indexOf(0x0a, from)) {
      if (this.pendingLength > 0) {
        this.keepPending(data, from, nl);
        this.line(this.pending, 0, this.pendingLength, now);
        this.pendingLength = 0;
      } else this.line(data, from, nl, now);
      from = nl + 1;
    }
    if (from < n) this.keepPending(data, from, n);
  }

  /** Bytes of a line not yet ended; a line that never ends is dropped, not grown without bound. */
  private keepPending(data: Buffer, from: number, to: number): void {
    const len = this.pendingLength + (to - from);
    if (len > MAX_LINE) {
      this.pendingLength = 0;
      return;
    }
    if (len > this.pending.length) {
      const bigger = Buffer.alloc(Math.max(len, 2 * this.pending.length));
      this.pending.copy(bigger, 0, 0, this.pendingLength);
      this.pending = bigger;
    }
    data.copy(this.pending, this.pendingLength, from, to);
    this.pendingLength = len;
  }

  /** One line: a GPU's row when it starts with its index (the first field asked) and has a column for each field. */
  private line(b: Buffer, start: number, end: number, now: number): void {
    let commas = 0;
    for (let i = start; i < end; i++) if (b[i] === 0x2c) commas++;
    if (commas < this.fields.length - 1) return;
    const comma = b.indexOf(0x2c, start);
    const index = decimalIn(b, start, comma);
    if (index === undefined || !Number.isInteger(index) || index < 0) return;
    let slot = this.slots.get(index);
    if (!slot) {
      this.slots.set(index, (slot = new Slot()));
      // a GPU seen for the first time: what it reads is known at once, for discovery
      slot.set(b, start, end, now);
      this.rowOf(slot);
    } else slot.set(b, start, end, now);
    this.rows++;
    this.backoffMs = 1000;
  }

  /** The whole row of a slot, parsed once per line (and what power fields the GPU gives noted). */
  private rowOf(slot: Slot): SmiRow | undefined {
    if (slot.row) return slot.row;
    const row = parseSmiLine(slot.bytes.toString('utf8', 0, slot.length), this.fields);
    if (!row) return undefined;
    slot.row = row;
    let seen = this.powerSeen.get(row.index);
    if (!seen) this.powerSeen.set(row.index, (seen = new Set()));
    for (const f of SMI_POWER_FIELDS) if (row.power[f] !== undefined) seen.add(f);
    return row;
  }

  /** The value of a GPU's row if it arrived within `maxAgeMs`. */
  fresh(index: number, maxAgeMs: number): SmiRow | undefined {
    this.drainOnce();
    const slot = this.slots.get(index);
    return slot && performance.now() - slot.at <= maxAgeMs ? this.rowOf(slot) : undefined;
  }

  /**
   * One power field of a GPU's row if it arrived within `maxAgeMs`: parsed from the line's bytes
   * where it is, nothing made (this runs for every GPU at every tick).
   */
  freshPower(index: number, field: SmiPowerField, maxAgeMs: number): number | undefined {
    this.drainOnce();
    const slot = this.slots.get(index);
    const column = this.powerColumn[field];
    if (!slot || column < 0 || performance.now() - slot.at > maxAgeMs) return undefined;
    const b = slot.bytes;
    const end = slot.length;
    // the name may hold commas: columns after it are counted from the right
    const fromRight = this.nameColumn >= 0 && column > this.nameColumn;
    let start = 0;
    let stop = end;
    if (fromRight) {
      let k = this.fields.length - 1 - column;
      stop = end;
      let i = end - 1;
      for (; i >= 0; i--) {
        if (b[i] !== 0x2c) continue;
        if (k === 0) break;
        k--;
        stop = i;
      }
      if (i < 0) return undefined;
      start = i + 1;
    } else {
      let k = column;
      let i = 0;
      for (; i < end && k > 0; i++) if (b[i] === 0x2c) k--;
      if (k > 0) return undefined;
      start = i;
      const comma = b.indexOf(0x2c, start);
      stop = comma < 0 || comma > end ? end : comma;
    }
    return decimalIn(b, start, stop);
  }

  get closedForGood(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.settle(false);
    this.child?.kill('SIGTERM');
    this.closeFifo();
  }
}

/**
 * A FIFO for the tool's output: its reading end opened non-blocking, its writing end for the
 * child; the name is removed at once (the open ends keep it working). Undefined where one cannot
 * be made (no `mkfifo`, a read-only temporary directory): the output is then read as a stream.
 */
function openFifo(): { read: number; write: number } | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'wattscope-smi-'));
    const path = join(dir, 'out');
    execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
    const read = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      return { read, write: openSync(path, constants.O_WRONLY) };
    } catch (e) {
      closeSync(read);
      throw e;
    }
  } catch {
    return undefined;
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
