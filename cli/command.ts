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

/** Resolves once SIGTERM or SIGINT arrives and `stop` has finished (daemons' main loop). */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const handler = () => void stop().then(resolve);
    process.once('SIGTERM', handler);
    process.once('SIGINT', handler);
  });
}
