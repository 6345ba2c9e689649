/** Periodic work of the API (node-cron): abandon silent runs, recompute partial ones. */
import cron, { type ScheduledTask } from 'node-cron';
import { logger } from '../common/log.js';
import type { RunService } from './service.js';

const log = logger('api-jobs');

export function startJobs(service: RunService, runTimeoutMin: number): ScheduledTask[] {
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
  ];
}
