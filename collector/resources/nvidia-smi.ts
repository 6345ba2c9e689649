/**
 * One long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N` process for the
 * collector's life, parsed as it streams (never a process per sample), restarted with backoff
 * when it exits. Owned once (./index.ts) and handed to the nvidia-smi source, so a rediscovery
 * every minute reuses it instead of starting another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../common/log.js';
import { MIB, type GpuReading } from './gpu-point.js';

export const SMI_FIELDS = ['index', 'pci.bus_id', 'name', 'power.draw', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total', 'temperature.gpu', 'clocks.sm'] as const;

export interface SmiRow extends GpuReading {
  /** the GPU's PCI address, as nvidia-smi writes it (00000000:18:00.0) */
  pci: string | undefined;
  powerW: number | undefined;
}

/** `[N/A]`, `[Not Supported]`, `[GPU is lost]`, `[Unknown Error]`: no value. */
function value(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t.startsWith('[')) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** One CSV line of the query above; undefined for lines that are not a GPU's row. */
export function parseSmiLine(line: string): SmiRow | undefined {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < SMI_FIELDS.length) return undefined;
  const index = value(parts[0]);
  if (index === undefined || !Number.isInteger(index)) return undefined;
  // a name never holds a comma in practice, but keep the numeric columns aligned from the right
  const tail = parts.slice(-7);
  const name = parts.slice(2, parts.length - 7).join(', ');
  const mem = (v: string | undefined) => {
    const n = value(v);
    return n === undefined ? undefined : n * MIB;
  };
  return {
    index,
    pci: parts[1] === undefined || parts[1].startsWith('[') ? undefined : parts[1],
    name,
    powerW: value(tail[0]),
    utilPct: value(tail[1]),
    memUtilPct: value(tail[2]),
    memUsedBytes: mem(tail[3]),
    memTotalBytes: mem(tail[4]),
    tempC: value(tail[5]),
    smClockMhz: value(tail[6]),
  };
}

interface Latest {
  row: SmiRow;
  at: number;
}

export class SmiStream {
  readonly latest = new Map<number, Latest>();
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private closed = false;
  private buffered = '';
  lastError = '';
  /** true once every GPU has reported; false when the tool fails or says nothing in 5 s */
  readonly ready: Promise<boolean>;

  constructor(
    readonly bin: string,
    readonly periodMs: number,
    private readonly log: Logger,
  ) {
    const child = this.start();
    this.ready = new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(deadline);
        clearInterval(poll);
        resolve(ok);
      };
      const deadline = setTimeout(() => done(this.latest.size > 0), 5000);
      child.once('error', () => done(false));
      child.once('close', () => done(this.latest.size > 0));
      // a first sweep of every GPU: one more period after the first row, for the others
      const poll = setInterval(() => {
        if (this.latest.size === 0) return;
        clearInterval(poll);
        setTimeout(() => done(true), periodMs * 2);
      }, 10);
    });
  }

  private start(): ChildProcess {
    const child = spawn(this.bin, [`--query-gpu=${SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits', `-lms`, String(this.periodMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const lines = (this.buffered + chunk).split('\n');
      this.buffered = lines.pop() ?? '';
      const now = performance.now();
      for (const line of lines) {
        const row = parseSmiLine(line);
        if (row) {
          this.latest.set(row.index, { row, at: now });
          this.backoffMs = 1000;
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.lastError = (this.lastError + d).slice(-500)));
    child.on('error', () => undefined); // reported through 'close' and `ready`
    child.on('close', (code) => {
      if (this.closed) return;
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
    this.child?.kill('SIGTERM');
  }
}
