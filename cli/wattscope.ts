/**
 * `wattscope <command>`: one entry point for every part. Only the module of the command that
 * runs is loaded: the collector, a daemon on every machine, does not carry the code (and the
 * memory) of the CLI's other commands.
 */
import { wantsHelp } from './command.js';
import { COMMANDS } from './commands.js';
import { VERSION } from '../common/version.js';

/** Errors whose message is the whole story for the user (by name: their classes live in modules not loaded here). */
const SAID_AS_IS = new Set(['ConfigError', 'StorageError', 'ApiClientError', 'SpoolLockedError']);

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'wattscope — what ML runs really cost in energy, measured on your hardware',
    '',
    'Usage: wattscope <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `wattscope <command> --help` for a command’s options. Configuration: docs/CONFIGURATION.md.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    console.log(`wattscope ${VERSION}`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`wattscope: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await entry.load();
  // --help anywhere before `--` (after it, the words belong to the wrapped command)
  if (wantsHelp(rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest)) {
    console.log(command.usage);
    return 0;
  }
  return command.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const name = e instanceof Error ? e.name : '';
    if (name === 'UsageError') {
      console.error(`wattscope: ${(e as Error).message}`);
      process.exitCode = 2;
      return;
    }
    if (SAID_AS_IS.has(name)) console.error(`wattscope: ${(e as Error).message}`);
    else if (e instanceof Error && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`wattscope: ${e.message}; see --help`);
      process.exitCode = 2;
      return;
    } else console.error(e);
    process.exitCode = 1;
  },
);
