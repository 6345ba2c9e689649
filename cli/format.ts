/** Plain-text tables and numbers for the terminal, and the checks of options' values. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from './config.js';
import { WattscopeClient } from '../clients/ts/client.js';

export function client(config: Config = loadConfig()): WattscopeClient {
  return new WattscopeClient(config.api.url, config.api.token);
}

export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A number to exactly `digits` decimals, for a column whose numbers line up (1.50, not 1.5). */
export function fixed(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Columns left-aligned, numbers right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-—\d.,%×±() ]*$/.test(r[i] ?? '')));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Key/value pairs, one per line. */
export function pairs(items: Array<[string, string]>): string {
  const w = Math.max(...items.map(([k]) => k.length));
  return items.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** The API's limits on labels (schemas/runs.ts): checked here so that a run never starts with labels it would refuse. */
const MAX_LABELS = 64;
const MAX_LABEL_KEY = 128;
const MAX_LABEL_VALUE = 1024;

/** Repeated `--label k=v` into a map; throws on a label without `=` or past the API's limits. */
export function parseLabels(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label takes key=value, got "${v}"`);
    const key = v.slice(0, eq);
    if (key.length > MAX_LABEL_KEY) throw new UsageError(`--label: the key "${key.slice(0, 20)}…" is longer than ${MAX_LABEL_KEY} characters`);
    if (v.length - eq - 1 > MAX_LABEL_VALUE) throw new UsageError(`--label ${key}: the value is longer than ${MAX_LABEL_VALUE} characters`);
    out[key] = v.slice(eq + 1);
  }
  if (Object.keys(out).length > MAX_LABELS) throw new UsageError(`--label: at most ${MAX_LABELS} labels`);
  return out;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** What a numeric option accepts. */
export interface NumberRule {
  integer?: boolean;
  min?: number;
  /** min itself is not allowed (a positive number) */
  minExclusive?: boolean;
  max?: number;
  /** said after the range when the value is refused, e.g. "a fraction: 0.76, not 76" */
  hint?: string;
}

// The same ranges the API's schemas enforce, so that a bad value is refused before anything starts.
export const COUNT: NumberRule = { integer: true, min: 0, max: 1e15 };
export const FRACTION: NumberRule = { min: 0, max: 1, hint: 'a fraction: 0.76, not 76' };
export const BATCH_SIZE: NumberRule = { integer: true, min: 1, max: 1e9 };
export const PARAMS_M: NumberRule = { min: 0, minExclusive: true, max: 1e7 };
export const MACS_G: NumberRule = { min: 0, minExclusive: true, max: 1e9 };

export function describeRule(rule: NumberRule): string {
  const what = rule.integer ? 'a whole number' : 'a number';
  const lo = rule.min === undefined ? '' : rule.minExclusive ? `> ${rule.min}` : `≥ ${rule.min}`;
  const hi = rule.max === undefined ? '' : `≤ ${rule.max >= 1e6 ? rule.max.toExponential().replace('e+', 'e') : rule.max}`;
  const range = rule.min !== undefined && rule.max !== undefined && !rule.minExclusive && !rule.integer ? `from ${rule.min} to ${rule.max}` : [lo, hi].filter(Boolean).join(' and ');
  return [what, range].filter(Boolean).join(' ') + (rule.hint ? ` (${rule.hint})` : '');
}

// decimal notation only: Number() would also take "", "0x1f" and "Infinity"
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function inRange(n: number, rule: NumberRule): boolean {
  return (
    Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.min === undefined || (rule.minExclusive ? n > rule.min : n >= rule.min)) &&
    (rule.max === undefined || n <= rule.max)
  );
}

/** A numeric option checked against `rule`; undefined when not given. Throws a UsageError naming the option. */
export function numberOption(value: string | undefined, name: string, rule: NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = DECIMAL.test(value.trim()) ? Number(value) : NaN;
  if (!inRange(n, rule)) throw new UsageError(`--${name} takes ${describeRule(rule)}, got ${shown(value)}`);
  return n;
}

/** A value as a message quotes it: a plain word as it is (-5), anything else in quotes ("", "1 2"). */
export function shown(value: string): string {
  return /^[^\s"]+$/.test(value) ? value : JSON.stringify(value);
}

/** What looks like a negative number: `-5`, `-0.5`, `-.5`, `-1e3` (and `-5x`, which the option's check then refuses). */
const NEGATIVE = /^-\.?\d/;

/**
 * node:util's parseArgs, except that a negative number after an option that takes a value is
 * that option's value. parseArgs refuses `--inferences -5` as "ambiguous" (it could be an option
 * called -5): no option of ours is named by a digit, so the value is handed to the option, whose
 * own check then says what it takes ("--inferences takes a whole number ≥ 0 …, got -5").
 */
export function parseOptions<const T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  const args = config.args ?? [];
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    // (no option of ours has a short form that takes a value)
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const next = args[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && NEGATIVE.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return parseArgs({ ...config, args: out } as T);
}

/** --inferences, --correct and --accuracy as a run's results: ranges, and correct ≤ inferences. */
export function resultOptions(values: { inferences?: string | undefined; correct?: string | undefined; accuracy?: string | undefined }): { inferences?: number; correct?: number; accuracy?: number } {
  const out = {
    inferences: numberOption(values.inferences, 'inferences', COUNT),
    correct: numberOption(values.correct, 'correct', COUNT),
    accuracy: numberOption(values.accuracy, 'accuracy', FRACTION),
  };
  if (out.correct !== undefined && out.inferences !== undefined && out.correct > out.inferences) {
    throw new UsageError(`--correct (${out.correct}) cannot exceed --inferences (${out.inferences})`);
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** An option that takes a time: ISO 8601 or epoch milliseconds, as the API's filters do; returned as ISO 8601. */
export function timeOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  // Date.parse alone takes far more than ISO 8601, and reads "-5" as a day in 2001
  const ms = /^\d+$/.test(value) ? Number(value) : ISO_8601.test(value) ? Date.parse(value) : NaN;
  // beyond ±8.64e15 ms there is no Date (toISOString would throw)
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new UsageError(`--${name} takes an ISO 8601 date-time or epoch milliseconds, got ${shown(value)}`);
  return new Date(ms).toISOString();
}
