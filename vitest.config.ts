import { defineConfig } from 'vitest/config';
import { suiteLoad } from './test/setup/load.js';
import { LongestFirst } from './test/setup/sequencer.js';

/**
 * Two projects over one real influxd (the global setup, run once for both):
 * - `unit`: pure tests and in-process ones (the API built and driven with inject, repositories
 *   against the real influxd): many small files, CPU-bound;
 * - `e2e`: real processes on their defaults (the collector, `wattscope` commands, Chromium,
 *   Python, docker-compose), which mostly wait on real time.
 * One pool for both (vitest shares it between projects of one group order), the longest files
 * first (test/setup/sequencer.ts): five files at a time on a quiet machine, three on a busy one
 * (test/setup/load.ts). The suite waits on real time more than it computes: at four files it
 * used 0.8 of this 2-core machine's CPU and took 4.9–5.5 min in all, at five 4.3 min.
 * `npx vitest run --project unit` runs the quick ones alone.
 */
const E2E = ['test/**/*.e2e.test.ts', 'test/clients/cli.test.ts', 'test/clients/python.test.ts', 'test/page/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/compose/**/*.test.ts', 'test/dashboards/**/*.test.ts'];

export default defineConfig(async () => {
  const load = await suiteLoad();
  process.stderr.write(`wattscope suite: ${load.said}\n`);
  // read by sideBySide (test/helpers.ts) in the test workers
  const env = { WATTSCOPE_TEST_SIDE_BY_SIDE: load.sideBySide ? '1' : '0' };
  const project = { testTimeout: 60_000, hookTimeout: 120_000, maxWorkers: load.workers, env, sequence: { groupOrder: 0 } };
  return {
    test: {
      globalSetup: ['test/setup/influxd.global.ts'],
      // the longest files first, across both projects (test/setup/sequencer.ts)
      sequence: { sequencer: LongestFirst },
      projects: [
        { test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: E2E, ...project } },
        { test: { name: 'e2e', include: E2E, ...project } },
      ],
    },
  };
});
