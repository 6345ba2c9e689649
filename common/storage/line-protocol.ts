import { Point } from '@influxdata/influxdb-client';
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

/**
 * Line protocol for one sample, escaped by the InfluxDB client's Point. Non-finite numbers are
 * left out (line protocol cannot carry them); a sample left with no field yields undefined.
 * Times are milliseconds (every writer here uses precision `ms`).
 */
export function toLine(sample: Sample): string | undefined {
  const nameProblem = tagValueProblem(sample.measurement);
  if (nameProblem) throw new TypeError(`measurement name ${JSON.stringify(sample.measurement)} ${nameProblem}`);
  const point = new Point(sample.measurement);
  for (const [k, v] of Object.entries(sample.tags)) {
    if (v === '') continue;
    const problem = tagValueProblem(v) ?? tagValueProblem(k);
    if (problem) throw new TypeError(`tag ${JSON.stringify(k)}=${JSON.stringify(v)} of ${sample.measurement}: a tag ${problem}`);
    point.tag(k, v);
  }
  let fields = 0;
  for (const [k, v] of Object.entries(sample.fields)) {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) continue;
      point.floatField(k, v);
    } else if (typeof v === 'string') point.stringField(k, v);
    else if (typeof v === 'boolean') point.booleanField(k, v);
    else {
      if (!Number.isSafeInteger(v.int)) continue;
      point.intField(k, v.int);
    }
    fields++;
  }
  if (fields === 0) return undefined;
  point.timestamp(Math.round(sample.timeMs));
  return point.toLineProtocol();
}

export function toLines(samples: readonly Sample[]): string[] {
  const out: string[] = [];
  for (const s of samples) {
    const line = toLine(s);
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
