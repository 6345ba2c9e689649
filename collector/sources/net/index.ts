/** Network throughput per interface (without `lo`) from /proc/net/dev deltas. */
import { join } from 'node:path';
import { MEASUREMENT, NET, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { CounterFile } from '../../counter-file.js';

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
  constructor(
    private readonly file: CounterFile<NetCounters>,
    private readonly hostTags: Record<string, string>,
  ) {}
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const { seconds, pairs } = this.file.read();
    const out: Sample[] = [];
    for (const { name, before, now: c } of pairs) {
      // a counter that went down was reset (interface re-created): no rate for this interval
      if (c.rxBytes < before.rxBytes || c.txBytes < before.txBytes) continue;
      out.push({
        measurement: MEASUREMENT.net,
        tags: { ...this.hostTags, [NET.tags.iface]: name },
        fields: { [NET.fields.rxBytesPerS]: (c.rxBytes - before.rxBytes) / seconds, [NET.fields.txBytesPerS]: (c.txBytes - before.txBytes) / seconds },
        timeMs,
      });
    }
    return out;
  }
  close(): void {
    this.file.close();
  }
}

export const netSource: SourceFactory = {
  name: 'net',
  async discover(ctx) {
    const path = join(ctx.procfs, 'net', 'dev');
    try {
      return new NetSource(new CounterFile(path, parseNetDev, ctx.now), ctx.hostTags);
    } catch {
      return undefined;
    }
  },
};
