import { defineConfig } from 'vitest/config';

/**
 * Two projects over one real influxd (the global setup, run once for both):
 * - `unit`: pure tests and in-process ones (the API built and driven with inject, repositories
 *   against the real influxd): many small files, CPU-bound, two at a time on this 2-core machine;
 * - `e2e`: real processes on their defaults (the collector, `wattscope` commands, Chromium,
 *   Python, docker-compose), which mostly wait on real time: three at a time, after the unit
 *   files (so that their timing does not compete with those), their waiting overlapping.
 * `npx vitest run --project unit` runs the quick ones alone.
 */
const E2E = ['test/**/*.e2e.test.ts', 'test/clients/cli.test.ts', 'test/clients/python.test.ts', 'test/page/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/compose/**/*.test.ts', 'test/dashboards/**/*.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/influxd.global.ts'],
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
