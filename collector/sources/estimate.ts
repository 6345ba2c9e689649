/**
 * Estimated CPU power, only where no CPU power sensor exists: idle + (TDP − idle) × utilisation,
 * with TDP and idle from the config (WATTSCOPE_CPU_TDP_W, default 65 W; WATTSCOPE_CPU_IDLE_W,
 * default 10 W). Labelled `method=estimated`, so a machine without sensors still shows an honest
 * figure that nobody mistakes for a measurement.
 */
import { join } from 'node:path';
import { CPU } from '../../common/model.js';
import type { PowerChannel, Source, SourceFactory } from '../source.js';
import { readText } from '../sysfs.js';
import { cpuUsage, parseProcStat, type CpuTimes } from './cpu.js';

export function estimatedPowerW(utilisationPct: number, tdpW: number, idleW: number): number {
  const u = Math.min(100, Math.max(0, utilisationPct)) / 100;
  return idleW + (tdpW - idleW) * u;
}

class EstimatedCpuChannel implements PowerChannel {
  readonly id = 'estimate/cpu';
  readonly domain = 'cpu' as const;
  readonly method = 'estimated' as const;
  readonly inTotal = true;
  private prev: CpuTimes | undefined;
  private lastUsage = 0;
  constructor(
    private readonly statPath: string,
    private readonly tdpW: number,
    private readonly idleW: number,
  ) {}
  read(): number | undefined {
    const cur = parseProcStat(readText(this.statPath)).get(CPU.all);
    if (!cur) return undefined;
    const usage = this.prev && cpuUsage(this.prev, cur);
    this.prev = cur;
    // no tick since the last read (reads faster than USER_HZ): utilisation is unchanged
    if (usage) this.lastUsage = usage.usagePct;
    return estimatedPowerW(this.lastUsage, this.tdpW, this.idleW);
  }
}

class EstimateSource implements Source {
  readonly name = 'estimate';
  constructor(private readonly channel: PowerChannel) {}
  channels() {
    return [this.channel];
  }
}

export const estimateSource: SourceFactory = {
  name: 'estimate',
  async discover(ctx) {
    if (ctx.channelsSoFar.some((c) => c.domain === 'cpu' || (c.domain === 'system' && c.inTotal))) return undefined;
    const path = join(ctx.procfs, 'stat');
    try {
      if (!parseProcStat(readText(path)).has(CPU.all)) return undefined;
    } catch {
      return undefined;
    }
    ctx.log.once('estimate', 'info', 'no CPU power sensor found; reporting estimated CPU power (method=estimated)', {
      tdp_w: ctx.config.collector.cpuTdpW,
      idle_w: ctx.config.collector.cpuIdleW,
    });
    const channel = new EstimatedCpuChannel(path, ctx.config.collector.cpuTdpW, ctx.config.collector.cpuIdleW);
    channel.read();
    return new EstimateSource(channel);
  },
};
