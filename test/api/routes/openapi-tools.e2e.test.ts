/**
 * The served OpenAPI document through the ecosystem's own tools, as a user of the API would run
 * them: Redocly CLI's recommended ruleset (0 errors) on the document a real `wattscope serve`
 * serves on its defaults and on the one it serves with a token set; and a client generated from
 * it — openapi-typescript's types, openapi-fetch's calls — whose typed call of every operation
 * `tsc` checks (and refuses calls that do not fit), and which then runs against the API.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAPIV3_1 } from 'openapi-types';
import { runProcess, testSettings } from '../../helpers.js';
import { spawnApi, type ApiProcess } from '../../stack/api-process.js';
import { apiHarness, powerPoints, type Harness } from '../harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'node_modules', '.bin');
/** Inside the repository (for node_modules), git-ignored. */
const DIR = join(ROOT, 'test', 'artifacts', 'openapi-client');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** `wattscope serve` on its defaults, and with a token (what a user sets to protect writes). */
let served: ApiProcess;
let servedWithToken: ApiProcess;
/** The API in this process, on the test's clock, for the generated client's calls. */
let open: Harness;

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  // where InfluxDB is and a free port: all the test sets (the port because the default may be taken)
  const env = (prefix: string) => {
    const settings = testSettings(prefix);
    return { PATH: process.env.PATH, HOME: DIR, WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db, WATTSCOPE_API_PORT: '0' };
  };
  [served, servedWithToken, open] = await Promise.all([spawnApi(env('openapi_serve')), spawnApi({ ...env('openapi_serve_token'), WATTSCOPE_API_TOKEN: 'tools-token-123456' }), apiHarness('openapi_tools')]);
}, 60_000);
afterAll(async () => {
  await served?.stop();
  await servedWithToken?.stop();
  await open?.close();
});

async function documentOf(url: string): Promise<OpenAPIV3_1.Document> {
  const res = await fetch(`${url}/docs/json`);
  expect(res.status).toBe(200);
  return (await res.json()) as OpenAPIV3_1.Document;
}

const operationsOf = (doc: OpenAPIV3_1.Document): OpenAPIV3_1.OperationObject[] => Object.values(doc.paths ?? {}).flatMap((item) => METHODS.flatMap((m) => (item?.[m] ? [item[m] as OpenAPIV3_1.OperationObject] : [])));
const operationIds = (doc: OpenAPIV3_1.Document): string[] => operationsOf(doc).flatMap((op) => (op.operationId ? [op.operationId] : []));

interface Lint {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; severity: string; message: string }>;
}

/** `redocly lint --extends=recommended` on a document, its report as JSON. */
async function redocly(doc: OpenAPIV3_1.Document, name: string): Promise<Lint> {
  const file = join(DIR, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  // no telemetry, no update check: the suite runs offline
  const r = await runProcess(join(BIN, 'redocly'), ['lint', '--extends=recommended', '--format=json', file], {
    env: { PATH: process.env.PATH, HOME: DIR, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    timeoutMs: 120_000,
  });
  const report = JSON.parse(r.stdout) as Lint;
  // it exits 1 on errors, 0 otherwise
  expect(r.status, r.stderr).toBe(report.totals.errors > 0 ? 1 : 0);
  return report;
}

describe('Redocly CLI, recommended ruleset', () => {
  it('finds no error in the document `wattscope serve` serves on its defaults, nor in the one it serves with a token set', async () => {
    for (const [name, api] of [['default', served], ['token', servedWithToken]] as const) {
      const doc = await documentOf(api.url);
      expect(operationsOf(doc).length, name).toBeGreaterThanOrEqual(15);
      const report = await redocly(doc, name);
      expect(report.problems.filter((p) => p.severity === 'error'), name).toEqual([]);
      expect(report.totals.errors, name).toBe(0);
      // one warning, on purpose: LivePoint describes the items of the event stream's `data:`
      // lines, which a text/event-stream body cannot $ref (OpenAPI 3.1 has no itemSchema); it
      // is there for clients, which get its type from it. Any other warning fails here.
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`), name).toEqual(['no-unused-components: Component: "LivePoint" is never used.']);
    }
  }, 120_000);

  it('does report what the recommended rules forbid (the check can fail)', async () => {
    const broken = await documentOf(servedWithToken.url);
    delete broken.servers;
    delete broken.info.license;
    const ops = operationsOf(broken);
    for (const op of ops) delete op.security;
    delete ops[0]?.operationId;
    // an example that does not fit its schema
    const summary = (broken.paths?.['/api/runs/{id}']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject).content?.['application/json'] as OpenAPIV3_1.MediaTypeObject;
    summary.example = { ...(summary.example as object), energy_j: 'a lot' };
    const report = await redocly(broken, 'broken');
    const rules = report.problems.map((p) => `${p.severity} ${p.ruleId}`);
    expect(rules.filter((r) => r === 'error security-defined')).toHaveLength(ops.length);
    expect(rules).toContain('error no-empty-servers');
    expect(rules).toContain('warn info-license');
    expect(rules.filter((r) => r === 'warn operation-operationId')).toHaveLength(1);
    expect(rules).toContain('warn no-invalid-media-type-examples');
    expect(report.totals.errors).toBe(ops.length + 1);
  }, 120_000);
});

/**
 * A typed call of every operation, through openapi-fetch and the generated `paths`: a wrong
 * path, method, parameter or body is a type error. `tick` moves the API's clock (the harness's),
 * so that the run lasts and the baseline has a past to measure.
 */
const CALLS = `import createClient from 'openapi-fetch';
import type { operations, paths } from './schema.js';

type Summary = paths['/api/runs/{id}']['get']['responses'][200]['content']['application/json'];

export async function callEveryOperation(baseUrl: string, host: string, tick: (ms: number) => void): Promise<{ status: Partial<Record<keyof operations, number>>; summary: Summary | undefined }> {
  const api = createClient<paths>({ baseUrl });
  // by operationId: each key must be an operation of the generated client
  const status: Partial<Record<keyof operations, number>> = {};
  const baseline = await api.POST('/api/baselines', { body: { host, seconds: 60 } });
  status.measureBaseline = baseline.response.status;
  const started = await api.POST('/api/runs', { body: { model: 'client-model', hosts: [host], params_m: 25.6, macs_g: 4.1, series_id: 'client-series', labels: { via: 'openapi-fetch' } } });
  status.startRun = started.response.status;
  const id: string = started.data?.run_id ?? '';
  const path = { params: { path: { id } } };
  tick(20_000);
  status.heartbeatRun = (await api.POST('/api/runs/{id}/heartbeat', path)).response.status;
  status.getRun = (await api.GET('/api/runs/{id}', path)).response.status;
  tick(20_000);
  const stopped = await api.POST('/api/runs/{id}/stop', { ...path, body: { inferences: 1000, correct: 760 } });
  status.stopRun = stopped.response.status;
  const energy: number | null | undefined = stopped.data?.energy_j;
  status.getWorkload = (await api.GET('/api/workload', { params: { query: { host, from: stopped.data?.started_at ?? '' } } })).response.status;
  status.patchRun = (await api.PATCH('/api/runs/{id}', { ...path, body: { labels: { checked: 'yes' } } })).response.status;
  status.getRunPower = (await api.GET('/api/runs/{id}/power', path)).response.status;
  status.listRuns = (await api.GET('/api/runs', { params: { query: { model: 'client-model', limit: '10' } } })).response.status;
  status.getRunFields = (await api.GET('/api/run-fields')).response.status;
  status.importRuns = (await api.POST('/api/runs/import', { body: [{ model: 'client-model', platform: 'A100', inferences: 100, energy_per_inference_uwh: 20.1, accuracy: 0.76 }] })).response.status;
  status.compareModels = (await api.GET('/api/compare', { params: { query: { reference: 'A100' } } })).response.status;
  status.getSeries = (await api.GET('/api/series/{id}', { params: { path: { id: 'client-series' } } })).response.status;
  status.listHosts = (await api.GET('/api/hosts')).response.status;
  status.getLivePower = (await api.GET('/api/live/power', { params: { query: { minutes: '5', host } } })).response.status;
  // the stream never ends: its head is enough
  const stream = await api.GET('/api/live/stream', { params: { query: { host } }, parseAs: 'stream' });
  status.streamLivePower = stream.response.status;
  await stream.response.body?.cancel();
  if (energy === undefined) return { status, summary: undefined };
  return { status, summary: stopped.data };
}
`;

/** Calls that do not fit the document: each line a type error tsc must report. */
const WRONG = `import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

const api = createClient<paths>({ baseUrl: 'http://127.0.0.1:9' });
export const calls = [
  api.POST('/api/runs', { body: { hosts: ['h'], batch_size: 8 } }),
  api.POST('/api/runs/{id}/stop', { params: { path: { id: 'r-1' } }, body: { inferences: 'many' } }),
  api.GET('/api/no-such-route'),
  api.DELETE('/api/runs/{id}', { params: { path: { id: 'r-1' } } }),
  api.GET('/api/runs/{id}', { params: { path: { run: 'r-1' } } }),
];
`;

describe('a client generated from the document', () => {
  it('has a typed call of every operation that tsc checks, refuses calls that do not fit, and its calls work against the API', async () => {
    const doc = await documentOf(served.url);
    writeFileSync(join(DIR, 'openapi.json'), JSON.stringify(doc));
    const gen = await runProcess(join(BIN, 'openapi-typescript'), [join(DIR, 'openapi.json'), '-o', join(DIR, 'schema.d.ts')], { env: { PATH: process.env.PATH, NO_COLOR: '1' }, timeoutMs: 120_000 });
    expect(gen.status, gen.stderr).toBe(0);
    writeFileSync(join(DIR, 'calls.ts'), CALLS);
    writeFileSync(join(DIR, 'wrong.ts'), WRONG);
    // every operation of the document is called, and nothing else
    const called = [...CALLS.matchAll(/status\.(\w+) =/g)].map((m) => m[1]);
    expect(called.sort()).toEqual(operationIds(doc).sort());

    // one tsc over the generated .d.ts and both files (no @types: the client needs fetch alone, from lib dom), the repository's strictness
    const compilerOptions = { noEmit: true, strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [] };
    writeFileSync(join(DIR, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['schema.d.ts', 'calls.ts', 'wrong.ts'] }));
    const tsc = await runProcess(join(BIN, 'tsc'), ['-p', DIR], { timeoutMs: 120_000 });
    expect(tsc.status, tsc.stderr).not.toBe(0);
    const errors = [...tsc.stdout.matchAll(/^(\S+)\((\d+),\d+\): error/gm)].map((m) => ({ file: m[1] as string, line: Number(m[2]) }));
    // the generated types and the typed calls: no error
    expect(errors.filter((e) => !e.file.endsWith('/wrong.ts')), tsc.stdout).toEqual([]);
    // each wrong call is an error on its own line (lines 6–10 of wrong.ts), and nothing else is
    expect([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b), tsc.stdout).toEqual([6, 7, 8, 9, 10]);
    expect(tsc.stdout.split('\n').filter((l) => /error TS/.test(l) && !l.includes('wrong.ts(')), tsc.stdout).toEqual([]);

    // the same calls against the API: every operation answers 2xx
    const host = 'client-host';
    const now = open.clock.now;
    await open.store.write(powerPoints(host, 'nvml/0', now - 120_000, 200, () => 150));
    const url = await open.app.fastify.listen({ port: 0, host: '127.0.0.1' });
    const { callEveryOperation } = (await import(pathToFileURL(join(DIR, 'calls.ts')).href)) as { callEveryOperation: (baseUrl: string, host: string, tick: (ms: number) => void) => Promise<{ status: Record<string, number>; summary: { energy_j: number | null; status: string } | undefined }> };
    const { status, summary } = await callEveryOperation(url, host, (ms) => {
      open.clock.now += ms;
    });
    expect(Object.keys(status).sort()).toEqual(operationIds(doc).sort());
    for (const [op, code] of Object.entries(status)) expect(code, op).toBeGreaterThanOrEqual(200);
    for (const [op, code] of Object.entries(status)) expect(code, op).toBeLessThan(300);
    // the typed reply is the real one: 40 s at 150 W
    expect(summary?.status).toBe('completed');
    expect(summary?.energy_j).toBeCloseTo(6000, 6);
  }, 120_000);
});
