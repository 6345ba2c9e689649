/**
 * What the collector tells about its host: the CPU model and platform (the `platform` tag) and
 * the host record's list of power sources (docs/DATA-MODEL.md). Pure over the discovered sources;
 * the daemon adds the clock and times.
 */
import { join } from 'node:path';
import type { Config } from '../common/config.js';
import type { HostGpu, HostRecord, HostSource } from '../common/host-record.js';
import { cpuModelFromCpuinfo, derivePlatform } from '../common/platform.js';
import { tagValueProblem } from '../common/storage/line-protocol.js';
import type { Source } from './source.js';
import { readTextOr } from './sysfs.js';

/** The GPUs as the first source that names them sees them (NVML before nvidia-smi and DCGM). */
export function gpusOf(sources: readonly Source[]): HostGpu[] {
  return sources.map((s) => s.gpus?.() ?? []).find((gpus) => gpus.length > 0) ?? [];
}

export function cpuModelOf(config: Config): string | null {
  return cpuModelFromCpuinfo(readTextOr(join(config.collector.procfsRoot, 'cpuinfo')) ?? '') ?? null;
}

/**
 * The platform tag: as configured, else from the CPU and GPU model names. Every point carries
 * it: a name that could not be a tag (the sources clean their model names; /proc/cpuinfo is not
 * checked elsewhere) gives `unknown` rather than points that cannot be written.
 */
export function platformOf(config: Config, cpuModel: string | null, sources: readonly Source[]): string {
  const platform = config.platform || derivePlatform(cpuModel ?? undefined, gpusOf(sources).map((g) => g.name));
  return tagValueProblem(platform) === undefined ? platform : 'unknown';
}

/** The host record (docs/DATA-MODEL.md) of a collector with this config and these sources. */
export function hostRecordOf(
  config: Config,
  sources: readonly Source[],
  described: { platform: string; cpuModel: string | null; version: string | null; clock: { offsetS: number; errorS: number } | undefined; startedAtMs: number; timeMs: number },
): HostRecord {
  const { clock } = described;
  return {
    host: config.host,
    platform: described.platform,
    cpuModel: described.cpuModel,
    gpus: gpusOf(sources),
    sources: hostSources(sources),
    sampleHz: config.collector.sampleHz,
    reportIntervalS: config.collector.reportIntervalS,
    flushIntervalS: config.collector.flushIntervalS,
    version: described.version,
    clockOffsetS: clock ? Number(clock.offsetS.toFixed(4)) : null,
    clockOffsetErrorS: clock ? Number(clock.errorS.toFixed(4)) : null,
    startedAtMs: described.startedAtMs,
    gridIntensity: config.gridIntensity ?? null,
    workload: sources.flatMap((s) => s.workload?.() ?? []),
    timeMs: described.timeMs,
  };
}

/** Every power channel, as the host record lists them. */
export function hostSources(sources: readonly Source[]): HostSource[] {
  return sources.flatMap((s) => s.channels().map((c) => ({ id: c.id, domain: c.domain, method: c.method, in_total: c.inTotal, ...(c.gpu === undefined ? {} : { gpu: c.gpu }), reading: c.reading })));
}
