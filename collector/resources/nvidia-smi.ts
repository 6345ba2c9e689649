/**
 * One long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N` process for the
 * collector's life, parsed as it streams (never a process per sample), restarted with backoff
 * when it exits. Owned once (./index.ts) and handed to the nvidia-smi source, so a rediscovery
 * every minute reuses it instead of starting another.
 *
 * Which power fields the installed driver knows is found once, at start, by asking for all of
 * them: a driver that does not know one refuses the whole query, printing
 * `Field "power.draw.instant" is not a valid field to query.` and exiting; that field is left
 * out and the tool started again, at once. The fields it took are kept for the stream's life.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../common/log.js';
import { MIB, type GpuReading } from './gpu-point.js';

/** The fields every driver knows (nvidia-smi since R304): without them the tool is no use here. */
export const SMI_BASE_FIELDS = ['index', 'pci.bus_id', 'name', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total', 'temperature.gpu', 'clocks.sm'] as const;

/**
 * The power readings, best first (nvidia-smi --help-query-gpu): `power.draw.instant` is the
 * last instantaneous reading; `power.draw.average` a one-second average (Ampere and newer, but
 * GA100); `power.draw` is that average on Ampere and newer (GA100 excepted) and instantaneous on
 * older GPUs. Drivers before these were added know only `power.draw`; `compute_cap` (a newer
 * field too) then tells which it is.
 */
export const SMI_POWER_FIELDS = ['power.draw.instant', 'power.draw.average', 'power.draw'] as const;
export type SmiPowerField = (typeof SMI_POWER_FIELDS)[number];

/** Fields a driver may not know: left out when it refuses them. */
const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(['power.draw.instant', 'power.draw.average', 'compute_cap']);

export const SMI_WANTED_FIELDS: readonly string[] = [...SMI_BASE_FIELDS, ...SMI_POWER_FIELDS, 'compute_cap'];

export interface SmiRow extends GpuReading {
  /** the GPU's PCI address, as nvidia-smi writes it (00000000:18:00.0) */
  pci: string | undefined;
  /** watts of each power field the driver gave (undefined: [N/A], [Not Supported], or not asked) */
  power: Partial<Record<SmiPowerField, number>>;
  /** CUDA compute capability (`9.0`), where the driver tells it */
  computeCap: number | undefined;
}

/** `[N/A]`, `[Not Supported]`, `[GPU is lost]`, `[Unknown Error]`: no value. */
function value(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t.startsWith('[')) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Text of the tool's output as it may become a tag (a GPU's name): cut at a NUL, no control
 * characters, at most 96 characters; undefined when nothing usable is left.
 */
function text(t: string | undefined): string | undefined {
  if (t === undefined) return undefined;
  const cut = t.split('\u0000', 1)[0] as string;
  // eslint-disable-next-line no-control-regex
  const clean = cut.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '').trim().slice(0, 96).replace(/\\+$/, '');
  return clean === '' || clean.startsWith('[') ? undefined : clean;
}

/**
 * One CSV line of a query of `fields` (in that order); undefined for lines that are not a GPU's
 * row. A name never holds a comma in practice, but the other columns are kept aligned: the
 * columns after `name` are counted from the right.
 */
export function parseSmiLine(line: string, fields: readonly string[] = [...SMI_BASE_FIELDS, 'power.draw']): SmiRow | undefined {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < fields.length) return undefined;
  const nameAt = fields.indexOf('name');
  const extra = parts.length - fields.length;
  const at = (field: string): string | undefined => {
    const i = fields.indexOf(field);
    if (i < 0) return undefined;
    if (i === nameAt) return parts.slice(i, i + 1 + extra).join(', ');
    return parts[nameAt >= 0 && i > nameAt ? i + extra : i];
  };
  const index = value(at('index'));
  if (index === undefined || !Number.isInteger(index) || index < 0) return undefined;
  const mem = (v: string | undefined) => {
    const n = value(v);
    return n === undefined ? undefined : n * MIB;
  };
  const power: Partial<Record<SmiPowerField, number>> = {};
  for (const f of SMI_POWER_FIELDS) {
    const w = value(at(f));
    if (w !== undefined) power[f] = w;
  }
  const pci = at('pci.bus_id');
  return {
    index,
    pci: pci === undefined || pci.startsWith('[') ? undefined : text(pci),
    name: text(at('name')) ?? `GPU ${index}`,
    power,
    computeCap: value(at('compute_cap')),
    utilPct: value(at('utilization.gpu')),
    memUtilPct: value(at('utilization.memory')),
    memUsedBytes: mem(at('memory.used')),
    memTotalBytes: mem(at('memory.total')),
    tempC: value(at('temperature.gpu')),
    smClockMhz: value(at('clocks.sm')),
  };
}

/** The field a driver refused, from its message (`Field "power.draw.instant" is not a valid field to query.`). */
export function refusedField(output: string): string | undefined {
  return /Field "([^"]+)" is not a valid field to query/.exec(output)?.[1];
}

/**
 * Which power reading a GPU offers (the power fields it has given a value for), best first, and how it reads: an instantaneous
 * power (`sampled`), or an average (`averaged`, which lags). `power.draw` is an average on
 * Ampere and newer but GA100 (compute capability above 8.0); where the driver does not say the
 * GPU's generation, it is taken for one.
 */
export function chooseSmiReading(seen: ReadonlySet<SmiPowerField>, computeCap: number | undefined, fields: readonly string[]): { field: SmiPowerField; method: 'sampled' | 'averaged' } | undefined {
  if (seen.has('power.draw.instant')) return { field: 'power.draw.instant', method: 'sampled' };
  if (seen.has('power.draw.average')) return { field: 'power.draw.average', method: 'averaged' };
  if (!seen.has('power.draw')) return undefined;
  // a driver that knows power.draw.average and gives none for this GPU: the GPU averages nothing (older than Ampere, or GA100)
  if (fields.includes('power.draw.average')) return { field: 'power.draw', method: 'sampled' };
  return { field: 'power.draw', method: computeCap !== undefined && computeCap <= 8.0 ? 'sampled' : 'averaged' };
}

interface Latest {
  row: SmiRow;
  at: number;
}

export class SmiStream {
  readonly latest = new Map<number, Latest>();
  /** per GPU, the power fields it has given a value for (a GPU that drops out keeps what it gave) */
  readonly powerSeen = new Map<number, Set<SmiPowerField>>();
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private closed = false;
  private buffered = '';
  private output = '';
  lastError = '';
  /** the fields asked for: those the driver knows of SMI_WANTED_FIELDS (found at start) */
  fields: string[] = [...SMI_WANTED_FIELDS];
  /** fields the driver refused, in the order it did */
  readonly refused: string[] = [];
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
      timers.deadline = setTimeout(() => this.settle(this.latest.size > 0), 5000);
      // a first sweep of every GPU: one more period after the first row, for the others
      timers.poll = setInterval(() => {
        if (this.latest.size === 0) return;
        clearInterval(timers.poll);
        setTimeout(() => this.settle(true), periodMs * 2);
      }, 10);
    });
    this.start();
  }

  private start(): ChildProcess {
    const child = spawn(this.bin, [`--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits', `-lms`, String(this.periodMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    this.buffered = '';
    let rows = 0;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      // what it says before its first row (a refusal is printed on stdout), kept short
      if (rows === 0) this.output = (this.output + chunk).slice(-1000);
      const lines = (this.buffered + chunk).split('\n');
      // a line never runs this long: a tool that prints no newline must not grow the buffer
      this.buffered = (lines.pop() ?? '').slice(-65536);
      const now = performance.now();
      for (const line of lines) {
        const row = parseSmiLine(line, this.fields);
        if (row) {
          rows++;
          this.latest.set(row.index, { row, at: now });
          let seen = this.powerSeen.get(row.index);
          if (!seen) this.powerSeen.set(row.index, (seen = new Set()));
          for (const f of SMI_POWER_FIELDS) if (row.power[f] !== undefined) seen.add(f);
          this.backoffMs = 1000;
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.lastError = (this.lastError + d).slice(-500)));
    child.on('error', () => {
      // ENOENT and the like: reported through 'close'; no row will come
      if (this.latest.size === 0) this.settle(false);
    });
    child.on('close', (code) => {
      if (this.closed) return;
      const refused = rows === 0 ? refusedField(`${this.output}\n${this.lastError}`) : undefined;
      if (refused !== undefined && OPTIONAL_FIELDS.has(refused) && this.fields.includes(refused)) {
        // the driver does not know this field: ask again without it, at once
        this.refused.push(refused);
        this.fields = this.fields.filter((f) => f !== refused);
        this.log.debug(`nvidia-smi does not know ${refused} (an older driver); asking without it`);
        this.start();
        return;
      }
      if (this.latest.size === 0) {
        if (refused !== undefined) this.lastError = `${this.output.trim()} ${this.lastError}`.trim();
        this.settle(false);
        if (refused !== undefined) return; // a base field refused: this tool cannot serve, no restart
      }
      this.log.once(`smi-exit:${code}`, 'warn', `nvidia-smi exited (${code}); restarting it`, { stderr: this.lastError.trim() || undefined });
      this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
      this.restartTimer.unref();
      this.backoffMs = Math.min(30_000, this.backoffMs * 2);
    });
    return child;
  }

  /** The value of a GPU's row if it arrived within `maxAgeMs`. */
  fresh(index: number, maxAgeMs: number): SmiRow | undefined {
    const l = this.latest.get(index);
    return l && performance.now() - l.at <= maxAgeMs ? l.row : undefined;
  }

  get closedForGood(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.settle(false);
    this.child?.kill('SIGTERM');
  }
}
