import { describe, expect, it } from 'vitest';
import { seriesEnergy, windowEnergy } from '../../../api/domain/energy.js';
import { expectedSources } from '../../../api/domain/arrival.js';
import { decodeRecord } from '../../../api/domain/record.js';
import { RUN_COLUMNS, RUN_SUMMARY, type SummaryContext } from '../../../api/domain/run-record.js';

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

describe('the reading each source used, from its host record to the run summary', () => {
  it('names the reading of every source the records list, found in the window or silent', () => {
    const record = {
      host: 'h',
      platform: 'L40S',
      cpuModel: null,
      gpus: [],
      sources: [
        { id: 'nvidia-smi/0', domain: 'gpu' as const, method: 'sampled' as const, in_total: true, gpu: 0, reading: 'power.draw.instant' },
        { id: 'hwmon/amdgpu-0/power1', domain: 'gpu' as const, method: 'averaged' as const, in_total: true, gpu: 1, reading: 'power1_average' },
        // a record of an older collector: no reading
        { id: 'rapl/package-0', domain: 'cpu' as const, method: 'counter' as const, in_total: true },
      ],
      sampleHz: 10,
      reportIntervalS: 1,
      flushIntervalS: 5,
      version: null,
      clockOffsetS: null,
      clockOffsetErrorS: null,
      startedAtMs: 0,
      timeMs: 0,
    };
    const expected = expectedSources([record]);
    expect(expected.find((e) => e.source === 'nvidia-smi/0')?.reading).toBe('power.draw.instant');
    const found = { host: 'h', source: 'nvidia-smi/0', domain: 'gpu', method: 'sampled', inside: { energyJ: 1276.7, intervalS: 10, count: 10 }, firstInside: undefined, firstAfter: undefined };
    const w = windowEnergy([found], 0, 10_000, expected);
    const run = { ...decodeRecord(RUN_COLUMNS, { time: 1, run_id: 'r' }), sources: w.sources };
    const summary = RUN_SUMMARY.sources.value(run, {} as SummaryContext) as Array<{ source: string; method: string; reading?: string }>;
    expect(summary.map((s) => [s.source, s.method, s.reading])).toEqual([
      ['hwmon/amdgpu-0/power1', 'averaged', 'power1_average'],
      ['nvidia-smi/0', 'sampled', 'power.draw.instant'],
      ['rapl/package-0', 'counter', undefined],
    ]);
    expect(summary[2]).not.toHaveProperty('reading');
  });
});
