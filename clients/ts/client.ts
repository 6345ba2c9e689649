/**
 * A small typed client for the Wattscope API, used by the CLI and the tests. Its request and
 * reply types are the API's own schemas (api/schemas/*.ts, TypeBox: `Static<typeof …>`), and the
 * run summary is the run's one definition (api/domain/run-record.ts), so a field added there is
 * here too. Errors say what to do: where the API was looked for and how to start it, which token
 * variable to set.
 */
import type { Static } from '@sinclair/typebox';
import type { RunSummary } from '../../api/domain/run-record.js';
import type { CompareReply } from '../../api/schemas/compare.js';
import type { PowerTableReply } from '../../api/schemas/live.js';
import type { HeartbeatReply, ImportItem, ListQuery, PatchBody, StartBody, StartReply, StopBody } from '../../api/schemas/runs.js';
import type { SeriesReply } from '../../api/schemas/series.js';

export type { RunSummary };
/** GET /api/compare */
export type Comparison = Static<typeof CompareReply>;
/** GET /api/series/:id: a series' statistics and its runs, oldest first. */
export type Series = Omit<Static<typeof SeriesReply>, 'members'> & { members: RunSummary[] };
/** POST /api/runs */
export type StartRun = StartBody;
/** Results of a run, given at its stop or later. */
export type RunResult = Pick<StopBody, 'inferences' | 'correct' | 'accuracy' | 'labels'>;
/** POST /api/runs/:id/stop; `ended_at` (ISO 8601) for a run stopped after the fact, default the server's now */
export type StopRun = StopBody;
/** PATCH /api/runs/:id */
export type PatchRun = PatchBody;
/** POST /api/runs/import, one item */
export type ImportRun = ImportItem;
/** GET /api/live/power */
export type LivePower = Static<typeof PowerTableReply>;

/** GET /api/runs: the query's filters; the page's limit and offset as numbers, labels as `key=value`. */
export type ListRuns = Omit<ListQuery, 'limit' | 'offset' | 'format' | 'label'> & { label?: string[]; limit?: number; offset?: number };

export class ApiClientError extends Error {
  override name = 'ApiClientError';
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface Health {
  status: string;
  influxdb: { reachable: boolean; version?: string; database?: string; error?: string };
}

/**
 * A stop or a baseline answers only once the collectors' points past its end have arrived (their
 * flush interval, 5 s by default, plus a margin): these requests get far longer than the rest.
 */
export const SETTLE_TIMEOUT_MS = 120_000;

interface RequestOptions {
  body?: unknown;
  accept?: string;
  timeoutMs?: number;
  /** non-2xx statuses whose body is an answer, not an error (/healthz's 503) */
  answers?: readonly number[];
}

export class WattscopeClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async send(method: string, path: string, options: RequestOptions): Promise<{ res: Response; text: string }> {
    const { body, accept = 'application/json', timeoutMs = this.timeoutMs } = options;
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      if ((e as Error).name === 'TimeoutError') {
        throw new ApiClientError(`the Wattscope API at ${this.baseUrl} did not answer ${method} ${path.split('?')[0]} within ${timeoutMs / 1000} s`);
      }
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new ApiClientError(
        `cannot reach the Wattscope API at ${this.baseUrl} (${cause}): start it with \`wattscope up\` (or \`wattscope serve\`), or set WATTSCOPE_API_URL to where it runs`,
      );
    }
    if (!res.ok && !options.answers?.includes(res.status)) {
      let parsed: { message?: string } = {};
      try {
        parsed = JSON.parse(text) as { message?: string };
      } catch {
        parsed = { message: text.slice(0, 300) };
      }
      if (res.status === 401) throw new ApiClientError(`the API at ${this.baseUrl} wants a token: set WATTSCOPE_API_TOKEN to the token the server was started with`, 401, parsed);
      throw new ApiClientError(`${method} ${path}: ${res.status} ${parsed.message ?? res.statusText}`, res.status, parsed);
    }
    return { res, text };
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { res, text } = await this.send(method, path, options);
    if (options.accept !== undefined && options.accept !== 'application/json') return text as T;
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new ApiClientError(`${method} ${path}: ${res.status}, and the answer is not JSON: ${text.slice(0, 300)}`, res.status, text);
    }
  }

  startRun(input: StartRun, callerHost?: string): Promise<Static<typeof StartReply>> {
    return this.request('POST', '/api/runs', { body: { ...input, hosts: input.hosts ?? (callerHost ? [callerHost] : undefined) } });
  }
  heartbeat(runId: string): Promise<Static<typeof HeartbeatReply>> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/heartbeat`);
  }
  stopRun(runId: string, result: StopRun = {}): Promise<RunSummary> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/stop`, { body: result, timeoutMs: Math.max(this.timeoutMs, SETTLE_TIMEOUT_MS) });
  }
  patchRun(runId: string, result: PatchRun): Promise<RunSummary> {
    return this.request('PATCH', `/api/runs/${encodeURIComponent(runId)}`, { body: result });
  }
  getRun(runId: string): Promise<RunSummary> {
    return this.request('GET', `/api/runs/${encodeURIComponent(runId)}`);
  }
  private listQuery(q: ListRuns, format: 'json' | 'csv'): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
    }
    params.set('format', format);
    return `/api/runs?${params.toString()}`;
  }
  /** One page of runs; `next_offset` is where the next page starts (null after the last). */
  listRuns(q: ListRuns = {}): Promise<{ runs: RunSummary[]; next_offset: number | null }> {
    return this.request('GET', this.listQuery(q, 'json'));
  }
  /** One page of runs as CSV (header line included); the next page's offset comes in the `x-next-offset` header. */
  async exportCsv(q: ListRuns = {}): Promise<{ csv: string; next_offset: number | null }> {
    const { res, text } = await this.send('GET', this.listQuery(q, 'csv'), { accept: 'text/csv' });
    const next = res.headers.get('x-next-offset');
    return { csv: text, next_offset: next === null || next === '' ? null : Number(next) };
  }
  compare(reference?: string): Promise<Comparison> {
    return this.request('GET', `/api/compare${reference ? `?reference=${encodeURIComponent(reference)}` : ''}`);
  }
  /** The comparison's tables for a paper, as text. */
  compareTables(format: 'md' | 'csv' | 'latex', options: { reference?: string | undefined; table?: 'scores' | 'ranking' | 'both' | undefined } = {}): Promise<string> {
    const q = new URLSearchParams({ format });
    if (options.reference) q.set('reference', options.reference);
    if (options.table) q.set('table', options.table);
    return this.request('GET', `/api/compare?${q.toString()}`, { accept: '*/*' });
  }
  series(seriesId: string): Promise<Series> {
    return this.request('GET', `/api/series/${encodeURIComponent(seriesId)}`);
  }
  /** Imports runs measured elsewhere: all of them, or none. */
  importRuns(items: readonly ImportRun[]): Promise<{ runs: RunSummary[] }> {
    return this.request('POST', '/api/runs/import', { body: items });
  }
  baseline(host: string, seconds: number, platform?: string): Promise<RunSummary> {
    return this.request('POST', '/api/baselines', { body: { host, seconds, platform }, timeoutMs: Math.max(this.timeoutMs, SETTLE_TIMEOUT_MS) });
  }
  /** The API's health; a 503 is an answer too (the API is up, its InfluxDB is not). */
  health(): Promise<Health> {
    return this.request('GET', '/healthz', { answers: [503] });
  }
  /** The latest power per source of `host` (what the live page shows). */
  livePower(host?: string): Promise<LivePower> {
    return this.request('GET', `/api/live/power?minutes=1${host ? `&host=${encodeURIComponent(host)}` : ''}`);
  }
}

/**
 * The collector on this host, told which processes are a run's so that it attributes their
 * share of the host's energy to it (POST/DELETE /runs on its loopback port). Best effort: a
 * host without a collector just has no attributed energy, and the summary says why.
 */
export class CollectorClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 2000,
  ) {}

  /** Whether the collector follows these processes now. */
  async follow(runId: string, pids: readonly number[]): Promise<boolean> {
    try {
      const res = await fetch(new URL('/runs', this.baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_id: runId, pids }), signal: AbortSignal.timeout(this.timeoutMs) });
      return res.status === 201;
    } catch {
      return false;
    }
  }

  async forget(runId: string): Promise<void> {
    try {
      await fetch(new URL(`/runs/${encodeURIComponent(runId)}`, this.baseUrl), { method: 'DELETE', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch {
      // the collector forgets a run whose processes are gone by itself
    }
  }
}
