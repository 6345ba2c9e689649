/** `wattscope up`: the whole local stack from one command, stopped cleanly, restarted on the same data. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../common/influxd.js';
import { waitFor } from '../helpers.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;

async function startUp(home: string, ports: { api: number; collector: number; influx: number }) {
  const child = spawn(process.execPath, [BIN, 'up', '--influx-port', String(ports.influx)], {
    env: { PATH: process.env.PATH, HOME: home, WATTSCOPE_API_PORT: String(ports.api), WATTSCOPE_COLLECTOR_PORT: String(ports.collector) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.api}/healthz`)).ok, 60_000, `the API of wattscope up:\n${out}`);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.collector}/healthz`)).ok, 30_000, `the collector of wattscope up:\n${out}`);
  return { child, exited, output: () => out };
}

describe('wattscope up', () => {
  it('runs InfluxDB, collector and API; refuses a second instance; stops cleanly; keeps its data across restarts', async () => {
    const home = mkdtempSync(join(tmpdir(), 'wattscope-up-'));
    const ports = { api: await freePort(), collector: await freePort(), influx: await freePort() };
    const first = await startUp(home, ports);
    const api = `http://127.0.0.1:${ports.api}`;
    const created = await fetch(`${api}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'kept' }) });
    expect(created.status).toBe(201);
    const { run_id } = (await created.json()) as { run_id: string };
    // the collector writes into the stack's InfluxDB
    await waitFor(async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${ports.collector}/metrics`)).text();
      return /wattscope_collector_points_written_total [1-9]/.test(metrics);
    }, 15_000, 'points written by the collector');

    const second = spawnSync(process.execPath, [BIN, 'up'], { env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8', timeout: 20_000 });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/already running \(pid \d+/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/stopped/);
    await expect(fetch(`${api}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${ports.influx}/ping`)).rejects.toThrow();

    const again = await startUp(home, ports);
    try {
      const run = await fetch(`${api}/api/runs/${run_id}`);
      expect(run.status).toBe(200);
      expect(((await run.json()) as { model: string }).model).toBe('kept');
    } finally {
      again.child.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    }
  }, 180_000);

  it('prints help for every command', () => {
    for (const cmd of ['up', 'collect', 'serve']) {
      const r = spawnSync(process.execPath, [BIN, cmd, '--help'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: wattscope ${cmd}`));
    }
    const top = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(top.stdout).toMatch(/Commands:\n {2}up/);
    const bad = spawnSync(process.execPath, [BIN, 'frobnicate'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
