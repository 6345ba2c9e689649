/**
 * A run as stored in the `run` measurement, and its summary (pure). The summary carries the
 * columns of Table I of the Tub.ai paper (duration, average GPU power, energy in Wh, average
 * GPU utilisation and memory, average CPU), energy per source, gross and net energy, and every
 * score with the reason when it is null.
 */
import type { RunKind, RunStatus } from '../../common/model.js';
import type { SourceEnergy } from './energy.js';
import {
  JOULES_PER_WH,
  accuracyOf,
  compositeScore,
  energyPerInferenceUwh,
  infoDensity,
  netScore,
  perJoule,
  perSecond,
  type NetScoreCoefficients,
  type Score,
} from './scores.js';

export interface Run {
  run_id: string;
  model: string;
  platform: string;
  started_at_ms: number;
  status: RunStatus;
  kind: RunKind;
  hosts: string[];
  dataset: string | null;
  batch_size: number | null;
  inferences: number | null;
  correct: number | null;
  accuracy: number | null;
  params_m: number | null;
  macs_g: number | null;
  labels: Record<string, string>;
  heartbeat_at_ms: number | null;
  ended_at_ms: number | null;
  // computed
  duration_s: number | null;
  energy_j: number | null;
  energy_net_j: number | null;
  avg_power_w: number | null;
  coverage: number | null;
  sources: SourceEnergy[];
  avg_gpu_power_w: number | null;
  avg_gpu_util_pct: number | null;
  avg_gpu_mem_pct: number | null;
  avg_cpu_pct: number | null;
  /** hosts whose clock was off InfluxDB's by more than 0.5 s, seconds (host − InfluxDB) */
  clock_offsets: Record<string, number>;
  recompute_attempts: number | null;
  /** why a partial run stays partial, once it is no longer measured again */
  partial_final: string | null;
  /** when its platform was corrected (the point written anew); the newest revision wins */
  revised_at_ms: number | null;
  /** the GPUs it used, as named (indices or UUIDs); null: every GPU */
  gpus: string[] | null;
  gpus_from: string | null;
  /** every in-total source of its hosts, its GPUs or not */
  energy_host_j: number | null;
  /** what its own processes were attributed, and how */
  energy_attributed_j: number | null;
  attributed: Attributed | null;
  /** which energy the scores use */
  score_energy: ScoreEnergy;
  /** the series of repeated runs it belongs to (`wattscope bench`), and whether it is one of its warm-up runs */
  series_id: string | null;
  warmup: boolean;
  /** its steady part (./steady.ts): seconds trimmed at the start and the end, average power of the scored sources in between; or why none was found */
  steady_rise_s: number | null;
  steady_tail_s: number | null;
  steady_power_w: number | null;
  steady_reason: string | null;
}

export type ScoreEnergy = 'scoped' | 'attributed';

/** Energy attributed to a run's own processes on shared hosts (collector/attribution.ts). */
export interface Attributed {
  sources: Array<{ host: string; source: string; domain: string; energy_j: number; share: number }>;
  notes: string[];
}

/** How attributed energy is found, in words (docs/SCIENCE.md "Attribution"). */
export const ATTRIBUTION_MODEL =
  'CPU and DRAM energy × the run’s processes’ share of the host’s busy CPU time (children included); a GPU’s energy × the run’s share of its per-process SM utilisation (NVML), or the whole GPU when the run has it alone';

/** What the energy computation and host metrics give for a window. */
export interface Measured {
  energy_j: number | null;
  energy_host_j: number | null;
  attributed: Attributed | null;
  energy_net_j: number | null;
  coverage: number;
  sources: SourceEnergy[];
  avg_gpu_util_pct: number | null;
  avg_gpu_mem_pct: number | null;
  avg_cpu_pct: number | null;
}

export function applyMeasured(run: Run, m: Measured, endMs: number): Run {
  const duration = Math.max(0, (endMs - run.started_at_ms) / 1000);
  const gpu = m.sources.filter((s) => s.domain === 'gpu' && s.inRun !== false);
  return {
    ...run,
    duration_s: duration,
    energy_j: m.energy_j,
    energy_net_j: m.energy_net_j,
    avg_power_w: m.energy_j !== null && duration > 0 ? m.energy_j / duration : null,
    coverage: m.coverage,
    sources: m.sources,
    energy_host_j: m.energy_host_j,
    attributed: m.attributed,
    energy_attributed_j: m.attributed && m.attributed.sources.length > 0 ? m.attributed.sources.reduce((a, s) => a + s.energy_j, 0) : null,
    avg_gpu_power_w: gpu.length > 0 && duration > 0 ? gpu.reduce((a, s) => a + s.energyJ, 0) / duration : null,
    avg_gpu_util_pct: m.avg_gpu_util_pct,
    avg_gpu_mem_pct: m.avg_gpu_mem_pct,
    avg_cpu_pct: m.avg_cpu_pct,
  };
}

/**
 * Energy per inference over the steady part, in µWh. The client gives one inference count for
 * the whole run, so the inferences are taken to run at an even rate: the steady part's share of
 * them is its share of the time, and its energy per inference is its average power × the run's
 * duration / inferences — what every inference would cost if the whole run ran as its steady part.
 */
export function steadyPerInferenceUwh(run: Pick<Run, 'steady_power_w' | 'steady_reason' | 'duration_s' | 'inferences'>): Score {
  if (run.steady_power_w === null) return { value: null, reason: run.steady_reason ?? 'no steady part measured' };
  return energyPerInferenceUwh(run.duration_s === null ? null : run.steady_power_w * run.duration_s, run.inferences);
}

export interface Scores {
  accuracy: Score;
  energy_per_inference_uwh: Score;
  energy_per_inference_steady_uwh: Score;
  inferences_per_s: Score;
  inferences_per_j: Score;
  composite_score: Score;
  netscore: Score;
  info_density: Score;
}

/** The energy scores use: the run's devices, or what its own processes were attributed when it asks for that. */
export function scoreEnergyOf(run: Pick<Run, 'energy_j' | 'energy_attributed_j' | 'score_energy'>): number | null {
  return run.score_energy === 'attributed' ? run.energy_attributed_j : run.energy_j;
}

export function scoresOf(run: Run, k: NetScoreCoefficients): Scores {
  const accuracy = accuracyOf(run);
  const energy = scoreEnergyOf(run);
  const perInference = energyPerInferenceUwh(energy, run.inferences);
  return {
    accuracy,
    energy_per_inference_uwh: perInference,
    energy_per_inference_steady_uwh: steadyPerInferenceUwh(run),
    inferences_per_s: perSecond(run.inferences, run.duration_s),
    inferences_per_j: perJoule(run.inferences, energy),
    composite_score: compositeScore(accuracy, perInference),
    netscore: netScore(accuracy, run.params_m, run.macs_g, k),
    info_density: infoDensity(accuracy, run.params_m),
  };
}

/** Coverage below this flags a run as partial (recomputed when late points arrive). */
export const FULL_COVERAGE = 0.99;

export function summaryOf(run: Run, k: NetScoreCoefficients) {
  const s = scoresOf(run, k);
  const reasons: Record<string, string> = {};
  for (const [name, score] of Object.entries(s)) if (score.value === null) reasons[name] = score.reason;
  return {
    run_id: run.run_id,
    model: run.model,
    platform: run.platform,
    kind: run.kind,
    status: run.status,
    dataset: run.dataset,
    hosts: run.hosts,
    labels: run.labels,
    batch_size: run.batch_size,
    params_m: run.params_m,
    macs_g: run.macs_g,
    started_at: new Date(run.started_at_ms).toISOString(),
    ended_at: run.ended_at_ms === null ? null : new Date(run.ended_at_ms).toISOString(),
    // Table I of the Tub.ai paper
    duration_s: run.duration_s,
    avg_gpu_power_w: run.avg_gpu_power_w,
    energy_wh: run.energy_j === null ? null : run.energy_j / JOULES_PER_WH,
    avg_gpu_util_pct: run.avg_gpu_util_pct,
    avg_gpu_mem_pct: run.avg_gpu_mem_pct,
    avg_cpu_pct: run.avg_cpu_pct,
    // energy
    energy_j: run.energy_j,
    energy_net_j: run.energy_net_j,
    avg_power_w: run.avg_power_w,
    coverage: run.coverage,
    partial: run.coverage !== null && run.kind !== 'imported' && run.coverage < FULL_COVERAGE,
    /** the sources that cover less than the whole window: a silent collector or source has 0 */
    partial_sources: run.sources.filter((src) => src.inRun !== false && src.coverage < FULL_COVERAGE).map((src) => ({ host: src.host, source: src.source, coverage: src.coverage })),
    partial_final: run.partial_final,
    clock_offsets: run.clock_offsets,
    sources: run.sources.map((src) => ({
      host: src.host,
      source: src.source,
      domain: src.domain,
      method: src.method,
      in_run: src.inRun !== false,
      energy_j: src.energyJ,
      avg_power_w: src.avgPowerW,
      coverage: src.coverage,
    })),
    // the devices: the run's GPUs (null: every GPU) and the energy of the whole hosts beside it
    gpus: run.gpus,
    gpus_from: run.gpus_from,
    energy_host_j: run.energy_host_j,
    // the run's own share of shared hosts
    energy_attributed_j: run.energy_attributed_j,
    attributed: run.attributed === null ? null : { ...run.attributed, model: ATTRIBUTION_MODEL },
    score_energy: run.score_energy,
    // repeats and the steady part
    series_id: run.series_id,
    warmup: run.warmup,
    steady_rise_s: run.steady_rise_s,
    steady_tail_s: run.steady_tail_s,
    steady_s: run.steady_power_w === null || run.duration_s === null ? null : Math.max(0, run.duration_s - (run.steady_rise_s ?? 0) - (run.steady_tail_s ?? 0)),
    steady_power_w: run.steady_power_w,
    steady_reason: run.steady_reason,
    // work and scores
    inferences: run.inferences,
    correct: run.correct,
    accuracy: s.accuracy.value,
    energy_per_inference_uwh: s.energy_per_inference_uwh.value,
    energy_per_inference_steady_uwh: s.energy_per_inference_steady_uwh.value,
    inferences_per_s: s.inferences_per_s.value,
    inferences_per_j: s.inferences_per_j.value,
    composite_score: s.composite_score.value,
    netscore: s.netscore.value,
    info_density: s.info_density.value,
    null_reasons: reasons,
  };
}

export type RunSummary = ReturnType<typeof summaryOf>;
