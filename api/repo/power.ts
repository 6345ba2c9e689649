/**
 * Reads of `power`, `gpu` and `cpu` points for a run's window (docs/DATA-MODEL.md "Run energy").
 * InfluxDB computes the sums; only two edge points per series travel. Over long windows the
 * whole 10-minute buckets inside are summed from rollups (./../rollups.ts) where a series is
 * rolled up for every one of them, and from raw points where it is not, so the work stays
 * small however long the run, and the result is the same as summing every raw point. Which
 * parts come from where is planned by ../domain/window-plan.ts (pure); the statements here are
 * sent together and their results read by name.
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER, ROLLUP, RUN } from '../../common/model.js';
import { anyOf, ident, iql, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Row, type Series, type StatementResult } from '../../common/storage/store.js';
import type { EdgePoint, SeriesWindowData } from '../domain/energy.js';
import { hostSourceKey, metricsFromRollups, planWindow, splitMiddle, type TimeRange } from '../domain/window-plan.js';
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

/** A planned time range as an InfluxQL condition. */
function within(r: TimeRange): InfluxQL {
  const lower = r.fromInclusive ? iql`time >= ${timeMs(r.from)}` : iql`time > ${timeMs(r.from)}`;
  const upper = r.toInclusive ? iql`time <= ${timeMs(r.to)}` : iql`time < ${timeMs(r.to)}`;
  return iql`${lower} AND ${upper}`;
}

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

/**
 * Adds the numeric columns of a result's rows into `into`; the GPU statements come grouped by
 * host and GPU, and only the GPUs `keep` takes count (a run's scope).
 */
function addMetricSums(into: MetricSums, result: StatementResult | undefined, keep: GpuFilter = () => true): void {
  for (const row of seriesRows<Row>(result?.series ?? [])) {
    const gpu = row[GPU.tags.gpu];
    if (typeof gpu === 'string' && !keep(String(row[HOST_TAGS.host] ?? ''), Number(gpu))) continue;
    for (const [k, v] of Object.entries(row)) if (k !== 'time' && typeof v === 'number') into[k] = (into[k] ?? 0) + v;
  }
}

/** Whether a GPU counts in the averages (a run's scope); every GPU when not given. */
export type GpuFilter = (host: string, gpu: number) => boolean;

function metricsOf(m: MetricSums): HostMetrics {
  const mean = (field: string) => {
    const c = m[field + COUNT];
    return c ? (m[field + SUM] ?? 0) / c : null;
  };
  const used = mean(GPU.fields.memUsedBytes);
  const total = mean(GPU.fields.memTotalBytes);
  return { avg_gpu_util_pct: mean(GPU.fields.utilPct), avg_gpu_mem_pct: used !== null && total ? (100 * used) / total : null, avg_cpu_pct: mean(CPU.fields.usagePct) };
}

/** Energy attributed to one run's processes, per host and source (collector/attribution.ts). */
export interface AttributedRow {
  host: string;
  source: string;
  domain: string;
  energyJ: number;
  intervalS: number;
  share: number;
  note: string | null;
}

export class PowerRepository {
  constructor(
    private readonly store: InfluxStore,
    private readonly bucketMs: number = ROLLUP.bucketMs,
  ) {}

  /**
   * What the collectors attributed to a run's own processes over its window: server-side sums
   * per host and source, whatever the run's length. The last point may end a report interval
   * after the run (the collector's last attribution once the run is over): `slackMs`.
   */
  async attributed(runId: string, hosts: readonly string[], t0: number, t1: number, slackMs = 2000): Promise<AttributedRow[]> {
    if (hosts.length === 0) return [];
    const [r] = await this.store.query(
      iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s, mean(${ident(F.share)}) AS share, last(${ident(F.note)}) AS note FROM ${ident(MEASUREMENT.power)} WHERE ${ident(RUN.tags.runId)} = ${str(runId)} AND ${ident(POWER.tags.method)} = ${str('attributed')} AND ${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1 + slackMs)} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}`,
    );
    return (r?.series ?? []).map((s) => {
      const row = seriesRows([s])[0] ?? {};
      return { host: s.tags.host ?? '', source: (s.tags.source ?? '').replace(/^attributed\//, ''), domain: s.tags.domain ?? '', energyJ: num(row.e) ?? 0, intervalS: num(row.s) ?? 0, share: num(row.share) ?? 0, note: typeof row.note === 'string' ? row.note : null };
    });
  }

  async window(hosts: readonly string[], t0: number, t1: number, gpuFilter?: GpuFilter): Promise<{ series: SeriesWindowData[]; metrics: HostMetrics }> {
    if (hosts.length === 0) return { series: [], metrics: { avg_gpu_util_pct: null, avg_gpu_mem_pct: null, avg_cpu_pct: null } };
    const hostMatch = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const where = iql`${hostMatch} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`;
    const groupBy = iql`GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}, ${ident(POWER.tags.method)}`;
    const power = ident(MEASUREMENT.power);
    const sumsOf = (from: InfluxQL, range: TimeRange, extra: InfluxQL = iql``) =>
      iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s, count(${ident(F.energyJ)}) AS n FROM ${from} WHERE ${where}${extra} AND ${within(range)} ${groupBy}`;
    const gpuMeans = (range: TimeRange, rolled: boolean) =>
      iql`SELECT ${sumAndCount(ROLLED_GPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.gpuRollup : MEASUREMENT.gpu)} WHERE ${hostMatch} AND ${within(range)} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(GPU.tags.gpu)}`;
    const cpuMeans = (range: TimeRange, rolled: boolean) =>
      iql`SELECT ${sumAndCount(ROLLED_CPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.cpuRollup : MEASUREMENT.cpu)} WHERE ${hostMatch} AND ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${within(range)}`;
    // the first point ending inside the window, and the first ending after it (it straddles the end)
    const edges = {
      firstInside: iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} ${groupBy} ORDER BY time ASC LIMIT 1`,
      firstAfter: iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t1)} AND time <= ${timeMs(t1 + AFTER_SLACK_MS)} ${groupBy} ORDER BY time ASC LIMIT 1`,
    };

    const inside = new Map<string, { tags: Record<string, string>; sums: Sums }>();
    const metricSums: MetricSums = {};
    let firsts: StatementResult | undefined;
    let afters: StatementResult | undefined;
    const plan = planWindow(t0, t1, this.bucketMs);

    if (plan.kind === 'raw') {
      const r = await this.store.queryNamed({ sums: sumsOf(power, plan.whole), ...edges, gpu: gpuMeans(plan.whole, false), cpu: cpuMeans(plan.whole, false) });
      addSums(inside, r.sums);
      [firsts, afters] = [r.firstInside, r.firstAfter];
      addMetricSums(metricSums, r.gpu, gpuFilter);
      addMetricSums(metricSums, r.cpu);
    } else {
      const { left, middle, right } = plan;
      const r = await this.store.queryNamed({
        leftSums: sumsOf(power, left),
        rolledSums: sumsOf(ident(MEASUREMENT.powerRollup), middle),
        rightSums: sumsOf(power, right),
        ...edges,
        edgeMetrics: [gpuMeans(left, false), cpuMeans(left, false), gpuMeans(right, false), cpuMeans(right, false)],
        rolledGpu: gpuMeans(middle, true),
        rolledCpu: cpuMeans(middle, true),
        watermark: watermarkQuery(),
        // the in-total sources of each host: those not rolled up in every bucket are summed raw
        sources: hosts.map((h) => iql`SHOW TAG VALUES FROM ${power} WITH KEY = ${ident(POWER.tags.source)} WHERE ${ident(HOST_TAGS.host)} = ${str(h)} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`),
      });
      [firsts, afters] = [r.firstInside, r.firstAfter];
      const rolled = (r.rolledSums?.series ?? []).map((s) => ({ host: s.tags.host ?? '', source: s.tags.source ?? '', buckets: num(seriesRows([s])[0]?.n) ?? 0 }));
      const candidates = hosts.flatMap((host, i) => seriesRows(r.sources[i]?.series ?? []).map((row) => ({ host, source: String(row.value) })));
      const { fromRollups, raw } = splitMiddle(candidates, rolled, plan.buckets);
      addSums(inside, r.leftSums);
      addSums(inside, r.rightSums);
      addSums(inside, r.rolledSums, (tags) => !fromRollups.has(hostSourceKey({ host: tags.host ?? '', source: tags.source ?? '' })));
      r.edgeMetrics.forEach((m) => addMetricSums(metricSums, m, gpuFilter));
      const rolledMetrics = metricsFromRollups(num(seriesRows(r.watermark?.series ?? [])[0]?.w), middle);
      if (rolledMetrics) {
        addMetricSums(metricSums, r.rolledGpu, gpuFilter);
        addMetricSums(metricSums, r.rolledCpu);
      }
      const more = await this.store.queryNamed({
        rawMiddle: raw.map((c) => sumsOf(power, middle, iql` AND ${ident(HOST_TAGS.host)} = ${str(c.host)} AND ${ident(POWER.tags.source)} = ${str(c.source)}`)),
        middleMetrics: rolledMetrics ? [] : [gpuMeans(middle, false), cpuMeans(middle, false)],
      });
      for (const m of more.rawMiddle) addSums(inside, m);
      for (const m of more.middleMetrics) addMetricSums(metricSums, m, gpuFilter);
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
