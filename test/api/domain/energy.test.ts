import { describe, expect, it } from 'vitest';
import { seriesEnergy } from '../../../api/domain/energy.js';

const base = { host: 'h', source: 'hwmon/amdgpu-0/power1', domain: 'gpu', method: 'sampled' };

describe('energy of one series over a window (pure)', () => {
  it('cuts the edge points at the window’s ends', () => {
    // points every 1 s at 23 W ending at 0.5, 1.5, …, 10.5 s; window (0, 10] s
    const e = seriesEnergy(
      { ...base, inside: { energyJ: 23 * 10, intervalS: 10, count: 10 }, firstInside: { timeMs: 500, energyJ: 23, intervalS: 1 }, firstAfter: { timeMs: 10_500, energyJ: 23, intervalS: 1 } },
      0,
      10_000,
    );
    // inside: 10 points (0.5 … 9.5), the first half outside; plus half of the point ending at 10.5
    expect(e.energyJ).toBeCloseTo(230, 9);
    expect(e.coverage).toBeCloseTo(1, 9);
    expect(e.avgPowerW).toBeCloseTo(23, 9);
  });

  it('gives the power over the seconds its points cover, not over the whole window, when a sliver is missing', () => {
    // the first point after the window has not arrived: 0.5 s of 10 s uncovered
    const e = seriesEnergy({ ...base, inside: { energyJ: 23 * 10, intervalS: 10, count: 10 }, firstInside: { timeMs: 500, energyJ: 23, intervalS: 1 }, firstAfter: undefined }, 0, 10_000);
    expect(e.energyJ).toBeCloseTo(218.5, 9);
    expect(e.coverage).toBeCloseTo(0.95, 9);
    expect(e.avgPowerW).toBeCloseTo(23, 9);
  });

  it('reads 0 W and coverage 0 for a series without points in the window', () => {
    const e = seriesEnergy({ ...base, inside: undefined, firstInside: undefined, firstAfter: undefined }, 0, 10_000);
    expect(e).toMatchObject({ energyJ: 0, coverage: 0, avgPowerW: 0 });
  });
});
