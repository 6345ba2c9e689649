/**
 * The run, defined once: every field of the `run` point (RUN_COLUMNS: where it is kept, its
 * type, unit and meaning) and every field of the run summary the API answers (RUN_SUMMARY: how
 * it is computed, and whether it is a CSV column, a column of the page's runs list, a line of a
 * run's detail in the CLI and the page, compared across models × platforms, described over a
 * series, or stored for Grafana). The `Run` and `RunSummary` types, the row mapping
 * (../repo/runs.ts), the summary, the CSV columns, the OpenAPI schema, the CLI's and the page's
 * run detail, the series' statistics, the dashboards' run queries and the run table of
 * docs/DATA-MODEL.md (`npm run docs:config`) come from here (the summary in this file, the rest in
 * ./run-fields.ts).
 *
 * Adding a score: its function in ./scores.ts (with its test), and one line in RUN_SUMMARY
 * (CONTRIBUTING.md, "Add a score").
 */
import { Type } from '@sinclair/typebox';
import { RUN_KINDS, RUN_STATUSES } from '../../common/model.js';
import { carbonGrams, energyCost } from './carbon.js';
import type { SourceEnergy } from './energy.js';
import { FULL_COVERAGE, isPartial } from './partial.js';
import { ServedList, type ServedWork } from './workload.js';
import { bool, commaList, json, Nullable, num, oneOf, optionalTag, same, score, str, tag, time, view, type Column, type RecordOf, type ReplyOf, type Typed, type View, type ViewOptions } from './record.js';
import {
  accuracyOf,
  compositeScore,
  energyDelayProduct,
  energyPerInferenceUwh,
  energyPerWork,
  inferencesFrom,
  inferencesOf,
  infoDensity,
  JOULES_PER_WH,
  netScore,
  perJoule,
  perSecond,
  scoreEnergyOf,
  steadyPerInferenceUwh,
  steadySeconds,
  type NetScoreCoefficients,
} from './scores.js';

/** Energy attributed to a run's own processes on shared hosts (collector/attribution.ts). */
export interface Attributed {
  sources: Array<{ host: string; source: string; domain: string; energy_j: number; share: number }>;
  notes: string[];
}

export const SCORE_ENERGIES = ['scoped', 'attributed'] as const;
export type ScoreEnergy = (typeof SCORE_ENERGIES)[number];

/** How attributed energy is found, in words (docs/SCIENCE.md "Attribution"). */
export const ATTRIBUTION_MODEL =
  'CPU and DRAM energy × the run’s processes’ share of the host’s busy CPU time (children included); a GPU’s energy × the run’s share of its per-process SM utilisation (NVML), or the whole GPU when the run has it alone';

const SourceEnergyList = Type.Unsafe<SourceEnergy[]>(
  Type.Array(
    Type.Object({
      host: Type.String(),
      source: Type.String(),
      domain: Type.String(),
      method: Type.String(),
      reading: Type.Optional(Type.String()),
      inRun: Type.Optional(Type.Boolean()),
      energyJ: Type.Number(),
      coverage: Type.Number(),
      avgPowerW: Type.Number(),
    }),
  ),
);
const AttributedSchema = Type.Unsafe<Attributed | null>(
  Nullable(Type.Object({ sources: Type.Array(Type.Object({ host: Type.String(), source: Type.String(), domain: Type.String(), energy_j: Type.Number(), share: Type.Number() })), notes: Type.Array(Type.String()) })),
);

/** A run that found no steady part keeps its reason; its figures from an earlier measurement are not read. */
const ifSteady = { decode: (raw: unknown, row: Readonly<Record<string, unknown>>) => (typeof row.steady_reason === 'string' && row.steady_reason !== '' ? null : typeof raw === 'number' && Number.isFinite(raw) ? raw : null) };

const sortKeys = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** The `run` point: one per run, at its start; later writes add or overwrite its fields. */
export const RUN_COLUMNS = {
  run_id: tag('The run’s id.'),
  model: tag('The model.'),
  platform: tag('The platform it is filed under (docs/DATA-MODEL.md “Platform”).'),
  series_id: optionalTag('The series of repeated runs it belongs to (`wattscope bench`); a tag, so that Grafana can group a series.'),
  started_at_ms: time('When it started: the point’s timestamp.'),
  status: oneOf(RUN_STATUSES, 'running', 'running, completed, failed or abandoned.'),
  kind: oneOf(RUN_KINDS, 'inference', 'inference, training, baseline or imported.'),
  hosts: commaList('The hosts whose energy counts (a comma list).'),
  dataset: str('The dataset, as the client said.'),
  batch_size: num('The batch size, as the client said.'),
  inferences: num('Inferences done, as the client said.'),
  correct: num('Correct inferences, as the client said.'),
  accuracy: num('Accuracy as given (a fraction); the summary’s accuracy also derives it from correct / inferences.'),
  params_m: num('Parameters, in millions.', 'M'),
  macs_g: num('Multiply-accumulates per inference, in billions.', 'G'),
  labels: json(Type.Record(Type.String(), Type.String()), {} as Record<string, string>, 'Free-form labels (JSON with sorted keys, so that a label filter can match its exact text).', { encodeKeys: sortKeys }),
  heartbeat_at_ms: num('The client’s last heartbeat.', 'epoch ms'),
  ended_at_ms: num('When it ended.', 'epoch ms'),
  duration_s: num('Its length.', 's'),
  energy_j: num('Its energy: the in-total sources of its hosts, its own GPUs only.', 'J'),
  energy_net_j: num('Its energy less the hosts’ idle baseline over its length.', 'J'),
  avg_power_w: num('energy_j / duration_s.', 'W'),
  coverage: num('The share of the window its least-covered source covers, 0–1.'),
  sources: json(SourceEnergyList, [] as SourceEnergy[], 'Per source: energy, average power, coverage, method, the reading it used, whether in the run (JSON).', { omitEmpty: true }),
  avg_gpu_power_w: num('Average power of its GPUs (Table I of the Tub.ai paper).', 'W'),
  avg_gpu_util_pct: num('Average utilisation of its GPUs.', '%'),
  avg_gpu_mem_pct: num('Average memory use of its GPUs.', '%'),
  avg_cpu_pct: num('Average CPU utilisation of its hosts.', '%'),
  clock_offsets: json(Type.Record(Type.String(), Type.Number()), {} as Record<string, number>, 'Hosts whose clock was off the API’s by more than 0.5 s (and more than the two clock estimates’ errors), and whose points were therefore read in their own clock: seconds, host minus API, as their collectors measured it against InfluxDB (JSON; api/domain/clock.ts).', { omitEmpty: true }),
  clock_unknown: json(Type.Array(Type.String()), [] as string[], 'Hosts whose clock offset could not be known (their collector’s record says none): their points may be read off by it, so the run is partial (JSON).', { omitEmpty: true }),
  recompute_attempts: num('Which of its 12 scheduled re-measurements for late points a partial run has had: the schedule’s slot, not a count of measurements (docs/DATA-MODEL.md “Late points”).'),
  partial_final: str('Why a partial run stays partial, once it is no longer measured again.'),
  revised_at_ms: num('When it was written anew under a corrected platform (the newest revision wins).', 'epoch ms'),
  gpus: json(Type.Unsafe<string[] | null>(Nullable(Type.Array(Type.String()))), null as string[] | null, 'The GPUs it used, as it named them (indices or UUIDs; JSON); absent: every GPU.'),
  gpus_from: str('Where that scope came from: CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES or given.'),
  energy_host_j: num('Every in-total source of its hosts, its GPUs or not.', 'J'),
  energy_attributed_j: num('The energy attributed to its own processes on shared hosts.', 'J'),
  attributed: json(AttributedSchema, null as Attributed | null, 'That energy per source, with the run’s share of each (JSON; docs/SCIENCE.md “Attribution”).'),
  score_energy: oneOf(SCORE_ENERGIES, 'scoped', 'Which energy the scores use: its devices (scoped, the default) or what its own processes were attributed.'),
  grid_intensity: json(Type.Record(Type.String(), Type.Number()), {} as Record<string, number>, 'The carbon intensity of each host’s electricity when it was measured, g CO₂ per kWh (JSON; WATTSCOPE_GRID_INTENSITY of its collector, else of the API).', { omitEmpty: true }),
  warmup: bool('A warm-up run of its series: measured, left out of its statistics (written on the runs of a series only, so that `warmup = false` finds the counted ones).', false, { encode: (v, run) => (run.series_id === null ? null : v) }),
  steady_rise_s: num('Seconds trimmed at the start: the rise before its power settles (api/domain/steady.ts).', 's', ifSteady),
  steady_tail_s: num('Seconds trimmed at the end.', 's', ifSteady),
  steady_power_w: num('Average power of its scored sources over the steady part.', 'W', ifSteady),
  steady_reason: str('Why no steady part was found (empty when one was: InfluxDB cannot unset a field).', {
    decode: (raw) => (typeof raw === 'string' && raw !== '' ? raw : null),
    encode: (v, run) => (run.steady_power_w !== null ? '' : v),
  }),
  requests: num('Requests the serving engines on its hosts finished in its window: their `workload` points, prorated at the edges like its energy (docs/SCIENCE.md “Energy per request and per token”).'),
  prompt_tokens: num('Prompt tokens those engines processed in its window.'),
  output_tokens: num('Output tokens those engines generated in its window.'),
  workload: json(ServedList, [] as ServedWork[], 'Per engine, model and endpoint: requests, prompt and output tokens, coverage (JSON).', { omitEmpty: true }),
} as const satisfies Record<string, Column<unknown>>;

export type Run = RecordOf<typeof RUN_COLUMNS>;

/** What a summary is computed with: the deployment's settings. */
export interface SummaryContext {
  netscore: NetScoreCoefficients;
  /** g CO₂ per kWh for hosts a run has no figure for (imported runs, runs measured before) */
  gridIntensity: number;
  /** per kWh; undefined: no cost */
  energyPrice: number | undefined;
}

export type SummarySettings = SummaryContext;
export { FULL_COVERAGE, isPartial };

const N = Nullable(Type.Number());
const iso = (ms: number) => new Date(ms).toISOString();
const as = <K extends keyof typeof RUN_COLUMNS, const O extends ViewOptions = Record<never, never>>(name: K, opts?: O) => same<Run, SummaryContext, Run[K], O>(RUN_COLUMNS[name] as Column<Run[K]>, name, opts);

/** The run summary, in the order the API answers it. */
export const RUN_SUMMARY = {
  run_id: as('run_id', { csv: true }),
  model: as('model', { csv: true }),
  platform: as('platform', { csv: true }),
  kind: as('kind', { csv: true }),
  status: as('status', { csv: true }),
  dataset: as('dataset', { csv: true }),
  hosts: as('hosts', { csv: true }),
  labels: as('labels', { csv: true }),
  batch_size: as('batch_size', { csv: true }),
  params_m: as('params_m', { csv: true }),
  macs_g: as('macs_g', { csv: true }),
  started_at: view(Type.String({ format: 'date-time' }), 'When it started.', (r: Run) => iso(r.started_at_ms), { csv: true }),
  ended_at: view(Nullable(Type.String({ format: 'date-time' })), 'When it ended.', (r: Run) => (r.ended_at_ms === null ? null : iso(r.ended_at_ms)), { csv: true }),
  // Table I of the Tub.ai paper
  duration_s: as('duration_s', { csv: true, list: { label: 'duration s', digits: 1 }, series: { label: 'duration s', digits: 2 } }),
  avg_gpu_power_w: as('avg_gpu_power_w', { csv: true }),
  energy_wh: view(N, 'Its energy.', (r: Run) => (r.energy_j === null ? null : r.energy_j / JOULES_PER_WH), { unit: 'Wh', csv: true, list: { label: 'energy Wh', digits: 4 }, compare: { better: 'lower', label: 'energy Wh' } }),
  avg_gpu_util_pct: as('avg_gpu_util_pct', { csv: true }),
  avg_gpu_mem_pct: as('avg_gpu_mem_pct', { csv: true }),
  avg_cpu_pct: as('avg_cpu_pct', { csv: true }),
  // energy
  energy_j: as('energy_j', { csv: true, series: { label: 'energy J', digits: 2 } }),
  energy_net_j: as('energy_net_j', { csv: true }),
  avg_power_w: as('avg_power_w', { csv: true }),
  coverage: as('coverage', { csv: true }),
  partial: view(Type.Boolean(), 'Whether a source covers less than 99 % of it, or a host’s clock offset is unknown (measured again as late points arrive).', isPartial),
  partial_sources: view(
    Type.Array(Type.Object({ host: Type.String(), source: Type.String(), coverage: Type.Number() })),
    'Sources that cover less than 99 % of the run (0: no point at all — a silent collector or source).',
    (r: Run) => r.sources.filter((s) => s.inRun !== false && s.coverage < FULL_COVERAGE).map((s) => ({ host: s.host, source: s.source, coverage: s.coverage })),
  ),
  partial_final: as('partial_final'),
  clock_offsets: as('clock_offsets'),
  clock_unknown: as('clock_unknown'),
  sources: view(
    Type.Array(
      Type.Object({
        host: Type.String(),
        source: Type.String(),
        domain: Type.String(),
        method: Type.String({ description: 'counter, sampled (an instantaneous power), averaged (a power the sensor averages itself: it lags load changes) or estimated.' }),
        reading: Type.Optional(Type.String({ description: 'The value the source read, in its sensor’s words (power.draw.instant, power1_average, energy_uj…), as its host’s collector says; absent from collectors that did not say.' })),
        in_run: Type.Boolean({ description: 'false for a GPU outside the run’s scope: listed, counted only in energy_host_j.' }),
        energy_j: Type.Number(),
        avg_power_w: Type.Number(),
        coverage: Type.Number(),
      }),
    ),
    'Energy per source.',
    (r: Run) => r.sources.map((s) => ({ host: s.host, source: s.source, domain: s.domain, method: s.method, ...(s.reading === undefined ? {} : { reading: s.reading }), in_run: s.inRun !== false, energy_j: s.energyJ, avg_power_w: s.avgPowerW, coverage: s.coverage })),
  ),
  // the devices: its GPUs (null: every GPU) and the energy of the whole hosts beside it
  gpus: as('gpus', { csv: true, list: { label: 'GPUs', digits: 0 } }),
  gpus_from: as('gpus_from', { csv: true }),
  energy_host_j: as('energy_host_j', { csv: true, list: { label: 'host Wh', digits: 4, scale: 1 / JOULES_PER_WH } }),
  // its own share of shared hosts
  energy_attributed_j: as('energy_attributed_j', { csv: true, list: { label: 'attributed Wh', digits: 4, scale: 1 / JOULES_PER_WH } }),
  attributed: view(
    Nullable(Type.Object({ sources: Type.Array(Type.Object({ host: Type.String(), source: Type.String(), domain: Type.String(), energy_j: Type.Number(), share: Type.Number() })), notes: Type.Array(Type.String()), model: Type.String() })),
    'The energy attributed to its own processes, per source, and how it is found.',
    (r: Run) => (r.attributed === null ? null : { ...r.attributed, model: ATTRIBUTION_MODEL }),
  ),
  score_energy: as('score_energy', { csv: true }),
  // what it cost: carbon and money
  carbon_g: score('Grams of CO₂ its energy emitted: each host’s share at that host’s grid intensity (docs/SCIENCE.md “Carbon and cost”).', (r: Run, c: SummaryContext) => carbonGrams(r, c.gridIntensity), {
    unit: 'g CO₂',
    csv: true,
    list: { label: 'g CO₂', digits: 3 },
    detail: { label: 'carbon', digits: 3 },
    compare: { better: 'lower', label: 'g CO₂' },
    inputs: ['energy'],
  }),
  energy_cost: score('What its energy cost at WATTSCOPE_ENERGY_PRICE per kWh, in that price’s currency.', (r: Run, c: SummaryContext) => energyCost(r.energy_j, c.energyPrice), {
    csv: true,
    list: { label: 'cost', digits: 4 },
    detail: { label: 'cost', digits: 4 },
    compare: { better: 'lower', label: 'cost' },
    inputs: ['energy'],
  }),
  // repeats and the steady part
  series_id: as('series_id', { csv: true, list: { label: 'series', digits: 0 } }),
  warmup: as('warmup', { csv: true }),
  steady_rise_s: as('steady_rise_s', { csv: true }),
  steady_tail_s: as('steady_tail_s', { csv: true }),
  steady_s: view(N, 'Length of the steady part.', (r: Run) => steadySeconds(r), { unit: 's' }),
  steady_power_w: as('steady_power_w', { csv: true }),
  steady_reason: as('steady_reason'),
  // what the serving engines on its hosts did: requests and tokens, and the energy of each
  requests: as('requests', { csv: true, list: { label: 'requests', digits: 0 }, detail: { label: 'requests served', digits: 0 } }),
  prompt_tokens: as('prompt_tokens', { csv: true, detail: { label: 'prompt tokens', digits: 0 } }),
  output_tokens: as('output_tokens', { csv: true, detail: { label: 'output tokens', digits: 0 } }),
  energy_per_request_j: score('Energy per request its hosts’ serving engines finished: the scored energy / requests (docs/SCIENCE.md “Energy per request and per token”).', (r: Run) => energyPerWork(scoreEnergyOf(r), r.requests, 'requests'), { unit: 'J', csv: true, detail: { label: 'energy / request', digits: 3 }, compare: { better: 'lower', label: 'J / request' }, series: { label: 'J / request', digits: 3 }, store: 'energy_per_request_j', inputs: ['energy'] }),
  energy_per_output_token_j: score('Energy per output token its hosts’ serving engines generated: the scored energy / output tokens.', (r: Run) => energyPerWork(scoreEnergyOf(r), r.output_tokens, 'output tokens'), {
    unit: 'J',
    csv: true,
    list: { label: 'J / token', digits: 4 },
    detail: { label: 'energy / output token', digits: 4 },
    compare: { better: 'lower', label: 'J / output token', rank: true },
    series: { label: 'J / output token', digits: 4 },
    store: 'energy_per_output_token_j',
    inputs: ['energy'],
  }),
  workload: as('workload'),
  // work and scores: each a function of ./scores.ts and one line here
  inferences: as('inferences', { csv: true, detail: { label: 'inferences', digits: 0 } }),
  inferences_from: view(Nullable(Type.Union([Type.Literal('given'), Type.Literal('requests')])), 'Where the inferences the scores count come from: the client (given), or — where it gave none — the requests its hosts’ serving engines finished.', (r: Run) => inferencesFrom(r)),
  correct: as('correct', { csv: true }),
  accuracy: score('Top-1 accuracy as a fraction: as given, or correct / inferences.', (r: Run) => accuracyOf(r), {
    csv: true,
    list: { label: 'accuracy', digits: 4 },
    detail: { label: 'accuracy', digits: 4 },
    compare: { better: 'higher', label: 'accuracy' },
    store: 'accuracy_resolved',
    inputs: ['accuracy'],
  }),
  energy_per_inference_uwh: score('Energy per inference of the scored energy.', (r: Run) => energyPerInferenceUwh(scoreEnergyOf(r), inferencesOf(r)), {
    unit: 'µWh',
    csv: true,
    list: { label: 'µWh / inference', digits: 2 },
    detail: { label: 'energy / inference', digits: 3 },
    compare: { better: 'lower', label: 'µWh / inference', rank: true },
    series: { label: 'µWh / inference', digits: 3 },
    store: 'energy_per_inference_uwh',
    inputs: ['energy'],
  }),
  energy_per_inference_steady_uwh: score('Energy per inference over the steady part: steady_power_w × duration_s / inferences (docs/SCIENCE.md).', (r: Run) => steadyPerInferenceUwh({ ...r, inferences: inferencesOf(r) }), {
    unit: 'µWh',
    csv: true,
    detail: { label: 'energy / inference, steady part', digits: 3 },
    compare: { better: 'lower', label: 'steady µWh / inf.' },
    series: { label: 'steady µWh / inference', digits: 3 },
    store: 'energy_per_inference_steady_uwh',
    inputs: ['energy'],
  }),
  inferences_per_s: score('Inferences per second.', (r: Run) => perSecond(inferencesOf(r), r.duration_s), { csv: true, detail: { label: 'inferences / s', digits: 1 }, compare: { better: 'higher', label: 'inferences / s' }, inputs: ['duration_s'] }),
  inferences_per_j: score('Inferences per joule of the scored energy.', (r: Run) => perJoule(inferencesOf(r), scoreEnergyOf(r)), { detail: { label: 'inferences / J', digits: 3 }, inputs: ['energy'] }),
  composite_score: score('Accuracy² per mWh per inference (Waltsburger et al.); a server’s requests are its inferences where the client gives none.', (r: Run) => compositeScore(accuracyOf(r), energyPerInferenceUwh(scoreEnergyOf(r), inferencesOf(r))), {
    csv: true,
    list: { label: 'composite', digits: 2 },
    detail: { label: 'composite score', digits: 3 },
    compare: { better: 'higher', label: 'composite', rank: true },
    series: { label: 'composite score', digits: 3 },
    store: 'composite_score',
    inputs: ['energy'],
  }),
  netscore: score('NetScore (Wong): 20·log10(a^α / (p^β · m^γ)).', (r: Run, c: SummaryContext) => netScore(accuracyOf(r), r.params_m, r.macs_g, c.netscore), {
    csv: true,
    list: { label: 'NetScore', digits: 2 },
    detail: { label: 'NetScore', digits: 3 },
    compare: { better: 'higher', label: 'NetScore', rank: true },
    store: 'netscore',
    inputs: ['params_m', 'macs_g'],
  }),
  info_density: score('Information density: accuracy % per million parameters.', (r: Run) => infoDensity(accuracyOf(r), r.params_m), {
    csv: true,
    list: { label: 'info density', digits: 3 },
    detail: { label: 'information density', digits: 4 },
    compare: { better: 'higher', label: 'info density', rank: true },
    store: 'info_density',
    inputs: ['params_m'],
  }),
  energy_delay_product: score('Energy-delay product per inference: energy per inference × time per inference (docs/SCIENCE.md).', (r: Run) => energyDelayProduct(scoreEnergyOf(r), r.duration_s, inferencesOf(r)), { unit: 'mJ·ms', csv: true, detail: { label: 'energy-delay product', digits: 3 }, compare: { better: 'lower', label: 'mJ·ms / inference' }, store: 'energy_delay_product', inputs: ['energy', 'duration_s'] }),
} satisfies Record<string, View<Run, SummaryContext> & Typed<unknown>>;

type SummaryFields = typeof RUN_SUMMARY;
export type SummaryField = keyof SummaryFields;

export const RunSummarySchema = Type.Object(
  {
    ...(Object.fromEntries(Object.entries(RUN_SUMMARY).map(([k, v]) => [k, v.schema])) as { [K in SummaryField]: SummaryFields[K]['schema'] }),
    null_reasons: Type.Record(Type.String(), Type.String(), { description: 'Why each null score is null.' }),
  },
  { description: 'A run: Table I columns, energy per source, carbon and cost, every score (null with its reason when it cannot be computed).' },
);

/** The summary as JSON: each field's value, and why a null score is null. */
export type RunSummary = ReplyOf<SummaryFields> & { null_reasons: Record<string, string> };

export function summaryOf(run: Run, ctx: SummaryContext): RunSummary {
  const out: Record<string, unknown> = {};
  const reasons: Record<string, string> = {};
  for (const [name, field] of Object.entries(RUN_SUMMARY) as Array<[string, View<Run, SummaryContext>]>) {
    const v = field.value(run, ctx);
    if (field.score) {
      const s = v as { value: number | null; reason?: string };
      out[name] = s.value;
      if (s.value === null && s.reason) reasons[name] = s.reason;
    } else out[name] = v;
  }
  out.null_reasons = reasons;
  return out as RunSummary;
}
