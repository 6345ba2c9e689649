/**
 * What is computed of a run (pure): its measured figures from a window's energy and host
 * metrics, and its scores. The run itself — its fields, how they are stored and summarised — is
 * defined once in ./run-record.ts.
 */
import type { SourceEnergy } from './energy.js';
import type { Attributed, Run } from './run-record.js';
import {
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

export type { NetScoreCoefficients };

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

/** Length of the steady part: the run less its rise and tail; null without a steady part. */
export function steadySeconds(run: Pick<Run, 'steady_power_w' | 'duration_s' | 'steady_rise_s' | 'steady_tail_s'>): number | null {
  return run.steady_power_w === null || run.duration_s === null ? null : Math.max(0, run.duration_s - (run.steady_rise_s ?? 0) - (run.steady_tail_s ?? 0));
}

/** A run as it is first written: its identity, and nothing measured or given yet. */
export function emptyRun(fields: Pick<Run, 'run_id' | 'model' | 'platform' | 'started_at_ms' | 'kind' | 'hosts'>): Run {
  return {
    status: 'running',
    dataset: null,
    batch_size: null,
    inferences: null,
    correct: null,
    accuracy: null,
    params_m: null,
    macs_g: null,
    labels: {},
    heartbeat_at_ms: null,
    ended_at_ms: null,
    duration_s: null,
    energy_j: null,
    energy_net_j: null,
    avg_power_w: null,
    coverage: null,
    sources: [],
    avg_gpu_power_w: null,
    avg_gpu_util_pct: null,
    avg_gpu_mem_pct: null,
    avg_cpu_pct: null,
    clock_offsets: {},
    recompute_attempts: null,
    partial_final: null,
    revised_at_ms: null,
    gpus: null,
    gpus_from: null,
    energy_host_j: null,
    energy_attributed_j: null,
    attributed: null,
    score_energy: 'scoped',
    grid_intensity: {},
    series_id: null,
    warmup: false,
    steady_rise_s: null,
    steady_tail_s: null,
    steady_power_w: null,
    steady_reason: null,
    ...fields,
  };
}
