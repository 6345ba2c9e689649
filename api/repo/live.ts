/** Reads for the live page: recent power per source, a run's power curve, the hosts seen. */
import { HOST_TAGS, MEASUREMENT, POWER } from '../../common/model.js';
import { durationMs, ident, iql, literalRegex, str, timeMs, type InfluxQL } from '../../common/storage/influxql.js';
import type { InfluxStore, Series } from '../../common/storage/store.js';

export interface PowerSeries {
  host: string;
  source: string;
  domain: string;
  method: string;
  in_total: boolean;
  power_w: Array<number | null>;
}

export interface PowerTable {
  times: number[];
  series: PowerSeries[];
}

export interface LivePoint {
  t: number;
  host: string;
  source: string;
  domain: string;
  method: string;
  in_total: boolean;
  power_w: number;
}

const GROUP_TAGS = iql`${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}, ${ident(POWER.tags.domain)}, ${ident(POWER.tags.method)}, ${ident(POWER.tags.inTotal)}`;

/** Aligns per-series points on the union of their times (null where a series has none). */
export function toTable(series: readonly Series[]): PowerTable {
  const times = [...new Set(series.flatMap((s) => s.values.map((v) => v[0] as number)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  return {
    times,
    series: series
      .map((s) => {
        const power: Array<number | null> = new Array<number | null>(times.length).fill(null);
        for (const v of s.values) if (typeof v[1] === 'number') power[index.get(v[0] as number) as number] = v[1];
        return {
          host: s.tags.host ?? '',
          source: s.tags.source ?? '',
          domain: s.tags.domain ?? '',
          method: s.tags.method ?? '',
          in_total: s.tags.in_total === 'true',
          power_w: power,
        };
      })
      .sort((a, b) => a.host.localeCompare(b.host) || a.source.localeCompare(b.source)),
  };
}

export class LiveRepository {
  constructor(private readonly store: InfluxStore) {}

  /**
   * The host's own sources: a host's points, not those attributed to runs (each a share of one
   * of them, per run; the run summary has those), and only `host` when given.
   */
  private hostFilter(host: string | undefined): InfluxQL {
    const own = iql` AND ${ident(POWER.tags.method)} != ${str('attributed')}`;
    return host === undefined ? own : iql`${own} AND ${ident(HOST_TAGS.host)} =~ ${literalRegex(host)}`;
  }

  /** Mean power per source in buckets of `bucketMs` over [from, to]. */
  async powerTable(fromMs: number, toMs: number, bucketMs: number, host?: string): Promise<PowerTable> {
    const [r] = await this.store.query(
      iql`SELECT mean(${ident(POWER.fields.powerW)}) FROM ${ident(MEASUREMENT.power)} WHERE time > ${timeMs(fromMs)} AND time <= ${timeMs(toMs)}${this.hostFilter(host)} GROUP BY time(${durationMs(bucketMs)}), ${GROUP_TAGS} fill(none)`,
    );
    return toTable(r?.series ?? []);
  }

  /** Raw points written in the last `windowMs` (the live stream's one query per tick). */
  async recentPoints(windowMs: number, nowMs: number): Promise<LivePoint[]> {
    const [r] = await this.store.query(
      iql`SELECT ${ident(POWER.fields.powerW)} FROM ${ident(MEASUREMENT.power)} WHERE time > ${timeMs(nowMs - windowMs)}${this.hostFilter(undefined)} GROUP BY ${GROUP_TAGS}`,
    );
    const out: LivePoint[] = [];
    for (const s of r?.series ?? []) {
      for (const v of s.values) {
        if (typeof v[0] !== 'number' || typeof v[1] !== 'number') continue;
        out.push({ t: v[0], host: s.tags.host ?? '', source: s.tags.source ?? '', domain: s.tags.domain ?? '', method: s.tags.method ?? '', in_total: s.tags.in_total === 'true', power_w: v[1] });
      }
    }
    return out.sort((a, b) => a.t - b.t);
  }
}
