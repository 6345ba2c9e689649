/**
 * docs/METRICS.md against what the services really expose: the collector over every fixture
 * host (every host shape the suite knows: RAPL, hwmon, batteries, GPUs through NVML, DCGM and
 * nvidia-smi) and the API. Every family scraped is in the document with its type and labels,
 * every family documented is scraped, and each scrape passes `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import { loadConfig } from '../../common/config.js';
import { InfluxStore } from '../../common/storage/index.js';
import { collectOnce, fixtureHosts } from '../collector/golden/harness.js';
import { testSettings } from '../helpers.js';

const DOC = new URL('../../docs/METRICS.md', import.meta.url).pathname;

interface Documented {
  type: string;
  labels: string[];
}

/** The rows of the tables under each `## ` heading: family → type and labels. */
function documented(section: string): Map<string, Documented> {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf(`\n## ${section}\n`);
  expect(start, `docs/METRICS.md has a section "## ${section}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const out = new Map<string, Documented>();
  for (const line of text.slice(start, end < 0 ? undefined : end).split('\n')) {
    const m = /^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| (counter|gauge|histogram|summary) \| ([^|]*) \|/.exec(line);
    if (!m) continue;
    const labels = (m[3] as string).trim() === '—' ? [] : [...(m[3] as string).matchAll(/`([a-z_]+)`/g)].map((l) => l[1] as string);
    out.set(m[1] as string, { type: m[2] as string, labels: labels.sort() });
  }
  return out;
}

interface Family {
  type: string;
  /** label names seen on its samples (without `le` and `quantile`) */
  labels: Set<string>;
  samples: number;
}

/** The families of a scrape in the text format: their TYPE and the labels their samples carry. */
function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      out.set(type[1] as string, { type: type[2] as string, labels: new Set(), samples: 0 });
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const name = sample[1] as string;
    const family = out.get(name) ?? out.get(name.replace(/_(bucket|sum|count)$/, ''));
    expect(family, `a sample of a family with a TYPE line: ${line}`).toBeDefined();
    if (!family) continue;
    family.samples++;
    for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_]+)="/g)) if (l[1] !== 'le' && l[1] !== 'quantile') family.labels.add(l[1] as string);
  }
  return out;
}

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool (Debian's prometheus package) is needed: apt-get install -y prometheus (${r.error.message})`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Each scraped family is documented with its type and labels. */
function expectDocumented(scraped: Map<string, Family>, doc: Map<string, Documented>, where: string): void {
  for (const [name, f] of scraped) {
    const d = doc.get(name);
    expect(d, `${name} (${where}) is in docs/METRICS.md`).toBeDefined();
    expect(f.type, `${name}: its type in docs/METRICS.md`).toBe(d?.type);
    // a family with samples shows all its labels; one without any (no event yet) shows none
    for (const l of f.labels) expect(d?.labels, `${name} (${where}): label ${l} documented`).toContain(l);
    if (!name.startsWith('wattscope_')) continue;
    // ours have a series from the start; those per power channel only where the host has such a channel
    if (f.samples === 0) expect(d?.labels, `${name} (${where}) has a series from the start`).toContain('source');
    else expect([...f.labels].sort(), `${name} (${where}): its labels`).toEqual(d?.labels);
  }
}

describe('docs/METRICS.md and the collector’s /metrics', () => {
  const scrapes = new Map<string, string>();
  beforeAll(async () => {
    for (const host of fixtureHosts()) {
      const metrics = new CollectorMetrics();
      await collectOnce({ host }, undefined, metrics);
      scrapes.set(host, await metrics.registry.metrics());
    }
  }, 120_000);

  it('on every fixture host: promtool is clean, and every family is documented with its type and labels', () => {
    const doc = documented('The collector');
    expect(scrapes.size).toBeGreaterThanOrEqual(10);
    for (const [host, text] of scrapes) {
      const lint = promtool(text);
      expect(lint.out, host).toBe('');
      expect(lint.status, host).toBe(0);
      expectDocumented(families(text), doc, `collector on ${host}`);
    }
  });

  it('every family the document lists is exposed; counter channels have their wrap, reset and stuck series from the start', () => {
    const seen = new Set<string>();
    for (const text of scrapes.values()) for (const name of families(text).keys()) seen.add(name);
    for (const name of documented('The collector').keys()) expect(seen, `${name} is exposed by the collector`).toContain(name);
    // a RAPL host: its package counter's series exist before any wrap, reset or stall
    const rapl = families(scrapes.get('server-xeon-2s') as string);
    expect(rapl.get('wattscope_collector_energy_wraps_total')?.samples).toBeGreaterThan(0);
    const text = scrapes.get('server-xeon-2s') as string;
    expect(text).toMatch(/^wattscope_collector_energy_wraps_total\{source="rapl\/package-0"\} 0$/m);
    expect(text).toMatch(/^wattscope_collector_energy_resets_total\{source="rapl\/package-0"\} 0$/m);
    expect(text).toMatch(/^wattscope_collector_energy_stuck\{source="rapl\/package-0"\} 0$/m);
    expect(text).toMatch(/^wattscope_collector_points_dropped_total\{reason="spool_bound"\} 0$/m);
    expect(text).toMatch(/^wattscope_collector_write_errors_total\{code="unauthorized"\} 0$/m);
    expect(text).toMatch(/^wattscope_collector_last_write_timestamp_seconds 0$/m);
    expect(text).toMatch(/^wattscope_build_info\{component="collector",version="\d+\.\d+\.\d+[^"]*",nodejs="v\d+\.\d+\.\d+"\} 1$/m);
  });
});

describe('docs/METRICS.md and the API’s /metrics', () => {
  let text = '';
  beforeAll(async () => {
    const store = await InfluxStore.open(testSettings('metrics_doc'));
    const app = await buildApp({ config: loadConfig({ HOME: '/nonexistent' }), store });
    try {
      await app.fastify.inject({ method: 'GET', url: '/api/runs' });
      text = (await app.fastify.inject({ method: 'GET', url: '/metrics' })).body;
    } finally {
      await app.fastify.close();
    }
  });

  it('promtool is clean; every family is documented with its type and labels, and every documented one exposed', () => {
    const lint = promtool(text);
    expect(lint.out).toBe('');
    expect(lint.status).toBe(0);
    const doc = documented('The API');
    const scraped = families(text);
    expectDocumented(scraped, doc, 'API');
    for (const name of doc.keys()) expect(scraped.has(name), `${name} is exposed by the API`).toBe(true);
    for (const job of ['abandon', 'recompute', 'rollup']) expect(text).toMatch(new RegExp(`^wattscope_api_job_failures_total\\{job="${job}"\\} 0$`, 'm'));
    for (const status of ['running', 'completed', 'failed', 'abandoned']) expect(text).toMatch(new RegExp(`^wattscope_api_runs\\{status="${status}"\\} 0$`, 'm'));
    expect(text).toMatch(/^wattscope_build_info\{component="api",version="[^"]+",nodejs="v[\d.]+"\} 1$/m);
  });
});
