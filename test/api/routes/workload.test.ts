/**
 * Energy per request and per output token, through the API against the real influxd: a run on a
 * host whose serving engine writes `workload` points, GET /api/workload over any range, and a run
 * filed after the fact over a past window (`started_at`, as a script's recorded window is).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { apiHarness, powerPoints, workloadPoints, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('workload');
});
afterAll(async () => h.close());

const post = (url: string, payload?: unknown) => h.app.fastify.inject({ method: 'POST', url, payload: payload as object });
const BASE = Date.UTC(2026, 6, 1, 8, 0, 0);

beforeAll(async () => {
  // 40 W on the host's one in-total source; vLLM finishing 2 requests and 50 output tokens a second
  await h.store.write([
    ...powerPoints('srv', 'rapl/package-0', BASE, 120, () => 40, true, 'cpu'),
    ...workloadPoints('srv', BASE, 120, { requests: 2, prompt_tokens: 120, output_tokens: 50 }, { model_name: 'meta-llama/Llama-3.1-8B-Instruct' }),
    // a second server of another model beside it on the same host, for a minute
    ...workloadPoints('srv', BASE, 60, { requests: 1 }, { engine: 'triton', model_name: 'densenet_onnx', instance: '127.0.0.1:8002' }),
  ]);
});

describe('a run on a serving host', () => {
  it('a 20 s run: its requests and tokens prorated at its edges, 20 J per request and 0.8 J per output token', async () => {
    h.clock.now = BASE + 70_250;
    const id = (await post('/api/runs', { model: 'llama-serving', hosts: ['srv'] })).json<{ run_id: string }>().run_id;
    h.clock.now = BASE + 90_250;
    const s = (await post(`/api/runs/${id}/stop`, {})).json<RunSummary>();
    expect(s.energy_j).toBeCloseTo(800, 6);
    expect(s.requests).toBeCloseTo(40, 6);
    expect(s.prompt_tokens).toBeCloseTo(2400, 6);
    expect(s.output_tokens).toBeCloseTo(1000, 6);
    expect(s.energy_per_request_j).toBeCloseTo(20, 6);
    expect(s.energy_per_output_token_j).toBeCloseTo(0.8, 6);
    expect(s.workload).toEqual([{ host: 'srv', engine: 'vllm', model_name: 'meta-llama/Llama-3.1-8B-Instruct', instance: '127.0.0.1:8000', requests: expect.closeTo(40, 6), prompt_tokens: expect.closeTo(2400, 6), output_tokens: expect.closeTo(1000, 6), coverage: expect.closeTo(1, 9), energy_j: null }]);
    // no inferences given: the requests are the scores' inferences
    expect(s.inferences).toBeNull();
    expect(s.inferences_from).toBe('requests');
    expect(s.energy_per_inference_uwh).toBeCloseTo(20 / 3.6e-3, 6);
    // and the same, read back and listed
    const again = (await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(again.energy_per_output_token_j).toBeCloseTo(0.8, 6);
    const csv = (await h.app.fastify.inject({ url: '/api/runs?model=llama-serving', headers: { accept: 'text/csv' } })).body;
    expect(csv.split('\n')[0]).toContain('energy_per_output_token_j');
  });

  it('a run where two engines served: both counted, each listed', async () => {
    h.clock.now = BASE + 30_000;
    const id = (await post('/api/runs', { model: 'both', hosts: ['srv'] })).json<{ run_id: string }>().run_id;
    h.clock.now = BASE + 40_000;
    const s = (await post(`/api/runs/${id}/stop`, { inferences: 5 })).json<RunSummary>();
    expect(s.requests).toBeCloseTo(20 + 10, 6);
    expect(s.output_tokens).toBeCloseTo(500, 6); // Triton has no token counters
    expect(s.workload.map((w) => w.engine)).toEqual(['triton', 'vllm']);
    expect(s.inferences_from).toBe('given');
    expect(s.energy_per_inference_uwh).toBeCloseTo(400 / 5 / 3.6e-3, 6);
  });

  it('a run on a host that serves nothing: no work, and the reason its energy per token is null', async () => {
    await h.store.write(powerPoints('quiet', 'rapl/package-0', BASE, 60, () => 10, true, 'cpu'));
    h.clock.now = BASE + 10_000;
    const id = (await post('/api/runs', { model: 'quiet', hosts: ['quiet'] })).json<{ run_id: string }>().run_id;
    h.clock.now = BASE + 20_000;
    const s = (await post(`/api/runs/${id}/stop`, {})).json<RunSummary>();
    expect(s).toMatchObject({ requests: null, output_tokens: null, energy_per_output_token_j: null, workload: [], inferences_from: null });
    expect(s.null_reasons.energy_per_output_token_j).toMatch(/WATTSCOPE_SERVING_METRICS_URL/);
  });
});

describe('GET /api/workload', () => {
  it('any range of a host: its energy, its engines’ work and the energy of each unit', async () => {
    const res = await h.app.fastify.inject(`/api/workload?host=srv&from=${new Date(BASE + 70_500).toISOString()}&to=${BASE + 90_500}`);
    expect(res.statusCode).toBe(200);
    const w = res.json<Record<string, unknown> & { served: Array<Record<string, unknown>> }>();
    expect(w).toMatchObject({ host: 'srv', duration_s: 20, energy_j: expect.closeTo(800, 6), coverage: expect.closeTo(1, 9), requests: expect.closeTo(40, 6), output_tokens: expect.closeTo(1000, 6), energy_per_request_j: expect.closeTo(20, 6), energy_per_output_token_j: expect.closeTo(0.8, 6) });
    expect(w.served).toHaveLength(1);
  });

  it('says which input is wrong', async () => {
    for (const [query, field] of [
      ['from=2026-07-01T08:00:00Z', 'host'],
      ['host=srv', 'from'],
      ['host=srv&from=soon', 'from'],
      ['host=srv&from=2026-07-01T08:00:00Z&to=2026-07-01T07:00:00Z', 'to'],
      ['host=srv&from=2020-01-01T00:00:00Z&to=2026-07-01T07:00:00Z', 'from'],
      ['host=a,b&from=2026-07-01T08:00:00Z', 'host'],
    ] as const) {
      const res = await h.app.fastify.inject(`/api/workload?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json<{ field?: string; message: string }>().message, query).toContain(field);
    }
  });
});

describe('a run filed after the fact (a recorded window)', () => {
  it('starts at started_at and stops at ended_at: the window’s energy and work, from the stored points', async () => {
    h.clock.now = BASE + 115_000;
    const started = await post('/api/runs', { model: 'window', hosts: ['srv'], started_at: new Date(BASE + 60_000).toISOString(), labels: { window: 'epoch-1' } });
    expect(started.statusCode).toBe(201);
    expect(started.json<{ started_at: string }>().started_at).toBe(new Date(BASE + 60_000).toISOString());
    const id = started.json<{ run_id: string }>().run_id;
    const s = (await post(`/api/runs/${id}/stop`, { ended_at: new Date(BASE + 62_000).toISOString() })).json<RunSummary>();
    expect(s).toMatchObject({ status: 'completed', duration_s: 2, energy_j: expect.closeTo(80, 6), requests: expect.closeTo(4, 6) }); // the Triton server's last point ended at the window's start
  });

  it('refuses a start in the future (past the clocks’ 5 s) or over 30 days ago, naming started_at', async () => {
    h.clock.now = BASE;
    for (const at of [new Date(BASE + 6000).toISOString(), new Date(BASE - 31 * 86_400_000).toISOString(), 'yesterday']) {
      const res = await post('/api/runs', { model: 'window', hosts: ['srv'], started_at: at });
      expect(res.statusCode, at).toBe(400);
      expect(res.json<{ message: string }>().message, at).toContain('started_at');
    }
    // a client whose clock is 3 s ahead is taken as now-ish
    expect((await post('/api/runs', { model: 'window', hosts: ['srv'], started_at: new Date(BASE + 3000).toISOString() })).statusCode).toBe(201);
  });
});
