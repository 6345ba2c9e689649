/** Memory from /proc/meminfo. */
import { join } from 'node:path';
import { MEASUREMENT, MEM, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { numberAt, ProcFile, readText, scan } from '../../sysfs.js';

/** /proc/meminfo as bytes per key (values there are in kB, i.e. KiB). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

export function memFields(info: Map<string, number>): Record<string, number> | undefined {
  return fieldsOf(info.get('MemTotal'), info.get('MemAvailable'), info.get('MemFree'), info.get('Buffers'), info.get('Cached'));
}

function fieldsOf(total: number | undefined, available: number | undefined, free: number | undefined, buffers: number | undefined, cached: number | undefined): Record<string, number> | undefined {
  if (!total) return undefined;
  // MemAvailable exists since Linux 3.14; before it, free + buffers + cache is the usual estimate
  const avail = available ?? (free ?? 0) + (buffers ?? 0) + (cached ?? 0);
  const used = total - avail;
  const f = MEM.fields;
  // keys in sorted order, as line protocol writes them
  return { [f.availableBytes]: avail, [f.totalBytes]: total, [f.usedBytes]: used, [f.usedPct]: (100 * used) / total };
}

/** A key's value in /proc/meminfo text, in bytes (found at a line's start, no Map, no regex); undefined when absent. */
function meminfoValue(text: string, key: string): number | undefined {
  // `key` is `\n<Name>:`; the first line has no newline before it
  let at = text.startsWith(key.slice(1)) ? 0 : text.indexOf(key);
  if (at < 0) return undefined;
  at += at === 0 ? key.length - 1 : key.length;
  const v = numberAt(text, at);
  if (Number.isNaN(v)) return undefined;
  return text.startsWith(' kB', scan.end) ? v * 1024 : v;
}

/** memFields(parseMeminfo(text)), reading only the five values it needs. */
export function memFieldsOf(text: string): Record<string, number> | undefined {
  return fieldsOf(meminfoValue(text, '\nMemTotal:'), meminfoValue(text, '\nMemAvailable:'), meminfoValue(text, '\nMemFree:'), meminfoValue(text, '\nBuffers:'), meminfoValue(text, '\nCached:'));
}

class MemSource implements Source {
  readonly name = 'mem';
  private readonly file: ProcFile;
  /** made at the first collect (the host's tags are complete by then) and frozen: the line-protocol writer keeps their text */
  private tags: Readonly<Record<string, string>> | undefined;
  constructor(
    path: string,
    private readonly hostTags: Record<string, string>,
  ) {
    this.file = new ProcFile(path);
  }
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const fields = memFieldsOf(this.file.read());
    if (!fields) return [];
    this.tags ??= Object.freeze({ ...this.hostTags });
    return [{ measurement: MEASUREMENT.mem, tags: this.tags, fields, timeMs }];
  }
  close(): void {
    this.file.close();
  }
}

export const memSource: SourceFactory = {
  name: 'mem',
  async discover(ctx) {
    const path = join(ctx.procfs, 'meminfo');
    try {
      return memFieldsOf(readText(path)) ? new MemSource(path, ctx.hostTags) : undefined;
    } catch {
      return undefined;
    }
  },
};
