/**
 * The work of a window from `workload` points (api/domain/workload.ts), with literals: counts
 * prorated at the two edges as energy is, a series per engine, model and endpoint, the sums, and
 * energy per unit of work; and in the run's measurement (api/domain/measure.ts) and scores.
 */
import { describe, expect, it } from 'vitest';
import { energyPer, seriesWork, windowWork, workloadReport, type WorkloadWindowData } from '../../../api/domain/workload.js';
import { energyPerWork, inferencesFrom, inferencesOf } from '../../../api/domain/scores.js';
import { emptyRun } from '../../../api/domain/run.js';
import { summaryOf } from '../../../api/domain/run-record.js';
import { DEFAULT_NETSCORE } from '../../../api/domain/scores.js';
import { expectedWorkload, workloadSource } from '../../../api/domain/arrival.js';
import type { HostRecord } from '../../../common/host-record.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const ctx = { netscore: DEFAULT_NETSCORE, gridIntensity: 400, energyPrice: undefined };

/** A server doing `perS` every second, points of 1 s ending on whole seconds, over [fromS, toS] seconds after T0. */
function steady(perS: { requests?: number; output_tokens?: number; prompt_tokens?: number }, t0: number, t1: number, over: Partial<WorkloadWindowData> = {}): WorkloadWindowData {
  // points end at T0 + k s; the window (t0, t1]: the first inside ends at ceil(t0), the first after at ceil(t1) (or t1 + 1 s)
  const firstInsideEnd = Math.floor(t0 / 1000) * 1000 + 1000;
  const lastInsideEnd = Math.floor(t1 / 1000) * 1000;
  const n = (lastInsideEnd - firstInsideEnd) / 1000 + 1;
  const counts = (k: number) => Object.fromEntries(Object.entries(perS).map(([f, v]) => [f, v * k]));
  return {
    host: 'h1',
    engine: 'vllm',
    model: 'llama',
    instance: '127.0.0.1:8000',
    inside: { intervalS: n, counts: counts(n) },
    firstInside: { timeMs: firstInsideEnd, intervalS: 1, counts: counts(1) },
    firstAfter: { timeMs: lastInsideEnd + 1000, intervalS: 1, counts: counts(1) },
    ...over,
  };
}

describe('work over a window', () => {
  it('prorates the edge points like energy: 2 requests and 50 tokens a second over 20.4 s are 40.8 and 1,020', () => {
    const t0 = T0 + 300;
    const t1 = T0 + 20_700;
    const w = seriesWork(steady({ requests: 2, output_tokens: 50 }, t0, t1), t0, t1);
    expect(w.requests).toBeCloseTo(40.8, 9);
    expect(w.output_tokens).toBeCloseTo(1020, 9);
    expect(w.prompt_tokens).toBeNull(); // the engine's points carry none
    expect(w.coverage).toBeCloseTo(1, 9);
  });

  it('a window inside one point takes its share; a window no point covers is left out', () => {
    const d: WorkloadWindowData = { host: 'h1', engine: 'tgi', model: 'm', instance: 'i', inside: undefined, firstInside: undefined, firstAfter: { timeMs: T0 + 10_000, intervalS: 10, counts: { requests: 30 } } };
    const w = seriesWork(d, T0 + 2000, T0 + 5000);
    expect(w.requests).toBeCloseTo(9, 9);
    expect(w.coverage).toBeCloseTo(1, 9);
    expect(windowWork([{ ...d, firstAfter: undefined }], T0, T0 + 1000)).toEqual({ requests: null, prompt_tokens: null, output_tokens: null, served: [] });
  });

  it('sums engines and models; a count no engine has stays null; half covered is coverage 0.5', () => {
    const t0 = T0;
    const t1 = T0 + 10_000;
    const a = steady({ requests: 1, output_tokens: 10 }, t0, t1);
    const b = steady({ requests: 3 }, t0, t1, { engine: 'triton', model: 'densenet', instance: '127.0.0.1:8002' });
    const half: WorkloadWindowData = { ...steady({ requests: 2 }, t0, t0 + 5000, { model: 'small' }), firstAfter: undefined };
    const w = windowWork([a, b, half], t0, t1);
    expect(w.requests).toBeCloseTo(10 + 30 + 10, 9);
    expect(w.output_tokens).toBeCloseTo(100, 9);
    expect(w.prompt_tokens).toBeNull();
    expect(w.served.map((s) => [s.engine, s.model_name, Number(s.coverage.toFixed(3))])).toEqual([
      ['triton', 'densenet', 1],
      ['vllm', 'llama', 1],
      ['vllm', 'small', 0.5],
    ]);
  });

  it('energy per unit: J over the count, null without energy or work', () => {
    expect(energyPer(800, 40)).toBe(20);
    expect(energyPer(800, 1000)).toBe(0.8);
    expect(energyPer(null, 10)).toBeNull();
    expect(energyPer(800, 0)).toBeNull();
    expect(energyPer(800, null)).toBeNull();
    const r = workloadReport('h1', T0, T0 + 20_000, { energyJ: 800, coverage: 1 }, windowWork([steady({ requests: 2, output_tokens: 50 }, T0, T0 + 20_000)], T0, T0 + 20_000));
    expect(r).toMatchObject({ host: 'h1', duration_s: 20, energy_j: 800, requests: 40, output_tokens: 1000, energy_per_request_j: 20, energy_per_output_token_j: 0.8 });
    expect(r.served[0]).toMatchObject({ engine: 'vllm', energy_per_request_j: 20, energy_per_output_token_j: 0.8 });
  });
});

describe('a range’s report', () => {
  it('a server that started halfway through the range: its energy per token from the energy of its own intervals, not the whole range’s', () => {
    const t0 = T0;
    const t1 = T0 + 60_000;
    // the host draws 40 W all minute; the server answered for its last 30 s, 50 tokens and 40 J a second
    const late = steady({ output_tokens: 50, requests: 2 }, t0 + 30_000, t1);
    const withEnergy: WorkloadWindowData = {
      ...late,
      inside: { ...(late.inside as NonNullable<WorkloadWindowData['inside']>), energyJ: 40 * (late.inside?.intervalS as number) },
      firstInside: { ...(late.firstInside as NonNullable<WorkloadWindowData['firstInside']>), energyJ: 40 },
      firstAfter: { ...(late.firstAfter as NonNullable<WorkloadWindowData['firstAfter']>), energyJ: 40 },
    };
    const report = workloadReport('h1', t0, t1, { energyJ: 2400, coverage: 1 }, windowWork([withEnergy], t0, t1));
    expect(report.served[0]?.coverage).toBeCloseTo(0.5, 9);
    expect(report.served[0]?.energy_j).toBeCloseTo(1200, 6);
    expect(report.energy_per_output_token_j).toBeCloseTo(0.8, 9);
    expect(report.energy_per_request_j).toBeCloseTo(20, 9);
    // points without the host's energy: the whole range's energy (what older collectors give)
    expect(workloadReport('h1', t0, t1, { energyJ: 2400, coverage: 1 }, windowWork([late], t0, t1)).energy_per_output_token_j).toBeCloseTo(1.6, 9);
  });
});

describe('a run’s work and scores', () => {
  const served = (requests: number | null, output: number | null) => ({ ...emptyRun({ run_id: 'r', model: 'm', platform: 'p', started_at_ms: T0, kind: 'inference', hosts: ['h1'] }), status: 'completed' as const, duration_s: 20, energy_j: 800, requests, output_tokens: output });

  it('energy per request and per output token from the scored energy; null with the reason when there is no work', () => {
    expect(energyPerWork(800, 40, 'requests')).toEqual({ value: 20 });
    expect(energyPerWork(800, null, 'output tokens').reason).toMatch(/no output tokens: no serving engine's workload points cover the run \(WATTSCOPE_SERVING_METRICS_URL/);
    expect(energyPerWork(800, 0, 'requests').reason).toBe('no requests in the run');
    expect(energyPerWork(null, 40, 'requests').reason).toMatch(/no energy/);
    const s = summaryOf(served(40, 1000), ctx);
    expect(s).toMatchObject({ requests: 40, output_tokens: 1000, energy_per_request_j: 20, energy_per_output_token_j: 0.8 });
  });

  it('a server’s requests are its inferences where the client gives none: energy per inference and the composite score follow', () => {
    expect(inferencesOf({ inferences: null, requests: 40 })).toBe(40);
    expect(inferencesOf({ inferences: 10, requests: 40 })).toBe(10);
    expect(inferencesFrom({ inferences: null, requests: 40 })).toBe('requests');
    expect(inferencesFrom({ inferences: null, requests: null })).toBeNull();
    const s = summaryOf({ ...served(40, 1000), accuracy: 0.8 }, ctx);
    // 800 J / 40 = 20 J = 5,555.6 µWh per inference; 0.8² / 5.5556 mWh = 0.1152
    expect(s.inferences).toBeNull();
    expect(s.inferences_from).toBe('requests');
    expect(s.energy_per_inference_uwh).toBeCloseTo(20 / 3.6e-3, 6);
    expect(s.composite_score).toBeCloseTo(0.64 / (20 / 3.6e-3 / 1000), 9);
    expect(summaryOf({ ...served(40, 1000), inferences: 100 }, ctx).energy_per_inference_uwh).toBeCloseTo(8 / 3.6e-3, 6);
  });
});

describe('the serving endpoints a stop waits for (api/domain/arrival.ts)', () => {
  const record = (startedAtMs: number | null): HostRecord => ({
    host: 'srv',
    platform: 'p',
    cpuModel: null,
    gpus: [],
    sources: [],
    sampleHz: 10,
    reportIntervalS: 5,
    flushIntervalS: 5,
    version: null,
    clockOffsetS: 0,
    clockOffsetErrorS: null,
    startedAtMs,
    workload: [{ instance: '127.0.0.1:8000', engine: 'vllm' }],
    timeMs: startedAtMs ?? T0,
  });
  const since = T0 - 60_000;
  const wrote = new Map([[`srv\u0000${workloadSource('127.0.0.1:8000')}`, T0 - 1000]]);

  it('one that wrote in the minute before the run', () => {
    expect(expectedWorkload([record(T0 - 3_600_000)], wrote, since)).toEqual([{ host: 'srv', source: 'workload/127.0.0.1:8000', domain: '', method: 'workload' }]);
  });

  it('not one that has not written for a minute (its server stopped): a stop would wait for nothing', () => {
    expect(expectedWorkload([record(T0 - 3_600_000)], new Map(), since)).toEqual([]);
  });

  it('every one of a collector started since: a run begun as it starts waits for its first points', () => {
    expect(expectedWorkload([record(T0 - 2000)], new Map(), since)).toHaveLength(1);
    expect(expectedWorkload([record(null)], new Map(), since)).toEqual([]);
  });
});
