/**
 * The collectors' `host` records (docs/DATA-MODEL.md "host"): what the API knows of each host —
 * its platform, the power sources it reads, how late its points can arrive, its clock.
 */
import { HOST_TAGS, MEASUREMENT, POWER, WORKLOAD } from '../../common/model.js';
import { workloadSource } from '../domain/arrival.js';
import { hostRecordFromRow, type HostRecord } from '../../common/host-record.js';
import { anyOf, ident, iql, num, str, timeMs } from '../../common/storage/influxql.js';
import { seriesRows, type InfluxStore, type NamedStatements, type StatementResult } from '../../common/storage/store.js';

/** When the newest in-total point of each host's source ends, for sources with points since `sinceMs`. */
export type LastPoints = Map<string, number>;

export const sourceKey = (host: string, source: string) => `${host}\u0000${source}`;

/** How far off InfluxDB's a host's clock may be for its records to be found by a run's window (./measurement.ts reads them in its clock). */
export const CLOCK_SKEW_MS = 15 * 60_000;
/** Records of a host looked at for the newest before a window: a collector writes one a minute, so a skew of 15 minutes holds 16 (more when its devices change). */
const BEFORE_CANDIDATES = 20;

export class HostRepository {
  /** reads of the newest records in flight, by hosts: requests that come together share one */
  private readonly inFlight = new Map<string, Promise<Map<string, HostRecord>>>();

  constructor(private readonly store: InfluxStore) {}

  /**
   * The newest record of each of `hosts` (a run's start asks it). Starts that come together for
   * the same hosts — a burst of runs on one machine — share one read: nothing is kept after it.
   */
  latest(hosts: readonly string[]): Promise<Map<string, HostRecord>> {
    const key = JSON.stringify(hosts);
    let read = this.inFlight.get(key);
    if (!read) {
      read = this.latestAt(hosts).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, read);
    }
    return read;
  }

  /** The newest record of each of `hosts` written at or before `atMs` (all time when omitted). */
  async latestAt(hosts: readonly string[], atMs?: number): Promise<Map<string, HostRecord>> {
    const out = new Map<string, HostRecord>();
    if (hosts.length === 0) return out;
    const until = atMs === undefined ? iql`` : iql` AND time <= ${timeMs(atMs)}`;
    const [r] = await this.store.query(
      iql`SELECT * FROM ${ident(MEASUREMENT.host)} WHERE ${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}${until} GROUP BY ${ident(HOST_TAGS.host)} ORDER BY time DESC LIMIT 1`,
    );
    for (const row of seriesRows(r?.series ?? [])) {
      const record = hostRecordFromRow(row);
      const seen = out.get(record.host);
      if (!seen || seen.timeMs < record.timeMs) out.set(record.host, record);
    }
    return out;
  }

  /**
   * The records that describe `hosts` over [t0, t1]: the newest written at or before t0, and
   * every one written inside (a source found or lost during the window is in one of them).
   * "When" is each record's time in InfluxDB's clock — its stamp less the offset it records — so
   * that the record of a host whose clock is minutes ahead is found for a run on another clock
   * (it carries the offset the run's window is read with: ../domain/clock.ts). Hosts off by more
   * than CLOCK_SKEW_MS are not looked for that far. Named `h.*`, to go in a batch with other
   * statements (./measurement.ts); read with `readDuring(results, t0, t1)`.
   */
  duringStatements(hosts: readonly string[], t0: number, t1: number): NamedStatements {
    if (hosts.length === 0) return {};
    const match = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)}`;
    const host = ident(MEASUREMENT.host);
    return {
      // the newest ones up to a skew past t0: the newest of them that is before t0 in InfluxDB's clock is the one
      'h.before': iql`SELECT * FROM ${host} WHERE ${match} AND time <= ${timeMs(t0 + CLOCK_SKEW_MS)} GROUP BY ${ident(HOST_TAGS.host)} ORDER BY time DESC LIMIT ${num(BEFORE_CANDIDATES)}`,
      'h.inside': iql`SELECT * FROM ${host} WHERE ${match} AND time > ${timeMs(t0 - CLOCK_SKEW_MS)} AND time <= ${timeMs(t1 + CLOCK_SKEW_MS)}`,
    };
  }

  readDuring(results: Readonly<Record<string, unknown>>, t0: number, t1: number): HostRecord[] {
    const rows = (name: string) => seriesRows((results[name] as StatementResult | undefined)?.series ?? []).map(hostRecordFromRow);
    const when = (r: HostRecord) => r.timeMs - (r.clockOffsetS ?? 0) * 1000;
    const before = new Map<string, HostRecord>();
    for (const r of rows('h.before')) {
      const seen = before.get(r.host);
      if (when(r) <= t0 && (!seen || when(seen) < when(r))) before.set(r.host, r);
    }
    const out = new Map<string, HostRecord>();
    for (const r of [...before.values(), ...rows('h.inside').filter((r) => when(r) > t0 && when(r) <= t1)]) out.set(`${r.host}\u0000${r.timeMs}`, r);
    return [...out.values()];
  }

  async during(hosts: readonly string[], t0: number, t1: number): Promise<HostRecord[]> {
    return this.readDuring(await this.store.queryNamed(this.duringStatements(hosts, t0, t1)), t0, t1);
  }

  /** Every host's newest record. */
  async all(): Promise<HostRecord[]> {
    const [r] = await this.store.query(iql`SELECT * FROM ${ident(MEASUREMENT.host)} GROUP BY ${ident(HOST_TAGS.host)} ORDER BY time DESC LIMIT 1`);
    return seriesRows(r?.series ?? []).map(hostRecordFromRow).sort((a, b) => a.host.localeCompare(b.host));
  }

  /**
   * The end time of the newest in-total `power` point per host and source since `sinceMs`, and of
   * the newest `workload` point per host and serving endpoint (keyed `workload/<instance>`): one
   * request.
   */
  async lastPoints(hosts: readonly string[], sinceMs: number): Promise<LastPoints> {
    const out: LastPoints = new Map();
    if (hosts.length === 0) return out;
    const match = iql`${ident(HOST_TAGS.host)} =~ ${anyOf(hosts)} AND time > ${timeMs(sinceMs)}`;
    const r = await this.store.queryNamed({
      power: iql`SELECT last(${ident(POWER.fields.energyJ)}) FROM ${ident(MEASUREMENT.power)} WHERE ${match} AND ${ident(POWER.tags.inTotal)} = ${str('true')} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(POWER.tags.source)}`,
      workload: iql`SELECT last(${ident(WORKLOAD.fields.intervalS)}) FROM ${ident(MEASUREMENT.workload)} WHERE ${match} GROUP BY ${ident(HOST_TAGS.host)}, ${ident(WORKLOAD.tags.instance)}`,
    });
    for (const s of r.power?.series ?? []) {
      const t = s.values[0]?.[0];
      if (typeof t === 'number') out.set(sourceKey(s.tags.host ?? '', s.tags.source ?? ''), t);
    }
    for (const s of r.workload?.series ?? []) {
      const t = s.values[0]?.[0];
      if (typeof t === 'number') out.set(sourceKey(s.tags.host ?? '', workloadSource(s.tags[WORKLOAD.tags.instance] ?? '')), t);
    }
    return out;
  }
}
