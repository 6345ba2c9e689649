/** Network throughput per interface (without `lo`) from /proc/net/dev deltas. */
import { join } from 'node:path';
import { MEASUREMENT, NET, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { readText } from '../../sysfs.js';

export interface NetCounters {
  rxBytes: number;
  txBytes: number;
}

export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (iface === 'lo') continue;
    const v = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (v.length < 16) continue;
    out.set(iface, { rxBytes: v[0] as number, txBytes: v[8] as number });
  }
  return out;
}

class NetSource implements Source {
  readonly name = 'net';
  private prev: Map<string, NetCounters>;
  private prevAt: number;
  constructor(
    private readonly path: string,
    private readonly hostTags: Record<string, string>,
    private readonly now: () => number,
  ) {
    this.prevAt = now();
    this.prev = parseNetDev(readText(path));
  }
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const cur = parseNetDev(readText(this.path));
    const now = this.now();
    const seconds = (now - this.prevAt) / 1000;
    const out: Sample[] = [];
    for (const [iface, c] of cur) {
      const before = this.prev.get(iface);
      if (!before || seconds <= 0) continue;
      // a counter that went down was reset (interface re-created): no rate for this interval
      if (c.rxBytes < before.rxBytes || c.txBytes < before.txBytes) continue;
      out.push({
        measurement: MEASUREMENT.net,
        tags: { ...this.hostTags, [NET.tags.iface]: iface },
        fields: { [NET.fields.rxBytesPerS]: (c.rxBytes - before.rxBytes) / seconds, [NET.fields.txBytesPerS]: (c.txBytes - before.txBytes) / seconds },
        timeMs,
      });
    }
    this.prev = cur;
    this.prevAt = now;
    return out;
  }
}

export const netSource: SourceFactory = {
  name: 'net',
  async discover(ctx) {
    const path = join(ctx.procfs, 'net', 'dev');
    try {
      return new NetSource(path, ctx.hostTags, ctx.now);
    } catch {
      return undefined;
    }
  },
};
