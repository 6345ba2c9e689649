/**
 * The last reading of every energy counter, kept beside the spool (`counters.json`) so that a
 * collector restarted in the same boot measures the time it was not running exactly: its first
 * reading of each counter is differenced from the last one before the restart
 * (ChannelIntegrator.seed). The boot's id tells a restart from a reboot (counters start again
 * at a reboot, and a difference across one would be wrong by any amount); without it nothing is
 * bridged. Written in place at every report, read once at start; a torn or unreadable file
 * bridges nothing. The disk failing is survived quietly (the spool says it is failing).
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const COUNTER_STATE_FILE = 'counters.json';

export interface CounterReading {
  /** joules, as the channel reads them */
  value: number;
  /** wall-clock time of the reading, ms */
  timeMs: number;
}

export interface CounterState {
  bootId: string;
  counters: Record<string, CounterReading>;
}

/** This boot's id (`/proc/sys/kernel/random/boot_id`), or undefined where it cannot be read. */
export function bootId(procfsRoot: string): string | undefined {
  try {
    const id = readFileSync(join(procfsRoot, 'sys', 'kernel', 'random', 'boot_id'), 'latin1').trim();
    return /^[0-9a-f-]{16,64}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The readings saved in this boot before now, or nothing (another boot, no file, a bad one). */
export function loadCounterState(dir: string, boot: string | undefined): Record<string, CounterReading> {
  if (boot === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, COUNTER_STATE_FILE), 'utf8'));
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const state = parsed as Partial<CounterState>;
  if (state.bootId !== boot || typeof state.counters !== 'object' || state.counters === null) return {};
  const out: Record<string, CounterReading> = {};
  for (const [id, r] of Object.entries(state.counters)) {
    if (r && typeof r === 'object' && Number.isFinite(r.value) && Number.isFinite(r.timeMs) && r.value >= 0) out[id] = { value: r.value, timeMs: r.timeMs };
  }
  return out;
}

/** Writes the readings in place (one descriptor kept open, one write and a truncate per save). */
export class CounterStateWriter {
  private fd: number | undefined;
  private readonly path: string;
  constructor(
    dir: string,
    private readonly boot: string | undefined,
  ) {
    this.path = join(dir, COUNTER_STATE_FILE);
  }

  save(counters: Record<string, CounterReading>): void {
    if (this.boot === undefined) return;
    const data = Buffer.from(JSON.stringify({ bootId: this.boot, counters } satisfies CounterState) + '\n');
    try {
      this.fd ??= openSync(this.path, 'w');
      for (let written = 0; written < data.length; ) written += writeSync(this.fd, data, written, data.length - written, written);
      ftruncateSync(this.fd, data.length);
    } catch {
      // the spool reports its disk; a missed save only shortens what a restart can bridge
      this.close();
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // released whatever close reports
    }
    this.fd = undefined;
  }
}
