/**
 * When a partial run is measured again (pure). Late points arrive when a collector replays its
 * spool after an outage — minutes to a day later — so a partial run is measured again 1, 2, 4,
 * 8 … minutes after its end (the n-th time 2ⁿ⁻¹ minutes after it), and the 12th time (about
 * 34 h after its end) is the last: after it, its partial state is final, with its reason.
 */
import { FULL_COVERAGE, type Run } from './run-record.js';

export const MAX_RECOMPUTE_ATTEMPTS = 12;

export type RecomputeAction = 'wait' | 'recompute' | 'last';

export function recomputePlan(run: Pick<Run, 'kind' | 'coverage' | 'ended_at_ms' | 'recompute_attempts' | 'partial_final'>, nowMs: number): { action: RecomputeAction; dueAtMs: number | null } {
  if (run.kind === 'imported' || run.coverage === null || run.coverage >= FULL_COVERAGE || run.ended_at_ms === null || run.partial_final !== null) return { action: 'wait', dueAtMs: null };
  const attempts = run.recompute_attempts ?? 0;
  if (attempts >= MAX_RECOMPUTE_ATTEMPTS) return { action: 'wait', dueAtMs: null };
  const dueAtMs = run.ended_at_ms + 60_000 * 2 ** attempts;
  if (nowMs < dueAtMs) return { action: 'wait', dueAtMs };
  return { action: attempts + 1 >= MAX_RECOMPUTE_ATTEMPTS ? 'last' : 'recompute', dueAtMs };
}

/** Why a run stays partial once it is no longer measured again: the sources that never covered it. */
export function partialReason(run: Pick<Run, 'sources' | 'ended_at_ms'>, attempts: number, nowMs: number): string {
  const short = run.sources.filter((s) => s.inRun !== false && s.coverage < FULL_COVERAGE).map((s) => `${s.host}/${s.source} at ${(s.coverage * 100).toFixed(1)} %`);
  const hours = run.ended_at_ms === null ? 0 : (nowMs - run.ended_at_ms) / 3_600_000;
  return `measured ${attempts} times over ${hours.toFixed(0)} h after its end, still partial: ${short.join(', ') || 'no source covers it'}`;
}
