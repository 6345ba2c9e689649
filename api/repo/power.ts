/**
 * Reads of `power`, `gpu` and `cpu` points for a run's window. Sums are computed by InfluxDB;
 * only the two edge points per series travel, so the cost does not grow with the run's length.
 */
import { CPU, GPU, HOST_TAGS, MEASUREMENT, POWER } from '../../common/model.js';
import { anyOf, ident, iql, join, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type Row, type Series } from '../../common/storage/store.js';
import type { EdgePoint, SeriesWindowData } from '../domain/energy.js';

export interface HostMetrics {
  avg_gpu_util_pct: number | null;
  avg_gpu_mem_pct: number | null;
  avg_cpu_pct: number | null;
}

const SERIES_TAGS = [HOST_TAGS.host, POWER.tags.source, POWER.tags.domain, POWER.tags.method] as const;
/** how far past the window the point straddling its end may lie */
const AFTER_SLACK_MS = 10 * 60 * 1000;

const seriesKey = (tags: Record<string, string>) => SERIES_TAGS.map((t) => tags[t] ?? '').join('\u0000');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function edge(series: Series): EdgePoint | undefined {
  const [row] = seriesRows([series]);
  const t = num(row?.time);
  const e = num(row?.[POWER.fields.energyJ]);
  const i = num(row?.[POWER.fields.intervalS]);
  return t === null || e === null || i === null ? undefined : { timeMs: t, energyJ: e, intervalS: i };
}

export class PowerRepository {
  constructor(private readonly store: InfluxStore) {}

  /** The three reads of docs/DATA-MODEL.md "Run energy", and the window's host metrics, in one request. */
  async window(hosts: readonly string[], t0: number, t1: number): Promise<{ series: SeriesWindowData[]; metrics: HostMetrics }> {
    if (hosts.length === 0) return { series: [], metrics: { avg_gpu_util_pct: null, avg_gpu_mem_pct: null, avg_cpu_pct: null } };
    const f = POWER.fields;
    const power = ident(MEASUREMENT.power);
    const hostMatch = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const where = iql`${hostMatch} AND ${ident(POWER.tags.inTotal)} = ${str('true')}`;
    const groupBy = iql`GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}, ${ident(POWER.tags.method)}`;
    const inside = iql`time > ${timeMs(t0)} AND time <= ${timeMs(t1)}`;
    const statements: InfluxQL[] = [
      iql`SELECT sum(${ident(f.energyJ)}) AS e, sum(${ident(f.intervalS)}) AS s, count(${ident(f.energyJ)}) AS n FROM ${power} WHERE ${where} AND ${inside} ${groupBy}`,
      iql`SELECT ${ident(f.energyJ)}, ${ident(f.intervalS)} FROM ${power} WHERE ${where} AND ${inside} ${groupBy} ORDER BY time ASC LIMIT 1`,
      iql`SELECT ${ident(f.energyJ)}, ${ident(f.intervalS)} FROM ${power} WHERE ${where} AND time > ${timeMs(t1)} AND time <= ${timeMs(t1 + AFTER_SLACK_MS)} ${groupBy} ORDER BY time ASC LIMIT 1`,
      iql`SELECT mean(${ident(GPU.fields.utilPct)}) AS util, mean(${ident(GPU.fields.memUsedBytes)}) AS used, mean(${ident(GPU.fields.memTotalBytes)}) AS total FROM ${ident(MEASUREMENT.gpu)} WHERE ${hostMatch} AND ${inside}`,
      iql`SELECT mean(${ident(CPU.fields.usagePct)}) AS cpu FROM ${ident(MEASUREMENT.cpu)} WHERE ${hostMatch} AND ${ident(CPU.tags.cpu)} = ${str(CPU.all)} AND ${inside}`,
    ];
    const [sums, firsts, afters, gpu, cpu] = await this.store.query(join(statements, '; '));
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
    for (const s of sums?.series ?? []) {
      const [row] = seriesRows([s]);
      entry(s.tags).inside = { energyJ: num(row?.e) ?? 0, intervalS: num(row?.s) ?? 0, count: num(row?.n) ?? 0 };
    }
    for (const s of firsts?.series ?? []) entry(s.tags).firstInside = edge(s);
    for (const s of afters?.series ?? []) entry(s.tags).firstAfter = edge(s);
    const g: Row | undefined = seriesRows(gpu?.series ?? [])[0];
    const c: Row | undefined = seriesRows(cpu?.series ?? [])[0];
    const used = num(g?.used);
    const total = num(g?.total);
    return {
      series: [...byKey.values()],
      metrics: {
        avg_gpu_util_pct: num(g?.util),
        avg_gpu_mem_pct: used !== null && total ? (100 * used) / total : null,
        avg_cpu_pct: num(c?.cpu),
      },
    };
  }
}
