/**
 * The last reading of every energy counter, kept beside the spool (`counters.json`) so that a
 * collector restarted in the same boot measures the time it was not running exactly: its first
 * reading of each counter is differenced from the last one before the restart
 * (ChannelIntegrator.seed). The boot's id tells a restart from a reboot (counters start again
 * at a reboot, and a difference across one would be wrong by any amount); without it nothing is
 * bridged. Written in place at every report (one write), read once at start; a torn or unreadable file
 * bridges nothing. The disk failing is survived quietly (the spool says it is failing).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
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

/** One counter's last reading, as the agent hands them over at each report (the same objects each time). */
export interface IdentifiedReading extends CounterReading {
  id: string;
}

/**
 * Writes the readings in place: one descriptor kept open, and one write per save of text made
 * without JSON.stringify (each id's JSON is made once). A save shorter than the file is padded
 * with spaces, which JSON ignores, rather than truncated: one system call per report, not two.
 */
export class CounterStateWriter {
  private fd: number | undefined;
  private readonly path: string;
  /** the file's length: what a shorter save pads to */
  private length = 0;
  private readonly idJson = new Map<string, string>();
  private readonly head: string;
  constructor(
    dir: string,
    private readonly boot: string | undefined,
  ) {
    this.path = join(dir, COUNTER_STATE_FILE);
    this.head = `{"bootId":${JSON.stringify(boot ?? '')},"counters":{`;
  }

  save(readings: readonly IdentifiedReading[]): void {
    if (this.boot === undefined) return;
    let text = this.head;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i] as IdentifiedReading;
      // a value JSON cannot carry (never a counter's: the agent keeps only finite readings) is left out
      if (!Number.isFinite(r.value) || !Number.isFinite(r.timeMs)) continue;
      let id = this.idJson.get(r.id);
      if (id === undefined) this.idJson.set(r.id, (id = JSON.stringify(r.id)));
      text += `${text.length > this.head.length ? ',' : ''}${id}:{"value":${r.value},"timeMs":${r.timeMs}}`;
    }
    text += '}}';
    const bytes = Buffer.byteLength(text);
    if (bytes < this.length) text += ' '.repeat(this.length - bytes);
    text += '\n';
    try {
      this.fd ??= openSync(this.path, 'w');
      const data = Buffer.from(text);
      // a short write (a disk filling up) is continued
      for (let written = 0; written < data.length; ) written += writeSync(this.fd, data, written, data.length - written, written);
      this.length = Math.max(this.length, data.length - 1);
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
    this.length = 0;
  }
}
