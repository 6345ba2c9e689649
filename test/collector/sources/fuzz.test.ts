/**
 * The sysfs sources over generated trees (a fixed number of seeded cases): chips, zones and
 * batteries whose names, labels and values are random bytes, NUL-padded, empty, huge, not
 * numbers, directories where files should be, or gone between discovery and read. Whatever the
 * tree, discovery and every tick return, every point the agent emits can be written as line
 * protocol, a well-formed sensor beside the broken ones keeps reporting its power, and each
 * problem is said once.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../collector/agent.js';
import { discoverSources } from '../../../collector/discover.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { SharedResources } from '../../../collector/resources/index.js';
import { batterySource } from '../../../collector/sources/battery/index.js';
import { hwmonSource } from '../../../collector/sources/hwmon/index.js';
import { raplSource } from '../../../collector/sources/rapl/index.js';
import type { Sample } from '../../../common/model.js';
import { lineProblem, toLines } from '../../../common/storage/line-protocol.js';
import { prng } from '../../helpers.js';
import { configFor, recordingLogger } from '../fixtures.js';

const CASES = 120;

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

function randomBytes(r: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Text a driver, a broken driver or a stray file might hold where a name or label belongs. */
function someText(r: Rand, good: string): string | Buffer {
  switch (Math.floor(r() * 9)) {
    case 0:
      return Buffer.concat([Buffer.from(`${good}\n`), Buffer.alloc(4096 - good.length - 1)]); // NUL-padded, as a real amdgpu name
    case 1:
      return randomBytes(r, 1 + Math.floor(r() * 40));
    case 2:
      return '';
    case 3:
      return 'x'.repeat(200_000); // not a sysfs attribute
    case 4:
      return `${good}\u0007\u001b[31m`;
    case 5:
      return `${good}\\`;
    case 6:
      return `\u0000${good}`;
    default:
      return `${good}\n`;
  }
}

/** What may sit where a number belongs. */
function someNumber(r: Rand): string | Buffer {
  switch (Math.floor(r() * 12)) {
    case 0:
      return randomBytes(r, 1 + Math.floor(r() * 64));
    case 1:
      return '';
    case 2:
      return '9'.repeat(400);
    case 3:
      return 'NaN\n';
    case 4:
      return '0x1F\n';
    case 5:
      return '-5000000\n';
    case 6:
      return `${Math.floor(r() * 1e6)}\u0000\u0000\u0000`;
    case 7:
      return '1e308\n';
    case 8:
      return '0\n';
    default:
      return `${Math.floor(r() * 3e8)}\n`;
  }
}

const write = (path: string, content: string | Buffer) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
};

/** A generated /sys, beside one well-formed sensor: the files that hold values. */
function generate(seed: number, root: string): { valueFiles: string[] } {
  const r = prng(seed);
  const valueFiles: string[] = [];
  const hwmon = join(root, 'sys', 'class', 'hwmon');
  // one sensor nobody breaks: a board at 5 W
  const good = join(hwmon, 'hwmon0', 'power1_input');
  write(join(hwmon, 'hwmon0', 'name'), 'goodchip\n');
  write(good, '5000000\n');
  const chips = 1 + Math.floor(r() * 4);
  for (let c = 1; c <= chips; c++) {
    const dir = join(hwmon, `hwmon${c}`);
    write(join(dir, 'name'), someText(r, pick(r, ['amdgpu', 'xe', 'i915', 'ina3221', 'amd_energy', 'power_meter', 'nct6775'])));
    const sensors = 1 + Math.floor(r() * 4);
    for (let s = 1; s <= sensors; s++) {
      const kind = pick(r, ['power_input', 'power_average', 'energy', 'rail']);
      const files = kind === 'rail' ? [`in${s}_input`, `curr${s}_input`] : [kind === 'energy' ? `energy${s}_input` : `power${s}_${kind.slice(6)}`];
      for (const f of files) {
        const path = join(dir, f);
        if (r() < 0.05) mkdirSync(path, { recursive: true }); // a directory where a value belongs
        else {
          write(path, someNumber(r));
          valueFiles.push(path);
        }
      }
      if (r() < 0.6) write(join(dir, `${kind === 'energy' ? 'energy' : kind === 'rail' ? 'curr' : 'power'}${s}_label`), someText(r, pick(r, ['card', 'pkg', 'VDD_IN', 'VDD_GPU', 'Esocket0', 'PPT'])));
    }
    if (r() < 0.3) symlinkSync(join(root, 'nowhere'), join(dir, 'device')); // a dangling device link
  }
  const powercap = join(root, 'sys', 'class', 'powercap');
  for (let z = 0; z < Math.floor(r() * 3); z++) {
    const dir = join(powercap, `intel-rapl:${z}`);
    write(join(dir, 'name'), someText(r, `package-${z}`));
    write(join(dir, 'energy_uj'), someNumber(r));
    write(join(dir, 'max_energy_range_uj'), someNumber(r));
    valueFiles.push(join(dir, 'energy_uj'));
  }
  const supply = join(root, 'sys', 'class', 'power_supply');
  if (r() < 0.5) {
    const dir = join(supply, pick(r, ['BAT0', 'BAT\u00071', 'BAT 2']));
    write(join(dir, 'type'), someText(r, 'Battery'));
    write(join(dir, 'status'), someText(r, 'Discharging'));
    write(join(dir, 'power_now'), someNumber(r));
    valueFiles.push(join(dir, 'power_now'));
  }
  return { valueFiles };
}

describe(`the sysfs sources over ${CASES} generated broken trees`, () => {
  it('never throw, emit only writable points, keep the good sensor, and say each problem once', async () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const root = mkdtempSync(join(tmpdir(), `wattscope-fuzz-${seed}-`));
      try {
        const { valueFiles } = generate(seed, root);
        const r = prng(seed * 7919);
        const log = recordingLogger();
        const config = configFor(root);
        const resources = new SharedResources(log);
        const problems: string[] = [];
        const sources = await discoverSources(config, { hostTags: { host: 'fuzz', platform: 'fuzz' }, log, resources, factories: [raplSource, hwmonSource, batterySource], onProblem: (source, kind, key) => problems.push(`${source} ${kind} ${key}`) });
        const ids = sources.flatMap((s) => s.channels().map((c) => c.id));
        expect(ids, `seed ${seed}`).toContain('hwmon/goodchip-0/power1');
        // between discovery and reading, files vanish and turn to garbage
        for (const f of valueFiles) {
          const x = r();
          if (x < 0.2) unlinkSync(f);
          else if (x < 0.4) writeFileSync(f, someNumber(r));
        }
        const out: Sample[] = [];
        const clock = { t: 0 };
        const agent = new Agent({ sources, hostTags: { host: 'fuzz', platform: 'fuzz' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => out.push(...s), metrics: new CollectorMetrics(), log, now: () => clock.t, wallNow: () => 1_800_000_000_000 + clock.t });
        for (let k = 0; k <= 20; k++) {
          clock.t = k * 100;
          agent.sample(clock.t);
          if (k % 10 === 0 && k > 0) agent.report();
        }
        // everything can be written, without a refusal handler: it would throw otherwise
        const lines = toLines(out);
        for (const l of lines) expect(lineProblem(l), `seed ${seed}: ${l}`).toBeUndefined();
        const goodPoints = out.filter((s) => s.tags.source === 'hwmon/goodchip-0/power1');
        expect(goodPoints, `seed ${seed}`).toHaveLength(2);
        for (const p of goodPoints) expect(p.fields.power_w).toBeCloseTo(5, 9);
        // each problem said once: no message twice
        const messages = log.lines.map((l) => l.message);
        expect(new Set(messages).size, `seed ${seed}: ${messages.join('\n')}`).toBe(messages.length);
        // a problem at discovery names its file, once, and is counted once
        expect(new Set(problems).size).toBe(problems.length);
        for (const s of sources) await s.close?.();
        resources.close();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  }, 120_000);
});
