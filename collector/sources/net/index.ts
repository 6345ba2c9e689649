/** Network throughput per interface (without `lo`) from /proc/net/dev deltas. */
import { join } from 'node:path';
import { MEASUREMENT, NET, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { CounterFile } from '../../counter-file.js';
import { nextLine, numberAt, scan } from '../../sysfs.js';

export interface NetCounters {
  rxBytes: number;
  txBytes: number;
}

/**
 * Each interface's bytes received and sent from /proc/net/dev (two header lines, then
 * `iface: ` and 16 counters). Scanned in place, without a regex or a split per line: this runs
 * every report.
 */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (let i = nextLine(text, nextLine(text, 0)); i < text.length; i = nextLine(text, i)) {
    const eol = nextLine(text, i);
    const colon = text.indexOf(':', i);
    if (colon < 0 || colon >= eol) continue;
    const iface = text.slice(i, colon).trim();
    if (iface === 'lo') continue;
    let at = colon + 1;
    let rx = 0;
    let tx = 0;
    let n = 0;
    for (; n < 16; n++) {
      const x = numberAt(text, at);
      if (Number.isNaN(x) || scan.end > eol) break;
      if (n === 0) rx = x;
      else if (n === 8) tx = x;
      at = scan.end;
    }
    if (n < 16) continue;
    out.set(iface, { rxBytes: rx, txBytes: tx });
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
        tags: this.tagsOf(name),
        fields: { [NET.fields.rxBytesPerS]: (c.rxBytes - before.rxBytes) / seconds, [NET.fields.txBytesPerS]: (c.txBytes - before.txBytes) / seconds },
        timeMs,
      });
    }
    return out;
  }
  /** each interface's tags, made once and frozen (the line-protocol writer keeps their text) */
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  private tagsOf(iface: string): Readonly<Record<string, string>> {
    let t = this.tags.get(iface);
    if (!t) this.tags.set(iface, (t = Object.freeze({ ...this.hostTags, [NET.tags.iface]: iface })));
    return t;
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
