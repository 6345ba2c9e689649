/**
 * The Grafana dashboards, as code: live power, runs and scores, run detail. `generate.ts`
 * writes them to dashboards/json/ (committed); a test fails when the two drift apart, and
 * another runs every query below against a real InfluxDB.
 */
import {
  AnnotationEventFieldMappingBuilder,
  AnnotationEventFieldSource,
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as BarChartPanel } from '@grafana/grafana-foundation-sdk/barchart';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { StackingConfigBuilder, StackingMode } from '@grafana/grafana-foundation-sdk/common';
import { CPU, DISK, GPU, HOST_TAGS, MEM, MEASUREMENT, NET, POWER, RUN, UNITS, WORKLOAD } from '../common/model.js';
import { DATASOURCE, influxql, matchVar, n, s } from './influxql.js';
import { RUN_FIELDS, SERIES_METRICS, STORED_VIEWS, storedName } from '../api/domain/run-fields.js';

const unit = (field: string) => UNITS[field]?.grafana ?? 'none';
const P = POWER.fields;
const R = RUN_FIELDS;
const HOSTS = `${matchVar(HOST_TAGS.host, 'host')} AND ${matchVar(HOST_TAGS.platform, 'platform')}`;

function hostVariables(measurement: string): QueryVariableBuilder[] {
  return [
    new QueryVariableBuilder('platform')
      .label('platform')
      .datasource(DATASOURCE)
      .query(`SHOW TAG VALUES FROM ${n(measurement)} WITH KEY = ${n(HOST_TAGS.platform)}`)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc),
    new QueryVariableBuilder('host')
      .label('host')
      .datasource(DATASOURCE)
      .query(`SHOW TAG VALUES FROM ${n(measurement)} WITH KEY = ${n(HOST_TAGS.host)} WHERE ${matchVar(HOST_TAGS.platform, 'platform')}`)
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc),
  ];
}

function runAnnotations(): AnnotationQueryBuilder {
  const map = (source: string) => new AnnotationEventFieldMappingBuilder().source(AnnotationEventFieldSource.Field).value(source);
  return new AnnotationQueryBuilder()
    .name('Runs')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('#0b7a75')
    .target(influxql(`SELECT ${n(R.status)}, ${n(R.ended_at_ms)}, ${n(RUN.tags.model)}, ${n(RUN.tags.platform)}, ${n(RUN.tags.runId)} FROM ${n(MEASUREMENT.run)} WHERE $timeFilter`).format('table'))
    .mappings({ timeEnd: map(R.ended_at_ms), title: map(RUN.tags.model), text: map(R.status), tags: map(RUN.tags.platform) });
}

const timeseries = (title: string, query: string, field: string, alias: string, h = 8, w = 12) =>
  new TimeseriesPanel().title(title).datasource(DATASOURCE).withTarget(influxql(query).alias(alias)).unit(unit(field)).height(h).span(w);

const cpuUtilisation = () =>
  timeseries(
    'CPU utilisation',
    `SELECT mean(${n(CPU.fields.usagePct)}) FROM ${n(MEASUREMENT.cpu)} WHERE ${HOSTS} AND ${n(CPU.tags.cpu)} = ${s(CPU.all)} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)} fill(null)`,
    CPU.fields.usagePct,
    '$tag_host',
  ).max(100);

const gpuUtilisation = () =>
  timeseries(
    'GPU utilisation',
    `SELECT mean(${n(GPU.fields.utilPct)}) FROM ${n(MEASUREMENT.gpu)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(GPU.tags.gpu)} fill(null)`,
    GPU.fields.utilPct,
    '$tag_host GPU $tag_gpu',
  ).max(100);

/** Two rates of one measurement per host and device (read/write, rx/tx). */
function throughput(title: string, measurement: string, tag: string, ...series: Array<[field: string, label: string]>): TimeseriesPanel {
  const panel = new TimeseriesPanel().title(title).datasource(DATASOURCE).unit(unit(series[0]?.[0] ?? '')).height(8).span(12);
  series.forEach(([field, label], i) =>
    panel.withTarget(
      influxql(`SELECT mean(${n(field)}) FROM ${n(measurement)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(tag)} fill(null)`)
        .alias(`$tag_host $tag_${tag} ${label}`)
        .refId(String.fromCharCode(65 + i)),
    ),
  );
  return panel;
}

const W = WORKLOAD.fields;
const SERVED_BY = `${n(HOST_TAGS.host)}, ${n(WORKLOAD.tags.engine)}, ${n(WORKLOAD.tags.modelName)}, ${n(WORKLOAD.tags.instance)}`;

/**
 * Energy per unit of a serving engine's work, per host, engine, model and server: the host's
 * energy over each workload interval (carried on the point, `energy_j`) over that server's work in
 * those intervals, per bucket; a bucket without work is left out (InfluxQL divides by zero as 0).
 * InfluxQL joins nothing, so each server's figure is the whole host's energy over its own work (as
 * if it alone drew the host's power): exact for one server per host; the API divides a host's
 * energy by all its servers' work (GET /api/workload). Buckets of at least
 * 10 s: a second holds a few requests, and the figure would be noise.
 */
const energyPerWork = (title: string, count: string, description: string) =>
  new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .withTarget(
      influxql(
        `SELECT ${n('e')} / ${n('w')} FROM (SELECT sum(${n(W.energyJ)}) AS ${n('e')}, sum(${n(count)}) AS ${n('w')} FROM ${n(MEASUREMENT.workload)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${SERVED_BY} fill(none)) WHERE ${n('w')} > 0 AND $timeFilter GROUP BY ${SERVED_BY}`,
      ).alias('$tag_host $tag_engine $tag_model_name ($tag_instance)'),
    )
    .unit('joule')
    .interval('10s')
    .height(8)
    .span(8);

export function livePowerDashboard(): dashboard.Dashboard {
  const inTotal = (v: 'true' | 'false') => `${n(POWER.tags.inTotal)} = ${s(v)}`;
  return new DashboardBuilder('Wattscope — live power')
    .uid('wattscope-live')
    .tags(['wattscope', 'energy'])
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .variables(hostVariables(MEASUREMENT.power))
    .annotation(runAnnotations())
    .withPanel(
      new TimeseriesPanel()
        .title('Power per source (stacked: sources that add up to the host total)')
        .description('Counters (RAPL, NVML, DCGM energy) are exact; sampled sources (an instantaneous power) are integrated at the edge; averaged ones (a sensor’s own one-second average) likewise, but lag every load change by about half a second; estimated is a model.')
        .datasource(DATASOURCE)
        .withTarget(influxql(`SELECT mean(${n(P.powerW)}) FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND ${inTotal('true')} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)} fill(null)`).alias('$tag_host $tag_source'))
        .unit(unit(P.powerW))
        .stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
        .fillOpacity(20)
        .height(10)
        .span(24),
    )
    .withPanel(
      new StatPanel()
        .title('Energy in range')
        .datasource(DATASOURCE)
        .withTarget(influxql(`SELECT sum(${n(P.energyJ)}) / 3600 FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND ${inTotal('true')} AND $timeFilter`).format('table'))
        .unit('watth')
        .height(4)
        .span(12),
    )
    .withPanel(
      new StatPanel()
        .title('Host total now')
        .datasource(DATASOURCE)
        .withTarget(influxql(`SELECT sum(${n('w')}) FROM (SELECT last(${n(P.powerW)}) AS ${n('w')} FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND ${inTotal('true')} AND $timeFilter GROUP BY ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)}) GROUP BY ${n(HOST_TAGS.host)}`).alias('$tag_host').format('table'))
        .unit(unit(P.powerW))
        .height(4)
        .span(12),
    )
    .withPanel(
      timeseries(
        'Nested sources (inside another, not added)',
        `SELECT mean(${n(P.powerW)}) FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND ${inTotal('false')} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)} fill(null)`,
        P.powerW,
        '$tag_host $tag_source',
      ),
    )
    .withPanel(
      timeseries(
        'Host total power',
        `SELECT sum(${n('w')}) FROM (SELECT mean(${n(P.powerW)}) AS ${n('w')} FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND ${inTotal('true')} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)}) WHERE $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}`,
        P.powerW,
        '$tag_host',
      ),
    )
    .withPanel(
      energyPerWork(
        'Energy per output token (serving engines)',
        W.outputTokens,
        'The host’s energy (its in-total sources) over the output tokens each of its serving engines generated, per engine, model and server (WATTSCOPE_SERVING_METRICS_URL of its collector). Several servers on one host each divide the whole host’s energy (as if each alone drew it); the API divides it by all their tokens, per run and for any range (GET /api/workload).',
      ),
    )
    .withPanel(energyPerWork('Energy per request (serving engines)', W.requests, 'The host’s energy over the requests each of its serving engines finished, per engine, model and server.'))
    .withPanel(
      new TimeseriesPanel()
        .title('Output tokens per second (serving engines)')
        .datasource(DATASOURCE)
        .withTarget(influxql(`SELECT sum(${n(W.outputTokens)}) / sum(${n(W.intervalS)}) FROM ${n(MEASUREMENT.workload)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${SERVED_BY} fill(none)`).alias('$tag_host $tag_engine $tag_model_name ($tag_instance)'))
        .unit('none')
        .interval('10s')
        .height(8)
        .span(8),
    )
    .withPanel(cpuUtilisation())
    .withPanel(gpuUtilisation())
    .withPanel(
      timeseries(
        'GPU memory used',
        `SELECT mean(${n(GPU.fields.memUsedBytes)}) FROM ${n(MEASUREMENT.gpu)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(GPU.tags.gpu)} fill(null)`,
        GPU.fields.memUsedBytes,
        '$tag_host GPU $tag_gpu',
      ),
    )
    .withPanel(
      timeseries(
        'RAM used',
        `SELECT mean(${n(MEM.fields.usedBytes)}) FROM ${n(MEASUREMENT.mem)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)} fill(null)`,
        MEM.fields.usedBytes,
        '$tag_host',
      ),
    )
    .withPanel(throughput('Disk throughput', MEASUREMENT.disk, DISK.tags.device, [DISK.fields.readBytesPerS, 'read'], [DISK.fields.writeBytesPerS, 'write']))
    .withPanel(throughput('Network throughput', MEASUREMENT.net, NET.tags.iface, [NET.fields.rxBytesPerS, 'rx'], [NET.fields.txBytesPerS, 'tx']))
    .link(new DashboardLinkBuilder('Runs and scores').type(DashboardLinkType.Link).url('/d/wattscope-runs'))
    .build();
}

/**
 * The summary's figures stored for Grafana (the run's definition marks them `store`: scores
 * Grafana cannot compute), under their summary names, in the summary's order: a new score shows
 * in every run table by itself.
 */
const STORED = STORED_VIEWS.map((v) => (v.stored === v.name ? n(v.stored) : `${n(v.stored)} AS ${n(v.name)}`));
const storedUnits = (panel: TablePanel): TablePanel => STORED_VIEWS.reduce((p, v) => (v.unit === null ? p : p.overrideByName(v.name, [{ id: 'unit', value: grafanaUnit(v.unit) }])), panel);
/** Grafana's unit ids for the units the run's definition writes; text for the others. */
function grafanaUnit(u: string): string {
  return ({ J: 'joule', W: 'watt', Wh: 'watth', s: 's', '%': 'percent' } as Record<string, string>)[u] ?? `suffix: ${u}`;
}

const RUN_COLUMNS = [
  n(RUN.tags.runId),
  n(RUN.tags.model),
  n(RUN.tags.platform),
  n(R.kind),
  n(R.status),
  n(R.duration_s),
  `${n(R.energy_j)} / 3600 AS ${n('energy_wh')}`,
  ...STORED,
  n(R.gpus),
  `${n(R.energy_host_j)} / 3600 AS ${n('host_energy_wh')}`,
  `${n(R.energy_attributed_j)} / 3600 AS ${n('attributed_energy_wh')}`,
  n(RUN.tags.seriesId),
  n(R.warmup),
  n(R.steady_rise_s),
  n(R.steady_tail_s),
  n(R.ended_at_ms),
].join(', ');

/**
 * A series' statistics over its counted runs (completed, not warm-ups), per series: n, mean,
 * standard deviation of each field the run's definition describes a series by (`series`), and
 * the coefficient of variation of energy per inference. The 95 % confidence interval needs
 * Student's t, which InfluxQL has not: the API (/api/series/ID), the CLI and the live page give it.
 */
const SERIES_STORED = SERIES_METRICS.flatMap((m) => {
  const stored = storedName(m);
  return stored === undefined ? [] : [{ name: m, stored }];
});
const SERIES_COLUMNS = [
  `count(${n(R.energy_per_inference_uwh)}) AS ${n('n')}`,
  `stddev(${n(R.energy_per_inference_uwh)}) / mean(${n(R.energy_per_inference_uwh)}) * 100 AS ${n('cv_pct')}`,
  ...SERIES_STORED.flatMap(({ name, stored }) => [`mean(${n(stored)}) AS ${n(`${name}_mean`)}`, `stddev(${n(stored)}) AS ${n(`${name}_sd`)}`]),
].join(', ');

export function runsDashboard(): dashboard.Dashboard {
  return new DashboardBuilder('Wattscope — runs and scores')
    .uid('wattscope-runs')
    .tags(['wattscope', 'energy'])
    .time({ from: 'now-7d', to: 'now' })
    .variables([
      new QueryVariableBuilder('platform')
        .label('platform')
        .datasource(DATASOURCE)
        .query(`SHOW TAG VALUES FROM ${n(MEASUREMENT.run)} WITH KEY = ${n(RUN.tags.platform)}`)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    ])
    .withPanel(
      storedUnits(new TablePanel())
        .title('Runs')
        .description('Click a run id for its detail: power by source over the run, and its summary.')
        .datasource(DATASOURCE)
        .withTarget(influxql(`SELECT ${RUN_COLUMNS} FROM ${n(MEASUREMENT.run)} WHERE ${matchVar(RUN.tags.platform, 'platform')} AND $timeFilter ORDER BY time DESC`).format('table'))
        .overrideByName(RUN.tags.runId, [{ id: 'links', value: [{ title: 'Run detail', url: '/d/wattscope-run/run-detail?var-run_id=${__value.raw}&from=${__data.fields.Time:raw}&to=${__data.fields.ended_at_ms:raw}' }] }])
        .overrideByName('duration_s', [{ id: 'unit', value: unit(R.duration_s) }])
        .overrideByName('energy_wh', [{ id: 'unit', value: 'watth' }])
        .overrideByName('host_energy_wh', [{ id: 'unit', value: 'watth' }])
        .overrideByName('attributed_energy_wh', [{ id: 'unit', value: 'watth' }])
        .overrideByName('ended_at_ms', [{ id: 'custom.hidden', value: true }])
        .overrideByName(R.steady_rise_s, [{ id: 'unit', value: unit(R.steady_rise_s) }])
        .overrideByName(R.steady_tail_s, [{ id: 'unit', value: unit(R.steady_tail_s) }])
        .height(12)
        .span(24),
    )
    .withPanel(
      new TablePanel()
        .title('Series of repeated runs (wattscope bench): statistics over the counted runs')
        .description('Per series, over its completed runs that are not warm-ups: n, mean and standard deviation of energy per inference (whole run and steady part, µWh), energy, duration and composite score, and the coefficient of variation of energy per inference (red above 2 %: the paper saw less). The 95 % confidence interval (Student’s t) is in the API (/api/series/ID), `wattscope runs ls --series ID` and the live page.')
        .datasource(DATASOURCE)
        .withTarget(
          influxql(
            `SELECT ${SERIES_COLUMNS} FROM ${n(MEASUREMENT.run)} WHERE ${n(RUN.tags.seriesId)} =~ /./ AND ${n(R.warmup)} = false AND ${n(R.status)} = ${s('completed')} AND ${matchVar(RUN.tags.platform, 'platform')} AND $timeFilter GROUP BY ${n(RUN.tags.seriesId)}, ${n(RUN.tags.model)}, ${n(RUN.tags.platform)}`,
          ).format('table'),
        )
        .overrideByName('cv_pct', [
          { id: 'unit', value: 'percent' },
          { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 2 }] } },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
        ])
        .overrideByName('energy_j_mean', [{ id: 'unit', value: unit(R.energy_j) }])
        .overrideByName('energy_j_sd', [{ id: 'unit', value: unit(R.energy_j) }])
        .overrideByName('duration_s_mean', [{ id: 'unit', value: unit(R.duration_s) }])
        .overrideByName('duration_s_sd', [{ id: 'unit', value: unit(R.duration_s) }])
        .height(8)
        .span(24),
    )
    .withPanel(
      new BarChartPanel()
        .title('Composite score (accuracy² per mWh per inference) by model, per platform')
        .datasource(DATASOURCE)
        .withTarget(
          influxql(`SELECT mean(${n(R.composite_score)}) AS ${n('composite')} FROM ${n(MEASUREMENT.run)} WHERE ${n(R.status)} = ${s('completed')} AND ${matchVar(RUN.tags.platform, 'platform')} AND $timeFilter GROUP BY ${n(RUN.tags.model)}, ${n(RUN.tags.platform)}`)
            .alias('$tag_model on $tag_platform')
            .format('table'),
        )
        .xField(RUN.tags.model)
        .height(10)
        .span(24),
    )
    .link(new DashboardLinkBuilder('Live power').type(DashboardLinkType.Link).url('/d/wattscope-live'))
    .build();
}

export function runDetailDashboard(): dashboard.Dashboard {
  const byRun = `${n(RUN.tags.runId)} = '$run_id'`;
  return new DashboardBuilder('Wattscope — run detail')
    .uid('wattscope-run')
    .tags(['wattscope', 'energy'])
    .time({ from: 'now-1h', to: 'now' })
    .variables([
      new QueryVariableBuilder('run_id').label('run').datasource(DATASOURCE).query(`SHOW TAG VALUES FROM ${n(MEASUREMENT.run)} WITH KEY = ${n(RUN.tags.runId)}`).refresh(VariableRefresh.OnTimeRangeChanged),
      ...hostVariables(MEASUREMENT.power),
    ])
    .annotation(runAnnotations())
    .withPanel(
      storedUnits(new TablePanel())
        .title('Run summary')
        .datasource(DATASOURCE)
        .withTarget(
          influxql(
            `SELECT ${[n(RUN.tags.model), n(RUN.tags.platform), n(R.status), n(R.duration_s), n(R.gpus), n(R.energy_j), n(R.energy_host_j), n(R.energy_attributed_j), n(R.energy_net_j), n(R.avg_power_w), n(R.avg_gpu_power_w), n(R.coverage), n(R.inferences), ...STORED, n(R.steady_rise_s), n(R.steady_tail_s), n(RUN.tags.seriesId), n(R.warmup)].join(', ')} FROM ${n(MEASUREMENT.run)} WHERE ${byRun}`,
          ).format('table'),
        )
        .description('The run’s energy counts its GPUs (gpus; empty: every GPU) and its hosts’ other sources; energy_host_j every source of its hosts; energy_attributed_j the share its own processes used.')
        .overrideByName(R.energy_j, [{ id: 'unit', value: unit(R.energy_j) }])
        .overrideByName(R.energy_host_j, [{ id: 'unit', value: unit(R.energy_j) }])
        .overrideByName(R.energy_attributed_j, [{ id: 'unit', value: unit(R.energy_j) }])
        .overrideByName(R.avg_power_w, [{ id: 'unit', value: unit(R.avg_power_w) }])
        .height(5)
        .span(24),
    )
    .withPanel(
      timeseries(
        'Power by source',
        `SELECT mean(${n(P.powerW)}) FROM ${n(MEASUREMENT.power)} WHERE ${HOSTS} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)} fill(null)`,
        P.powerW,
        '$tag_host $tag_source',
        10,
        24,
      ),
    )
    .withPanel(
      timeseries(
        'Power attributed to the run’s own processes',
        `SELECT mean(${n(P.powerW)}) FROM ${n(MEASUREMENT.power)} WHERE ${byRun} AND ${n(POWER.tags.method)} = ${s('attributed')} AND $timeFilter GROUP BY time($__interval), ${n(HOST_TAGS.host)}, ${n(POWER.tags.source)} fill(null)`,
        P.powerW,
        '$tag_host $tag_source',
        8,
        24,
      ),
    )
    .withPanel(cpuUtilisation())
    .withPanel(gpuUtilisation())
    .link(new DashboardLinkBuilder('Runs and scores').type(DashboardLinkType.Link).url('/d/wattscope-runs'))
    .build();
}

/**
 * Places panels left to right, wrapping at Grafana's 24 columns, each row as tall as its
 * tallest panel (the builders set only width and height).
 */
export function flowLayout(d: dashboard.Dashboard): dashboard.Dashboard {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const panel of d.panels ?? []) {
    const pos = (panel as dashboard.Panel).gridPos ?? { h: 8, w: 12, x: 0, y: 0 };
    if (x + pos.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    (panel as dashboard.Panel).gridPos = { ...pos, x, y };
    (panel as dashboard.Panel).id = (d.panels ?? []).indexOf(panel) + 1;
    x += pos.w;
    rowHeight = Math.max(rowHeight, pos.h);
  }
  return d;
}

export const DASHBOARDS = {
  'live-power.json': () => flowLayout(livePowerDashboard()),
  'runs.json': () => flowLayout(runsDashboard()),
  'run-detail.json': () => flowLayout(runDetailDashboard()),
} as const;

/** The committed form: stable key order as built, two-space indent, trailing newline. */
export function render(d: dashboard.Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n';
}
