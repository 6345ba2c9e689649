/**
 * A collector restarted while a run goes on, as deployed (defaults, its spool where it is by
 * default), RAPL driven at a known 40 W: the energy counter bridges the 15 s it was down, exactly;
 * after a reboot (another boot id) nothing is bridged. The fixture host is given the boot id a
 * real machine has (/proc/sys/kernel/random/boot_id); the amdgpu board's power is sampled, not a
 * counter, so its gap stays a gap and the run says partial, naming it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { InfluxStore, ident, iql, str } from '../../common/storage/index.js';
import { spawnApi, type ApiProcess } from '../stack/api-process.js';
import { testSettings, waitFor } from '../helpers.js';
import { copyHost } from './fixtures.js';
import { spawnCollector, startRaplDriver } from './process.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from './power-points.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let root: string;
let driver: { stop(): Promise<void> };
let api: ApiProcess;
let store: InfluxStore;
let influx: Record<string, string>;

function setBootId(id: string): void {
  mkdirSync(join(root, 'proc', 'sys', 'kernel', 'random'), { recursive: true });
  writeFileSync(join(root, 'proc', 'sys', 'kernel', 'random', 'boot_id'), `${id}\n`);
}

async function startRun(host: string): Promise<string> {
  const res = await fetch(`${api.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'restart', hosts: [host] }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { run_id: string }).run_id;
}

async function stopRun(runId: string): Promise<RunSummary> {
  const res = await fetch(`${api.url}/api/runs/${runId}/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(200);
  return (await res.json()) as RunSummary;
}

beforeAll(async () => {
  root = copyHost('desktop-intel');
  const settings = testSettings('e2e_restart');
  store = await InfluxStore.open(settings);
  influx = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
  driver = startRaplDriver(join(root, PKG_ENERGY), 40, 3e9, RAPL_RANGE_UJ);
  api = await spawnApi({ PATH: process.env.PATH, HOME: root, ...influx, WATTSCOPE_API_PORT: '0' });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await driver?.stop();
});

describe('a collector restarted during a run', () => {
  it('in the same boot: the RAPL counter bridges the 15 s it was down, the package’s energy within 1 %, marked bridged', async () => {
    setBootId(randomUUID());
    const env = { ...influx, WATTSCOPE_HOST: 'restarted' };
    const first = await spawnCollector(root, env);
    await sleep(3000);
    const runId = await startRun('restarted');
    await sleep(4000);
    expect(await first.stop()).toBe(0);
    await sleep(15_000);
    const second = await spawnCollector(root, env);
    try {
      // 15 s down, and the second start's own time: its first answer from the suite's busy influxd
      // once took 5.4 s, a bridge of 20.7 s
      expect(second.output()).toMatch(/restarted in the same boot: the energy counters bridge the (1[5-9]|[2-5]\d)\.\d s since their last readings/);
      await sleep(6000);
      const s = await stopRun(runId);
      const pkg = s.sources.find((x) => x.source === 'rapl/package-0');
      expect(pkg?.coverage).toBeGreaterThan(0.999);
      const seconds = s.duration_s as number;
      expect(seconds).toBeGreaterThan(24);
      expect(Math.abs((pkg?.energy_j as number) - 40 * seconds) / (40 * seconds)).toBeLessThan(0.01);
      // the sampled board cannot be bridged: the run says so, naming it
      expect(s.partial).toBe(true);
      expect(s.partial_sources).toEqual([expect.objectContaining({ host: 'restarted', source: 'hwmon/amdgpu-0/power1' })]);
      // one point carries the bridge, its interval the whole restart
      const rows = await store.rows<{ time: number; bridged_s: number; interval_s: number }>(
        iql`SELECT ${ident('bridged_s')}, ${ident('interval_s')} FROM ${ident('power')} WHERE ${ident('source')} = ${str('rapl/package-0')} AND ${ident('bridged_s')} > 0`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.bridged_s).toBeGreaterThan(15);
      expect(rows[0]?.interval_s).toBeGreaterThan(rows[0]?.bridged_s as number);
    } finally {
      await second.stop();
    }
  }, 90_000);

  it('after a reboot (another boot id): nothing is bridged', async () => {
    setBootId(randomUUID());
    const env = { ...influx, WATTSCOPE_HOST: 'rebooted' };
    const first = await spawnCollector(root, env);
    await sleep(3000);
    expect(await first.stop()).toBe(0);
    setBootId(randomUUID()); // the machine rebooted meanwhile
    const second = await spawnCollector(root, env);
    try {
      await waitFor(async () => /collecting host=rebooted/.test(second.output()), 10_000, 'the collector collecting');
      expect(second.output()).not.toMatch(/restarted in the same boot/);
      await sleep(3000);
    } finally {
      await second.stop();
    }
    const [r] = await store.query(iql`SELECT count(${ident('bridged_s')}) FROM ${ident('power')} WHERE ${ident('host')} = ${str('rebooted')}`);
    expect(r?.series ?? []).toEqual([]);
  }, 60_000);
});
