/**
 * InfluxQL text is built here and nowhere else. A query is an `InfluxQL` value produced by the
 * `iql` template tag; an interpolated value must itself be an `InfluxQL` fragment, made by one
 * of the escaping helpers below (identifier, string literal, regular expression, number, time).
 * A plain string cannot be interpolated: the type checker refuses it, and so does `iql` at run time.
 */

export class InfluxQL {
  /** @internal use the helpers; the constructor is not for user input */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Escapes the characters InfluxQL's scanner treats specially inside quotes. */
function escapeQuoted(value: string, quote: '"' | "'"): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    // InfluxQL has no escape for other control characters; a raw CR or TAB is a valid string byte.
    else out += ch;
  }
  return out;
}

function assertText(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${typeof value}`);
  if (value.includes('\0')) throw new TypeError(`${what} must not contain NUL`);
  // InfluxQL's scanner ends a quoted token at a carriage return and has no escape for it.
  if (value.includes('\r')) throw new TypeError(`${what} cannot carry a carriage return in InfluxQL; match it with literalRegex()`);
  return value;
}

/** A double-quoted identifier: measurement, tag key, field key, database, retention policy. */
export function ident(name: string): InfluxQL {
  return new InfluxQL(`"${escapeQuoted(assertText(name, 'identifier'), '"')}"`);
}

/** A single-quoted string literal (tag values and string fields compared with =, !=). */
export function str(value: string): InfluxQL {
  return new InfluxQL(`'${escapeQuoted(assertText(value, 'string literal'), "'")}'`);
}

/** A regular expression that matches `value` literally, anchored when `anchored` is true. */
export function literalRegex(value: string, anchored = true): InfluxQL {
  const body = assertText(value, 'regex value')
    .replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => '\\' + c)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
  return new InfluxQL(anchored ? `/^${body}$/` : `/${body}/`);
}

/** A regular expression matching `value` as one item of a comma-separated list. */
export function listItemRegex(value: string): InfluxQL {
  if (value.includes(',')) throw new TypeError('a list item cannot contain a comma');
  const body = literalRegex(value, false).text.slice(1, -1);
  return new InfluxQL(`/(^|,)${body}(,|$)/`);
}

/** A regular expression matching any of the values exactly: /^(?:a|b|c)$/. */
export function anyOf(values: readonly string[]): InfluxQL {
  if (values.length === 0) throw new RangeError('anyOf needs at least one value');
  const parts = values.map((v) => literalRegex(v, false).text.slice(1, -1));
  return new InfluxQL(`/^(?:${parts.join('|')})$/`);
}

/** A finite number literal; integers stay integers. */
export function num(value: number): InfluxQL {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`not a finite number: ${String(value)}`);
  return new InfluxQL(Number.isInteger(value) ? value.toFixed(0) : String(value));
}

/** A time literal in epoch milliseconds, e.g. `1700000000000ms`. */
export function timeMs(ms: number): InfluxQL {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite time: ${String(ms)}`);
  return new InfluxQL(`${Math.round(ms)}ms`);
}

/** A duration literal such as `10s`, for GROUP BY time(...). */
export function durationMs(ms: number): InfluxQL {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`not a positive duration: ${String(ms)}`);
  return new InfluxQL(`${Math.round(ms)}ms`);
}

/** Joins fragments with a separator that is itself fixed text (', ', ' AND ', ' OR '). */
export function join(parts: readonly InfluxQL[], separator: ', ' | ' AND ' | ' OR ' | '; '): InfluxQL {
  return new InfluxQL(parts.map((p) => p.text).join(separator));
}

/** The template tag: only fixed text and InfluxQL fragments make a query. */
export function iql(strings: TemplateStringsArray, ...values: InfluxQL[]): InfluxQL {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    if (!(value instanceof InfluxQL)) {
      throw new TypeError('a value reaches InfluxQL only through ident(), str(), literalRegex(), num() or timeMs()');
    }
    text += value.text + (strings[i + 1] ?? '');
  });
  return new InfluxQL(text);
}
