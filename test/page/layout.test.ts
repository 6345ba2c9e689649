/**
 * The live page as a user sees it on a wide screen, a laptop and a phone (Debian's Chromium
 * through playwright-core), over real data (./scene.ts): the page never wider than the window,
 * no console error, tables that scroll in their own box, time axes whose labels do not run into
 * each other, a run's detail right under its row in words (no field names), one count of runs
 * (the exported tables'), no interval below zero, numbers right-aligned in tabular figures to one
 * precision per column. Screenshots at 1920, 1366 and 412 px go to test/artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { compare } from '../../api/domain/compare.js';
import { waitFor } from '../helpers.js';
import { startScene, type Scene } from './scene.js';

type Comparison = ReturnType<typeof compare>;
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;

let scene: Scene;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error('the page tests need Debian’s Chromium: apt-get install -y chromium');
  scene = await startScene('page_layout');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await scene?.stop();
});

/** The page at `width` px with everything in it: the live chart, the runs, the comparison, the 4 s run's detail open, its curve in the overlay. */
async function openAt(width: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(scene.server.url);
  await page.waitForSelector('#live-chart canvas');
  await page.locator('#compare-table tbody tr').first().waitFor();
  const row = page.locator(`#runs tr[data-run-id="${scene.timed.run_id}"]`);
  await row.locator('td.pick input').check();
  await page.locator('#overlay-chart canvas').waitFor();
  // ticking the box scrolled the list to its last column: back to its first, as a user opens it
  await page.locator('#runs-wrap').evaluate((el) => el.scrollTo({ left: 0 }));
  await row.locator('td').first().click();
  await page.locator('#detail:not([hidden]) #run-chart canvas').waitFor({ timeout: 10_000 });
  return { page, errors };
}

/** How wide the page is against its window. */
const widths = (page: Page) => page.evaluate(() => ({ page: (document.scrollingElement as Element).scrollWidth, window: window.innerWidth }));

/**
 * The x axis of the chart in `selector` as drawn: its labels, and the pairs of neighbours whose
 * text (measured in the axis's own font) overlaps.
 */
function xAxis(page: Page, selector: string) {
  return page.evaluate((sel) => {
    type Axis = { _splits: number[]; _values: string[]; font: [string, number] };
    const el = document.querySelector(sel) as HTMLElement & { uplot: { axes: Axis[]; ctx: CanvasRenderingContext2D; valToPos(v: number, scale: string, canvas: boolean): number; bbox: { width: number } } };
    const u = el.uplot;
    const axis = u.axes[0] as Axis;
    u.ctx.font = axis.font[0];
    const boxes = axis._values.map((text, i) => {
      const mid = u.valToPos(axis._splits[i] as number, 'x', true);
      const w = Math.max(...String(text).split('\n').map((line) => u.ctx.measureText(line).width));
      return { text: String(text), from: mid - w / 2, to: mid + w / 2 };
    });
    const overlaps = boxes.slice(1).flatMap((b, i) => ((boxes[i] as { to: number }).to + 4 > b.from ? [`${(boxes[i] as { text: string }).text} | ${b.text}`] : []));
    return { labels: boxes.map((b) => b.text), overlaps, width: u.bbox.width };
  }, selector);
}

describe('the live page on a wide screen, a laptop and a phone', () => {
  for (const width of [1920, 1366, 412, 360]) {
    it(`is no wider than a ${width} px window, has no console error, and reads well`, async () => {
      const { page, errors } = await openAt(width);
      // the charts redraw at their box's width on the next frame
      await page.waitForTimeout(300);
      const w = await widths(page);
      expect(w.page, `the page is ${w.page} px wide in a ${w.window} px window`).toBeLessThanOrEqual(w.window);
      // the wide runs table scrolls inside its own box instead
      const box = await page.locator('#runs-wrap').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, overflow: getComputedStyle(el).overflowX }));
      expect(box.overflow).toBe('auto');
      if (width < 1920) expect(box.scroll, 'the runs table is wider than its box and scrolls in it').toBeGreaterThan(box.client);

      // time axes: labels one line each that do not run into each other, the live one a clock
      // time to the second or minute, the 4 s run's in seconds since its start (no milliseconds)
      const live = await xAxis(page, '#live-chart');
      expect(live.overlaps, `live chart x labels ${live.labels.join(', ')}`).toEqual([]);
      expect(live.labels.length).toBeGreaterThanOrEqual(2);
      for (const l of live.labels) expect(l).toMatch(/^\d\d:\d\d(:\d\d)?$/);
      const run = await xAxis(page, '#run-chart');
      expect(run.overlaps, `run chart x labels ${run.labels.join(', ')}`).toEqual([]);
      expect(run.labels.length).toBeGreaterThanOrEqual(2);
      for (const l of run.labels) expect(l).toMatch(/^−?\d+(\.\d)? s$/);
      // not a label per 40 px or less: readable at a glance
      expect(run.labels.length).toBeLessThanOrEqual(Math.ceil(run.width / 40));
      // the charts are as wide as their boxes, no wider
      for (const sel of ['#live-chart', '#run-chart', '#overlay-chart']) {
        const fit = await page.locator(sel).evaluate((el) => ({ box: el.clientWidth, chart: (el.querySelector('.uplot') as HTMLElement).offsetWidth }));
        expect(fit.chart, `${sel} at ${width} px`).toBeLessThanOrEqual(fit.box);
      }

      // the detail right under the row clicked, in view, in words
      const row = page.locator(`#runs tr[data-run-id="${scene.timed.run_id}"]`);
      expect(await row.evaluate((tr) => (tr.nextElementSibling as HTMLElement | null)?.querySelector('#detail') !== null)).toBe(true);
      const rowBox = await row.boundingBox();
      const detailBox = await page.locator('#detail').boundingBox();
      expect(Math.abs((detailBox?.y as number) - ((rowBox?.y as number) + (rowBox?.height as number))), 'the detail starts where its row ends').toBeLessThanOrEqual(2);
      expect(detailBox?.x as number).toBeGreaterThanOrEqual(0);
      expect((detailBox?.x as number) + (detailBox?.width as number)).toBeLessThanOrEqual(w.window);
      const text = (await page.locator('#detail-values').innerText()).replace(/\s+/g, ' ');
      expect(text, 'no field names in the detail').not.toMatch(/\b[a-z]+_[a-z_]+\b|is empty/);
      expect(text).toMatch(/cost — no price: set WATTSCOPE_ENERGY_PRICE/);
      // nothing shown as a unit without its number
      expect(text).not.toMatch(/— (W|J|%|s)\b/);

      mkdirSync(ARTIFACTS, { recursive: true });
      if (width !== 360) await page.screenshot({ path: join(ARTIFACTS, `live-page-${width}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    }, 60_000);
  }

  it('says in words why a run given no inference count has no scores, and counts it once everywhere', async () => {
    const { page, errors } = await openAt(1366);
    await page.locator(`#runs tr[data-run-id="${scene.uncounted.run_id}"]`).click();
    await page.locator(`#runs tr[data-run-id="${scene.uncounted.run_id}"] + tr.detail-row #run-chart canvas`).waitFor({ timeout: 10_000 });
    const text = (await page.locator('#detail-values').innerText()).replace(/\s+/g, ' ');
    expect(text).not.toMatch(/\b[a-z]+_[a-z_]+\b|is empty/);
    // the summary's own reasons, under the labels of the run's definition
    expect(text).toMatch(/energy \/ inference, inferences \/ s, inferences \/ J, energy-delay product — no inference count: give inferences/);
    expect(text).toMatch(/composite score, NetScore, information density — no accuracy/);
    // the detail of the first run closed when this one opened: one detail, under this row
    expect(await page.locator('#runs tr.detail-row').count()).toBe(1);

    // one count of runs: the comparison's runs column is the Markdown table's Runs, pair by pair
    const md = await (await fetch(`${scene.server.url}/api/compare?format=md&table=scores`)).text();
    const lines = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Model') && !l.startsWith('| :'));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const headers = (await page.locator('#compare-table thead th').allTextContents()).map((h) => h.trim());
    for (const line of lines) {
      const [model, platform, runs] = line.split('|').slice(1, 4).map((c) => c.trim()) as [string, string, string];
      const cells = await page.locator(`#compare-table tr[data-model="${model}"][data-platform="${platform}"] td`).allTextContents();
      expect(cells[headers.indexOf('runs')], `${model} on ${platform}`).toBe(runs);
    }
    const json = (await (await fetch(`${scene.server.url}/api/compare`)).json()) as Comparison;
    const llama = json.rows.find((r) => r.model === 'llama-eval') as Comparison['rows'][number];
    // the API's statistic is over the runs that have the figure: none here, and the page says so
    expect(llama).toMatchObject({ runs: 1, scores: { energy_per_inference_uwh: { n: 0, mean: null } } });
    const llamaCells = await page.locator('#compare-table tr[data-model="llama-eval"] td').allTextContents();
    expect(llamaCells[headers.indexOf('runs')]).toBe('1');
    expect(llamaCells[headers.indexOf('µWh / inference')]).toBe('— (0 of 1)');

    // the interval of two runs far apart: Student's t reaches below zero, the page cuts it at 0
    const wide = json.rows.find((r) => r.model === scene.wide.model && r.platform === scene.wide.platform) as Comparison['rows'][number];
    const e = wide.scores.energy_per_inference_uwh;
    expect(e.n).toBe(2);
    expect(e.ci95_low as number).toBeLessThan(0);
    const ci = await page.locator(`#compare-table tr[data-model="${scene.wide.model}"][data-platform="${scene.wide.platform}"] td`).nth(headers.indexOf('95 % CI')).textContent();
    const [low, high] = (ci as string).split(' – ').map((v) => Number(v.replace(/,/g, ''))) as [number, number];
    expect(low).toBe(0);
    expect(Math.abs(high - (e.ci95_high as number))).toBeLessThanOrEqual(0.05);
    expect(await page.locator('#compare-table th[data-key="epi_ci"]').getAttribute('title')).toMatch(/Student's t.*cut at 0/);
    for (const c of await page.locator('#compare-table td:nth-child(' + String(headers.indexOf('95 % CI') + 1) + ')').allTextContents()) {
      if (c !== '—') expect(c, 'no interval below zero').not.toMatch(/[−-]\d/);
    }

    // numbers: every cell of a number column right-aligned in tabular figures; in the runs list
    // each column to one number of decimals
    for (const table of ['#runs', '#matrix', '#compare-table']) {
      const bad = await page.locator(table).evaluate((t) => {
        const heads = Array.from(t.querySelectorAll('thead th'));
        const out: string[] = [];
        for (const tr of Array.from(t.querySelectorAll('tbody tr:not(.detail-row)'))) {
          Array.from(tr.children).forEach((td, i) => {
            if (!heads[i]?.classList.contains('num')) return;
            const s = getComputedStyle(td);
            if (s.textAlign !== 'right' || !s.fontVariantNumeric.includes('tabular-nums')) out.push(`${heads[i]?.textContent}: ${td.textContent} (${s.textAlign}, ${s.fontVariantNumeric})`);
          });
        }
        return out;
      });
      expect(bad, table).toEqual([]);
    }
    const decimals = await page.locator('#runs').evaluate((t) => {
      const heads = Array.from(t.querySelectorAll('thead th'));
      const out: Record<string, number[]> = {};
      for (const tr of Array.from(t.querySelectorAll('tbody tr:not(.detail-row)'))) {
        Array.from(tr.children).forEach((td, i) => {
          const h = heads[i];
          if (!h?.classList.contains('num') || td.textContent === '—') return;
          const d = (td.textContent ?? '').split('.')[1]?.length ?? 0;
          (out[h.textContent ?? ''] ??= []).push(d);
        });
      }
      return out;
    });
    expect(Object.keys(decimals)).toEqual(expect.arrayContaining(['energy Wh', 'µWh / inference', 'accuracy']));
    for (const [column, ds] of Object.entries(decimals)) expect(new Set(ds).size, `${column}: decimals ${ds.join(', ')}`).toBe(1);

    // a window narrowed from a laptop's to a phone's: the charts follow it, the page stays its width
    await page.setViewportSize({ width: 412, height: 900 });
    await waitFor(async () => {
      const w = await widths(page);
      return w.page <= w.window;
    }, 5_000, 'the page as narrow as the window after a resize');
    for (const sel of ['#live-chart', '#run-chart', '#overlay-chart']) {
      const fit = await page.locator(sel).evaluate((el) => ({ box: el.clientWidth, chart: (el.querySelector('.uplot') as HTMLElement).offsetWidth }));
      expect(fit.chart, `${sel} after a resize to 412 px`).toBeLessThanOrEqual(fit.box);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
