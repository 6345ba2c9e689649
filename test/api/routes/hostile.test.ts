/**
 * Hostile input, one case at a time: each gets the exact 4xx with the `field` at fault, nothing
 * of it is stored, run ids stay unique, and no reply carries InfluxQL or line protocol. The
 * fuzz test drives the same cases among random ones; this file says what each must answer.
 */
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../../api/app.js';
import { errorHandler } from '../../../api/http.js';
import { INFLUX_MAX_MS, INFLUX_MIN_MS } from '../../../api/validate.js';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { loadConfig } from '../../../common/config.js';
import { startInfluxd } from '../../../common/influxd.js';
import { setLogSink } from '../../../common/log.js';
import { StorageError } from '../../../common/storage/errors.js';
import { ident, iql } from '../../../common/storage/influxql.js';
import { InfluxStore } from '../../../common/storage/store.js';
import { apiHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('hostile');
});
afterAll(async () => h.close());

const send = (options: InjectOptions | string) => h.app.fastify.inject(options);
const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => send({ method: 'POST', url, payload: payload as object, headers });

/** Every run in the database, whatever its time: what "nothing stored" is checked against. */
async function stored(): Promise<Array<{ run_id: string; model: string }>> {
  const rows = await h.store.rows(iql`SELECT ${ident('kind')}, ${ident('run_id')}, ${ident('model')} FROM ${ident('run')}`);
  return rows.map((r) => ({ run_id: String(r.run_id), model: String(r.model) }));
}

const LEAKS = [/SELECT/i, /FROM "run"/, /run,run_id=/, /run,model=/, /InfluxQL/, /unable to parse/, /line protocol/i, /127\.0\.0\.1:\d+/];

/** The reply is `status` naming `field` (in `field` and in the message), with no internal text. */
function expectRefused(res: LightMyRequestResponse, status: number, field: string): { message: string } {
  expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
  const body = res.json<{ field?: string; message: string }>();
  expect(body.field, body.message).toBe(field);
  expect(body.message).toContain(field === '(root)' ? 'body' : field);
  for (const leak of LEAKS) expect(res.body).not.toMatch(leak);
  return body;
}

async function unchanged<T>(fn: () => Promise<T>): Promise<T> {
  const before = await stored();
  const out = await fn();
  expect(await stored()).toEqual(before);
  return out;
}

const importItem = (extra: Record<string, unknown> = {}) => ({ model: 'imp', platform: 'A100', inferences: 100, energy_j: 50, accuracy: 0.7, ...extra });

describe('deeply nested JSON', () => {
  it('is a 400 naming the body on every write route, not a stack overflow', async () => {
    const arrays = '['.repeat(400_000) + ']'.repeat(400_000);
    const objects = '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_000);
    expect(arrays.length).toBeLessThan(1024 * 1024);
    const id = (await post('/api/runs', { model: 'nest' })).json<{ run_id: string }>().run_id;
    await unchanged(async () => {
      for (const [method, url] of [['POST', '/api/runs'], ['POST', '/api/runs/import'], ['PATCH', `/api/runs/${id}`], ['POST', `/api/runs/${id}/stop`], ['POST', '/api/baselines']] as const) {
        for (const payload of [arrays, objects]) {
          const res = await send({ method, url, payload, headers: { 'content-type': 'application/json' } });
          expect(expectRefused(res, 400, '(root)').message).toBe('body is nested more than 32 levels deep');
        }
      }
    });
    expect((await send('/healthz')).statusCode).toBe(200);
  });
});

describe('times outside what InfluxDB stores', () => {
  it('are a 400 naming the parameter on the list and on compare', async () => {
    for (const [url, field] of [
      ['/api/runs?from=99999999999999999999', 'from'],
      ['/api/runs?to=99999999999999999999', 'to'],
      ['/api/runs?from=1500-01-01T00:00:00Z', 'from'],
      ['/api/runs?format=csv&to=2262-04-11T23:47:16.855Z', 'to'],
      ['/api/compare?from=99999999999999999999', 'from'],
      ['/api/compare?to=9999-12-31T00:00:00Z', 'to'],
    ] as const) {
      expect(expectRefused(await send(url), 400, field).message).toMatch(/between 1677-09-21T00:12:43.146Z and 2262-04-11T23:47:16.854Z/);
    }
  });

  it('are a 400 naming started_at on import, and nothing of the batch is stored', async () => {
    await unchanged(async () => {
      expectRefused(await post('/api/runs/import', importItem({ started_at: '9999-12-31T00:00:00Z' })), 400, 'started_at');
      expectRefused(await post('/api/runs/import', [importItem({ run_id: 'time-ok' }), importItem({ started_at: '1600-01-01T00:00:00Z' })]), 400, '1/started_at');
    });
  });

  it('stores and finds runs at both ends of the range, and InfluxDB itself refuses one millisecond past', async () => {
    const res = await post('/api/runs/import', [
      importItem({ run_id: 'time-first', started_at: new Date(INFLUX_MIN_MS).toISOString() }),
      importItem({ run_id: 'time-last', started_at: new Date(INFLUX_MAX_MS).toISOString() }),
      importItem({ run_id: 'time-1900', started_at: '1900-01-01T00:00:00Z' }),
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const listed = (url: string) => send(url).then((r) => r.json<{ runs: RunSummary[] }>().runs.map((x) => x.run_id));
    expect(await listed(`/api/runs?from=${new Date(INFLUX_MIN_MS).toISOString()}&to=${new Date(INFLUX_MAX_MS).toISOString()}&model=imp&limit=1000`)).toEqual(
      expect.arrayContaining(['time-first', 'time-last', 'time-1900']),
    );
    // no `from`: runs before 1970 are listed too
    expect(await listed('/api/runs?model=imp&limit=1000')).toEqual(expect.arrayContaining(['time-first', 'time-1900']));
    await expect(h.store.write([{ measurement: 'power', tags: { source: 'bounds' }, fields: { energy_j: 1 }, timeMs: INFLUX_MAX_MS + 1 }])).rejects.toBeInstanceOf(StorageError);
    await expect(h.store.write([{ measurement: 'power', tags: { source: 'bounds' }, fields: { energy_j: 1 }, timeMs: INFLUX_MIN_MS - 1 }])).rejects.toBeInstanceOf(StorageError);
  });
});

describe('numbers an import derives', () => {
  it('must all be finite before anything is stored; the input at fault is named', async () => {
    await unchanged(async () => {
      expect(expectRefused(await post('/api/runs/import', importItem({ duration_s: 1e-300 })), 400, 'duration_s').message).toMatch(/at least 0.001/);
      expectRefused(await post('/api/runs/import', importItem({ energy_j: 1e12, duration_s: 1e-300 })), 400, 'duration_s');
      expectRefused(await post('/api/runs/import', [importItem({ run_id: 'num-ok' }), importItem({ duration_s: 1e-5 })]), 400, '1/duration_s');
      expect(expectRefused(await post('/api/runs/import', importItem({ energy_j: 1e-320 })), 400, 'energy_j').message).toMatch(/not a finite number/);
      expectRefused(await post('/api/runs/import', importItem({ energy_j: undefined, energy_per_inference_uwh: 1e-320 })), 400, 'energy_per_inference_uwh');
      expectRefused(await post('/api/runs/import', importItem({ params_m: 5e-324 })), 400, 'params_m');
      expectRefused(await post('/api/runs/import', importItem({ params_m: 5e-324, macs_g: 5e-324 })), 400, 'params_m');
      expectRefused(await post('/api/runs/import', [importItem({ energy_j: undefined })]), 400, '0/energy_j');
    });
    const ok = await post('/api/runs/import', importItem({ duration_s: 0.001, run_id: 'num-ms' }));
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json<{ runs: RunSummary[] }>().runs[0]?.avg_power_w).toBeCloseTo(50_000, 6);
  });
});

describe('run ids', () => {
  it('an existing run_id is a 409 and a repeated one in a batch a 400; nothing of the batch is stored', async () => {
    expect((await post('/api/runs/import', importItem({ run_id: 'id-1' }))).statusCode).toBe(201);
    await post('/api/runs', { model: 'live-model', run_id: 'id-live' });
    await unchanged(async () => {
      const again = expectRefused(await post('/api/runs/import', importItem({ run_id: 'id-1' })), 409, 'run_id');
      expect(again.message).toContain('"id-1"');
      expectRefused(await post('/api/runs/import', importItem({ run_id: 'id-1', model: 'another' })), 409, 'run_id');
      expectRefused(await post('/api/runs/import', importItem({ run_id: 'id-live' })), 409, 'run_id');
      const batch = await post('/api/runs/import', [importItem({ run_id: 'id-fresh' }), importItem({ run_id: 'id-1' })]);
      expectRefused(batch, 409, '1/run_id');
      expect(batch.json<{ run: RunSummary }>().run).toMatchObject({ run_id: 'id-1', model: 'imp' });
      const twice = expectRefused(await post('/api/runs/import', [importItem({ run_id: 'id-2' }), importItem(), importItem({ run_id: 'id-2' })]), 400, '2/run_id');
      expect(twice.message).toContain('0/run_id');
    });
    expect((await stored()).filter((r) => r.run_id === 'id-1')).toHaveLength(1);
  });

  it('two imports racing for one run_id: one is stored, the other gets 409', async () => {
    const [a, b] = await Promise.all([post('/api/runs/import', importItem({ run_id: 'id-race', model: 'a' })), post('/api/runs/import', importItem({ run_id: 'id-race', model: 'b' }))]);
    expect([a?.statusCode, b?.statusCode].sort()).toEqual([201, 409]);
    expect((await stored()).filter((r) => r.run_id === 'id-race')).toHaveLength(1);
  });
});

/** A POST over a raw socket, with header values given as the exact bytes to send. */
function overTheWire(base: string, path: string, headers: Array<[string, Buffer]>, body: unknown): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  const data = Buffer.from(JSON.stringify(body));
  const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, 'content-type: application/json', `content-length: ${data.length}`, 'connection: close'].join('\r\n');
  const request = Buffer.concat([Buffer.from(head), ...headers.flatMap(([name, value]) => [Buffer.from(`\r\n${name}: `), value]), Buffer.from('\r\n\r\n'), data]);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('the caller’s host header', () => {
  it('follows the Host rules: a comma or 8,000 characters is a 400 naming the header', async () => {
    await unchanged(async () => {
      expect(expectRefused(await post('/api/runs', { model: 'hdr' }, { 'x-wattscope-host': 'a,b' }), 400, 'x-wattscope-host').message).toMatch(/without commas/);
      expectRefused(await post('/api/runs', { model: 'hdr' }, { 'x-wattscope-host': 'h'.repeat(8000) }), 400, 'x-wattscope-host');
      expectRefused(await post('/api/runs', { model: 'hdr' }, { 'x-wattscope-host': 'ends\\' }), 400, 'x-wattscope-host');
    });
  });

  it('is read as UTF-8 off the wire; bytes that are not UTF-8 are a 400', async () => {
    const base = await h.app.fastify.listen({ port: 0, host: '127.0.0.1' });
    const host = (bytes: Buffer): Array<[string, Buffer]> => [['x-wattscope-host', bytes]];
    const ok = await overTheWire(base, '/api/runs', host(Buffer.from('café-节点', 'utf8')), { model: 'hdr' });
    expect(ok.status, ok.body).toBe(201);
    const id = (JSON.parse(ok.body) as { run_id: string }).run_id;
    expect((await send(`/api/runs/${id}`)).json<RunSummary>().hosts).toEqual(['café-节点']);
    await unchanged(async () => {
      // é as the one latin1 byte 0xE9, and a truncated two-byte sequence: not UTF-8
      for (const bytes of [Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from([0xc3, 0x28])]) {
        const bad = await overTheWire(base, '/api/runs', host(bytes), { model: 'hdr' });
        expect(bad.status, bad.body).toBe(400);
        expect(JSON.parse(bad.body)).toMatchObject({ field: 'x-wattscope-host', message: 'headers/x-wattscope-host must be UTF-8 text' });
      }
      // the header twice: Node joins the two with a comma, which the Host rules refuse
      const two = await overTheWire(base, '/api/runs', [...host(Buffer.from('a')), ...host(Buffer.from('b'))], { model: 'hdr' });
      expect(two.status, two.body).toBe(400);
      expect(JSON.parse(two.body)).toMatchObject({ field: 'x-wattscope-host' });
    });
  });
});

describe('label keys', () => {
  it('with "=" are a 400 naming labels wherever labels are set, and the run is left as it was', async () => {
    const id = (await post('/api/runs', { model: 'lbl', labels: { team: 'a' } })).json<{ run_id: string }>().run_id;
    await unchanged(async () => {
      const labels = { 'k=v': 'x' };
      expect(expectRefused(await post('/api/runs', { model: 'lbl', labels }), 400, 'labels').message).toBe('body/labels has a key "k=v" that must not contain "=" (a label filter is key=value)');
      expectRefused(await send({ method: 'PATCH', url: `/api/runs/${id}`, payload: { labels } }), 400, 'labels');
      expectRefused(await post(`/api/runs/${id}/stop`, { labels }), 400, 'labels');
      expectRefused(await post('/api/runs/import', importItem({ labels })), 400, 'labels');
      expectRefused(await post('/api/runs/import', [importItem({ labels })]), 400, '0/labels');
    });
    expect((await send(`/api/runs/${id}`)).json<RunSummary>()).toMatchObject({ status: 'running', labels: { team: 'a' } });
  });

  it('filter unambiguously: the first "=" ends the key, a value may hold more; a key given twice is a 400', async () => {
    const id = (await post('/api/runs', { model: 'lbl-filter', labels: { expr: 'lr=0.1', team: 'a' } })).json<{ run_id: string }>().run_id;
    const ids = (q: string) => send(`/api/runs?model=lbl-filter&${q}`).then((r) => r.json<{ runs: RunSummary[] }>().runs.map((x) => x.run_id));
    expect(await ids(`label=${encodeURIComponent('expr=lr=0.1')}`)).toEqual([id]);
    expect(await ids(`label=${encodeURIComponent('expr=lr')}`)).toEqual([]);
    expect(await ids(`label=${encodeURIComponent('expr=lr=0.1')}&label=team%3Da`)).toEqual([id]);
    expectRefused(await send(`/api/runs?label=team%3Da&label=team%3Db`), 400, 'label');
  });
});

describe('storage errors', () => {
  it('never put the query or line protocol in a reply: logged for the operator, a 400 for the client', async () => {
    const queryError = await h.store.query(iql`SELECT FROM WHERE`).catch((e: unknown) => e);
    const writeError = await h.store.write([{ measurement: 'run', tags: { run_id: 'leak' }, fields: { status: 'x' }, timeMs: INFLUX_MAX_MS + 1 }]).catch((e: unknown) => e);
    expect(queryError).toBeInstanceOf(StorageError);
    expect(writeError).toBeInstanceOf(StorageError);
    expect(String((queryError as Error).message)).toContain('SELECT FROM WHERE');
    expect(String((writeError as Error).message)).toContain('run,run_id=leak');
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    app.get('/query', async () => {
      throw queryError;
    });
    app.get('/write', async () => {
      throw writeError;
    });
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    try {
      for (const url of ['/query', '/write']) {
        const res = await app.inject(url);
        expect(res.statusCode).toBe(400);
        expect(res.json<{ message: string }>().message).toMatch(/InfluxDB refused the values of this request/);
        for (const leak of LEAKS) expect(res.body).not.toMatch(leak);
      }
    } finally {
      setLogSink((line) => process.stderr.write(line + '\n'));
      await app.close();
    }
    expect(lines.join('\n')).toContain('SELECT FROM WHERE');
    expect(lines.join('\n')).toContain('run,run_id=leak');
  });

  it('a 503 only when InfluxDB is unavailable, saying so without its address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-down-'));
    const server = await startInfluxd({ bin: inject('influxdBin'), dir });
    const lines: string[] = [];
    try {
      const store = await InfluxStore.open({ url: server.url, org: '', db: 'down', timeoutMs: 3000 });
      const config = loadConfig({ HOME: '/nonexistent', WATTSCOPE_HOST: 'h1', WATTSCOPE_API_RATE_LIMIT: '1000000' });
      const app = await buildApp({ config, store, stopWaitMs: 0 });
      try {
        expect((await app.fastify.inject('/api/runs')).statusCode).toBe(200);
        await server.stop();
        setLogSink((line) => lines.push(line));
        for (const options of ['/api/runs', '/api/compare', { method: 'POST' as const, url: '/api/runs', payload: { model: 'm' } }]) {
          const res = await app.fastify.inject(options);
          expect(res.statusCode).toBe(503);
          expect(res.headers['retry-after']).toBe('5');
          expect(res.json<{ message: string }>().message).toMatch(/^InfluxDB is unavailable .*try again/);
          for (const leak of LEAKS) expect(res.body).not.toMatch(leak);
        }
      } finally {
        setLogSink((line) => process.stderr.write(line + '\n'));
        await app.fastify.close();
      }
      expect(lines.join('\n')).toContain(`127.0.0.1:${server.port}`);
    } finally {
      await server.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
