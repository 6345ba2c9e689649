import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuSource } from '../../../collector/sources/cpu/index.js';
import { diskSource } from '../../../collector/sources/disk/index.js';
import { memSource } from '../../../collector/sources/mem/index.js';
import { netSource } from '../../../collector/sources/net/index.js';
import { estimateSource } from '../../../collector/sources/estimate/index.js';
import { ProcFile } from '../../../collector/sysfs.js';
import { contextFor, copyHost } from '../fixtures.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('procfs files kept open', () => {
  it('reads a file afresh at every read, rewritten in place, longer than its first buffer, or shorter', () => {
    const path = join(copyHost('vm-epyc'), 'proc', 'meminfo');
    const file = new ProcFile(path);
    const first = file.read();
    expect(first).toMatch(/^MemTotal:/);
    const long = 'x'.repeat(50_000);
    writeFileSync(path, long);
    expect(file.read()).toBe(long);
    writeFileSync(path, 'short\n');
    expect(file.read()).toBe('short\n');
    file.close();
  });

  it('closes the files of the procfs sources with them (rediscovery makes and closes sources every minute)', async () => {
    const root = copyHost('vm-epyc');
    const before = openFds();
    for (let round = 0; round < 3; round++) {
      const sources = await Promise.all([cpuSource, diskSource, memSource, netSource, estimateSource].map((f) => f.discover(contextFor(root))));
      expect(sources.every((s) => s !== undefined)).toBe(true);
      for (const s of sources) s?.collect?.(1000);
      expect(openFds()).toBeGreaterThan(before);
      for (const s of sources) await s?.close?.();
      expect(openFds()).toBe(before);
    }
  });
});
