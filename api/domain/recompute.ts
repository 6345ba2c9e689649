/**
 * When a partial run is measured again (pure). Late points arrive when a collector replays its
 * spool after an outage — minutes to a day later — so a partial run is measured again 1, 2, 4,
 * 8 … minutes after its end (the n-th time 2ⁿ⁻¹ minutes after it, at the next whole minute), and
 * the 12th time (about 34 h after its end) is the last: after it, its partial state is final,
 * with its reason.
 *
 * The attempt a run is at is a function of the clock and its end alone — the number of
 * scheduled times that have passed — never the stored count plus one. Several API replicas run
 * this job at once with no lock between them (InfluxDB has no compare-and-set): replicas that
 * measure a run in the same slot of the schedule all write the same `recompute_attempts`, so one
 * attempt is counted once however many replicas made it. A read-increment-write count would
 * count it twice as soon as one replica read the count after another had written it.
 *
 * A run whose stored count is behind its slot is measured (again): that is how the job finds
 * due runs, and it also repairs a write that landed late — a slow replica's write for slot n
 * arriving after another's for slot n + 1 leaves the count at n, which the next run of the job,
 * in any replica, sees as behind and brings back to n + 1. So the stored count converges on the
 * schedule's and never counts an attempt twice. A slot missed while no API ran is skipped, not
 * made up: what matters is how late after the end the run is measured, not how often.
 */
import { FULL_COVERAGE, isPartial, type Run } from './run-record.js';

export const MAX_RECOMPUTE_ATTEMPTS = 12;

/**
 * When the n-th measurement of a run that ended at `endMs` is due (n from 1): 2ⁿ⁻¹ minutes after
 * its end, rounded up to a whole minute. The job runs at whole minutes (cron), so that is when
 * it would measure anyway; and every replica whose job reads the clock in the same minute finds
 * the same slot, however many milliseconds apart they start.
 */
export function attemptDueAt(endMs: number, n: number): number {
  return Math.ceil((endMs + 60_000 * 2 ** (n - 1)) / 60_000) * 60_000;
}

/** The schedule's attempt at `nowMs`: how many of the scheduled times have passed (0 … 12). */
export function scheduledAttempt(endMs: number, nowMs: number): number {
  let n = 0;
  while (n < MAX_RECOMPUTE_ATTEMPTS && attemptDueAt(endMs, n + 1) <= nowMs) n++;
  return n;
}

export type RecomputeAction = 'wait' | 'recompute' | 'last';

export interface RecomputePlan {
  action: RecomputeAction;
  /** the attempt to record when measuring now (the schedule's slot); 0 when waiting */
  attempt: number;
  /** when the attempt being made was due; when waiting, when the next one is (null: none) */
  dueAtMs: number | null;
}

export function recomputePlan(run: Pick<Run, 'kind' | 'coverage' | 'clock_unknown' | 'ended_at_ms' | 'recompute_attempts'>, nowMs: number): RecomputePlan {
  const end = run.ended_at_ms;
  if (!isPartial(run) || end === null) return { action: 'wait', attempt: 0, dueAtMs: null };
  const stored = run.recompute_attempts ?? 0;
  const slot = scheduledAttempt(end, nowMs);
  // at or past its slot (another replica, maybe with a clock a little ahead, measured it): wait.
  // A reason written with a count behind its slot is a late write from an older slot: measured
  // once more, so that the count is the schedule's again.
  if (stored >= slot) return { action: 'wait', attempt: 0, dueAtMs: stored < MAX_RECOMPUTE_ATTEMPTS ? attemptDueAt(end, stored + 1) : null };
  return { action: slot >= MAX_RECOMPUTE_ATTEMPTS ? 'last' : 'recompute', attempt: slot, dueAtMs: attemptDueAt(end, slot) };
}

/**
 * Why a run stays partial once it is no longer measured again: the sources that never covered
 * it. Deterministic — it names the slot's due time, not the clock of whichever replica wrote
 * it — so that replicas making the last attempt together write the same text.
 */
export function partialReason(run: Pick<Run, 'sources' | 'ended_at_ms' | 'clock_unknown'>, lastDueAtMs: number): string {
  const short = [
    ...run.sources.filter((s) => s.inRun !== false && s.coverage < FULL_COVERAGE).map((s) => `${s.host}/${s.source} at ${(s.coverage * 100).toFixed(1)} %`),
    ...run.clock_unknown.map((h) => `the clock offset of ${h} unknown`),
  ];
  const hours = run.ended_at_ms === null ? 0 : (lastDueAtMs - run.ended_at_ms) / 3_600_000;
  return `the last of its ${MAX_RECOMPUTE_ATTEMPTS} scheduled measurements, ${hours.toFixed(0)} h after its end, still finds it partial: ${short.join(', ') || 'no source covers it'}`;
}
