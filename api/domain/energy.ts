/**
 * Energy of a run's window from `power` points (docs/DATA-MODEL.md §power, DESIGN §5), pure.
 *
 * A point at time t covers (t − interval_s, t]. For each series the store returns three things
 * computed on the server, so the data fetched does not grow with the run's length:
 *  - the sums of energy_j and interval_s of the points that end inside (t0, t1];
 *  - the first of those points (it may start before t0: its outside part is taken off);
 *  - the first point that ends after t1 (it may start before t1: its inside part is added).
 */

export interface EdgePoint {
  timeMs: number;
  energyJ: number;
  intervalS: number;
}

export interface SeriesWindowData {
  host: string;
  source: string;
  domain: string;
  method: string;
  inside: { energyJ: number; intervalS: number; count: number } | undefined;
  firstInside: EdgePoint | undefined;
  firstAfter: EdgePoint | undefined;
}

export interface SourceEnergy {
  host: string;
  source: string;
  domain: string;
  method: string;
  /**
   * the value the source read, in its sensor's words (`power.draw.instant`, `power1_average`,
   * `energy_uj`), from its host's record; absent where the record does not say (older collectors)
   */
  reading?: string;
  /** false for a GPU outside the run's scope: listed, not counted (absent in runs stored before scopes: true) */
  inRun?: boolean;
  energyJ: number;
  /** seconds of the window covered by points / window length, 0–1 */
  coverage: number;
  avgPowerW: number;
}

/** The fraction of a point's interval that lies inside [t0, t1]. */
export function insideFraction<P extends Pick<EdgePoint, 'timeMs' | 'intervalS'>>(p: P, t0: number, t1: number): number {
  const start = p.timeMs - p.intervalS * 1000;
  const lo = Math.max(start, t0);
  const hi = Math.min(p.timeMs, t1);
  if (hi <= lo || p.intervalS <= 0) return 0;
  return (hi - lo) / (p.intervalS * 1000);
}

export function seriesEnergy(d: SeriesWindowData, t0: number, t1: number): SourceEnergy {
  let energy = d.inside?.energyJ ?? 0;
  let covered = d.inside?.intervalS ?? 0;
  if (d.firstInside) {
    const outside = 1 - insideFraction(d.firstInside, t0, t1);
    energy -= d.firstInside.energyJ * outside;
    covered -= d.firstInside.intervalS * outside;
  }
  if (d.firstAfter) {
    const f = insideFraction(d.firstAfter, t0, t1);
    energy += d.firstAfter.energyJ * f;
    covered += d.firstAfter.intervalS * f;
  }
  const seconds = (t1 - t0) / 1000;
  return {
    host: d.host,
    source: d.source,
    domain: d.domain,
    method: d.method,
    energyJ: Math.max(0, energy),
    coverage: seconds > 0 ? Math.min(1, Math.max(0, covered / seconds)) : 0,
    // over the seconds its points cover: a source's idle power is multiplied back by its coverage
    // of a run (netEnergy), and a constant 23 W reads 23 W even with a sliver of the window uncovered
    avgPowerW: covered > 0 ? Math.max(0, energy) / covered : 0,
  };
}

export interface WindowEnergy {
  /** the run's own sources: its GPUs and every other in-total source */
  energyJ: number | null;
  /** every in-total source of the hosts */
  hostEnergyJ: number | null;
  coverage: number;
  sources: SourceEnergy[];
}

/**
 * Sums the sources; coverage of the run is that of its least-covered source. `expected` are the
 * sources the hosts' records list: one of them without a point in the window is there with
 * coverage 0 (the run is partial, and says which source is silent), not left out; each source
 * carries the reading its record names. `inRun`
 * tells the run's own sources (its GPUs, and every other source) from the GPUs outside its
 * scope: those are listed (`inRun: false`) and counted only in the host's energy.
 */
export function windowEnergy(
  series: readonly SeriesWindowData[],
  t0: number,
  t1: number,
  expected: ReadonlyArray<Pick<SourceEnergy, 'host' | 'source' | 'domain' | 'method' | 'reading'>> = [],
  inRun: (s: Pick<SourceEnergy, 'host' | 'source' | 'domain'>) => boolean = () => true,
): WindowEnergy {
  const found = series.map((s) => seriesEnergy(s, t0, t1));
  const key = (s: { host: string; source: string }) => `${s.host}\u0000${s.source}`;
  const expectedByKey = new Map(expected.map((e) => [key(e), e]));
  const sources = found.filter((s) => s.coverage > 0 || expectedByKey.has(key(s)));
  const have = new Set(sources.map(key));
  for (const s of sources) {
    const reading = expectedByKey.get(key(s))?.reading;
    if (reading !== undefined) s.reading = reading;
  }
  for (const e of expected) if (!have.has(key(e))) sources.push({ ...e, energyJ: 0, coverage: 0, avgPowerW: 0 });
  for (const s of sources) s.inRun = inRun(s);
  sources.sort((a, b) => a.host.localeCompare(b.host) || a.source.localeCompare(b.source));
  const mine = sources.filter((s) => s.inRun);
  const hostEnergyJ = sources.some((s) => s.coverage > 0) ? sources.reduce((a, s) => a + s.energyJ, 0) : null;
  if (mine.every((s) => s.coverage === 0)) return { energyJ: null, hostEnergyJ, coverage: 0, sources };
  return {
    energyJ: mine.reduce((a, s) => a + s.energyJ, 0),
    hostEnergyJ,
    coverage: Math.min(...mine.map((s) => s.coverage)),
    sources,
  };
}

/** Idle energy to subtract: each source's baseline idle power × the window, where a baseline exists. */
export function netEnergy(gross: WindowEnergy, idlePowerW: ReadonlyMap<string, number>, seconds: number): number | null {
  if (gross.energyJ === null) return null;
  let idle = 0;
  for (const s of gross.sources) if (s.inRun !== false) idle += (idlePowerW.get(`${s.host}\u0000${s.source}`) ?? 0) * seconds * s.coverage;
  return Math.max(0, gross.energyJ - idle);
}
