/**
 * The work of a window from `workload` points (docs/DATA-MODEL.md "workload"), pure: requests,
 * prompt tokens and output tokens of the serving engines on a run's hosts, prorated at the two
 * edges exactly as energy is (./energy.ts): a point covers (t − interval_s, t], its counts spread
 * evenly over it. With the window's energy, energy per request and per output token.
 *
 * For each series (host, engine, model, instance) the store returns, computed on the server:
 * the sums of the points that end inside (t0, t1], the first of them (its part before t0 is taken
 * off), and the first point that ends after t1 (its part inside is added).
 */
import { WORKLOAD_COUNTS, type WorkloadCount } from '../../common/model.js';
import { Type } from '@sinclair/typebox';
import { insideFraction } from './energy.js';
import { Nullable } from './record.js';

export type Counts = Partial<Record<WorkloadCount, number>>;

export interface WorkloadEdge {
  timeMs: number;
  intervalS: number;
  counts: Counts;
  /** the host's energy over the point's interval, as its collector read it at the two scrapes */
  energyJ?: number | undefined;
}

export interface WorkloadWindowData {
  host: string;
  engine: string;
  model: string;
  instance: string;
  inside: { intervalS: number; counts: Counts; energyJ?: number | undefined } | undefined;
  firstInside: WorkloadEdge | undefined;
  firstAfter: WorkloadEdge | undefined;
}

/** One engine's model on one host, over a window. */
export interface ServedWork {
  host: string;
  engine: string;
  model_name: string;
  instance: string;
  /** null where the engine does not count it (Triton has no token counters) */
  requests: number | null;
  prompt_tokens: number | null;
  output_tokens: number | null;
  /** seconds of the window its points cover / the window's length, 0–1 */
  coverage: number;
  /**
   * the host's energy over the very intervals of this work (the collector's reading at each
   * scrape, carried on its points), prorated alike; null where its points carry none
   */
  energy_j: number | null;
}

/** A ServedWork as the run's `workload` keeps it and the API gives it. */
export const ServedSchema = Type.Object({
  host: Type.String(),
  engine: Type.String({ description: 'vllm, sglang, tgi, triton, or the name WATTSCOPE_SERVING_COUNTERS gives.' }),
  model_name: Type.String(),
  instance: Type.String({ description: 'The endpoint its collector scraped, host:port.' }),
  requests: Nullable(Type.Number({ description: 'null where the engine does not count them.' })),
  prompt_tokens: Nullable(Type.Number()),
  output_tokens: Nullable(Type.Number()),
  coverage: Type.Number({ description: 'Seconds of the window its points cover / the window’s length, 0–1.' }),
  energy_j: Nullable(Type.Number({ description: 'The host’s energy over the very intervals of this work, as its collector read it at each scrape (J); null from collectors that did not carry it.' })),
});
export const ServedList = Type.Unsafe<ServedWork[]>(Type.Array(ServedSchema));

export interface WindowWork {
  /** summed over the engines; null where none counts it, or no workload point covers the window */
  requests: number | null;
  prompt_tokens: number | null;
  output_tokens: number | null;
  served: ServedWork[];
}

export function seriesWork(d: WorkloadWindowData, t0: number, t1: number): ServedWork {
  const counts: Counts = { ...(d.inside?.counts ?? {}) };
  let covered = d.inside?.intervalS ?? 0;
  let energy = d.inside?.energyJ;
  const add = (edge: WorkloadEdge, share: number) => {
    for (const k of WORKLOAD_COUNTS) {
      const v = edge.counts[k];
      if (v !== undefined) counts[k] = (counts[k] ?? 0) + v * share;
    }
    if (edge.energyJ !== undefined) energy = (energy ?? 0) + edge.energyJ * share;
    covered += edge.intervalS * share;
  };
  if (d.firstInside) add(d.firstInside, insideFraction(d.firstInside, t0, t1) - 1);
  if (d.firstAfter) add(d.firstAfter, insideFraction(d.firstAfter, t0, t1));
  const seconds = (t1 - t0) / 1000;
  const known = (k: WorkloadCount) => (d.inside?.counts[k] !== undefined || d.firstInside?.counts[k] !== undefined || d.firstAfter?.counts[k] !== undefined ? Math.max(0, counts[k] ?? 0) : null);
  return {
    host: d.host,
    engine: d.engine,
    model_name: d.model,
    instance: d.instance,
    requests: known('requests'),
    prompt_tokens: known('prompt_tokens'),
    output_tokens: known('output_tokens'),
    coverage: seconds > 0 ? Math.min(1, Math.max(0, covered / seconds)) : 0,
    energy_j: energy === undefined ? null : Math.max(0, energy),
  };
}

/** Every series' work over [t0, t1], and the sums; a series with no point in the window is left out. */
export function windowWork(series: readonly WorkloadWindowData[], t0: number, t1: number): WindowWork {
  const served = series
    .map((s) => seriesWork(s, t0, t1))
    .filter((s) => s.coverage > 0)
    .sort((a, b) => a.host.localeCompare(b.host) || a.engine.localeCompare(b.engine) || a.model_name.localeCompare(b.model_name) || a.instance.localeCompare(b.instance));
  const sum = (k: WorkloadCount) => (served.some((s) => s[k] !== null) ? served.reduce((a, s) => a + (s[k] ?? 0), 0) : null);
  return { requests: sum('requests'), prompt_tokens: sum('prompt_tokens'), output_tokens: sum('output_tokens'), served };
}

/** Joules per unit of work: null without energy, or without work to divide by. */
export function energyPer(energyJ: number | null | undefined, count: number | null | undefined): number | null {
  if (energyJ === null || energyJ === undefined || count === null || count === undefined || !(count > 0)) return null;
  const v = energyJ / count;
  return Number.isFinite(v) ? v : null;
}

/** A time range of one host: its energy, what its serving engines did, and the energy of each unit of work. */
export interface WorkloadReport {
  host: string;
  from: string;
  to: string;
  duration_s: number;
  /** the host's energy: its in-total sources; null where no power point covers the range */
  energy_j: number | null;
  /** seconds of the range its least-covered source covers / the range's length */
  coverage: number;
  requests: number | null;
  prompt_tokens: number | null;
  output_tokens: number | null;
  energy_per_request_j: number | null;
  energy_per_output_token_j: number | null;
  /** per engine, model and endpoint: its work, and the host's energy over it (several engines on one host share one energy) */
  served: Array<ServedWork & { energy_per_request_j: number | null; energy_per_output_token_j: number | null }>;
}

/**
 * The range's figures. Each server's energy per unit is the host's energy over the very intervals
 * its work was counted in (carried on its points, so a server that started or stopped inside the
 * range is not charged for the time it did nothing); without that, the host's energy over the
 * range. The host's own figures: its one server's, or — with several — the host's energy over
 * all their work.
 */
export function workloadReport(host: string, t0: number, t1: number, energy: { energyJ: number | null; coverage: number }, work: WindowWork): WorkloadReport {
  const served = work.served.map((s) => ({ ...s, energy_per_request_j: energyPer(s.energy_j ?? energy.energyJ, s.requests), energy_per_output_token_j: energyPer(s.energy_j ?? energy.energyJ, s.output_tokens) }));
  const only = served.length === 1 ? served[0] : undefined;
  return {
    host,
    from: new Date(t0).toISOString(),
    to: new Date(t1).toISOString(),
    duration_s: (t1 - t0) / 1000,
    energy_j: energy.energyJ,
    coverage: energy.coverage,
    requests: work.requests,
    prompt_tokens: work.prompt_tokens,
    output_tokens: work.output_tokens,
    energy_per_request_j: only ? only.energy_per_request_j : energyPer(energy.energyJ, work.requests),
    energy_per_output_token_j: only ? only.energy_per_output_token_j : energyPer(energy.energyJ, work.output_tokens),
    served,
  };
}
