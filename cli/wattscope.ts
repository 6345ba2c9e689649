/**
 * `wattscope <command>`: one entry point for every part.
 */
import { ConfigError } from '../common/config.js';
import { StorageError } from '../common/storage/errors.js';
import { wantsHelp, type Command } from './command.js';
import { upCommand } from './up.js';
import { collectCommand } from './collect.js';
import { serveCommand } from './serve.js';
import { runCommandSpec } from './run.js';
import { benchCommandSpec } from './bench.js';
import { compareCommand, runsCommand } from './runs.js';
import { baselineCommand, statusCommand } from './status.js';
import { windowCommand } from './window.js';
import { UsageError } from './format.js';
import { ApiClientError } from '../clients/ts/client.js';
import { SpoolLockedError } from '../collector/spool-lock.js';
import { VERSION } from '../common/version.js';

const COMMANDS: Command[] = [upCommand, collectCommand, serveCommand, runCommandSpec, windowCommand, benchCommandSpec, runsCommand, compareCommand, baselineCommand, statusCommand];

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
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`wattscope: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
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
    if (e instanceof UsageError) {
      console.error(`wattscope: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    if (e instanceof ConfigError || e instanceof StorageError || e instanceof ApiClientError || e instanceof SpoolLockedError) console.error(`wattscope: ${e.message}`);
    else if (e instanceof Error && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`wattscope: ${e.message}; see --help`);
      process.exitCode = 2;
      return;
    } else console.error(e);
    process.exitCode = 1;
  },
);
