/**
 * The rollup job (every minute): turns settled 10-minute buckets of raw points into rollup
 * points, from a watermark kept in InfluxDB, a bounded number of buckets per run. Its queries
 * are in ../repo/rollups.ts.
 *
 * - `power_10m`: per series, the sums of `energy_j` and `interval_s` and the point count, written
 *   only where the series' points tile the bucket (../domain/rollup.ts: then they are final).
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
import { MEASUREMENT, ROLLUP, type FieldValue, type Sample } from '../../common/model.js';
import { logger } from '../../common/log.js';
import type { InfluxStore, Series } from '../../common/storage/store.js';
import { seriesRows } from '../../common/storage/store.js';
import { packByCount, sums, tiles } from '../domain/rollup.js';
import type { EdgePoint } from '../domain/energy.js';
import { RollupRepository } from '../repo/rollups.js';

const log = logger('rollups');
const SUM = ROLLUP.fields.sumSuffix;
const COUNT = ROLLUP.fields.countSuffix;

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
  private readonly repo: RollupRepository;

  constructor(store: InfluxStore, opts: RollupOptions = {}) {
    this.repo = new RollupRepository(store);
    this.bucketMs = opts.bucketMs ?? ROLLUP.bucketMs;
    this.settleMs = opts.settleMs ?? ROLLUP.bucketMs;
    this.maxBuckets = opts.maxBuckets ?? 36;
    this.chunkBuckets = opts.chunkBuckets ?? 6;
    this.maxPointsPerQuery = opts.maxPointsPerQuery ?? 200_000;
    this.now = opts.now ?? Date.now;
  }

  /** Everything before the watermark has been rolled up; undefined before the first run. */
  watermark(): Promise<number | undefined> {
    return this.repo.watermark();
  }

  private async start(): Promise<number | undefined> {
    const wm = await this.repo.watermark();
    if (wm !== undefined) return wm;
    const first = await this.repo.firstPowerTime();
    return first === undefined ? undefined : Math.floor(first / this.bucketMs) * this.bucketMs;
  }

  /** The job's work each minute: rolls up the settled buckets after the watermark; returns how many. */
  run(): Promise<number> {
    return this.advance();
  }

  /** Rolls up the settled buckets after the watermark as of `now`; returns how many. */
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
      // never at time 0, which a 2.x bucket with a retention period refuses; `to` lies after the raw points just rolled up
      await this.repo.writeWatermark(to);
      from = to;
      done += n;
    }
    if (done > 0) log.debug('rolled up', { buckets: done, watermark: new Date(from).toISOString() });
    return done;
  }

  private async rollChunk(from: number, to: number): Promise<void> {
    const { pointsPerHost, gpu, cpu } = await this.repo.chunkSums(from, to, this.bucketMs);
    const out: Sample[] = [];
    // every raw point is needed to know whether a series tiles a bucket; fetched a host group at a time
    for (const hosts of packByCount(pointsPerHost, this.maxPointsPerQuery)) {
      for (const series of await this.repo.rawPower(hosts, from, to)) out.push(...this.powerRollups(series));
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
    await this.repo.write(out);
  }

  /** The `power_10m` points of one series' raw points: one per bucket the series tiles. */
  private powerRollups(series: Series): Sample[] {
    const out: Sample[] = [];
    const byBucket = new Map<number, EdgePoint[]>();
    for (const [t, e, i] of series.values) {
      if (typeof t !== 'number' || typeof e !== 'number' || typeof i !== 'number') continue;
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
