/**
 * Reads of `power`, `gpu` and `cpu` points for a run's window (docs/DATA-MODEL.md "Run energy").
 * InfluxDB computes the sums; only two edge points per series travel. Over long windows the
 * whole 10-minute buckets inside are summed from rollups (./../rollups.ts) where a series is
 * rolled up for every one of them, and from raw points where it is not, so the work stays
 * small however long the run, and the result is the same as summing every raw point.
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER, ROLLUP } from '../../common/model.js';
import { anyOf, ident, iql, join, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Row, type Series, type StatementResult } from '../../common/storage/store.js';
import type { EdgePoint, SeriesWindowData } from '../domain/energy.js';
import { bucketsInside } from '../domain/rollup.js';
import { ROLLED_CPU_FIELDS, ROLLED_GPU_FIELDS, sumAndCount, watermarkQuery } from '../rollups.js';

export interface HostMetrics {
  avg_gpu_util_pct: number | null;
  avg_gpu_mem_pct: number | null;
  avg_cpu_pct: number | null;
}

const SERIES_TAGS = [HOST_TAGS.host, POWER.tags.source, POWER.tags.domain, POWER.tags.method] as const;
/** how far past the window the point straddling its end may lie */
const AFTER_SLACK_MS = 10 * 60 * 1000;
const SUM = ROLLUP.fields.sumSuffix;
const COUNT = ROLLUP.fields.countSuffix;
const F = POWER.fields;

const seriesKey = (tags: Record<string, string>) => SERIES_TAGS.map((t) => tags[t] ?? '').join('\u0000');
const hostSource = (tags: Record<string, string>) => `${tags.host ?? ''}\u0000${tags.source ?? ''}`;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function edge(series: Series): EdgePoint | undefined {
  const [row] = seriesRows([series]);
  const t = num(row?.time);
  const e = num(row?.[F.energyJ]);
  const i = num(row?.[F.intervalS]);
  return t === null || e === null || i === null ? undefined : { timeMs: t, energyJ: e, intervalS: i };
}

type Sums = { energyJ: number; intervalS: number; count: number };
type MetricSums = Record<string, number>;

/** Adds statement results of sums (`e`, `s`, `n`) into per-series totals. */
function addSums(into: Map<string, { tags: Record<string, string>; sums: Sums }>, result: StatementResult | undefined, skip?: (tags: Record<string, string>) => boolean): void {
  for (const s of result?.series ?? []) {
    if (skip?.(s.tags)) continue;
    const [row] = seriesRows([s]);
    const key = seriesKey(s.tags);
    const cur = into.get(key) ?? { tags: s.tags, sums: { energyJ: 0, intervalS: 0, count: 0 } };
    cur.sums = { energyJ: cur.sums.energyJ + (num(row?.e) ?? 0), intervalS: cur.sums.intervalS + (num(row?.s) ?? 0), count: cur.sums.count + (num(row?.n) ?? 0) };
    into.set(key, cur);
  }
}

/** Adds the first row's numeric columns of a result into `into`. */
function addMetricSums(into: MetricSums, result: StatementResult | undefined): void {
  const row: Row | undefined = seriesRows(result?.series ?? [])[0];
  for (const [k, v] of Object.entries(row ?? {})) if (k !== 'time' && typeof v === 'number') into[k] = (into[k] ?? 0) + v;
}

function metricsOf(m: MetricSums): HostMetrics {
  const mean = (field: string) => {
    const c = m[field + COUNT];
    return c ? (m[field + SUM] ?? 0) / c : null;
  };
  const used = mean(GPU.fields.memUsedBytes);
  const total = mean(GPU.fields.memTotalBytes);
  return { avg_gpu_util_pct: mean(GPU.fields.utilPct), avg_gpu_mem_pct: used !== null && total ? (100 * used) / total : null, avg_cpu_pct: mean(CPU.fields.usagePct) };
}

export class PowerRepository {
  constructor(
    private readonly store: InfluxStore,
    private readonly bucketMs: number = ROLLUP.bucketMs,
  ) {}

  async window(hosts: readonly string[], t0: number, t1: number): Promise<{ series: SeriesWindowData[]; metrics: HostMetrics }> {
    if (hosts.length === 0) return { series: [], metrics: { avg_gpu_util_pct: null, avg_gpu_mem_pct: null, avg_cpu_pct: null } };
    const hostMatch = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const where = iql`${hostMatch} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`;
    const groupBy = iql`GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}, ${ident(POWER.tags.method)}`;
    const power = ident(MEASUREMENT.power);
    const sumsOf = (from: InfluxQL, range: InfluxQL, extra: InfluxQL = iql``) =>
      iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s, count(${ident(F.energyJ)}) AS n FROM ${from} WHERE ${where}${extra} AND ${range} ${groupBy}`;
    const metricStatements = (range: InfluxQL, rolled: boolean) => [
      iql`SELECT ${sumAndCount(ROLLED_GPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.gpuRollup : MEASUREMENT.gpu)} WHERE ${hostMatch} AND ${range}`,
      iql`SELECT ${sumAndCount(ROLLED_CPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.cpuRollup : MEASUREMENT.cpu)} WHERE ${hostMatch} AND ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${range}`,
    ];
    const edges = [
      iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} ${groupBy} ORDER BY time ASC LIMIT 1`,
      iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t1)} AND time <= ${timeMs(t1 + AFTER_SLACK_MS)} ${groupBy} ORDER BY time ASC LIMIT 1`,
    ];

    const inside = new Map<string, { tags: Record<string, string>; sums: Sums }>();
    const metricSums: MetricSums = {};
    let firsts: StatementResult | undefined;
    let afters: StatementResult | undefined;
    const mid = bucketsInside(t0, t1, this.bucketMs);

    if (!mid || mid.count < 2) {
      const whole = iql`time > ${timeMs(t0)} AND time <= ${timeMs(t1)}`;
      const results = await this.store.query(join([sumsOf(power, whole), ...edges, ...metricStatements(whole, false)], '; '));
      addSums(inside, results[0]);
      [, firsts, afters] = results;
      addMetricSums(metricSums, results[3]);
      addMetricSums(metricSums, results[4]);
    } else {
      const left = iql`time > ${timeMs(t0)} AND time < ${timeMs(mid.from)}`;
      const middle = iql`time >= ${timeMs(mid.from)} AND time < ${timeMs(mid.to)}`;
      const right = iql`time >= ${timeMs(mid.to)} AND time <= ${timeMs(t1)}`;
      const showSources = hosts.map((h) => iql`SHOW TAG VALUES FROM ${power} WITH KEY = ${ident(POWER.tags.source)} WHERE ${ident(HOST_TAGS.host)} = ${str(h)} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`);
      const results = await this.store.query(
        join(
          [
            sumsOf(power, left),
            sumsOf(ident(MEASUREMENT.powerRollup), middle),
            sumsOf(power, right),
            ...edges,
            ...metricStatements(left, false),
            ...metricStatements(right, false),
            ...metricStatements(middle, true),
            watermarkQuery(),
            ...showSources,
          ],
          '; ',
        ),
      );
      const [leftSums, rolled, rightSums] = results;
      firsts = results[3];
      afters = results[4];
      // a host+source is summed from rollups only when one of its series is rolled up for every bucket
      const fullyRolled = new Set((rolled?.series ?? []).filter((s) => num(seriesRows([s])[0]?.n) === mid.count).map((s) => hostSource(s.tags)));
      const candidates = hosts.flatMap((host, i) => seriesRows(results[12 + i]?.series ?? []).map((r) => ({ host, source: String(r.value) })));
      const rawMiddle = candidates.filter((c) => !fullyRolled.has(hostSource(c)));
      addSums(inside, leftSums);
      addSums(inside, rightSums);
      addSums(inside, rolled, (tags) => !fullyRolled.has(hostSource(tags)));
      const wm = num(seriesRows(results[11]?.series ?? [])[0]?.w);
      const metricsRolled = wm !== null && wm >= mid.to;
      for (const i of [5, 6, 7, 8]) addMetricSums(metricSums, results[i]);
      if (metricsRolled) {
        addMetricSums(metricSums, results[9]);
        addMetricSums(metricSums, results[10]);
      }
      const extra = [
        ...rawMiddle.map((c) => sumsOf(power, middle, iql` AND ${ident(HOST_TAGS.host)} = ${str(c.host)} AND ${ident(POWER.tags.source)} = ${str(c.source)}`)),
        ...(metricsRolled ? [] : metricStatements(middle, false)),
      ];
      if (extra.length > 0) {
        const more = await this.store.query(join(extra, '; '));
        more.slice(0, rawMiddle.length).forEach((r) => addSums(inside, r));
        for (const r of more.slice(rawMiddle.length)) addMetricSums(metricSums, r);
      }
    }

    const byKey = new Map<string, SeriesWindowData>();
    const entry = (tags: Record<string, string>): SeriesWindowData => {
      const key = seriesKey(tags);
      let d = byKey.get(key);
      if (!d) {
        d = { host: tags.host ?? '', source: tags.source ?? '', domain: tags.domain ?? '', method: tags.method ?? '', inside: undefined, firstInside: undefined, firstAfter: undefined };
        byKey.set(key, d);
      }
      return d;
    };
    for (const { tags, sums } of inside.values()) if (sums.count > 0) entry(tags).inside = sums;
    for (const s of firsts?.series ?? []) entry(s.tags).firstInside = edge(s);
    for (const s of afters?.series ?? []) entry(s.tags).firstAfter = edge(s);
    return { series: [...byKey.values()], metrics: metricsOf(metricSums) };
  }
}
