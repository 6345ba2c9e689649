/**
 * NVIDIA GPUs through `nvidia-smi`, only where NVML cannot be loaded but the tool exists: one
 * long-lived `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N` process, parsed as
 * it streams (never a process per sample). nvidia-smi has no energy counter, so power is
 * sampled (`method=sampled`) from `power.draw` and integrated at the edge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { findExecutable } from '../../common/paths.js';
import type { Sample } from '../../common/model.js';
import type { Logger } from '../../common/log.js';
import { gpuSample, MIB, type GpuReading } from '../gpu/sample.js';
import type { PowerChannel, Source, SourceFactory } from '../source.js';

export const SMI_FIELDS = ['index', 'name', 'power.draw', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total', 'temperature.gpu', 'clocks.sm'] as const;

export interface SmiRow extends GpuReading {
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
  const name = parts.slice(1, parts.length - 7).join(', ');
  const mem = (v: string | undefined) => {
    const n = value(v);
    return n === undefined ? undefined : n * MIB;
  };
  return {
    index,
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

class SmiStream {
  readonly latest = new Map<number, Latest>();
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 1000;
  private closed = false;
  private buffered = '';
  lastError = '';

  constructor(
    private readonly bin: string,
    private readonly periodMs: number,
    private readonly log: Logger,
  ) {}

  start(): ChildProcess {
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
    child.on('error', () => undefined); // reported through 'exit'/'close' and discovery
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

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
  }
}

class SmiChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly method = 'sampled' as const;
  readonly inTotal = true;
  readonly id: string;
  readonly gpu: number;
  constructor(
    private readonly stream: SmiStream,
    private readonly index: number,
    private readonly maxAgeMs: number,
  ) {
    this.id = `nvidia-smi/${index}`;
    this.gpu = index;
  }
  read(): number | undefined {
    return this.stream.fresh(this.index, this.maxAgeMs)?.powerW;
  }
}

class SmiSource implements Source {
  readonly name = 'nvidia-smi';
  private readonly list: PowerChannel[];
  constructor(
    private readonly stream: SmiStream,
    private readonly devices: Array<{ index: number; name: string }>,
    private readonly hostTags: Record<string, string>,
    private readonly maxAgeMs: number,
  ) {
    this.list = devices.map((g) => new SmiChannel(stream, g.index, maxAgeMs));
  }
  channels() {
    return this.list;
  }
  gpus() {
    return this.devices.map((g) => ({ index: g.index, name: g.name }));
  }
  collect(timeMs: number): Sample[] {
    const out: Sample[] = [];
    for (const g of this.devices) {
      const row = this.stream.fresh(g.index, this.maxAgeMs);
      const s = row && gpuSample(this.hostTags, row, timeMs);
      if (s) out.push(s);
    }
    return out;
  }
  close() {
    this.stream.close();
  }
}

export const nvidiaSmiSource: SourceFactory = {
  name: 'nvidia-smi',
  async discover(ctx) {
    if (ctx.channelsSoFar.some((c) => c.id.startsWith('nvml/'))) return undefined;
    // no tool, no GPU: quietly absent, without the cost of a failed spawn every rediscovery
    if (!findExecutable(ctx.config.collector.nvidiaSmi)) return undefined;
    const periodMs = Math.max(20, Math.round(1000 / ctx.config.collector.sampleHz));
    const stream = new SmiStream(ctx.config.collector.nvidiaSmi, periodMs, ctx.log);
    const child = stream.start();
    const started = await new Promise<boolean>((resolve) => {
      const deadline = setTimeout(() => resolve(stream.latest.size > 0), 5000);
      child.once('error', () => {
        clearTimeout(deadline);
        resolve(false);
      });
      child.once('close', () => {
        clearTimeout(deadline);
        resolve(stream.latest.size > 0);
      });
      // a first sweep of every GPU: wait one more period after the first row for the others
      const poll = setInterval(() => {
        if (stream.latest.size > 0) {
          clearInterval(poll);
          setTimeout(() => {
            clearTimeout(deadline);
            resolve(true);
          }, periodMs * 2);
        }
      }, 10);
      child.once('close', () => clearInterval(poll));
      child.once('error', () => clearInterval(poll));
    });
    if (!started) {
      stream.close();
      // ENOENT (no nvidia-smi) is "no NVIDIA GPU here": quiet; a tool that runs and fails is not
      if (stream.lastError.trim()) ctx.log.once('smi-failed', 'warn', 'nvidia-smi is installed but reports no GPU', { stderr: stream.lastError.trim() });
      return undefined;
    }
    const gpus = [...stream.latest.values()].map((l) => ({ index: l.row.index, name: l.row.name })).sort((a, b) => a.index - b.index);
    return new SmiSource(stream, gpus, ctx.hostTags, Math.max(3 * periodMs, 1000));
  },
};
