/** The real `wattscope collect` process and a stand-in for RAPL hardware, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { aheadOfTheSuite } from '../priority.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;

export interface CollectorProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `wattscope collect` on a fixture host, as a user runs it: every setting at its default but
 * what pins it to this test — the fixture's /proc and /sys (a container sets these too), its own
 * spool (in the fixture's copy, as HOME is), a free port, a host name that names the test.
 */
export function collectorEnv(root: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: root,
    WATTSCOPE_PROCFS_ROOT: join(root, 'proc'),
    WATTSCOPE_SYSFS_ROOT: join(root, 'sys'),
    WATTSCOPE_COLLECTOR_PORT: '0',
    WATTSCOPE_HOST: 'e2e-host',
    ...env,
  };
}

/** The default spool directory of a collector started with `root` as its HOME. */
export function defaultSpoolDir(root: string): string {
  return join(root, '.local', 'share', 'wattscope', 'spool');
}

export const COLLECT_ARGS = [BIN, 'collect'];

export async function spawnCollector(root: string, env: Record<string, string>): Promise<CollectorProcess> {
  const child = spawn(process.execPath, COLLECT_ARGS, { env: collectorEnv(root, env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /serving \/metrics and \/healthz on http:\/\/[\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', () => reject(new Error(`collector exited:\n${out}`)));
  });
  return {
    child,
    port,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/**
 * Advances a RAPL counter at a known power in 1 ms steps, from a process of its own: the file
 * holds E0 + P × t (µJ, modulo the counter's range), rewritten in place in one write of a
 * fixed width, as sysfs presents a changing attribute. `resetAfterS`: at that time the counter
 * starts again from 0, as after a driver reload.
 */
export function startRaplDriver(file: string, watts: number, startUj: number, rangeUj: number, opts: { resetAfterS?: number } = {}): { stop(): Promise<void> } {
  const reset = opts.resetAfterS ?? Infinity;
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
    const t0 = process.hrtime.bigint();
    let stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const step = () => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const uj = s < ${reset} ? Math.floor((${startUj} + ${watts} * s * 1e6) % ${rangeUj}) : Math.floor(${watts} * (s - ${reset}) * 1e6);
      fs.writeSync(fd, String(uj).padStart(20, '0') + '\\n', 0);
      if (!stop) setTimeout(step, 1); else process.exit(0);
    };
    step();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  aheadOfTheSuite(child.pid);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
