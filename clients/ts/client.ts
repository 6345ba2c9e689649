/**
 * A small typed client for the Wattscope API, used by the CLI and the tests. Errors say what to
 * do: where the API was looked for and how to start it, which token variable to set.
 */
import type { RunSummary } from '../../api/domain/run-record.js';
import type { compare } from '../../api/domain/compare.js';
import type { SeriesStatistics } from '../../api/domain/series.js';

export type { RunSummary };
export type Comparison = ReturnType<typeof compare>;
/** GET /api/series/:id: a series' statistics and its runs, oldest first. */
export type Series = SeriesStatistics & { members: RunSummary[] };

export interface StartRun {
  model: string;
  run_id?: string;
  dataset?: string;
  kind?: 'inference' | 'training' | 'baseline';
  hosts?: string[];
  platform?: string;
  batch_size?: number;
  params_m?: number;
  macs_g?: number;
  labels?: Record<string, string>;
  /** the GPUs it uses (indices or UUIDs); absent: every GPU */
  gpus?: string[];
  gpus_from?: 'CUDA_VISIBLE_DEVICES' | 'NVIDIA_VISIBLE_DEVICES' | 'given';
  score_energy?: 'scoped' | 'attributed';
  /** the series of repeated runs it belongs to, and whether it is a warm-up run of it */
  series_id?: string;
  warmup?: boolean;
}

export interface RunResult {
  inferences?: number;
  correct?: number;
  accuracy?: number;
  labels?: Record<string, string>;
}

export interface ListRuns {
  model?: string;
  platform?: string;
  kind?: string;
  status?: string;
  from?: string;
  to?: string;
  label?: string[];
  series?: string;
  limit?: number;
  offset?: number;
}

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

export interface StopRun extends RunResult {
  status?: 'completed' | 'failed';
  /** when the run really ended (ISO 8601): for a run stopped after the fact; default the server's now */
  ended_at?: string;
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

  startRun(input: StartRun, callerHost?: string): Promise<{ run_id: string; started_at: string }> {
    return this.request('POST', '/api/runs', { body: { ...input, hosts: input.hosts ?? (callerHost ? [callerHost] : undefined) } });
  }
  heartbeat(runId: string): Promise<{ run_id: string; heartbeat_at: string }> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/heartbeat`);
  }
  stopRun(runId: string, result: StopRun = {}): Promise<RunSummary> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/stop`, { body: result, timeoutMs: Math.max(this.timeoutMs, SETTLE_TIMEOUT_MS) });
  }
  patchRun(runId: string, result: RunResult & { platform?: string }): Promise<RunSummary> {
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

export interface LivePower {
  /** epoch ms of each column */
  times: number[];
  series: Array<{ host: string; source: string; domain: string; method: string; in_total: boolean; power_w: Array<number | null> }>;
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
