/**
 * Repeat statistics: Student's t against its printed table, a series' statistics against a hand
 * computation over the stored runs, the series id on runs (stored, filtered, checked), and the
 * compare leaving warm-ups out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describe as describeValues, studentCdf, studentQuantile } from '../../../api/domain/statistics.js';
import { seriesStatistics } from '../../../api/domain/series.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import type { Series } from '../../../clients/ts/client.js';
import type { compare } from '../../../api/domain/compare.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

describe('Student’s t and the 95 % confidence interval', () => {
  it('t(0.975, df) matches the printed table', () => {
    // two-sided 95 % critical values, e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2
    const table: Array<[number, number]> = [[1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [5, 2.571], [9, 2.262], [10, 2.228], [20, 2.086], [30, 2.042], [100, 1.984]];
    for (const [df, t] of table) expect(studentQuantile(0.975, df), `df ${df}`).toBeCloseTo(t, 3);
    // and the CDF it inverts, at a closed form: with 1 degree of freedom t is Cauchy
    expect(studentCdf(1, 1)).toBeCloseTo(0.75, 12);
    expect(studentCdf(-2, 1)).toBeCloseTo(0.5 + Math.atan(-2) / Math.PI, 12);
  });

  it('describes 10, 12, 14: mean 12, sd 2, CV 1/6, CI 12 ± 4.303 · 2 / √3', () => {
    const d = describeValues([10, 12, 14]);
    expect(d).toMatchObject({ n: 3, mean: 12, std: 2 });
    expect(d.cv).toBeCloseTo(1 / 6, 12);
    expect(d.ci95_low).toBeCloseTo(12 - (4.302653 * 2) / Math.sqrt(3), 5);
    expect(d.ci95_high).toBeCloseTo(12 + (4.302653 * 2) / Math.sqrt(3), 5);
    expect(describeValues([5])).toEqual({ n: 1, mean: 5, std: null, cv: null, ci95_low: null, ci95_high: null });
    expect(describeValues([])).toMatchObject({ n: 0, mean: null });
  });

  it('flags a series whose energy per inference varies more than 2 %, and not one that varies less', () => {
    const run = (id: string, uwh: number, extra: Partial<RunSummary> = {}) => ({ run_id: id, model: 'm', platform: 'p', status: 'completed', warmup: false, energy_per_inference_uwh: uwh, ...extra }) as RunSummary;
    const calm = seriesStatistics('s', [run('a', 100), run('b', 101), run('c', 99), run('w', 150, { warmup: true })]);
    expect(calm.flag).toBeNull();
    expect(calm.stats.energy_per_inference_uwh.n).toBe(3);
    expect(calm.left_out).toEqual([{ run_id: 'w', why: 'warm-up' }]);
    const wild = seriesStatistics('s', [run('a', 100), run('b', 104), run('c', 99), run('f', 100, { status: 'failed' })]);
    expect(wild.flag).toMatch(/varies by 2\.6\d % .* over 3 runs, above 2 %/);
    expect(wild.left_out).toEqual([{ run_id: 'f', why: 'failed' }]);
  });
});

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('series');
});
afterAll(async () => h.close());

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

/** A run of `seconds` at 100 W on series-host, with results. */
async function run(at: number, seconds: number, body: Record<string, unknown>, stop: Record<string, unknown> = {}): Promise<RunSummary> {
  h.clock.now = at;
  const started = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'rep', platform: 'P-rep', hosts: ['series-host'], ...body } });
  expect(started.statusCode, started.body).toBe(201);
  h.clock.now = at + seconds * 1000;
  const stopped = await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${started.json<{ run_id: string }>().run_id}/stop`, payload: { inferences: 1000, accuracy: 0.8, ...stop } });
  expect(stopped.statusCode, stopped.body).toBe(200);
  return stopped.json<RunSummary>();
}

describe('a series through the API', () => {
  it('stores the series id on its runs, lists them by it, and gives statistics equal to a hand computation over the stored runs', async () => {
    await h.store.write(powerPoints('series-host', 'nvml/0', T0 - 10_000, 400, () => 100));
    const warm = await run(T0, 5, { series_id: 'ser-1', warmup: true });
    const durations = [10, 11, 12, 10.5];
    for (const [i, d] of durations.entries()) await run(T0 + 20_000 + i * 30_000, d, { series_id: 'ser-1' });
    await run(T0 + 200_000, 8, { series_id: 'ser-1' }, { status: 'failed' });
    await run(T0 + 250_000, 9, {}); // another run of the model, outside the series
    expect(warm).toMatchObject({ series_id: 'ser-1', warmup: true });

    const listed = (await h.app.fastify.inject('/api/runs?series=ser-1')).json<{ runs: RunSummary[] }>().runs;
    expect(listed).toHaveLength(6);
    expect(listed.every((r) => r.series_id === 'ser-1')).toBe(true);

    const res = await h.app.fastify.inject('/api/series/ser-1');
    expect(res.statusCode).toBe(200);
    const s = res.json<Series>();
    expect(s).toMatchObject({ series_id: 'ser-1', model: 'rep', platform: 'P-rep', runs: 6, counted: 4, warmups: 1 });
    expect(s.members.map((m) => m.run_id)).toEqual([...listed].reverse().map((r) => r.run_id));
    expect(s.left_out.map((l) => l.why).sort()).toEqual(['failed', 'warm-up']);

    // by hand, from the stored runs the list gives: completed, not warm-ups
    const counted = listed.filter((r) => !r.warmup && r.status === 'completed');
    const t975df3 = 3.182446305; // Student's t, 0.975, 3 degrees of freedom (printed tables: 3.182; R: qt(0.975, 3))
    for (const metric of ['duration_s', 'energy_j', 'energy_per_inference_uwh', 'composite_score'] as const) {
      const xs = counted.map((r) => r[metric] as number);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
      const got = s.stats[metric];
      expect(got.n, metric).toBe(4);
      expect(got.mean, metric).toBeCloseTo(mean, 9);
      expect(got.std, metric).toBeCloseTo(sd, 9);
      expect(got.cv, metric).toBeCloseTo(sd / mean, 9);
      expect(got.ci95_low, metric).toBeCloseTo(mean - (t975df3 * sd) / 2, 5);
      expect(got.ci95_high, metric).toBeCloseTo(mean + (t975df3 * sd) / 2, 5);
    }
    // 100 W: the energies are 100 × the durations; they vary by far more than 2 %
    expect(counted.map((r) => r.energy_j).sort()).toEqual([1000, 1050, 1100, 1200].map((e) => expect.closeTo(e, 6)));
    expect(s.flag).toMatch(/above 2 %/);

    // compare counts the series' runs and the other run, never the warm-up
    const cmp = (await h.app.fastify.inject('/api/compare?model=rep')).json<ReturnType<typeof compare>>();
    expect(cmp.rows).toHaveLength(1);
    expect(cmp.rows[0]).toMatchObject({ runs: 5, series: ['ser-1'] });
    expect(cmp.rows[0]?.scores.energy_wh.n).toBe(5);
  });

  it('refuses what would make a series wrong, naming the field, and stores nothing', async () => {
    const before = (await h.app.fastify.inject('/api/runs?limit=1000')).json<{ runs: RunSummary[] }>().runs.length;
    const warmAlone = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'rep', warmup: true } });
    expect(warmAlone.statusCode).toBe(400);
    expect(warmAlone.json()).toMatchObject({ field: 'warmup' });
    const otherModel = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'other', platform: 'P-rep', series_id: 'ser-1' } });
    expect(otherModel.statusCode).toBe(409);
    expect(otherModel.json()).toMatchObject({ field: 'series_id', message: expect.stringMatching(/holds runs of model "rep" on "P-rep"/) });
    const otherPlatform = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'rep', platform: 'elsewhere', series_id: 'ser-1' } });
    expect(otherPlatform.statusCode).toBe(409);
    const badId = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'rep', series_id: '../x' } });
    expect(badId.statusCode).toBe(400);
    expect(badId.json()).toMatchObject({ field: 'series_id' });
    const badFilter = await h.app.fastify.inject('/api/runs?series=a%20b');
    expect(badFilter.statusCode).toBe(400);
    expect(badFilter.json()).toMatchObject({ field: 'series' });
    expect((await h.app.fastify.inject('/api/runs?limit=1000')).json<{ runs: RunSummary[] }>().runs.length).toBe(before);
    const missing = await h.app.fastify.inject('/api/series/no-such-series');
    expect(missing.statusCode).toBe(404);
    expect(missing.json<{ message: string }>().message).toMatch(/no run belongs to series "no-such-series"/);
  });
});
