/**
 * The dashboards as code: the committed JSON is what the generator builds, and every query in
 * them (panels, template variables, annotations) runs against the real influxd holding real
 * collector data and runs made through the API, with Grafana's macros and variables expanded as
 * Grafana's InfluxDB data source expands them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS, render } from '../../dashboards/dashboards.js';
import { InfluxQL, ident, iql, type InfluxStore } from '../../common/storage/index.js';
import { loadConfig } from '../../common/config.js';
import { buildApp } from '../../api/app.js';
import { testStore, waitFor } from '../helpers.js';
import { copyHost, testdata } from '../collector/fixtures.js';
import { spawnCollector } from '../collector/process.js';
import type { Series } from '../../clients/ts/client.js';
import { expand, type Dashboard } from './grafana.js';
import { startServingStandin } from '../collector/serving-standin.js';

const JSON_DIR = new URL('../../dashboards/json/', import.meta.url).pathname;

const built = Object.entries(DASHBOARDS).map(([file, build]) => ({ file, dashboard: JSON.parse(render(build())) as Dashboard }));

describe('dashboards as code', () => {
  it('are committed exactly as the generator builds them (run `npm run dashboards` after a change)', () => {
    for (const [file, build] of Object.entries(DASHBOARDS)) {
      expect(readFileSync(join(JSON_DIR, file), 'utf8'), file).toBe(render(build()));
    }
  });

  it('have stable uids, units on every panel, and only the provisioned InfluxDB as data source', () => {
    expect(built.map((b) => b.dashboard.uid)).toEqual(['wattscope-live', 'wattscope-runs', 'wattscope-run']);
    for (const { dashboard } of built) {
      for (const p of dashboard.panels) {
        if (p.type === 'timeseries' || p.type === 'stat') expect(p.fieldConfig?.defaults?.unit, `${dashboard.uid}: ${p.title}`).toBeTruthy();
      }
      // every uid is one of these, whole (a uid that merely starts with one is another data source)
      expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"(?!(?:wattscope-influxdb|wattscope-live|wattscope-runs|wattscope-run)")/);
    }
  });
});

describe('every query of every dashboard against real data', () => {
  let store: InfluxStore;
  let runId = '';
  let platform = '';
  let series: Series;
  beforeAll(async () => {
    store = await testStore('dashboards');
    // vLLM serving on the machine, its /metrics replayed from a real capture with its counters running
    const vllm = await startServingStandin(testdata('serving', 'vllm-opt-125m.prom'), { 'vllm:request_success_total': 2, 'vllm:generation_tokens_total': 50 });
    // real collector data: this machine's own /proc, the sysfs of a fixture desktop (RAPL, hwmon)
    // and two GPUs through the nvidia-smi stand-in
    const collector = await spawnCollector(copyHost('desktop-intel'), {
      WATTSCOPE_PROCFS_ROOT: '/proc',
      WATTSCOPE_INFLUX_URL: store.settings.url,
      WATTSCOPE_INFLUX_DB: store.db,
      WATTSCOPE_HOST: 'dash-host',
      WATTSCOPE_NVIDIA_SMI: testdata('nvidia-smi', 'bin', 'nvidia-smi'),
      NVIDIA_SMI_REPLAY: testdata('nvidia-smi', 'a100x2.csv'),
      // a user serving models says where the server's metrics are
      WATTSCOPE_SERVING_METRICS_URL: vllm.url,
    });
    // its host record (written as it starts) tells the API the platform and the sources
    // platform: none set, as users run it — the collector works it out from the CPU and the GPUs
    platform = await waitFor(async () => (await store.rows<{ platform: string }>(iql`SELECT * FROM ${ident('host')}`))[0]?.platform, 15_000, 'the collector’s host record');
    // a few runs through the API on its defaults, over the same data: each stop waits for the
    // collector's points past its end, and the runs take the platform the collector reports
    const app = await buildApp({ config: loadConfig({ HOME: '/nonexistent' }), store });
    const ids: string[] = [];
    // resnet50 twice as a series of repeated runs (after a warm-up), for the series panel
    const runs = [['resnet50', 0.76, { series_id: 'dash-series', warmup: true }], ['resnet50', 0.76, { series_id: 'dash-series' }], ['resnet50', 0.76, { series_id: 'dash-series' }], ['mobilenet_v2', 0.72, {}]] as const;
    for (const [model, accuracy, series] of runs) {
      const r = await app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model, hosts: ['dash-host'], params_m: 3.5, macs_g: 0.3, ...series } });
      ids.push(r.json<{ run_id: string }>().run_id);
      // the run's process (this test's) is followed by the collector: attributed power for the run detail
      const follow = await fetch(`http://127.0.0.1:${collector.port}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_id: ids.at(-1), pids: [process.pid] }) });
      expect(follow.status).toBe(201);
      await new Promise((res) => setTimeout(res, 3000));
      await fetch(`http://127.0.0.1:${collector.port}/runs/${ids.at(-1)}`, { method: 'DELETE' });
      await app.fastify.inject({ method: 'POST', url: `/api/runs/${ids.at(-1)}/stop`, payload: { inferences: 1000, accuracy } });
    }
    runId = ids[1] as string;
    series = (await app.fastify.inject('/api/series/dash-series')).json<Series>();
    await new Promise((res) => setTimeout(res, 1500));
    await collector.stop();
    await vllm.close();
    await app.fastify.close();
  }, 120_000);

  it('the series panel counts a series’ runs without its warm-up, with the mean, sd and CV the API gives', async () => {
    const runs = built.find((b) => b.file === 'runs.json')?.dashboard as Dashboard;
    const panel = runs.panels.find((p) => p.title.startsWith('Series of repeated runs')) as Dashboard['panels'][number];
    const vars = Object.fromEntries(runs.templating.list.map((v) => [v.name, { variable: v, values: 'all' as const }]));
    const [result] = await store.query(new InfluxQL(expand(panel.targets[0]?.query as string, { from: Date.now() - 15 * 60_000, to: Date.now() + 60_000 }, 1000, vars)));
    const group = result?.series.find((x) => x.tags.series_id === 'dash-series');
    expect(group?.tags).toMatchObject({ model: 'resnet50', platform });
    const row = Object.fromEntries((group?.columns ?? []).map((c, i) => [c, group?.values[0]?.[i]]));
    const e = series.stats.energy_per_inference_uwh;
    expect(series.counted).toBe(2);
    expect(row.n).toBe(2);
    expect(row.energy_per_inference_uwh_mean).toBeCloseTo(e.mean as number, 9);
    expect(row.energy_per_inference_uwh_sd).toBeCloseTo(e.std as number, 9);
    expect(row.cv_pct).toBeCloseTo((e.cv as number) * 100, 9);
    expect(row.energy_j_mean).toBeCloseTo(series.stats.energy_j.mean as number, 9);
  });

  it('returns rows for every panel, variable and annotation query, with no error', async () => {
    const range = { from: Date.now() - 15 * 60_000, to: Date.now() + 60_000 };
    const checked: string[] = [];
    for (const { dashboard } of built) {
      const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
      const selections: Array<Record<string, string[] | 'all'>> = [
        { platform: 'all', host: 'all', run_id: [runId] },
        { platform: [platform], host: ['dash-host', 'other-host'], run_id: [runId] },
      ];
      for (const selection of selections) {
        const vars = Object.fromEntries(Object.entries(variables).map(([name, variable]) => [name, { variable, values: selection[name] ?? 'all' }]));
        const queries = [
          ...dashboard.templating.list.filter((v) => v.query).map((v) => ({ what: `variable ${v.name}`, query: v.query as string })),
          ...(dashboard.annotations.list ?? []).map((a) => ({ what: `annotation ${a.name}`, query: a.target.query })),
          ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ what: `panel "${p.title}"`, query: t.query }))),
        ];
        for (const { what, query } of queries) {
          const text = expand(query, range, 1000, vars);
          expect(text, `${dashboard.uid} ${what}: a macro or variable was left unexpanded`).not.toMatch(/\$(?!tag_)\w/);
          const results = await store.query(new InfluxQL(text));
          const values = results.flatMap((r) => r.series.flatMap((s) => s.values));
          expect(values.length, `${dashboard.uid} ${what} returned no rows:\n${text}`).toBeGreaterThan(0);
          checked.push(`${dashboard.uid} ${what}`);
        }
      }
    }
    // 3 dashboards, all their queries, under two variable selections
    expect(checked.length).toBeGreaterThan(40);
  });
});
