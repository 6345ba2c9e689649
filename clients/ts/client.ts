/**
 * A small typed client for the Wattscope API, used by the CLI and the tests. Errors say what to
 * do: where the API was looked for and how to start it, which token variable to set.
 */
import type { RunSummary } from '../../api/domain/run.js';
import type { compare } from '../../api/domain/compare.js';

export type { RunSummary };
export type Comparison = ReturnType<typeof compare>;

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

export class WattscopeClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async request<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new ApiClientError(
        `cannot reach the Wattscope API at ${this.baseUrl} (${cause}): start it with \`wattscope up\` (or \`wattscope serve\`), or set WATTSCOPE_API_URL to where it runs`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let parsed: { message?: string } = {};
      try {
        parsed = JSON.parse(text) as { message?: string };
      } catch {
        parsed = { message: text.slice(0, 300) };
      }
      if (res.status === 401) throw new ApiClientError(`the API at ${this.baseUrl} wants a token: set WATTSCOPE_API_TOKEN to the token the server was started with`, 401, parsed);
      throw new ApiClientError(`${method} ${path}: ${res.status} ${parsed.message ?? res.statusText}`, res.status, parsed);
    }
    if (accept !== 'application/json') return text as T;
    return (text ? JSON.parse(text) : undefined) as T;
  }

  startRun(input: StartRun, callerHost?: string): Promise<{ run_id: string; started_at: string }> {
    return this.request('POST', '/api/runs', { ...input, hosts: input.hosts ?? (callerHost ? [callerHost] : undefined) });
  }
  heartbeat(runId: string): Promise<{ run_id: string; heartbeat_at: string }> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/heartbeat`);
  }
  stopRun(runId: string, result: RunResult & { status?: 'completed' | 'failed' } = {}): Promise<RunSummary> {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/stop`, result);
  }
  patchRun(runId: string, result: RunResult): Promise<RunSummary> {
    return this.request('PATCH', `/api/runs/${encodeURIComponent(runId)}`, result);
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
  listRuns(q: ListRuns = {}): Promise<{ runs: RunSummary[]; next_offset: number | null }> {
    return this.request('GET', this.listQuery(q, 'json'));
  }
  exportCsv(q: ListRuns = {}): Promise<string> {
    return this.request('GET', this.listQuery(q, 'csv'), undefined, 'text/csv');
  }
  compare(reference?: string): Promise<Comparison> {
    return this.request('GET', `/api/compare${reference ? `?reference=${encodeURIComponent(reference)}` : ''}`);
  }
  baseline(host: string, seconds: number, platform?: string): Promise<RunSummary> {
    return this.request('POST', '/api/baselines', { host, seconds, platform });
  }
  health(): Promise<{ status: string; influxdb: { reachable: boolean; version?: string; database?: string; error?: string } }> {
    return this.request('GET', '/healthz');
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
