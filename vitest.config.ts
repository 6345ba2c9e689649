import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/setup/sequencer.js';

/**
 * Two projects over one real influxd (the global setup, run once for both):
 * - `unit`: pure tests and in-process ones (the API built and driven with inject, repositories
 *   against the real influxd): many small files, CPU-bound;
 * - `e2e`: real processes on their defaults (the collector, `wattscope` commands, Chromium,
 *   Python, docker-compose), which mostly wait on real time.
 * One pool of four files at a time for both (vitest shares it between projects of one group
 * order). The suite waits on real time more than it computes (0.8 of this 2-core machine's CPU
 * at four: 5.8 min); six took 4.2 min but a DCGM stand-in's answer came a second late, and five
 * beside two busy loops failed a timing bound in each of three runs, so four it stays.
 * `npx vitest run --project unit` runs the quick ones alone.
 */
const E2E = ['test/**/*.e2e.test.ts', 'test/clients/cli.test.ts', 'test/clients/python.test.ts', 'test/page/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/compose/**/*.test.ts', 'test/dashboards/**/*.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/influxd.global.ts'],
    // the longest files first, across both projects (test/setup/sequencer.ts)
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: E2E,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: E2E,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
    ],
  },
});
