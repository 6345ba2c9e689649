/**
 * The comparison kept up to date (api/services/comparison.ts): two API replicas on one
 * database, each with its own view; runs imported, stopped, corrected and re-filed on one are in
 * the other's next comparison, which always equals what a fresh API (reading every run) answers.
 * Requests that come together share one refresh, and an unchanged view reads only the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../api/app.js';
import type { Comparison } from '../../../api/domain/compare.js';
import { loadConfig } from '../../../common/config.js';
import type { InfluxStore } from '../../../common/storage/store.js';
import { testStore } from '../../helpers.js';

let store: InfluxStore;
let a: App;
let b: App;
const config = loadConfig({ HOME: '/nonexistent', WATTSCOPE_HOST: 'h1', WATTSCOPE_API_RATE_LIMIT: '1000000' });
const clock = { now: Date.UTC(2026, 5, 1, 12, 0, 0) };

beforeAll(async () => {
  store = await testStore('comparison');
  [a, b] = await Promise.all([buildApp({ config, store, now: () => clock.now, stopWaitMs: 0 }), buildApp({ config, store, now: () => clock.now, stopWaitMs: 0 })]);
});
afterAll(async () => Promise.all([a.fastify.close(), b.fastify.close()]));

const compare = async (app: App, query = '') => (await app.fastify.inject(`/api/compare${query}`)).json<Comparison>();
const imported = (model: string, platform: string, energy_j: number, extra: object = {}) => ({ model, platform, inferences: 1000, energy_j, accuracy: 0.8, duration_s: 10, ...extra });

/** What an API that reads every run afresh answers. */
async function fresh(query = ''): Promise<Comparison> {
  const app = await buildApp({ config, store, now: () => clock.now, stopWaitMs: 0 });
  try {
    return await compare(app, query);
  } finally {
    await app.fastify.close();
  }
}

describe('the comparison of two replicas on one database', () => {
  it('sees what the other replica changed, and answers what reading every run would', async () => {
    await a.fastify.inject({ method: 'POST', url: '/api/runs/import', payload: [imported('m1', 'P1', 100), imported('m1', 'P1', 120), imported('m2', 'P1', 80), imported('m1', 'P2', 300)] });
    const first = await compare(b);
    expect(first.rows.map((r) => [r.model, r.platform, r.runs])).toEqual([
      ['m1', 'P1', 2],
      ['m2', 'P1', 1],
      ['m1', 'P2', 1],
    ]);
    expect(await compare(a)).toEqual(first);

    // a run started on A and stopped on B
    clock.now += 1000;
    const id = (await a.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm3', platform: 'P1', hosts: ['nowhere'] } })).json<{ run_id: string }>().run_id;
    expect((await compare(b)).rows.some((r) => r.model === 'm3')).toBe(false); // running: not compared
    clock.now += 5000;
    await b.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: { inferences: 100, accuracy: 0.5 } });
    expect((await compare(a)).rows.find((r) => r.model === 'm3')?.runs).toBe(1);

    // its accuracy corrected on A, then re-filed under another platform on B
    await a.fastify.inject({ method: 'PATCH', url: `/api/runs/${id}`, payload: { accuracy: 0.9 } });
    expect((await compare(b)).rows.find((r) => r.model === 'm3')?.scores.accuracy.mean).toBeCloseTo(0.9, 12);
    await b.fastify.inject({ method: 'PATCH', url: `/api/runs/${id}`, payload: { platform: 'P2' } });
    const moved = await compare(a);
    expect(moved.rows.filter((r) => r.model === 'm3').map((r) => r.platform)).toEqual(['P2']);

    // and every answer is the one an API reading every run gives, filters and reference included
    for (const query of ['', '?reference=P1', '?platform=P1', '?model=m1&reference=P2', '?kind=imported']) {
      const expected = await fresh(query);
      expect(await compare(a, query), query).toEqual(expected);
      expect(await compare(b, query), query).toEqual(expected);
    }
  });

  it('shares one refresh among requests that come together, and reads only the log while nothing changes', async () => {
    await compare(a);
    const before = store.queryStats.requests;
    const answers = await Promise.all(Array.from({ length: 4 }, () => compare(a)));
    for (const x of answers) expect(x).toEqual(answers[0]);
    // one request to the log (no run read, nothing computed again)
    expect(store.queryStats.requests - before).toBe(1);
  });
});
