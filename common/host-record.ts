/**
 * The `host` record (docs/DATA-MODEL.md): written by the collector, read by the API to know a
 * host's platform, the power sources it expects points from, and how late they can arrive.
 */
import { HOST_RECORD, HOST_TAGS, MEASUREMENT, type PowerDomain, type PowerMethod, type Sample } from './model.js';

export interface HostSource {
  id: string;
  domain: PowerDomain;
  method: PowerMethod;
  in_total: boolean;
  /** the GPU index this source measures, for per-GPU sources */
  gpu?: number | undefined;
  /**
   * the value it reads, in its sensor's own words: `energy_uj`, `power1_input`,
   * `power1_average`, `power.draw.instant`, `nvmlDeviceGetTotalEnergyConsumption`… (absent in
   * records of collectors before it was listed)
   */
  reading?: string | undefined;
}

/** An inference server the collector scrapes for `workload` points (collector/sources/serving). */
export interface HostWorkload {
  /** the endpoint, `host:port` (the `instance` tag of its points) */
  instance: string;
  /** the engine recognised at its last scrape; null before one answered */
  engine: string | null;
}

export interface HostGpu {
  index: number;
  name: string;
  uuid?: string | undefined;
}

export interface HostRecord {
  host: string;
  platform: string;
  cpuModel: string | null;
  gpus: HostGpu[];
  sources: HostSource[];
  sampleHz: number | null;
  reportIntervalS: number | null;
  flushIntervalS: number | null;
  version: string | null;
  clockOffsetS: number | null;
  clockOffsetErrorS: number | null;
  startedAtMs: number | null;
  /** its grid's carbon intensity, g CO₂ per kWh, where its collector was told */
  gridIntensity?: number | null | undefined;
  /** the inference servers it scrapes for `workload` points (absent or [] where none) */
  workload?: HostWorkload[] | undefined;
  /** when the record was written (epoch ms) */
  timeMs: number;
}

const F = HOST_RECORD.fields;

export function hostRecordSample(r: HostRecord): Sample {
  const fields: Sample['fields'] = {
    [F.gpus]: JSON.stringify(r.gpus),
    [F.sources]: JSON.stringify(r.sources),
  };
  const put = (k: string, v: string | number | null) => {
    if (v !== null && (typeof v === 'string' || Number.isFinite(v))) fields[k] = v;
  };
  put(F.cpuModel, r.cpuModel);
  put(F.sampleHz, r.sampleHz);
  put(F.reportIntervalS, r.reportIntervalS);
  put(F.flushIntervalS, r.flushIntervalS);
  put(F.version, r.version);
  put(F.clockOffsetS, r.clockOffsetS);
  put(F.clockOffsetErrorS, r.clockOffsetErrorS);
  put(F.startedAtMs, r.startedAtMs);
  put(F.gridIntensity, r.gridIntensity ?? null);
  if (r.workload && r.workload.length > 0) fields[F.workload] = JSON.stringify(r.workload);
  return { measurement: MEASUREMENT.host, tags: { [HOST_TAGS.host]: r.host, [HOST_TAGS.platform]: r.platform }, fields, timeMs: r.timeMs };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function jsonArray<T>(v: unknown): T[] {
  if (typeof v !== 'string') return [];
  try {
    const parsed = JSON.parse(v) as unknown;
    return Array.isArray(parsed) ? (parsed as T[]) : [];
  } catch {
    return [];
  }
}

/** A row of `SELECT * FROM host` (tags merged in) as a record. */
export function hostRecordFromRow(row: Record<string, unknown>): HostRecord {
  return {
    host: text(row[HOST_TAGS.host]) ?? '',
    platform: text(row[HOST_TAGS.platform]) ?? '',
    cpuModel: text(row[F.cpuModel]),
    gpus: jsonArray<HostGpu>(row[F.gpus]),
    sources: jsonArray<HostSource>(row[F.sources]),
    sampleHz: num(row[F.sampleHz]),
    reportIntervalS: num(row[F.reportIntervalS]),
    flushIntervalS: num(row[F.flushIntervalS]),
    version: text(row[F.version]),
    clockOffsetS: num(row[F.clockOffsetS]),
    clockOffsetErrorS: num(row[F.clockOffsetErrorS]),
    startedAtMs: num(row[F.startedAtMs]),
    gridIntensity: num(row[F.gridIntensity]),
    workload: jsonArray<HostWorkload>(row[F.workload]).filter((w) => typeof w?.instance === 'string'),
    timeMs: num(row.time) ?? 0,
  };
}
