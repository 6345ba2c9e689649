/**
 * The live page's comparison and power-curve overlay in a real browser (Debian's Chromium
 * through playwright-core), over real data: a real collector on a fixture host whose RAPL
 * package is driven at the powers three "architectures" draw, runs made by the real CLI, a
 * baseline through the API, and repeated runs of other platforms imported. The tests read what
 * is drawn: table cells against the API's numbers, the chart's series, their labels, and the
 * colours on the canvas where each curve and the baseline must be.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { compare } from '../../api/domain/compare.js';
import type { RunSummary } from '../../clients/ts/client.js';
import { copyHost } from '../collector/fixtures.js';
import { spawnCollector, type CollectorProcess } from '../collector/process.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from '../collector/power-points.js';
import { liveServer, type LiveServer } from '../clients/server.js';
import { startControlledRapl, type ControlledRapl } from '../cli/standin.js';
import { runProcess, waitFor } from '../helpers.js';

type Comparison = ReturnType<typeof compare>;
const CHROMIUM = '/usr/bin/chromium';
const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
const IDLE_PKG_W = 10;
const BOARD_W = 23;
/** three architectures on one machine: the package power each draws */
const ARCHS = [
  { model: 'resnet50', watts: 25, accuracy: 0.761, params: 25.6, macs: 4.1 },
  { model: 'mobilenet_v2', watts: 14, accuracy: 0.72, params: 3.5, macs: 0.3 },
  { model: 'vgg16', watts: 45, accuracy: 0.715, params: 138, macs: 15.5 },
];

let server: LiveServer;
let collector: CollectorProcess;
let rapl: ControlledRapl;
let browser: Browser;
const runs: RunSummary[] = [];
let idleW = 0;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error('the page tests need Debian’s Chromium: apt-get install -y chromium');
  const root = copyHost('desktop-intel');
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-page-compare-'));
  rapl = startControlledRapl(join(root, PKG_ENERGY), join(dir, 'ctl'), join(dir, 'power.log'), { idleW: IDLE_PKG_W, holdS: 0, startUj: 1e9, rangeUj: RAPL_RANGE_UJ });
  server = await liveServer('page_compare');
  // sent every second, as `wattscope up` runs its collector for the live page; points every 0.2 s
  // (the default is 1 s), as a user who compares power curves sets it for their detail. The
  // defaults are run as deployed in test/stack/as-deployed.e2e.test.ts (runs, bench) and
  // test/stack/serving.e2e.test.ts (the live page)
  collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: server.store.settings.url, WATTSCOPE_INFLUX_DB: server.store.db, WATTSCOPE_HOST: 'cmp-host', WATTSCOPE_REPORT_INTERVAL_S: '0.2', WATTSCOPE_FLUSH_INTERVAL_S: '1' });
  const env = { PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'cmp-host', WATTSCOPE_COLLECTOR_PORT: String(collector.port) };
  // the collector's points of the last 3 s make the idle baseline
  await new Promise((r) => setTimeout(r, 4000));
  for (const [i, a] of ARCHS.entries()) {
    const script = join(dir, `${a.model}.sh`);
    writeFileSync(script, `#!/bin/sh\necho ${a.watts} > ${dir}/ctl\nsleep 7\necho ${IDLE_PKG_W} > ${dir}/ctl\n`);
    chmodSync(script, 0o755);
    const options = ['--model', a.model, '--inferences', '1000', '--accuracy', String(a.accuracy), '--params-m', String(a.params), '--macs-g', String(a.macs), '--json'];
    if (i === 0) {
      // the first architecture as a series of two, after a fresh idle baseline
      const r = await runProcess(process.execPath, [BIN, 'bench', ...options, '--repeat', '2', '--warmup', '0', '--cooldown', '1', '--baseline', '3', '--', script], { env, timeoutMs: 90_000 });
      expect(r.status, r.stderr).toBe(0);
      idleW = Number(/idle baseline b-[\w-]+: ([\d.]+) W on cmp-host/.exec(r.stderr)?.[1]);
      runs.push((JSON.parse(r.stdout) as { members: RunSummary[] }).members[0] as RunSummary);
    } else {
      const r = await runProcess(process.execPath, [BIN, 'run', ...options, '--', script], { env });
      expect(r.status, r.stderr).toBe(0);
      runs.push(JSON.parse(r.stdout) as RunSummary);
    }
    await new Promise((res) => setTimeout(res, 1500));
  }
  // the same models measured elsewhere, repeated
  const imported = [
    ...[20.1, 20.6, 19.8].map((e) => ({ model: 'resnet50', platform: 'A100', energy_per_inference_uwh: e, accuracy: 0.761, params_m: 25.6, macs_g: 4.1 })),
    ...[8.02, 8.31].map((e) => ({ model: 'mobilenet_v2', platform: 'A100', energy_per_inference_uwh: e, accuracy: 0.72, params_m: 3.5, macs_g: 0.3 })),
    ...[88.5, 91.2, 90.1].map((e) => ({ model: 'vgg16', platform: 'A100', energy_per_inference_uwh: e, accuracy: 0.715, params_m: 138, macs_g: 15.5 })),
    ...[48.3, 47.1].map((e) => ({ model: 'resnet50', platform: 'Quadro', energy_per_inference_uwh: e, accuracy: 0.761, params_m: 25.6, macs_g: 4.1 })),
    { model: 'vgg16', platform: 'Quadro', energy_per_inference_uwh: 205, accuracy: 0.715, params_m: 138, macs_g: 15.5 },
  ].map((r) => ({ ...r, inferences: 50_000 }));
  const res = await fetch(`${server.url}/api/runs/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(imported) });
  expect(res.status).toBe(201);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await collector?.stop();
  await rapl?.stop();
  await server?.close();
});

const api = async (reference?: string) => (await (await fetch(`${server.url}/api/compare${reference ? `?reference=${reference}` : ''}`)).json()) as Comparison;

/** A printed number (commas as thousands separators) against a value: equal to the digits printed. */
function expectShown(text: string | undefined, value: number | null, what: string) {
  if (value === null) {
    expect(text, what).toBe('—');
    return;
  }
  const t = (text as string).replace(/,/g, '');
  const decimals = t.split('.')[1]?.length ?? 0;
  expect(Math.abs(Number(t) - value), `${what}: shown ${text}, is ${value}`).toBeLessThanOrEqual(0.5 * 10 ** -decimals + 1e-9);
}

async function openPage(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(server.url);
  return { page, errors, requests };
}

describe('the comparison on the live page', () => {
  it('draws the models × platforms matrix, every score with ranks and repeat statistics, factors against a chosen reference, sortable', async () => {
    const { page, errors, requests } = await openPage();
    const json = await api();
    const platforms = [...new Set(json.rows.map((r) => r.platform))].sort();
    expect(platforms).toEqual(['A100', 'EPYC', 'Quadro']);
    await page.locator('#matrix tbody tr').first().waitFor();
    // the matrix: each model's energy per inference on each platform, mean ± sd
    expect(await page.locator('#matrix thead th').allTextContents()).toEqual(['model', ...platforms]);
    for (const model of ['resnet50', 'mobilenet_v2', 'vgg16']) {
      for (const platform of platforms) {
        const shown = await page.locator(`#matrix tr[data-model="${model}"] td[data-platform="${platform}"] .mean-sd`).textContent();
        const r = json.rows.find((x) => x.model === model && x.platform === platform);
        if (!r) {
          expect(shown, `${model} on ${platform}`).toBe('—');
          continue;
        }
        const [mean, sd] = (shown as string).split(' ± ');
        expectShown(mean, r.scores.energy_per_inference_uwh.mean, `${model} on ${platform} mean`);
        if (r.scores.energy_per_inference_uwh.std === null) expect(sd).toBeUndefined();
        else expectShown(sd, r.scores.energy_per_inference_uwh.std, `${model} on ${platform} sd`);
      }
    }
    // sorted by one platform's column, ascending then descending
    await page.locator('#matrix th[data-key="p:A100"]').click();
    const byA100 = ['mobilenet_v2', 'resnet50', 'vgg16'];
    expect(await page.locator('#matrix tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.model))).toEqual(byA100);
    await page.locator('#matrix th[data-key="p:A100"]').click();
    expect(await page.locator('#matrix tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.model))).toEqual([...byA100].reverse());
    expect(await page.locator('#matrix th[data-key="p:A100"]').getAttribute('aria-sort')).toBe('descending');

    // the detailed table: every pair, its statistics and its ranks, as the API computes them
    const detail = page.locator('#compare-table tbody tr');
    expect(await detail.count()).toBe(json.rows.length);
    const headers = (await page.locator('#compare-table thead th').allTextContents()).map((h) => h.trim());
    const col = (name: string) => headers.indexOf(name);
    for (const r of json.rows) {
      const cells = await page.locator(`#compare-table tr[data-model="${r.model}"][data-platform="${r.platform}"] td`).allTextContents();
      const e = r.scores.energy_per_inference_uwh;
      // one count of runs, the exported tables' (r.runs); here every run has an energy per inference
      expect(Number(cells[col('runs')])).toBe(r.runs);
      expect(e.n).toBe(r.runs);
      expectShown(cells[col('µWh / inference')], e.mean, `${r.model} ${r.platform} mean`);
      expectShown(cells[col('sd')], e.std, `${r.model} ${r.platform} sd`);
      expectShown(cells[col('CV %')], e.cv === null ? null : e.cv * 100, `${r.model} ${r.platform} CV`);
      if (e.ci95_low === null) expect(cells[col('95 % CI')]).toBe('—');
      else {
        const [lo, hi] = (cells[col('95 % CI')] as string).split(' – ');
        // cut at 0: an energy is never negative
        expectShown(lo, Math.max(0, e.ci95_low), 'CI low');
        expectShown(hi, e.ci95_high, 'CI high');
      }
      expectShown(cells[col('steady µWh / inf.')], r.scores.energy_per_inference_steady_uwh.mean, `${r.model} ${r.platform} steady`);
      expectShown(cells[col('composite')], r.scores.composite_score.mean, 'composite');
      expect(cells[col('series')]).toBe(r.series.length ? r.series.map((id) => id.slice(0, 10)).join(', ') : '—');
      expectShown(cells[col('NetScore')], r.scores.netscore.mean, 'NetScore');
      for (const [name, rank] of [['rank µWh', r.ranks.energy_per_inference_uwh], ['rank composite', r.ranks.composite_score], ['rank NetScore', r.ranks.netscore], ['rank info density', r.ranks.info_density]] as const) {
        expect(cells[col(name)], `${r.model} ${r.platform} ${name}`).toBe(rank === null ? '—' : String(rank));
      }
    }
    // the real runs on EPYC have a steady part; resnet50's are a series of two, with its spread
    const epyc = json.rows.filter((r) => r.platform === 'EPYC');
    expect(epyc.every((r) => r.scores.energy_per_inference_steady_uwh.mean !== null)).toBe(true);
    expect(json.rows.find((r) => r.model === 'resnet50' && r.platform === 'EPYC')).toMatchObject({ runs: 2, series: [expect.stringMatching(/^s-/)] });
    expect(await page.locator('#compare-table tr[data-model="vgg16"][data-platform="A100"] td').nth(col('runs')).textContent()).toBe('3');

    // relative to a reference: the factors appear, as the API computes them against A100
    await page.selectOption('#reference', 'A100');
    await page.locator('#matrix .factor').first().waitFor();
    const rel = await api('A100');
    for (const r of rel.rows) {
      const factor = await page.locator(`#matrix tr[data-model="${r.model}"] td[data-platform="${r.platform}"] .factor`).textContent();
      expect(factor).toMatch(/^× [\d.,]+ A100$/);
      expectShown(/× ([\d.,]+)/.exec(factor as string)?.[1], r.relative?.energy_per_inference_uwh ?? null, `${r.model} on ${r.platform} × A100`);
      const cells = await page.locator(`#compare-table tr[data-model="${r.model}"][data-platform="${r.platform}"] td`).allTextContents();
      expectShown(cells[col('× ref composite')] ?? cells[headers.indexOf('× A100 composite')], r.relative?.composite_score ?? null, 'relative composite');
    }
    expect(await page.locator('#compare-table th[data-key="rel_composite"]').textContent()).toBe('× A100 composite');
    expect(await page.locator('#export-latex').getAttribute('href')).toBe('/api/compare?format=latex&reference=A100');

    // sorted by the composite rank: ranks ascending within the order shown
    await page.locator('#compare-table th[data-key="rank:composite_score"]').click();
    const ranks = (await page.locator('#compare-table tbody tr').evaluateAll((trs, i) => trs.map((tr) => tr.children[i]?.textContent), col('rank composite'))).map(Number);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('#compare').screenshot({ path: join(ARTIFACTS, 'compare-view.png') });
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(server.url))).toEqual([]);
    await page.close();
  }, 90_000);

  it('overlays the chosen runs’ power curves aligned at their start, with the idle baseline, and draws each where its power is', async () => {
    const { page, errors } = await openPage();
    for (const r of runs) {
      const box = page.locator(`#runs tr[data-run-id="${r.run_id}"] td.pick input`);
      await box.waitFor();
      await box.check();
    }
    await waitFor(async () => (await page.locator('#overlay-chart').getAttribute('data-runs')) === '3' && (await page.locator('#overlay-chart canvas').count()) > 0, 15_000, 'the overlay of three runs');
    // the legend: one series per run, named by model and platform, and the baseline
    const legend = (await page.locator('#overlay-chart .u-legend .u-series th').allTextContents()).map((t) => t.trim());
    for (const r of runs) expect(legend).toContain(`${r.model} on ${r.platform} (${r.run_id.slice(0, 10)})`);
    const baselineLabel = legend.find((l) => l.startsWith('idle baseline of cmp-host: '));
    expect(baselineLabel).toBeDefined();
    expectShown(/: ([\d.]+) W$/.exec(baselineLabel as string)?.[1], idleW, 'the baseline drawn');
    expect(Math.abs(idleW - (IDLE_PKG_W + BOARD_W)) / (IDLE_PKG_W + BOARD_W)).toBeLessThan(0.02);

    // what the canvas holds: for each run, 2 s after its start, its curve's colour where its power
    // is; along the baseline, the baseline's colour; the curves themselves at the power driven
    const drawn = await page.evaluate(() => {
      const el = document.querySelector('#overlay-chart') as HTMLElement & { uplot: { series: Array<{ label: string; stroke: (u: unknown, i: number) => string }>; data: Array<Array<number | null>>; valToPos(v: number, scale: string, canvas: boolean): number } };
      const u = el.uplot;
      const canvas = el.querySelector('canvas') as HTMLCanvasElement;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const near = (x: number, y: number, hex: string) => {
        const [r, g, b] = rgb(hex) as [number, number, number];
        const px = ctx.getImageData(Math.round(x) - 3, Math.round(y) - 3, 7, 7).data;
        for (let i = 0; i < px.length; i += 4) if ((px[i + 3] as number) > 100 && Math.abs((px[i] as number) - r) + Math.abs((px[i + 1] as number) - g) + Math.abs((px[i + 2] as number) - b) < 60) return true;
        return false;
      };
      const xs = u.data[0] as number[];
      return u.series.slice(1).map((s, k) => {
        const i = k + 1;
        const color = s.stroke(u, i);
        const ys = u.data[i] as Array<number | null>;
        // each run has its own times (its start is not on a bucket's edge): its point nearest to x
        const own = xs.flatMap((x, j) => (ys[j] === null || ys[j] === undefined ? [] : [[x, ys[j]] as [number, number]]));
        const at = (x: number) => own.reduce((best, p) => (Math.abs(p[0] - x) < Math.abs(best[0] - x) ? p : best));
        const [mx, my] = at(2);
        // a baseline is dashed: look along it, at many places
        const along = xs.filter((x, j) => j % 3 === 0).map((x) => near(u.valToPos(x, 'x', true), u.valToPos(ys[0] as number, 'y', true), color));
        return { label: s.label, color, mid: my, midDrawn: near(u.valToPos(mx, 'x', true), u.valToPos(my, 'y', true), color), along: along.filter(Boolean).length / along.length, before: at(-1.5)[1] };
      });
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('#overlay-section').screenshot({ path: join(ARTIFACTS, 'overlay.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'compare-page.png'), fullPage: true });
    expect(drawn).toHaveLength(4);
    for (const r of runs) {
      const d = drawn.find((x) => x.label.startsWith(`${r.model} on`));
      const watts = (ARCHS.find((a) => a.model === r.model)?.watts as number) + BOARD_W;
      expect(d?.midDrawn, `${r.model}: its colour where its power is, 2 s in`).toBe(true);
      // one point of the curve: a stand-in counter read a few tens of ms late at one of its edges
      // moves it by a few per cent (3.8 % seen beside two busy loops); the three architectures'
      // powers are 23 % and more apart
      expect(Math.abs((d?.mid as number) - watts) / watts, `${r.model} at 2 s: ${d?.mid} W, driven ${watts} W`).toBeLessThan(0.06);
      // before its start the machine idled: aligned at the start, the curve rises at 0
      expect(Math.abs((d?.before as number) - idleW) / idleW, `${r.model} 1.5 s before its start`).toBeLessThan(0.05);
    }
    const base = drawn.find((x) => x.label.startsWith('idle baseline'));
    expect(base?.along, 'the dashed baseline is drawn along its whole width').toBeGreaterThan(0.4);

    // unticking one run takes its curve away
    await page.locator(`#runs tr[data-run-id="${runs[0]?.run_id}"] td.pick input`).uncheck();
    await waitFor(async () => (await page.locator('#overlay-chart').getAttribute('data-runs')) === '2', 10_000, 'two runs left');
    const left = (await page.locator('#overlay-chart .u-legend .u-series th').allTextContents()).map((t) => t.trim());
    expect(left.some((l) => l.startsWith(`${runs[0]?.model} on`))).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
