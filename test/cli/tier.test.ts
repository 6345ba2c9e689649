/**
 * `wattscope collect` runs on V8's interpreter and baseline compiler (cli/tier.ts): set by
 * bin/wattscope.js before anything is compiled, for that command only, and not over a tiering
 * flag the user gave node. Checked in child processes (the flag is process-wide) with V8's own
 * report of a hot function's tier.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const TIER = new URL('../../dist/cli/tier.js', import.meta.url).href;

/** In a fresh node: tiersFor(argv), then a hot function, and whether V8 optimised it (TurboFan or Maglev). */
function run(argv: string[], nodeFlags: string[] = []): { set: boolean; optimized: boolean } {
  const script = `
    const { tiersFor } = await import(${JSON.stringify(TIER)});
    const set = tiersFor(${JSON.stringify(argv)});
    function hot(x) { let s = 0; for (let i = 0; i < 500; i++) s += Math.sqrt(i * x); return s; }
    let t = 0;
    for (let i = 0; i < 30000; i++) t += hot(i);
    // V8's OptimizationStatus: bit 4 (16) optimised (by Maglev, bit 5, or TurboFan, bit 6); bit 15 baseline
    const status = %GetOptimizationStatus(hot);
    if (!(t > 0)) throw new Error('the hot function did not run');
    console.log(JSON.stringify({ set, optimized: (status & 16) !== 0 }));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim()) as { set: boolean; optimized: boolean };
}

describe('V8 tiers per command', () => {
  it('keeps `collect` off the optimising compilers, and every other command on them', () => {
    expect(run(['collect'])).toEqual({ set: true, optimized: false });
    expect(run(['serve'])).toEqual({ set: false, optimized: true });
    expect(run([])).toEqual({ set: false, optimized: true });
  });

  it('leaves a tiering flag the user gave node as it is', () => {
    expect(run(['collect'], ['--max-opt=3'])).toEqual({ set: false, optimized: true });
  });
});
