/** The abandon job (every minute): running runs without a heartbeat for the run timeout become abandoned, with energy up to their last heartbeat. */
import { logger } from '../../common/log.js';
import { summaryOf, type Run, type SummarySettings } from '../domain/run-record.js';
import { storedViews } from '../domain/run-fields.js';
import type { RunRepository } from '../repo/runs.js';
import type { RunLocks } from '../services/locks.js';
import type { MeasuringService } from '../services/measuring.js';

const log = logger('api');

export class AbandonJob {
  private readonly now: () => number;

  constructor(
    private readonly runs: RunRepository,
    private readonly measuring: MeasuringService,
    private readonly locks: RunLocks,
    private readonly opts: { timeoutMs: number; summary: SummarySettings; now?: (() => number) | undefined },
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Abandons the silent runs; returns how many. */
  async run(): Promise<number> {
    const stale: Run[] = [];
    for await (const run of this.runs.all({ status: 'running' })) {
      if (this.now() - (run.heartbeat_at_ms ?? run.started_at_ms) >= this.opts.timeoutMs) stale.push(run);
    }
    let n = 0;
    for (const run of stale) {
      const last = run.heartbeat_at_ms ?? run.started_at_ms;
      await this.locks.exclusive(run.run_id, async () => {
        const current = await this.runs.get(run.run_id);
        if (!current || current.status !== 'running') return;
        const abandoned: Run = { ...(await this.measuring.measureEnded(current, last)), status: 'abandoned', ended_at_ms: last };
        await this.runs.save(abandoned, storedViews(summaryOf(abandoned, this.opts.summary)));
        n++;
        log.info('run abandoned: no heartbeat', { run_id: run.run_id, last_heartbeat: new Date(last).toISOString() });
      });
    }
    return n;
  }
}
