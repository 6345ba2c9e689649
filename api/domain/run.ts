/**
 * A run as it is first written, and its measured figures from a window's energy and host
 * metrics (pure). The run itself — its fields, how they are stored and summarised, its scores —
 * is defined once in ./run-record.ts.
 */
import type { SourceEnergy } from './energy.js';
import type { Attributed, Run } from './run-record.js';

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
    clock_unknown: [],
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
    requests: null,
    prompt_tokens: null,
    output_tokens: null,
    workload: [],
    ...fields,
  };
}
