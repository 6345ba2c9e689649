/**
 * What a run's hosts are expected to send, and how long to wait for it (pure). Collectors send
 * their points every flush interval (5 s by default), so at a run's end the points that cover
 * its last seconds are still on their way; the host records say which sources each host reads
 * and how late its points can be. A stop waits until every expected source has a point that
 * ends at or after the run's end, or until that lateness (plus a margin) has passed.
 */
import { CORE_OPTIONS } from '../../common/config.js';
import type { HostRecord } from '../../common/host-record.js';
import { NO_SHIFTS, type ClockShifts } from './clock.js';

export interface ExpectedSource {
  host: string;
  source: string;
  domain: string;
  method: string;
  /** the value it reads, in its sensor's words, as its host record lists it (absent in records of older collectors) */
  reading?: string | undefined;
}

/** The collector's defaults, for hosts whose collector wrote no record (older versions). */
const defaultOf = (key: string): number => Number(CORE_OPTIONS.find((o) => o.key === key)?.default);
export const DEFAULT_FLUSH_S = defaultOf('collector.flushIntervalS');
export const DEFAULT_REPORT_S = defaultOf('collector.reportIntervalS');
/** time for a sent batch to be written and readable, on top of the flush and report intervals */
export const ARRIVAL_MARGIN_MS = 2000;

/** The union of the in-total sources the records list (a source lost mid-window is still expected). */
export function expectedSources(records: readonly HostRecord[]): ExpectedSource[] {
  const out = new Map<string, ExpectedSource>();
  for (const r of records) {
    for (const s of r.sources) {
      if (s.in_total) out.set(`${r.host}\u0000${s.id}`, { host: r.host, source: s.id, domain: s.domain, method: s.method, ...(typeof s.reading === 'string' ? { reading: s.reading } : {}) });
    }
  }
  return [...out.values()].sort((a, b) => a.host.localeCompare(b.host) || a.source.localeCompare(b.source));
}

/** The key of a serving endpoint's `workload` points among a host's last points (../repo/hosts.ts). */
export const workloadSource = (instance: string) => `workload/${instance}`;

/**
 * The serving endpoints the records list (their collectors scrape them for `workload` points),
 * as sources to wait for at a run's end — those of them that wrote in `lastPoints` (since
 * `sinceMs`), and every one of a collector that started after `sinceMs`, whose first points may
 * not be in yet (a run begun as the collector starts). An endpoint whose server stopped writing
 * before `sinceMs` is not waited for.
 */
export function expectedWorkload(records: readonly HostRecord[], lastPoints: ReadonlyMap<string, number>, sinceMs: number): ExpectedSource[] {
  const out = new Map<string, ExpectedSource>();
  for (const r of records) {
    const young = r.startedAtMs !== null && r.startedAtMs >= sinceMs;
    for (const w of r.workload ?? []) {
      const source = workloadSource(w.instance);
      if (young || lastPoints.has(`${r.host}\u0000${source}`)) out.set(`${r.host}\u0000${source}`, { host: r.host, source, domain: '', method: 'workload' });
    }
  }
  return [...out.values()];
}

/**
 * How long after a run's end its last points can arrive: per host, its flush and report
 * intervals, plus how far its clock lags the API's (points are stamped with the host's
 * clock), plus a margin; the largest over the hosts, at most `maxMs`. `apiOffsetS` is the
 * API's clock minus InfluxDB's; a record's clock offset is its host's minus InfluxDB's.
 */
export function arrivalBudgetMs(hosts: readonly string[], records: ReadonlyMap<string, HostRecord>, maxMs: number, apiOffsetS = 0, shifts: ClockShifts = NO_SHIFTS): number {
  let budget = 0;
  for (const host of hosts) {
    const r = records.get(host);
    const flushS = r?.flushIntervalS ?? DEFAULT_FLUSH_S;
    const reportS = r?.reportIntervalS ?? DEFAULT_REPORT_S;
    // a host read in its own clock (./clock.ts) is waited for in real time: no lag to add
    const lagS = shifts.shiftMs.has(host) ? 0 : Math.max(0, apiOffsetS - (r?.clockOffsetS ?? apiOffsetS));
    budget = Math.max(budget, (flushS + reportS + lagS) * 1000 + ARRIVAL_MARGIN_MS);
  }
  return Math.min(budget, maxMs);
}

/** The expected sources with no point ending at or after `endMs` yet (each host's points brought to the API's clock). */
export function stillMissing(expected: readonly ExpectedSource[], lastPointMs: ReadonlyMap<string, number>, endMs: number, shifts: ClockShifts = NO_SHIFTS): ExpectedSource[] {
  return expected.filter((e) => (lastPointMs.get(`${e.host}\u0000${e.source}`) ?? -Infinity) - (shifts.shiftMs.get(e.host) ?? 0) < endMs);
}

/** A run's platform from its hosts' records: one name, or several in a stable order ("A100-40G+EPYC"). */
export function platformOf(hosts: readonly string[], records: ReadonlyMap<string, HostRecord>): string | undefined {
  const names = [...new Set(hosts.map((h) => records.get(h)?.platform).filter((p): p is string => !!p))].sort();
  return names.length > 0 ? names.join('+') : undefined;
}

