/**
 * Reads of `power`, `gpu` and `cpu` points for a run's window (docs/DATA-MODEL.md "Run energy").
 * InfluxDB computes the sums; only two edge points per series travel. Over long windows the
 * whole 10-minute buckets inside are summed from rollups (./rollups.ts) where a series is rolled
 * up for every one of them, and from raw points where it is not, so the work stays small however
 * long the run, and the result is the same as summing every raw point. Which parts come from
 * where is planned by ../domain/window-plan.ts (pure).
 *
 * Each read is a set of named statements and a reader of their results, so that the measuring
 * service sends a run's statements together in one request (./measurement.ts); a window needs a
 * second round only where a series' rollups have gaps or the rollup job is behind.
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER, ROLLUP, RUN } from '../../common/model.js';
import { anyOf, durationMs, ident, iql, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type NamedStatements, type Row, type Series, type StatementResult } from '../../common/storage/store.js';
import type { EdgePoint, SeriesWindowData } from '../domain/energy.js';
import { hostMetrics, type AttributedRow, type CurveBucket, type CurvePlan, type HostMetrics, type MetricRow, type PowerCurve } from '../domain/measure.js';
import { hostSourceKey, metricsFromRollups, planWindow, splitMiddle, type TimeRange, type WindowPlan } from '../domain/window-plan.js';
import { readWatermark, ROLLED_CPU_FIELDS, ROLLED_GPU_FIELDS, sumAndCount, watermarkQuery } from './rollups.js';

export type { HostMetrics };

const SERIES_TAGS = [HOST_TAGS.host, POWER.tags.source, POWER.tags.domain, POWER.tags.method] as const;
/** how far past the window the point straddling its end may lie */
const AFTER_SLACK_MS = 10 * 60 * 1000;
/** the collector's last attribution of a run may end a report interval after it */
const ATTRIBUTED_SLACK_MS = 2000;
const F = POWER.fields;

const seriesKey = (tags: Record<string, string>) => SERIES_TAGS.map((t) => tags[t] ?? '').join('\u0000');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A planned time range as an InfluxQL condition. */
function within(r: TimeRange): InfluxQL {
  const lower = r.fromInclusive ? iql`time >= ${timeMs(r.from)}` : iql`time > ${timeMs(r.from)}`;
  const upper = r.toInclusive ? iql`time <= ${timeMs(r.to)}` : iql`time < ${timeMs(r.to)}`;
  return iql`${lower} AND ${upper}`;
}

function edge(series: Series): EdgePoint | undefined {
  const [row] = seriesRows([series]);
  const t = num(row?.time);
  const e = num(row?.[F.energyJ]);
  const i = num(row?.[F.intervalS]);
  return t === null || e === null || i === null ? undefined : { timeMs: t, energyJ: e, intervalS: i };
}

type Sums = { energyJ: number; intervalS: number; count: number };
type Inside = Map<string, { tags: Record<string, string>; sums: Sums }>;

/**
 * Adds statement results of sums (`e`, `s`, and `n` points where the statement counts them; one
 * row, or one per bucket) into per-series totals. Raw points are not counted on the server (a
 * third aggregate costs a third more): a row that covers seconds holds points.
 */
function addSums(into: Inside, result: StatementResult | undefined, skip?: (tags: Record<string, string>) => boolean): void {
  for (const s of result?.series ?? []) {
    if (skip?.(s.tags)) continue;
    const key = seriesKey(s.tags);
    const cur = into.get(key) ?? { tags: s.tags, sums: { energyJ: 0, intervalS: 0, count: 0 } };
    for (const row of seriesRows([s])) {
      const seconds = num(row.s) ?? 0;
      cur.sums = { energyJ: cur.sums.energyJ + (num(row.e) ?? 0), intervalS: cur.sums.intervalS + seconds, count: cur.sums.count + (num(row.n) ?? (seconds > 0 ? 1 : 0)) };
    }
    into.set(key, cur);
  }
}

/** Sums per bucket of `e` and `s`, per host and source, into a curve's series; `timeOf` places a row without its own bucket time. */
function addCurve(into: Map<string, { host: string; source: string; buckets: Map<number, CurveBucket> }>, result: StatementResult | undefined, timeOf?: number): void {
  for (const s of result?.series ?? []) {
    const host = s.tags.host ?? '';
    const source = s.tags.source ?? '';
    const k = `${host}\u0000${source}`;
    const cur = into.get(k) ?? { host, source, buckets: new Map<number, CurveBucket>() };
    into.set(k, cur);
    for (const row of seriesRows([s])) {
      const t = timeOf ?? num(row.time);
      const e = num(row.e);
      const i = num(row.s);
      if (t === null || e === null || i === null) continue;
      const b = cur.buckets.get(t) ?? { timeMs: t, energyJ: 0, intervalS: 0 };
      cur.buckets.set(t, { timeMs: t, energyJ: b.energyJ + e, intervalS: b.intervalS + i });
    }
  }
}

type CurveSeries = PowerCurve['series'];
const curveSeries = (into: Map<string, { host: string; source: string; buckets: Map<number, CurveBucket> }>): CurveSeries =>
  [...into.values()].map((s) => ({ host: s.host, source: s.source, buckets: [...s.buckets.values()].sort((a, b) => a.timeMs - b.timeMs) }));

/** The numeric columns of a result's rows, per host (and GPU for the `gpu` statements). */
function metricRows(result: StatementResult | undefined): MetricRow[] {
  return seriesRows<Row>(result?.series ?? []).map((row) => {
    const gpu = row[GPU.tags.gpu];
    const sums: Record<string, number> = {};
    for (const [k, v] of Object.entries(row)) if (k !== 'time' && typeof v === 'number') sums[k] = v;
    return { host: String(row[HOST_TAGS.host] ?? ''), gpu: typeof gpu === 'string' ? Number(gpu) : null, sums };
  });
}

/** Whether a GPU counts in the averages (a run's scope); every GPU when not given. */
export type GpuFilter = (host: string, gpu: number) => boolean;

/** A window's reads: its statements, and what to make of their results (maybe after a second round). */
export interface WindowRead {
  plan: WindowPlan;
  statements: NamedStatements;
  read(results: Record<string, StatementResult | undefined | Array<StatementResult | undefined>>): WindowFollowUp;
}

/** What the first round found; `statements` (often none) are needed before `finish` can say the rest. */
export interface WindowFollowUp {
  statements: NamedStatements;
  finish(results: Record<string, Array<StatementResult | undefined>>): { series: SeriesWindowData[]; metrics: MetricRow[] };
  /** the run's curve per series, where the window's sums were read per bucket of the curve (see windowRead) */
  curve?: CurveSeries | undefined;
}

type Results = Record<string, StatementResult | undefined | Array<StatementResult | undefined>>;
const one = (r: Results, name: string): StatementResult | undefined => r[name] as StatementResult | undefined;
const many = (r: Results, name: string): Array<StatementResult | undefined> => (r[name] as Array<StatementResult | undefined> | undefined) ?? [];

export class PowerRepository {
  constructor(
    private readonly store: InfluxStore,
    readonly bucketMs: number = ROLLUP.bucketMs,
  ) {}

  /**
   * The statements of a window's energy and host metrics over (t0, t1], named `w.*`: per
   * in-total series the sums inside and the two edge points, and the GPU and CPU sums. With a
   * `curve` (an ended run's steady part), the sums are read per bucket of the curve where the
   * window's plan allows — all of a raw window; the two ends and the rollups of a window read
   * from rollups in their 10-minute buckets — and the follow-up gives the curve as well.
   */
  windowRead(hosts: readonly string[], t0: number, t1: number, curve?: CurvePlan | null): WindowRead {
    const plan = planWindow(t0, t1, this.bucketMs);
    const hostMatch = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const where = iql`${hostMatch} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`;
    const groupBy = iql`GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}, ${ident(POWER.tags.method)}`;
    const power = ident(MEASUREMENT.power);
    const sumsOf = (from: InfluxQL, range: TimeRange, extra: InfluxQL = iql``, bucketMs?: number) =>
      bucketMs === undefined
        ? iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s FROM ${from} WHERE ${where}${extra} AND ${within(range)} ${groupBy}`
        : iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s FROM ${from} WHERE ${where}${extra} AND ${within(range)} ${groupBy}, time(${durationMs(bucketMs)}) fill(none)`;
    // the rollups in the middle: summed with the number of buckets each series has, or — for the
    // curve — each bucket's point as it is (one row per bucket: cheaper than a GROUP BY time)
    const rolledOf = (range: TimeRange, perBucket: boolean) =>
      perBucket
        ? iql`SELECT ${ident(F.energyJ)} AS e, ${ident(F.intervalS)} AS s FROM ${ident(MEASUREMENT.powerRollup)} WHERE ${where} AND ${within(range)} ${groupBy}`
        : iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s, count(${ident(F.energyJ)}) AS n FROM ${ident(MEASUREMENT.powerRollup)} WHERE ${where} AND ${within(range)} ${groupBy}`;
    // the run's curve and the window's sums are one read where its buckets allow: the sums per
    // bucket of the curve, added up for the window (a stop reads its points once)
    const rawCurve = curve && plan.kind === 'raw' ? curve.bucketMs : undefined;
    const rolledCurve = curve?.fromRollups && plan.kind === 'rollups' ? this.bucketMs : undefined;
    const gpuMeans = (range: TimeRange, rolled: boolean) =>
      iql`SELECT ${sumAndCount(ROLLED_GPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.gpuRollup : MEASUREMENT.gpu)} WHERE ${hostMatch} AND ${within(range)} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(GPU.tags.gpu)}`;
    const cpuMeans = (range: TimeRange, rolled: boolean) =>
      iql`SELECT ${sumAndCount(ROLLED_CPU_FIELDS, rolled)} FROM ${ident(rolled ? MEASUREMENT.cpuRollup : MEASUREMENT.cpu)} WHERE ${hostMatch} AND ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${within(range)} GROUP BY ${ident(HOST_TAGS.host)}`;
    // the first point ending inside the window, and the first ending after it (it straddles the end)
    const edges = {
      'w.firstInside': iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} ${groupBy} ORDER BY time ASC LIMIT 1`,
      'w.firstAfter': iql`SELECT ${ident(F.energyJ)}, ${ident(F.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t1)} AND time <= ${timeMs(t1 + AFTER_SLACK_MS)} ${groupBy} ORDER BY time ASC LIMIT 1`,
    };
    const assemble = (inside: Inside, r: Results, metrics: MetricRow[]) => {
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
      for (const s of one(r, 'w.firstInside')?.series ?? []) entry(s.tags).firstInside = edge(s);
      for (const s of one(r, 'w.firstAfter')?.series ?? []) entry(s.tags).firstAfter = edge(s);
      return { series: [...byKey.values()], metrics };
    };

    if (hosts.length === 0) {
      return { plan, statements: {}, read: () => ({ statements: {}, finish: () => ({ series: [], metrics: [] }) }) };
    }
    if (plan.kind === 'raw') {
      return {
        plan,
        statements: { 'w.sums': sumsOf(power, plan.whole, iql``, rawCurve), ...edges, 'w.gpu': gpuMeans(plan.whole, false), 'w.cpu': cpuMeans(plan.whole, false) },
        read: (r) => {
          const inside: Inside = new Map();
          addSums(inside, one(r, 'w.sums'));
          const metrics = [...metricRows(one(r, 'w.gpu')), ...metricRows(one(r, 'w.cpu'))];
          const byBucket = new Map<string, { host: string; source: string; buckets: Map<number, CurveBucket> }>();
          if (rawCurve !== undefined) addCurve(byBucket, one(r, 'w.sums'));
          return { statements: {}, finish: () => assemble(inside, r, metrics), curve: rawCurve === undefined ? undefined : curveSeries(byBucket) };
        },
      };
    }
    const { left, middle, right } = plan;
    return {
      plan,
      statements: {
        'w.leftSums': sumsOf(power, left),
        'w.rolledSums': rolledOf(middle, rolledCurve !== undefined),
        'w.rightSums': sumsOf(power, right),
        ...edges,
        'w.edgeMetrics': [gpuMeans(left, false), cpuMeans(left, false), gpuMeans(right, false), cpuMeans(right, false)],
        'w.rolledGpu': gpuMeans(middle, true),
        'w.rolledCpu': cpuMeans(middle, true),
        'w.watermark': watermarkQuery(),
        // the in-total sources of each host: those not rolled up in every bucket are summed raw
        'w.sources': hosts.map((h) => iql`SHOW TAG VALUES FROM ${power} WITH KEY = ${ident(POWER.tags.source)} WHERE ${ident(HOST_TAGS.host)} = ${str(h)} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`),
      },
      read: (r) => {
        const rolled = (one(r, 'w.rolledSums')?.series ?? []).map((s) => ({ host: s.tags.host ?? '', source: s.tags.source ?? '', buckets: seriesRows([s]).reduce((a, row) => a + (num(row.n) ?? 1), 0) }));
        const candidates = hosts.flatMap((host, i) => seriesRows(many(r, 'w.sources')[i]?.series ?? []).map((row) => ({ host, source: String(row.value) })));
        const { fromRollups, raw } = splitMiddle(candidates, rolled, plan.buckets);
        const inside: Inside = new Map();
        addSums(inside, one(r, 'w.leftSums'));
        addSums(inside, one(r, 'w.rightSums'));
        addSums(inside, one(r, 'w.rolledSums'), (tags) => !fromRollups.has(hostSourceKey({ host: tags.host ?? '', source: tags.source ?? '' })));
        const metrics = many(r, 'w.edgeMetrics').flatMap(metricRows);
        // the curve in buckets of the rollups: the two partial buckets at the ends, raw, and the whole ones rolled up
        const byBucket = new Map<string, { host: string; source: string; buckets: Map<number, CurveBucket> }>();
        if (rolledCurve !== undefined) {
          addCurve(byBucket, one(r, 'w.leftSums'), Math.floor(t0 / rolledCurve) * rolledCurve);
          addCurve(byBucket, one(r, 'w.rolledSums'));
          addCurve(byBucket, one(r, 'w.rightSums'), right.from);
        }
        const rolledMetrics = metricsFromRollups(readWatermark(one(r, 'w.watermark')) ?? null, middle);
        if (rolledMetrics) metrics.push(...metricRows(one(r, 'w.rolledGpu')), ...metricRows(one(r, 'w.rolledCpu')));
        return {
          statements: {
            'w.rawMiddle': raw.map((c) => sumsOf(power, middle, iql` AND ${ident(HOST_TAGS.host)} = ${str(c.host)} AND ${ident(POWER.tags.source)} = ${str(c.source)}`)),
            'w.middleMetrics': rolledMetrics ? [] : [gpuMeans(middle, false), cpuMeans(middle, false)],
          },
          finish: (more) => {
            for (const m of more['w.rawMiddle'] ?? []) addSums(inside, m);
            for (const m of more['w.middleMetrics'] ?? []) metrics.push(...metricRows(m));
            return assemble(inside, r, metrics);
          },
          curve: rolledCurve === undefined ? undefined : curveSeries(byBucket),
        };
      },
    };
  }

  /**
   * What the collectors attributed to a run's own processes over its window: server-side sums
   * per host and source, whatever the run's length. The last point may end a report interval
   * after the run (the collector's last attribution once the run is over).
   */
  attributedStatement(runId: string, hosts: readonly string[], t0: number, t1: number): InfluxQL {
    return iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s, mean(${ident(F.share)}) AS share, last(${ident(F.note)}) AS note FROM ${ident(MEASUREMENT.power)} WHERE ${this.attributedWhere(runId, hosts, t0, t1)} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}`;
  }

  private attributedWhere(runId: string, hosts: readonly string[], t0: number, t1: number): InfluxQL {
    return iql`${ident(RUN.tags.runId)} = ${str(runId)} AND ${ident(POWER.tags.method)} = ${str('attributed')} AND ${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1 + ATTRIBUTED_SLACK_MS)}`;
  }

  readAttributed(r: StatementResult | undefined): AttributedRow[] {
    return (r?.series ?? []).map((s) => {
      const row = seriesRows([s])[0] ?? {};
      return { host: s.tags.host ?? '', source: (s.tags.source ?? '').replace(/^attributed\//, ''), domain: s.tags.domain ?? '', energyJ: num(row.e) ?? 0, intervalS: num(row.s) ?? 0, share: num(row.share) ?? 0, note: typeof row.note === 'string' ? row.note : null };
    });
  }

  /**
   * A run's power curve for its steady part, where the window's own statements do not give it
   * (a run of 1–6 h: read from rollups, its curve in buckets finer than them), named `c.*`: per
   * in-total series, the sums of energy and covered seconds of the points ending in each bucket;
   * and, when the run's scores use it, the energy attributed to its processes per bucket.
   */
  curveStatements(plan: CurvePlan, window: WindowPlan, run: { run_id: string; hosts: readonly string[]; score_energy: string }, t0: number, t1: number): NamedStatements {
    if (run.hosts.length === 0) return {};
    const statements: NamedStatements = {};
    const power = ident(MEASUREMENT.power);
    const bucket = durationMs(plan.bucketMs);
    const fromWindow = window.kind === 'raw' || plan.fromRollups;
    if (!fromWindow) {
      statements['c.power'] = iql`SELECT sum(${ident(F.energyJ)}) AS e, sum(${ident(F.intervalS)}) AS s FROM ${power} WHERE ${ident(HOST_TAGS.host)} =~ ${anyOf(run.hosts)} AND ${ident(POWER.tags.inTotal)} = ${str('true')} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} GROUP BY time(${bucket}), ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)} fill(none)`;
    }
    if (run.score_energy === 'attributed') statements['c.attributed'] = iql`SELECT sum(${ident(F.energyJ)}) AS e FROM ${power} WHERE ${this.attributedWhere(run.run_id, run.hosts, t0, t1)} GROUP BY time(${bucket}) fill(none)`;
    return statements;
  }

  /** The curve: its series from the window's read where it gave them, else from `c.power`. */
  readCurve(plan: CurvePlan, results: Results, fromWindow: CurveSeries | undefined): PowerCurve {
    const byBucket = new Map<string, { host: string; source: string; buckets: Map<number, CurveBucket> }>();
    if (!fromWindow) addCurve(byBucket, one(results, 'c.power'));
    const attributed = seriesRows(one(results, 'c.attributed')?.series ?? []).flatMap((row) => {
      const t = num(row.time);
      const e = num(row.e);
      return t === null || e === null ? [] : [{ timeMs: t, energyJ: e }];
    });
    return { bucketMs: plan.bucketMs, series: fromWindow ?? curveSeries(byBucket), attributed };
  }

  /** A window's series and host metrics on their own (the benchmarks and tests read a window this way). */
  async window(hosts: readonly string[], t0: number, t1: number, gpuFilter?: GpuFilter): Promise<{ series: SeriesWindowData[]; metrics: HostMetrics }> {
    const read = this.windowRead(hosts, t0, t1);
    const follow = read.read(await this.store.queryNamed(read.statements));
    const { series, metrics } = follow.finish((await this.store.queryNamed(follow.statements)) as Record<string, unknown> as Record<string, Array<StatementResult | undefined>>);
    return { series, metrics: hostMetrics(metrics, gpuFilter) };
  }
}
