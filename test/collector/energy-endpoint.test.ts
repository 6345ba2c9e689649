/**
 * GET /energy (collector/energy-endpoint.ts over Agent.readNow, whose integration
 * test/collector/agent.test.ts checks): every channel read at the request, each one's energy since
 * the collector first read it, so that two answers give a window's energy exactly, between reports
 * or across them, for counters and sampled powers alike. On a clock the test drives.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../collector/agent.js';
import { energyAnswer, energyEndpoint, type EnergyAnswer } from '../../collector/energy-endpoint.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import { SourceError, type PowerChannel, type Source } from '../../collector/source.js';
import type { Sample } from '../../common/model.js';
import { recordingLogger } from './fixtures.js';

/** A counter at `watts` and a sampled power at `sampledW`, both on the test's clock. */
function machine(clock: { t: number }, watts = 40, sampledW = 25) {
  const channel = (c: Partial<PowerChannel> & Pick<PowerChannel, 'id' | 'method' | 'read'>): PowerChannel => ({ domain: 'cpu', reading: 'test', measures: { kind: 'device', key: c.id }, rank: 0, inTotal: true, ...c });
  let failing = false;
  const counter = channel({ id: 'rapl/package-0', method: 'counter', read: () => 1000 + (watts * clock.t) / 1000 });
  const sampled = channel({ id: 'nvml/0', method: 'sampled', domain: 'gpu', read: () => sampledW });
  const broken = channel({
    id: 'rapl/dram-0',
    method: 'counter',
    inTotal: false,
    read: () => {
      if (failing) throw new SourceError('permission denied');
      return 5;
    },
  });
  const source: Source = { name: 'test', channels: () => [counter, sampled, broken] };
  const out: Sample[] = [];
  const agent = new Agent({ sources: [source], hostTags: { host: 'h', platform: 'p' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => out.push(...s), metrics: new CollectorMetrics(), log: recordingLogger(), now: () => clock.t, wallNow: () => 1_800_000_000_000 + clock.t });
  return { agent, out, fail: () => void (failing = true) };
}

const energyOf = (a: EnergyAnswer, id: string) => a.sources.find((c) => c.source === id)?.energy_j as number;
const clocks = (clock: { t: number }) => ({ mono: () => clock.t, wall: () => 1_800_000_000_000 + clock.t });

describe('the answer of GET /energy', () => {
  it('a window between two answers is the energy of its time, exactly, whether or not reports fall inside it', () => {
    const clock = { t: 0 };
    const { agent } = machine(clock);
    agent.sample(0);
    clock.t = 250;
    const begin = energyAnswer(agent, 'h', { wallMs: 1_800_000_000_000, monoMs: 0 }, clocks(clock));
    // ticks and two reports inside the window
    for (const t of [300, 400, 1000, 1700, 2000]) {
      clock.t = t;
      agent.sample(t);
      if (t % 1000 === 0) agent.report();
    }
    clock.t = 2250;
    const end = energyAnswer(agent, 'h', { wallMs: 1_800_000_000_000, monoMs: 0 }, clocks(clock));
    expect(end.uptime_s - begin.uptime_s).toBe(2);
    expect(end.time_ms - begin.time_ms).toBe(2000);
    expect(energyOf(end, 'rapl/package-0') - energyOf(begin, 'rapl/package-0')).toBeCloseTo(80, 9);
    expect(energyOf(end, 'nvml/0') - energyOf(begin, 'nvml/0')).toBeCloseTo(50, 9);
  });

  it('a channel disabled for good (its reads need a person) is left out', () => {
    const clock = { t: 0 };
    const { agent, fail } = machine(clock);
    agent.sample(0);
    expect(energyAnswer(agent, 'h', { wallMs: 0, monoMs: 0 }, clocks(clock)).sources.map((c) => c.source)).toContain('rapl/dram-0');
    fail();
    clock.t = 100;
    expect(energyAnswer(agent, 'h', { wallMs: 0, monoMs: 0 }, clocks(clock)).sources.map((c) => c.source)).toEqual(['rapl/package-0', 'nvml/0']);
  });

  it('names the host, the wall and monotonic times, this collector’s start, and every channel as the host record does', () => {
    const clock = { t: 0 };
    const { agent } = machine(clock);
    agent.sample(0);
    clock.t = 1500.25;
    const a = energyAnswer(agent, 'lab-node', { wallMs: 1_799_999_990_000, monoMs: -8500 }, { mono: () => clock.t, wall: () => 1_800_000_001_500 });
    expect(a).toEqual({
      host: 'lab-node',
      time_ms: 1_800_000_001_500,
      uptime_s: 10.00025,
      started_ms: 1_799_999_990_000,
      sources: [
        { source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true, energy_j: expect.closeTo(60.01, 9) as number },
        { source: 'nvml/0', domain: 'gpu', method: 'sampled', in_total: true, energy_j: expect.closeTo(37.50625, 9) as number },
        { source: 'rapl/dram-0', domain: 'cpu', method: 'counter', in_total: false, energy_j: 0 },
      ],
    });
  });
});

describe('GET /energy', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('answers JSON that no cache keeps, HEAD without a body, and 405 to anything else', async () => {
    const clock = { t: 0 };
    const { agent } = machine(clock);
    server = createServer((req, res) => energyEndpoint(req, res, () => energyAnswer(agent, 'h', { wallMs: 0, monoMs: 0 })));
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/energy`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(((await res.json()) as { sources: unknown[] }).sources).toHaveLength(3);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});
