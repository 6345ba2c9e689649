/**
 * The collector's own line-protocol serializer against the InfluxDB client's `Point`, the
 * reference it replaced on the hot path: the same text for every sample, hostile strings
 * included, so a point means the same whichever wrote it.
 */
import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import type { FieldValue, Sample } from '../../common/model.js';
import { toLine } from '../../common/storage/line-protocol.js';
import { prng } from '../helpers.js';

function viaPoint(sample: Sample): string | undefined {
  const point = new Point(sample.measurement);
  for (const [k, v] of Object.entries(sample.tags)) if (v !== '') point.tag(k, v);
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


const TAG_TEXT = ['host-1', 'a,b', 'a b', 'a=b', 'é€😀 中文', 'x"y', "it's", 'back\\slash', '', 'rapl/package-0', 'Z', 'a'];
const FIELD_TEXT = ['plain', 'with "quotes"', 'back\\slash\\', 'new\nline', 'tab\tin', '', 'é€😀'];
const KEYS = ['source', 'host', 'domain', 'in_total', 'a key', 'k,1', 'k=2', 'Zeta', 'alpha', '_x'];
const NUMBERS = [0, -0, 1, -1.5, 0.1 + 0.2, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity];

describe('line protocol', () => {
  it('writes the same text as the client’s Point for 5,000 generated samples, hostile keys and values included', () => {
    const rnd = prng(42); // seeded: a failure replays
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    let compared = 0;
    for (let i = 0; i < 5000; i++) {
      const tags: Record<string, string> = {};
      for (let n = Math.floor(rnd() * 5); n > 0; n--) tags[pick(KEYS)] = pick(TAG_TEXT);
      const fields: Record<string, FieldValue> = {};
      for (let n = Math.floor(rnd() * 5); n > 0; n--) {
        const kind = Math.floor(rnd() * 4);
        fields[pick(KEYS)] = kind === 0 ? pick(NUMBERS) : kind === 1 ? pick(FIELD_TEXT) : kind === 2 ? rnd() < 0.5 : { int: rnd() < 0.1 ? 2 ** 60 : Math.floor((rnd() - 0.5) * 1e12) };
      }
      const sample: Sample = { measurement: pick(['power', 'gpu', 'we ird,m']) as Sample['measurement'], tags, fields, timeMs: 1.7e12 + rnd() * 1e6 };
      expect(toLine(sample), JSON.stringify(sample)).toBe(viaPoint(sample));
      compared++;
    }
    expect(compared).toBe(5000);
  });

  it('writes a collector power point as InfluxDB documents it', () => {
    const line = toLine({
      measurement: 'power',
      tags: { source: 'rapl/package-0', host: 'lab node', platform: 'EPYC', domain: 'cpu', method: 'counter', in_total: 'true' },
      fields: { power_w: 63.25, energy_j: 63.25, interval_s: 1, count: { int: 10 }, ok: true, note: 'say "hi"' },
      timeMs: 1_700_000_000_123.4,
    });
    expect(line).toBe('power,domain=cpu,host=lab\\ node,in_total=true,method=counter,platform=EPYC,source=rapl/package-0 count=10i,energy_j=63.25,interval_s=1,note="say \\"hi\\"",ok=T,power_w=63.25 1700000000123');
  });

  it('writes a frozen tag set (kept as text after its first use) as an unfrozen one, under any measurement', () => {
    const tags = Object.freeze({ source: 'rapl/package-0', host: 'lab node', platform: 'a,b=c' });
    for (const measurement of ['power', 'power', 'gpu', 'power'] as const) {
      for (const t of [1, 2]) {
        const sample: Sample = { measurement, tags, fields: { power_w: t }, timeMs: t };
        expect(toLine(sample)).toBe(viaPoint(sample));
        expect(toLine(sample)).toBe(toLine({ ...sample, tags: { ...tags } }));
      }
    }
    const bad = Object.freeze({ host: 'ends\\' });
    for (let i = 0; i < 2; i++) expect(() => toLine({ measurement: 'power', tags: bad, fields: { v: 1 }, timeMs: 1 })).toThrow(/tag "host"/);
  });

  it('leaves out non-finite numbers and gives nothing for a sample left without fields', () => {
    expect(toLine({ measurement: 'power', tags: {}, fields: { a: NaN, b: 2 }, timeMs: 1 })).toBe('power b=2 1');
    expect(toLine({ measurement: 'power', tags: { host: 'h' }, fields: { a: Infinity }, timeMs: 1 })).toBeUndefined();
  });

  it('refuses a tag that line protocol cannot carry, every time it is given (not only the first)', () => {
    for (let i = 0; i < 3; i++) {
      expect(() => toLine({ measurement: 'cpu', tags: { host: 'ends\\' }, fields: { v: 1 }, timeMs: 1 })).toThrow(/tag "host"/);
      expect(() => toLine({ measurement: 'cpu', tags: { 'bad\nkey': 'v' }, fields: { v: 1 }, timeMs: 1 })).toThrow(/a tag must not contain control characters/);
    }
  });
});
