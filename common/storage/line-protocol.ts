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
