/** Periodic work of the API (node-cron): abandon silent runs, recompute partial ones, roll up settled buckets. */
import cron, { type ScheduledTask } from 'node-cron';
import { logger } from '../common/log.js';
import type { RunService } from './service.js';
import type { RollupJob } from './rollups.js';

const log = logger('api-jobs');

export function startJobs(service: RunService, runTimeoutMin: number, rollups?: RollupJob): ScheduledTask[] {
  const guard = (name: string, fn: () => Promise<number>) => async () => {
    try {
      await fn();
    } catch (e) {
      log.once(`job:${name}`, 'warn', `${name} failed; it runs again next minute`, { error: e });
    }
  };
  return [
    cron.schedule('* * * * *', guard('abandon', () => service.abandonStale(runTimeoutMin * 60_000)), { name: 'abandon-stale-runs', noOverlap: true }),
    cron.schedule('* * * * *', guard('recompute', () => service.recomputePartial()), { name: 'recompute-partial-runs', noOverlap: true }),
    ...(rollups ? [cron.schedule('* * * * *', guard('rollup', () => rollups.advance()), { name: 'rollup-power', noOverlap: true })] : []),
  ];
}
