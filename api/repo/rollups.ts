/**
 * The rollup points and the queries of the rollup job (../jobs/rollup.ts): the watermark, the
 * settled buckets' raw points and sums, and the rollups' fields as the run's window reads them
 * (./power.ts). docs/DATA-MODEL.md "Rollups" says what each point holds.
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER, ROLLUP, type Sample } from '../../common/model.js';
import { anyOf, durationMs, ident, iql, join, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Series, type StatementResult } from '../../common/storage/store.js';

const S = ROLLUP.state;
const SUM = ROLLUP.fields.sumSuffix;
const COUNT = ROLLUP.fields.countSuffix;

/** Fields of `gpu` and `cpu` the run summary averages, rolled up as sum and count. */
export const ROLLED_GPU_FIELDS = [GPU.fields.utilPct, GPU.fields.memUsedBytes, GPU.fields.memTotalBytes] as const;
export const ROLLED_CPU_FIELDS = [CPU.fields.usagePct] as const;

/** The watermark: the furthest any replica rolled up (max, not last: see ../jobs/rollup.ts). */
export function watermarkQuery(): InfluxQL {
  return iql`SELECT max(${ident(S.watermarkMs)}) AS w FROM ${ident(MEASUREMENT.state)} WHERE ${ident(S.key)} = ${str(S.rollupKey)}`;
}

/** The watermark from its statement's result (undefined before the first rollup). */
export function readWatermark(result: StatementResult | undefined): number | undefined {
  const w = seriesRows(result?.series ?? [])[0]?.w;
  return typeof w === 'number' ? w : undefined;
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

/** What one chunk of settled buckets holds: raw `power` points per host, and the `gpu`/`cpu` sums per bucket. */
export interface ChunkSums {
  pointsPerHost: Array<{ key: string; count: number }>;
  gpu: StatementResult | undefined;
  cpu: StatementResult | undefined;
}

export class RollupRepository {
  constructor(private readonly store: InfluxStore) {}

  async watermark(): Promise<number | undefined> {
    const [r] = await this.store.query(watermarkQuery());
    return readWatermark(r);
  }

  /** The time of the first `power` point (where a first rollup starts). */
  async firstPowerTime(): Promise<number | undefined> {
    const [first] = await this.store.rows(iql`SELECT first(${ident(POWER.fields.energyJ)}) FROM ${ident(MEASUREMENT.power)}`);
    return typeof first?.time === 'number' ? first.time : undefined;
  }

  /** At its own value as its time: replicas writing the same watermark write the same point. */
  async writeWatermark(to: number): Promise<void> {
    await this.store.write([{ measurement: MEASUREMENT.state, tags: { [S.key]: S.rollupKey }, fields: { [S.watermarkMs]: to }, timeMs: to }]);
  }

  async chunkSums(from: number, to: number, bucketMs: number): Promise<ChunkSums> {
    const range = iql`time >= ${timeMs(from)} AND time < ${timeMs(to)}`;
    const { counts, gpu, cpu } = await this.store.queryNamed({
      counts: iql`SELECT count(${ident(POWER.fields.energyJ)}) AS n FROM ${ident(MEASUREMENT.power)} WHERE ${range} GROUP BY ${ident(HOST_TAGS.host)}`,
      gpu: iql`SELECT ${sumAndCount(ROLLED_GPU_FIELDS)} FROM ${ident(MEASUREMENT.gpu)} WHERE ${range} GROUP BY time(${durationMs(bucketMs)}), * fill(none)`,
      cpu: iql`SELECT ${sumAndCount(ROLLED_CPU_FIELDS)} FROM ${ident(MEASUREMENT.cpu)} WHERE ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${range} GROUP BY time(${durationMs(bucketMs)}), * fill(none)`,
    });
    const pointsPerHost = seriesRows(counts?.series ?? []).map((r) => {
      const host = r[HOST_TAGS.host];
      return { key: typeof host === 'string' ? host : '', count: typeof r.n === 'number' ? r.n : 0 };
    });
    return { pointsPerHost, gpu, cpu };
  }

  /** Every raw `power` point of `hosts` in [from, to), per series. */
  async rawPower(hosts: readonly string[], from: number, to: number): Promise<Series[]> {
    const [power] = await this.store.query(
      iql`SELECT ${ident(POWER.fields.energyJ)}, ${ident(POWER.fields.intervalS)} FROM ${ident(MEASUREMENT.power)} WHERE ${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)} AND time >= ${timeMs(from)} AND time < ${timeMs(to)} GROUP BY *`,
    );
    return power?.series ?? [];
  }

  async write(samples: readonly Sample[]): Promise<void> {
    if (samples.length === 0) return;
    const writer = this.store.writer({ maxRetries: 3 });
    writer.writeSamples(samples);
    await writer.close();
  }
}
