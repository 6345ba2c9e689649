/** Periodic work of the API (node-cron): abandon silent runs, recompute partial ones, roll up settled buckets. */
import cron, { type ScheduledTask } from 'node-cron';
import { logger } from '../common/log.js';
import type { ApiMetrics, JobName } from './metrics.js';
import type { RunService } from './service.js';
import type { RollupJob } from './rollups.js';

const log = logger('api-jobs');

/** A failing job logs when its error changes, and again at most every 10 minutes while it goes on failing. */
const REPEAT_LOG_MS = 10 * 60_000;

export function startJobs(service: RunService, runTimeoutMin: number, rollups?: RollupJob, metrics?: ApiMetrics): ScheduledTask[] {
  const guard = (name: JobName, fn: () => Promise<number>) => {
    let last: { message: string; at: number } | undefined;
    return async () => {
      try {
        await fn();
        if (last) log.info(`${name} works again`);
        last = undefined;
      } catch (e) {
        metrics?.jobFailures.inc({ job: name });
        const message = e instanceof Error ? e.message : String(e);
        if (!last || last.message !== message || Date.now() - last.at >= REPEAT_LOG_MS) {
          log.warn(`${name} failed; it runs again next minute (failures are counted in wattscope_api_job_failures_total)`, { error: message });
          last = { message, at: Date.now() };
        }
      }
    };
  };
  return [
    cron.schedule('* * * * *', guard('abandon', () => service.abandonStale(runTimeoutMin * 60_000)), { name: 'abandon-stale-runs', noOverlap: true }),
    cron.schedule('* * * * *', guard('recompute', () => service.recomputePartial()), { name: 'recompute-partial-runs', noOverlap: true }),
    ...(rollups ? [cron.schedule('* * * * *', guard('rollup', () => rollups.advance()), { name: 'rollup-power', noOverlap: true })] : []),
  ];
}
