/**
 * Estimated CPU power, only where no CPU power sensor exists: idle + (TDP − idle) × utilisation,
 * with TDP and idle from its options. A reading is the model's mean power since the previous
 * one (utilisation from /proc/stat's counters over that time), so the agent integrates it
 * exactly and reads it at each report, as a counter, not at the sample rate. Labelled `method=estimated`, so a machine without sensors
 * still shows an honest figure that nobody mistakes for a measurement. A fallback: the host-total
 * policy (../../total.ts) keeps it only where nothing measures the CPU. See README.md.
 */
import { join } from 'node:path';
import type { OptionSpec } from '../../../common/config.js';
import { optionValue } from '../../../common/option-value.js';
import { CPU } from '../../../common/model.js';
import type { PowerChannel, Source, SourceFactory } from '../../source.js';
import { ProcFile, readText } from '../../sysfs.js';
import { cpuUsage, parseProcStat, type CpuTimes } from '../../procstat.js';

export const CPU_TDP_W = { key: 'collector.cpuTdpW', env: 'WATTSCOPE_CPU_TDP_W', kind: 'number', default: 65, min: 0, max: 10000, doc: 'CPU TDP for the estimate used only where no CPU power sensor exists.' } as const satisfies OptionSpec;
export const CPU_IDLE_W = { key: 'collector.cpuIdleW', env: 'WATTSCOPE_CPU_IDLE_W', kind: 'number', default: 10, min: 0, max: 10000, doc: 'CPU idle power for that estimate.' } as const satisfies OptionSpec;
export function estimatedPowerW(utilisationPct: number, tdpW: number, idleW: number): number {
  const u = Math.min(100, Math.max(0, utilisationPct)) / 100;
  return idleW + (tdpW - idleW) * u;
}

class EstimatedCpuChannel implements PowerChannel {
  readonly id = 'estimate/cpu';
  readonly domain = 'cpu' as const;
  readonly method = 'estimated' as const;
  /** its reading is the model's mean power since the last one: exact read at each report, as a counter */
  readonly meanSinceLastRead = true;
  /** the model, in its own words */
  readonly reading = 'idle + (TDP - idle) × /proc/stat utilisation';
  readonly measures = { kind: 'cpu-estimate' } as const;
  readonly rank = 0;
  readonly onlyIfCounted = true;
  readonly whenCounted: string;
  inTotal = false;
  private prev: CpuTimes | undefined;
  private lastUsage = 0;
  private readonly stat: ProcFile;
  constructor(
    statPath: string,
    private readonly tdpW: number,
    private readonly idleW: number,
  ) {
    this.stat = new ProcFile(statPath, true);
    this.whenCounted = `no CPU power sensor found; reporting estimated CPU power (method=estimated): idle ${idleW} W + (TDP ${tdpW} W − idle) × utilisation; set WATTSCOPE_CPU_TDP_W and WATTSCOPE_CPU_IDLE_W to this CPU's figures`;
  }
  read(): number | undefined {
    const cur = parseProcStat(this.stat.read()).get(CPU.all);
    if (!cur) return undefined;
    const usage = this.prev && cpuUsage(this.prev, cur);
    this.prev = cur;
    // no tick since the last read (reads faster than USER_HZ): utilisation is unchanged
    if (usage) this.lastUsage = usage.usagePct;
    return estimatedPowerW(this.lastUsage, this.tdpW, this.idleW);
  }
  close(): void {
    this.stat.close();
  }
}

class EstimateSource implements Source {
  readonly name = 'estimate';
  constructor(private readonly channel: EstimatedCpuChannel) {}
  channels(): PowerChannel[] {
    return [this.channel];
  }
  close(): void {
    this.channel.close();
  }
}

export const estimateSource: SourceFactory = {
  name: 'estimate',
  options: [CPU_TDP_W, CPU_IDLE_W],
  async discover(ctx) {
    const path = join(ctx.procfs, 'stat');
    try {
      if (!parseProcStat(readText(path)).has(CPU.all)) return undefined;
    } catch {
      return undefined;
    }
    const channel = new EstimatedCpuChannel(path, optionValue(ctx.config, CPU_TDP_W), optionValue(ctx.config, CPU_IDLE_W));
    channel.read();
    return new EstimateSource(channel);
  },
};
