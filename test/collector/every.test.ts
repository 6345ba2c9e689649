import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { every } from '../../collector/every.js';
import { recordingLogger } from './fixtures.js';

describe('periodic jobs of the collector', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 10, 22, 8, 0, 42, 500)); // 17.5 s before a whole minute
  });
  afterEach(() => vi.useRealTimers());

  it('runs on whole minutes, as a `* * * * *` cron entry did', async () => {
    const at: number[] = [];
    const job = every(60_000, 'rediscover', () => void at.push(Date.now()), recordingLogger());
    await vi.advanceTimersByTimeAsync(17_499);
    expect(at).toEqual([]);
    await vi.advanceTimersByTimeAsync(1 + 3 * 60_000);
    expect(at.map((t) => new Date(t).toISOString())).toEqual(['2026-11-22T08:01:00.000Z', '2026-11-22T08:02:00.000Z', '2026-11-22T08:03:00.000Z', '2026-11-22T08:04:00.000Z']);
    await job.stop();
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(at).toHaveLength(4);
  });

  it('skips a time while the last run still goes on, and waits for it on stop', async () => {
    let started = 0;
    let finished = 0;
    const job = every(
      60_000,
      'slow',
      async () => {
        started++;
        await new Promise((r) => setTimeout(r, 90_000)); // longer than the period
        finished++;
      },
      recordingLogger(),
    );
    await vi.advanceTimersByTimeAsync(17_500 + 60_000); // 08:01 starts, 08:02 finds it running
    expect(started).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000); // 08:03: the first ended at 08:02:30, a second starts
    expect(started).toBe(2);
    const stopping = job.stop();
    await vi.advanceTimersByTimeAsync(90_000);
    await stopping;
    expect(finished).toBe(2);
  });

  it('says once that a job failed and runs it again at its next time', async () => {
    const log = recordingLogger();
    let runs = 0;
    const job = every(
      60_000,
      'rediscover',
      () => {
        runs++;
        throw new Error('EACCES');
      },
      log,
    );
    await vi.advanceTimersByTimeAsync(17_500 + 2 * 60_000);
    expect(runs).toBe(3);
    expect(log.lines).toEqual([{ level: 'warn', message: 'the rediscover job failed; it runs again at its next time' }]);
    await job.stop();
  });
});
