/**
 * The whole configuration table, assembled at the top: the core options (common/config.ts) and
 * each source's own (collector/sources/*, declared beside its code). The commands load their
 * configuration against it; docs/CONFIGURATION.md and collector/sample-config.json are written
 * from it (`npm run docs:config`).
 */
import { CORE_OPTIONS, loadConfig as loadAgainst, type Config, type OptionSpec } from '../common/config.js';
import { SOURCE_NAMES, SOURCE_OPTIONS } from '../collector/sources/index.js';

export type { Config, OptionSpec };

/** `collector.sources` names the sources there are. */
const core = CORE_OPTIONS.map((o) => (o.key === 'collector.sources' ? { ...o, doc: `Comma list of sources to run (${SOURCE_NAMES.join(',')}). Empty: all that find their hardware.` } : o));

export const OPTIONS: readonly OptionSpec[] = [...core, ...SOURCE_OPTIONS];
export const CORE: readonly OptionSpec[] = core;

/** The configuration of a command: the environment and the config file, against the whole table. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadAgainst(env, OPTIONS);
}
