/**
 * `npm run docs:config`: writes the options table of docs/CONFIGURATION.md and
 * collector/sample-config.json from the one table in common/config.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_OPTIONS, OPTIONS, type OptionSpec } from '../common/config.js';
import { SOURCES } from '../collector/sources/index.js';
import { packageRoot } from '../common/paths.js';

/** Defaults that depend on the machine are shown by what they are, not by this machine's value. */
const MACHINE_DEFAULTS: Record<string, string> = { host: '(the machine’s hostname)', 'collector.spoolDir': '`$XDG_DATA_HOME/wattscope/spool`' };

function shownDefault(o: OptionSpec): string {
  if (MACHINE_DEFAULTS[o.key]) return MACHINE_DEFAULTS[o.key] as string;
  if (o.default === undefined) return '(unset)';
  if (Array.isArray(o.default)) return o.default.length ? o.default.join(',') : '(all)';
  return `\`${String(o.default)}\``;
}

const row = (o: OptionSpec, first = '') => `|${first} \`${o.env}\` | \`${o.key}\` | ${shownDefault(o)} | ${o.doc.replace(/\|/g, '\\|')} |`;

/** The options of the collector, the API and the clients; then each source's own, by source. */
export function optionsTable(): string {
  const core = CORE_OPTIONS.map((o) => row(o)).join('\n');
  const bySource = SOURCES.flatMap((s) => (s.options ?? []).map((o) => row(o, ` [${s.name}](../collector/sources/${s.name}/README.md) |`))).join('\n');
  return `${HEAD}\n${core}\n\n${SOURCE_INTRO}\n\n${SOURCE_HEAD}\n${bySource}`;
}

const HEAD = '| environment | config file key | default | meaning |\n| --- | --- | --- | --- |';
const SOURCE_INTRO = 'Each source declares its own options beside its code (`collector/sources/<name>/`); they are read like the others:';
const SOURCE_HEAD = '| source | environment | config file key | default | meaning |\n| --- | --- | --- | --- | --- |';

export function sampleConfig(): string {
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const value = MACHINE_DEFAULTS[o.key] || o.default === undefined ? '' : o.default;
    const parts = o.key.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1] as string] = value;
  }
  return JSON.stringify(out, null, 2) + '\n';
}

const BEGIN = '| environment | config file key';
const END = '\n\n`wattscope up` also reads';

if (process.argv[1]?.endsWith('config-docs.js')) {
  const root = packageRoot();
  const docsFile = join(root, 'docs', 'CONFIGURATION.md');
  const docs = readFileSync(docsFile, 'utf8');
  const start = docs.indexOf(BEGIN);
  writeFileSync(docsFile, docs.slice(0, start) + optionsTable() + docs.slice(docs.indexOf(END)));
  writeFileSync(join(root, 'collector', 'sample-config.json'), sampleConfig());
  console.log('wrote docs/CONFIGURATION.md and collector/sample-config.json');
}
