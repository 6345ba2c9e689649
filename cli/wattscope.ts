/**
 * `wattscope <command>`: one entry point for every part.
 */
import { ConfigError } from '../common/config.js';
import { StorageError } from '../common/storage/errors.js';
import type { Command } from './command.js';
import { upCommand } from './up.js';
import { collectCommand } from './collect.js';
import { serveCommand } from './serve.js';

const COMMANDS: Command[] = [upCommand, collectCommand, serveCommand];

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
    console.log('wattscope 0.1.0');
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`wattscope: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  return command.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError || e instanceof StorageError) console.error(`wattscope: ${e.message}`);
    else console.error(e);
    process.exitCode = 1;
  },
);
