/**
 * A run's measurement in one pass over plain data (pure): the window's energy per source, the
 * run's scope, net energy, host metrics, what its own processes were attributed, its clock
 * offsets and grid intensities, the work of the serving engines on its hosts (./workload.ts), and — for an ended inference or training run — the steady part
 * of its power curve with that part's average power. Everything it reads comes in
 * `MeasureInputs`, gathered by the measuring service in one batch of named queries
 * (../repo/measurement.ts); nothing here waits, queries or logs, so it is tested with literals.
 *
 * The steady part's power comes from the same curve the steady part is found on (sums of energy
 * and of covered seconds per source and bucket), over the buckets the steady part holds whole,
 * so a stop measures once: no second read of the store for the steady window.
 */
import type { HostRecord } from '../../common/host-record.js';
import { CPU, GPU, ROLLUP } from '../../common/model.js';
import { DEFAULT_REPORT_S, expectedSources } from './arrival.js';
import type { ClockShifts } from './clock.js';
import { netEnergy, seriesEnergy, windowEnergy, type SeriesWindowData } from './energy.js';
import { applyMeasured } from './run.js';
import type { Run } from './run-record.js';
import { inScope, resolveScope } from './scope.js';
import { steadyState, type PowerBucket } from './steady.js';
import type { WindowPlan } from './window-plan.js';
import { windowWork, type WorkloadWindowData } from './workload.js';

/** Sums of the GPU and CPU fields the summary averages, per host (and GPU) as the store groups them. */
export interface MetricRow {
  host: string;
  /** the GPU index for `gpu` rows; null for CPU rows */
  gpu: number | null;
  sums: Readonly<Record<string, number>>;
}

export interface HostMetrics {
  avg_gpu_util_pct: number | null;
  avg_gpu_mem_pct: number | null;
  avg_cpu_pct: number | null;
}

/**
 * Energy the collectors attributed to one run's processes, per host and source
 * (collector/attribution.ts): read over the window as a source's energy is — the sums inside and
 * the two edge points — and prorated at its edges alike, so that it is never more than the same
 * source's energy over the same window.
 */
export interface AttributedRow {
  host: string;
  source: string;
  domain: string;
  window: SeriesWindowData;
  share: number;
  note: string | null;
}

/** Energy and covered seconds of one series' points that end in a bucket [timeMs, timeMs + bucketMs). */
export interface CurveBucket {
  timeMs: number;
  energyJ: number;
  intervalS: number;
}

/** A run's power curve: per in-total series, its buckets; and the energy attributed to the run's processes per bucket. */
export interface PowerCurve {
  bucketMs: number;
  series: Array<{ host: string; source: string; buckets: CurveBucket[] }>;
  attributed: Array<{ timeMs: number; energyJ: number }>;
}

/** How a run's curve is read: buckets of `bucketMs`, from raw points or — for long runs — from the 10-minute rollups in the middle. */
export interface CurvePlan {
  bucketMs: number;
  fromRollups: boolean;
}

/** Buckets of a run's curve for the steady part: one second, or coarser so that a long run has at most this many. */
export const STEADY_MAX_BUCKETS = 600;
/**
 * A run whose window is read from rollups and holds at least this many of them (6 h) takes its
 * curve from the rollups too: a `GROUP BY time` over a day of raw points cost ~0.5 s of a stop
 * (bench/README.md), and ten minutes is under 3 % of such a run.
 */
export const CURVE_FROM_ROLLUPS_MIN_BUCKETS = 36;

export function curvePlan(t0: number, t1: number, window: WindowPlan, rollupBucketMs: number = ROLLUP.bucketMs): CurvePlan {
  if (window.kind === 'rollups' && window.buckets >= CURVE_FROM_ROLLUPS_MIN_BUCKETS) return { bucketMs: rollupBucketMs, fromRollups: true };
  return { bucketMs: Math.max(1000, Math.ceil((t1 - t0) / STEADY_MAX_BUCKETS / 1000) * 1000), fromRollups: false };
}

export interface MeasureInputs {
  run: Run;
  /** the window's end (clamped to the run's start) */
  endMs: number;
  /** the host records that describe the window: the newest before it and every one inside */
  records: readonly HostRecord[];
  /** per in-total series: server-side sums inside the window and its two edge points */
  series: readonly SeriesWindowData[];
  metrics: readonly MetricRow[];
  attributed: readonly AttributedRow[];
  /** each host's latest completed baseline run that started before the run */
  baselines: ReadonlyMap<string, Run>;
  /** the run's power curve, for its steady part; null: none wanted (a running run, a baseline) */
  curve: PowerCurve | null;
  /** g CO₂ per kWh of hosts whose collectors say none */
  gridIntensity: number;
  /** the hosts read in their own clock, and those whose offset is unknown (./clock.ts); the series above are in the API's clock */
  clock: ClockShifts;
  /** per workload series of its hosts (serving engines): sums inside the window and its two edge points, in the API's clock */
  workload: readonly WorkloadWindowData[];
}

export interface Measurement {
  run: Run;
  /** GPUs of the run's scope that no host record maps (logged by the caller) */
  unresolvedGpus: string[];
}

/** The newest record of each host. */
export function latestRecords(records: readonly HostRecord[]): Map<string, HostRecord> {
  const latest = new Map<string, HostRecord>();
  for (const r of records) if ((latest.get(r.host)?.timeMs ?? -Infinity) < r.timeMs) latest.set(r.host, r);
  return latest;
}

/** Averages from the sums; only the GPUs `keep` takes count (a run's scope). */
export function hostMetrics(rows: readonly MetricRow[], keep: (host: string, gpu: number) => boolean = () => true): HostMetrics {
  const m: Record<string, number> = {};
  for (const row of rows) {
    if (row.gpu !== null && !keep(row.host, row.gpu)) continue;
    for (const [k, v] of Object.entries(row.sums)) m[k] = (m[k] ?? 0) + v;
  }
  const mean = (field: string) => {
    const c = m[field + ROLLUP.fields.countSuffix];
    return c ? (m[field + ROLLUP.fields.sumSuffix] ?? 0) / c : null;
  };
  const used = mean(GPU.fields.memUsedBytes);
  const total = mean(GPU.fields.memTotalBytes);
  return { avg_gpu_util_pct: mean(GPU.fields.utilPct), avg_gpu_mem_pct: used !== null && total ? (100 * used) / total : null, avg_cpu_pct: mean(CPU.fields.usagePct) };
}

const key = (host: string, source: string) => `${host}\u0000${source}`;

export function measureRun(inputs: MeasureInputs): Measurement {
  const { run } = inputs;
  const t0 = run.started_at_ms;
  const t1 = Math.max(t0, inputs.endMs);
  const latest = latestRecords(inputs.records);
  // the run's GPUs, as its hosts' collectors number them (every GPU when it names none)
  const scope = resolveScope(run.gpus, run.hosts, latest);
  const gpuInRun = (host: string, gpu: number) => scope.indices.get(host)?.has(gpu) ?? true;
  const gross = windowEnergy(inputs.series, t0, t1, expectedSources(inputs.records), (s) => inScope(s.host, s.source, s.domain, scope, latest));
  const idle = new Map<string, number>();
  for (const [host, baseline] of inputs.baselines) {
    // a baseline over several hosts counts for this host's sources only
    for (const s of baseline.sources) if (s.host === host) idle.set(key(s.host, s.source), s.avgPowerW);
  }
  const attributed = inputs.attributed.map((a) => ({ ...a, energyJ: seriesEnergy(a.window, t0, t1).energyJ }));
  const notes = [...new Set(attributed.map((a) => a.note && `${a.host}/${a.source}: ${a.note}`).filter((n): n is string => !!n))];
  const measured = applyMeasured(
    run,
    {
      energy_j: gross.energyJ,
      energy_host_j: gross.hostEnergyJ,
      energy_net_j: idle.size > 0 ? netEnergy(gross, idle, (t1 - t0) / 1000) : gross.energyJ,
      coverage: gross.coverage,
      sources: gross.sources,
      attributed: attributed.length > 0 || notes.length > 0 ? { sources: attributed.map((a) => ({ host: a.host, source: a.source, domain: a.domain, energy_j: a.energyJ, share: a.share })), notes } : null,
      ...hostMetrics(inputs.metrics, gpuInRun),
    },
    t1,
  );
  // each host's grid as its collector says, else the deployment's: kept with the run, as it was when measured
  const grid_intensity = Object.fromEntries(run.hosts.map((h) => [h, latest.get(h)?.gridIntensity ?? inputs.gridIntensity]));
  // what the serving engines on its hosts did in the window, prorated at the edges like its energy
  const work = windowWork(inputs.workload, t0, t1);
  const out: Run = {
    ...measured,
    clock_offsets: inputs.clock.applied,
    clock_unknown: inputs.clock.unknown,
    grid_intensity,
    requests: work.requests,
    prompt_tokens: work.prompt_tokens,
    output_tokens: work.output_tokens,
    workload: work.served,
  };
  return { run: inputs.curve ? { ...out, ...steadyPart(out, inputs.curve, inputs.records, t0, t1) } : out, unresolvedGpus: scope.unresolved };
}

type SteadyFields = Pick<Run, 'steady_rise_s' | 'steady_tail_s' | 'steady_power_w' | 'steady_reason'>;

const noSteadyPart = (reason: string): SteadyFields => ({ steady_rise_s: null, steady_tail_s: null, steady_power_w: null, steady_reason: reason });

/**
 * The steady part of a run's power curve (./steady.ts): the run's own in-total sources summed per
 * bucket, the rise and the tail found, and the average power of the scored energy over the
 * buckets that lie whole inside what remains. A bucket holds the points that end in it, which
 * began up to a point's interval before it: it lies inside when that earlier start does too.
 * Over those buckets each source's power is its energy over the seconds its points cover (as a
 * source's average power is), summed over the sources; what the run's processes were attributed
 * (score_energy = attributed) is taken over the buckets' length.
 */
export function steadyPart(run: Run, curve: PowerCurve, records: readonly HostRecord[], t0: number, t1: number): SteadyFields {
  const counted = new Set(run.sources.filter((s) => s.inRun !== false && s.coverage > 0).map((s) => key(s.host, s.source)));
  if (counted.size === 0) return noSteadyPart('no power data covers the run');
  const { bucketMs } = curve;
  const perBucket = new Map<number, { watts: number; sources: Map<string, CurveBucket> }>();
  for (const series of curve.series) {
    const k = key(series.host, series.source);
    if (!counted.has(k)) continue;
    for (const b of series.buckets) {
      if (b.intervalS <= 0) continue;
      const cur = perBucket.get(b.timeMs) ?? { watts: 0, sources: new Map<string, CurveBucket>() };
      cur.watts += b.energyJ / b.intervalS;
      cur.sources.set(k, b);
      perBucket.set(b.timeMs, cur);
    }
  }
  // a bucket that lacks a source's point is not the run's total: left out rather than read as a drop
  const whole = [...perBucket.entries()].filter(([, b]) => b.sources.size === counted.size).sort(([a], [b]) => a - b);
  const buckets: PowerBucket[] = whole.map(([timeMs, b]) => ({ timeMs, watts: b.watts }));
  const reportS = Math.max(...records.map((r) => r.reportIntervalS ?? DEFAULT_REPORT_S), run.hosts.some((h) => !records.some((r) => r.host === h)) ? DEFAULT_REPORT_S : 0);
  const lagMs = reportS * 1000;
  const found = steadyState(buckets, bucketMs, t0, t1, { pointIntervalMs: lagMs });
  if (!found.found) return noSteadyPart(found.reason);
  const inside = whole.filter(([timeMs]) => timeMs - lagMs >= found.fromMs && Math.min(timeMs + bucketMs, t1) <= found.toMs);
  if (inside.length === 0) return noSteadyPart('no power data covers the steady part');
  let watts: number | null;
  if (run.score_energy === 'attributed') {
    const times = new Set(inside.map(([t]) => t));
    const energy = curve.attributed.filter((a) => times.has(a.timeMs)).reduce((a, b) => a + b.energyJ, 0);
    const seconds = inside.reduce((a, [t]) => a + (Math.min(t + bucketMs, t1) - Math.max(t, t0)) / 1000, 0);
    watts = run.energy_attributed_j === null || seconds <= 0 ? null : energy / seconds;
  } else {
    const perSource = new Map<string, { energyJ: number; intervalS: number }>();
    for (const [, b] of inside) {
      for (const [k, s] of b.sources) {
        const cur = perSource.get(k) ?? { energyJ: 0, intervalS: 0 };
        perSource.set(k, { energyJ: cur.energyJ + s.energyJ, intervalS: cur.intervalS + s.intervalS });
      }
    }
    watts = [...perSource.values()].reduce((a, s) => a + s.energyJ / s.intervalS, 0);
  }
  if (watts === null) return noSteadyPart('no power data covers the steady part');
  return { steady_rise_s: found.riseS, steady_tail_s: found.tailS, steady_power_w: watts, steady_reason: null };
}
