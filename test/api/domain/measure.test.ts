/**
 * A run's measurement in one pass over plain data (api/domain/measure.ts), with literals: the
 * window's energy, scope, net energy, host metrics, attribution, clock offsets, grid intensity,
 * and the steady part with its power from the same curve.
 */
import { describe, expect, it } from 'vitest';
import type { SeriesWindowData } from '../../../api/domain/energy.js';
import { clockShifts } from '../../../api/domain/clock.js';
import { curvePlan, hostMetrics, latestRecords, measureRun, type MeasureInputs, type PowerCurve } from '../../../api/domain/measure.js';
import { emptyRun } from '../../../api/domain/run.js';
import { isPartial, summaryOf, type Run } from '../../../api/domain/run-record.js';
import { DEFAULT_NETSCORE } from '../../../api/domain/scores.js';
import { prng } from '../../helpers.js';
import { planWindow } from '../../../api/domain/window-plan.js';
import { hostRecord } from '../harness.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const SEC = 1000;

/** A series over (T0, T0 + seconds] with one point a second at `watts`, whole inside the window. */
function steadySeries(host: string, source: string, domain: string, watts: number, seconds: number): SeriesWindowData {
  return {
    host,
    source,
    domain,
    method: 'counter',
    inside: { energyJ: watts * seconds, intervalS: seconds, count: seconds },
    firstInside: { timeMs: T0 + SEC, energyJ: watts, intervalS: 1 },
    firstAfter: { timeMs: T0 + (seconds + 1) * SEC, energyJ: watts, intervalS: 1 },
  };
}

function run(over: Partial<Run> = {}): Run {
  return { ...emptyRun({ run_id: 'r-1', model: 'm', platform: 'H100x2', started_at_ms: T0, kind: 'inference', hosts: ['h1'] }), ...over };
}

const twoGpus = hostRecord('h1', {
  gpus: [
    { index: 0, name: 'H100', uuid: 'GPU-aaaa' },
    { index: 1, name: 'H100', uuid: 'GPU-bbbb' },
  ],
  sources: [
    { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 },
    { id: 'nvml/1', domain: 'gpu', method: 'counter', in_total: true, gpu: 1 },
    { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true },
  ],
  clockOffsetS: 1.5,
  gridIntensity: 50,
  timeMs: T0 - 30 * SEC,
});

function inputs(over: Partial<MeasureInputs> = {}): MeasureInputs {
  const records = over.records ?? [twoGpus];
  return {
    clock: clockShifts((over.run ?? run()).hosts, latestRecords(records), { offsetS: 0, errorS: 0 }),
    run: run(),
    endMs: T0 + 30 * SEC,
    records: [twoGpus],
    series: [steadySeries('h1', 'nvml/0', 'gpu', 200, 30), steadySeries('h1', 'nvml/1', 'gpu', 100, 30), steadySeries('h1', 'rapl/package-0', 'cpu', 40, 30)],
    metrics: [
      { host: 'h1', gpu: 0, sums: { util_pct_sum: 90 * 30, util_pct_count: 30, mem_used_bytes_sum: 30 * 40e9, mem_used_bytes_count: 30, mem_total_bytes_sum: 30 * 80e9, mem_total_bytes_count: 30 } },
      { host: 'h1', gpu: 1, sums: { util_pct_sum: 10 * 30, util_pct_count: 30, mem_used_bytes_sum: 0, mem_used_bytes_count: 30, mem_total_bytes_sum: 30 * 80e9, mem_total_bytes_count: 30 } },
      { host: 'h1', gpu: null, sums: { usage_pct_sum: 25 * 3, usage_pct_count: 3 } },
    ],
    attributed: [],
    workload: [],
    baselines: new Map(),
    curve: null,
    gridIntensity: 436,
    ...over,
  };
}

describe('measureRun (pure)', () => {
  it('sums every in-total source of the run’s hosts, with coverage, average power, metrics, clock offset and grid', () => {
    const { run: m, unresolvedGpus } = measureRun(inputs());
    expect(m.energy_j).toBeCloseTo((200 + 100 + 40) * 30, 9);
    expect(m.energy_host_j).toBeCloseTo((200 + 100 + 40) * 30, 9);
    expect(m.duration_s).toBe(30);
    expect(m.avg_power_w).toBeCloseTo(340, 9);
    expect(m.avg_gpu_power_w).toBeCloseTo(300, 9);
    expect(m.coverage).toBeCloseTo(1, 9);
    expect(m.sources.map((s) => [s.source, s.inRun, s.avgPowerW])).toEqual([
      ['nvml/0', true, 200],
      ['nvml/1', true, 100],
      ['rapl/package-0', true, 40],
    ]);
    expect(m.avg_gpu_util_pct).toBeCloseTo(50, 9);
    expect(m.avg_gpu_mem_pct).toBeCloseTo(25, 9);
    expect(m.avg_cpu_pct).toBeCloseTo(25, 9);
    expect(m.energy_net_j).toBe(m.energy_j);
    expect(m.clock_offsets).toEqual({ h1: 1.5 });
    expect(m.grid_intensity).toEqual({ h1: 50 });
    expect(m.steady_power_w).toBeNull();
    expect(unresolvedGpus).toEqual([]);
  });

  it('counts the run’s own GPU (by UUID) and the host’s other sources; the other GPU is listed, not counted, nor in the averages', () => {
    const { run: m } = measureRun(inputs({ run: run({ gpus: ['GPU-bbbb'], gpus_from: 'CUDA_VISIBLE_DEVICES' }) }));
    expect(m.energy_j).toBeCloseTo((100 + 40) * 30, 9);
    expect(m.energy_host_j).toBeCloseTo((200 + 100 + 40) * 30, 9);
    expect(m.sources.find((s) => s.source === 'nvml/0')?.inRun).toBe(false);
    expect(m.avg_gpu_util_pct).toBeCloseTo(10, 9);
    expect(m.avg_gpu_power_w).toBeCloseTo(100, 9);
    expect(measureRun(inputs({ run: run({ gpus: ['7'] }) })).unresolvedGpus).toEqual(['7']);
  });

  it('subtracts each source’s idle power from the host’s latest baseline; a baseline’s other hosts do not count', () => {
    const baseline = run({
      run_id: 'b-1',
      kind: 'baseline',
      status: 'completed',
      hosts: ['h1', 'h2'],
      sources: [
        { host: 'h1', source: 'nvml/0', domain: 'gpu', method: 'counter', energyJ: 0, coverage: 1, avgPowerW: 60 },
        { host: 'h2', source: 'rapl/package-0', domain: 'cpu', method: 'counter', energyJ: 0, coverage: 1, avgPowerW: 999 },
      ],
    });
    const { run: m } = measureRun(inputs({ baselines: new Map([['h1', baseline]]) }));
    expect(m.energy_net_j).toBeCloseTo((200 + 100 + 40 - 60) * 30, 9);
  });

  it('names a source the host record lists that sent nothing: coverage 0, the run partial', () => {
    const { run: m } = measureRun(inputs({ series: [steadySeries('h1', 'nvml/0', 'gpu', 200, 30), steadySeries('h1', 'rapl/package-0', 'cpu', 40, 30)] }));
    expect(m.coverage).toBe(0);
    expect(m.sources.find((s) => s.source === 'nvml/1')).toMatchObject({ coverage: 0, energyJ: 0 });
    expect(m.energy_j).toBeCloseTo(240 * 30, 9);
  });

  it('reports what the collector attributed to the run’s processes beside the host’s energy, with its notes', () => {
    const { run: m } = measureRun(
      inputs({
        attributed: [
          { host: 'h1', source: 'rapl/package-0', domain: 'cpu', window: steadySeries('h1', 'rapl/package-0', 'cpu', 10, 30), share: 0.25, note: null },
          { host: 'h1', source: 'nvml/0', domain: 'gpu', window: steadySeries('h1', 'nvml/0', 'gpu', 40, 30), share: 0.2, note: 'per-process utilisation unavailable' },
        ],
      }),
    );
    expect(m.energy_attributed_j).toBe(1500);
    expect(m.attributed?.notes).toEqual(['h1/nvml/0: per-process utilisation unavailable']);
  });

  it('never attributes more than the same source’s energy: prorated at the window’s edges as the host’s is (random grids and windows)', () => {
    const random = prng(20261203);
    for (let k = 0; k < 500; k++) {
      // points of random lengths (0.2–3 s) from T0 − 5 s on, at a random power; a run over a random window inside
      const points: Array<{ timeMs: number; energyJ: number; intervalS: number }> = [];
      for (let t = T0 - 5 * SEC; t < T0 + 60 * SEC; ) {
        const intervalS = 0.2 + random() * 2.8;
        t += intervalS * SEC;
        points.push({ timeMs: Math.round(t), energyJ: (10 + random() * 300) * intervalS, intervalS });
      }
      const t0 = T0 + random() * 20 * SEC;
      const t1 = t0 + (0.1 + random() * 30) * SEC;
      const window = (scale: (i: number) => number): SeriesWindowData => {
        const inside = points.map((p, i) => ({ ...p, energyJ: p.energyJ * scale(i) })).filter((p) => p.timeMs > t0 && p.timeMs <= t1);
        const after = points.findIndex((p) => p.timeMs > t1);
        return {
          host: 'h1', source: 'rapl/package-0', domain: 'cpu', method: 'counter',
          inside: inside.length ? { energyJ: inside.reduce((a, p) => a + p.energyJ, 0), intervalS: inside.reduce((a, p) => a + p.intervalS, 0), count: inside.length } : undefined,
          firstInside: inside[0],
          firstAfter: after < 0 ? undefined : { ...(points[after] as (typeof points)[number]), energyJ: (points[after] as (typeof points)[number]).energyJ * scale(after) },
        };
      };
      const shares = points.map(() => random());
      const host = window(() => 1);
      const { run: m } = measureRun(
        inputs({
          run: run({ started_at_ms: Math.round(t0) }),
          endMs: Math.round(t1),
          records: [hostRecord('h1', { sources: [{ id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true }], timeMs: T0 - 30 * SEC })],
          series: [host],
          metrics: [],
          attributed: [{ host: 'h1', source: 'rapl/package-0', domain: 'cpu', window: window((i) => shares[i] as number), share: 0.5, note: null }],
        }),
      );
      expect(m.energy_attributed_j as number).toBeLessThanOrEqual((m.energy_j as number) * (1 + 1e-12) + 1e-9);
    }
  });

  it('a host whose clock offset is unknown makes the run partial, named, whatever its coverage', () => {
    const silent = hostRecord('h1', { clockOffsetS: null, sources: [{ id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true }], timeMs: T0 - 30 * SEC });
    const { run: m } = measureRun(inputs({ records: [silent], series: [steadySeries('h1', 'rapl/package-0', 'cpu', 40, 30)], metrics: [] }));
    expect(m.coverage).toBeGreaterThan(0.99);
    expect(m.clock_unknown).toEqual(['h1']);
    expect(isPartial(m)).toBe(true);
    expect(summaryOf(m, { netscore: DEFAULT_NETSCORE, gridIntensity: 436, energyPrice: undefined }).partial).toBe(true);
  });

  it('averages only the GPUs a filter keeps', () => {
    const rows = inputs().metrics;
    expect(hostMetrics(rows).avg_gpu_util_pct).toBeCloseTo(50, 9);
    expect(hostMetrics(rows, (_h, gpu) => gpu === 0).avg_gpu_util_pct).toBeCloseTo(90, 9);
  });
});

/** 1 s buckets of one series: the point ending in bucket k (at T0 + k s) carries watts(k − 1). */
function curve(watts: (i: number) => number, seconds: number, attributed?: (i: number) => number): PowerCurve {
  const buckets = Array.from({ length: seconds }, (_, i) => ({ timeMs: T0 + (i + 1) * SEC, energyJ: watts(i), intervalS: 1 }));
  return { bucketMs: SEC, series: [{ host: 'h1', source: 'nvml/0', buckets }], attributed: attributed ? buckets.map((b, i) => ({ timeMs: b.timeMs, energyJ: attributed(i) })) : [] };
}

describe('the steady part, from the curve read with the window', () => {
  const watts = (i: number) => (i < 3 ? 60 : i < 23 ? 240 : 90);
  const gpuOnly = hostRecord('h1', { timeMs: T0 - SEC });
  const energy = 3 * 60 + 20 * 240 + 4 * 90;
  const series = [{ host: 'h1', source: 'nvml/0', domain: 'gpu', method: 'counter', inside: { energyJ: energy, intervalS: 27, count: 27 }, firstInside: { timeMs: T0 + SEC, energyJ: 60, intervalS: 1 }, firstAfter: undefined }];

  it('finds the rise and tail (3 s at 60 W, 20 s at 240 W, 4 s at 90 W) and the steady power over the buckets it holds whole', () => {
    const { run: m } = measureRun(inputs({ records: [gpuOnly], metrics: [], series, endMs: T0 + 27 * SEC, curve: curve(watts, 27) }));
    expect(m.energy_j).toBeCloseTo(energy, 9);
    expect(m.steady_rise_s).toBe(4);
    expect(m.steady_tail_s).toBe(4);
    expect(m.steady_power_w).toBeCloseTo(240, 9);
    expect(m.steady_reason).toBeNull();
  });

  it('with score_energy = attributed, takes the attributed energy over the same buckets', () => {
    const attributedRun = run({ score_energy: 'attributed' });
    const attributed = [{ host: 'h1', source: 'nvml/0', domain: 'gpu', window: { ...series[0]!, inside: { energyJ: energy / 2, intervalS: 27, count: 27 }, firstInside: { timeMs: T0 + SEC, energyJ: 30, intervalS: 1 } }, share: 0.5, note: null }];
    const { run: m } = measureRun(inputs({ run: attributedRun, records: [gpuOnly], metrics: [], series, attributed, endMs: T0 + 27 * SEC, curve: curve(watts, 27, (i) => watts(i) / 2) }));
    expect(m.steady_power_w).toBeCloseTo(120, 9);
    // no attribution at all: no steady figure for scores that use it
    const none = measureRun(inputs({ run: attributedRun, records: [gpuOnly], metrics: [], series, endMs: T0 + 27 * SEC, curve: curve(watts, 27) })).run;
    expect(none.steady_power_w).toBeNull();
    expect(none.steady_reason).toBe('no power data covers the steady part');
  });

  it('says why there is none: a run too short, or no power data at all', () => {
    const short = measureRun(inputs({ records: [gpuOnly], metrics: [], series, endMs: T0 + 4 * SEC, curve: curve(() => 100, 4) })).run;
    expect(short.steady_reason).toMatch(/too short/);
    const silent = measureRun(inputs({ records: [gpuOnly], metrics: [], series: [], endMs: T0 + 27 * SEC, curve: curve(watts, 27) })).run;
    expect(silent.steady_reason).toBe('no power data covers the run');
  });

  it('reads a long run’s curve from the 10-minute rollups, a short one’s from raw points in buckets of at most 600 per run', () => {
    const B = 600_000;
    expect(curvePlan(T0, T0 + 27 * SEC, planWindow(T0, T0 + 27 * SEC, B))).toEqual({ bucketMs: SEC, fromRollups: false });
    expect(curvePlan(T0, T0 + 3_600_000, planWindow(T0, T0 + 3_600_000, B))).toEqual({ bucketMs: 6 * SEC, fromRollups: false });
    expect(curvePlan(T0, T0 + 86_400_000, planWindow(T0, T0 + 86_400_000, B))).toEqual({ bucketMs: B, fromRollups: true });
  });
});
