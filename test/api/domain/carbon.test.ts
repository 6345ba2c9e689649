/**
 * Carbon and cost of a run: the pure functions against figures worked by hand, and through the
 * API as deployed — a host whose collector says its grid's intensity, one that says none (the
 * deployment's setting, else the documented default), a price per kWh or none — in the summary,
 * the runs list and its CSV, and the comparison.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { carbonGrams, DEFAULT_GRID_INTENSITY, energyCost } from '../../../api/domain/carbon.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { hostRecordSample } from '../../../common/host-record.js';
import { apiHarness, hostRecord, powerPoints, type Harness } from '../harness.js';

const record = (host: string, gridIntensity?: number) => hostRecord(host, gridIntensity === undefined ? {} : { gridIntensity });

const src = (host: string, energyJ: number, inRun = true) => ({ host, source: 'nvml/0', domain: 'gpu', method: 'counter', inRun, energyJ, coverage: 1, avgPowerW: 0 });

describe('carbon and cost (pure)', () => {
  it('takes each host’s share of the energy at its own grid’s intensity', () => {
    // 3.6 MJ = 1 kWh on a 50 g/kWh grid, 1.8 MJ = 0.5 kWh on the 436 g/kWh default
    const run = { energy_j: 5.4e6, sources: [src('hydro', 3.6e6), src('other', 1.8e6), src('other', 7.2e6, false)], grid_intensity: { hydro: 50 } };
    expect(carbonGrams(run, DEFAULT_GRID_INTENSITY)).toEqual({ value: 50 + 218 });
    // energy no host accounts for (an imported run) at the deployment's intensity
    expect(carbonGrams({ energy_j: 7.2e6, sources: [], grid_intensity: {} }, 300)).toEqual({ value: 600 });
    expect(carbonGrams({ energy_j: null, sources: [], grid_intensity: {} }, 300)).toMatchObject({ value: null, reason: expect.stringMatching(/no energy/) });
  });

  it('prices the energy per kWh, and says why there is no cost without a price', () => {
    expect(energyCost(9e6, 0.3)).toEqual({ value: 0.75 });
    expect(energyCost(9e6, undefined)).toMatchObject({ value: null, reason: expect.stringMatching(/WATTSCOPE_ENERGY_PRICE/) });
    expect(energyCost(null, 0.3)).toMatchObject({ value: null, reason: expect.stringMatching(/no energy/) });
  });

  it('documents the default: the world’s 2022 average, 436 g/kWh', () => {
    expect(DEFAULT_GRID_INTENSITY).toBe(436);
  });
});

describe('carbon and cost through the API', () => {
  let h: Harness;
  let priced: Harness;
  beforeAll(async () => {
    h = await apiHarness('carbon');
    // a deployment that sets its grid and its price, as a user in a known country would
    priced = await apiHarness('carbon_priced', { WATTSCOPE_GRID_INTENSITY: '120', WATTSCOPE_ENERGY_PRICE: '0.25' });
  });
  afterAll(async () => {
    await h.close();
    await priced.close();
  });

  async function measuredRun(x: Harness, host: string, intensity?: number): Promise<RunSummary> {
    const base = x.clock.now;
    // 1800 W for 100 s: 180 kJ = 0.05 kWh
    await x.store.write([hostRecordSample({ ...record(host, intensity), timeMs: base - 60_000 }), ...powerPoints(host, 'nvml/0', base, 100, () => 1800)]);
    const started = await x.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', hosts: [host] } });
    x.clock.now = base + 100_000;
    const stopped = await x.app.fastify.inject({ method: 'POST', url: `/api/runs/${started.json<{ run_id: string }>().run_id}/stop`, payload: { inferences: 1000, accuracy: 0.9 } });
    x.clock.now = base + 200_000;
    return stopped.json<RunSummary>();
  }

  it('uses the collector’s grid intensity, else the documented default; no price, no cost, with its reason', async () => {
    const own = await measuredRun(h, 'nordic', 30);
    expect(own.energy_j).toBeCloseTo(180_000, 6);
    expect(own.carbon_g).toBeCloseTo(0.05 * 30, 9);
    expect(own.energy_cost).toBeNull();
    expect(own.null_reasons.energy_cost).toMatch(/WATTSCOPE_ENERGY_PRICE/);
    const unsaid = await measuredRun(h, 'anywhere');
    expect(unsaid.carbon_g).toBeCloseTo(0.05 * 436, 9);
  });

  it('uses the deployment’s setting for hosts that say none, and prices the energy', async () => {
    const s = await measuredRun(priced, 'plant');
    expect(s.carbon_g).toBeCloseTo(0.05 * 120, 9);
    expect(s.energy_cost).toBeCloseTo(0.05 * 0.25, 12);
    // a host's own figure wins over the deployment's
    expect((await measuredRun(priced, 'solar', 20)).carbon_g).toBeCloseTo(0.05 * 20, 9);
  });

  it('shows both in the runs list, its CSV and the comparison', async () => {
    const list = (await priced.app.fastify.inject('/api/runs')).json<{ runs: RunSummary[] }>().runs;
    expect(list.map((r) => r.carbon_g).sort()).toEqual([expect.closeTo(1, 9), expect.closeTo(6, 9)]);
    const csv = (await priced.app.fastify.inject('/api/runs?format=csv')).body.trim().split('\r\n');
    const header = (csv[0] as string).split(',');
    const row = (csv[1] as string).split(',');
    expect(header).toEqual(expect.arrayContaining(['carbon_g', 'energy_cost']));
    expect(Number(row[header.indexOf('energy_cost')])).toBeCloseTo(0.0125, 12);
    const compare = (await priced.app.fastify.inject('/api/compare')).json<{ rows: Array<{ scores: Record<string, { mean: number | null }> }> }>();
    expect(compare.rows[0]?.scores.carbon_g?.mean).toBeCloseTo(3.5, 9);
    expect(compare.rows[0]?.scores.energy_cost?.mean).toBeCloseTo(0.0125, 12);
  });
});
