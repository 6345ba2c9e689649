import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manually, startJobs } from '../../../api/jobs/index.js';
import { attemptDueAt } from '../../../api/domain/recompute.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('api');
});
afterAll(async () => h.close());

const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) => h.app.fastify.inject({ method: 'POST', url, payload: payload as object, headers });

/** Truth for piecewise-constant power: each point's power over the part of its second inside [t0, t1]. */
function truth(fromMs: number, seconds: number, watts: (i: number) => number, t0: number, t1: number): number {
  let e = 0;
  for (let i = 0; i < seconds; i++) {
    const lo = Math.max(fromMs + i * 1000, t0);
    const hi = Math.min(fromMs + (i + 1) * 1000, t1);
    if (hi > lo) e += (watts(i) * (hi - lo)) / 1000;
  }
  return e;
}

async function runOver(t0: number, t1: number, body: object = {}, start: object = {}): Promise<RunSummary> {
  h.clock.now = t0;
  const started = await post('/api/runs', { model: 'm', hosts: ['h1'], ...start });
  expect(started.statusCode).toBe(201);
  h.clock.now = t1;
  const stopped = await post(`/api/runs/${started.json<{ run_id: string }>().run_id}/stop`, body);
  expect(stopped.statusCode).toBe(200);
  return stopped.json<RunSummary>();
}

describe('run energy (DESIGN §5)', () => {
  it('integrates a 10 s run within 0.1 %, edges prorated, nested sources left out', async () => {
    const base = Date.UTC(2026, 5, 1, 10, 0, 0);
    const gpu = (i: number) => 200 + 50 * Math.sin(i);
    await h.store.write([
      ...powerPoints('h1', 'nvml/0', base, 60, gpu),
      ...powerPoints('h1', 'rapl/package-0', base, 60, () => 35, true, 'cpu'),
      ...powerPoints('h1', 'rapl/core-0', base, 60, () => 20, false, 'cpu'),
      ...powerPoints('h2', 'nvml/0', base, 60, () => 999),
    ]);
    const t0 = base + 20_300;
    const t1 = t0 + 10_000;
    const s = await runOver(t0, t1, { inferences: 1000, correct: 750 });
    const expected = truth(base, 60, gpu, t0, t1) + 35 * 10;
    expect(Math.abs((s.energy_j as number) - expected) / expected).toBeLessThan(0.001);
    expect(s.duration_s).toBe(10);
    expect(s.coverage).toBeCloseTo(1, 9);
    expect(s.partial).toBe(false);
    expect(s.sources.map((x) => `${x.host} ${x.source} ${x.method}`)).toEqual(['h1 nvml/0 counter', 'h1 rapl/package-0 counter']);
    expect(s.avg_gpu_power_w).toBeCloseTo(truth(base, 60, gpu, t0, t1) / 10, 6);
    expect(s.energy_wh).toBeCloseTo(expected / 3600, 9);
  });

  it('integrates a synthetic 1 h run within 0.1 %, fetching only sums and edges', async () => {
    const base = Date.UTC(2026, 5, 2, 0, 0, 0);
    const w = (i: number) => 150 + ((i * 37) % 100);
    await h.store.write(powerPoints('h3', 'nvml/0', base, 3700, w));
    const t0 = base + 50_250;
    const t1 = t0 + 3_600_000;
    const s = await runOver(t0, t1, {}, { hosts: ['h3'] });
    const expected = truth(base, 3700, w, t0, t1);
    expect(Math.abs((s.energy_j as number) - expected) / expected).toBeLessThan(0.001);
    expect(s.coverage).toBeCloseTo(1, 9);
  });

  it('flags a 20 s gap as partial, and the cron job fixes the run once late points arrive', async () => {
    const base = Date.UTC(2026, 5, 3, 0, 0, 0);
    const all = powerPoints('h4', 'nvml/0', base, 100, () => 100);
    const cpu = powerPoints('h4', 'rapl/package-0', base, 100, () => 10, true, 'cpu');
    const missing = all.slice(40, 60);
    await h.store.write([...all.slice(0, 40), ...all.slice(60), ...cpu]);
    const s = await runOver(base + 10_000, base + 90_000, {}, { hosts: ['h4'] });
    expect(s.partial).toBe(true);
    const gpuSource = s.sources.find((x) => x.source === 'nvml/0');
    expect(gpuSource?.coverage).toBeCloseTo(60 / 80, 9);
    expect(s.sources.find((x) => x.source === 'rapl/package-0')?.coverage).toBeCloseTo(1, 9);
    expect(s.coverage).toBeCloseTo(0.75, 9);
    // the collector's spool replays the missing interval; the cron job recomputes
    await h.store.write(missing);
    // the first recomputation comes a minute after the run's end, at the next whole minute
    // (api/domain/recompute.ts): 01:30 + 1 min → 03:00
    h.clock.now = attemptDueAt(base + 90_000, 1);
    expect(h.clock.now).toBe(base + 180_000);
    const jobs = startJobs(h.app.jobs, { scheduler: manually });
    try {
      await jobs[1]?.execute();
    } finally {
      for (const j of jobs) await j.stop();
    }
    const after = (await h.app.fastify.inject(`/api/runs/${s.run_id}`)).json<RunSummary>();
    expect(after.partial).toBe(false);
    expect(after.coverage).toBeCloseTo(1, 9);
    expect(after.energy_j).toBeCloseTo(80 * 110, 6);
  });

  it('subtracts each source’s idle power from the latest baseline before the run (net energy)', async () => {
    const base = Date.UTC(2026, 5, 4, 0, 0, 0);
    await h.store.write([...powerPoints('h5', 'nvml/0', base, 200, (i) => (i < 100 ? 40 : 240))]);
    h.clock.now = base + 100_000;
    const baseline = await post('/api/baselines', { host: 'h5', seconds: 60 });
    expect(baseline.statusCode).toBe(201);
    expect(baseline.json<RunSummary>().sources[0]?.avg_power_w).toBeCloseTo(40, 9);
    const s = await runOver(base + 120_000, base + 170_000, {}, { hosts: ['h5'] });
    expect(s.energy_j).toBeCloseTo(240 * 50, 6);
    expect(s.energy_net_j).toBeCloseTo(200 * 50, 6);
    const none = await post('/api/baselines', { host: 'nowhere', seconds: 10 });
    expect(none.statusCode).toBe(422);
    expect(none.json<{ message: string }>().message).toMatch(/no power data from host "nowhere"/);
  });

  it('gives a running run\'s energy so far, without storing it', async () => {
    const base = Date.UTC(2026, 5, 7, 0, 0, 0);
    await h.store.write(powerPoints('h8', 'nvml/0', base, 600, () => 80));
    h.clock.now = base + 100_000;
    const id = (await post('/api/runs', { model: 'live', hosts: ['h8'] })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 130_000;
    const s = (await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(s).toMatchObject({ status: 'running', duration_s: 30 });
    expect(s.energy_j).toBeCloseTo(80 * 30, 6);
    expect((await h.app.reads.get(id)).energy_j).toBeNull();
  });

  it('stops a run after the fact at the ended_at given, which must lie between its start and now', async () => {
    const base = Date.UTC(2026, 5, 8, 0, 0, 0);
    await h.store.write(powerPoints('h9', 'nvml/0', base, 600, () => 70));
    h.clock.now = base + 100_000;
    const id = (await post('/api/runs', { model: 'late-stop', hosts: ['h9'] })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 400_000; // the stop comes 5 minutes after the run's real end
    // before its start, or past now by more than the clocks may differ (5 s)
    for (const bad of [new Date(base + 99_000).toISOString(), new Date(base + 406_000).toISOString(), 'soon']) {
      const r = await post(`/api/runs/${id}/stop`, { ended_at: bad });
      expect(r.statusCode, bad).toBe(400);
      expect(r.json<{ field: string }>().field, bad).toBe('ended_at');
    }
    const stopped = await post(`/api/runs/${id}/stop`, { ended_at: new Date(base + 112_500).toISOString(), inferences: 10 });
    expect(stopped.statusCode).toBe(200);
    const s = stopped.json<RunSummary>();
    expect(s).toMatchObject({ status: 'completed', duration_s: 12.5, ended_at: new Date(base + 112_500).toISOString(), inferences: 10 });
    expect(s.energy_j).toBeCloseTo(70 * 12.5, 6);
  });

  it('abandons a run without heartbeat, with energy up to its last heartbeat', async () => {
    const base = Date.UTC(2026, 5, 5, 0, 0, 0);
    await h.store.write(powerPoints('h6', 'nvml/0', base, 4000, () => 50));
    h.clock.now = base + 100_000;
    const r = await post('/api/runs', { model: 'slow', hosts: ['h6'] });
    const id = r.json<{ run_id: string }>().run_id;
    h.clock.now = base + 160_000;
    expect((await post(`/api/runs/${id}/heartbeat`)).statusCode).toBe(200);
    // another run, started 29 minutes before the check: not stale yet
    h.clock.now = base + 160_000 + 2 * 60_000;
    const fresh = (await post('/api/runs', { model: 'fresh', hosts: ['h6'] })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 160_000 + 31 * 60_000;
    const n = await h.app.jobs.abandon.run();
    expect(n).toBeGreaterThanOrEqual(1);
    expect((await h.app.fastify.inject(`/api/runs/${fresh}`)).json<RunSummary>().status).toBe('running');
    const s = (await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(s.status).toBe('abandoned');
    expect(s.duration_s).toBe(60);
    expect(s.energy_j).toBeCloseTo(50 * 60, 6);
  });
});

describe('scores', () => {
  it('computes every score as by hand, and null with a reason where an input is missing', async () => {
    const base = Date.UTC(2026, 5, 6, 0, 0, 0);
    await h.store.write(powerPoints('h7', 'nvml/0', base, 100, () => 72));
    // 72 W × 10 s = 720 J; 10,000 inferences → 0.072 J = 20 µWh each
    const s = await runOver(base + 10_000, base + 20_000, { inferences: 10_000, correct: 7_500 }, { hosts: ['h7'], params_m: 25.6, macs_g: 4.1 });
    expect(s.energy_j).toBeCloseTo(720, 9);
    expect(s.energy_per_inference_uwh).toBeCloseTo(20, 9);
    expect(s.accuracy).toBe(0.75);
    expect(s.composite_score).toBeCloseTo(28.125, 9); // 0.75² / 0.020 mWh
    expect(s.netscore).toBeCloseTo(20 * Math.log10(75 ** 2 / (Math.sqrt(25.6) * Math.sqrt(4.1))), 9);
    expect(s.info_density).toBeCloseTo(75 / 25.6, 9);
    expect(s.inferences_per_s).toBe(1000);
    expect(s.inferences_per_j).toBeCloseTo(10_000 / 720, 9);
    // accuracy arrives later
    const noAcc = await runOver(base + 30_000, base + 40_000, { inferences: 10_000 }, { hosts: ['h7'] });
    expect(noAcc.composite_score).toBeNull();
    expect(noAcc.null_reasons.composite_score).toMatch(/no accuracy/);
    expect(noAcc.energy_j).toBeCloseTo(720, 9);
    const patched = await h.app.fastify.inject({ method: 'PATCH', url: `/api/runs/${noAcc.run_id}`, payload: { accuracy: 0.5, labels: { eval: 'done' } } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json<RunSummary>().composite_score).toBeCloseTo(0.25 / 0.02, 9);
    expect(patched.json<RunSummary>().labels).toEqual({ eval: 'done' });
    const zero = await runOver(base + 50_000, base + 60_000, { inferences: 0 }, { hosts: ['h7'] });
    expect(zero.energy_per_inference_uwh).toBeNull();
    expect(zero.null_reasons.energy_per_inference_uwh).toBe('zero inferences');
    const dark = await runOver(base + 500_000, base + 510_000, { inferences: 10, accuracy: 0.9 }, { hosts: ['h7'] });
    expect(dark.energy_j).toBeNull();
    expect(dark.null_reasons.composite_score).toMatch(/no power data/);
  });
});

describe('validation and errors', () => {
  it('answers 400 naming the field and the rule', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'model'],
      [{ model: 7 }, 'model'],
      [{ model: 'x', kind: 'party' }, 'kind'],
      [{ model: 'x', batch_size: 1.5 }, 'batch_size'],
      [{ model: 'x', hosts: ['a,b'] }, 'hosts/0'],
      [{ model: 'x', run_id: '../etc' }, 'run_id'],
      [{ model: 'ends\\' }, 'model'],
      [{ model: 'x', acuracy: 0.9 }, 'acuracy'],
      [{ model: 'x', labels: { k: 5 } }, 'labels/k'],
      [{ model: 'x', dataset: 'nul\u0000' }, 'dataset'],
      [{ model: 'x', dataset: 'lone \ud800' }, 'dataset'],
    ];
    for (const [payload, field] of cases) {
      const r = await post('/api/runs', payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json<{ field: string }>().field, JSON.stringify(payload)).toBe(field);
      expect(r.json<{ message: string }>().message).toContain(field);
    }
    const q = await h.app.fastify.inject('/api/runs?limit=5000');
    expect(q.statusCode).toBe(400);
    expect(q.json<{ field: string }>().field).toBe('limit');
    const t = await h.app.fastify.inject('/api/runs?from=yesterday');
    expect(t.json<{ field: string }>().field).toBe('from');
  });

  it('404 for an unknown run, 409 for a second stop with the current state, the same run for a retried start', async () => {
    expect((await h.app.fastify.inject('/api/runs/nope')).statusCode).toBe(404);
    const a = await post('/api/runs', { model: 'm', run_id: 'retry-1' });
    const b = await post('/api/runs', { model: 'm', run_id: 'retry-1' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
    expect((await post('/api/runs', { model: 'other', run_id: 'retry-1' })).statusCode).toBe(409);
    expect((await post('/api/runs/retry-1/stop', {})).statusCode).toBe(200);
    const again = await post('/api/runs/retry-1/stop', {});
    expect(again.statusCode).toBe(409);
    expect(again.json<{ run: { status: string } }>().run.status).toBe('completed');
    expect((await post('/api/runs/retry-1/heartbeat')).statusCode).toBe(409);
  });

  it('413 past the body limit', async () => {
    const r = await post('/api/runs', { model: 'x', dataset: 'y'.repeat(2 * 1024 * 1024) });
    expect(r.statusCode).toBe(413);
  });

  it('requires the bearer token on writes when one is set, and keeps reads open', async () => {
    const secured = await apiHarness('auth', { WATTSCOPE_API_TOKEN: 'sekrit-token-123' });
    try {
      const denied = await secured.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'x' } });
      expect(denied.statusCode).toBe(401);
      expect(denied.body).not.toContain('sekrit');
      const wrong = await secured.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'x' }, headers: { authorization: 'Bearer nope' } });
      expect(wrong.statusCode).toBe(401);
      const ok = await secured.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'x' }, headers: { authorization: 'Bearer sekrit-token-123' } });
      expect(ok.statusCode).toBe(201);
      expect((await secured.app.fastify.inject('/api/runs')).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
  });
});

describe('OpenAPI', () => {
  it('documents every route from the same schemas that validate it', async () => {
    const doc = (await h.app.fastify.inject('/docs/json')).json<{ openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> }>();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/runs', '/api/runs/{id}', '/api/runs/{id}/stop', '/api/runs/{id}/heartbeat', '/api/runs/import', '/api/compare', '/api/baselines', '/api/live/power', '/api/live/stream', '/api/runs/{id}/power']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(JSON.stringify(doc.paths['/api/runs']?.post?.requestBody)).toContain('batch_size');
    expect((await h.app.fastify.inject('/docs')).statusCode).toBeLessThan(400);
  });
});

describe('history', () => {
  it('lists runs with filters and paging, as JSON and CSV', async () => {
    const base = Date.UTC(2027, 0, 1);
    h.clock.now = base;
    for (let i = 0; i < 5; i++) {
      h.clock.now = base + i * 1000;
      await post('/api/runs', { model: `list-${i % 2}`, hosts: ['hl'], labels: { team: i < 3 ? 'a' : 'b', 'odd key "q"': 'v,"1"' } });
    }
    const all = (await h.app.fastify.inject(`/api/runs?from=${base}&limit=2`)).json<{ runs: RunSummary[]; next_offset: number }>();
    expect(all.runs.map((r) => r.model)).toEqual(['list-0', 'list-1']);
    expect(all.next_offset).toBe(2);
    const page3 = (await h.app.fastify.inject(`/api/runs?from=${base}&limit=2&offset=4`)).json<{ runs: RunSummary[]; next_offset: number | null }>();
    expect(page3.runs).toHaveLength(1);
    expect(page3.next_offset).toBeNull();
    const team = (await h.app.fastify.inject(`/api/runs?from=${base}&label=team%3Da&model=list-0`)).json<{ runs: RunSummary[] }>();
    expect(team.runs).toHaveLength(2);
    const odd = (await h.app.fastify.inject(`/api/runs?from=${base}&label=${encodeURIComponent('odd key "q"=v,"1"')}`)).json<{ runs: RunSummary[] }>();
    expect(odd.runs).toHaveLength(5);
    const csv = await h.app.fastify.inject({ url: `/api/runs?from=${base}`, headers: { accept: 'text/csv' } });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toMatch(/^run_id,model,platform,kind,status/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toContain('"{""odd key \\""q\\"""":""v,\\""1\\"""",""team"":""b""}"');
    // CSV carries the paging cursor in a header: on a full page, not after the last
    const csvPage = await h.app.fastify.inject(`/api/runs?from=${base}&limit=2&format=csv`);
    expect(csvPage.headers['x-next-offset']).toBe('2');
    expect((await h.app.fastify.inject(`/api/runs?from=${base}&limit=2&offset=4&format=csv`)).headers['x-next-offset']).toBeUndefined();
  });
});

describe('import', () => {
  it('keeps every field a run measured elsewhere gives, its batch size included, and lists it back', async () => {
    const item = { model: 'imported-bs', platform: 'TPU-v4', inferences: 50_000, energy_j: 900, duration_s: 60, accuracy: 0.7, dataset: 'imagenet-val', batch_size: 256, params_m: 25.6, macs_g: 4.1, labels: { source: 'paper' }, run_id: 'imp-batch' };
    const res = await h.app.fastify.inject({ method: 'POST', url: '/api/runs/import', payload: item });
    expect(res.statusCode, res.body).toBe(201);
    const expected = { model: 'imported-bs', platform: 'TPU-v4', kind: 'imported', inferences: 50_000, energy_j: 900, duration_s: 60, dataset: 'imagenet-val', batch_size: 256, params_m: 25.6, macs_g: 4.1, labels: { source: 'paper' } };
    expect(res.json<{ runs: RunSummary[] }>().runs[0]).toMatchObject(expected);
    expect((await h.app.fastify.inject('/api/runs/imp-batch')).json<RunSummary>()).toMatchObject(expected);
  });
});
