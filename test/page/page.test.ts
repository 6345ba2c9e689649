/**
 * The built-in live page in a real browser (Debian's Chromium through playwright-core), fed by
 * a real collector process and the real API over the real influxd.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, iql } from '../../common/storage/index.js';
import { copyHost } from '../collector/fixtures.js';
import { spawnCollector, type CollectorProcess } from '../collector/process.js';
import { liveServer, type LiveServer } from '../clients/server.js';
import { runProcess, waitFor } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;

let server: LiveServer;
let collector: CollectorProcess;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error('the page tests need Debian’s Chromium: apt-get install -y chromium');
  server = await liveServer('page');
  collector = await spawnCollector(copyHost('desktop-intel'), { WATTSCOPE_INFLUX_URL: server.store.settings.url, WATTSCOPE_INFLUX_DB: server.store.db, WATTSCOPE_HOST: 'page-host' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await collector?.stop();
  await server?.close();
});

/** Time of the newest power point in InfluxDB, and when this test first saw it there. */
async function newestPoint(): Promise<{ time: number; seenAt: number }> {
  const [row] = await server.store.rows(iql`SELECT last(${ident('power_w')}) FROM ${ident('power')}`);
  return { time: typeof row?.time === 'number' ? row.time : 0, seenAt: Date.now() };
}

describe('live page', () => {
  it('shows a new point within 3 s of the collector writing it, lists a CLI run with its score, opens its detail', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(server.url);
    await page.waitForSelector('#live-chart canvas');
    await waitFor(async () => (await page.locator('#status').getAttribute('data-state')) === 'live', 10_000, 'the live stream');

    // three times: the newest point in InfluxDB reaches the chart within 3 s
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = await newestPoint();
      const next = await waitFor(async () => {
        const p = await newestPoint();
        return p.time > before.time ? p : undefined;
      }, 5_000, 'a new point in InfluxDB');
      await waitFor(async () => Number(await page.locator('#live-chart').getAttribute('data-last-time')) >= next.time / 1000, 3_000, `point ${next.time} on the chart`);
      delays.push(Date.now() - next.seenAt);
    }
    expect(Math.max(...delays)).toBeLessThan(3000);
    // the in_total sources add up to a total on the page
    expect(await page.locator('#total').textContent()).toMatch(/^\d+(\.\d)? W$/);

    // a run started from the CLI appears in the table with its score
    const done = await runProcess(process.execPath, [BIN, 'run', '--model', 'page-model', '--inferences', '1000', '--accuracy', '0.9', '--', 'sleep', '2'], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'page-host' },
    });
    expect(done.status).toBe(0);
    const row = page.locator('#runs tbody tr', { hasText: 'page-model' });
    // the table refreshes every 3 s: the run shows up, then as completed with its score
    const cells = await waitFor(async () => {
      const c = await row.locator('td').allTextContents();
      return c[3] === 'completed' ? c : undefined;
    }, 10_000, 'the CLI run, completed, in the runs table');
    expect(Number(cells[9]?.replace(/,/g, ''))).toBeGreaterThan(0); // composite score
    expect(cells[8]).toBe('0.9');

    // sorting by a column puts the header in order
    await page.locator('#runs th[data-key="model"]').click();
    expect(await page.locator('#runs th[data-key="model"]').getAttribute('aria-sort')).toBe('descending');

    await row.click();
    await page.locator('#detail:not([hidden]) #run-chart canvas').waitFor({ timeout: 10_000 });
    expect(await page.locator('#detail-values').textContent()).toMatch(/composite score/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-page.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
    // nothing but this server was asked for anything, and no secret reaches the page
    expect(requests.every((u) => u.startsWith(server.url))).toBe(true);
    expect(await page.content()).not.toMatch(/token/i);
  }, 90_000);

  it('runs one query per second for all viewers together', async () => {
    const pages = await Promise.all([0, 1, 2].map(() => browser.newPage()));
    await Promise.all(pages.map((p) => p.goto(server.url)));
    await waitFor(async () => server.app.hub.viewerCount >= 3, 10_000, 'three viewers');
    const q0 = server.app.hub.queries;
    await new Promise((r) => setTimeout(r, 5000));
    const perSecond = (server.app.hub.queries - q0) / 5;
    expect(perSecond).toBeGreaterThan(0.6);
    expect(perSecond).toBeLessThan(1.4);
    await Promise.all(pages.map((p) => p.close()));
  }, 30_000);
});
