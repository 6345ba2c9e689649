/**
 * NVIDIA GPUs through `nvidia-smi`, where NVML cannot be loaded but the tool exists: the one
 * long-lived `nvidia-smi --query-gpu=… -lms N` process (../../resources/nvidia-smi.ts), shared
 * and kept across rediscoveries. nvidia-smi has no energy counter, so power is integrated at
 * the edge from the best reading the driver gives each GPU: `power.draw.instant` (`sampled`),
 * else the one-second average `power.draw.average` or an averaging `power.draw` (`averaged`,
 * which lags load changes by about half a second). See README.md.
 */
import type { OptionSpec } from '../../../common/config.js';
import { optionValue } from '../../../common/option-value.js';
import { findExecutable } from '../../../common/paths.js';
import type { Sample } from '../../../common/model.js';
import { gpuSample } from '../../resources/gpu-point.js';
import { chooseSmiReading, type SmiPowerField } from '../../resources/nvidia-smi-output.js';
import type { SmiStream } from '../../resources/nvidia-smi.js';
import { gpuMeasurand, type PowerChannel, type Source, type SourceFactory } from '../../source.js';

export const NVIDIA_SMI = { key: 'collector.nvidiaSmi', env: 'WATTSCOPE_NVIDIA_SMI', kind: 'string', default: 'nvidia-smi', doc: 'nvidia-smi executable, used only when NVML cannot be loaded.' } as const satisfies OptionSpec;

/** Among readings of one GPU by the same method: after NVML and DCGM. */
const RANK = 2;

class SmiChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly rank = RANK;
  inTotal = false;
  readonly id: string;
  readonly gpu: number;
  readonly measures;
  constructor(
    private readonly stream: SmiStream,
    private readonly index: number,
    pci: string | undefined,
    private readonly maxAgeMs: number,
    readonly reading: SmiPowerField,
    readonly method: 'sampled' | 'averaged',
  ) {
    this.id = `nvidia-smi/${index}`;
    this.gpu = index;
    this.measures = gpuMeasurand(pci, index);
  }
  read(): number | undefined {
    return this.stream.freshPower(this.index, this.reading, this.maxAgeMs);
  }
}

class SmiSource implements Source {
  readonly name = 'nvidia-smi';
  private readonly list: PowerChannel[];
  constructor(
    private readonly stream: SmiStream,
    private readonly devices: Array<{ index: number; name: string; pci: string | undefined; reading: { field: SmiPowerField; method: 'sampled' | 'averaged' } | undefined }>,
    private readonly hostTags: Record<string, string>,
    private readonly maxAgeMs: number,
  ) {
    this.list = devices.flatMap((g) => (g.reading ? [new SmiChannel(stream, g.index, g.pci, maxAgeMs, g.reading.field, g.reading.method)] : []));
  }
  channels() {
    return this.list;
  }
  gpus() {
    return this.devices.map((g) => ({ index: g.index, name: g.name }));
  }
  collect(timeMs: number): Sample[] {
    const out: Sample[] = [];
    for (const g of this.devices) {
      const row = this.stream.fresh(g.index, this.maxAgeMs);
      const s = row && gpuSample(this.hostTags, row, timeMs);
      if (s) out.push(s);
    }
    return out;
  }
}

export const nvidiaSmiSource: SourceFactory = {
  name: 'nvidia-smi',
  options: [NVIDIA_SMI],
  async discover(ctx) {
    // the tool is the fallback where NVML itself works not: no second reader of the same GPUs
    if (ctx.resources.nvml(ctx.config)) return undefined;
    const bin = optionValue(ctx.config, NVIDIA_SMI);
    // no tool, no GPU: quietly absent, without the cost of a failed spawn every rediscovery
    if (!findExecutable(bin)) return undefined;
    const periodMs = Math.max(20, Math.round(1000 / ctx.config.collector.sampleHz));
    const stream = await ctx.resources.smi(bin, periodMs);
    if (!(await stream.ready)) {
      // ENOENT (no nvidia-smi) is "no NVIDIA GPU here": quiet; a tool that runs and fails is not
      if (stream.lastError.trim()) ctx.log.once('smi-failed', 'warn', 'nvidia-smi is installed but reports no GPU', { stderr: stream.lastError.trim() });
      ctx.resources.dropSmi();
      return undefined;
    }
    const gpus = [...stream.latest.values()]
      .map((l) => ({ index: l.row.index, name: l.row.name, pci: l.row.pci, reading: chooseSmiReading(stream.powerSeen.get(l.row.index) ?? new Set(), l.row.computeCap, stream.fields) }))
      .sort((a, b) => a.index - b.index);
    for (const g of gpus) {
      if (!g.reading) ctx.log.once(`smi-no-power:${g.index}`, 'info', `GPU ${g.index} (${g.name}) reports no power draw through nvidia-smi; its gpu points are written, its energy is not measured`);
      else if (g.reading.method === 'averaged') {
        ctx.log.once(`smi-averaged:${g.index}`, 'info', `GPU ${g.index} (${g.name}): nvidia-smi gives only ${g.reading.field}, a one-second average (method=averaged): its power lags load changes by about half a second; a newer driver gives power.draw.instant`, { refused: stream.refused.join(',') || undefined });
      }
    }
    return new SmiSource(stream, gpus, ctx.hostTags, Math.max(3 * periodMs, 1000));
  },
};
