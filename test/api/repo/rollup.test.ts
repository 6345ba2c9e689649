import { beforeAll, describe, expect, it } from 'vitest';
import { bucketsInside, packByCount, tiles } from '../../../api/domain/rollup.js';
import { windowEnergy } from '../../../api/domain/energy.js';
import { PowerRepository } from '../../../api/repo/power.js';
import { RollupJob } from '../../../api/jobs/rollup.js';
import { ident, iql, type InfluxStore } from '../../../common/storage/index.js';
import type { Sample } from '../../../common/model.js';
import { testStore } from '../../helpers.js';
import { powerPoints } from '../harness.js';

const B = 600_000;

/** Truth for one point per second ending at fromMs + (i+1) s: each point's energy over the part of its second inside [t0, t1]. */
function truth(fromMs: number, seconds: number, watts: (i: number) => number, t0: number, t1: number, skip: (i: number) => boolean = () => false): number {
  let e = 0;
  for (let i = 0; i < seconds; i++) {
    if (skip(i)) continue;
    const lo = Math.max(fromMs + i * 1000, t0);
    const hi = Math.min(fromMs + (i + 1) * 1000, t1);
    if (hi > lo) e += (watts(i) * (hi - lo)) / 1000;
  }
  return e;
}

describe('rollup buckets (pure)', () => {
  it('finds the whole buckets inside a window', () => {
    expect(bucketsInside(1, 3 * B + 5, B)).toEqual({ from: B, to: 3 * B, count: 2 });
    expect(bucketsInside(0, 3 * B, B)).toEqual({ from: B, to: 3 * B, count: 2 });
    expect(bucketsInside(B + 1, 2 * B + 1, B)).toBeUndefined();
  });

  it('calls a bucket final only when its points leave no room for another', () => {
    const pts = (times: number[]) => times.map((t) => ({ timeMs: t, energyJ: 1, intervalS: 1 }));
    const full = pts(Array.from({ length: 600 }, (_, i) => B + i * 1000));
    expect(tiles(full, B, B)).toBe(true);
    expect(tiles(full.filter((_, i) => i !== 300), B, B)).toBe(false); // a hole in the middle
    expect(tiles(full.slice(5), B, B)).toBe(false); // room at the start
    expect(tiles(full.slice(0, -3), B, B)).toBe(false); // room at the end
    expect(tiles([], B, B)).toBe(false);
    // report jitter of a few ms is no hole
    expect(tiles(full.map((p, i) => ({ ...p, timeMs: p.timeMs + (i % 2 ? 3 : -2) })), B, B)).toBe(true);
  });
});

describe('host groups of the rollup job (pure)', () => {
  it('packs hosts into groups of at most the bound, in order, a host over it alone', () => {
    const c = (key: string, count: number) => ({ key, count });
    expect(packByCount([c('a', 40), c('b', 50), c('c', 20), c('d', 150), c('e', 1)], 100)).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
    expect(packByCount([], 100)).toEqual([]);
  });
});

describe('rollups against the real influxd', () => {
  let store: InfluxStore;
  const base = Date.UTC(2026, 6, 1);
  const hours = 3;
  const watts = (s: number) => (i: number) => 100 + 10 * s + 5 * Math.cos(i / 7);
  let gpuHole: Sample[] = [];

  beforeAll(async () => {
    store = await testStore('rollup');
    const a = powerPoints('rh', 'nvml/0', base, hours * 3600, watts(0));
    gpuHole = a.slice(4000, 4020); // 20 s missing in the bucket of 01:00–01:10 (late points)
    await store.write([...a.slice(0, 4000), ...a.slice(4020), ...powerPoints('rh', 'rapl/package-0', base, hours * 3600, watts(1), true, 'cpu'), ...powerPoints('rh', 'rapl/core-0', base, hours * 3600, () => 5, false, 'cpu')]);
    await store.write(
      Array.from({ length: hours * 360 }, (_, i) => ({ measurement: 'gpu' as const, tags: { host: 'rh', platform: 'p', gpu: '0', gpu_name: 'X' }, fields: { util_pct: i % 100, mem_used_bytes: 2e9, mem_total_bytes: 8e9 }, timeMs: base + i * 10_000 })),
    );
  });

  it('rolls up settled buckets where a series tiles them, leaves the others raw, and sums the same energy either way', async () => {
    const job = new RollupJob(store, { maxBuckets: 1000 });
    const done = await job.advance(base + hours * 3600_000 + B);
    expect(done).toBe(hours * 6);
    expect(await job.watermark()).toBe(base + hours * 3600_000);
    const rolled = await store.rows(iql`SELECT count(${ident('energy_j')}) AS n FROM ${ident('power_10m')} GROUP BY ${ident('source')}`);
    // nvml/0 lacks the bucket with the hole; the nested core is rolled up too (queries filter in_total)
    expect(Object.fromEntries(rolled.map((r) => [r.source, r.n]))).toEqual({ 'nvml/0': hours * 6 - 1, 'rapl/package-0': hours * 6, 'rapl/core-0': hours * 6 });

    const t0 = base + 123_456;
    const t1 = base + hours * 3600_000 - 98_765;
    const withRollups = new PowerRepository(store);
    const rawOnly = new PowerRepository(store, 1000 * 3600_000); // buckets longer than any window: raw sums only
    const a = await withRollups.window(['rh'], t0, t1);
    const b = await rawOnly.window(['rh'], t0, t1);
    const ea = windowEnergy(a.series, t0, t1);
    const eb = windowEnergy(b.series, t0, t1);
    // both against the truth: the GPU's points less the 20 s hole, and the package's
    const seconds = hours * 3600;
    const inHole = (i: number) => i >= 4000 && i < 4020;
    const expected = truth(base, seconds, watts(0), t0, t1, inHole) + truth(base, seconds, watts(1), t0, t1);
    expect(ea.energyJ).toBeCloseTo(expected, 6);
    expect(eb.energyJ).toBeCloseTo(expected, 6);
    const windowS = (t1 - t0) / 1000;
    expect(ea.coverage).toBeCloseTo((windowS - 20) / windowS, 9);
    expect(eb.coverage).toBeCloseTo((windowS - 20) / windowS, 9);
    expect(ea.sources.map((s) => s.source)).toEqual(['nvml/0', 'rapl/package-0']);
    // the mean of the gpu points inside (t0, t1]: one every 10 s at i % 100 %
    const utils = Array.from({ length: hours * 360 }, (_, i) => i).filter((i) => base + i * 10_000 > t0 && base + i * 10_000 <= t1).map((i) => i % 100);
    const meanUtil = utils.reduce((x, y) => x + y, 0) / utils.length;
    expect(a.metrics.avg_gpu_util_pct).toBeCloseTo(meanUtil, 9);
    expect(b.metrics.avg_gpu_util_pct).toBeCloseTo(meanUtil, 9);
    expect(a.metrics.avg_gpu_mem_pct).toBeCloseTo(25, 9);

    // the late points arrive: the raw bucket picks them up, the rollups stay right
    await store.write(gpuHole);
    const late = windowEnergy((await withRollups.window(['rh'], t0, t1)).series, t0, t1);
    const lateRaw = windowEnergy((await rawOnly.window(['rh'], t0, t1)).series, t0, t1);
    const expectedLate = truth(base, seconds, watts(0), t0, t1) + truth(base, seconds, watts(1), t0, t1);
    expect(late.energyJ).toBeCloseTo(expectedLate, 6);
    expect(lateRaw.energyJ).toBeCloseTo(expectedLate, 6);
    expect(late.coverage).toBeCloseTo(1, 9);
  });
});

describe('the rollup job on a fleet', () => {
  it('rolls up the same points when it fetches host group by host group', async () => {
    const base = Date.UTC(2026, 6, 5);
    const data = ['f1', 'f2', 'f3', 'f4'].flatMap((host, k) => [...powerPoints(host, 'nvml/0', base, 1800, (i) => 100 + k + (i % 7)), ...powerPoints(host, 'rapl/package-0', base, 1800, () => 40 + k, true, 'cpu')]);
    const [whole, grouped] = [await testStore('rollup_whole'), await testStore('rollup_grouped')];
    for (const s of [whole, grouped]) await s.write(data);
    // one answer for every host, and one per host (3,600 points each, over a bound of 2,000)
    await new RollupJob(whole, { maxBuckets: 10 }).advance(base + 4 * B);
    await new RollupJob(grouped, { maxBuckets: 10, maxPointsPerQuery: 2000 }).advance(base + 4 * B);
    const dump = async (s: InfluxStore) => s.rows(iql`SELECT * FROM ${ident('power_10m')} GROUP BY *`);
    const rows = await dump(whole);
    expect(rows).toHaveLength(4 * 2 * 3);
    expect(await dump(grouped)).toEqual(rows);
  });
});
