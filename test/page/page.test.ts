/**
 * The built-in live page in a real browser (Debian's Chromium through playwright-core), fed by
 * a real collector process and the real API over the real influxd.
 */
import { randomBytes } from 'node:crypto';
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

/** Secrets the server is started with: neither may reach the browser. */
const API_TOKEN = `page-api-token-${randomBytes(8).toString('hex')}`;
const INFLUX_TOKEN = `page-influx-token-${randomBytes(8).toString('hex')}`;

let server: LiveServer;
let collector: CollectorProcess;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error('the page tests need Debian’s Chromium: apt-get install -y chromium');
  server = await liveServer('page', { WATTSCOPE_API_TOKEN: API_TOKEN, WATTSCOPE_INFLUX_TOKEN: INFLUX_TOKEN });
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
    // everything that goes between the browser and the server: URLs, headers, bodies
    const requests: string[] = [];
    const traffic: string[] = [];
    const bodies: string[] = [];
    const unreadable: string[] = [];
    const pending: Array<Promise<unknown>> = [];
    page.on('request', (r) => {
      requests.push(r.url());
      traffic.push(`${r.method()} ${r.url()}\n${r.postData() ?? ''}`);
      pending.push(r.allHeaders().then((h) => traffic.push(JSON.stringify(h))));
    });
    page.on('response', (r) => {
      pending.push(
        (async () => {
          const headers = await r.allHeaders();
          traffic.push(JSON.stringify(headers));
          // the event stream never ends: its data is read from the server directly below
          if ((headers['content-type'] ?? '').startsWith('text/event-stream')) return;
          bodies.push((await r.body()).toString('utf8'));
        })().catch((e: unknown) => unreadable.push(`${r.url()}: ${String(e)}`)),
      );
    });
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
      }, 7_000, 'a new point in InfluxDB'); // the collector sends every 5 s (its default)
      await waitFor(async () => Number(await page.locator('#live-chart').getAttribute('data-last-time')) >= next.time / 1000, 3_000, `point ${next.time} on the chart`);
      delays.push(Date.now() - next.seenAt);
    }
    expect(Math.max(...delays)).toBeLessThan(3000);
    // the in_total sources add up to a total on the page: the fixture desktop's amdgpu board at
    // 23 W (averaged: its power1_average) and its RAPL package, whose counter stands still (0 W); the ACPI power
    // meter's 98 W and the nested RAPL zones are not added
    expect(await page.locator('#total').textContent()).toBe('23.0 W');

    // a run started from the CLI appears in the table with its score
    // (writes need the server's token)
    const refused = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'no-token' }) });
    expect(refused.status).toBe(401);
    const done = await runProcess(process.execPath, [BIN, 'run', '--model', 'page-model', '--inferences', '1000', '--accuracy', '0.9', '--', 'sleep', '2'], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'page-host', WATTSCOPE_API_TOKEN: API_TOKEN },
    });
    // off a terminal the CLI says once that it waits for the collector's last points
    expect(done.stderr).toBe("[wattscope] waiting for the collectors' last points…\n");
    expect(done.status).toBe(0);
    const row = page.locator('#runs tbody tr', { hasText: 'page-model' });
    // the columns come from the run's definition (GET /api/run-fields): found by their headers
    const headers = (await page.locator('#runs thead th').allTextContents()).map((h) => h.trim());
    const col = (name: string) => {
      expect(headers, `the runs list has a "${name}" column`).toContain(name);
      return headers.indexOf(name);
    };
    expect(headers).toEqual(expect.arrayContaining(['model', 'status', 'energy Wh', 'accuracy', 'composite', 'g CO₂', 'cost', 'overlay']));
    // the table refreshes every 3 s: the run shows up, then as completed with its score
    const cells = await waitFor(async () => {
      const c = await row.locator('td').allTextContents();
      return c[col('status')] === 'completed' ? c : undefined;
    }, 10_000, 'the CLI run, completed, in the runs table');
    // to the 4 decimals the run's definition lists accuracy with, as every other row of the column
    expect(cells[col('accuracy')]).toBe('0.9000');
    // 23 W over the run's duration (the API's, unrounded), to 1 %: a run may lack 1 % of its
    // window and still count as fully covered (FULL_COVERAGE), and the collector's points tile
    // time only to a few ms (their timestamps are wall-clock report times, their lengths are
    // measured on the monotonic clock), which at each edge of a 2 s run is a fraction of 1 %.
    // The page shows the energy to 4 digits and the composite score, 0.9² / mWh per inference
    // (Wh / 1000 inferences, in mWh: the energy's Wh), to 2 digits.
    const runId = await row.getAttribute('data-run-id');
    const duration = (await (await fetch(`${server.url}/api/runs/${runId}`)).json() as { duration_s: number }).duration_s;
    expect(duration).toBeGreaterThan(2);
    const energyWh = (23 * duration) / 3600;
    expect(Math.abs(Number(cells[col('energy Wh')]) - energyWh)).toBeLessThanOrEqual(0.01 * energyWh + 0.00005);
    const composite = 0.81 / energyWh;
    expect(Math.abs(Number(cells[col('composite')]?.replace(/,/g, '')) - composite)).toBeLessThanOrEqual(0.0102 * composite + 0.005);
    // its carbon at the documented default intensity (436 g/kWh), to the two digits shown
    expect(Math.abs(Number(cells[col('g CO₂')]) - (energyWh / 1000) * 436)).toBeLessThanOrEqual(0.01 * (energyWh / 1000) * 436 + 0.005);

    // sorting by a column puts the header in order
    await page.locator('#runs th[data-key="model"]').click();
    expect(await page.locator('#runs th[data-key="model"]').getAttribute('aria-sort')).toBe('descending');

    await row.click();
    await page.locator('#detail:not([hidden]) #run-chart canvas').waitFor({ timeout: 10_000 });
    const detail = await page.locator('#detail-values').textContent();
    expect(detail).toMatch(/composite score/);
    // every score of the run's definition has its line (a score added by CONTRIBUTING.md's recipe too)
    expect(detail).toMatch(/energy-delay product[\d.,]+ mJ·ms/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-page.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
    // nothing but this server was asked for anything
    expect(requests.filter((u) => !u.startsWith(server.url))).toEqual([]);
    // no secret reaches the page: not in what it shows or keeps, nor in any request or response
    await Promise.all(pending);
    expect(unreadable).toEqual([]);
    // (what was captured is the real traffic: the page itself, the runs with the CLI's run)
    expect(bodies.some((b) => b.includes('<title>Wattscope'))).toBe(true);
    expect(bodies.some((b) => b.includes('"page-model"'))).toBe(true);
    const stream = await fetch(`${server.url}/api/live/stream`);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let events = '';
    const deadline = Date.now() + 5000;
    while ((events.match(/event: power/g) ?? []).length < 2 && Date.now() < deadline) events += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(events).toMatch(/event: power\ndata: \[\{/);
    const content = await page.content();
    const kept = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookies: document.cookie }));
    for (const secret of [API_TOKEN, INFLUX_TOKEN]) {
      for (const [what, text] of [['page', content], ['storage', kept], ['requests and response headers', traffic.join('\n')], ['response bodies', bodies.join('\n')], ['event stream', events]] as const) {
        expect(text, `${what} must not contain ${secret}`).not.toContain(secret);
      }
    }
    // nothing about credentials at all (a serving engine's output tokens are another thing, and shown)
    expect(content).not.toMatch(/api[_ -]?token|influx[_ -]?token|bearer|authorization/i);
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
