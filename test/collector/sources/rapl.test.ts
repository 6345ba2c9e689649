import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../collector/agent.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { raplSource, zoneId, zoneMeasurand, parseZoneDir, discoverZones } from '../../../collector/sources/rapl/index.js';
import type { Sample } from '../../../common/model.js';
import { FIXTURES, contextFor, copyHost, discoverOn, recordingLogger, writeSysfs } from '../fixtures.js';

const summary = (channels: readonly { id: string; domain: string; method: string; inTotal: boolean; wrapJ?: number }[]) =>
  channels.map((c) => `${c.id} ${c.domain} ${c.method} ${c.inTotal ? 'total' : 'nested'}`);

describe('RAPL discovery', () => {
  it('finds every zone and subzone, named from their name files, and never adds overlapping ones', async () => {
    const { channels } = await discoverOn(join(FIXTURES, 'desktop-intel'), [raplSource]);
    expect(summary(channels)).toEqual([
      'rapl-mmio/package-0 cpu counter nested',
      'rapl/package-0 cpu counter total',
      'rapl/core-0 cpu counter nested',
      'rapl/uncore-0 soc counter nested',
      'rapl/psys system counter nested',
    ]);
    expect(channels[1]?.wrapJ).toBeCloseTo(262143.32885, 6);
  });

  it('counts both packages and their DRAM on a two-socket server', async () => {
    const { channels } = await discoverOn(join(FIXTURES, 'server-xeon-2s'), [raplSource]);
    expect(summary(channels)).toEqual([
      'rapl/package-0 cpu counter total',
      'rapl/dram-0 dram counter total',
      'rapl/package-1 cpu counter total',
      'rapl/dram-1 dram counter total',
    ]);
    expect(channels[1]?.wrapJ).toBeCloseTo(65712.999613, 6);
  });

  it('reads AMD packages exposed through the same driver', async () => {
    const { channels } = await discoverOn(join(FIXTURES, 'amd-epyc'), [raplSource]);
    expect(summary(channels)).toEqual(['rapl/package-0 cpu counter total', 'rapl/core-0 cpu counter nested']);
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

  it('reads zone indices in hex, as the kernel names them ("%s:%x"): intel-rapl:a is zone 10', () => {
    expect(parseZoneDir('intel-rapl:a', 'package-1-die-2')).toMatchObject({ zone: 10, sub: undefined });
    expect(parseZoneDir('intel-rapl:a:0', 'core')).toMatchObject({ zone: 10, sub: 0 });
    expect(parseZoneDir('intel-rapl:1f:b', 'dram')).toMatchObject({ zone: 31, sub: 11 });
    expect(zoneId(parseZoneDir('intel-rapl:a:0', 'core')!)).toBe('rapl/core-10');
    expect(parseZoneDir('intel-rapl:g', 'package-16')).toBeUndefined();
  });

  it('finds all 16 zones of a 2-socket, 8-CCD Zen4 server on Linux 6.10 (intel-rapl:0 … intel-rapl:f), counting one package view per socket', async () => {
    const log = recordingLogger();
    const root = join(FIXTURES, 'amd-epyc-2s-zen4');
    const { channels } = await discoverOn(root, [raplSource], { log });
    expect(channels).toHaveLength(32);
    const ids = channels.map((c) => c.id);
    for (let die = 0; die < 8; die++) for (const pkg of [0, 1]) expect(ids).toContain(`rapl/package-${pkg}-die-${die}`);
    // zones 10…15 (a…f) are there: before, they vanished without a word
    expect(ids).toContain('rapl/package-1-die-2'); // intel-rapl:a
    expect(ids).toContain('rapl/core-15'); // intel-rapl:f:0
    // the 8 views of one socket's counter hold the same value: one per socket counts
    expect(channels.filter((c) => c.inTotal).map((c) => c.id)).toEqual(['rapl/package-0-die-0', 'rapl/package-1-die-0']);
    expect(channels.filter((c) => c.id.startsWith('rapl/core-')).every((c) => !c.inTotal)).toBe(true);
    const messages = log.lines.map((l) => `${l.level}: ${l.message}`);
    expect(messages).toContain('info: powercap: intel-rapl skipped: a powercap control type, not a zone');
    expect(messages.filter((m) => m.startsWith('warn:'))).toEqual([expect.stringMatching(/once per CCD .*\(fixed in 6\.11\)/)]);
  });

  it('names a device per die where the dies have counters of their own (Intel multi-die packages), one per socket on AMD', () => {
    const { zones } = discoverZones(join(FIXTURES, 'amd-epyc-2s-zen4', 'sys', 'class', 'powercap'));
    const packages = zones.filter((z) => z.name.startsWith('package'));
    expect(packages).toHaveLength(16);
    const keys = (vendor: string) => new Set(packages.map((z) => JSON.stringify(zoneMeasurand(z, zones, vendor))));
    expect(keys('GenuineIntel').size).toBe(16);
    expect([...keys('AuthenticAMD')].map((k) => JSON.parse(k) as unknown)).toEqual([
      { kind: 'device', key: 'cpu-package:0', cpu: true },
      { kind: 'device', key: 'cpu-package:1', cpu: true },
    ]);
    const core = zones.find((z) => z.name === 'core' && z.zone === 10);
    expect(core && zoneMeasurand(core, zones, 'AuthenticAMD')).toEqual({ kind: 'part', of: 'cpu-package:1' });
  });

  it('logs every powercap directory it does not use, and why', async () => {
    const root = copyHost('server-xeon-2s');
    const powercap = join(root, 'sys', 'class', 'powercap');
    mkdirSync(join(powercap, 'dtpm'));
    mkdirSync(join(powercap, 'intel-rapl:7'));
    const log = recordingLogger();
    await raplSource.discover(contextFor(root, { log }));
    expect(log.lines.map((l) => l.message).sort()).toEqual([
      'powercap: dtpm skipped: a powercap control type, not a zone',
      'powercap: intel-rapl skipped: a powercap control type, not a zone',
      'powercap: intel-rapl:7 skipped: its name file is missing',
    ]);
  });
});

describe('RAPL counters', () => {
  it('undoes a wrap of the counter during measurement', async () => {
    const root = copyHost('desktop-intel');
    const pkg = join(root, 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj');
    writeSysfs(pkg, 262143328850 - 5_000_000); // 5 J before the wrap
    const { sources: [source] } = await discoverOn(root, [raplSource]);
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
      const { raplSource } = await import(${JSON.stringify(new URL('../../../dist/collector/sources/rapl/index.js', import.meta.url).href)});
      const lines = [];
      const log = { debug() {}, info() {}, warn() {}, error() {}, once(k, level, m) { lines.push(level + ': ' + m); } };
      const s = await raplSource.discover({ sysfs: ${JSON.stringify(join(root, 'sys'))}, procfs: '', log, hostTags: {}, config: {}, resources: {} });
      s.channels().forEach((c) => c.read());
      console.log(JSON.stringify({ ids: s.channels().map((c) => c.id), lines }));`;
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', uid, gid: uid });
    expect(r.stderr).toBe('');
    const { ids, lines } = JSON.parse(r.stdout) as { ids: string[]; lines: string[] };
    expect(ids).toEqual(['rapl/package-0', 'rapl/dram-0', 'rapl/dram-1']);
    const errors = lines.filter((l) => l.startsWith('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: cannot read .*intel-rapl:1\/energy_uj \(permission denied\)/);
    expect(errors[0]).toMatch(/run the collector as root/);
    expect(errors[0]).toMatch(/udev rule/);
    // the control-type directory is not a zone, and says so
    expect(lines.filter((l) => !l.startsWith('error'))).toEqual(['info: powercap: intel-rapl skipped: a powercap control type, not a zone']);
  });
});
