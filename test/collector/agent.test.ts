/**
 * The agent reads each channel at the rate its reading needs (issue 24): a host whose channels
 * are all energy counters wakes only at each report (and at a division of it where a counter's
 * range would not outlast two readings at its plausible maximum power); a sampled or averaged
 * channel makes it wake every sample period, and the counters are read at those ticks too; a
 * rediscovery that adds or removes such a channel replans the timer. Readings on demand
 * (readNow, the collector's GET /energy) join the integration without changing what is reported.
 * The timers here are vitest's fake ones, the agent's clocks read from them. Within a tick, the
 * readers of a procfs file (/proc/stat: the cpu source, the CPU estimate, attribution) share one read.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent, type AgentOptions } from '../../collector/agent.js';
import { RunTracker } from '../../collector/attribution.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import { SourceError, type PowerChannel, type Source } from '../../collector/source.js';
import { cpuSource } from '../../collector/sources/cpu/index.js';
import { estimateSource } from '../../collector/sources/estimate/index.js';
import { ProcFile } from '../../collector/sysfs.js';
import type { Sample } from '../../common/model.js';
import { copyHost, discoverOn, recordingLogger } from './fixtures.js';

/** Wall clock of the fake timers at the start of each test: a whole second, so reports fall on whole seconds. */
const T0 = 1_800_000_000_000;

/** A channel that counts its reads; a counter at `watts` on the fake clock, or a sampled power of `watts`. */
function channel(id: string, method: PowerChannel['method'], watts: number, over: Partial<PowerChannel> = {}): PowerChannel & { reads: number[] } {
  const reads: number[] = [];
  return {
    id,
    domain: 'cpu',
    method,
    reading: method === 'counter' ? 'energy_uj' : 'power1_input',
    measures: { kind: 'unknown' },
    rank: 0,
    inTotal: true,
    reads,
    read() {
      const t = Date.now() - T0;
      reads.push(t);
      return method === 'counter' ? 1000 + (watts * t) / 1000 : watts;
    },
    ...over,
  };
}

const source = (name: string, channels: PowerChannel[]): Source => ({ name, channels: () => channels });

function agentOf(sources: Source[], over: Partial<AgentOptions> = {}): { agent: Agent; points: Sample[]; metrics: CollectorMetrics } {
  const points: Sample[] = [];
  const metrics = new CollectorMetrics();
  const agent = new Agent({
    sources,
    hostTags: { host: 'h', platform: 'p' },
    sampleHz: 10,
    reportIntervalS: 1,
    emit: (s) => points.push(...s),
    metrics,
    log: recordingLogger(),
    now: () => Date.now() - T0,
    wallNow: () => Date.now(),
    ...over,
  });
  return { agent, points, metrics };
}

const power = (points: readonly Sample[], id: string) => points.filter((p) => p.measurement === 'power' && p.tags.source === id);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the agent reads each channel at the rate its reading needs', () => {
  it('wakes once per report on a host of counters: one reading a second, energy exact, min and max from those readings', () => {
    const pkg = channel('rapl/package-0', 'counter', 40, { wrapJ: 262_143.32885 });
    const dram = channel('rapl/dram-0', 'counter', 5, { domain: 'dram', wrapJ: 65_712.999613 });
    const { agent, points } = agentOf([source('rapl', [pkg, dram])]);
    agent.start();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10_000);
    agent.stop();
    // the first reading at start, then one per report boundary
    expect(pkg.reads).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000, 10_000]);
    expect(dram.reads).toEqual(pkg.reads);
    const rows = power(points, 'rapl/package-0');
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      expect(r.fields).toMatchObject({ energy_j: 40, interval_s: 1, power_w: 40, power_min_w: 40, power_max_w: 40 });
    }
    expect(rows.map((r) => r.timeMs)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + 1000 * (i + 1)));
  });

  it('reads a counter whose range would not outlast two report intervals at its plausible maximum power within half that time', () => {
    // 300 J of range at up to 400 W: 0.75 s to wrap; read at least every 0.375 s, on the grid of 0.1 s ticks
    const small = channel('hwmon/chip-0/energy1', 'counter', 100, { wrapJ: 300, maxPowerW: 400 });
    const { agent, points } = agentOf([source('hwmon', [small])]);
    agent.start();
    vi.advanceTimersByTime(2000);
    agent.stop();
    expect(small.reads.map((t) => Math.round(t))).toEqual([0, 300, 600, 900, 1000, 1300, 1600, 1900, 2000, 2000]);
    expect(power(points, 'hwmon/chip-0/energy1').map((r) => r.fields.energy_j)).toEqual([expect.closeTo(100, 6), expect.closeTo(100, 6)]);
  });

  it('wakes once per report where the only channel is the CPU estimate (a mean since its last reading, exact whenever read)', () => {
    const estimate = channel('estimate/cpu', 'estimated', 22.5, { meanSinceLastRead: true });
    const { agent, points } = agentOf([source('estimate', [estimate])]);
    agent.start();
    vi.advanceTimersByTime(3000);
    agent.stop();
    expect(estimate.reads).toEqual([0, 1000, 2000, 3000, 3000]);
    expect(power(points, 'estimate/cpu').map((r) => r.fields.energy_j)).toEqual([22.5, 22.5, 22.5]);
  });

  it('wakes every sample period where a channel is sampled, and reads the counters at those ticks too', () => {
    const pkg = channel('rapl/package-0', 'counter', 40, { wrapJ: 262_143.32885 });
    const board = channel('hwmon/amdgpu-0/power1', 'averaged', 31, { domain: 'gpu' });
    const { agent, points } = agentOf([source('rapl', [pkg]), source('hwmon', [board])]);
    agent.start();
    vi.advanceTimersByTime(1000);
    expect(board.reads).toHaveLength(11);
    expect(pkg.reads).toEqual(board.reads);
    agent.stop();
    expect(power(points, 'hwmon/amdgpu-0/power1')[0]?.fields).toMatchObject({ energy_j: expect.closeTo(31, 9), interval_s: 1 });
  });

  it('replans at a rediscovery: a sampled channel found makes it wake every sample period, and its loss (or its being disabled) lets it sleep again', () => {
    const pkg = channel('rapl/package-0', 'counter', 40, { wrapJ: 262_143.32885 });
    const rapl = source('rapl', [pkg]);
    const { agent, points } = agentOf([rapl]);
    agent.start();
    vi.advanceTimersByTime(1250);
    expect(pkg.reads).toEqual([0, 1000]);
    const battery = channel('battery/BAT0', 'sampled', 12, { domain: 'system' });
    agent.setSources([rapl, source('battery', [battery])]);
    vi.advanceTimersByTime(750);
    // from the next tick of the grid on: 1300 … 2000
    expect(battery.reads.map(Math.round)).toEqual([1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000]);
    expect(pkg.reads.map(Math.round)).toEqual([0, 1000, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000]);
    agent.setSources([rapl]);
    vi.advanceTimersByTime(2000);
    expect(pkg.reads.slice(-2)).toEqual([3000, 4000]);
    // a sampled channel whose reads need a person (permission) is disabled: the agent sleeps again
    const locked = channel('hwmon/gone-0/power1', 'sampled', 5, {
      read() {
        throw new SourceError('permission denied');
      },
    });
    agent.setSources([rapl, source('hwmon', [locked])]);
    vi.advanceTimersByTime(2000);
    expect(pkg.reads.filter((t) => t > 4000)).toEqual([4100, 5000, 6000]);
    agent.stop();
    // no interval lost or doubled through all of it: 40 W every second
    const rows = power(points, 'rapl/package-0');
    expect(rows.reduce((a, r) => a + (r.fields.energy_j as number), 0)).toBeCloseTo(40 * 6, 6);
    expect(rows.reduce((a, r) => a + (r.fields.interval_s as number), 0)).toBeCloseTo(6, 9);
  });

  it('reads every channel on demand without changing what is reported: cumulative energy now, the intervals as without it', () => {
    const run = (onDemand: boolean) => {
      vi.setSystemTime(T0);
      let energy = 1000;
      // a counter whose power steps: 40 W, then 100 W from 2.5 s on
      const pkg = channel('rapl/package-0', 'counter', 0, { wrapJ: 262_143.32885, read: () => energy });
      const { agent, points } = agentOf([source('rapl', [pkg])]);
      agent.start();
      const readings: Array<ReturnType<Agent['readNow']>> = [];
      for (let t = 10; t <= 4000; t += 10) {
        energy += t <= 2500 ? 0.4 : 1;
        vi.advanceTimersByTime(10);
        if (onDemand && t % 30 === 0) readings.push(agent.readNow());
      }
      agent.stop();
      return { rows: power(points, 'rapl/package-0'), readings };
    };
    const plain = run(false);
    const asked = run(true);
    expect(asked.rows.map((r) => [r.timeMs, r.fields.energy_j, r.fields.interval_s])).toEqual(plain.rows.map((r) => [r.timeMs, expect.closeTo(r.fields.energy_j as number, 9), r.fields.interval_s]));
    // the counter's extremes are those of its own readings, not of the short steps on demand
    expect(asked.rows.map((r) => r.fields.power_max_w)).toEqual(plain.rows.map((r) => expect.closeTo(r.fields.power_max_w as number, 9)));
    // a window between two readings on demand is exact: 0.3 s at 40 W, then 100 W
    const at = (ms: number) => asked.readings.find((r) => r[0]!.timeMs === T0 + ms)![0]!;
    expect(at(990).energyJ - at(690).energyJ).toBeCloseTo(12, 9);
    expect(at(990).coveredS - at(690).coveredS).toBeCloseTo(0.3, 9);
    expect(at(3990).energyJ - at(3000).energyJ).toBeCloseTo(99, 9);
    expect(at(3990)).toMatchObject({ id: 'rapl/package-0', domain: 'cpu', method: 'counter', inTotal: true, energyJ: expect.closeTo(40 * 2.5 + 100 * 1.49, 9), coveredS: expect.closeTo(3.99, 9) });
  });

  it('integrates a sampled channel up to a reading on demand', () => {
    const board = channel('hwmon/amdgpu-0/power1', 'sampled', 31, { domain: 'gpu' });
    const { agent } = agentOf([source('hwmon', [board])]);
    agent.start();
    vi.advanceTimersByTime(1050);
    const [now] = agent.readNow();
    expect(now).toMatchObject({ energyJ: expect.closeTo(31 * 1.05, 9), coveredS: expect.closeTo(1.05, 9), timeMs: T0 + 1050 });
    agent.stop();
  });
});

describe('procfs reads within a tick', () => {
  it('reads /proc/stat once for the cpu source, the CPU estimate and run attribution together; each alone outside a tick', async () => {
    vi.useRealTimers();
    const root = copyHost('vm-epyc');
    // a process of a run on the fixture host, for attribution to follow
    mkdirSync(join(root, 'proc', '4242'));
    writeFileSync(join(root, 'proc', '4242', 'stat'), '4242 (train) S 1 4242 4242 0 -1 4194304 1200 0 0 0 350 120 7 3 20 0 1 0 98765 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n');
    const { sources } = await discoverOn(root, [cpuSource, estimateSource]);
    expect(sources.map((s) => s.name)).toEqual(['cpu', 'estimate']);
    const tracker = new RunTracker(join(root, 'proc'), { host: 'h', platform: 'p' });
    tracker.register('run-1', [4242]);
    const stat = join(root, 'proc', 'stat');
    const reads = vi.spyOn(ProcFile.prototype as unknown as { readFile(): string }, 'readFile');
    const statReads = () => reads.mock.contexts.filter((c) => (c as unknown as ProcFile).path === stat).length;
    try {
      let t = 0;
      const points: Sample[] = [];
      const agent = new Agent({ sources, hostTags: { host: 'h', platform: 'p' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => points.push(...s), metrics: new CollectorMetrics(), log: recordingLogger(), now: () => t, wallNow: () => T0 + t, timers: false, attribute: (iv) => tracker.attribute(iv) });
      agent.start();
      // the machine works meanwhile: every CPU line +30 user, +70 idle ticks; the run's process +20 ticks
      const before = readFileSync(stat, 'utf8');
      writeFileSync(stat, before.replace(/^(cpu\d*) +(\d+) (\d+) (\d+) (\d+)/gm, (_m, cpu: string, u: string, n: string, sy: string, id: string) => `${cpu} ${Number(u) + 30} ${n} ${sy} ${Number(id) + 70}`));
      writeFileSync(join(root, 'proc', '4242', 'stat'), readFileSync(join(root, 'proc', '4242', 'stat'), 'utf8').replace(' 350 120 ', ' 370 120 '));
      while (agent.nextTickAt < 1000) {
        t = agent.nextTickAt;
        reads.mockClear();
        agent.tick(t);
        expect(statReads(), `the estimate's read at ${t}`).toBe(1);
      }
      t = 1000;
      reads.mockClear();
      agent.tick(t);
      // the report's tick: the estimate, the cpu source and attribution, one read between them
      expect(statReads()).toBe(1);
      expect(points.map((p) => `${p.measurement} ${p.tags.source ?? p.tags.cpu ?? ''}`).sort()).toEqual(['cpu 0', 'cpu 1', 'cpu all', 'power attributed/estimate/cpu', 'power estimate/cpu']);
      // outside a tick, each reader reads the file itself
      reads.mockClear();
      sources[0]?.collect?.(T0);
      tracker.attribute([]);
      expect(statReads()).toBe(2);
      agent.stop();
    } finally {
      reads.mockRestore();
      for (const s of sources) await s.close?.();
    }
  });
});
