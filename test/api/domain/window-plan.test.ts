import { describe, expect, it } from 'vitest';
import { metricsFromRollups, planWindow, splitMiddle } from '../../../api/domain/window-plan.js';

const M = 60_000;
const B = 10 * M; // a rollup bucket

describe('the plan of a window’s reads', () => {
  it('reads a window with fewer than two whole buckets from raw points, (t0, t1]', () => {
    expect(planWindow(5 * M, 15 * M, B)).toEqual({ kind: 'raw', whole: { from: 5 * M, fromInclusive: false, to: 15 * M, toInclusive: true } });
    expect(planWindow(5 * M, 25 * M, B)).toMatchObject({ kind: 'raw' }); // one whole bucket, [10, 20)
  });

  it('reads whole buckets from rollups and the two ends raw, tiling (t0, t1] without overlap', () => {
    const plan = planWindow(5 * M, 47 * M, B);
    expect(plan).toEqual({
      kind: 'rollups',
      left: { from: 5 * M, fromInclusive: false, to: 10 * M, toInclusive: false },
      middle: { from: 10 * M, fromInclusive: true, to: 40 * M, toInclusive: false },
      right: { from: 40 * M, fromInclusive: true, to: 47 * M, toInclusive: true },
      buckets: 3,
    });
  });

  it('starts the middle at the window’s start when that is a bucket boundary, since (t0, …) leaves t0 out', () => {
    const plan = planWindow(10 * M, 40 * M, B);
    // (10, 20) raw: a point ending exactly at 10 belongs to the bucket before
    expect(plan).toMatchObject({ kind: 'rollups', middle: { from: 20 * M, to: 40 * M }, buckets: 2 });
  });

  it('takes a series’ middle from rollups only where it is rolled up in every bucket', () => {
    const candidates = [
      { host: 'a', source: 'rapl/package-0' },
      { host: 'a', source: 'nvml/0' },
      { host: 'b', source: 'rapl/package-0' },
    ];
    const rolled = [
      { host: 'a', source: 'rapl/package-0', buckets: 3 },
      { host: 'a', source: 'nvml/0', buckets: 2 }, // a bucket with a gap (the GPU was lost for a while)
    ];
    const { fromRollups, raw } = splitMiddle(candidates, rolled, 3);
    expect([...fromRollups]).toEqual(['a\u0000rapl/package-0']);
    expect(raw).toEqual([
      { host: 'a', source: 'nvml/0' },
      { host: 'b', source: 'rapl/package-0' }, // never rolled up (a host added in the window)
    ]);
  });

  it('takes host metrics from rollups only once the rollup job is past the middle', () => {
    const plan = planWindow(5 * M, 47 * M, B);
    if (plan.kind !== 'rollups') throw new Error('expected a rollup plan');
    expect(metricsFromRollups(null, plan.middle)).toBe(false);
    expect(metricsFromRollups(39 * M, plan.middle)).toBe(false);
    expect(metricsFromRollups(40 * M, plan.middle)).toBe(true);
  });
});
