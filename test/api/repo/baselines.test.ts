/**
 * Net energy's baselines are found through the `baseline` index (one small series per host),
 * not by reading every run: baselines of every kind of making are indexed, the latest before
 * the run wins, and baselines a database held before the index existed are indexed at the
 * first lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run, RunSummary } from '../../../api/domain/run-record.js';
import { buildApp } from '../../../api/app.js';
import { runToSample } from '../../../api/repo/runs.js';
import { loadConfig } from '../../../common/config.js';
import { ident, iql } from '../../../common/storage/index.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('baselines');
});
afterAll(async () => h.close());

const post = (url: string, payload: object) => h.app.fastify.inject({ method: 'POST', url, payload });

async function runOver(host: string, t0: number, t1: number): Promise<RunSummary> {
  h.clock.now = t0;
  const id = (await post('/api/runs', { model: 'm', hosts: [host] })).json<{ run_id: string }>().run_id;
  h.clock.now = t1;
  return (await post(`/api/runs/${id}/stop`, {})).json<RunSummary>();
}

describe('baselines (real influxd)', () => {
  it('takes the latest baseline that started before the run, whether made by /api/baselines or as a run of kind baseline', async () => {
    const base = Date.UTC(2026, 5, 10, 0, 0, 0);
    // 30 W idle for 100 s, 50 W for the next 100 s, then 250 W
    await h.store.write(powerPoints('b1', 'nvml/0', base, 400, (i) => (i < 100 ? 30 : i < 200 ? 50 : 250)));
    h.clock.now = base + 90_000;
    expect((await post('/api/baselines', { host: 'b1', seconds: 60 })).statusCode).toBe(201);
    // a run of kind baseline over 50 W, started and stopped like any run: newer, so it wins
    h.clock.now = base + 120_000;
    const id = (await post('/api/runs', { model: 'idle-by-hand', hosts: ['b1'], kind: 'baseline' })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 180_000;
    expect((await post(`/api/runs/${id}/stop`, {})).statusCode).toBe(200);
    const s = await runOver('b1', base + 250_000, base + 300_000);
    expect(s.energy_j).toBeCloseTo(250 * 50, 6);
    expect(s.energy_net_j).toBeCloseTo(200 * 50, 6);
    // a run that started before the second baseline uses the first
    const earlier = await runOver('b1', base + 100_000, base + 110_000);
    expect(earlier.energy_net_j).toBeCloseTo((50 - 30) * 10, 6);
    const index = await h.store.rows(iql`SELECT * FROM ${ident('baseline')} WHERE ${ident('host')} = 'b1'`);
    expect(index.map((r) => r.run_id)).toHaveLength(2);
  });

  it('finds a baseline stored before the index existed (indexed at the first lookup)', async () => {
    const base = Date.UTC(2026, 5, 11, 0, 0, 0);
    await h.store.write(powerPoints('b2', 'nvml/0', base, 300, (i) => (i < 100 ? 40 : 140)));
    // a completed baseline written as an older API wrote it: the run point alone (a run's
    // fields from a started run, made a baseline)
    const template = await h.app.reads.get((await post('/api/runs', { model: 'template', hosts: ['nowhere'] })).json<{ run_id: string }>().run_id);
    const older: Run = { ...template, run_id: 'b-older', model: 'idle', kind: 'baseline', status: 'completed', hosts: ['b2'], started_at_ms: base + 10_000, ended_at_ms: base + 90_000, sources: [{ host: 'b2', source: 'nvml/0', domain: 'gpu', method: 'counter', energyJ: 3200, avgPowerW: 40, coverage: 1 }] };
    await h.store.write([runToSample(older)]);
    // another API process over the same database: its first lookup indexes what it finds
    const other = await buildApp({ config: loadConfig({ HOME: '/nonexistent', WATTSCOPE_API_RATE_LIMIT: '1000000' }), store: h.store, now: () => h.clock.now, stopWaitMs: 0 });
    try {
      h.clock.now = base + 150_000;
      const id = (await other.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', hosts: ['b2'] } })).json<{ run_id: string }>().run_id;
      h.clock.now = base + 200_000;
      const s = (await other.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: {} })).json<RunSummary>();
      expect(s.energy_net_j).toBeCloseTo((140 - 40) * 50, 6);
      expect((await h.store.rows(iql`SELECT * FROM ${ident('baseline')} WHERE ${ident('host')} = 'b2'`)).map((r) => r.run_id)).toEqual(['b-older']);
    } finally {
      await other.fastify.close();
    }
  });
});
