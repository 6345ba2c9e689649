/**
 * The run defined once (api/domain/run-record.ts): a run survives its point unchanged, the
 * stored form keeps InfluxDB's rules (no nulls, tags of the point's identity), and every view of
 * its fields — the OpenAPI schema, the CSV columns, the docs, the comparison, the page's fields
 * — comes from that one definition.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { RUN } from '../../../common/model.js';
import { RUN_COLUMNS, RUN_SUMMARY, RunSummarySchema, summaryOf, type Run } from '../../../api/domain/run-record.js';
import { COMPARED, fieldCatalog, RUN_CSV_COLUMNS, RUN_FIELDS, runFieldsTable } from '../../../api/domain/run-fields.js';
import { rowToRun, runToSample } from '../../../api/repo/runs.js';
import { DEFAULT_NETSCORE } from '../../../api/domain/scores.js';

// the API's validator (ajv) knows JSON Schema's formats; TypeBox's checker is told this one
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v));

const base: Run = {
  run_id: 'r-1',
  model: 'resnet50',
  platform: 'A100-40G',
  series_id: null,
  started_at_ms: 1_780_000_000_000,
  status: 'completed',
  kind: 'inference',
  hosts: ['a', 'b'],
  dataset: 'imagenet-val',
  batch_size: 64,
  inferences: 50_000,
  correct: 38_000,
  accuracy: null,
  params_m: 25.6,
  macs_g: 4.1,
  labels: { z: '1', a: 'x=y' },
  heartbeat_at_ms: 1_780_000_060_000,
  ended_at_ms: 1_780_000_060_000,
  duration_s: 60,
  energy_j: 12_000,
  energy_net_j: 9_000,
  avg_power_w: 200,
  coverage: 1,
  sources: [{ host: 'a', source: 'nvml/0', domain: 'gpu', method: 'counter', inRun: true, energyJ: 12_000, coverage: 1, avgPowerW: 200 }],
  avg_gpu_power_w: 200,
  avg_gpu_util_pct: 95,
  avg_gpu_mem_pct: 40,
  avg_cpu_pct: 12,
  clock_offsets: {},
  clock_unknown: [],
  recompute_attempts: null,
  partial_final: null,
  revised_at_ms: null,
  gpus: ['0'],
  gpus_from: 'CUDA_VISIBLE_DEVICES',
  energy_host_j: 15_000,
  energy_attributed_j: null,
  attributed: null,
  score_energy: 'scoped',
  grid_intensity: { a: 50 },
  warmup: false,
  steady_rise_s: 2,
  steady_tail_s: 1,
  steady_power_w: 205,
  steady_reason: null,
  requests: null,
  prompt_tokens: null,
  output_tokens: null,
  workload: [],
};

/** The point as InfluxDB answers `SELECT *` for it: tags and fields side by side, time in ms. */
const asRow = (run: Run) => {
  const p = runToSample(run);
  return { time: p.timeMs, ...p.tags, ...p.fields };
};

describe('the run, defined once', () => {
  it('reads back from its point as it was written', () => {
    expect(rowToRun(asRow(base))).toEqual(base);
    const inSeries: Run = { ...base, series_id: 's-1', warmup: true, steady_rise_s: null, steady_tail_s: null, steady_power_w: null, steady_reason: 'never settles' };
    expect(rowToRun(asRow(inSeries))).toEqual(inSeries);
  });

  it('stores no nulls, its identity in tags, labels with sorted keys, warm-up only in a series', () => {
    const p = runToSample(base);
    expect(p.tags).toEqual({ run_id: 'r-1', model: 'resnet50', platform: 'A100-40G' });
    expect(p.timeMs).toBe(base.started_at_ms);
    expect(Object.values(p.fields)).not.toContain(null);
    expect(p.fields.labels).toBe('{"a":"x=y","z":"1"}');
    expect(p.fields).not.toHaveProperty('warmup');
    expect(p.fields).not.toHaveProperty('clock_offsets'); // empty: says nothing
    expect(p.fields.steady_reason).toBe(''); // a steady part was found: InfluxDB cannot unset the older reason
    expect(runToSample({ ...base, series_id: 's', warmup: false }).fields.warmup).toBe(false);
    expect(runToSample({ ...base, series_id: 's' }).tags.series_id).toBe('s');
  });

  it('reads an older run’s figures as null where a later measurement found no steady part', () => {
    const row = { ...asRow(base), steady_reason: 'too short' };
    expect(rowToRun(row)).toMatchObject({ steady_power_w: null, steady_rise_s: null, steady_reason: 'too short' });
    // what it cannot read keeps the field's default
    expect(rowToRun({ time: 1, run_id: 'x', status: 'exploded', kind: 42, labels: '{not json' })).toMatchObject({ status: 'running', kind: 'inference', labels: {}, sources: [], gpus: null });
  });

  it('has the tags the collector writes on attributed points (common/model.ts)', () => {
    const tags = Object.entries(RUN_COLUMNS).filter(([, c]) => c.place === 'tag').map(([k]) => k);
    expect(tags.sort()).toEqual(Object.values(RUN.tags).sort());
  });

  it('answers a summary that its documented schema accepts, field for field', () => {
    const s = summaryOf(base, { netscore: DEFAULT_NETSCORE, gridIntensity: 436, energyPrice: undefined });
    expect(Value.Check(RunSummarySchema, s), [...Value.Errors(RunSummarySchema, s)].map((e) => `${e.path}: ${e.message}`).join('; ')).toBe(true);
    expect(Object.keys(s)).toEqual([...Object.keys(RUN_SUMMARY), 'null_reasons']);
    expect(s).toMatchObject({ started_at: new Date(base.started_at_ms).toISOString(), energy_wh: 12_000 / 3600, accuracy: 0.76, carbon_g: (12_000 / 3.6e6) * 50 });
    expect(s.null_reasons).toMatchObject({ energy_cost: expect.stringMatching(/WATTSCOPE_ENERGY_PRICE/) });
  });

  it('stores the figures Grafana cannot compute under the names of RUN_FIELDS', () => {
    for (const name of ['accuracy_resolved', 'energy_per_inference_uwh', 'composite_score', 'netscore', 'info_density', 'energy_per_inference_steady_uwh']) expect(RUN_FIELDS).toHaveProperty(name, name);
    expect(RUN_FIELDS).not.toHaveProperty('run_id'); // a tag, not a field
  });

  it('gives the CSV, the comparison and the page their fields from the definition', () => {
    expect(RUN_CSV_COLUMNS.slice(0, 3)).toEqual(['run_id', 'model', 'platform']);
    expect(RUN_CSV_COLUMNS).toEqual(expect.arrayContaining(['carbon_g', 'energy_cost', 'energy_per_inference_uwh']));
    expect(COMPARED).toEqual(expect.arrayContaining(['energy_per_inference_uwh', 'composite_score', 'carbon_g', 'energy_cost']));
    const catalog = fieldCatalog();
    expect(catalog.map((f) => f.name)).toEqual(Object.keys(RUN_SUMMARY));
    expect(catalog.find((f) => f.name === 'energy_host_j')?.list).toEqual({ label: 'host Wh', digits: 4, scale: 1 / 3600 });
  });

  it('is the run table of docs/DATA-MODEL.md (npm run docs:config writes it)', () => {
    const docs = readFileSync(new URL('../../../docs/DATA-MODEL.md', import.meta.url), 'utf8');
    expect(docs).toContain(runFieldsTable());
    for (const name of Object.keys(RUN_COLUMNS)) expect(runFieldsTable()).toContain(`| \`${name}\` |`);
  });
});
