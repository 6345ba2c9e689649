/**
 * The recompute job (every minute): ended partial runs of the last `days` are measured again
 * when late points may have arrived (collectors replay their spool after an outage), on a
 * backoff schedule; once it gives up (../domain/recompute.ts) the run's partial state is final,
 * with its reason.
 *
 * Safe with several replicas running it at once, without a lock: the attempt recorded is the
 * schedule's slot (the same in every replica), the measured figures are written only when they
 * cover more than what was read (replicas measuring the same points write the same figures), and
 * a measurement that finds nothing new writes only the schedule's fields, so it can never put
 * back older figures over another replica's better ones.
 */
import { logger } from '../../common/log.js';
import type { RunStatus } from '../../common/model.js';
import { partialReason, recomputePlan } from '../domain/recompute.js';
import { FULL_COVERAGE, summaryOf, type Run, type SummarySettings } from '../domain/run-record.js';
import { RUN_FIELDS, storedViews } from '../domain/run-fields.js';
import type { RunRepository } from '../repo/runs.js';
import type { RunLocks } from '../services/locks.js';
import type { MeasuringService } from '../services/measuring.js';

const log = logger('api');
const ENDED: readonly RunStatus[] = ['completed', 'failed', 'abandoned'];

export class RecomputeJob {
  private readonly now: () => number;

  constructor(
    private readonly runs: RunRepository,
    private readonly measuring: MeasuringService,
    private readonly locks: RunLocks,
    private readonly opts: { summary: SummarySettings; days?: number; now?: (() => number) | undefined },
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Measures the partial runs that are due again; returns how many. */
  async run(): Promise<number> {
    const now = this.now();
    const since = now - (this.opts.days ?? 7) * 86_400_000;
    const due: Run[] = [];
    for (const status of ENDED) {
      for await (const run of this.runs.all({ status, fromMs: since })) if (recomputePlan(run, now).action !== 'wait') due.push(run);
    }
    let n = 0;
    for (const run of due) {
      await this.locks.exclusive(run.run_id, async () => {
        const current = await this.runs.get(run.run_id);
        if (!current || current.ended_at_ms === null) return;
        const plan = recomputePlan(current, now);
        if (plan.action === 'wait' || plan.dueAtMs === null) return;
        const measured = await this.measuring.measureEnded(current, current.ended_at_ms);
        const better = (measured.coverage ?? 0) > (current.coverage ?? 0) + 1e-9;
        const next: Run = { ...(better ? measured : current), recompute_attempts: plan.attempt };
        if ((next.coverage ?? 0) < FULL_COVERAGE && plan.action === 'last') next.partial_final = partialReason(next, plan.dueAtMs);
        if (better) await this.runs.save(next, storedViews(summaryOf(next, this.opts.summary)));
        else await this.runs.saveFields(next, [RUN_FIELDS.recompute_attempts, RUN_FIELDS.partial_final]);
        n++;
        if (better) log.info('partial run recomputed with late points', { run_id: run.run_id, coverage_before: current.coverage, coverage: measured.coverage });
        if (next.partial_final) log.info('partial run left as it is', { run_id: run.run_id, reason: next.partial_final });
      });
    }
    return n;
  }
}
