/** Plain-text tables and numbers for the terminal. */
import { loadConfig, type Config } from '../common/config.js';
import { WattscopeClient } from '../clients/ts/client.js';

export function client(config: Config = loadConfig()): WattscopeClient {
  return new WattscopeClient(config.api.url, config.api.token);
}

export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
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

/** Repeated `--label k=v` into a map; throws on a label without `=`. */
export function parseLabels(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label takes key=value, got "${v}"`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function numberOption(value: string | undefined, name: string, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} takes ${integer ? 'a whole number' : 'a number'}, got "${value}"`);
  return n;
}
