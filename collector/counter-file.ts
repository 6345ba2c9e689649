/**
 * A procfs file of counters per name (`/proc/diskstats` per disk, `/proc/net/dev` per
 * interface), read once at discovery and once per report interval: each read gives, for every
 * name seen both times, its counters then and now and the seconds between them on the
 * collector's monotonic clock — what a rate needs.
 */
import { ProcFile } from './sysfs.js';

export interface CounterPair<C> {
  name: string;
  before: C;
  now: C;
}

export class CounterFile<C> {
  private prev: Map<string, C>;
  private prevAt: number;
  private readonly file: ProcFile;

  constructor(
    path: string,
    private readonly parse: (text: string) => Map<string, C>,
    private readonly now: () => number,
  ) {
    this.file = new ProcFile(path);
    this.prevAt = now();
    this.prev = parse(this.file.read()); // a failed read leaves the file closed
  }

  /** The counters of each name since the last read; no pairs when no time has passed. */
  read(): { seconds: number; pairs: Array<CounterPair<C>> } {
    const cur = this.parse(this.file.read());
    const now = this.now();
    const seconds = (now - this.prevAt) / 1000;
    const pairs: Array<CounterPair<C>> = [];
    if (seconds > 0) {
      for (const [name, c] of cur) {
        const before = this.prev.get(name);
        if (before) pairs.push({ name, before, now: c });
      }
    }
    this.prev = cur;
    this.prevAt = now;
    return { seconds, pairs };
  }

  close(): void {
    this.file.close();
  }
}
