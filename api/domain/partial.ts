/**
 * When a run is partial. Apart from the run's definition (./run-record.ts) so that it stays
 * under 350 lines; it takes only the three fields it reads.
 */

/** Coverage below this flags a run as partial (recomputed when late points arrive). */
export const FULL_COVERAGE = 0.99;

/**
 * Whether a run is partial: a source covers less than FULL_COVERAGE of it, or a host's clock
 * offset is unknown (its points may be read off by it): measured again on the recompute schedule.
 */
export function isPartial(r: { coverage: number | null; kind: string; clock_unknown: readonly string[] }): boolean {
  if (r.kind === 'imported' || r.coverage === null) return false;
  return r.coverage < FULL_COVERAGE || r.clock_unknown.length > 0;
}
