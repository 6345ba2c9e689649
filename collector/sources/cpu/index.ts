/** CPU utilisation, total and per core, from /proc/stat deltas. */
import { join } from 'node:path';
import type { OptionSpec } from '../../../common/config.js';
import { optionValue } from '../../../common/option-value.js';
import { CPU, MEASUREMENT, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { nextLine, numberAt, ProcFile, scan } from '../../sysfs.js';

export const CPU_PER_CORE = {
  key: 'collector.cpuPerCore',
  env: 'WATTSCOPE_CPU_PER_CORE',
  kind: 'bool',
  default: true,
  doc: 'Write a `cpu` point per core besides the total (`cpu=all`), as Telegraf’s `percpu` and node_exporter do. Nothing of Wattscope reads them (runs, rollups and dashboards use the total); on a many-core host they are most of what the collector writes and spools (64 of the 65 `cpu` points a second on a 64-core host): `false` keeps the total only.',
} as const satisfies OptionSpec;

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

class CpuSource implements Source {
  readonly name = 'cpu';
  private prev: Map<string, CpuTimes>;
  private readonly file: ProcFile;
  /** each core's tags, made once and frozen (the line-protocol writer keeps their text) */
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  constructor(
    path: string,
    private readonly hostTags: Record<string, string>,
    private readonly perCore: boolean,
  ) {
    this.file = new ProcFile(path, true);
    this.prev = parseProcStat(this.file.read()); // a failed read leaves the file closed
  }
  channels() {
    return [];
  }
  collect(timeMs: number): Sample[] {
    const cur = parseProcStat(this.file.read());
    const out: Sample[] = [];
    for (const [cpu, times] of cur) {
      if (!this.perCore && cpu !== CPU.all) continue;
      const before = this.prev.get(cpu);
      const usage = before && cpuUsage(before, times);
      if (!usage) continue;
      const f = CPU.fields;
      out.push({
        measurement: MEASUREMENT.cpu,
        tags: this.tagsOf(cpu),
        // keys in sorted order, as line protocol writes them
        fields: { [f.iowaitPct]: usage.iowaitPct, [f.systemPct]: usage.systemPct, [f.usagePct]: usage.usagePct, [f.userPct]: usage.userPct },
        timeMs,
      });
    }
    this.prev = cur;
    return out;
  }
  private tagsOf(cpu: string): Readonly<Record<string, string>> {
    let t = this.tags.get(cpu);
    if (!t) this.tags.set(cpu, (t = Object.freeze({ ...this.hostTags, [CPU.tags.cpu]: cpu })));
    return t;
  }
  close(): void {
    this.file.close();
  }
}

export const cpuSource: SourceFactory = {
  name: 'cpu',
  options: [CPU_PER_CORE],
  async discover(ctx) {
    const path = join(ctx.procfs, 'stat');
    try {
      return new CpuSource(path, ctx.hostTags, optionValue(ctx.config, CPU_PER_CORE));
    } catch {
      return undefined;
    }
  },
};
