/**
 * An example of every operation of the API, by its operationId, for the OpenAPI document
 * (../openapi.ts puts them beside the request and reply schemas). The runs' summaries, the
 * comparison, the series and the paper's tables are computed from example runs by the same
 * domain code that answers real requests, so an example cannot drift from its schema; the test
 * of the document (test/api/routes/openapi.test.ts) holds every example to its schema, closed.
 *
 * A new operation needs an entry here: that test fails on an operation without one.
 */
import type { Static } from '@sinclair/typebox';
import { compare } from '../domain/compare.js';
import { fieldCatalog, runsCsv } from '../domain/run-fields.js';
import { summaryOf, type Run, type RunSummary, type SummaryContext } from '../domain/run-record.js';
import { DEFAULT_NETSCORE } from '../domain/scores.js';
import { seriesStatistics } from '../domain/series.js';
import { renderTables } from '../domain/tables.js';
import type { CompareReply } from './compare.js';
import type { HostsReply } from './hosts.js';
import type { PowerTableReply, RunPowerReply } from './live.js';
import type { BaselineBody, HeartbeatReply, ImportItem, ListReply, PatchBody, StartBody, StartReply, StopBody } from './runs.js';
import type { SeriesReply } from './series.js';
import type { WorkloadReply } from './workload.js';

/** What the examples' summaries are computed with: the defaults, and a price per kWh (WATTSCOPE_ENERGY_PRICE). */
const CONTEXT: SummaryContext = { netscore: DEFAULT_NETSCORE, gridIntensity: 436, energyPrice: 0.3 };

const STARTED = Date.parse('2026-03-02T09:30:00.000Z');
const HOST = 'gpu-node-1';

/** resnet50 on an A100 over ImageNet's 50,000 validation images: a measured run, its counters read for 14.5 s. */
const RESNET50: Run = {
  run_id: 'r-7c9e6679-7425-40de-944b-e07fc1f90ae7',
  model: 'resnet50',
  platform: 'A100-40G',
  series_id: null,
  started_at_ms: STARTED,
  status: 'completed',
  kind: 'inference',
  hosts: [HOST],
  dataset: 'imagenet-val',
  batch_size: 256,
  inferences: 50_000,
  correct: 38_065,
  accuracy: null,
  params_m: 25.6,
  macs_g: 4.1,
  labels: { team: 'efficiency' },
  heartbeat_at_ms: STARTED + 10_000,
  ended_at_ms: STARTED + 14_500,
  duration_s: 14.5,
  energy_j: 3618,
  energy_net_j: 2958.6,
  avg_power_w: 249.5,
  coverage: 1,
  sources: [
    { host: HOST, source: 'nvml/0', domain: 'gpu', method: 'counter', reading: 'nvmlDeviceGetTotalEnergyConsumption', inRun: true, energyJ: 3010.2, coverage: 1, avgPowerW: 207.6 },
    { host: HOST, source: 'rapl/package-0', domain: 'cpu', method: 'counter', reading: 'energy_uj', inRun: true, energyJ: 512.4, coverage: 1, avgPowerW: 35.3 },
    { host: HOST, source: 'rapl/dram-0', domain: 'dram', method: 'counter', reading: 'energy_uj', inRun: true, energyJ: 95.4, coverage: 1, avgPowerW: 6.6 },
  ],
  avg_gpu_power_w: 207.6,
  avg_gpu_util_pct: 97.2,
  avg_gpu_mem_pct: 31.5,
  avg_cpu_pct: 12.4,
  clock_offsets: {},
  clock_unknown: [],
  recompute_attempts: null,
  partial_final: null,
  revised_at_ms: null,
  gpus: ['0'],
  gpus_from: 'CUDA_VISIBLE_DEVICES',
  energy_host_j: 3618,
  energy_attributed_j: null,
  attributed: null,
  score_energy: 'scoped',
  grid_intensity: { [HOST]: 436 },
  warmup: false,
  steady_rise_s: 1.2,
  requests: null,
  prompt_tokens: null,
  output_tokens: null,
  workload: [],
  steady_tail_s: 0.4,
  steady_power_w: 251.3,
  steady_reason: null,
};

/** A run like resnet50's with `over` changed, its energy and power scaled by `energyScale`. */
function like(over: Partial<Run>, energyScale = 1): Run {
  const run = { ...RESNET50, ...over };
  if (energyScale === 1) return run;
  const scale = (v: number | null) => (v === null ? null : Math.round(v * energyScale * 10) / 10);
  return {
    ...run,
    energy_j: scale(run.energy_j),
    energy_net_j: scale(run.energy_net_j),
    energy_host_j: scale(run.energy_host_j),
    avg_power_w: scale(run.avg_power_w),
    avg_gpu_power_w: scale(run.avg_gpu_power_w),
    steady_power_w: scale(run.steady_power_w),
    sources: run.sources.map((s) => ({ ...s, energyJ: scale(s.energyJ) as number, avgPowerW: scale(s.avgPowerW) as number })),
  };
}

const summary = (run: Run): RunSummary => summaryOf(run, CONTEXT);

const SUMMARY = summary(RESNET50);
const SERIES_ID = 's-3f1d2b9a-6c1e-4f0a-9d3b-2a7c5e8f1b40';
/** `wattscope bench --repeat 3` of resnet50: a warm-up, then three counted runs. */
const SERIES_RUNS = [
  like({ run_id: 'r-series-0-warmup', series_id: SERIES_ID, warmup: true }, 1.04),
  like({ run_id: 'r-series-1', series_id: SERIES_ID, started_at_ms: STARTED + 60_000 }, 1.0),
  like({ run_id: 'r-series-2', series_id: SERIES_ID, started_at_ms: STARTED + 120_000 }, 1.012),
  like({ run_id: 'r-series-3', series_id: SERIES_ID, started_at_ms: STARTED + 180_000 }, 0.994),
].map(summary);

/** Runs measured elsewhere, imported (their energy per inference as a paper reports it). */
const IMPORT_BODY: ImportItem[] = [
  { model: 'resnet50', platform: 'Quadro-RTX-8000', inferences: 50_000, energy_per_inference_uwh: 47.7, accuracy: 0.7613, params_m: 25.6, macs_g: 4.1, run_id: 'quadro-resnet50-1' },
  { model: 'mobilenet_v2', platform: 'Quadro-RTX-8000', inferences: 50_000, energy_per_inference_uwh: 14.9, accuracy: 0.7188, params_m: 3.5, macs_g: 0.3, run_id: 'quadro-mobilenet_v2-1' },
];
const IMPORTED = IMPORT_BODY.map((i) => {
  // 1 µWh = 3.6 mJ
  const energy = (i.energy_per_inference_uwh as number) * i.inferences * 3.6e-3;
  return summary(
    like({
      run_id: i.run_id as string,
      model: i.model,
      platform: i.platform,
      kind: 'imported',
      hosts: [],
      dataset: null,
      batch_size: null,
      inferences: i.inferences,
      correct: null,
      accuracy: i.accuracy ?? null,
      params_m: i.params_m ?? null,
      macs_g: i.macs_g ?? null,
      labels: {},
      ended_at_ms: null,
      duration_s: null,
      energy_j: energy,
      energy_net_j: null,
      energy_host_j: null,
      avg_power_w: null,
      coverage: null,
      sources: [],
      avg_gpu_power_w: null,
      avg_gpu_util_pct: null,
      avg_gpu_mem_pct: null,
      avg_cpu_pct: null,
      gpus: null,
      gpus_from: null,
      grid_intensity: {},
      steady_rise_s: null,
      steady_tail_s: null,
      steady_power_w: null,
      steady_reason: 'an imported run has no power curve',
    }),
  );
});

const MOBILENET = summary(like({ run_id: 'r-2b1e4c7d-9a3f-4e6b-8c5d-1f0a2b3c4d5e', model: 'mobilenet_v2', params_m: 3.5, macs_g: 0.3, correct: 35_940, started_at_ms: STARTED + 300_000 }, 0.31));

const COMPARISON = compare([...SERIES_RUNS, MOBILENET, ...IMPORTED], 'Quadro-RTX-8000');

/** An idle baseline: the host measured for 60 s with nothing running. */
const BASELINE = summary(
  like({ run_id: 'b-5d7e9f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a', model: 'idle', kind: 'baseline', dataset: null, batch_size: null, inferences: null, correct: null, params_m: null, macs_g: null, labels: {}, duration_s: 60, ended_at_ms: STARTED + 60_000, gpus: null, gpus_from: null, steady_rise_s: null, steady_tail_s: null, steady_power_w: null, steady_reason: 'a baseline is idle throughout' }, 0.183),
);

const times = [0, 1, 2, 3].map((i) => STARTED + i * 5000);
const power = (host: string, source: string, domain: string, method: string, inTotal: boolean, watts: Array<number | null>) => ({ host, source, domain, method, in_total: inTotal, power_w: watts });

export interface OperationExample {
  /** the request body (application/json) */
  body?: unknown;
  /** the 2xx reply as JSON */
  reply?: unknown;
  /** the 2xx reply in a text media type, by media type */
  text?: Record<string, string>;
}

export const EXAMPLES: Record<string, OperationExample> = {
  startRun: {
    body: { model: 'resnet50', dataset: 'imagenet-val', hosts: [HOST], batch_size: 256, params_m: 25.6, macs_g: 4.1, gpus: ['0'], gpus_from: 'CUDA_VISIBLE_DEVICES', labels: { team: 'efficiency' } } satisfies StartBody,
    reply: { run_id: RESNET50.run_id, started_at: new Date(STARTED).toISOString() } satisfies Static<typeof StartReply>,
  },
  heartbeatRun: { reply: { run_id: RESNET50.run_id, heartbeat_at: new Date(STARTED + 10_000).toISOString() } satisfies Static<typeof HeartbeatReply> },
  stopRun: { body: { inferences: 50_000, correct: 38_065 } satisfies StopBody, reply: SUMMARY },
  patchRun: { body: { labels: { team: 'efficiency', checkpoint: 'v1.5' } } satisfies PatchBody, reply: summary({ ...RESNET50, labels: { checkpoint: 'v1.5', team: 'efficiency' } }) },
  getRun: { reply: SUMMARY },
  getRunFields: { reply: { fields: fieldCatalog() } },
  importRuns: { body: IMPORT_BODY, reply: { runs: IMPORTED } },
  listRuns: { reply: { runs: [MOBILENET, SUMMARY], next_offset: null } satisfies Static<typeof ListReply>, text: { 'text/csv': runsCsv([MOBILENET, SUMMARY]) } },
  measureBaseline: { body: { host: HOST, seconds: 60 } satisfies BaselineBody, reply: BASELINE },
  compareModels: {
    reply: COMPARISON satisfies Static<typeof CompareReply>,
    text: { 'text/markdown': renderTables(COMPARISON, 'md', 'both'), 'text/csv': renderTables(COMPARISON, 'csv', 'scores'), 'text/x-tex': renderTables(COMPARISON, 'latex', 'both') },
  },
  getSeries: { reply: { ...seriesStatistics(SERIES_ID, SERIES_RUNS), members: SERIES_RUNS } satisfies Static<typeof SeriesReply> },
  listHosts: {
    reply: {
      hosts: [
        {
          host: HOST,
          platform: 'A100-40G',
          workload: [],
          cpu_model: 'AMD EPYC 7742 64-Core Processor',
          gpus: [{ index: 0, name: 'NVIDIA A100-SXM4-40GB', uuid: 'GPU-3b5a0c43-9c5e-2b7f-1d0e-7a4f6b2c8d91' }],
          sources: [
            { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0, reading: 'nvmlDeviceGetTotalEnergyConsumption' },
            { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true, reading: 'energy_uj' },
            { id: 'rapl/dram-0', domain: 'dram', method: 'counter', in_total: true, reading: 'energy_uj' },
            { id: 'rapl/core-0', domain: 'cpu', method: 'counter', in_total: false, reading: 'energy_uj' },
          ],
          sample_hz: 10,
          report_interval_s: 1,
          flush_interval_s: 5,
          version: '0.1.0',
          clock_offset_s: 0.012,
          clock_offset_error_s: 0.05,
          started_at: new Date(STARTED - 86_400_000).toISOString(),
          seen_at: new Date(STARTED).toISOString(),
        },
      ],
    } satisfies Static<typeof HostsReply>,
  },
  getWorkload: {
    // a minute of a vLLM server at 2 requests and 50 output tokens a second on a host drawing 200 W
    reply: {
      host: HOST,
      from: new Date(STARTED).toISOString(),
      to: new Date(STARTED + 60_000).toISOString(),
      duration_s: 60,
      energy_j: 12_000,
      coverage: 1,
      requests: 120,
      prompt_tokens: 24_000,
      output_tokens: 3000,
      energy_per_request_j: 100,
      energy_per_output_token_j: 4,
      served: [
        {
          host: HOST,
          engine: 'vllm',
          model_name: 'meta-llama/Llama-3.1-8B-Instruct',
          instance: 'http://127.0.0.1:8000/metrics',
          coverage: 1,
          energy_j: 12_000,
          requests: 120,
          prompt_tokens: 24_000,
          output_tokens: 3000,
          energy_per_request_j: 100,
          energy_per_output_token_j: 4,
        },
      ],
    } satisfies Static<typeof WorkloadReply>,
  },
  getLivePower: {
    reply: {
      times,
      series: [power(HOST, 'nvml/0', 'gpu', 'counter', true, [61.2, 248.9, 251.7, 250.4]), power(HOST, 'rapl/package-0', 'cpu', 'counter', true, [22.1, 35.6, 35.1, null]), power(HOST, 'rapl/core-0', 'cpu', 'counter', false, [9.8, 21.4, 21.0, null])],
    } satisfies Static<typeof PowerTableReply>,
  },
  getRunPower: {
    reply: {
      run_id: RESNET50.run_id,
      started_at_ms: STARTED,
      ended_at_ms: STARTED + 14_500,
      times,
      series: [power(HOST, 'nvml/0', 'gpu', 'counter', true, [198.5, 209.1, 210.4, 208.8]), power(HOST, 'rapl/package-0', 'cpu', 'counter', true, [35.9, 35.2, 35.4, 34.8])],
      idle_w: 45.5,
      baselines: [{ host: HOST, run_id: BASELINE.run_id, idle_w: 45.5, started_at: new Date(STARTED - 3_600_000).toISOString() }],
    } satisfies Static<typeof RunPowerReply>,
  },
  streamLivePower: {
    text: {
      'text/event-stream': [
        'retry: 3000',
        '',
        'event: power',
        `data: ${JSON.stringify([
          { t: STARTED + 1000, host: HOST, source: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, power_w: 250.4 },
          { t: STARTED + 1000, host: HOST, source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true, power_w: 35.1 },
        ])}`,
        '',
        ': keep-alive',
        '',
      ].join('\n'),
    },
  },
};
