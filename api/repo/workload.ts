/**
 * Reads of `workload` points (docs/DATA-MODEL.md "workload") for a window: per series (host,
 * engine, model, instance) the sums of the points that end inside, and the two edge points, all
 * computed by InfluxDB — a server writes one point per model per scrape, so a day is 86,400
 * points a model, summed on the server; only two edge points per series travel. Named `k.*`, to
 * go in a batch with a run's other statements (./measurement.ts).
 */
import { HOST_TAGS, MEASUREMENT, WORKLOAD, WORKLOAD_COUNTS } from '../../common/model.js';
import { anyOf, ident, iql, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type NamedStatements, type Series, type StatementResult } from '../../common/storage/store.js';
import type { Counts, WorkloadEdge, WorkloadWindowData } from '../domain/workload.js';

const T = WORKLOAD.tags;
const F = WORKLOAD.fields;
/** how far past the window the point straddling its end may lie */
const AFTER_SLACK_MS = 10 * 60 * 1000;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function countsOf(row: Readonly<Record<string, unknown>>, names: Readonly<Record<string, string>> = {}): Counts {
  const counts: Counts = {};
  for (const k of WORKLOAD_COUNTS) {
    const v = num(row[names[k] ?? k]);
    if (v !== null) counts[k] = v;
  }
  return counts;
}

function edge(series: Series): WorkloadEdge | undefined {
  const [row] = seriesRows([series]);
  const t = num(row?.time);
  const i = num(row?.[F.intervalS]);
  const j = num(row?.[F.energyJ]);
  return row === undefined || t === null || i === null ? undefined : { timeMs: t, intervalS: i, counts: countsOf(row), ...(j === null ? {} : { energyJ: j }) };
}

export class WorkloadRepository {
  constructor(private readonly store: InfluxStore) {}

  windowStatements(hosts: readonly string[], t0: number, t1: number): NamedStatements {
    if (hosts.length === 0) return {};
    const where = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const groupBy = iql`GROUP BY ${ident(HOST_TAGS.host)}, ${ident(T.engine)}, ${ident(T.modelName)}, ${ident(T.instance)}`;
    const workload = ident(MEASUREMENT.workload);
    const fields: InfluxQL = iql`${ident(F.requests)}, ${ident(F.promptTokens)}, ${ident(F.outputTokens)}, ${ident(F.intervalS)}, ${ident(F.energyJ)}`;
    return {
      'k.sums': iql`SELECT sum(${ident(F.requests)}) AS r, sum(${ident(F.promptTokens)}) AS p, sum(${ident(F.outputTokens)}) AS o, sum(${ident(F.intervalS)}) AS s, sum(${ident(F.energyJ)}) AS j FROM ${workload} WHERE ${where} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} ${groupBy}`,
      'k.firstInside': iql`SELECT ${fields} FROM ${workload} WHERE ${where} AND time > ${timeMs(t0)} AND time <= ${timeMs(t1)} ${groupBy} ORDER BY time ASC LIMIT 1`,
      'k.firstAfter': iql`SELECT ${fields} FROM ${workload} WHERE ${where} AND time > ${timeMs(t1)} AND time <= ${timeMs(t1 + AFTER_SLACK_MS)} ${groupBy} ORDER BY time ASC LIMIT 1`,
    };
  }

  readWindow(results: Readonly<Record<string, unknown>>): WorkloadWindowData[] {
    const byKey = new Map<string, WorkloadWindowData>();
    const entry = (tags: Record<string, string>): WorkloadWindowData => {
      const key = [tags[HOST_TAGS.host], tags[T.engine], tags[T.modelName], tags[T.instance]].join('\u0000');
      let d = byKey.get(key);
      if (!d) {
        d = { host: tags[HOST_TAGS.host] ?? '', engine: tags[T.engine] ?? '', model: tags[T.modelName] ?? '', instance: tags[T.instance] ?? '', inside: undefined, firstInside: undefined, firstAfter: undefined };
        byKey.set(key, d);
      }
      return d;
    };
    const one = (name: string) => (results[name] as StatementResult | undefined)?.series ?? [];
    for (const s of one('k.sums')) {
      const [row] = seriesRows([s]);
      const seconds = num(row?.s);
      const j = num(row?.j);
      if (row && seconds !== null && seconds > 0) entry(s.tags).inside = { intervalS: seconds, counts: countsOf(row, { requests: 'r', prompt_tokens: 'p', output_tokens: 'o' }), ...(j === null ? {} : { energyJ: j }) };
    }
    for (const s of one('k.firstInside')) entry(s.tags).firstInside = edge(s);
    for (const s of one('k.firstAfter')) entry(s.tags).firstAfter = edge(s);
    return [...byKey.values()];
  }

  async window(hosts: readonly string[], t0: number, t1: number): Promise<WorkloadWindowData[]> {
    return this.readWindow(await this.store.queryNamed(this.windowStatements(hosts, t0, t1)));
  }
}
