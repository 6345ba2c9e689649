/**
 * The rollup job (node-cron, every minute): turns settled 10-minute buckets of raw points into
 * rollup points, from a watermark kept in InfluxDB, a bounded number of buckets per run.
 *
 * - `power_10m`: per series, the sums of `energy_j` and `interval_s` and the point count, written
 *   only where the series' points tile the bucket (./domain/rollup.ts: then they are final).
 *   That takes every raw point, so they are fetched a group of hosts at a time (at most 200,000
 *   points an answer): a whole fleet's in one answer would run to hundreds of MB.
 * - `gpu_10m`, `cpu_10m` (cpu=all): sums and counts of the fields the run summary averages.
 *
 * Several API replicas run it at once, every minute, with no lock between them (InfluxDB has no
 * compare-and-set to build one on), so every write it makes is idempotent and deterministic:
 *
 * - A rollup point is a function of the raw points of its settled bucket alone (its series'
 *   tags, the bucket's start as its time, sums taken in time order): replicas that roll up the
 *   same bucket write the same point, which InfluxDB stores once (same series and time).
 *   `power_10m` buckets are written only where the series tiles the bucket, so no late point can
 *   change them afterwards; `gpu_10m`/`cpu_10m` are sums of what arrived by the settle time
 *   (10 min after the bucket), as with one replica.
 * - The watermark is written at its own value as its time (`time = watermark_ms`), and read as
 *   the max over those points. Two replicas reaching the same watermark write the same point; a
 *   replica that writes an older one late (it was slow, or its clock is behind) adds a point
 *   below the max, which changes nothing: the watermark never goes backwards. Every value
 *   written was reached by a replica that had written the rollups below it first, so the max is
 *   a true watermark. (Written at `now`, as before, and read with last(), a slow replica's older
 *   value could land last and take the watermark back.)
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER, ROLLUP, type FieldValue, type Sample } from '../common/model.js';
import { logger } from '../common/log.js';
import { anyOf, ident, iql, join, str, timeMs, durationMs, type InfluxQL } from '../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Series } from '../common/storage/store.js';
import { packByCount, sums, tiles } from './domain/rollup.js';
import type { EdgePoint } from './domain/energy.js';

const log = logger('rollups');
const S = ROLLUP.state;
const SUM = ROLLUP.fields.sumSuffix;
const COUNT = ROLLUP.fields.countSuffix;

/** Fields of `gpu` and `cpu` the run summary averages, rolled up as sum and count. */
export const ROLLED_GPU_FIELDS = [GPU.fields.utilPct, GPU.fields.memUsedBytes, GPU.fields.memTotalBytes] as const;
export const ROLLED_CPU_FIELDS = [CPU.fields.usagePct] as const;

/** The watermark: the furthest any replica rolled up (see above why max, not last). */
export function watermarkQuery(): InfluxQL {
  return iql`SELECT max(${ident(S.watermarkMs)}) AS w FROM ${ident(MEASUREMENT.state)} WHERE ${ident(S.key)} = ${str(S.rollupKey)}`;
}

/** `sum(f) AS f_sum, count(f) AS f_count` for raw points, or the sums of both for rollups. */
export function sumAndCount(fields: readonly string[], rolled = false): InfluxQL {
  return join(
    fields.flatMap((f) =>
      rolled
        ? [iql`sum(${ident(f + SUM)}) AS ${ident(f + SUM)}`, iql`sum(${ident(f + COUNT)}) AS ${ident(f + COUNT)}`]
        : [iql`sum(${ident(f)}) AS ${ident(f + SUM)}`, iql`count(${ident(f)}) AS ${ident(f + COUNT)}`],
    ),
    ', ',
  );
}

export interface RollupOptions {
  bucketMs?: number;
  /** a bucket is rolled up this long after it ends (collectors write within seconds) */
  settleMs?: number;
  /** at most this many buckets per run (bounded work per minute) */
  maxBuckets?: number;
  /** buckets fetched per request */
  chunkBuckets?: number;
  /**
   * raw `power` points fetched per request at most: a chunk's points are fetched host group by
   * host group (a whole fleet's in one answer would run to hundreds of MB)
   */
  maxPointsPerQuery?: number;
  /** the API's clock (tests drive it); Date.now by default */
  now?: () => number;
}

export class RollupJob {
  readonly bucketMs: number;
  private readonly settleMs: number;
  private readonly maxBuckets: number;
  private readonly chunkBuckets: number;
  private readonly maxPointsPerQuery: number;
  private readonly now: () => number;

  constructor(
    private readonly store: InfluxStore,
    opts: RollupOptions = {},
  ) {
    this.bucketMs = opts.bucketMs ?? ROLLUP.bucketMs;
    this.settleMs = opts.settleMs ?? ROLLUP.bucketMs;
    this.maxBuckets = opts.maxBuckets ?? 36;
    this.chunkBuckets = opts.chunkBuckets ?? 6;
    this.maxPointsPerQuery = opts.maxPointsPerQuery ?? 200_000;
    this.now = opts.now ?? Date.now;
  }

  /** Everything before the watermark has been rolled up; undefined before the first run. */
  async watermark(): Promise<number | undefined> {
    const [row] = await this.store.rows(watermarkQuery());
    return typeof row?.w === 'number' ? row.w : undefined;
  }

  private async start(): Promise<number | undefined> {
    const wm = await this.watermark();
    if (wm !== undefined) return wm;
    const [first] = await this.store.rows(iql`SELECT first(${ident(POWER.fields.energyJ)}) FROM ${ident(MEASUREMENT.power)}`);
    return typeof first?.time === 'number' ? Math.floor(first.time / this.bucketMs) * this.bucketMs : undefined;
  }

  /** Rolls up the settled buckets after the watermark; returns how many. */
  async advance(now: number = this.now()): Promise<number> {
    const start = await this.start();
    if (start === undefined) return 0;
    let from = start;
    const limit = Math.floor((now - this.settleMs) / this.bucketMs) * this.bucketMs;
    let done = 0;
    while (from + this.bucketMs <= limit && done < this.maxBuckets) {
      const n = Math.min(this.chunkBuckets, this.maxBuckets - done, (limit - from) / this.bucketMs);
      const to = from + n * this.bucketMs;
      await this.rollChunk(from, to);
      // at its own value as its time: replicas writing the same watermark write the same point,
      // and an older one written late sits below the max (never at time 0, which a 2.x bucket
      // with a retention period refuses; `to` lies after the raw points just rolled up)
      await this.store.write([{ measurement: MEASUREMENT.state, tags: { [S.key]: S.rollupKey }, fields: { [S.watermarkMs]: to }, timeMs: to }]);
      from = to;
      done += n;
    }
    if (done > 0) log.debug('rolled up', { buckets: done, watermark: new Date(from).toISOString() });
    return done;
  }

  private async rollChunk(from: number, to: number): Promise<void> {
    const range = iql`time >= ${timeMs(from)} AND time < ${timeMs(to)}`;
    const { counts, gpu, cpu } = await this.store.queryNamed({
      counts: iql`SELECT count(${ident(POWER.fields.energyJ)}) AS n FROM ${ident(MEASUREMENT.power)} WHERE ${range} GROUP BY ${ident(HOST_TAGS.host)}`,
      gpu: iql`SELECT ${sumAndCount(ROLLED_GPU_FIELDS)} FROM ${ident(MEASUREMENT.gpu)} WHERE ${range} GROUP BY time(${durationMs(this.bucketMs)}), * fill(none)`,
      cpu: iql`SELECT ${sumAndCount(ROLLED_CPU_FIELDS)} FROM ${ident(MEASUREMENT.cpu)} WHERE ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${range} GROUP BY time(${durationMs(this.bucketMs)}), * fill(none)`,
    });
    const out: Sample[] = [];
    // every raw point is needed to know whether a series tiles a bucket; fetched a host group at a time
    const perHost = seriesRows(counts?.series ?? []).map((r) => {
      const host = r[HOST_TAGS.host];
      return { key: typeof host === 'string' ? host : '', count: typeof r.n === 'number' ? r.n : 0 };
    });
    for (const hosts of packByCount(perHost, this.maxPointsPerQuery)) {
      const [power] = await this.store.query(
        iql`SELECT ${ident(POWER.fields.energyJ)}, ${ident(POWER.fields.intervalS)} FROM ${ident(MEASUREMENT.power)} WHERE ${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)} AND ${range} GROUP BY *`,
      );
      for (const series of power?.series ?? []) out.push(...this.powerRollups(series));
    }
    for (const [measurement, result] of [[MEASUREMENT.gpuRollup, gpu], [MEASUREMENT.cpuRollup, cpu]] as const) {
      for (const row of seriesRows(result?.series ?? [])) {
        const { time, ...rest } = row;
        const tags: Record<string, string> = {};
        const fields: Record<string, FieldValue> = {};
        for (const [k, v] of Object.entries(rest)) {
          if (k.endsWith(SUM) || k.endsWith(COUNT)) {
            if (typeof v === 'number') fields[k] = v;
          } else if (typeof v === 'string') tags[k] = v;
        }
        if (typeof time === 'number' && Object.keys(fields).length > 0) out.push({ measurement, tags, fields, timeMs: time });
      }
    }
    if (out.length > 0) {
      const writer = this.store.writer({ maxRetries: 3 });
      writer.writeSamples(out);
      await writer.close();
    }
  }

  /** The `power_10m` points of one series' raw points: one per bucket the series tiles. */
  private powerRollups(series: Series): Sample[] {
    const out: Sample[] = [];
    const byBucket = new Map<number, EdgePoint[]>();
    for (const [t, e, i] of series.values as Array<[number, number | null, number | null]>) {
      if (e === null || i === null) continue;
      const b = Math.floor(t / this.bucketMs) * this.bucketMs;
      let list = byBucket.get(b);
      if (!list) byBucket.set(b, (list = []));
      list.push({ timeMs: t, energyJ: e, intervalS: i });
    }
    for (const [b, points] of byBucket) {
      if (!tiles(points, b, this.bucketMs)) continue;
      const s = sums(points);
      out.push({
        measurement: MEASUREMENT.powerRollup,
        tags: series.tags,
        fields: { [ROLLUP.fields.energyJ]: s.energyJ, [ROLLUP.fields.intervalS]: s.intervalS, [ROLLUP.fields.points]: s.points },
        timeMs: b,
      });
    }
    return out;
  }
}
