/** The real `wattscope collect` process and a stand-in for RAPL hardware, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

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
 * fixed width, as sysfs presents a changing attribute.
 */
export function startRaplDriver(file: string, watts: number, startUj: number, rangeUj: number): { stop(): Promise<void> } {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
    const t0 = process.hrtime.bigint();
    let stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const step = () => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const uj = Math.floor((${startUj} + ${watts} * s * 1e6) % ${rangeUj});
      fs.writeSync(fd, String(uj).padStart(20, '0') + '\\n', 0);
      if (!stop) setTimeout(step, 1); else process.exit(0);
    };
    step();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** One scrape of the collector's /metrics, with when it began and ended (wall clock). */
export interface Scrape {
  text: string;
  startMs: number;
  endMs: number;
}

export async function scrapeMetrics(port: number): Promise<Scrape> {
  const startMs = Date.now();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { text, startMs, endMs: Date.now() };
}

/** The value of the one sample of `name` with exactly these labels in a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]);
    if (JSON.stringify(got.sort()) === want) values.push(Number(m[3]));
  }
  if (values.length > 1) throw new Error(`${name} ${want} appears ${values.length} times`);
  return values[0];
}

/**
 * The collector's power gauge for the RAPL package, against the points it stored: the gauge
 * holds the power of the interval last reported before the scrape, so it is exactly the power_w
 * of the last point stored at or before the scrape began, or of one stored while it ran; and, as
 * every point in the end-to-end tests, it is within a quarter of the driven power (the stand-in's
 * 1 ms steps run late now and then on a busy machine; the stored points' median is checked to 1 %).
 */
export function expectPackageGauge(scrape: Scrape, rows: ReadonlyArray<{ time: number; power_w: number }>, watts: number): void {
  const gauge = metricValue(scrape.text, 'wattscope_power_watts', { source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: 'true' });
  expect(gauge, 'wattscope_power_watts of rapl/package-0').toBeTypeOf('number');
  expect(Math.abs((gauge as number) - watts) / watts).toBeLessThan(0.25);
  const lastBefore = rows.filter((r) => r.time <= scrape.startMs).at(-1);
  const during = rows.filter((r) => r.time > scrape.startMs && r.time <= scrape.endMs);
  expect(lastBefore, 'a point stored before the scrape').toBeDefined();
  expect([lastBefore, ...during].map((r) => r?.power_w), 'the gauge is the power of the last reported interval').toContain(gauge);
}
