/**
 * The API's periodic jobs — abandon silent runs (./abandon.ts), measure partial runs again
 * (./recompute.ts), roll up settled buckets (./rollup.ts) — on a scheduler: node-cron at every
 * whole minute in production (the recompute schedule's slots are whole minutes, so that replicas
 * agree on them), or one the caller drives (tests fire `execute()` at the moments they choose).
 * A failing job logs when its error changes, and again at most every 10 minutes while it goes
 * on failing; failures are counted in /metrics.
 */
import cron from 'node-cron';
import { logger } from '../../common/log.js';
import { JOB_NAMES, type ApiMetrics, type JobName } from '../metrics.js';

export { JOB_NAMES, type JobName };

const log = logger('api-jobs');

const REPEAT_LOG_MS = 10 * 60_000;

/** A job's work for one tick; returns how many things it did. */
export interface Job {
  run(): Promise<number>;
}

export interface ApiJobs {
  abandon: Job;
  recompute: Job;
  rollup: Job;
}


/** Calls `tick` on its schedule until stopped; a tick still running when the next is due is skipped. */
export type Scheduler = (name: JobName, tick: () => Promise<void>) => { stop(): void | Promise<void> };

/** Every whole minute (node-cron), never two ticks of one job at once. */
export const everyMinute: Scheduler = (name, tick) => cron.schedule('* * * * *', tick, { name: `wattscope-${name}`, noOverlap: true });

/** No timer: the caller fires each job with `execute()` (tests that drive the clock). */
export const manually: Scheduler = () => ({ stop: () => undefined });

export interface ScheduledJob {
  name: JobName;
  /** one tick now, as the scheduler would fire it (failures logged and counted, never thrown) */
  execute(): Promise<void>;
  stop(): Promise<void>;
}

export function startJobs(jobs: ApiJobs, options: { metrics?: ApiMetrics | undefined; scheduler?: Scheduler | undefined } = {}): ScheduledJob[] {
  const scheduler = options.scheduler ?? everyMinute;
  return JOB_NAMES.map((name) => {
    let last: { message: string; at: number } | undefined;
    const execute = async () => {
      try {
        await jobs[name].run();
        if (last) log.info(`${name} works again`);
        last = undefined;
      } catch (e) {
        options.metrics?.jobFailures.inc({ job: name });
        const message = e instanceof Error ? e.message : String(e);
        if (!last || last.message !== message || Date.now() - last.at >= REPEAT_LOG_MS) {
          log.warn(`${name} failed; it runs again next minute (failures are counted in wattscope_api_job_failures_total)`, { error: message });
          last = { message, at: Date.now() };
        }
      }
    };
    const task = scheduler(name, execute);
    return { name, execute, stop: async () => void (await task.stop()) };
  });
}
