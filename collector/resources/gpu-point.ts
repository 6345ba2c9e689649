/** The `gpu` point every GPU source emits (docs/DATA-MODEL.md). */
import { GPU, MEASUREMENT, type Sample } from '../../common/model.js';

export interface GpuReading {
  index: number;
  name: string;
  utilPct?: number | undefined;
  memUsedBytes?: number | undefined;
  memTotalBytes?: number | undefined;
  /** NVML utilization.memory: percent of time device memory was being read or written */
  memUtilPct?: number | undefined;
  tempC?: number | undefined;
  smClockMhz?: number | undefined;
}

export function gpuSample(hostTags: Record<string, string>, r: GpuReading, timeMs: number): Sample | undefined {
  const f = GPU.fields;
  const fields: Record<string, number> = {};
  const put = (k: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) fields[k] = v;
  };
  put(f.utilPct, r.utilPct);
  put(f.memUsedBytes, r.memUsedBytes);
  put(f.memTotalBytes, r.memTotalBytes);
  put(f.memUtilPct, r.memUtilPct);
  put(f.tempC, r.tempC);
  put(f.smClockMhz, r.smClockMhz);
  if (Object.keys(fields).length === 0) return undefined;
  return { measurement: MEASUREMENT.gpu, tags: { ...hostTags, [GPU.tags.gpu]: String(r.index), [GPU.tags.gpuName]: r.name }, fields, timeMs };
}

export const MIB = 1024 * 1024;
