/** CPU utilisation, total and per core, from /proc/stat deltas. */
import { join } from 'node:path';
import { CPU, MEASUREMENT, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { readText } from '../../sysfs.js';

export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

/** The `cpu` and `cpuN` lines of /proc/stat, in USER_HZ ticks; key `all` for the total. */
export function parseProcStat(text: string): Map<string, CpuTimes> {
  const out = new Map<string, CpuTimes>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const parts = line.trim().split(/\s+/);
    const label = parts[0] as string;
    const v = parts.slice(1, 9).map(Number);
    if (v.length < 4 || v.some((n) => !Number.isFinite(n))) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    // guest time is already counted in user (proc(5)), so it is not added again
    out.set(label === 'cpu' ? CPU.all : label.slice(3), { user, nice, system, idle, iowait, irq, softirq, steal });
  }
  return out;
}

export interface CpuUsage {
  usagePct: number;
  userPct: number;
  systemPct: number;
  iowaitPct: number;
}

const total = (t: CpuTimes) => t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;

/** Percentages over the interval between two readings; undefined when no tick passed. */
export function cpuUsage(prev: CpuTimes, cur: CpuTimes): CpuUsage | undefined {
  const dt = total(cur) - total(prev);
  if (dt <= 0) return undefined;
  const d = (k: keyof CpuTimes) => Math.max(0, cur[k] - prev[k]);
  const pct = (x: number) => Math.min(100, (100 * x) / dt);
  return {
    usagePct: pct(dt - d('idle') - d('iowait')),
    userPct: pct(d('user') + d('nice')),
    systemPct: pct(d('system') + d('irq') + d('softirq')),
    iowaitPct: pct(d('iowait')),
  };
}

class CpuSource implements Source {
  readonly name = 'cpu';
  private prev: Map<string, CpuTimes>;
  constructor(
    private readonly path: string,
    private readonly hostTags: Record<string, string>,
  ) {
    this.prev = parseProcStat(readText(path));
  }
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const cur = parseProcStat(readText(this.path));
    const out: Sample[] = [];
    for (const [cpu, times] of cur) {
      const before = this.prev.get(cpu);
      const usage = before && cpuUsage(before, times);
      if (!usage) continue;
      const f = CPU.fields;
      out.push({
        measurement: MEASUREMENT.cpu,
        tags: { ...this.hostTags, [CPU.tags.cpu]: cpu },
        fields: { [f.usagePct]: usage.usagePct, [f.userPct]: usage.userPct, [f.systemPct]: usage.systemPct, [f.iowaitPct]: usage.iowaitPct },
        timeMs,
      });
    }
    this.prev = cur;
    return out;
  }
}

export const cpuSource: SourceFactory = {
  name: 'cpu',
  async discover(ctx) {
    const path = join(ctx.procfs, 'stat');
    try {
      return new CpuSource(path, ctx.hostTags);
    } catch {
      return undefined;
    }
  },
};
