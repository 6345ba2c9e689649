#!/usr/bin/env node
// The `wattscope` command. The TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/wattscope.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error(`wattscope is not built yet: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}`);
  process.exit(1);
}
// V8's tiers for the command, before any of its code is compiled (dist/cli/tier.js says why)
(await import(new URL('../dist/cli/tier.js', import.meta.url).href)).tiersFor(process.argv.slice(2));
await import(entry.href);
