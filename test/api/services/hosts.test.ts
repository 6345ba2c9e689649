/**
 * What the API learns from the collectors' host records: a run's platform, the sources it must
 * hear from (a silent one makes the run partial and is named), the hosts' clock offsets; the
 * stop's wait for the last points, in real time; correcting the platform of stored runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { arrivalBudgetMs, platformOf, stillMissing, expectedSources } from '../../../api/domain/arrival.js';
import { hostRecordSample, type HostRecord } from '../../../common/host-record.js';
import { ident, iql, str } from '../../../common/storage/index.js';
import { liveServer, type LiveServer } from '../../clients/server.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

function record(host: string, over: Partial<HostRecord> = {}): HostRecord {
  return {
    host,
    platform: 'H100',
    cpuModel: 'AMD EPYC 9654 96-Core Processor',
    gpus: [],
    sources: [
      { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 },
      { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true },
      { id: 'rapl/core-0', domain: 'cpu', method: 'counter', in_total: false },
    ],
    sampleHz: 10,
    reportIntervalS: 1,
    flushIntervalS: 5,
    version: '0.1.0',
    clockOffsetS: 0.02,
    clockOffsetErrorS: 0.05,
    startedAtMs: 0,
    timeMs: 0,
    ...over,
  };
}

describe('arrival (pure)', () => {
  it('expects the in-total sources the records list, and waits per host for its flush and report intervals plus a margin', () => {
    const a = record('a', { timeMs: 1 });
    const b = record('b', { flushIntervalS: 1, clockOffsetS: -3, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] });
    expect(expectedSources([a, b]).map((e) => `${e.host} ${e.source}`)).toEqual(['a nvml/0', 'a rapl/package-0', 'b nvml/0']);
    const records = new Map([['a', a], ['b', b]]);
    expect(arrivalBudgetMs(['a'], records, 30_000)).toBe(8000);
    // b's clock is 3 s behind: its points covering the API's "now" come 3 s later
    expect(arrivalBudgetMs(['b'], records, 30_000, 0)).toBe((1 + 1 + 3) * 1000 + 2000);
    expect(arrivalBudgetMs(['a', 'b'], records, 6000)).toBe(6000);
    // a host with no record: the collector's default intervals (5 s, 1 s)
    expect(arrivalBudgetMs(['c'], records, 30_000)).toBe(8000);
    const last = new Map([['a\u0000nvml/0', 1000], ['a\u0000rapl/package-0', 999]]);
    expect(stillMissing(expectedSources([a]), last, 1000).map((e) => e.source)).toEqual(['rapl/package-0']);
  });

  it('files a run under its hosts’ platforms, several in a stable order', () => {
    const records = new Map([['a', record('a', { platform: 'H100' })], ['b', record('b', { platform: 'A100-40G' })], ['c', record('c', { platform: 'H100' })]]);
    expect(platformOf(['a'], records)).toBe('H100');
    expect(platformOf(['a', 'b', 'c'], records)).toBe('A100-40G+H100');
    expect(platformOf(['b', 'a'], records)).toBe('A100-40G+H100');
    expect(platformOf(['x'], records)).toBeUndefined();
  });
});

describe('runs and host records (API, the test’s clock)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await apiHarness('hosts');
  });
  afterAll(async () => h.close());
  const post = (url: string, payload?: unknown) => h.app.fastify.inject({ method: 'POST', url, payload: payload as object });

  it('takes the platform from the hosts’ collectors, then the API’s setting, then `unknown`; baselines alike', async () => {
    const base = Date.UTC(2026, 6, 1, 0, 0, 0);
    h.clock.now = base;
    await h.store.write([hostRecordSample(record('p1', { platform: 'H100', timeMs: base - 60_000 })), hostRecordSample(record('p2', { platform: 'A100-40G', timeMs: base - 60_000 }))]);
    const one = await post('/api/runs', { model: 'm', hosts: ['p1'] });
    const two = await post('/api/runs', { model: 'm', hosts: ['p2', 'p1'] });
    const none = await post('/api/runs', { model: 'm', hosts: ['no-record'] });
    const named = await post('/api/runs', { model: 'm', hosts: ['p1'], platform: 'my-label' });
    const platform = async (r: { json<T>(): T }) => (await h.app.fastify.inject(`/api/runs/${r.json<{ run_id: string }>().run_id}`)).json<RunSummary>().platform;
    expect(await platform(one)).toBe('H100');
    expect(await platform(two)).toBe('A100-40G+H100');
    expect(await platform(none)).toBe('unknown');
    expect(await platform(named)).toBe('my-label');
    // the API's own WATTSCOPE_PLATFORM is what is tested here: a deployment that labels every
    // run itself; without it (as users run it) the platforms above come from the host records
    const withSetting = await apiHarness('hosts_setting', { WATTSCOPE_PLATFORM: 'api-label' });
    try {
      // an API that names a platform files only runs whose hosts say none under it
      await withSetting.store.write([hostRecordSample(record('p1', { platform: 'H100', timeMs: withSetting.clock.now - 60_000 }))]);
      const a = await withSetting.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', hosts: ['no-record'] } });
      const b = await withSetting.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'm', hosts: ['p1'] } });
      expect((await withSetting.app.fastify.inject(`/api/runs/${a.json<{ run_id: string }>().run_id}`)).json<RunSummary>().platform).toBe('api-label');
      expect((await withSetting.app.fastify.inject(`/api/runs/${b.json<{ run_id: string }>().run_id}`)).json<RunSummary>().platform).toBe('H100');
    } finally {
      await withSetting.close();
    }
    await h.store.write(powerPoints('p1', 'nvml/0', base - 30_000, 60, () => 100));
    const baseline = await post('/api/baselines', { host: 'p1', seconds: 10 });
    expect(baseline.statusCode).toBe(201);
    expect(baseline.json<RunSummary>().platform).toBe('H100');
  });

  it('makes a run partial when a source its host lists sent nothing, and names it', async () => {
    const base = Date.UTC(2026, 6, 2, 0, 0, 0);
    await h.store.write([hostRecordSample(record('s1', { timeMs: base - 60_000 })), ...powerPoints('s1', 'nvml/0', base, 120, () => 200)]);
    h.clock.now = base + 10_000;
    const started = await post('/api/runs', { model: 'm', hosts: ['s1'] });
    h.clock.now = base + 70_000;
    const s = (await post(`/api/runs/${started.json<{ run_id: string }>().run_id}/stop`, {})).json<RunSummary>();
    expect(s.partial).toBe(true);
    expect(s.coverage).toBe(0);
    expect(s.partial_sources).toEqual([{ host: 's1', source: 'rapl/package-0', coverage: 0 }]);
    // the energy that did arrive is there, and the silent source is listed with none
    expect(s.energy_j).toBeCloseTo(200 * 60, 6);
    expect(s.sources.map((x) => `${x.source} ${x.coverage}`)).toEqual(['nvml/0 1', 'rapl/package-0 0']);
  });

  it('shows the clock offset of a host that is off InfluxDB’s by more than 0.5 s', async () => {
    const base = Date.UTC(2026, 6, 3, 0, 0, 0);
    await h.store.write([
      hostRecordSample(record('c1', { clockOffsetS: -3.2, timeMs: base - 60_000, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] })),
      hostRecordSample(record('c2', { clockOffsetS: 0.3, timeMs: base - 60_000, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] })),
      ...powerPoints('c1', 'nvml/0', base, 60, () => 50),
      ...powerPoints('c2', 'nvml/0', base, 60, () => 50),
    ]);
    h.clock.now = base + 10_000;
    const started = await post('/api/runs', { model: 'm', hosts: ['c1', 'c2'] });
    h.clock.now = base + 20_000;
    const s = (await post(`/api/runs/${started.json<{ run_id: string }>().run_id}/stop`, {})).json<RunSummary>();
    expect(s.clock_offsets).toEqual({ c1: -3.2 });
    expect(s.partial).toBe(false);
  });

  it('corrects the platform of a stored run: written anew under the new tag, the old point deleted', async () => {
    const base = Date.UTC(2026, 6, 4, 0, 0, 0);
    await h.store.write(powerPoints('r1', 'nvml/0', base, 60, () => 50));
    h.clock.now = base + 10_000;
    const id = (await post('/api/runs', { model: 'retag', hosts: ['r1'], labels: { team: 'x' } })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 20_000;
    const stopped = (await post(`/api/runs/${id}/stop`, { inferences: 100, accuracy: 0.5 })).json<RunSummary>();
    expect(stopped.platform).toBe('unknown');
    const patched = await h.app.fastify.inject({ method: 'PATCH', url: `/api/runs/${id}`, payload: { platform: 'A100-40G' } });
    expect(patched.statusCode).toBe(200);
    const after = patched.json<RunSummary>();
    expect(after).toMatchObject({ run_id: id, platform: 'A100-40G', status: 'completed', inferences: 100, accuracy: 0.5, labels: { team: 'x' } });
    expect(after.energy_j).toBe(stopped.energy_j);
    expect(after.composite_score).toBe(stopped.composite_score);
    // one point in InfluxDB, under the new tag
    const rows = await h.store.rows(iql`SELECT ${ident('status')}, ${ident('platform')} FROM ${ident('run')} WHERE ${ident('run_id')} = ${str(id)}`);
    expect(rows.map((r) => r.platform)).toEqual(['A100-40G']);
    const listed = (await h.app.fastify.inject('/api/runs?platform=unknown&model=retag')).json<{ runs: RunSummary[] }>();
    expect(listed.runs).toEqual([]);
    expect((await h.app.fastify.inject('/api/runs?platform=A100-40G&model=retag')).json<{ runs: RunSummary[] }>().runs.map((r) => r.run_id)).toEqual([id]);
    const bad = await h.app.fastify.inject({ method: 'PATCH', url: `/api/runs/${id}`, payload: { platform: 'a\nb' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ field: string }>().field).toBe('platform');
  });
});

describe('the stop waits for the collectors’ last points, in real time', () => {
  let server: LiveServer;
  beforeAll(async () => {
    server = await liveServer('hosts_wait');
  });
  afterAll(async () => server.close());

  it('answers once every expected source has a point past the end, with final figures', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    await server.store.write([
      hostRecordSample(record('w1', { flushIntervalS: 5, timeMs: now - 30_000, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] })),
      ...powerPoints('w1', 'nvml/0', now - 30_000, 31, () => 100),
    ]);
    const id = ((await (await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'w', hosts: ['w1'] }) })).json()) as { run_id: string }).run_id;
    await new Promise((r) => setTimeout(r, 1500));
    // the collector's next flush: 2 s after the stop is asked for
    setTimeout(() => void server.store.write(powerPoints('w1', 'nvml/0', now + 1000, 20, () => 100)), 2000);
    const t0 = performance.now();
    const s = (await (await fetch(`${server.url}/api/runs/${id}/stop`, { method: 'POST' })).json()) as RunSummary;
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(1800);
    expect(waited).toBeLessThan(5000);
    expect(s.partial).toBe(false);
    expect(s.coverage).toBeCloseTo(1, 9);
    expect(Math.abs((s.energy_j as number) - 100 * (s.duration_s as number)) / (100 * (s.duration_s as number))).toBeLessThan(1e-6);
  });

  it('comes back partial, naming the host and source, when a collector is really silent — after its flush interval and a margin, no longer', async () => {
    const now = Date.now();
    await server.store.write([
      hostRecordSample(record('alive', { flushIntervalS: 1, timeMs: now - 30_000, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] })),
      hostRecordSample(record('silent', { flushIntervalS: 1, timeMs: now - 30_000, sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }] })),
      ...powerPoints('alive', 'nvml/0', Math.floor(now / 1000) * 1000 - 30_000, 120, () => 100),
    ]);
    const id = ((await (await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'w', hosts: ['alive', 'silent'] }) })).json()) as { run_id: string }).run_id;
    const t0 = performance.now();
    const s = (await (await fetch(`${server.url}/api/runs/${id}/stop`, { method: 'POST' })).json()) as RunSummary;
    const waited = performance.now() - t0;
    // flush 1 s + report 1 s + margin 2 s
    expect(waited).toBeGreaterThan(3900);
    expect(waited).toBeLessThan(6000);
    expect(s.partial).toBe(true);
    expect(s.partial_sources).toEqual([{ host: 'silent', source: 'nvml/0', coverage: 0 }]);
    expect(s.platform).toBe('H100');
  });
});
