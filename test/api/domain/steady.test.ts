/**
 * The steady part of a run's power curve: the detector on synthetic curves whose rise and tail
 * are known (steps, ramps, noise, a dip, a ramp with no steady state), then the API storing it at
 * the stop over real points in InfluxDB, with the energy per inference over the steady part.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { steadyState, type PowerBucket } from '../../../api/domain/steady.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { prng } from '../../helpers.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';


/** Normal noise of standard deviation `sigma` (Box–Muller). */
function gaussian(rand: () => number, sigma: number): () => number {
  return () => sigma * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const SEC = 1000;

/** One-second buckets of `watts(t)` (t in seconds from the run's start) over `seconds`, plus noise. */
function curve(seconds: number, watts: (t: number) => number, noise: () => number = () => 0): PowerBucket[] {
  return Array.from({ length: seconds }, (_, i) => ({ timeMs: T0 + i * SEC, watts: watts(i) + noise() }));
}

function found(r: ReturnType<typeof steadyState>) {
  if (!r.found) throw new Error(`no steady part: ${r.reason}`);
  return r;
}

describe('steady state, on synthetic curves with a known rise and tail', () => {
  it('a step up after 4 s of loading and a step down 5 s before the end, with 2 % noise: rise 4 s, tail 5 s (+ one point’s interval)', () => {
    const noise = gaussian(prng(7), 250 * 0.02);
    const buckets = curve(40, (t) => (t < 4 ? 50 : t < 35 ? 250 : 80), noise);
    const s = found(steadyState(buckets, SEC, T0, T0 + 40 * SEC, { pointIntervalMs: SEC }));
    expect(s.riseS).toBe(4);
    // the last steady bucket holds points that began a second before it: the window ends there
    expect(s.tailS).toBe(6);
    expect(s.levelW).toBeGreaterThan(245);
    expect(s.levelW).toBeLessThan(255);
  });

  it('linear ramps (10 s up, 6 s down) under 1.5 % noise: the rise and tail found to within 1.5 s, never reaching into the level’s neighbours', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const noise = gaussian(prng(seed), 200 * 0.015);
      const level = (t: number) => (t < 10 ? 40 + 16 * t : t < 54 ? 200 : Math.max(40, 200 - (160 / 6) * (t - 54)));
      const s = found(steadyState(curve(60, level, noise), SEC, T0, T0 + 60 * SEC, { pointIntervalMs: SEC }));
      expect(Math.abs(s.riseS - 10), `seed ${seed}: rise ${s.riseS}`).toBeLessThanOrEqual(1.5);
      expect(Math.abs(s.tailS - 6), `seed ${seed}: tail ${s.tailS}`).toBeLessThanOrEqual(1.5);
    }
  });

  it('a flat curve with noise has no rise and no tail; a dip in the middle stays in the steady part', () => {
    const noise = gaussian(prng(11), 3);
    const flat = found(steadyState(curve(30, () => 120, noise), SEC, T0, T0 + 30 * SEC));
    expect(flat.riseS).toBe(0);
    expect(flat.tailS).toBe(0);
    const dipped = found(steadyState(curve(30, (t) => (t >= 14 && t < 16 ? 60 : 120)), SEC, T0, T0 + 30 * SEC));
    expect(dipped.riseS).toBe(0);
    expect(dipped.tailS).toBe(0);
  });

  it('a run that starts inside a bucket: the bucket it shares with the idle time before it is part of the rise', () => {
    // the run starts 0.4 s into a bucket whose mean mixes the idle before it; loading lasts 2.6 s more
    const start = T0 + 400;
    const buckets = curve(30, (t) => (t === 0 ? 70 : t < 3 ? 100 : 300));
    const s = found(steadyState(buckets, SEC, start, T0 + 30 * SEC));
    expect(s.fromMs).toBe(T0 + 3 * SEC);
    expect(s.riseS).toBeCloseTo(2.6, 9);
  });

  it('says why when there is no steady part: too short, a ramp all along, never holding', () => {
    // a curve that swings from bucket to bucket around a stable mean is noise, and steady
    const swinging = steadyState(curve(30, (t) => (t % 2 ? 100 : 200)), SEC, T0, T0 + 30 * SEC);
    expect(swinging).toMatchObject({ found: true, riseS: 0, tailS: 0 });
    const short = steadyState(curve(4, () => 100), SEC, T0, T0 + 4 * SEC);
    expect(short).toMatchObject({ found: false });
    expect(short.found ? '' : short.reason).toMatch(/too short .* 4 power buckets/);
    const ramp = steadyState(curve(60, (t) => 100 + 4 * t, gaussian(prng(3), 1)), SEC, T0, T0 + 60 * SEC);
    expect(ramp.found ? '' : ramp.reason).toMatch(/holds within .* for only [\d.]+ s of the run's 60\.0 s/);
    // steep: no three seconds in a row near its middle
    const steep = steadyState(curve(30, (t) => 50 + 40 * t), SEC, T0, T0 + 30 * SEC);
    expect(steep.found ? '' : steep.reason).toMatch(/never holds within ±[\d.]+ W of its level \([\d.]+ W\) for 3 buckets in a row/);
  });
});

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('steady');
});
afterAll(async () => h.close());

describe('the steady part of a stopped run', () => {
  it('is found at the stop over the stored points, and its energy per inference stands beside the whole run’s', async () => {
    // 3 s of loading at 60 W, 20 s at 240 W, 4 s of writing results at 90 W; one point a second
    const watts = (i: number) => (i < 3 ? 60 : i < 23 ? 240 : 90);
    await h.store.write(powerPoints('steady-host', 'nvml/0', T0, 27, watts));
    h.clock.now = T0;
    const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'steady', hosts: ['steady-host'] } })).json<{ run_id: string }>().run_id;
    h.clock.now = T0 + 27 * SEC;
    const stop = await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: { inferences: 10_000, accuracy: 0.8 } });
    expect(stop.statusCode).toBe(200);
    const s = stop.json<RunSummary>();
    // points are stamped at their end, so the bucket of the last loading point reaches to the
    // end of its second: the rise is placed one second late rather than let a loading second in;
    // the tail is placed where the first point of 90 W began
    expect(s.steady_rise_s).toBe(4);
    expect(s.steady_tail_s).toBe(4);
    expect(s.steady_s).toBe(19);
    expect(s.steady_power_w).toBeCloseTo(240, 9);
    // whole run: (3·60 + 20·240 + 4·90) J; steady: 240 W over the run's 27 s, both per 10 000 inferences in µWh
    expect(s.energy_j).toBeCloseTo(3 * 60 + 20 * 240 + 4 * 90, 6);
    expect(s.energy_per_inference_uwh).toBeCloseTo((3 * 60 + 20 * 240 + 4 * 90) / 10_000 / 3.6e-3, 6);
    expect(s.energy_per_inference_steady_uwh).toBeCloseTo((240 * 27) / 10_000 / 3.6e-3, 6);
    expect(s.steady_reason).toBeNull();
    // stored: read back, and in the CSV export
    const again = (await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(again).toMatchObject({ steady_rise_s: 4, steady_tail_s: 4, steady_power_w: s.steady_power_w, energy_per_inference_steady_uwh: s.energy_per_inference_steady_uwh });
    const csv = (await h.app.fastify.inject('/api/runs?format=csv&model=steady')).body.split('\r\n');
    const header = (csv[0] as string).split(',');
    const row = (csv[1] as string).split(',');
    expect(Number(row[header.indexOf('steady_rise_s')])).toBe(4);
    expect(Number(row[header.indexOf('energy_per_inference_steady_uwh')])).toBeCloseTo(s.energy_per_inference_steady_uwh as number, 9);
  });

  it('a run measured again keeps no stale steady figure or reason (InfluxDB cannot unset a field)', async () => {
    const runs = h.app.runs;
    const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'steady-again', hosts: ['nowhere'] } })).json<{ run_id: string }>().run_id;
    const run = (await runs.get(id)) as NonNullable<Awaited<ReturnType<typeof runs.get>>>;
    await runs.save({ ...run, steady_reason: 'too short' });
    expect(await runs.get(id)).toMatchObject({ steady_reason: 'too short', steady_power_w: null });
    await runs.save({ ...run, steady_rise_s: 1, steady_tail_s: 2, steady_power_w: 150, steady_reason: null });
    expect(await runs.get(id)).toMatchObject({ steady_reason: null, steady_rise_s: 1, steady_tail_s: 2, steady_power_w: 150 });
    await runs.save({ ...run, steady_reason: 'no steady part: a ramp' });
    expect(await runs.get(id)).toMatchObject({ steady_reason: 'no steady part: a ramp', steady_rise_s: null, steady_tail_s: null, steady_power_w: null });
  });

  it('a run too short to tell has no steady figure, and says why', async () => {
    const t = T0 + 600_000;
    await h.store.write(powerPoints('steady-host', 'nvml/0', t, 4, () => 100));
    h.clock.now = t;
    const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'steady-short', hosts: ['steady-host'] } })).json<{ run_id: string }>().run_id;
    h.clock.now = t + 3 * SEC;
    const s = (await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: { inferences: 100 } })).json<RunSummary>();
    expect(s.energy_j).toBeCloseTo(300, 6);
    expect(s.steady_power_w).toBeNull();
    expect(s.energy_per_inference_steady_uwh).toBeNull();
    expect(s.steady_reason).toMatch(/too short/);
    expect(s.null_reasons.energy_per_inference_steady_uwh).toBe(s.steady_reason);
  });
});
