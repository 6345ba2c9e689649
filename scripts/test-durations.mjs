#!/usr/bin/env node
// Writes test/durations.json (each test file's seconds, hooks included, longest first) from
// vitest's results cache of the last run, for the suite's sequencer (test/setup/sequencer.ts),
// which starts the longest files first. Run it after a whole, green `npm test` (a run of some
// files or tests only leaves the others' seconds as they were, or shortened):
//   npm test && node scripts/test-durations.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const cacheDir = new URL('../node_modules/.vite/vitest/', import.meta.url);
let results;
try {
  const [hash] = readdirSync(cacheDir);
  ({ results } = JSON.parse(readFileSync(new URL(`${hash}/results.json`, cacheDir), 'utf8')));
} catch (e) {
  console.error(`no vitest results cache in ${cacheDir.pathname} (run npm test first): ${e.message}`);
  process.exit(1);
}
// keys are "<project>:<file>"; a file is in one project
const rows = results
  .map(([key, r]) => [key.slice(key.indexOf(':') + 1), Math.round(r.duration / 100) / 10])
  .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
writeFileSync(new URL('../test/durations.json', import.meta.url), JSON.stringify(Object.fromEntries(rows), null, 1) + '\n');
process.stdout.write(`test/durations.json: ${rows.length} files, ${rows.reduce((a, r) => a + r[1], 0).toFixed(0)} s in all\n`);
