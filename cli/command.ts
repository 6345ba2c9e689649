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

/**
 * A daemon's life: `start` it, and once SIGTERM or SIGINT arrives, stop it. The handlers are in
 * place before `start` begins, so a signal that arrives while it starts stops it cleanly right
 * after, instead of killing the process half-way.
 */
export async function runUntilSignal(start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  const daemon = await start();
  await signalled;
  await daemon.stop();
}
