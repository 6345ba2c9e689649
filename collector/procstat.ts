/**
 * /proc/stat's CPU times and the utilisation between two readings (pure): shared by the cpu
 * source, the CPU estimate and attribution, so it lives here rather than in one plugin.
 */
import { CPU } from '../common/model.js';

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
