import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startInfluxd } from '../../common/influxd.js';
import type { Sample } from '../../common/model.js';
import {
  InfluxQL,
  InfluxStore,
  StorageError,
  anyOf,
  ident,
  iql,
  literalRegex,
  num,
  parseVersion,
  str,
  timeMs,
  toLine,
} from '../../common/storage/index.js';
import { testSettings, testStore, waitFor } from '../helpers.js';

/** Strings that try to break out of a quoted token, a regex or a statement. */
const HOSTILE = [
  "a'b",
  'a"b',
  'back\\slash',
  'trailing\\',
  '\\\'',
  "\\'; DROP DATABASE x; --",
  "'; DROP DATABASE x",
  '"; DROP DATABASE x',
  'new\nline',
  'tab\tin',
  '.*',
  '^$',
  '/x/',
  '\\/',
  'a|b',
  '(?i)A',
  '[a-z]+',
  'a,b=c d',
  'é€😀 中文',
  ' ',
  'SELECT * FROM run',
];

let store: InfluxStore;
beforeAll(async () => {
  store = await testStore('storage');
});

describe('version detection', () => {
  it('reads the version from /ping and picks the write endpoint from it', async () => {
    expect(store.version.raw).toMatch(/^1\.6\./);
    expect(store.version.legacyWrite).toBe(true);
    expect(parseVersion('1.8.10')).toMatchObject({ major: 1, minor: 8, legacyWrite: false });
    expect(parseVersion('v2.7.4')).toMatchObject({ major: 2, legacyWrite: false });
    expect(parseVersion('3.0.1')).toMatchObject({ major: 3, legacyWrite: false });
    expect(parseVersion('1.7.11')).toMatchObject({ legacyWrite: true });
  });

  it('creates the database on 1.x', async () => {
    const rows = await store.rows(iql`SHOW DATABASES`);
    expect(rows.map((r) => r.name)).toContain(store.db);
  });
});

describe('round trip', () => {
  it('stores every field type and reads it back typed', async () => {
    const t = Date.UTC(2026, 0, 1);
    await store.write([
      { measurement: 'run', tags: { run_id: 'r1' }, fields: { f: 1.5, i: { int: 42 }, s: 'text "quoted" \\ \n', b: true, neg: -0.25, big: 1e300 }, timeMs: t },
    ]);
    const [row] = await store.rows(iql`SELECT * FROM ${ident('run')} WHERE ${ident('run_id')} = ${str('r1')}`);
    expect(row).toEqual({ time: t, run_id: 'r1', f: 1.5, i: 42, s: 'text "quoted" \\ \n', b: true, neg: -0.25, big: 1e300 });
  });

  it('keeps tag values and measurement names with spaces, commas, quotes, backslashes and unicode', async () => {
    const names = ['with space', 'com,ma', 'eq=ual', "quo'te", 'dq"uote', 'back\\slash', 'ünïcödé ⚡'];
    const samples: Sample[] = names.map((n, i) => ({
      measurement: 'power',
      tags: { source: n, [`k ${n}`]: n },
      fields: { energy_j: i },
      timeMs: 1_000_000 + i,
    }));
    await store.write(samples);
    for (const [i, n] of names.entries()) {
      const rows = await store.rows(iql`SELECT ${ident('energy_j')}, ${ident(`k ${n}`)} FROM ${ident('power')} WHERE ${ident('source')} = ${str(n)}`);
      expect(rows).toEqual([{ time: 1_000_000 + i, energy_j: i, [`k ${n}`]: n }]);
    }
    // a measurement name that needs escaping
    const weird = 'we ird,"m\\x';
    const line = toLine({ measurement: weird as 'cpu', tags: {}, fields: { v: 1 }, timeMs: 5 });
    const writer = store.writer();
    writer.writeLines([line as string]);
    await writer.close();
    expect(await store.rows(iql`SELECT v FROM ${ident(weird)}`)).toEqual([{ time: 5, v: 1 }]);
  });

  it('refuses tag values that line protocol cannot carry, before they reach the server', () => {
    for (const bad of ['ends\\', 'new\nline', 'tab\t']) {
      expect(() => toLine({ measurement: 'cpu', tags: { host: bad }, fields: { v: 1 }, timeMs: 1 })).toThrow(/tag "host"/);
    }
  });

  it('writes 100,000 points in one flush', async () => {
    const s = await testStore('bulk');
    const writer = s.writer();
    const t0 = Date.UTC(2026, 1, 1);
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      lines.push(toLine({ measurement: 'power', tags: { source: `s${i % 16}` }, fields: { energy_j: 0.5, interval_s: 1 }, timeMs: t0 + Math.floor(i / 16) * 1000 }) as string);
    }
    writer.writeLines(lines);
    await writer.close();
    const [row] = await s.rows(iql`SELECT count(${ident('energy_j')}) AS n, sum(${ident('energy_j')}) AS e FROM ${ident('power')}`);
    expect(row?.n).toBe(100_000);
    expect(row?.e).toBe(50_000);
  });
});

describe('writes asked for at once (group commit)', () => {
  it('stores 200 concurrent writes in a few requests, each caller answered once its points are stored', async () => {
    const s = await testStore('group');
    const before = s.writeStats.requests;
    const t0 = Date.UTC(2026, 2, 1);
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.write([{ measurement: 'run', tags: { run_id: `r${i}` }, fields: { x: i }, timeMs: t0 + i }])));
    const requests = s.writeStats.requests - before;
    // the first goes alone at once, the others wait for it and go together: far fewer than 200
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(requests).toBeLessThanOrEqual(20);
    const [row] = await s.rows(iql`SELECT count(${ident('x')}) AS n, sum(${ident('x')}) AS total FROM ${ident('run')}`);
    expect(row?.n).toBe(200);
    expect(row?.total).toBe((199 * 200) / 2);
  });

  it('fails only the caller whose point the server refuses; the others in its group are stored', async () => {
    const s = await testStore('group-refused');
    const t0 = Date.UTC(2026, 2, 2);
    await s.write([{ measurement: 'run', tags: { run_id: 'first' }, fields: { x: 1 }, timeMs: t0 }]);
    // x is a float in this shard now: a string x is a field type conflict (400), refused by InfluxDB itself
    const results = await Promise.allSettled([
      s.write([{ measurement: 'run', tags: { run_id: 'a' }, fields: { x: 2 }, timeMs: t0 + 1 }]),
      s.write([{ measurement: 'run', tags: { run_id: 'b' }, fields: { x: 3 }, timeMs: t0 + 2 }]),
      s.write([{ measurement: 'run', tags: { run_id: 'bad' }, fields: { x: 'text' }, timeMs: t0 + 3 }]),
      s.write([{ measurement: 'run', tags: { run_id: 'c' }, fields: { x: 4 }, timeMs: t0 + 4 }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const refused = results[2];
    expect(refused?.status === 'rejected' && refused.reason instanceof StorageError ? refused.reason.message : '').toMatch(/field type conflict/);
    const rows = await s.rows(iql`SELECT ${ident('x')}, ${ident('run_id')} FROM ${ident('run')}`);
    expect(rows.map((r) => r.run_id).sort()).toEqual(['a', 'b', 'c', 'first']);
  });

  it('refuses a point that cannot be encoded for its caller alone, before anything is sent', async () => {
    const s = await testStore('group-encode');
    const t0 = Date.UTC(2026, 2, 3);
    const results = await Promise.allSettled([
      s.write([{ measurement: 'run', tags: { run_id: 'ok' }, fields: { x: 1 }, timeMs: t0 }]),
      s.write([{ measurement: 'run', tags: { run_id: 'ends\\' }, fields: { x: 2 }, timeMs: t0 + 1 }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const [row] = await s.rows(iql`SELECT count(${ident('x')}) AS n FROM ${ident('run')}`);
    expect(row?.n).toBe(1);
  });
});

describe('escaping', () => {
  it('lets no hostile string change the meaning of a query', async () => {
    const s = await testStore('hostile');
    const samples: Sample[] = HOSTILE.map((h, i) => ({
      measurement: 'run',
      // tags cannot carry control characters or a trailing backslash; string fields carry anything
      tags: { tag: /[\n\t]|\\$/.test(h) ? `plain${i}` : h },
      fields: { value: h, idx: { int: i } },
      timeMs: 10_000 + i,
    }));
    await s.write(samples);
    for (const [i, h] of HOSTILE.entries()) {
      const byField = await s.rows(iql`SELECT ${ident('idx')} FROM ${ident('run')} WHERE ${ident('value')} = ${str(h)}`);
      expect(byField.map((r) => r.idx), `field = ${JSON.stringify(h)}`).toEqual([i]);
      const byRegex = await s.rows(iql`SELECT ${ident('idx')} FROM ${ident('run')} WHERE ${ident('value')} =~ ${literalRegex(h)}`);
      expect(byRegex.map((r) => r.idx), `field =~ ${JSON.stringify(h)}`).toEqual([i]);
      const tag = samples[i]?.tags.tag as string;
      const byTag = await s.rows(iql`SELECT ${ident('idx')}, ${ident('value')} FROM ${ident('run')} WHERE ${ident('tag')} = ${str(tag)}`);
      expect(byTag, `tag = ${JSON.stringify(tag)}`).toEqual([{ time: 10_000 + i, idx: i, value: h }]);
      // as an identifier: a field key that does not exist selects nothing and breaks nothing
      const asIdent = await s.rows(iql`SELECT ${ident(h)} FROM ${ident('run')}`);
      expect(asIdent).toEqual([]);
    }
    const some = HOSTILE.slice(0, 5);
    const byAny = await s.rows(iql`SELECT ${ident('idx')} FROM ${ident('run')} WHERE ${ident('value')} =~ ${anyOf(some)}`);
    expect(byAny.map((r) => r.idx)).toEqual([0, 1, 2, 3, 4]);
    // the database and its data are all still there
    const dbs = await s.rows(iql`SHOW DATABASES`);
    expect(dbs.map((r) => r.name)).toContain(s.db);
    const [count] = await s.rows(iql`SELECT count(${ident('idx')}) AS n FROM ${ident('run')}`);
    expect(count?.n).toBe(HOSTILE.length);
  });

  it('accepts only fragments as values, and only finite numbers', () => {
    const raw = "x' OR '1'='1" as unknown as InfluxQL;
    expect(() => iql`SELECT * FROM a WHERE b = ${raw}`).toThrow(TypeError);
    expect(() => num(NaN)).toThrow(RangeError);
    expect(() => num(Infinity)).toThrow(RangeError);
    expect(num(3).text).toBe('3');
    expect(num(0.25).text).toBe('0.25');
    expect(timeMs(1700000000000.4).text).toBe('1700000000000ms');
    expect(() => str('carriage\rreturn')).toThrow(/carriage return/);
    expect(() => ident('nul\0')).toThrow(/NUL/);
  });
});

describe('errors that say what to do', () => {
  it('names the query and the server message on an InfluxQL syntax error', async () => {
    const err = await store.query(iql`SELEKT nothing`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('query');
    expect((err as StorageError).message).toMatch(/error parsing query/);
    expect((err as StorageError).message).toContain('SELEKT nothing');
  });

  it('says the database is missing', async () => {
    const settings = testSettings('missing');
    const s = await InfluxStore.open(settings, { createDatabase: false });
    const err = await s.query(iql`SELECT * FROM ${ident('cpu')}`).catch((e: unknown) => e);
    expect((err as StorageError).code).toBe('database_missing');
    expect((err as StorageError).message).toContain(settings.db);
  });

  it('says where it tried and what to start when nothing listens', async () => {
    const err = await InfluxStore.open({ url: 'http://127.0.0.1:9', org: '', db: 'x', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((err as StorageError).code).toBe('unreachable');
    expect((err as StorageError).message).toMatch(/http:\/\/127\.0\.0\.1:9.*is influxd running/);
  });
});

describe('credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says to set the token when InfluxDB refuses, and works with user:password on 1.x', async () => {
    const server = await startInfluxd({ bin: inject('influxdBin'), dir, auth: true });
    try {
      // 1.x with auth and no user yet accepts only the creation of an admin
      const created = await fetch(`${server.url}/query`, { method: 'POST', body: new URLSearchParams({ q: "CREATE USER admin WITH PASSWORD 's3cret-pw' WITH ALL PRIVILEGES" }) });
      expect(created.status).toBe(200);
      const err = await InfluxStore.open({ url: server.url, org: '', db: 'authdb', timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).code).toBe('unauthorized');
      expect((err as StorageError).message).toMatch(/set WATTSCOPE_INFLUX_TOKEN/);
      const wrong = await InfluxStore.open({ url: server.url, org: '', db: 'authdb', timeoutMs: 5000, token: 'admin:nope' }).catch((e: unknown) => e);
      expect((wrong as StorageError).code).toBe('unauthorized');
      expect((wrong as StorageError).message).not.toContain('nope');
      const s = await InfluxStore.open({ url: server.url, org: '', db: 'authdb', timeoutMs: 5000, token: 'admin:s3cret-pw' });
      await s.write([{ measurement: 'power', tags: { source: 'x' }, fields: { energy_j: 7 }, timeMs: 1000 }]);
      expect(await s.rows(iql`SELECT ${ident('energy_j')} FROM ${ident('power')}`)).toEqual([{ time: 1000, energy_j: 7 }]);
    } finally {
      await server.stop();
    }
  });
});

describe('server stopped mid-write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-outage-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a clear error, then writes the batch once the server is back', async () => {
    const bin = inject('influxdBin');
    let server = await startInfluxd({ bin, dir });
    const port = server.port;
    const s = await InfluxStore.open({ url: server.url, org: '', db: 'outage', timeoutMs: 3000 });
    const writer = s.writer({ maxRetries: 20, minRetryDelayMs: 200, maxRetryDelayMs: 1000, maxRetryTimeMs: 120_000 });
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => toLine({ measurement: 'power', tags: { source: 'x' }, fields: { energy_j: 1 }, timeMs: from + i }) as string);
    writer.writeLines(batch(0, 500));
    await writer.flush();
    await server.stop();
    writer.writeLines(batch(500, 500));
    const err = await writer.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('unreachable');
    expect((err as StorageError).message).toContain(`127.0.0.1:${port}`);
    server = await startInfluxd({ bin, dir, port });
    try {
      const n = await waitFor(
        async () => {
          const [row] = await s.rows(iql`SELECT count(${ident('energy_j')}) AS n FROM ${ident('power')}`);
          return row?.n === 1000 ? row.n : undefined;
        },
        30_000,
        'the retried batch',
      );
      expect(n).toBe(1000);
      await writer.close();
    } finally {
      await server.stop();
    }
  });
});
