import type { Sample } from '../model.js';

/**
 * Why a string cannot be a tag value (or tag key, or measurement name), or undefined if it can.
 * Line protocol has no escape for control characters in tags, and InfluxDB 1.x does not
 * unescape `\\`, so a trailing backslash would swallow the separator after it.
 */
export function tagValueProblem(value: string): string | undefined {
  if (value.length > 1024) return 'must be at most 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters (newline, tab, …)';
  if (value.endsWith('\\')) return 'must not end with a backslash';
  return undefined;
}

/** Measurement names, tag keys and tag values already found valid: they repeat point after point. */
const checked = new Set<string>();
const CHECKED_MAX = 100_000;

function checkedTag(value: string): string | undefined {
  if (checked.has(value)) return undefined;
  const problem = tagValueProblem(value);
  if (problem === undefined) {
    if (checked.size >= CHECKED_MAX) checked.clear();
    checked.add(value);
  }
  return problem;
}

/**
 * Escapes `chars` of line protocol with a backslash, as the client's `Point` does (tags and
 * names cannot hold control characters: tagValueProblem refuses them; a string field's are
 * written as they are, as `Point` writes them). The common case, nothing to escape, returns
 * the string itself.
 */
function escaper(chars: string): (value: string) => string {
  const any = new RegExp(`[${chars.replace(/[\\\]^-]/g, '\\$&')}]`);
  const all = new RegExp(any.source, 'g');
  return (value) => (any.test(value) ? value.replace(all, '\\$&') : value);
}
const escapeTag = escaper(', =');
const escapeMeasurement = escaper(', ');
const escapeQuoted = escaper('"\\');

/** Sorted keys of a small record (tags, fields: a handful), in the order InfluxDB wants tags. */
function sortedKeys(record: Readonly<Record<string, unknown>>): string[] {
  const keys = Object.keys(record);
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  }
  return keys;
}

/**
 * Line protocol for one sample: tags and fields sorted by key, escaped as line protocol wants
 * (the same text the InfluxDB client's `Point` gives, which a test checks, without building a
 * Point per sample: this runs for every point the collector writes). Non-finite numbers are
 * left out (line protocol cannot carry them); a sample left with no field yields undefined.
 * Times are milliseconds (every writer here uses precision `ms`).
 */
export function toLine(sample: Sample): string | undefined {
  const nameProblem = checkedTag(sample.measurement);
  if (nameProblem) throw new TypeError(`measurement name ${JSON.stringify(sample.measurement)} ${nameProblem}`);
  let fields = '';
  const f = sample.fields;
  for (const k of sortedKeys(f)) {
    const v = f[k];
    let text: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) continue;
      text = String(v);
    } else if (typeof v === 'string') text = `"${escapeQuoted(v)}"`;
    else if (typeof v === 'boolean') text = v ? 'T' : 'F';
    else if (v === undefined) continue;
    else {
      if (!Number.isSafeInteger(v.int)) continue;
      text = `${v.int}i`;
    }
    if (k === '') continue;
    fields += `${fields.length > 0 ? ',' : ''}${escapeTag(k)}=${text}`;
  }
  if (fields.length === 0) return undefined;
  return `${seriesKey(sample.measurement, sample.tags)} ${fields} ${Math.round(sample.timeMs)}`;
}

/**
 * The text of a frozen tag set, by measurement: the collector makes each power channel's tags
 * once and writes them every second; their checked, sorted, escaped text is kept with them.
 */
const keyOfFrozen = new WeakMap<Readonly<Record<string, string>>, { measurement: string; key: string }>();

/** `measurement,tag=value,…`: tags sorted by key, escaped, empty ones left out. */
function seriesKey(measurement: string, t: Readonly<Record<string, string>>): string {
  const frozen = Object.isFrozen(t);
  if (frozen) {
    const known = keyOfFrozen.get(t);
    if (known?.measurement === measurement) return known.key;
  }
  let key = escapeMeasurement(measurement);
  for (const k of sortedKeys(t)) {
    const v = t[k];
    if (v === undefined || v === '' || k === '') continue;
    const problem = checkedTag(v) ?? checkedTag(k);
    if (problem) throw new TypeError(`tag ${JSON.stringify(k)}=${JSON.stringify(v)} of ${measurement}: a tag ${problem}`);
    key += `,${escapeTag(k)}=${escapeTag(v)}`;
  }
  if (frozen) keyOfFrozen.set(t, { measurement, key });
  return key;
}

/**
 * Why a sample's measurement name or tags cannot be written, or undefined when they can: the
 * check toLine makes, without building the line (the collector checks its sources' points with
 * it, so that one bad tag is that point's problem, not the batch's).
 */
export function sampleProblem(sample: Sample): string | undefined {
  const nameProblem = checkedTag(sample.measurement);
  if (nameProblem) return `measurement name ${JSON.stringify(sample.measurement)} ${nameProblem}`;
  const t = sample.tags;
  for (const k in t) {
    const v = t[k];
    if (v === undefined || v === '' || k === '') continue;
    const problem = checkedTag(v) ?? checkedTag(k);
    if (problem) return `tag ${JSON.stringify(k)}=${JSON.stringify(v.slice(0, 80))}: a tag ${problem}`;
  }
  return undefined;
}

/**
 * Line protocol for each sample. Without `onRefused` a sample that cannot be written throws (a
 * bug of the caller's); with it, that sample is left out and handed over with the reason, and
 * the others are written.
 */
export function toLines(samples: readonly Sample[], onRefused?: (sample: Sample, error: Error) => void): string[] {
  const out: string[] = [];
  for (const s of samples) {
    let line: string | undefined;
    if (onRefused) {
      try {
        line = toLine(s);
      } catch (e) {
        onRefused(s, e instanceof Error ? e : new Error(String(e)));
        continue;
      }
    } else line = toLine(s);
    if (line !== undefined) out.push(line);
  }
  return out;
}

/**
 * Why one line cannot be a point of ours, or undefined when it can: a light structural check
 * (measurement, tags, fields, integer timestamp; no control characters), and, when given, the
 * measurement must be one of `measurements`. Used on lines read back from the collector's
 * spool, where a bad byte on disk must not become a junk point in InfluxDB.
 */
export function lineProblem(line: string, measurements?: ReadonlySet<string>): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(line)) return 'control character in the line';
  let i = 0;
  let name = '';
  for (; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\\') {
      name += line[++i] ?? '';
      continue;
    }
    if (c === ',' || c === ' ') break;
    name += c;
  }
  if (name === '') return 'no measurement';
  if (measurements && !measurements.has(name)) return `unknown measurement "${name.slice(0, 64)}"`;
  for (; i < line.length && line[i] !== ' '; i++) if (line[i] === '\\') i++;
  if (line[i] !== ' ') return 'no fields';
  const fieldsStart = ++i;
  let quoted = false;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ' ' && !quoted) break;
  }
  if (quoted) return 'a string field is not closed';
  if (!line.slice(fieldsStart, i).includes('=')) return 'no field';
  if (line[i] !== ' ') return 'no timestamp';
  if (!/^-?\d{1,19}$/.test(line.slice(i + 1))) return 'the timestamp is not an integer';
  return undefined;
}
