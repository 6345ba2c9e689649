/** Memory from /proc/meminfo. */
import { join } from 'node:path';
import { MEASUREMENT, MEM, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { ProcFile, readText } from '../../sysfs.js';

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
  const total = info.get('MemTotal');
  if (!total) return undefined;
  // MemAvailable exists since Linux 3.14; before it, free + buffers + cache is the usual estimate
  const available = info.get('MemAvailable') ?? (info.get('MemFree') ?? 0) + (info.get('Buffers') ?? 0) + (info.get('Cached') ?? 0);
  const used = total - available;
  const f = MEM.fields;
  return { [f.totalBytes]: total, [f.usedBytes]: used, [f.availableBytes]: available, [f.usedPct]: (100 * used) / total };
}

class MemSource implements Source {
  readonly name = 'mem';
  private readonly file: ProcFile;
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
    const fields = memFields(parseMeminfo(this.file.read()));
    return fields ? [{ measurement: MEASUREMENT.mem, tags: { ...this.hostTags }, fields, timeMs }] : [];
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
      return memFields(parseMeminfo(readText(path))) ? new MemSource(path, ctx.hostTags) : undefined;
    } catch {
      return undefined;
    }
  },
};
