/**
 * A source's own option, as loaded: declared with the source (collector/sources/<name>/), checked
 * by loadConfig like every option (common/config.ts), read here with the type its kind says.
 * Apart from config.ts so that sources can read their options without importing the table
 * they are part of.
 */
import type { Config, OptionSpec } from './config.js';

type ValueOf<S extends OptionSpec> = S['kind'] extends 'int' | 'number' ? number : S['kind'] extends 'bool' ? boolean : S['kind'] extends 'list' ? string[] : S['kind'] extends 'secret' ? string | undefined : string;

export function optionValue<const S extends OptionSpec>(config: Config, spec: S): ValueOf<S> {
  let cur: unknown = config;
  for (const part of spec.key.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  return cur as ValueOf<S>;
}
