import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../../common/model.js';
import { cpuSource, cpuUsage, parseProcStat } from '../../../collector/sources/cpu/index.js';
import { diskSource, parseDiskstats } from '../../../collector/sources/disk/index.js';
import { memFields, memSource, parseMeminfo } from '../../../collector/sources/mem/index.js';
import { netSource, parseNetDev } from '../../../collector/sources/net/index.js';
import { cpuModelFromCpuinfo, derivePlatform } from '../../../common/platform.js';
import { FIXTURES, contextFor, copyHost } from '../fixtures.js';

const read = (host: string, file: string) => readFileSync(join(FIXTURES, host, 'proc', file), 'utf8');

/**
 * Bounds of the interval a rate source measured, on its own clock (performance.now()): it
 * reads its first counters while discover() runs and its second while collect() runs, so the
 * interval is at least the time between the end of the one and the start of the other, and at
 * most the time from the start of the one to the end of the other.
 */
async function timedRates<T>(discover: () => Promise<T>, change: () => void, waitMs: number, collect: (source: T) => Sample[]) {
  const discoverStart = performance.now();
  const source = await discover();
  const discoverEnd = performance.now();
  change();
  await new Promise((r) => setTimeout(r, waitMs));
  const collectStart = performance.now();
  const samples = collect(source);
  const collectEnd = performance.now();
  return { source, samples, interval: { shortestS: (collectStart - discoverEnd) / 1000, longestS: (collectEnd - discoverStart) / 1000 } };
}

/** A rate for `delta` over an interval between `shortestS` and `longestS`. */
function expectRate(value: unknown, delta: number, { shortestS, longestS }: { shortestS: number; longestS: number }, what: string): void {
  expect(typeof value, what).toBe('number');
  expect(value as number, what).toBeGreaterThanOrEqual(delta / longestS);
  expect(value as number, what).toBeLessThanOrEqual(delta / shortestS);
}

describe('cpu (/proc/stat)', () => {
  it('parses the total and every core', () => {
    const stat = parseProcStat(read('vm-epyc', 'stat'));
    expect([...stat.keys()]).toEqual(['all', '0', '1']);
    // the fixture's first line: cpu  4487 0 814 118199 170 0 36 15 0 0
    expect(stat.get('all')).toEqual({ user: 4487, nice: 0, system: 814, idle: 118199, iowait: 170, irq: 0, softirq: 36, steal: 15 });
    expect(stat.get('1')).toEqual({ user: 2484, nice: 0, system: 457, idle: 58710, iowait: 164, irq: 0, softirq: 21, steal: 9 });
  });

  it('turns deltas into percentages', () => {
    const prev = { user: 100, nice: 0, system: 50, idle: 800, iowait: 10, irq: 0, softirq: 40, steal: 0 };
    const cur = { user: 160, nice: 20, system: 70, idle: 880, iowait: 30, irq: 0, softirq: 40, steal: 0 };
    // total delta 200: idle 80 + iowait 20 → usage 50 %, user (60+20) 40 %, system 10 %, iowait 10 %
    expect(cpuUsage(prev, cur)).toEqual({ usagePct: 50, userPct: 40, systemPct: 10, iowaitPct: 10 });
    expect(cpuUsage(cur, cur)).toBeUndefined();
  });

  it('emits one point for the machine and one per core from consecutive reads', async () => {
    const root = copyHost('vm-epyc');
    const source = await cpuSource.discover(contextFor(root));
    const path = join(root, 'proc', 'stat');
    // every cpu line: +30 user, +70 idle
    const bumped = readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => {
        if (!line.startsWith('cpu')) return line;
        const p = line.split(/\s+/);
        p[1] = String(Number(p[1]) + 30);
        p[4] = String(Number(p[4]) + 70);
        return p.join(' ');
      })
      .join('\n');
    writeFileSync(path, bumped);
    const samples = source?.collect?.(1000) ?? [];
    expect(samples.map((s) => s.tags.cpu)).toEqual(['all', '0', '1']);
    for (const s of samples) {
      expect(s).toMatchObject({ measurement: 'cpu', timeMs: 1000, tags: { host: 'fixture-host', platform: 'fixture' } });
      expect(s.fields.usage_pct).toBeCloseTo(30, 9);
      expect(s.fields.user_pct).toBeCloseTo(30, 9);
      expect(s.fields.iowait_pct).toBe(0);
    }
  });

  it('writes the total only with WATTSCOPE_CPU_PER_CORE=false (a many-core host that keeps its spool small)', async () => {
    const root = copyHost('vm-epyc');
    const source = await cpuSource.discover(contextFor(root, { env: { WATTSCOPE_CPU_PER_CORE: 'false' } }));
    const path = join(root, 'proc', 'stat');
    writeFileSync(
      path,
      readFileSync(path, 'utf8')
        .split('\n')
        .map((line) => (line.startsWith('cpu') ? line.replace(/^(cpu\d*\s+)(\d+)/, (_, head: string, user: string) => `${head}${Number(user) + 50}`) : line))
        .join('\n'),
    );
    const samples = source?.collect?.(1000) ?? [];
    expect(samples.map((s) => s.tags.cpu)).toEqual(['all']);
    expect(samples[0]?.fields.usage_pct).toBeGreaterThan(0);
  });

  it('derives the default platform from the CPU model, or the GPU when there is one', () => {
    expect(cpuModelFromCpuinfo(read('vm-epyc', 'cpuinfo'))).toBe('AMD EPYC');
    expect(derivePlatform('Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', [])).toBe('Xeon-Platinum-8375C');
    expect(derivePlatform('AMD EPYC', ['NVIDIA A100-SXM4-40GB'])).toBe('A100-SXM4-40GB');
    expect(derivePlatform(undefined, ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3'])).toBe('2xH100-80GB-HBM3');
  });
});

describe('mem (/proc/meminfo)', () => {
  it('reports total, used, available in bytes and used %', async () => {
    const fields = memFields(parseMeminfo(read('vm-epyc', 'meminfo')));
    // the fixture: MemTotal 24683656 kB, MemAvailable 24352876 kB
    const total = 24683656 * 1024;
    const available = 24352876 * 1024;
    expect(fields).toEqual({ total_bytes: total, used_bytes: total - available, available_bytes: available, used_pct: (100 * (total - available)) / total });
    const source = await memSource.discover(contextFor(join(FIXTURES, 'vm-epyc')));
    expect(source?.collect?.(5)).toEqual([{ measurement: 'mem', tags: { host: 'fixture-host', platform: 'fixture' }, fields, timeMs: 5 }]);
  });

  it('falls back to free + buffers + cached on kernels without MemAvailable', () => {
    const old = 'MemTotal:  1000 kB\nMemFree:  200 kB\nBuffers:  100 kB\nCached:  300 kB\n';
    expect(memFields(parseMeminfo(old))).toMatchObject({ available_bytes: 600 * 1024, used_pct: 40 });
  });
});

describe('disk (/proc/diskstats)', () => {
  it('keeps whole disks only: no partitions, loop, ram, device-mapper, md or optical devices', () => {
    expect([...parseDiskstats(read('server-xeon-2s', 'diskstats')).keys()]).toEqual(['nvme0n1', 'nvme1n1', 'sda']);
    expect([...parseDiskstats(read('vm-epyc', 'diskstats')).keys()]).toEqual(['vda']);
  });

  it('reports bytes/s, IOPS and busy % from deltas', async () => {
    const root = copyHost('server-xeon-2s');
    const path = join(root, 'proc', 'diskstats');
    const { samples, interval } = await timedRates(
      () => diskSource.discover(contextFor(root)),
      () => {
        const text = readFileSync(path, 'utf8');
        const changed = text.replace(
          / sda 10231 2104 1234567 8812 4410 1203 667788 22013 0 19044 /,
          // +100 reads, +2048 sectors read, +50 writes, +4096 sectors written, +250 ms busy
          ' sda 10331 2104 1236615 8812 4460 1203 671884 22013 0 19294 ',
        );
        expect(changed).not.toBe(text);
        writeFileSync(path, changed);
      },
      500,
      (source) => source?.collect?.(1) ?? [],
    );
    expect(interval.shortestS).toBeGreaterThan(0.45);
    const sda = samples.find((s) => s.tags.device === 'sda');
    // each rate is its delta over the interval the test saw the source measure, on the source's clock
    expectRate(sda?.fields.read_bytes_per_s, 2048 * 512, interval, 'read_bytes_per_s');
    expectRate(sda?.fields.write_bytes_per_s, 4096 * 512, interval, 'write_bytes_per_s');
    expectRate(sda?.fields.read_iops, 100, interval, 'read_iops');
    expectRate(sda?.fields.write_iops, 50, interval, 'write_iops');
    // 250 ms busy of the interval's milliseconds, in %: 25 / seconds
    expectRate(sda?.fields.busy_pct, 25, interval, 'busy_pct');
    // the other disks did nothing
    expect(samples.find((s) => s.tags.device === 'nvme0n1')?.fields).toEqual({ read_bytes_per_s: 0, write_bytes_per_s: 0, read_iops: 0, write_iops: 0, busy_pct: 0 });
  });
});

describe('net (/proc/net/dev)', () => {
  it('reads every interface but lo', () => {
    const dev = parseNetDev(read('vm-epyc', 'net/dev'));
    expect([...dev.keys()]).toEqual(['ifb0', 'ifb1', 'eth0']);
    expect(dev.get('eth0')).toEqual({ rxBytes: 263021451, txBytes: 622154 });
  });

  it('reports bytes/s and skips an interface whose counters were reset', async () => {
    const root = copyHost('vm-epyc');
    const path = join(root, 'proc', 'net', 'dev');
    // eth0: 263021451 bytes received, 622154 sent in the fixture; +1,000,000 and +500,000
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => (l.trim().startsWith('eth0:') ? l.replace(' 263021451 ', ' 264021451 ').replace(' 622154 ', ' 1122154 ') : l));
    const { source, samples, interval } = await timedRates(
      () => netSource.discover(contextFor(root)),
      () => writeFileSync(path, lines.join('\n')),
      200,
      (source) => source?.collect?.(1) ?? [],
    );
    expect(parseNetDev(lines.join('\n')).get('eth0')).toEqual({ rxBytes: 264021451, txBytes: 1122154 });
    expect(interval.shortestS).toBeGreaterThan(0.18);
    const e = samples.find((s) => s.tags.iface === 'eth0');
    expectRate(e?.fields.rx_bytes_per_s, 1_000_000, interval, 'rx_bytes_per_s');
    expectRate(e?.fields.tx_bytes_per_s, 500_000, interval, 'tx_bytes_per_s');
    expect(samples.map((s) => s.tags.iface).sort()).toEqual(['eth0', 'ifb0', 'ifb1']);
    expect(samples.find((s) => s.tags.iface === 'ifb0')?.fields).toEqual({ rx_bytes_per_s: 0, tx_bytes_per_s: 0 });
    // the interface is re-created: its counters start again from zero
    writeFileSync(path, lines.map((l) => (l.trim().startsWith('eth0:') ? '  eth0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0' : l)).join('\n'));
    const after = source?.collect?.(2) ?? [];
    expect(after.map((s) => s.tags.iface).sort()).toEqual(['ifb0', 'ifb1']);
  });
});
