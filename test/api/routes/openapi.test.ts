/**
 * The OpenAPI document the API serves at /docs/json: valid by two independent validators
 * (swagger-parser here, openapi-spec-validator in Python), complete (every route has a reply
 * schema, in its media type), truthful about the bearer token and the optional stop body, and
 * honest: every real reply, before fastify serialises it, matches its documented schema with no
 * field the schema lacks (fastify's serialiser would drop such a field without a word).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import { openapiPath } from '../../../api/openapi.js';
import { EXAMPLES } from '../../../api/schemas/examples.js';
import { runProcess } from '../../helpers.js';
import { apiHarness, powerPoints, workloadPoints, type Harness } from '../harness.js';
import { hostRecordSample } from '../../../common/host-record.js';

type Doc = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function operations(doc: Doc): Array<{ path: string; method: string; op: Operation }> {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) => METHODS.flatMap((m) => (item?.[m] ? [{ path, method: m, op: item[m] as Operation }] : [])));
}

async function served(h: Harness): Promise<Doc> {
  const res = await h.app.fastify.inject('/docs/json');
  expect(res.statusCode).toBe(200);
  return res.json<Doc>();
}

/** Every object schema that lists its properties admits no others (what "no field dropped" needs). */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([name, s]) => [name, closed(s)])) : closed(v);
  }
  if ('properties' in out && !('additionalProperties' in out) && !('patternProperties' in out)) out.additionalProperties = false;
  return out;
}

/**
 * openapi-spec-validator (Python) in a venv of its own. The venv sees the machine's Python
 * packages, so where the validator is installed already pip finds it there and needs no
 * network; elsewhere pip fetches it.
 */
async function specValidator(dir: string): Promise<(file: string) => Promise<{ ok: boolean; output: string }>> {
  const venv = join(dir, 'venv');
  const made = await runProcess('python3', ['-m', 'venv', '--system-site-packages', venv], { timeoutMs: 120_000 });
  if (made.status !== 0) throw new Error(`python3 -m venv failed (apt-get install python3-venv?):\n${made.stderr}`);
  const python = join(venv, 'bin', 'python');
  const pip = await runProcess(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--retries', '1', '--timeout', '20', 'openapi-spec-validator>=0.7'], { timeoutMs: 240_000 });
  if (pip.status !== 0) throw new Error(`cannot install openapi-spec-validator (pip install openapi-spec-validator):\n${pip.stdout}${pip.stderr}`);
  return async (file) => {
    const r = await runProcess(python, ['-m', 'openapi_spec_validator', file], { timeoutMs: 120_000 });
    return { ok: r.status === 0, output: r.stdout + r.stderr };
  };
}

let h: Harness;
/** What each handler returned, before serialisation, for the latest request. */
let sent: Array<{ route: string; method: string; status: number; payload: unknown }> = [];

beforeAll(async () => {
  h = await apiHarness('openapi', {}, (app) => {
    app.fastify.addHook('preSerialization', async (request, reply, payload) => {
      sent.push({ route: request.routeOptions.url ?? '', method: request.method, status: reply.statusCode, payload });
      return payload;
    });
  });
});
afterAll(async () => h.close());

describe('the served document', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-openapi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is valid OpenAPI 3.1.0 for swagger-parser and openapi-spec-validator, which refuse it served as 3.0.3', async () => {
    const doc = await served(h);
    expect(doc.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    // the same schemas under 3.0.3's dialect (the old document): both validators must refuse them
    const as303 = { ...structuredClone(doc), openapi: '3.0.3' };
    await expect(SwaggerParser.validate(structuredClone(as303) as never)).rejects.toThrow();

    const validate = await specValidator(dir);
    writeFileSync(join(dir, 'served.json'), JSON.stringify(doc));
    writeFileSync(join(dir, 'as303.json'), JSON.stringify(as303));
    const good = await validate(join(dir, 'served.json'));
    expect(good.output).toContain('OK');
    expect(good.ok, good.output).toBe(true);
    const bad = await validate(join(dir, 'as303.json'));
    expect(bad.ok, bad.output).toBe(false);
  }, 300_000);

  it('gives every /api route a reply schema, CSV and the event stream in their own media types', async () => {
    const doc = await served(h);
    const ops = operations(doc).filter((o) => o.path.startsWith('/api/'));
    expect(ops.length).toBeGreaterThanOrEqual(12);
    for (const { path, method, op } of ops) {
      const ok = Object.entries(op.responses ?? {}).filter(([status]) => status.startsWith('2'));
      expect(ok.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const [status, response] of ok) {
        const content = (response as OpenAPIV3_1.ResponseObject).content ?? {};
        expect(Object.keys(content).length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        for (const media of Object.values(content)) expect(media.schema, `${method} ${path} ${status}`).toBeDefined();
      }
      for (const status of ['400', '503']) expect(op.responses?.[status], `${method} ${path} ${status}`).toBeDefined();
    }
    const list = doc.paths?.['/api/runs']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject;
    expect(Object.keys(list.content ?? {}).sort()).toEqual(['application/json', 'text/csv']);
    const tables = doc.paths?.['/api/compare']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject;
    expect(Object.keys(tables.content ?? {}).sort()).toEqual(['application/json', 'text/csv', 'text/markdown', 'text/x-tex']);
    expect(list.content?.['text/csv']?.schema).toMatchObject({ type: 'string' });
    const stream = doc.paths?.['/api/live/stream']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject;
    expect(Object.keys(stream.content ?? {})).toEqual(['text/event-stream']);
    expect(doc.components?.schemas?.LivePoint).toBeDefined();
    // the caller's host header is a documented parameter with the Host rules
    const start = doc.paths?.['/api/runs']?.post as Operation;
    expect(start.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'x-wattscope-host', schema: expect.objectContaining({ maxLength: 253 }) }));
  });

  it('says stop’s body may be left out, and it may: a bare POST, an empty JSON body, or {} stop the run', async () => {
    const doc = await served(h);
    expect(doc.paths?.['/api/runs/{id}/stop']?.post?.requestBody).toMatchObject({ required: false });
    expect(doc.paths?.['/api/runs']?.post?.requestBody).toMatchObject({ required: true });
    const stops: InjectOptions[] = [
      { method: 'POST' },
      { method: 'POST', payload: '', headers: { 'content-type': 'application/json' } },
      { method: 'POST', payload: {} },
    ];
    for (const stop of stops) {
      const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'stop-body', hosts: ['nowhere'] } })).json<{ run_id: string }>().run_id;
      const res = await h.app.fastify.inject({ ...stop, url: `/api/runs/${id}/stop` });
      expect(res.statusCode, JSON.stringify(stop)).toBe(200);
      expect(res.json<{ status: string }>().status).toBe('completed');
    }
    // a body that is there must still be an object, and a route that needs one says so
    const id = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'stop-body' } })).json<{ run_id: string }>().run_id;
    const nullBody = await h.app.fastify.inject({ method: 'POST', url: `/api/runs/${id}/stop`, payload: 'null', headers: { 'content-type': 'application/json' } });
    expect(nullBody.statusCode).toBe(400);
    expect(nullBody.json()).toMatchObject({ field: '(root)', message: 'body must be object' });
    const emptyStart = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: '', headers: { 'content-type': 'application/json' } });
    expect(emptyStart.statusCode).toBe(400);
    expect(emptyStart.json()).toMatchObject({ field: '(root)', message: 'body must be object' });
  });

  it('declares the security of every operation: none without a token (and no scheme), the bearer scheme on exactly the routes that need it', async () => {
    const open = await served(h);
    expect(operations(open).length).toBeGreaterThanOrEqual(15);
    for (const { path, method, op } of operations(open)) expect(op.security, `${method} ${path}`).toEqual([]);
    expect(open.components?.securitySchemes).toBeUndefined();

    for (const protectReads of [false, true]) {
      const secured = await apiHarness('openapi-auth', { WATTSCOPE_API_TOKEN: 'tok-abcdef-123', WATTSCOPE_API_PROTECT_READS: String(protectReads) });
      try {
        const doc = await served(secured);
        for (const { path, method, op } of operations(doc)) {
          const needs = path.startsWith('/api/') && (method !== 'get' || protectReads);
          expect(op.security, `${method} ${path} (protect reads: ${protectReads})`).toEqual(needs ? [{ bearer: [] }] : []);
          if (!path.startsWith('/api/') || path.includes('stream')) continue;
          // what the document says is what the API does: without the token, 401
          const res = await secured.app.fastify.inject({ method: method.toUpperCase() as 'GET', url: path.replace('{id}', 'some-run'), payload: method === 'get' ? undefined : {} });
          expect(res.statusCode === 401, `${method} ${path} → ${res.statusCode}`).toBe(needs);
        }
        expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
        expect(JSON.stringify(doc)).not.toContain('tok-abcdef-123');
      } finally {
        await secured.close();
      }
    }
  });
});

describe('what a reader and a client generator need', () => {
  it('names every operation (unique, URL-safe), and gives the licence of package.json, a server and described tags', async () => {
    const doc = await served(h);
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), ids.join(', ')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { license: string; version: string };
    expect(pkg.license).toBe('Apache-2.0');
    expect(doc.info.license).toEqual({ name: pkg.license, identifier: pkg.license });
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const tags = new Set(operations(doc).flatMap((o) => o.op.tags ?? []));
    expect(new Set((doc.tags ?? []).map((t) => t.name))).toEqual(tags);
    for (const t of doc.tags ?? []) expect(t.description, t.name).toBeTruthy();
  });

  it('gives every operation an example of its reply (and of its body), each valid for its schema with no field the schema lacks, and each body accepted by the API', async () => {
    const doc = (await SwaggerParser.dereference(structuredClone(await served(h)) as never)) as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const ids = operations(doc).map((o) => o.op.operationId as string);
    // one example per operation, none for an operation that is not there
    expect(Object.keys(EXAMPLES).sort()).toEqual([...ids].sort());
    for (const { path, method, op } of operations(doc)) {
      const what = `${method} ${path} (${op.operationId})`;
      const medias = Object.entries(op.responses ?? {})
        .filter(([status]) => status.startsWith('2'))
        .flatMap(([, r]) => Object.entries((r as OpenAPIV3_1.ResponseObject).content ?? {}));
      expect(medias.length, what).toBeGreaterThan(0);
      for (const [type, media] of medias) {
        expect(media.example, `${what} ${type}: an example`).toBeDefined();
        const validate = ajv.compile(closed(media.schema) as object);
        expect(validate(media.example), `${what} ${type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
      const body = (op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined)?.content?.['application/json'];
      if (!body) continue;
      expect(body.example, `${what}: an example body`).toBeDefined();
      const validate = ajv.compile(closed(body.schema) as object);
      expect(validate(body.example), `${what} body: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    // the example bodies as requests: the API's own checks accept each (a 4xx other than 400 is about the state: no such run, no power data)
    const started = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: EXAMPLES.startRun?.body as object });
    expect(started.statusCode, started.body).toBe(201);
    const id = started.json<{ run_id: string }>().run_id;
    for (const [url, method, op] of [[`/api/runs/${id}/stop`, 'POST', 'stopRun'], [`/api/runs/${id}`, 'PATCH', 'patchRun'], ['/api/runs/import', 'POST', 'importRuns'], ['/api/baselines', 'POST', 'measureBaseline']] as const) {
      const res = await h.app.fastify.inject({ method, url, payload: EXAMPLES[op]?.body as object });
      expect(res.statusCode, `${op}: ${res.body.slice(0, 300)}`).not.toBe(400);
      expect(res.statusCode, `${op}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
    }
    // and the check bites: a field the schema lacks fails it
    const summary = doc.paths?.['/api/runs/{id}']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject;
    const media = summary.content?.['application/json'] as OpenAPIV3_1.MediaTypeObject;
    expect(ajv.compile(closed(media.schema) as object)({ ...(media.example as object), surprise: 1 })).toBe(false);
  });
});

describe('reply schemas are honest', () => {
  it('every route’s real replies match the documented schema, before serialisation and after, with no field dropped', async () => {
    const doc = (await SwaggerParser.dereference(structuredClone(await served(h)) as never)) as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validators = new Map<string, ReturnType<typeof ajv.compile>>();
    const schemaFor = (route: string, method: string, status: number, media: string) => {
      const key = `${method} ${route} ${status} ${media}`;
      let v = validators.get(key);
      if (!v) {
        const response = doc.paths?.[openapiPath(route)]?.[method.toLowerCase() as 'get']?.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined;
        const schema = response?.content?.[media]?.schema;
        expect(schema, `no documented schema for ${key}`).toBeDefined();
        v = ajv.compile(closed(schema) as object);
        validators.set(key, v);
      }
      return v;
    };
    const covered = new Set<string>();
    const check = async (options: InjectOptions | string, expectStatus: number): Promise<LightMyRequestResponse> => {
      sent = [];
      const res = await h.app.fastify.inject(options);
      expect(res.statusCode, res.body.slice(0, 300)).toBe(expectStatus);
      const media = String(res.headers['content-type']).split(';')[0] as string;
      const last = sent.at(-1);
      if (media.startsWith('text/')) {
        // a text reply is sent as it is, without serialisation (no hook sees it): its route is its path
        const route = (typeof options === 'string' ? options : (options.url as string)).split('?')[0] as string;
        expect(schemaFor(route, 'GET', res.statusCode, media)(res.body), `${media} is a string`).toBe(true);
        covered.add(`GET ${route} ${res.statusCode} ${media}`);
        return res;
      }
      expect(media).toBe('application/json');
      expect(last, 'the handler’s reply was seen before serialisation').toBeDefined();
      const { route, method, status, payload } = last as NonNullable<typeof last>;
      const validate = schemaFor(route, method, status, media);
      // what the handler gave: nothing outside the schema (it would be dropped), nothing missing
      const given = JSON.parse(JSON.stringify(payload)) as unknown;
      expect(validate(given), `${method} ${route} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      // what went over the wire: the same thing
      expect(res.json()).toEqual(given);
      covered.add(`${method} ${route} ${status} ${media}`);
      return res;
    };

    const base = h.clock.now;
    await h.store.write(powerPoints('oa-host', 'nvml/0', base - 600_000, 600, () => 80));
    await h.store.write(powerPoints('oa-host', 'nvml/0', Math.floor(Date.now() / 1000) * 1000 - 120_000, 120, () => 90));
    h.clock.now = base - 300_000;
    await check({ method: 'POST', url: '/api/baselines', payload: { host: 'oa-host', seconds: 60 } }, 201);
    h.clock.now = base - 100_000;
    const id = (await check({ method: 'POST', url: '/api/runs', payload: { model: 'oa', hosts: ['oa-host'], labels: { team: 'a' }, params_m: 25.6, macs_g: 4.1, series_id: 'oa-series' } }, 201)).json<{ run_id: string }>().run_id;
    await check({ method: 'POST', url: '/api/runs', payload: { model: 'oa', run_id: id } }, 200);
    h.clock.now = base - 50_000;
    await check({ method: 'POST', url: `/api/runs/${id}/heartbeat` }, 200);
    await check(`/api/runs/${id}`, 200);
    await check(`/api/runs/${id}/power`, 200);
    h.clock.now = base;
    await check({ method: 'POST', url: `/api/runs/${id}/stop`, payload: { inferences: 1000, correct: 760 } }, 200);
    await check({ method: 'PATCH', url: `/api/runs/${id}`, payload: { labels: { eval: 'done' } } }, 200);
    await check({ method: 'POST', url: '/api/runs/import', payload: [{ model: 'oa', platform: 'A100', inferences: 100, energy_j: 36, accuracy: 0.7, params_m: 3.5, macs_g: 0.3, duration_s: 10, run_id: 'oa-imp' }, { model: 'oa', platform: 'V100', inferences: 100, energy_per_inference_uwh: 200, accuracy: 0.7 }] }, 201);
    await check('/api/runs?limit=50', 200);
    await check({ url: '/api/runs?limit=50', headers: { accept: 'text/csv' } }, 200);
    await check('/api/compare?reference=A100', 200);
    for (const format of ['md', 'csv', 'latex']) await check(`/api/compare?reference=A100&format=${format}`, 200);
    const series = await check('/api/series/oa-series', 200);
    expect(series.json<{ members: Array<{ run_id: string }> }>().members.map((m) => m.run_id)).toEqual([id]);
    await check('/api/series/no-such-series', 404);
    await check({ method: 'PATCH', url: `/api/runs/${id}`, payload: { platform: 'oa-platform' } }, 200);
    await h.store.write([
      hostRecordSample({
        host: 'oa-host', platform: 'H100', cpuModel: 'AMD EPYC 9654', gpus: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-1' }],
        sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 }], sampleHz: 10, reportIntervalS: 1, flushIntervalS: 5,
        version: '0.1.0', clockOffsetS: 0.01, clockOffsetErrorS: 0.05, startedAtMs: base - 700_000, timeMs: base - 650_000,
      }),
    ]);
    const fields = (await check('/api/run-fields', 200)).json<{ fields: Array<{ name: string; csv: boolean; compare: { better: string } | null }> }>().fields;
    expect(fields.find((f) => f.name === 'carbon_g')).toMatchObject({ csv: true, compare: { better: 'lower' } });
    const hosts = await check('/api/hosts', 200);
    expect(hosts.json<{ hosts: Array<{ host: string; platform: string }> }>().hosts).toEqual([expect.objectContaining({ host: 'oa-host', platform: 'H100' })]);
    const live = await check('/api/live/power?minutes=5&host=oa-host', 200);
    await h.store.write(workloadPoints('oa-host', base - 400_000, 300, { requests: 2, output_tokens: 50 }));
    const work = await check(`/api/workload?host=oa-host&from=${base - 300_000}&to=${new Date(base - 200_000).toISOString()}`, 200);
    expect(work.json<{ requests: number }>().requests).toBeCloseTo(200, 6);
    await check('/api/workload?host=oa-host&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 400);
    expect(live.json<{ series: unknown[] }>().series.length).toBeGreaterThan(0);
    // errors go through the same schemas
    await check({ method: 'POST', url: '/api/runs', payload: { model: 'oa', acuracy: 1 } }, 400);
    await check('/api/runs/no-such-run', 404);
    const conflict = await check({ method: 'POST', url: `/api/runs/${id}/stop`, payload: {} }, 409);
    expect(conflict.json<{ run: { run_id: string } }>().run.run_id).toBe(id);
    await check({ method: 'POST', url: '/api/runs/import', payload: { model: 'oa', platform: 'A100', inferences: 1, energy_j: 1, run_id: 'oa-imp' } }, 409);
    await check({ method: 'POST', url: '/api/runs', payload: { model: 'x', dataset: 'y'.repeat(2 * 1024 * 1024) } }, 413);
    await check({ url: '/api/compare?from=99999999999999999999' }, 400);
    await check({ url: '/api/compare?format=csv&table=both' }, 400);

    // every documented JSON operation was answered for real (the stream is checked below)
    const documented = operations(doc).filter((o) => o.path.startsWith('/api/') && !o.path.includes('stream'));
    const answered = new Set([...covered].map((c) => c.split(' ').slice(0, 2).join(' ').replace(/:([a-z]+)/g, '{$1}').toLowerCase()));
    for (const { path, method } of documented) expect(answered.has(`${method} ${path}`.toLowerCase()), `${method} ${path} was never exercised`).toBe(true);

    // and the check bites: a field the schema lacks, or one it requires, fails it
    sent = [];
    await h.app.fastify.inject(`/api/runs/${id}`);
    const summary = JSON.parse(JSON.stringify(sent.at(-1)?.payload)) as Record<string, unknown>;
    const validate = schemaFor('/api/runs/:id', 'GET', 200, 'application/json');
    expect(validate(summary)).toBe(true);
    expect(validate({ ...summary, surprise: 1 })).toBe(false);
    const { partial: _partial, ...withoutPartial } = summary;
    expect(validate(withoutPartial)).toBe(false);
    expect(validate({ ...summary, sources: [{ ...(summary.sources as object[])[0], extra: true }] })).toBe(false);
  }, 120_000);

  it('serves the event stream as text/event-stream, as documented', async () => {
    const url = await h.app.fastify.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const res = await fetch(`${url}/api/live/stream`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('retry: 3000');
    controller.abort();
  });
});
