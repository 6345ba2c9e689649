/**
 * The API's periodic jobs and live stream, broken on purpose: partial runs measured again on a
 * backoff and finally left partial with their reason; the rollup watermark at a real time; job
 * failures counted; the live stream bounded in viewers and in what a slow viewer may hold.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { manually, startJobs } from '../../../api/jobs/index.js';
import { MAX_RECOMPUTE_ATTEMPTS, attemptDueAt, recomputePlan, scheduledAttempt } from '../../../api/domain/recompute.js';
import type { Run, RunSummary } from '../../../api/domain/run-record.js';
import { buildApp } from '../../../api/app.js';
import { loadConfig } from '../../../common/config.js';
import { startInfluxd } from '../../../common/influxd.js';
import { hostRecordSample } from '../../../common/host-record.js';
import { InfluxStore, ident, iql } from '../../../common/storage/index.js';
import { liveServer, type LiveServer } from '../../clients/server.js';
import { waitFor } from '../../helpers.js';
import { metricValue } from '../../collector/power-points.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

const partialRun = (over: Partial<Run>): Pick<Run, 'kind' | 'coverage' | 'ended_at_ms' | 'recompute_attempts' | 'partial_final'> => ({ kind: 'inference', coverage: 0.5, ended_at_ms: 0, recompute_attempts: null, partial_final: null, ...over });

describe('recomputation schedule (pure)', () => {
  it('measures a partial run again 1, 2, 4 … minutes after its end, the 12th time for the last time', () => {
    const min = 60_000;
    expect(recomputePlan(partialRun({}), 59_000)).toEqual({ action: 'wait', attempt: 0, dueAtMs: min });
    expect(recomputePlan(partialRun({}), min)).toEqual({ action: 'recompute', attempt: 1, dueAtMs: min });
    expect(recomputePlan(partialRun({ recompute_attempts: 1 }), min)).toEqual({ action: 'wait', attempt: 0, dueAtMs: 2 * min });
    expect(recomputePlan(partialRun({ recompute_attempts: 3 }), 8 * min)).toEqual({ action: 'recompute', attempt: 4, dueAtMs: 8 * min });
    const lastDue = min * 2 ** (MAX_RECOMPUTE_ATTEMPTS - 1);
    expect(lastDue / 3_600_000).toBeCloseTo(34.13, 2);
    expect(recomputePlan(partialRun({ recompute_attempts: MAX_RECOMPUTE_ATTEMPTS - 1 }), lastDue)).toEqual({ action: 'last', attempt: MAX_RECOMPUTE_ATTEMPTS, dueAtMs: lastDue });
    expect(recomputePlan(partialRun({ recompute_attempts: MAX_RECOMPUTE_ATTEMPTS }), 10 * lastDue).action).toBe('wait');
    // nothing to do for a whole run or an imported one
    expect(recomputePlan(partialRun({ coverage: 1 }), 10 * lastDue).action).toBe('wait');
    expect(recomputePlan(partialRun({ kind: 'imported' }), 10 * lastDue).action).toBe('wait');
  });

  it('records the schedule’s slot, not a count plus one: replicas measuring in one slot count it once, a missed slot is skipped', () => {
    const min = 60_000;
    // 10 min after the end, with 1 attempt stored (the API was down): the 4th slot (1, 2, 4, 8 min), once
    expect(scheduledAttempt(0, 10 * min)).toBe(4);
    expect(recomputePlan(partialRun({ recompute_attempts: 1 }), 10 * min)).toEqual({ action: 'recompute', attempt: 4, dueAtMs: 8 * min });
    // a replica that reads the run after another wrote slot 4 has nothing to do until 16 min
    expect(recomputePlan(partialRun({ recompute_attempts: 4 }), 10 * min)).toEqual({ action: 'wait', attempt: 0, dueAtMs: 16 * min });
    // a replica whose clock is ahead wrote the next slot: the others wait, never count it back
    expect(recomputePlan(partialRun({ recompute_attempts: 5 }), 15 * min).action).toBe('wait');
    // due at whole minutes: replicas reading the clock ms apart in one minute find the same slot
    expect(attemptDueAt(1_234, 1)).toBe(2 * min);
    expect(scheduledAttempt(1_234, 2 * min - 1)).toBe(0);
    expect(scheduledAttempt(1_234, 2 * min)).toBe(1);
    expect(scheduledAttempt(1_234, 2 * min + 59_999)).toBe(1);
    // a late write from an older slot leaves the count behind: measured again, to the schedule's slot
    const lastDue = min * 2 ** (MAX_RECOMPUTE_ATTEMPTS - 1);
    expect(recomputePlan(partialRun({ recompute_attempts: MAX_RECOMPUTE_ATTEMPTS - 1, partial_final: 'why' }), lastDue + min)).toEqual({ action: 'last', attempt: MAX_RECOMPUTE_ATTEMPTS, dueAtMs: lastDue });
    expect(recomputePlan(partialRun({ recompute_attempts: MAX_RECOMPUTE_ATTEMPTS, partial_final: 'why' }), 10 * lastDue).action).toBe('wait');
  });
});

describe('jobs (API, the test’s clock)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await apiHarness('jobs');
  });
  afterAll(async () => h.close());

  it('measures a partial run again on its schedule, picks up late points, and finally leaves it partial with its reason', async () => {
    const base = Date.UTC(2026, 7, 1, 0, 0, 0);
    const record = hostRecordSample({ host: 'j1', platform: 'H100', cpuModel: null, gpus: [], sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true }, { id: 'nvml/1', domain: 'gpu', method: 'counter', in_total: true }], sampleHz: 10, reportIntervalS: 1, flushIntervalS: 5, version: '0.1.0', clockOffsetS: 0, clockOffsetErrorS: 0.1, startedAtMs: base - 3_600_000, timeMs: base - 60_000 });
    // GPU 0 reports; GPU 1's first half arrives late, its second half never
    await h.store.write([record, ...powerPoints('j1', 'nvml/0', base, 120, () => 100)]);
    h.clock.now = base + 10_000;
    const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'late', hosts: ['j1'] } })).json<{ run_id: string }>().run_id;
    h.clock.now = base + 70_000;
    const stopped = (await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: {} })).json<RunSummary>();
    expect(stopped.partial_sources).toEqual([{ host: 'j1', source: 'nvml/1', coverage: 0 }]);
    const end = base + 70_000;
    const jobs = startJobs(h.app.jobs, { scheduler: manually });
    const tick = async (at: number) => {
      h.clock.now = at;
      await jobs[1]?.execute();
      return (await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary & { recompute_attempts?: number }>();
    };
    try {
      const before = await tick(end + 30_000); // not due yet: a minute after the end, at the next whole minute
      expect(before.coverage).toBe(0);
      await h.store.write(powerPoints('j1', 'nvml/1', base + 10_000, 30, () => 100));
      // a minute after the end is 01:10; the job measures at the next whole minute, 02:00
      expect(attemptDueAt(end, 1)).toBe(base + 3 * 60_000);
      expect((await tick(end + 60_000)).coverage).toBe(0);
      const first = await tick(attemptDueAt(end, 1));
      expect(first.partial_sources).toEqual([{ host: 'j1', source: 'nvml/1', coverage: 0.5 }]);
      expect(first.partial_final).toBeNull();
      expect(first.energy_j).toBeCloseTo(100 * 60 + 100 * 30, 6);
      // the remaining attempts, each when due; the last makes the partial state final
      for (let k = 2; k <= MAX_RECOMPUTE_ATTEMPTS; k++) await tick(attemptDueAt(end, k));
      const final = await tick(end + 60_000 * 2 ** MAX_RECOMPUTE_ATTEMPTS);
      expect(final.partial).toBe(true);
      expect(final.partial_final).toMatch(/^the last of its 12 scheduled measurements, 34 h after its end, still finds it partial: j1\/nvml\/1 at 50\.0 %$/);
      // and it is left alone from then on, even if points arrive
      await h.store.write(powerPoints('j1', 'nvml/1', base + 40_000, 30, () => 100));
      const after = await tick(end + 60_000 * 2 ** (MAX_RECOMPUTE_ATTEMPTS + 2));
      expect(after.coverage).toBe(final.coverage);
    } finally {
      for (const j of jobs) await j.stop();
    }
  });

  it('writes the rollup watermark at its own value as its time (the same point from every replica), not at time 0 (which a bucket with a retention period refuses)', async () => {
    const base = Date.UTC(2026, 7, 2, 0, 0, 0);
    await h.store.write(powerPoints('wm', 'nvml/0', base, 1800, () => 10));
    const now = base + 3 * 3_600_000;
    expect(await h.app.jobs.rollup.advance(now)).toBeGreaterThan(0);
    const [row] = await h.store.rows(iql`SELECT last(${ident('watermark_ms')}) AS w FROM ${ident('wattscope_state')}`);
    expect(row?.time).toBe(row?.w);
    expect(row?.w).toBeGreaterThan(Date.UTC(2026, 7, 1, 0, 0, 0));
    expect(await h.app.jobs.rollup.watermark()).toBe(row?.w);
  });
});

describe('job failures', () => {
  it('counts them in /metrics and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-jobs-'));
    const server = await startInfluxd({ bin: inject('influxdBin'), dir });
    try {
      const store = await InfluxStore.open({ url: server.url, org: '', db: 'jobs', timeoutMs: 2000 });
      const app = await buildApp({ config: loadConfig({ HOME: '/nonexistent' }), store });
      const jobs = startJobs(app.jobs, { metrics: app.metrics, scheduler: manually });
      await server.stop();
      for (const job of jobs) await job.execute();
      const text = (await app.fastify.inject('/metrics')).body;
      for (const job of ['abandon', 'recompute', 'rollup']) expect(metricValue(text, 'wattscope_api_job_failures_total', { job }), job).toBe(1);
      for (const job of jobs) await job.stop();
      await app.fastify.close();
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a dropped database', () => {
  it('is created again by the API’s next write or read: no 503 until a restart', async () => {
    const h = await apiHarness('dropped');
    try {
      await h.store.query(iql`DROP DATABASE ${ident(h.store.db)}`, { db: false });
      const listed = await h.app.fastify.inject('/api/runs');
      expect(listed.statusCode).toBe(200);
      expect(listed.json<{ runs: unknown[] }>().runs).toEqual([]);
      await h.store.query(iql`DROP DATABASE ${ident(h.store.db)}`, { db: false });
      const started = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'after-drop', hosts: ['d1'] } });
      expect(started.statusCode).toBe(201);
      const id = started.json<{ run_id: string }>().run_id;
      expect((await h.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>().model).toBe('after-drop');
    } finally {
      await h.close();
    }
  });
});

describe('live stream limits', () => {
  let server: LiveServer;
  beforeAll(async () => {
    // a small cap, as on a shared host whose API should not hold many sockets open
    server = await liveServer('live_limits', { WATTSCOPE_LIVE_MAX_VIEWERS: '2' });
  });
  afterAll(async () => server.close());

  it('refuses a viewer past the cap with 503 and Retry-After, and takes one again once a place is free', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const first = await fetch(`${server.url}/api/live/stream`, { signal: a.signal });
    const second = await fetch(`${server.url}/api/live/stream`, { signal: b.signal });
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await fetch(`${server.url}/api/live/stream`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('10');
    expect(((await third.json()) as { message: string }).message).toMatch(/WATTSCOPE_LIVE_MAX_VIEWERS/);
    a.abort();
    await waitFor(async () => server.app.hub.viewerCount === 1, 5000, 'the first viewer to be gone');
    const again = new AbortController();
    expect((await fetch(`${server.url}/api/live/stream`, { signal: again.signal })).status).toBe(200);
    b.abort();
    again.abort();
    await waitFor(async () => server.app.hub.viewerCount === 0, 5000, 'every viewer to be gone');
  });

  it('sends a viewer only its host’s points when it asks, and cuts off one that does not read', async () => {
    const url = new URL(`${server.url}/api/live/stream?host=only-me`);
    const filtered = new AbortController();
    const res = await fetch(url, { signal: filtered.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // a viewer that never reads: a raw socket that sends its request and stops there
    const slow = connect(Number(url.port), url.hostname);
    slow.write(`GET /api/live/stream HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    slow.pause();
    slow.on('error', () => undefined);
    await waitFor(async () => server.app.hub.viewerCount === 2, 5000, 'both viewers');
    // lots of points, most from other hosts: a megabyte and more per second of the stream
    const dropped = async () => metricValue((await server.app.fastify.inject('/metrics')).body, 'wattscope_api_live_viewers_dropped_total') ?? 0;
    for (let round = 0; round < 10 && (await dropped()) === 0; round++) {
      const now = Date.now();
      await server.store.write([
        { measurement: 'power', tags: { host: 'only-me', source: 'nvml/0', domain: 'gpu', method: 'counter', in_total: 'true' }, fields: { energy_j: 7, power_w: 7, interval_s: 1 }, timeMs: now },
        ...Array.from({ length: 20_000 }, (_, i) => ({ measurement: 'power' as const, tags: { host: `other-${i % 50}`, source: `hwmon/chip-${i}/power1`, domain: 'other', method: 'sampled', in_total: 'false' }, fields: { energy_j: 1, power_w: 1, interval_s: 1 }, timeMs: now - (i % 9) })),
      ]);
      await new Promise((r) => setTimeout(r, 1200));
    }
    // the slow viewer was cut off (its socket held more than VIEWER_BUFFER_BYTES); the other stays
    expect(await dropped()).toBe(1);
    expect(server.app.hub.viewerCount).toBe(1);
    let text = '';
    const deadline = Date.now() + 3000;
    while (!text.includes('only-me') && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    const events = [...text.matchAll(/event: power\ndata: (.*)\n/g)].flatMap((m) => JSON.parse(m[1] as string) as Array<{ host: string }>);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((p) => p.host === 'only-me')).toBe(true);
    filtered.abort();
    slow.destroy();
  }, 60_000);
});
