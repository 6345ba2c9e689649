import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuSource, cpuUsage, parseProcStat } from '../../../collector/sources/cpu.js';
import { diskSource, parseDiskstats } from '../../../collector/sources/disk.js';
import { memFields, memSource, parseMeminfo } from '../../../collector/sources/mem.js';
import { netSource, parseNetDev } from '../../../collector/sources/net.js';
import { cpuModelFromCpuinfo, derivePlatform } from '../../../common/platform.js';
import { FIXTURES, contextFor, copyHost } from '../fixtures.js';

const read = (host: string, file: string) => readFileSync(join(FIXTURES, host, 'proc', file), 'utf8');

describe('cpu (/proc/stat)', () => {
  it('parses the total and every core', () => {
    const stat = parseProcStat(read('vm-epyc', 'stat'));
    expect([...stat.keys()]).toEqual(['all', '0', '1']);
    const all = stat.get('all');
    expect(all?.user).toBeGreaterThan(0);
    expect(all?.idle).toBeGreaterThan(all?.user ?? 0);
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

  it('derives the default platform from the CPU model, or the GPU when there is one', () => {
    expect(cpuModelFromCpuinfo(read('vm-epyc', 'cpuinfo'))).toBe('AMD EPYC');
    expect(derivePlatform('Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', [])).toBe('Xeon-Platinum-8375C');
    expect(derivePlatform('AMD EPYC', ['NVIDIA A100-SXM4-40GB'])).toBe('A100-SXM4-40GB');
    expect(derivePlatform(undefined, ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3'])).toBe('2xH100-80GB-HBM3');
  });
});

describe('mem (/proc/meminfo)', () => {
  it('reports total, used, available in bytes and used %', async () => {
    const info = parseMeminfo(read('vm-epyc', 'meminfo'));
    const fields = memFields(info);
    const total = info.get('MemTotal') as number;
    const available = info.get('MemAvailable') as number;
    expect(fields).toEqual({ total_bytes: total, used_bytes: total - available, available_bytes: available, used_pct: (100 * (total - available)) / total });
    expect(total % 1024).toBe(0);
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
    const source = await diskSource.discover(contextFor(root));
    const path = join(root, 'proc', 'diskstats');
    const text = readFileSync(path, 'utf8').replace(
      / sda 10231 2104 1234567 8812 4410 1203 667788 22013 0 19044 /,
      // +100 reads, +2048 sectors read, +50 writes, +4096 sectors written, +250 ms busy
      ' sda 10331 2104 1236615 8812 4460 1203 671884 22013 0 19294 ',
    );
    writeFileSync(path, text);
    await new Promise((r) => setTimeout(r, 500));
    const sda = source?.collect?.(1).find((s) => s.tags.device === 'sda');
    const seconds = (2048 * 512) / (sda?.fields.read_bytes_per_s as number); // the interval the source measured
    expect(sda?.fields.read_bytes_per_s).toBeCloseTo((2048 * 512) / seconds, 6);
    expect(sda?.fields.write_bytes_per_s).toBeCloseTo((4096 * 512) / seconds, 6);
    expect(sda?.fields.read_iops).toBeCloseTo(100 / seconds, 6);
    expect(sda?.fields.write_iops).toBeCloseTo(50 / seconds, 6);
    expect(sda?.fields.busy_pct).toBeCloseTo(25 / seconds, 6);
    expect(seconds).toBeGreaterThan(0.45);
    expect(seconds).toBeLessThan(2);
  });
});

describe('net (/proc/net/dev)', () => {
  it('reads every interface but lo', () => {
    const dev = parseNetDev(read('vm-epyc', 'net/dev'));
    expect([...dev.keys()]).toEqual(['ifb0', 'ifb1', 'eth0']);
    expect(dev.get('eth0')?.rxBytes).toBeGreaterThan(0);
  });

  it('reports bytes/s and skips an interface whose counters were reset', async () => {
    const root = copyHost('vm-epyc');
    const source = await netSource.discover(contextFor(root));
    const path = join(root, 'proc', 'net', 'dev');
    const before = parseNetDev(readFileSync(path, 'utf8'));
    const eth0 = before.get('eth0');
    const lines = readFileSync(path, 'utf8').split('\n').map((l) => {
      if (l.trim().startsWith('eth0:')) return l.replace(String(eth0?.rxBytes), String((eth0?.rxBytes ?? 0) + 1_000_000)).replace(new RegExp(` ${eth0?.txBytes} `), ` ${(eth0?.txBytes ?? 0) + 500_000} `);
      if (l.trim().startsWith('ifb0:')) return '  ifb0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0';
      return l;
    });
    writeFileSync(path, lines.join('\n'));
    await new Promise((r) => setTimeout(r, 200));
    const samples = source?.collect?.(1) ?? [];
    const e = samples.find((s) => s.tags.iface === 'eth0');
    const ratio = (e?.fields.rx_bytes_per_s as number) / (e?.fields.tx_bytes_per_s as number);
    expect(ratio).toBeCloseTo(2, 9);
    expect(e?.fields.rx_bytes_per_s).toBeGreaterThan(1_000_000 / 2);
    expect(samples.map((s) => s.tags.iface).sort()).toEqual(['eth0', 'ifb0', 'ifb1']);
    // the interface is re-created: its counters start again from zero
    writeFileSync(path, lines.map((l) => (l.trim().startsWith('eth0:') ? '  eth0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0' : l)).join('\n'));
    const after = source?.collect?.(2) ?? [];
    expect(after.map((s) => s.tags.iface).sort()).toEqual(['ifb0', 'ifb1']);
  });
});
