import { join } from 'node:path';
import { packageRoot } from '../common/paths.js';

/** What every `wattscope` subcommand provides. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Resolves to the exit code. */
  main(argv: string[]): Promise<number>;
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** The path of the `wattscope` executable script, for starting children. */
export function binPath(): string {
  return join(packageRoot(), 'bin', 'wattscope.js');
}
