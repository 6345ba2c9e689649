import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, inject } from 'vitest';
import { InfluxStore, type InfluxSettings } from '../common/storage/index.js';

/** Settings for a fresh database of its own on the suite's real influxd. */
export function testSettings(prefix: string, url = inject('influxUrl')): InfluxSettings {
  return { url, org: '', db: `t_${prefix}_${randomBytes(4).toString('hex')}`, timeoutMs: 10_000 };
}

export async function testStore(prefix: string, url?: string): Promise<InfluxStore> {
  return InfluxStore.open(testSettings(prefix, url));
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export interface Completed {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a process to completion without blocking this one (the API under test may live in the
 * test's own process and must go on answering).
 */
export function runProcess(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Completed> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** mulberry32: a small seeded PRNG, so a failure can be replayed */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A describe whose tests run side by side on a quiet machine — for tests of one file that only
 * wait (on a collector's reports, an outage, a stop) and share nothing: each its own fixture
 * host, database and stand-ins — and one after another on a busy one (test/setup/load.ts).
 */
export function sideBySide(name: string, tests: () => void): void {
  if (process.env.WATTSCOPE_TEST_SIDE_BY_SIDE === '0') describe(name, tests);
  else describe.concurrent(name, tests);
}
