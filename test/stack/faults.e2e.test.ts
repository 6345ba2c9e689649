/**
 * Faults of the real world, on the services as a user deploys them — `wattscope collect` and
 * `wattscope serve` on their defaults — against a real influxd with authentication on, as a
 * production InfluxDB is: a user that is no admin (`GRANT ALL ON wattscope`), its password given
 * in WATTSCOPE_INFLUX_URL, rotated while the services run; InfluxDB hung (SIGSTOP); SIGHUP to
 * both services; a database that does not exist and the user may not create. A RAPL counter is
 * driven at a known 40 W on the collector's fixture host.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { startInfluxd, type InfluxdHandle } from '../../common/influxd.js';
import { copyHost } from '../collector/fixtures.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from '../collector/power-points.js';
import { spawnCollector, startRaplDriver, type CollectorProcess } from '../collector/process.js';
import { runProcess, waitFor } from '../helpers.js';
import { spawnApi, type ApiProcess } from './api-process.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const ADMIN = 'admin:adm1n-pw';
/** distinctive enough that finding it anywhere is a leak; with characters a URL must encode */
const PASSWORD = 'Rnr#9f3e/s3cret';
/** desktop-intel's in-total sources: the RAPL package (driven) and the amdgpu board's 23 W (its file stands still) */
const HOST_W = 40 + 23;

let influx: InfluxdHandle;
let dir: string;
let root: string;
let driver: { stop(): Promise<void> };
let collector: CollectorProcess;
let api: ApiProcess;

/** An InfluxQL statement as the admin. */
async function asAdmin(q: string): Promise<void> {
  const res = await fetch(`${influx.url}/query`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(ADMIN).toString('base64')}` }, body: new URLSearchParams({ q }) });
  const body = await res.text();
  if (res.status !== 200 || body.includes('"error"')) throw new Error(`${q}: ${res.status} ${body}`);
}

const urlWithPassword = (password: string) => `http://runner:${encodeURIComponent(password)}@127.0.0.1:${influx.port}`;

/** A process's state letter from /proc (R running, S sleeping, T stopped, …). */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(') ') + 2, stat.lastIndexOf(') ') + 3);
}

async function get(url: string): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text(), ms: performance.now() - started };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattscope-faults-'));
  influx = await startInfluxd({ bin: inject('influxdBin'), dir, auth: true });
  // 1.x with auth and no user yet takes only the creation of an admin
  const created = await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE USER admin WITH PASSWORD '${ADMIN.split(':')[1]}' WITH ALL PRIVILEGES` }) });
  expect(created.status).toBe(200);
  await asAdmin('CREATE DATABASE wattscope');
  await asAdmin(`CREATE USER runner WITH PASSWORD '${PASSWORD}'`);
  await asAdmin('GRANT ALL ON wattscope TO runner');

  root = copyHost('desktop-intel');
  driver = startRaplDriver(join(root, PKG_ENERGY), 40, 1e9, RAPL_RANGE_UJ);
  // all a user sets: where InfluxDB is, with the credentials in the URL, and this machine's name
  collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: urlWithPassword(PASSWORD), WATTSCOPE_HOST: 'fault-host' });
  api = await spawnApi({ PATH: process.env.PATH, HOME: root, WATTSCOPE_INFLUX_URL: urlWithPassword(PASSWORD), WATTSCOPE_API_PORT: '0' });
}, 90_000);

afterAll(async () => {
  if (influx) process.kill(influx.pid, 'SIGCONT');
  await api?.stop();
  await collector?.stop();
  await driver?.stop();
  await influx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a user with GRANT ALL on the database (no admin), its password in WATTSCOPE_INFLUX_URL', () => {
  it('both services use it: the collector writes, the API measures a run within 1 %; and the password shows nowhere', async () => {
    const clientEnv = { PATH: process.env.PATH, HOME: root, WATTSCOPE_API_URL: api.url, WATTSCOPE_HOST: 'fault-host' };
    const r = await runProcess(process.execPath, [BIN, 'run', '--model', 'least-privilege', '--json', '--', 'sleep', '4'], { env: clientEnv, timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.partial).toBe(false);
    expect(Math.abs((s.energy_j as number) - HOST_W * (s.duration_s as number)) / (HOST_W * (s.duration_s as number))).toBeLessThan(0.01);

    // every output channel of both services, and what the browser gets
    const outputs: Array<[string, string]> = [
      ['collector log', collector.output()],
      ['API log', api.output()],
      ['wattscope run', r.stdout + r.stderr],
    ];
    for (const path of ['/healthz', '/metrics']) outputs.push([`collector ${path}`, (await get(`http://127.0.0.1:${collector.port}${path}`)).text]);
    for (const path of ['/healthz', '/metrics', '/api/hosts', `/api/runs/${s.run_id}`, '/', '/docs/json']) outputs.push([`API ${path}`, (await get(`${api.url}${path}`)).text]);
    const page = outputs.find(([what]) => what === 'API /')?.[1] ?? '';
    for (const script of page.matchAll(/src="([^"]+)"/g)) outputs.push([`page ${script[1]}`, (await get(new URL(script[1] as string, api.url).href)).text]);
    expect(outputs.length).toBeGreaterThan(10);
    for (const [what, text] of outputs) {
      expect(text.length, what).toBeGreaterThan(0);
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 's3cret']) expect(text.includes(secret), `${what} shows the password`).toBe(false);
    }
    expect(api.output()).toMatch(/API listening on .* influxdb=http:\/\/127\.0\.0\.1:\d+ /);
    expect(collector.output()).toMatch(/writing to InfluxDB 1\.6\.\S+ at http:\/\/127\.0\.0\.1:\d+, database "wattscope"/);
  }, 90_000);
});

describe('signals', () => {
  it('SIGHUP: both services log it and go on', async () => {
    for (const child of [collector.child, api.child]) child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 1500));
    expect(collector.child.exitCode).toBeNull();
    expect(api.child.exitCode).toBeNull();
    expect(collector.output()).toMatch(/\[collector\] SIGHUP received: still running/);
    expect(api.output()).toMatch(/\[api\] SIGHUP received: still running/);
    expect((await get(`${api.url}/healthz`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${collector.port}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe('the password rotated while the services run', () => {
  it('the API’s /healthz turns 503 with the reason, and its data routes answer 503; healthy again once it is back', async () => {
    await asAdmin(`SET PASSWORD FOR runner = 'rotated-pw'`);
    try {
      const health = await get(`${api.url}/healthz`);
      expect(health.status).toBe(503);
      const body = JSON.parse(health.text) as { influxdb: { reachable: boolean; state: string; error: string } };
      expect(body.influxdb.reachable).toBe(true);
      expect(body.influxdb.state).toBe('unauthorized');
      expect(body.influxdb.error).toMatch(/refused the credentials \(401/);
      expect((await get(`${api.url}/api/runs`)).status).toBe(503);
    } finally {
      await asAdmin(`SET PASSWORD FOR runner = '${PASSWORD}'`);
    }
    expect((await get(`${api.url}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe('InfluxDB hung (SIGSTOP)', () => {
  it('/healthz answers within 2 s, unhealthy; data routes fail at once with 503 instead of each waiting 10 s; all well once it goes on', async () => {
    process.kill(influx.pid, 'SIGSTOP');
    // a stop takes effect once each of its threads is scheduled: on a busy machine influxd was
    // seen still running (state R) and answering 16 ms after the signal, so wait for state T
    await waitFor(async () => processState(influx.pid) === 'T', 10_000, `influxd ${influx.pid} stopped`);
    try {
      const health = await get(`${api.url}/healthz`);
      // the check's own bound (2 s) and the request's way through a loaded machine
      expect(health.ms).toBeLessThan(3000);
      expect(health.status, `${health.text} after ${Math.round(health.ms)} ms; influxd ${influx.pid} is in state ${processState(influx.pid)}`).toBe(503);
      expect((JSON.parse(health.text) as { influxdb: { state: string } }).influxdb.state).toBe('timeout');
      const runs = await Promise.all([1, 2, 3, 4].map(() => get(`${api.url}/api/runs`)));
      for (const r of runs) {
        expect(r.status).toBe(503);
        expect(r.ms).toBeLessThan(1000);
      }
      const again = await get(`${api.url}/healthz`);
      expect(again.status).toBe(503);
      expect(again.ms).toBeLessThan(1000);
    } finally {
      process.kill(influx.pid, 'SIGCONT');
    }
    // the prober pings every second: healthy again within a few
    await waitFor(async () => (await get(`${api.url}/healthz`)).status === 200, 15_000, 'the API healthy again');
    expect(api.output()).toMatch(/did not answer in time; requests fail at once/);
    expect(api.output()).toMatch(/answers again/);
    expect((await get(`${api.url}/api/runs`)).status).toBe(200);
  }, 60_000);
});

describe('a database that does not exist, and a user that may not create it', () => {
  it('the collector says who must create it, keeps spooling and stays up; the API says so in /healthz', async () => {
    const other = copyHost('vm-epyc');
    const env = { WATTSCOPE_INFLUX_URL: urlWithPassword(PASSWORD), WATTSCOPE_INFLUX_DB: 'not_created' };
    const c = await spawnCollector(other, { ...env, WATTSCOPE_HOST: 'no-db-host' });
    const a = await spawnApi({ PATH: process.env.PATH, HOME: other, ...env, WATTSCOPE_API_PORT: '0' });
    try {
      // (a log line's value is JSON: its quotes come escaped)
      await waitFor(async () => /cannot create the database \\"not_created\\"/.test(c.output()), 20_000, `the collector's message:\n${c.output()}`);
      expect(c.output()).toMatch(/Ask an admin to create it \(1\.x: CREATE DATABASE \\"not_created\\"/);
      expect(c.output()).not.toMatch(/get read\/write access|read\/write access to/);
      expect(c.child.exitCode).toBeNull();
      const spooled = await get(`http://127.0.0.1:${c.port}/healthz`);
      expect((JSON.parse(spooled.text) as { spool_pending_bytes: number }).spool_pending_bytes).toBeGreaterThan(0);
      const health = await get(`${a.url}/healthz`);
      expect(health.status).toBe(503);
      const body = JSON.parse(health.text) as { influxdb: { state: string; error: string } };
      expect(body.influxdb.state).toBe('forbidden');
      expect(body.influxdb.error).toMatch(/or it does not exist/);
      // once an admin creates it, the spooled points land
      await asAdmin('CREATE DATABASE not_created');
      await asAdmin('GRANT ALL ON not_created TO runner');
      await waitFor(async () => (await get(`http://127.0.0.1:${c.port}/metrics`)).text.match(/^wattscope_collector_points_written_total ([1-9]\d*)/m) !== null, 30_000, 'points written once the database exists');
      expect((await get(`${a.url}/healthz`)).status).toBe(200);
    } finally {
      await a.stop();
      await c.stop();
    }
  }, 90_000);
});

describe('the collector with the least right: GRANT WRITE only', () => {
  it('writes its points, without asking to read or create anything', async () => {
    await asAdmin(`CREATE USER collector_only WITH PASSWORD '${PASSWORD}'`);
    await asAdmin('GRANT WRITE ON wattscope TO collector_only');
    const c = await spawnCollector(copyHost('vm-epyc'), { WATTSCOPE_INFLUX_URL: `http://collector_only:${encodeURIComponent(PASSWORD)}@127.0.0.1:${influx.port}`, WATTSCOPE_HOST: 'write-only-host' });
    try {
      await waitFor(async () => /^wattscope_collector_points_written_total [1-9]/m.test((await get(`http://127.0.0.1:${c.port}/metrics`)).text), 20_000, `points written:\n${c.output()}`);
      expect(c.output()).not.toMatch(/WARN|ERROR/);
      const health = await get(`http://127.0.0.1:${c.port}/healthz`);
      expect(health.status).toBe(200);
      expect((JSON.parse(health.text) as { influx: { state: string } }).influx.state).toBe('ok');
    } finally {
      await c.stop();
    }
  }, 60_000);
});

describe('settings that cannot be right', () => {
  it('credentials both in the URL and in WATTSCOPE_INFLUX_TOKEN: both services refuse to start, saying so, showing no password', () => {
    for (const command of ['collect', 'serve']) {
      const r = spawnSync(process.execPath, [BIN, command], {
        env: { PATH: process.env.PATH, HOME: mkdtempSync(join(tmpdir(), 'wattscope-faults-home-')), WATTSCOPE_INFLUX_URL: urlWithPassword(PASSWORD), WATTSCOPE_INFLUX_TOKEN: 'another-token', WATTSCOPE_COLLECTOR_PORT: '0', WATTSCOPE_API_PORT: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, command).not.toBe(0);
      expect(r.stderr, command).toMatch(/carries credentials .* and WATTSCOPE_INFLUX_TOKEN is set too/);
      expect(r.stderr, command).toContain('runner:***@');
      expect(r.stderr.includes('s3cret') || r.stderr.includes(encodeURIComponent(PASSWORD)), command).toBe(false);
    }
  }, 60_000);
});
