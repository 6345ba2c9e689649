/**
 * /proc/stat's CPU times and the utilisation between two readings (pure): shared by the cpu
 * source, the CPU estimate and attribution, so it lives here rather than in one plugin.
 */
import { CPU } from '../common/model.js';
import { nextLine, numberAt, scan } from './sysfs.js';

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

/** Core labels by number, made once: `0`, `1`, … */
const coreLabels: string[] = [];

/**
 * The `cpu` and `cpuN` lines of /proc/stat, in USER_HZ ticks; key `all` for the total. Scanned
 * in place, without a regex or a split per line: this runs every report.
 */
export function parseProcStat(text: string): Map<string, CpuTimes> {
  // the readers of one tick share the file's text (ProcFile's `shared`), and so its parse: never changed by them
  if (text === parsed.text) return parsed.times;
  const out = new Map<string, CpuTimes>();
  for (let i = 0; i < text.length; i = nextLine(text, i)) {
    if (!text.startsWith('cpu', i)) continue;
    let at = i + 3;
    let label: string = CPU.all;
    const c = text.charCodeAt(at);
    if (c >= 0x30 && c <= 0x39) {
      const core = numberAt(text, at);
      label = coreLabels[core] ??= String(core);
      at = scan.end;
    } else if (c !== 0x20) continue;
    // user nice system idle [iowait irq softirq steal]: at least four; guest time is already in user (proc(5))
    const t: CpuTimes = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
    let n = 0;
    for (const key of TIME_KEYS) {
      const x = numberAt(text, at);
      if (Number.isNaN(x)) break;
      t[key] = x;
      at = scan.end;
      n++;
    }
    // fewer than four, or a field that is not a plain number before the line ends: unusable
    if (n < 4 || (n < 8 && scan.end < text.length && text.charCodeAt(scan.end) !== 0x0a)) continue;
    out.set(label, t);
  }
  parsed.text = text;
  parsed.times = out;
  return out;
}

/** The last text parseProcStat() read and what it found (callers treat the map as read-only). */
const parsed: { text: string | undefined; times: Map<string, CpuTimes> } = { text: undefined, times: new Map() };

const TIME_KEYS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

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
