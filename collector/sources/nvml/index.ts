/**
 * NVIDIA GPUs through NVML. Per GPU the total-energy counter (Volta and newer) is the power
 * source (`method=counter`): NVML's power reading on A100/H100 averages only ~25 ms of every
 * 100 ms (Yang et al., SC'24) and can miss a third of a bursty load's energy; the counter has no
 * such blind spot. A GPU without it is read from the instantaneous power field value
 * (`sampled`), else from `nvmlDeviceGetPowerUsage`, an average on Ampere and newer (`averaged`). Utilisation, memory,
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

/** A name or id from the driver as it may become a tag: no control characters, bounded; undefined when empty. */
function nameText(t: string | undefined): string | undefined {
  if (t === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  const clean = t.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '').trim().slice(0, 96).replace(/\\+$/, '');
  return clean === '' ? undefined : clean;
}

/** What a GPU's power is read from, best first (DESIGN §5 "Readings"). */
export type NvmlReading = 'nvmlDeviceGetTotalEnergyConsumption' | 'NVML_FI_DEV_POWER_INSTANT' | 'nvmlDeviceGetPowerUsage';

interface Device {
  index: number;
  name: string;
  uuid: string | undefined;
  pci: string | undefined;
  reading: NvmlReading;
  method: 'counter' | 'sampled' | 'averaged';
}

/**
 * The best power reading a GPU gives: its total-energy counter (Volta and newer); else the
 * instantaneous power field value; else `nvmlDeviceGetPowerUsage`, a one-second average on
 * Ampere and newer but GA100 (compute capability above 8.0; taken as one where NVML does not
 * say), instantaneous on older GPUs.
 */
export function nvmlReading(api: NvmlApi, index: number): { reading: NvmlReading; method: 'counter' | 'sampled' | 'averaged' } {
  if (api.totalEnergyMj(index) !== undefined) return { reading: 'nvmlDeviceGetTotalEnergyConsumption', method: 'counter' };
  let instant: number | undefined;
  try {
    instant = api.powerInstantMw?.(index);
  } catch {
    instant = undefined; // a driver that does not know the field: the power reading it is
  }
  if (instant !== undefined) return { reading: 'NVML_FI_DEV_POWER_INSTANT', method: 'sampled' };
  let cc: number | undefined;
  try {
    cc = api.computeCapability?.(index);
  } catch {
    cc = undefined;
  }
  return { reading: 'nvmlDeviceGetPowerUsage', method: cc !== undefined && cc <= 8.0 ? 'sampled' : 'averaged' };
}

class NvmlChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly rank = RANK;
  inTotal = false;
  readonly method: 'counter' | 'sampled' | 'averaged';
  readonly reading: NvmlReading;
  readonly id: string;
  readonly gpu: number;
  readonly measures;
  constructor(
    private readonly api: NvmlApi,
    private readonly device: Device,
    private readonly log: Logger,
  ) {
    this.method = device.method;
    this.reading = device.reading;
    this.id = `nvml/${device.index}`;
    this.gpu = device.index;
    this.measures = gpuMeasurand(device.pci, device.index);
  }
  read(): number | undefined {
    try {
      const i = this.device.index;
      if (this.reading === 'nvmlDeviceGetTotalEnergyConsumption') {
        const mj = this.api.totalEnergyMj(i);
        return mj === undefined ? undefined : mj / 1000;
      }
      const mw = this.reading === 'NVML_FI_DEV_POWER_INSTANT' ? this.api.powerInstantMw?.(i) : this.api.powerMw(i);
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
        const name = nameText(api.name(index)) ?? `GPU ${index}`;
        const how = nvmlReading(api, index);
        devices.push({ index, name, uuid: nameText(api.uuid?.(index)), pci: nameText(api.pciBusId?.(index)), ...how });
        if (how.method === 'sampled') ctx.log.once(`nvml-sampled:${index}`, 'info', `GPU ${index} (${name}) has no total-energy counter (pre-Volta); its power (${how.reading}) is sampled at the sample rate`);
        if (how.method === 'averaged') ctx.log.once(`nvml-averaged:${index}`, 'info', `GPU ${index} (${name}) has no total-energy counter and no instantaneous power field; its power is NVML's one-second average (method=averaged), which lags load changes by about half a second`);
      } catch (e) {
        ctx.log.once(`nvml-discover:${index}`, 'warn', `GPU ${index} cannot be read through NVML; skipped`, { error: e });
      }
    }
    return devices.length === 0 ? undefined : new NvmlSource(api, devices, ctx.hostTags, ctx.log);
  },
};
