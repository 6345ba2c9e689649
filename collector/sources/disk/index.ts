/** Disk throughput, IOPS and busy time of whole disks from /proc/diskstats deltas. */
import { join } from 'node:path';
import { DISK, MEASUREMENT, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { CounterFile } from '../../counter-file.js';

export interface DiskCounters {
  readsCompleted: number;
  sectorsRead: number;
  writesCompleted: number;
  sectorsWritten: number;
  ioMs: number;
}

/**
 * Partitions, loop, RAM and floppy devices, and stacked devices (device-mapper, md) whose I/O is
 * already counted on the disks below them (the exclusion of node_exporter, plus dm/md/sr).
 */
export const IGNORED_DEVICES = /^(z?ram\d+|loop\d+|fd\d+|sr\d+|dm-\d+|md\d+|(h|s|v|xv)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$/;

/** diskstats counts sectors of 512 bytes whatever the device's sector size (Documentation/admin-guide/iostats.rst). */
const SECTOR_BYTES = 512;

export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>();
  for (const line of text.split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length < 14) continue;
    const name = p[2] as string;
    if (IGNORED_DEVICES.test(name)) continue;
    const n = (i: number) => Number(p[i]);
    out.set(name, { readsCompleted: n(3), sectorsRead: n(5), writesCompleted: n(7), sectorsWritten: n(9), ioMs: n(12) });
  }
  return out;
}

export function diskRates(prev: DiskCounters, cur: DiskCounters, seconds: number): Record<string, number> {
  const d = (k: keyof DiskCounters) => Math.max(0, cur[k] - prev[k]);
  const f = DISK.fields;
  return {
    [f.readBytesPerS]: (d('sectorsRead') * SECTOR_BYTES) / seconds,
    [f.writeBytesPerS]: (d('sectorsWritten') * SECTOR_BYTES) / seconds,
    [f.readIops]: d('readsCompleted') / seconds,
    [f.writeIops]: d('writesCompleted') / seconds,
    [f.busyPct]: Math.min(100, d('ioMs') / (10 * seconds)),
  };
}

class DiskSource implements Source {
  readonly name = 'disk';
  constructor(
    private readonly file: CounterFile<DiskCounters>,
    private readonly hostTags: Record<string, string>,
  ) {}
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const { seconds, pairs } = this.file.read();
    return pairs.map(({ name, before, now }) => ({ measurement: MEASUREMENT.disk, tags: { ...this.hostTags, [DISK.tags.device]: name }, fields: diskRates(before, now, seconds), timeMs }));
  }
  close(): void {
    this.file.close();
  }
}

export const diskSource: SourceFactory = {
  name: 'disk',
  async discover(ctx) {
    const path = join(ctx.procfs, 'diskstats');
    try {
      return new DiskSource(new CounterFile(path, parseDiskstats, ctx.now), ctx.hostTags);
    } catch {
      return undefined;
    }
  },
};
