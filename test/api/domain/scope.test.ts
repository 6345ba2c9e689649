/**
 * A run counts the devices it used: its GPUs (as CUDA names them, mapped through the host
 * record) and its hosts' other in-total sources; the other GPUs are listed apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { inScope, resolveScope } from '../../../api/domain/scope.js';
import { hostRecordSample, type HostRecord } from '../../../common/host-record.js';
import { scopeFromEnv, visibleDevices } from '../../../common/visible-devices.js';
import { apiHarness, hostRecord, powerPoints, type Harness } from '../harness.js';

const UUID0 = 'GPU-5d3a0b4c-1f2e-4a6b-9c8d-7e6f5a4b3c2d';
const UUID1 = 'GPU-8e7f6a5b-4c3d-2e1f-0a9b-8c7d6e5f4a3b';

function record(host: string, timeMs: number): HostRecord {
  return hostRecord(host, {
    platform: '2xH100',
    gpus: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: UUID0 }, { index: 1, name: 'NVIDIA H100 80GB HBM3', uuid: UUID1 }],
    sources: [
      { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 },
      { id: 'nvml/1', domain: 'gpu', method: 'counter', in_total: true, gpu: 1 },
      { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true },
    ],
    startedAtMs: timeMs - 3_600_000,
    timeMs,
  });
}

describe('GPU scope (pure)', () => {
  it('reads CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES as CUDA does', () => {
    expect(visibleDevices('1')).toEqual(['1']);
    expect(visibleDevices('0, 2')).toEqual(['0', '2']);
    expect(visibleDevices(`${UUID1},1`)).toEqual([UUID1, '1']);
    expect(visibleDevices('1,-1,2')).toEqual(['1']); // CUDA stops at the first invalid entry
    expect(visibleDevices('')).toEqual([]);
    expect(visibleDevices('all')).toBeNull();
    expect(visibleDevices('none')).toEqual([]);
    expect(visibleDevices(undefined)).toBeUndefined();
    expect(scopeFromEnv({ NVIDIA_VISIBLE_DEVICES: '0', CUDA_VISIBLE_DEVICES: '1' })).toEqual({ gpus: ['1'], from: 'CUDA_VISIBLE_DEVICES' });
    expect(scopeFromEnv({ NVIDIA_VISIBLE_DEVICES: 'all' })).toEqual({ gpus: null, from: 'NVIDIA_VISIBLE_DEVICES' });
    expect(scopeFromEnv({})).toBeUndefined();
  });

  it('maps indices, UUIDs and UUID prefixes to the collector’s GPUs, per host', () => {
    const records = new Map([['a', record('a', 0)]]);
    expect(resolveScope(['1'], ['a'], records)).toEqual({ indices: new Map([['a', new Set([1])]]), unresolved: [] });
    expect(resolveScope([UUID1.slice(0, 9)], ['a'], records).indices.get('a')).toEqual(new Set([1]));
    expect(resolveScope(['GPU-'], ['a'], records).unresolved).toEqual(['GPU-']); // two match: ambiguous
    expect(resolveScope(['7'], ['a'], records).unresolved).toEqual(['7']);
    expect(resolveScope(null, ['a'], records).indices.size).toBe(0);
    const one = resolveScope(['1'], ['a'], records);
    expect(inScope('a', 'nvml/0', 'gpu', one, records)).toBe(false);
    expect(inScope('a', 'nvml/1', 'gpu', one, records)).toBe(true);
    expect(inScope('a', 'rapl/package-0', 'cpu', one, records)).toBe(true);
    // a host without a record: per-GPU sources by their id
    expect(inScope('b', 'dcgm/1', 'gpu', resolveScope(['1'], ['b'], new Map()), new Map())).toBe(true);
    expect(inScope('b', 'dcgm/0', 'gpu', resolveScope(['1'], ['b'], new Map()), new Map())).toBe(false);
  });
});

describe('runs scoped to GPUs (API)', () => {
  let h: Harness;
  const base = Date.UTC(2026, 8, 1, 0, 0, 0);
  beforeAll(async () => {
    h = await apiHarness('scope');
    await h.store.write([
      hostRecordSample(record('node8', base - 60_000)),
      ...powerPoints('node8', 'nvml/0', base, 120, () => 300),
      ...powerPoints('node8', 'nvml/1', base, 120, () => 100),
      ...powerPoints('node8', 'rapl/package-0', base, 120, () => 50, true, 'cpu'),
      ...Array.from({ length: 120 }, (_, i) => [0, 1].map((gpu) => ({ measurement: 'gpu' as const, tags: { host: 'node8', gpu: String(gpu), gpu_name: 'H100' }, fields: { util_pct: gpu === 0 ? 90 : 20 }, timeMs: base + (i + 1) * 1000 }))).flat(),
    ]);
  });
  afterAll(async () => h.close());

  async function run(start: object): Promise<RunSummary> {
    h.clock.now = base + 20_000;
    const r = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'scoped', hosts: ['node8'], ...start } });
    expect(r.statusCode, r.body).toBe(201);
    h.clock.now = base + 80_000;
    return (await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${r.json<{ run_id: string }>().run_id}/stop`, payload: { inferences: 1000, accuracy: 0.8 } })).json<RunSummary>();
  }

  it('counts GPU 1 and the CPU, not GPU 0, for CUDA_VISIBLE_DEVICES=1; the host’s energy beside', async () => {
    const s = await run({ gpus: ['1'], gpus_from: 'CUDA_VISIBLE_DEVICES' });
    expect(s.energy_j).toBeCloseTo((100 + 50) * 60, 6);
    expect(s.energy_host_j).toBeCloseTo((300 + 100 + 50) * 60, 6);
    expect(s.sources.map((x) => `${x.source} ${x.in_run}`)).toEqual(['nvml/0 false', 'nvml/1 true', 'rapl/package-0 true']);
    expect(s).toMatchObject({ gpus: ['1'], gpus_from: 'CUDA_VISIBLE_DEVICES', partial: false });
    expect(s.avg_gpu_power_w).toBeCloseTo(100, 6);
    expect(s.avg_gpu_util_pct).toBeCloseTo(20, 6);
    // the scores use the run's devices
    expect(s.energy_per_inference_uwh).toBeCloseTo((150 * 60) / 1000 / 3.6e-3, 6);
  });

  it('takes UUIDs and UUID prefixes, an empty scope (no GPU) and no scope (every GPU)', async () => {
    expect((await run({ gpus: [UUID0] })).energy_j).toBeCloseTo((300 + 50) * 60, 6);
    expect((await run({ gpus: [UUID1.slice(0, 12)] })).energy_j).toBeCloseTo((100 + 50) * 60, 6);
    const none = await run({ gpus: [] });
    expect(none.energy_j).toBeCloseTo(50 * 60, 6);
    expect(none.avg_gpu_util_pct).toBeNull();
    const all = await run({});
    expect(all.energy_j).toBeCloseTo(450 * 60, 6);
    expect(all.gpus).toBeNull();
    expect(all.sources.every((x) => x.in_run)).toBe(true);
  });

  it('refuses a GPU its hosts do not have, naming the field and what they have', async () => {
    h.clock.now = base + 20_000;
    const r = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'scoped', hosts: ['node8'], gpus: ['7'] } });
    expect(r.statusCode).toBe(400);
    expect(r.json<{ field: string; message: string }>()).toMatchObject({ field: 'gpus' });
    expect(r.json<{ message: string }>().message).toMatch(/7 is not a GPU of the run's hosts .*node8: 0 GPU-5d3a/);
    const bad = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'scoped', hosts: ['node8'], gpus: ['gpu one'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ field: string }>().field).toBe('gpus/0');
  });
});
