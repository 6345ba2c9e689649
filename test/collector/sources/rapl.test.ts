import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../collector/agent.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { raplSource, zoneId, parseZoneDir } from '../../../collector/sources/rapl.js';
import type { Sample } from '../../../common/model.js';
import { FIXTURES, contextFor, copyHost, recordingLogger, writeSysfs } from '../fixtures.js';

const summary = (channels: readonly { id: string; domain: string; method: string; inTotal: boolean; wrapJ?: number }[]) =>
  channels.map((c) => `${c.id} ${c.domain} ${c.method} ${c.inTotal ? 'total' : 'nested'}`);

describe('RAPL discovery', () => {
  it('finds every zone and subzone, named from their name files, and never adds overlapping ones', async () => {
    const source = await raplSource.discover(contextFor(join(FIXTURES, 'desktop-intel')));
    expect(summary(source?.channels() ?? [])).toEqual([
      'rapl-mmio/package-0 cpu counter nested',
      'rapl/package-0 cpu counter total',
      'rapl/core-0 cpu counter nested',
      'rapl/uncore-0 soc counter nested',
      'rapl/psys system counter nested',
    ]);
    expect(source?.channels()[1]?.wrapJ).toBeCloseTo(262143.32885, 6);
  });

  it('counts both packages and their DRAM on a two-socket server', async () => {
    const source = await raplSource.discover(contextFor(join(FIXTURES, 'server-xeon-2s')));
    expect(summary(source?.channels() ?? [])).toEqual([
      'rapl/package-0 cpu counter total',
      'rapl/dram-0 dram counter total',
      'rapl/package-1 cpu counter total',
      'rapl/dram-1 dram counter total',
    ]);
    expect(source?.channels()[1]?.wrapJ).toBeCloseTo(65712.999613, 6);
  });

  it('reads AMD packages exposed through the same driver', async () => {
    const source = await raplSource.discover(contextFor(join(FIXTURES, 'amd-epyc')));
    expect(summary(source?.channels() ?? [])).toEqual(['rapl/package-0 cpu counter total', 'rapl/core-0 cpu counter nested']);
  });

  it('is quietly absent where there is no powercap', async () => {
    const log = recordingLogger();
    expect(await raplSource.discover(contextFor(join(FIXTURES, 'vm-epyc'), { log }))).toBeUndefined();
    expect(log.lines).toEqual([]);
  });

  it('names zones stably', () => {
    expect(zoneId(parseZoneDir('intel-rapl:1:0', 'dram')!)).toBe('rapl/dram-1');
    expect(zoneId(parseZoneDir('intel-rapl-mmio:0', 'package-0')!)).toBe('rapl-mmio/package-0');
    expect(parseZoneDir('intel-rapl', 'x')).toBeUndefined();
  });
});

describe('RAPL counters', () => {
  it('undoes a wrap of the counter during measurement', async () => {
    const root = copyHost('desktop-intel');
    const pkg = join(root, 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj');
    writeSysfs(pkg, 262143328850 - 5_000_000); // 5 J before the wrap
    const source = await raplSource.discover(contextFor(root));
    let t = 0;
    const out: Sample[] = [];
    const agent = new Agent({
      sources: source ? [source] : [],
      hostTags: { host: 'h', platform: 'p' },
      sampleHz: 10,
      reportIntervalS: 1,
      emit: (s) => out.push(...s),
      metrics: new CollectorMetrics(),
      log: recordingLogger(),
      now: () => t,
      wallNow: () => 1_700_000_000_000 + t,
    });
    agent.sample(0);
    t = 500;
    writeSysfs(pkg, 262143328850 - 1_000_000); // +4 J
    agent.sample(t);
    t = 1000;
    writeSysfs(pkg, 3_000_000); // +1 J to the wrap, +3 J after it
    agent.sample(t);
    agent.report();
    const point = out.find((s) => s.tags.source === 'rapl/package-0');
    expect(point?.fields.energy_j).toBeCloseTo(8, 9);
    expect(point?.fields.interval_s).toBe(1);
    expect(point?.fields.power_w).toBeCloseTo(8, 9);
    expect(point?.fields.power_min_w).toBeCloseTo(8, 9);
    expect(point?.tags).toMatchObject({ domain: 'cpu', method: 'counter', in_total: 'true', host: 'h', platform: 'p' });
    expect(point?.timeMs).toBe(1_700_000_001_000);
  });

  it('keeps a channel\'s interval across rediscovery, reading through the new source after the old one is closed', async () => {
    const root = copyHost('desktop-intel');
    const pkg = join(root, 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj');
    writeSysfs(pkg, 1_000_000);
    const first = await raplSource.discover(contextFor(root));
    let t = 0;
    const out: Sample[] = [];
    const agent = new Agent({ sources: [first!], hostTags: { host: 'h', platform: 'p' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => out.push(...s), metrics: new CollectorMetrics(), log: recordingLogger(), now: () => t, wallNow: () => t });
    agent.sample(0);
    const second = await raplSource.discover(contextFor(root));
    agent.setSources([second!]);
    await first?.close?.();
    t = 1000;
    writeSysfs(pkg, 6_000_000); // +5 J
    agent.sample(t);
    agent.report();
    expect(out.find((s) => s.tags.source === 'rapl/package-0')?.fields.energy_j).toBeCloseTo(5, 9);
  });

  it('skips a zone whose energy_uj is unreadable, with one message that says how to fix it', () => {
    const root = copyHost('server-xeon-2s');
    const file = join(root, 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:1/energy_uj');
    chmodSync(file, 0o000);
    chmodSync(root, 0o755);
    // root reads any file; the check runs as an unprivileged user, as the collector would
    const script = `
      const { raplSource } = await import(${JSON.stringify(new URL('../../../dist/collector/sources/rapl.js', import.meta.url).href)});
      const lines = [];
      const log = { debug() {}, info() {}, warn() {}, error() {}, once(k, level, m) { lines.push(level + ': ' + m); } };
      const s = await raplSource.discover({ sysfs: ${JSON.stringify(join(root, 'sys'))}, procfs: '', log, hostTags: {}, channelsSoFar: [], config: {} });
      s.channels().forEach((c) => c.read());
      console.log(JSON.stringify({ ids: s.channels().map((c) => c.id), lines }));`;
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', uid, gid: uid });
    expect(r.stderr).toBe('');
    const { ids, lines } = JSON.parse(r.stdout) as { ids: string[]; lines: string[] };
    expect(ids).toEqual(['rapl/package-0', 'rapl/dram-0', 'rapl/dram-1']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: cannot read .*intel-rapl:1\/energy_uj \(permission denied\)/);
    expect(lines[0]).toMatch(/run the collector as root/);
    expect(lines[0]).toMatch(/udev rule/);
  });
});
