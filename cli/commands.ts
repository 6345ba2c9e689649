/**
 * The CLI's commands: each one's name and what it does, for `wattscope --help`; its module is
 * loaded only when it runs (or shows its usage), so that the collector — a daemon on every
 * machine — does not carry the code and memory of the other commands.
 */
import type { Command } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'up', summary: 'run the whole stack locally: InfluxDB, collector, API and live page (no Docker)', load: async () => (await import('./up.js')).upCommand },
  { name: 'collect', summary: 'run the collector daemon on this machine (sensors → InfluxDB, /metrics)', load: async () => (await import('./collect.js')).collectCommand },
  { name: 'serve', summary: 'run the API and the built-in live page', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'run', summary: 'run a command as a measured run and print its energy and scores', load: async () => (await import('./run.js')).runCommandSpec },
  { name: 'window', summary: 'the energy of a span of a shell script, at once: window begin NAME … window end NAME', load: async () => (await import('./window.js')).windowCommand },
  { name: 'bench', summary: 'the paper’s protocol: baseline, warm-ups, repeated runs of one series with cooldowns, and their statistics', load: async () => (await import('./bench.js')).benchCommandSpec },
  { name: 'runs', summary: 'list, show, stop, export runs, and correct their platform', load: async () => (await import('./runs.js')).runsCommand },
  { name: 'compare', summary: 'compare models across platforms: scores, ranks, relative factors', load: async () => (await import('./runs.js')).compareCommand },
  { name: 'baseline', summary: 'measure idle power per source (for net energy)', load: async () => (await import('./status.js')).baselineCommand },
  { name: 'status', summary: 'check the health of the API, InfluxDB and this host’s collector', load: async () => (await import('./status.js')).statusCommand },
];

