/** Disk throughput, IOPS and busy time of whole disks from /proc/diskstats deltas. */
import { join } from 'node:path';
import { DISK, MEASUREMENT, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { CounterFile } from '../../counter-file.js';
import { nextLine, numberAt, scan } from '../../sysfs.js';

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

/** Names seen before, and whether they are ignored: the regex runs once per name, not per report. */
const ignoredNames = new Map<string, boolean>();

/**
 * Whole disks' counters from /proc/diskstats: `major minor name` then at least 11 counters.
 * Scanned in place, without a regex or a split per line: this runs every report.
 */
export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>();
  for (let i = 0; i < text.length; i = nextLine(text, i)) {
    numberAt(text, i); // major
    numberAt(text, scan.end); // minor
    let at = scan.end;
    while (text.charCodeAt(at) === 0x20) at++;
    let end = at;
    for (let c = text.charCodeAt(end); end < text.length && c !== 0x20 && c !== 0x0a; c = text.charCodeAt(++end));
    if (end === at) continue;
    const name = text.slice(at, end);
    let ignored = ignoredNames.get(name);
    if (ignored === undefined) {
      if (ignoredNames.size > 4096) ignoredNames.clear();
      ignoredNames.set(name, (ignored = IGNORED_DEVICES.test(name)));
    }
    if (ignored) continue;
    // fields 4–14 (proc(5), iostats.rst): reads, merged, sectors read, ms reading, writes, merged, sectors written, ms writing, in flight, ms doing I/O, weighted ms
    const v = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let n = 0;
    for (at = end; n < v.length; n++) {
      const x = numberAt(text, at);
      if (Number.isNaN(x)) break;
      v[n] = x;
      at = scan.end;
    }
    if (n < v.length) continue;
    out.set(name, { readsCompleted: v[0] as number, sectorsRead: v[2] as number, writesCompleted: v[4] as number, sectorsWritten: v[6] as number, ioMs: v[9] as number });
  }
  return out;
}

export function diskRates(prev: DiskCounters, cur: DiskCounters, seconds: number): Record<string, number> {
  const d = (k: keyof DiskCounters) => Math.max(0, cur[k] - prev[k]);
  const f = DISK.fields;
  // keys in sorted order, as line protocol writes them
  return {
    [f.busyPct]: Math.min(100, d('ioMs') / (10 * seconds)),
    [f.readBytesPerS]: (d('sectorsRead') * SECTOR_BYTES) / seconds,
    [f.readIops]: d('readsCompleted') / seconds,
    [f.writeBytesPerS]: (d('sectorsWritten') * SECTOR_BYTES) / seconds,
    [f.writeIops]: d('writesCompleted') / seconds,
  };
}

class DiskSource implements Source {
  readonly name = 'disk';
  /** each disk's tags, made once and frozen (the line-protocol writer keeps their text) */
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  constructor(
    private readonly file: CounterFile<DiskCounters>,
    private readonly hostTags: Record<string, string>,
  ) {}
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const { seconds, pairs } = this.file.read();
    return pairs.map(({ name, before, now }) => ({ measurement: MEASUREMENT.disk, tags: this.tagsOf(name), fields: diskRates(before, now, seconds), timeMs }));
  }
  private tagsOf(device: string): Readonly<Record<string, string>> {
    let t = this.tags.get(device);
    if (!t) this.tags.set(device, (t = Object.freeze({ ...this.hostTags, [DISK.tags.device]: device })));
    return t;
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
