/** CPU utilisation, total and per core, from /proc/stat deltas. */
import { join } from 'node:path';
import type { OptionSpec } from '../../../common/config.js';
import { optionValue } from '../../../common/option-value.js';
import { CPU, MEASUREMENT, type Sample } from '../../../common/model.js';
import type { Source, SourceFactory } from '../../source.js';
import { ProcFile } from '../../sysfs.js';
import { cpuUsage, parseProcStat, type CpuTimes } from '../../procstat.js';

export const CPU_PER_CORE = {
  key: 'collector.cpuPerCore',
  env: 'WATTSCOPE_CPU_PER_CORE',
  kind: 'bool',
  default: true,
  doc: 'Write a `cpu` point per core besides the total (`cpu=all`), as Telegraf’s `percpu` and node_exporter do. Nothing of Wattscope reads them (runs, rollups and dashboards use the total); on a many-core host they are most of what the collector writes and spools (64 of the 65 `cpu` points a second on a 64-core host): `false` keeps the total only.',
} as const satisfies OptionSpec;

export { cpuUsage, parseProcStat, type CpuTimes, type CpuUsage } from '../../procstat.js';

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
