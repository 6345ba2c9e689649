/**
 * NVIDIA GPUs through NVML. Per GPU the total-energy counter (Volta and newer) is the power
 * source (`method=counter`): NVML's power reading on A100/H100 averages only ~25 ms of every
 * 100 ms (Yang et al., SC'24) and can miss a third of a bursty load's energy; the counter has no
 * such blind spot. Older GPUs fall back to sampling the power reading. Utilisation, memory,
 * temperature and SM clock go into `gpu` points. No library → no source, quietly.
 */
import type { Sample } from '../../common/model.js';
import type { Logger } from '../../common/log.js';
import { loadNvml, NvmlError, NVML_ERROR_GPU_IS_LOST, type NvmlApi } from '../gpu/nvml-binding.js';
import { gpuSample } from '../gpu/sample.js';
import type { PowerChannel, Source, SourceFactory } from '../source.js';
import type { GpuProcessUse } from '../attribution.js';

interface Device {
  index: number;
  name: string;
  uuid: string | undefined;
  hasCounter: boolean;
}

class NvmlChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly inTotal = true;
  readonly method: 'counter' | 'sampled';
  readonly id: string;
  readonly gpu: number;
  constructor(
    private readonly api: NvmlApi,
    private readonly device: Device,
    private readonly log: Logger,
  ) {
    this.method = device.hasCounter ? 'counter' : 'sampled';
    this.id = `nvml/${device.index}`;
    this.gpu = device.index;
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
  close() {
    this.api.shutdown();
  }
}

/** The NVML source over a given API (tests pass recorded values through it). */
export function nvmlSourceWith(load: (library: string) => NvmlApi | undefined): SourceFactory {
  return {
    name: 'nvml',
    async discover(ctx) {
      if (ctx.config.collector.nvml === 'off') return undefined;
      let api: NvmlApi | undefined;
      try {
        api = load(ctx.config.collector.nvmlLibrary);
      } catch (e) {
        // the library is there but will not start (driver not loaded, version mismatch)
        ctx.log.once('nvml-init', 'warn', 'libnvidia-ml is present but NVML did not initialise; is the NVIDIA driver loaded? Falling back to nvidia-smi if it works', { error: e });
        return undefined;
      }
      if (!api) return undefined;
      const devices: Device[] = [];
      const count = api.deviceCount();
      for (let index = 0; index < count; index++) {
        try {
          const name = api.name(index);
          const hasCounter = api.totalEnergyMj(index) !== undefined;
          devices.push({ index, name, uuid: api.uuid?.(index), hasCounter });
          if (!hasCounter) ctx.log.once(`nvml-sampled:${index}`, 'info', `GPU ${index} (${name}) has no total-energy counter (pre-Volta); its power is sampled at the sample rate`);
        } catch (e) {
          ctx.log.once(`nvml-discover:${index}`, 'warn', `GPU ${index} cannot be read through NVML; skipped`, { error: e });
        }
      }
      if (devices.length === 0) {
        api.shutdown();
        return undefined;
      }
      return new NvmlSource(api, devices, ctx.hostTags, ctx.log);
    },
  };
}

export const nvmlSource: SourceFactory = nvmlSourceWith(loadNvml);
