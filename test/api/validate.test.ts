/** The pure input checks of api/validate.ts (the HTTP behaviour is in hostile.test.ts). */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import { INFLUX_MAX_MS, INFLUX_MIN_MS, MAX_BODY_DEPTH, bodyProblem, headerText, parseLabelFilter, parseTime, timeProblem } from '../../api/validate.js';

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('no ApiError thrown');
}

describe('times InfluxDB can store', () => {
  it('are the whole milliseconds inside int64 nanoseconds (MinInt64 + 2 … MaxInt64 - 1)', () => {
    const minNs = -(2n ** 63n) + 2n;
    const maxNs = 2n ** 63n - 2n;
    expect(BigInt(INFLUX_MIN_MS) * 1_000_000n >= minNs).toBe(true);
    expect(BigInt(INFLUX_MIN_MS - 1) * 1_000_000n < minNs).toBe(true);
    expect(BigInt(INFLUX_MAX_MS) * 1_000_000n <= maxNs).toBe(true);
    expect(BigInt(INFLUX_MAX_MS + 1) * 1_000_000n > maxNs).toBe(true);
    expect(new Date(INFLUX_MIN_MS).toISOString()).toBe('1677-09-21T00:12:43.146Z');
    expect(new Date(INFLUX_MAX_MS).toISOString()).toBe('2262-04-11T23:47:16.854Z');
    expect(timeProblem(INFLUX_MIN_MS)).toBeUndefined();
    expect(timeProblem(INFLUX_MAX_MS)).toBeUndefined();
    expect(timeProblem(INFLUX_MAX_MS + 1)).toMatch(/between 1677-09-21T00:12:43.146Z and 2262-04-11T23:47:16.854Z/);
    expect(timeProblem(Number.NaN)).toBeDefined();
  });

  it('parseTime takes ISO 8601 or epoch ms inside that range, and names the parameter otherwise', () => {
    expect(parseTime('2262-04-11T23:47:16.854Z', 'to')).toBe(INFLUX_MAX_MS);
    expect(parseTime('1700000000000', 'from')).toBe(1_700_000_000_000);
    expect(parseTime(undefined, 'from')).toBeUndefined();
    for (const [value, field] of [['99999999999999999999', 'from'], ['2262-04-11T23:47:16.855Z', 'to'], ['1677-09-21T00:12:43.145Z', 'from'], ['yesterday', 'to']] as const) {
      const e = apiError(() => parseTime(value, field));
      expect(e.statusCode).toBe(400);
      expect(e.details.field).toBe(field);
      expect(e.message).toContain(`querystring/${field}`);
    }
  });
});

describe('bodyProblem', () => {
  it('walks 400,000 nested arrays without recursion and refuses them, naming the body', () => {
    const deep = JSON.parse('['.repeat(400_000) + ']'.repeat(400_000)) as unknown;
    expect(bodyProblem(deep)).toEqual({ field: '(root)', message: `body is nested more than ${MAX_BODY_DEPTH} levels deep` });
    const nest = (n: number): unknown => JSON.parse('{"a":'.repeat(n) + '1' + '}'.repeat(n));
    expect(bodyProblem(nest(MAX_BODY_DEPTH))).toBeUndefined();
    expect(bodyProblem(nest(MAX_BODY_DEPTH + 1))?.field).toBe('(root)');
  });

  it('names the first unstorable string in document order, keys included', () => {
    expect(bodyProblem({ model: 'ok', labels: { a: 'x', b: 'nul\u0000' }, dataset: '\ud800' })?.field).toBe('labels/b');
    expect(bodyProblem([{ model: 'ok' }, { hosts: ['h', 'lone \udc00'] }])?.field).toBe('1/hosts/1');
    expect(bodyProblem({ labels: { 'k\u0000': 'v' } })?.field).toBe('labels/k\u0000');
    expect(bodyProblem('\u0000')).toEqual({ field: '(root)', message: 'body must not contain NUL characters or unpaired UTF-16 surrogates' });
    expect(bodyProblem({ emoji: '😀', text: 'é中' })).toBeUndefined();
  });
});

describe('headerText', () => {
  it('decodes header bytes (latin1 from Node) as UTF-8, and refuses bytes that are not UTF-8', () => {
    expect(headerText(Buffer.from('café', 'utf8').toString('latin1'))).toBe('café');
    expect(headerText(Buffer.from('gpu-节点-1', 'utf8').toString('latin1'))).toBe('gpu-节点-1');
    expect(headerText('plain-host')).toBe('plain-host');
    expect(headerText('caf\u00e9')).toBeUndefined(); // the single byte 0xE9: latin1 é, not UTF-8
    expect(headerText('\u00ff\u00fe')).toBeUndefined();
    expect(headerText('already ünïcode → text')).toBe('already ünïcode → text');
  });
});

describe('parseLabelFilter', () => {
  it('splits at the first = (keys have none), and refuses an empty or repeated key', () => {
    expect(parseLabelFilter(['team=a', 'expr=x=1,y=2'])).toEqual({ team: 'a', expr: 'x=1,y=2' });
    expect(parseLabelFilter('k=')).toEqual({ k: '' });
    expect(parseLabelFilter(undefined)).toEqual({});
    for (const bad of [['=v'], ['novalue'], ['a=1', 'a=2'], [`${'k'.repeat(129)}=v`]]) {
      const e = apiError(() => parseLabelFilter(bad));
      expect(e.statusCode).toBe(400);
      expect(e.details.field).toBe('label');
    }
  });
});
