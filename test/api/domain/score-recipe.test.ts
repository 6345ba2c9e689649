/**
 * CONTRIBUTING.md's "Add a score", followed once for real: `energy_delay_product` is a function
 * in api/domain/scores.ts and one line of RUN_SUMMARY, and nothing else was written for it. Here
 * it is everywhere a score shows: the function's worked example, the API's summary, the CSV
 * export, the OpenAPI document, the CLI's summary, the page's detail (the fields it is built
 * from; test/page/page.test.ts opens the detail in a browser) and Grafana's run tables, queried
 * on the stored run as Grafana's data source would.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { energyDelayProduct } from '../../../api/domain/scores.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { InfluxQL } from '../../../common/storage/index.js';
import { formatSummary } from '../../../cli/summary.js';
import { expand, type Dashboard } from '../../dashboards/grafana.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

let h: Harness;
let summary: RunSummary;
beforeAll(async () => {
  h = await apiHarness('score_recipe');
  // 72 W for 10 s: 720 J; 10,000 inferences → 72 mJ and 1 ms each → 72 mJ·ms
  await h.store.write(powerPoints('edp-host', 'nvml/0', T0, 10, () => 72));
  h.clock.now = T0;
  const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'edp', hosts: ['edp-host'] } })).json<{ run_id: string }>().run_id;
  h.clock.now = T0 + 10_000;
  summary = (await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: { inferences: 10_000, accuracy: 0.7 } })).json<RunSummary>();
});
afterAll(async () => h.close());

describe('a score added by the recipe: energy_delay_product', () => {
  it('is energy per inference × time per inference in mJ·ms, null with a reason when it cannot be computed', () => {
    // docs/SCIENCE.md's example: 72 J over 10 s for 1,000 inferences → 72 mJ × 10 ms
    expect(energyDelayProduct(72, 10, 1000).value).toBeCloseTo(720, 9);
    expect(energyDelayProduct(null, 10, 1000)).toEqual({ value: null, reason: 'no energy: no power data covers the run' });
    expect(energyDelayProduct(72, 10, 0).reason).toBe('zero inferences');
    expect(energyDelayProduct(72, 0, 1000).reason).toBe('the run has no duration');
  });

  it('is in the run’s summary, and its null reason where it has none', async () => {
    expect(summary.energy_delay_product).toBeCloseTo(72 * 1, 9);
    const imported = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs/import', payload: { model: 'edp-imported', platform: 'p', inferences: 10, energy_j: 5 } })).json<{ runs: RunSummary[] }>().runs[0];
    expect(imported?.energy_delay_product).toBeNull();
    expect(imported?.null_reasons.energy_delay_product).toBe('the run has no duration');
  });

  it('is a column of the CSV export', async () => {
    const [header, row] = (await h.app.fastify.inject('/api/runs?format=csv&model=edp')).body.split('\r\n');
    const at = (header as string).split(',').indexOf('energy_delay_product');
    expect(at).toBeGreaterThan(-1);
    expect(Number((row as string).split(',')[at])).toBeCloseTo(72, 9);
  });

  it('is in the OpenAPI document, with its unit', async () => {
    const doc = (await h.app.fastify.inject('/docs/json')).json<{ paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }> }>> }>();
    const stop = doc.paths['/api/runs/{id}/stop']?.post?.responses['200']?.content['application/json']?.schema;
    // a number or null (a score's null comes with its reason in null_reasons)
    expect(stop?.properties.energy_delay_product).toEqual({ anyOf: [{ type: 'number', description: expect.stringMatching(/energy per inference × time per inference .*\(mJ·ms\)$/) }, { type: 'null' }] });
  });

  it('is a line of the CLI’s summary and of the page’s detail (GET /api/run-fields)', async () => {
    expect(formatSummary(summary)).toMatch(/^energy-delay product\s+72 mJ·ms$/m);
    const fields = (await h.app.fastify.inject('/api/run-fields')).json<{ fields: Array<{ name: string; detail: { label: string } | null; compare: { better: string } | null }> }>().fields;
    expect(fields.find((f) => f.name === 'energy_delay_product')).toMatchObject({ detail: { label: 'energy-delay product' }, compare: { better: 'lower' } });
  });

  it('is compared across models × platforms, lower being better', async () => {
    const row = (await h.app.fastify.inject('/api/compare?model=edp')).json<{ rows: Array<{ scores: Record<string, { mean: number | null }> }> }>().rows[0];
    expect(row?.scores.energy_delay_product?.mean).toBeCloseTo(72, 9);
  });

  it('is in Grafana’s run tables, read from the stored run as Grafana’s data source reads it', async () => {
    for (const [file, title] of [['runs.json', 'Runs'], ['run-detail.json', 'Run summary']] as const) {
      const dashboard = JSON.parse(readFileSync(new URL(`../../../dashboards/json/${file}`, import.meta.url), 'utf8')) as Dashboard;
      const panel = dashboard.panels.find((p) => p.title === title);
      const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, { variable: v, values: v.name === 'run_id' ? [summary.run_id] : ('all' as const) }]));
      const [result] = await h.store.query(new InfluxQL(expand(panel?.targets[0]?.query as string, { from: T0 - 60_000, to: T0 + 60_000 }, 1000, vars)));
      const series = result?.series[0];
      const row = Object.fromEntries((series?.columns ?? []).map((c, i) => [c, series?.values.find((v) => v.includes('edp'))?.[i]]));
      expect(row.energy_delay_product, file).toBeCloseTo(72, 9);
    }
  });
});
