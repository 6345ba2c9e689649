/**
 * Each host's clock against the API's (pure). Collectors stamp their points with their host's
 * clock and record its offset from InfluxDB's in their host records (host − InfluxDB, estimated
 * from the `Date` of InfluxDB's answers, common/storage/clock.ts); the API stamps runs with its
 * own clock (API − InfluxDB, estimated the same way). A run's window is read on each host in
 * that host's clock: shifted by δ = host offset − API offset where |δ| is more than the estimates
 * can tell from agreement (CLOCK_APPLY_S), and the points read are brought back to the API's
 * clock — so a host whose clock is minutes off is measured as if it were right. A host whose
 * record says no offset (its collector had not heard from InfluxDB when it wrote it) cannot be
 * read in its own clock: it is named, and the run is partial rather than silently final. A host
 * with no record at all (a collector older than the record) is read as it is.
 */
import type { HostRecord } from '../../common/host-record.js';

/** Below this the clocks are taken to agree: the offsets are estimated to a few tenths of a second at best. */
export const CLOCK_APPLY_S = 0.5;

/**
 * The API's clock against InfluxDB's: its estimate and half the width of the interval it is
 * known to lie in (common/storage/clock.ts), seconds.
 */
export interface ApiClock {
  offsetS: number;
  errorS: number;
}

export interface ClockShifts {
  /** per host whose clock is off the API's: δ in ms, its clock minus the API's */
  shiftMs: ReadonlyMap<string, number>;
  /** the same, in seconds, as the run shows them */
  applied: Record<string, number>;
  /** hosts whose record says no offset */
  unknown: string[];
}

export const NO_SHIFTS: ClockShifts = { shiftMs: new Map(), applied: {}, unknown: [] };

/**
 * δ per host, applied only where it is more than CLOCK_APPLY_S and more than the two estimates'
 * errors together: each estimate lies within its error of the truth, so two clocks that agree
 * give |δ| at most the sum of the errors. (A young estimate, from a few answers whose `Date`
 * header has whole seconds, is up to half a second either way: without the errors, two clocks
 * that agree could be read 0.6–0.9 s apart.)
 */
export function clockShifts(hosts: readonly string[], records: ReadonlyMap<string, HostRecord>, api: ApiClock | undefined): ClockShifts {
  const shiftMs = new Map<string, number>();
  const applied: Record<string, number> = {};
  const unknown: string[] = [];
  for (const host of hosts) {
    const record = records.get(host);
    if (!record) continue;
    const offset = record.clockOffsetS;
    if (offset === null || !Number.isFinite(offset)) {
      unknown.push(host);
      continue;
    }
    const delta = offset - (api?.offsetS ?? 0);
    const errorS = (record.clockOffsetErrorS !== null && Number.isFinite(record.clockOffsetErrorS) ? record.clockOffsetErrorS : 0) + (api?.errorS ?? 0);
    if (Math.abs(delta) <= Math.max(CLOCK_APPLY_S, errorS)) continue;
    shiftMs.set(host, Math.round(delta * 1000));
    applied[host] = Math.round(delta * 1000) / 1000;
  }
  return { shiftMs, applied, unknown: unknown.sort() };
}

/** The hosts grouped by the shift their window is read with (0 for most), in a stable order. */
export function shiftGroups(hosts: readonly string[], shifts: ClockShifts): Array<{ shiftMs: number; hosts: string[] }> {
  const groups = new Map<number, string[]>();
  for (const host of hosts) {
    const shift = shifts.shiftMs.get(host) ?? 0;
    const list = groups.get(shift) ?? [];
    list.push(host);
    groups.set(shift, list);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([shiftMs, list]) => ({ shiftMs, hosts: list }));
}
