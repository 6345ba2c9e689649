/**
 * The collector, on its defaults, when InfluxDB goes away: a 70 s outage (health says since
 * when, turns unhealthy after 60 s, healthy again once points land), and a database that is
 * dropped under it (created again, no restart).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { startInfluxd } from '../../common/influxd.js';
import { InfluxStore, ident, iql } from '../../common/storage/index.js';
import { sideBySide, testSettings, waitFor } from '../helpers.js';
import { copyHost } from './fixtures.js';
import { spawnCollector, startRaplDriver } from './process.js';
import { energyBound, energyError, gaps, metricValue, PKG_ENERGY, RAPL_RANGE_UJ, sourcePoints } from './power-points.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Health {
  status: string;
  influx: { state: string; since?: string; seconds?: number; error?: string | null };
}

async function health(port: number): Promise<{ code: number; body: Health }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { code: res.status, body: (await res.json()) as Health };
}

// each test on its own fixture host and influxd or database: they wait side by side (on a quiet machine)
sideBySide('wattscope collect: InfluxDB goes away', () => {
  it('says since when InfluxDB is unreachable, turns unhealthy after 60 s of it, and healthy again once points land', async () => {
    const root = copyHost('desktop-intel');
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-outage-'));
    const bin = inject('influxdBin');
    let server = await startInfluxd({ bin, dir });
    const port = server.port;
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 1e9, RAPL_RANGE_UJ);
    const collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: server.url, WATTSCOPE_INFLUX_DB: 'outage' });
    try {
      await waitFor(async () => (await health(collector.port)).body.influx.state === 'ok', 15_000, 'the first points to land');
      await server.stop();
      const downAt = Date.now();
      await sleep(30_000);
      const during = await health(collector.port);
      expect(during.code).toBe(200); // spooling goes on; 60 s is the default limit
      expect(during.body.influx.state).toBe('not taking points');
      expect(during.body.influx.error).toMatch(/cannot reach InfluxDB at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
      // the first failed send comes within one flush interval (5 s) of the stop
      const since = Date.parse(during.body.influx.since as string);
      expect(since).toBeGreaterThanOrEqual(downAt - 1000);
      expect(since).toBeLessThanOrEqual(downAt + 6_500);
      await waitFor(async () => (await health(collector.port)).code === 503, 45_000, 'the collector to turn unhealthy');
      const unhealthy = await health(collector.port);
      expect(unhealthy.body.status).toBe('degraded');
      expect(unhealthy.body.influx.seconds).toBeGreaterThanOrEqual(60);
      expect(Date.now() - since).toBeGreaterThanOrEqual(60_000);
      const metrics = await (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text();
      expect(metricValue(metrics, 'wattscope_collector_influx_unreachable_seconds')).toBeGreaterThan(60);

      server = await startInfluxd({ bin, dir, port });
      const backAt = Date.now();
      // the sender retries at most every 15 s
      await waitFor(async () => (await health(collector.port)).code === 200, 25_000, 'the collector to be healthy again');
      expect(Date.now() - backAt).toBeLessThan(20_000);
      expect((await health(collector.port)).body.influx).toEqual({ state: 'ok' });
      expect(await collector.stop()).toBe(0);
      const store = await InfluxStore.open({ url: server.url, org: '', db: 'outage', timeoutMs: 5000 });
      const pkg = await sourcePoints(store);
      expect(gaps(pkg)).toEqual([]);
      expect(energyError(pkg, 40)).toBeLessThan(energyBound(pkg));
      // the points span the outage, which lasted the 60 s to unhealthy and more
      expect((pkg.at(-1)!.time - pkg[0]!.time) / 1000).toBeGreaterThan(60);
    } finally {
      await collector.stop();
      await driver.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('creates a dropped database again and goes on writing, without a restart', async () => {
    const root = copyHost('desktop-intel');
    const settings = testSettings('e2e_dropdb');
    await InfluxStore.open(settings);
    // this test's own reads must not create the database again: only the collector may
    const store = await InfluxStore.open(settings, { createDatabase: false });
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 1e9, RAPL_RANGE_UJ);
    const collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db });
    try {
      await waitFor(async () => (await sourcePoints(store)).length >= 3, 15_000, 'the first points');
      await store.query(iql`DROP DATABASE ${ident(settings.db)}`, { db: false });
      const droppedAt = Date.now();
      // the next flush (within 5 s) finds no database, creates it and writes
      const after = await waitFor(async () => {
        const rows = await store.rows(iql`SELECT count(${ident('energy_j')}) AS n FROM ${ident('power')}`);
        return (rows[0]?.n as number) > 0 ? rows : undefined;
      }, 20_000, 'points in the new database');
      expect(after.length).toBe(1);
      expect(Date.now() - droppedAt).toBeLessThan(15_000);
      // eight seconds of points written since, however long a busy machine makes them take
      await waitFor(async () => (await sourcePoints(store)).filter((r) => r.time > droppedAt + 1000).length >= 8, 30_000, 'eight points after the drop');
      expect(await collector.stop()).toBe(0);
      expect(collector.output()).toMatch(/database "t_e2e_dropdb_\w+" was missing on http:\/\/127\.0\.0\.1:\d+ \(dropped\?\); created it again/);
      // from the drop on, nothing the collector wrote was lost
      const pkg = (await sourcePoints(store)).filter((r) => r.time > droppedAt + 1000);
      expect(pkg.length).toBeGreaterThanOrEqual(8);
      expect(gaps(pkg)).toEqual([]);
      expect(energyError(pkg, 40)).toBeLessThan(energyBound(pkg));
    } finally {
      await collector.stop();
      await driver.stop();
    }
  }, 60_000);
});
