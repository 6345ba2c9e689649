/**
 * What the collector tells about its host: the CPU model and platform (the `platform` tag) and
 * the host record's list of power sources (docs/DATA-MODEL.md). Pure over the discovered sources;
 * the daemon adds the clock and times.
 */
import { join } from 'node:path';
import type { Config } from '../common/config.js';
import type { HostGpu, HostSource } from '../common/host-record.js';
import { cpuModelFromCpuinfo, derivePlatform } from '../common/platform.js';
import type { Source } from './source.js';
import { readTrimmed } from './sysfs.js';

/** The GPUs as the first source that names them sees them (NVML before nvidia-smi and DCGM). */
export function gpusOf(sources: readonly Source[]): HostGpu[] {
  return sources.map((s) => s.gpus?.() ?? []).find((gpus) => gpus.length > 0) ?? [];
}

export function cpuModelOf(config: Config): string | null {
  return cpuModelFromCpuinfo(readTrimmed(join(config.collector.procfsRoot, 'cpuinfo')) ?? '') ?? null;
}

/** The platform tag: as configured, else from the CPU and GPU model names. */
export function platformOf(config: Config, cpuModel: string | null, sources: readonly Source[]): string {
  return config.platform || derivePlatform(cpuModel ?? undefined, gpusOf(sources).map((g) => g.name));
}

/** Every power channel, as the host record lists them. */
export function hostSources(sources: readonly Source[]): HostSource[] {
  return sources.flatMap((s) => s.channels().map((c) => ({ id: c.id, domain: c.domain, method: c.method, in_total: c.inTotal, ...(c.gpu === undefined ? {} : { gpu: c.gpu }) })));
}
