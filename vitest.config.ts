import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/influxd.global.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores here: the suite starts real processes (influxd, collectors, the API); keep it calm.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
