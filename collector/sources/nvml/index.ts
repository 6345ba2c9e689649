/**
 * NVIDIA GPUs through NVML. Per GPU the total-energy counter (Volta and newer) is the power
 * source (`method=counter`): NVML's power reading on A100/H100 averages only ~25 ms of every
 * 100 ms (Yang et al., SC'24) and can miss a third of a bursty load's energy; the counter has no
 * such blind spot. Older GPUs fall back to sampling the power reading. Utilisation, memory,
 * temperature and SM clock go into `gpu` points. No library → no source, quietly. The binding
 * is owned once (../../resources/), not by this source. See README.md.
 */
import type { Sample } from '../../../common/model.js';
import type { Logger } from '../../../common/log.js';
import { NvmlError, NVML_ERROR_GPU_IS_LOST, NVML_LIBRARY, NVML_MODE, type NvmlApi } from '../../resources/nvml.js';
import { gpuSample } from '../../resources/gpu-point.js';
import { gpuMeasurand, type PowerChannel, type Source, type SourceFactory } from '../../source.js';
import type { GpuProcessUse } from '../../attribution.js';


/** Among readings of one GPU by the same method: NVML first. */
const RANK = 0;

interface Device {
  index: number;
  name: string;
  uuid: string | undefined;
  pci: string | undefined;
  hasCounter: boolean;
}

class NvmlChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly rank = RANK;
  inTotal = false;
  readonly method: 'counter' | 'sampled';
  readonly id: string;
  readonly gpu: number;
  readonly measures;
  constructor(
    private readonly api: NvmlApi,
    private readonly device: Device,
    private readonly log: Logger,
  ) {
    this.method = device.hasCounter ? 'counter' : 'sampled';
    this.id = `nvml/${device.index}`;
    this.gpu = device.index;
    this.measures = gpuMeasurand(device.pci, device.index);
  }
  read(): number | undefined {
    try {
      if (this.device.hasCounter) {
        const mj = this.api.totalEnergyMj(this.device.index);
        return mj === undefined ? undefined : mj / 1000;
      }
      const mw = this.api.powerMw(this.device.index);
      return mw === undefined ? undefined : mw / 1000;
    } catch (e) {
      reportNvmlError(this.log, this.device, e);
      return undefined;
    }
  }
}

function reportNvmlError(log: Logger, device: Device, e: unknown): void {
  const lost = e instanceof NvmlError && e.code === NVML_ERROR_GPU_IS_LOST;
  log.once(
    `nvml:${device.index}:${e instanceof NvmlError ? e.code : 'x'}`,
    'warn',
    lost ? `GPU ${device.index} (${device.name}) fell off the bus; its readings stop until it is back (a reboot usually)` : `reading GPU ${device.index} through NVML failed; will keep trying`,
    { error: e },
  );
}

class NvmlSource implements Source {
  readonly name = 'nvml';
  private readonly list: PowerChannel[];
  constructor(
    private readonly api: NvmlApi,
    private readonly devices: Device[],
    private readonly hostTags: Record<string, string>,
    private readonly log: Logger,
  ) {
    this.list = devices.map((d) => new NvmlChannel(api, d, log));
  }
  channels() {
    return this.list;
  }
  gpus() {
    return this.devices.map((d) => ({ index: d.index, name: d.name, uuid: d.uuid }));
  }
  gpuProcessUse(gpu: number, sinceUs: number): GpuProcessUse | undefined {
    try {
      const processes = this.api.computeProcesses?.(gpu);
      if (processes === undefined) return undefined;
      const smUtilByPid = new Map<number, number>();
      for (const s of this.api.processUtilization?.(gpu, sinceUs) ?? []) smUtilByPid.set(s.pid, (smUtilByPid.get(s.pid) ?? 0) + s.smUtil);
      return { smUtilByPid, processes };
    } catch (e) {
      const device = this.devices.find((d) => d.index === gpu);
      if (device) reportNvmlError(this.log, device, e);
      return undefined;
    }
  }
  collect(timeMs: number): Sample[] {
    const out: Sample[] = [];
    for (const d of this.devices) {
      try {
        const util = this.api.utilization(d.index);
        const mem = this.api.memory(d.index);
        const s = gpuSample(
          this.hostTags,
          {
            index: d.index,
            name: d.name,
            utilPct: util?.gpu,
            memUtilPct: util?.memory,
            memUsedBytes: mem?.used,
            memTotalBytes: mem?.total,
            tempC: this.api.temperatureC(d.index),
            smClockMhz: this.api.smClockMhz(d.index),
          },
          timeMs,
        );
        if (s) out.push(s);
      } catch (e) {
        reportNvmlError(this.log, d, e);
      }
    }
    return out;
  }
}

export const nvmlSource: SourceFactory = {
  name: 'nvml',
  options: [NVML_MODE, NVML_LIBRARY],
  async discover(ctx) {
    const api = ctx.resources.nvml(ctx.config);
    if (!api) return undefined;
    const devices: Device[] = [];
    const count = api.deviceCount();
    for (let index = 0; index < count; index++) {
      try {
        const name = api.name(index);
        const hasCounter = api.totalEnergyMj(index) !== undefined;
        devices.push({ index, name, uuid: api.uuid?.(index), pci: api.pciBusId?.(index), hasCounter });
        if (!hasCounter) ctx.log.once(`nvml-sampled:${index}`, 'info', `GPU ${index} (${name}) has no total-energy counter (pre-Volta); its power is sampled at the sample rate`);
      } catch (e) {
        ctx.log.once(`nvml-discover:${index}`, 'warn', `GPU ${index} cannot be read through NVML; skipped`, { error: e });
      }
    }
    return devices.length === 0 ? undefined : new NvmlSource(api, devices, ctx.hostTags, ctx.log);
  },
};
