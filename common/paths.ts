import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Wattscope keeps data for the current user: $WATTSCOPE_HOME, else XDG data home. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WATTSCOPE_HOME) return env.WATTSCOPE_HOME;
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'wattscope');
}

/** The default config file: $XDG_CONFIG_HOME/wattscope/config.json. */
export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'wattscope', 'config.json');
}
