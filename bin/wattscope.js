#!/usr/bin/env node
// The `wattscope` command. The TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/wattscope.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error(`wattscope is not built yet: run \`npm run build\` in ${fileURLToPath(new URL('..', import.meta.url))}`);
  process.exit(1);
}
await import(entry.href);
