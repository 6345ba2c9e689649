/**
 * Fuzz: thousands of random and hostile payloads to every route, and the corpus of hostile
 * requests that once reached a 5xx or stored something wrong. No 5xx, no crash, no reply that
 * carries InfluxQL or line protocol the request did not, run ids unique, and the strings of
 * every accepted run come back byte for byte.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../api/domain/run-record.js';
import { ident, iql } from '../../../common/storage/influxql.js';
import { prng } from '../../helpers.js';
import { apiHarness, type Harness } from '../harness.js';


const FRAGMENTS = [
  "'; DROP DATABASE wattscope; --",
  '" OR 1=1 --',
  "x' OR '1'='1",
  '/.*/',
  '\\',
  '\\\\',
  '\\"',
  "\\'",
  'SELECT * FROM "run"',
  '; SHOW DATABASES',
  'time > 0',
  '$timeFilter',
  '${__interval}',
  '\n',
  '\r\n',
  '\t',
  ',',
  '=',
  ' ',
  '"',
  "'",
  '{}',
  '[]',
  '😀',
  'é',
  '中文',
  '\u202e',
  '\ufeff',
  '\u0000',
  '\ud800',
  'null',
  'NaN',
  '-Infinity',
  '1e309',
];

function hostileString(rand: () => number, max = 40): string {
  let s = '';
  const parts = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < parts; i++) {
    s += rand() < 0.6 ? (FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)] as string) : String.fromCharCode(32 + Math.floor(rand() * 95));
  }
  return s.slice(0, max + Math.floor(rand() * 10));
}

function anyValue(rand: () => number, depth = 0): unknown {
  const k = Math.floor(rand() * 12);
  switch (k) {
    case 0:
      return hostileString(rand);
    case 1:
      return rand() * 10 ** Math.floor(rand() * 30);
    case 2:
      return -rand() * 1e20;
    case 3:
      return Math.floor(rand() * 100);
    case 4:
      return null;
    case 5:
      return rand() < 0.5;
    case 6:
      return depth > 2 ? 'deep' : Array.from({ length: Math.floor(rand() * 4) }, () => anyValue(rand, depth + 1));
    case 7:
      return depth > 2 ? {} : Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () => [hostileString(rand, 10), anyValue(rand, depth + 1)]));
    case 8:
      return 1e308 * 10; // Infinity: serialised as null by JSON
    case 9:
      return 'x'.repeat(Math.floor(rand() * 3000));
    case 10:
      return rand();
    default:
      return hostileString(rand, 300);
  }
}

/** URLs cannot carry lone surrogates (encodeURIComponent refuses them); everything else goes. */
/** What JSON can carry but the API refuses by rule: NUL and unpaired surrogates. */
// eslint-disable-next-line no-control-regex
const storable = (s: string) => s.replace(/\u0000|[\ud800-\udfff]/g, '');

const urlPart = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'));

const FIELDS = ['model', 'run_id', 'dataset', 'kind', 'hosts', 'platform', 'batch_size', 'params_m', 'macs_g', 'labels', 'inferences', 'correct', 'accuracy', 'status', 'energy_j', 'energy_per_inference_uwh', 'duration_s', 'started_at', 'host', 'seconds'];

function randomBody(rand: () => number): unknown {
  const roll = rand();
  if (roll < 0.05) return anyValue(rand);
  const body: Record<string, unknown> = {};
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) body[FIELDS[Math.floor(rand() * FIELDS.length)] as string] = anyValue(rand);
  if (rand() < 0.5) body.model = hostileString(rand);
  return body;
}

/** Printable strings that satisfy the tag rules, full of InfluxQL and line-protocol specials. */
function validTagString(rand: () => number): string {
  const specials = ['\'', '"', ',', '=', ' ', '\\', '/', '.*', '😀', '中', "'; DROP DATABASE x --", '$timeFilter', '\u202e'];
  let s = '';
  for (let i = 0; i < 1 + Math.floor(rand() * 5); i++) s += rand() < 0.5 ? (specials[Math.floor(rand() * specials.length)] as string) : String.fromCharCode(33 + Math.floor(rand() * 90));
  return s.endsWith('\\') ? s + 'x' : s;
}

/** Header values as Node hands them over: one latin1 character per byte on the wire. */
function hostileHeader(rand: () => number): string {
  const roll = rand();
  if (roll < 0.2) return Array.from({ length: 1 + Math.floor(rand() * 12) }, () => String.fromCharCode(0x80 + Math.floor(rand() * 0x80))).join(''); // bytes that are rarely UTF-8
  if (roll < 0.3) return 'h'.repeat(200 + Math.floor(rand() * 8000));
  // eslint-disable-next-line no-control-regex
  const text = hostileString(rand, 30).replace(/[\r\n\u0000]/g, '').replace(/[\ud800-\udfff]/g, '?');
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Text that would show a reply carries the store's internals (unless the request itself did). */
const LEAK_MARKERS = ['SELECT', 'FROM "run"', 'run,run_id=', 'run,model=', 'InfluxQL', 'unable to parse', 'line protocol', 'time outside range'];

/** An error reply's own text: all of it but the stored run a 409 shows (whose strings are the client's). */
function errorText(body: string): string {
  try {
    const { run: _run, ...rest } = JSON.parse(body) as Record<string, unknown>;
    return JSON.stringify(rest);
  } catch {
    return body;
  }
}

type CorpusCase = { what: string; options: InjectOptions; accepted?: boolean };

/** The issue tracker's hostile requests; `existing` is a run_id that is already stored. */
function corpus(existing: string): CorpusCase[] {
  const json = { 'content-type': 'application/json' };
  const deepArrays = '['.repeat(400_000) + ']'.repeat(400_000);
  const deepObjects = '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_000);
  const item = (extra: Record<string, unknown> = {}) => ({ model: 'corpus', platform: 'p', inferences: 10, energy_j: 5, accuracy: 0.5, ...extra });
  const cases: CorpusCase[] = [];
  for (const [method, url] of [['POST', '/api/runs'], ['POST', '/api/runs/import'], ['POST', `/api/runs/${existing}/stop`], ['PATCH', `/api/runs/${existing}`], ['POST', '/api/baselines']] as const) {
    cases.push({ what: `400,000 nested arrays to ${method} ${url}`, options: { method, url, payload: deepArrays, headers: json } });
    cases.push({ what: `150,000 nested objects to ${method} ${url}`, options: { method, url, payload: deepObjects, headers: json } });
  }
  for (const q of ['from=99999999999999999999', 'to=99999999999999999999', 'from=-99999999999999999999', 'from=1500-01-01T00:00:00Z', 'to=275760-09-13T00:00:00Z', 'from=2262-04-11T23:47:16.855Z']) {
    cases.push({ what: `list ?${q}`, options: { url: `/api/runs?${q}` } });
    cases.push({ what: `compare ?${q}`, options: { url: `/api/compare?${q}` } });
  }
  for (const started_at of ['9999-12-31T00:00:00Z', '0001-01-01T00:00:00Z', '1677-09-21T00:12:43.145Z', '2262-04-11T23:47:16.855Z']) {
    cases.push({ what: `import started_at ${started_at}`, options: { method: 'POST', url: '/api/runs/import', payload: item({ started_at }) } });
  }
  for (const extra of [{ duration_s: 1e-300 }, { duration_s: 1e-300, energy_j: 1e12 }, { duration_s: 5e-324, inferences: 1e15 }, { energy_j: 1e-320 }, { energy_j: 5e-324 }, { params_m: 5e-324 }, { params_m: 5e-324, macs_g: 5e-324 }]) {
    cases.push({ what: `import ${JSON.stringify(extra)}`, options: { method: 'POST', url: '/api/runs/import', payload: [item(), item(extra)] } });
  }
  cases.push({ what: 'import an existing run_id', options: { method: 'POST', url: '/api/runs/import', payload: item({ run_id: existing }) } });
  cases.push({ what: 'import an existing run_id with another model', options: { method: 'POST', url: '/api/runs/import', payload: [item({ run_id: 'corpus-new' }), item({ run_id: existing, model: 'other' })] } });
  cases.push({ what: 'import one run_id twice', options: { method: 'POST', url: '/api/runs/import', payload: [item({ run_id: 'corpus-twice' }), item({ run_id: 'corpus-twice' })] } });
  for (const host of ['a,b', 'h'.repeat(8000), 'caf\u00e9', '\u00c3\u0028', 'tab\there', 'ends\\', '']) {
    cases.push({ what: `x-wattscope-host ${JSON.stringify(host.slice(0, 20))}`, options: { method: 'POST', url: '/api/runs', payload: { model: 'corpus' }, headers: { 'x-wattscope-host': host } } });
  }
  cases.push({ what: 'x-wattscope-host café as UTF-8 bytes', options: { method: 'POST', url: '/api/runs', payload: { model: 'corpus' }, headers: { 'x-wattscope-host': Buffer.from('café').toString('latin1') } }, accepted: true });
  const labels = { 'k=v': 'x' };
  cases.push({ what: 'start with a label key holding =', options: { method: 'POST', url: '/api/runs', payload: { model: 'corpus', labels } } });
  cases.push({ what: 'patch with a label key holding =', options: { method: 'PATCH', url: `/api/runs/${existing}`, payload: { labels } } });
  cases.push({ what: 'stop with a label key holding =', options: { method: 'POST', url: `/api/runs/${existing}/stop`, payload: { labels } } });
  cases.push({ what: 'import with a label key holding =', options: { method: 'POST', url: '/api/runs/import', payload: [item({ labels })] } });
  cases.push({ what: 'list ?label=k=v=w', options: { url: `/api/runs?label=${encodeURIComponent('k=v=w')}` }, accepted: true });
  cases.push({ what: 'list with one label key twice', options: { url: '/api/runs?label=a%3D1&label=a%3D2' } });
  cases.push({ what: 'list with an empty label key', options: { url: '/api/runs?label=%3Dv' } });
  return cases;
}

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('fuzz');
});
afterAll(async () => h.close());

describe('fuzz', () => {
  it('survives 6,000 random and hostile requests on every route with no 5xx, and keeps accepted strings byte for byte', async () => {
    const rand = prng(20261122);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const accepted: Array<{ id: string; model: string; platform: string; dataset: string; labels: Record<string, string> }> = [];
    let retagged = 0;
    const knownIds: string[] = [];
    const record = (what: string, status: number, body: string, sent = what) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${what} → ${status} ${body.slice(0, 200)}`);
      if (status < 400) return; // a 2xx carries stored strings, which may well say SELECT
      const own = errorText(body);
      for (const marker of LEAK_MARKERS) if (own.includes(marker) && !sent.includes(marker)) failures.push(`${what} → ${status} leaks ${JSON.stringify(marker)}: ${body.slice(0, 200)}`);
    };
    const sentText = (o: InjectOptions) => `${o.url as string} ${typeof o.payload === 'string' ? o.payload.slice(0, 2000) : JSON.stringify(o.payload)} ${JSON.stringify(o.headers ?? {})}`;

    // the corpus first, against a run that exists
    const existing = (await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'corpus', run_id: 'corpus-existing' } })).json<{ run_id: string }>().run_id;
    for (const c of corpus(existing)) {
      const res = await h.app.fastify.inject(c.options);
      record(c.what, res.statusCode, res.body, sentText(c.options));
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      if (ok !== (c.accepted ?? false) || (!ok && (res.statusCode < 400 || res.json<{ field?: string }>().field === undefined))) {
        failures.push(`${c.what} → ${res.statusCode} ${res.body.slice(0, 200)} (expected ${c.accepted ? 'success' : 'a 4xx naming the field'})`);
      }
    }

    for (let i = 0; i < 6000; i++) {
      const kind = i % 10;
      const idPart = rand() < 0.5 && knownIds.length ? (knownIds[Math.floor(rand() * knownIds.length)] as string) : urlPart(hostileString(rand, 20));
      let method: 'GET' | 'POST' | 'PATCH' = 'POST';
      let url = '/api/runs';
      let payload: unknown = randomBody(rand);
      if (kind === 1) url = `/api/runs/${idPart}/stop`;
      else if (kind === 2) url = `/api/runs/${idPart}/heartbeat`;
      else if (kind === 3) [method, url] = ['PATCH', `/api/runs/${idPart}`];
      else if (kind === 4) [method, url, payload] = ['GET', `/api/runs/${idPart}`, undefined];
      else if (kind === 5) [url, payload] = ['/api/runs/import', rand() < 0.5 ? [randomBody(rand), randomBody(rand)] : randomBody(rand)];
      else if (kind === 6) {
        method = 'GET';
        const params = new URLSearchParams();
        for (const k of ['model', 'platform', 'kind', 'status', 'from', 'to', 'label', 'limit', 'offset', 'format', 'x']) if (rand() < 0.3) params.append(k, hostileString(rand, 30).replace(/[\ud800-\udfff]/g, '?'));
        url = `/api/runs?${params.toString()}`;
        payload = undefined;
      } else if (kind === 7) {
        method = 'GET';
        url = `/api/compare?reference=${urlPart(hostileString(rand, 20))}&model=${urlPart(hostileString(rand, 20))}`;
        payload = undefined;
      } else if (kind === 8) url = '/api/baselines';
      if (kind === 9) {
        // a run that must be accepted, made of hostile but valid strings
        const model = validTagString(rand);
        const platform = validTagString(rand);
        const dataset = storable(hostileString(rand, 60));
        const labels = { [validTagString(rand).replace(/=/g, ':')]: storable(hostileString(rand, 30)) };
        const r = await h.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model, platform, dataset, labels, hosts: ['fuzz-host'] } });
        record('valid start', r.statusCode, r.body);
        if (r.statusCode === 201) {
          const id = r.json<{ run_id: string }>().run_id;
          accepted.push({ id, model, platform, dataset, labels });
          knownIds.push(id);
        } else failures.push(`valid start refused: ${r.statusCode} ${r.body.slice(0, 200)} for ${JSON.stringify({ model, platform })}`);
        continue;
      }
      const raw = rand() < 0.03;
      const options: InjectOptions = {
        method,
        url,
        ...(payload === undefined ? {} : raw ? { payload: hostileString(rand, 80), headers: { 'content-type': rand() < 0.5 ? 'application/json' : 'text/plain' } } : { payload: payload as object }),
      };
      if (kind === 0 && rand() < 0.3) options.headers = { ...options.headers, 'x-wattscope-host': hostileHeader(rand) };
      const res = await h.app.fastify.inject(options);
      record(`${method} ${url} ${JSON.stringify(payload)?.slice(0, 120)} ${JSON.stringify(options.headers ?? {}).slice(0, 80)}`, res.statusCode, res.body, sentText(options));
      if (method === 'PATCH' && res.statusCode === 200) {
        // a patch may correct the platform (the run is written anew under it) and add labels
        const patched = res.json<RunSummary>();
        const a = accepted.find((x) => x.id === patched.run_id);
        if (a) Object.assign(a, { platform: patched.platform, labels: patched.labels });
        if (a && typeof (payload as { platform?: unknown }).platform === 'string') retagged++;
      }
    }
    expect(failures).toEqual([]);
    expect(retagged, 'runs whose platform a patch corrected').toBeGreaterThan(0);
    // the mix reached every outcome, not just the validator (this seed gives 200:975, 201:652, 400:4320, 404:66, 409:8, 415:30)
    for (const status of [200, 201, 400, 404, 409, 415]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(5);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    expect(accepted.length).toBeGreaterThan(500);
    for (const a of accepted) {
      const s = (await h.app.fastify.inject(`/api/runs/${a.id}`)).json<RunSummary>();
      expect({ model: s.model, platform: s.platform, dataset: s.dataset, labels: s.labels }).toEqual({ model: a.model, platform: a.platform, dataset: a.dataset, labels: a.labels });
    }
    // the database is still there and still answers
    const health = await h.app.fastify.inject('/healthz');
    expect(health.statusCode).toBe(200);
    const listed = (await h.app.fastify.inject('/api/runs?limit=1000')).json<{ runs: RunSummary[] }>();
    expect(listed.runs.length).toBeGreaterThanOrEqual(accepted.length);
    // run ids stayed unique: one stored run per id, whatever the imports tried
    const rows = await h.store.rows(iql`SELECT ${ident('kind')}, ${ident('run_id')} FROM ${ident('run')}`);
    const ids = rows.map((r) => String(r.run_id));
    expect(ids.length).toBeGreaterThan(accepted.length);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(ids).not.toContain('corpus-new');
    expect(ids).not.toContain('corpus-twice');
    // and no host was stored with a comma (it would read back as two)
    for (const r of listed.runs) for (const host of r.hosts) expect(host).not.toContain(',');
  }, 300_000);
});
