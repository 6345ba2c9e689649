import { join } from 'node:path';
import { packageRoot } from '../common/paths.js';
import { logger } from '../common/log.js';

/** What every `wattscope` subcommand provides. */
export interface Command {
  name: string;
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
 * after, instead of killing the process half-way. SIGHUP — what a daemon conventionally takes
 * as "reload", and what a closing terminal sends — does not stop it: it is logged, and nothing
 * is reloaded (the configuration is read once, at start).
 */
export async function runUntilSignal(start: () => Promise<{ stop(): Promise<void> }>, name = 'wattscope'): Promise<void> {
  const log = logger(name);
  const onHangup = () => log.warn('SIGHUP received: still running; nothing is reloaded (the configuration is read at start: restart to apply a change)');
  process.on('SIGHUP', onHangup);
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  const daemon = await start();
  await signalled;
  await daemon.stop();
  process.off('SIGHUP', onHangup);
}
