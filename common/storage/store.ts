/**
 * The storage layer: the one place that talks to InfluxDB.
 *
 * - `/ping` tells the server's version; on 1.x the database is created if missing.
 * - Writes go through @influxdata/influxdb-client's write API (batching, retries with backoff).
 *   InfluxDB 1.x before 1.8 has no `/api/v2/write`; for those servers the client's transport is
 *   wrapped so the same write path lands on `/write?db=` instead (DESIGN: one write path,
 *   chosen from the version).
 * - Queries are InfluxQL over `/query`, built only with `./influxql.ts`.
 */
import { InfluxDB, HttpError, setLogger, type Transport, type SendOptions, type CommunicationObserver, type WriteApi } from '@influxdata/influxdb-client';
import type { Sample } from '../model.js';
import { logger, registerSecret } from '../log.js';
import type { Config } from '../config.js';
import { DEFAULT_INFLUX_URL } from '../config.js';
import { InfluxQL, iql, ident, join, str, timeMs } from './influxql.js';
import { toLines } from './line-protocol.js';
import { StorageError, databaseMissing, fromHttp, unreachable, type StorageOperation } from './errors.js';
import { send, type HttpResponse } from './http.js';
import { ClockOffsetEstimator } from './clock.js';

const log = logger('storage');

// The client logs every failed attempt itself; we report errors where they are handled.
setLogger({
  error: (message: string) => log.debug(`influxdb-client: ${message}`),
  warn: (message: string) => log.debug(`influxdb-client: ${message}`),
});

export interface InfluxSettings {
  url: string;
  /** 2.x/3.x token, or `user:password` for a 1.x with auth enabled */
  token?: string | undefined;
  org: string;
  db: string;
  timeoutMs: number;
}

export function settingsFromConfig(config: Config): InfluxSettings {
  const { url, token } = credentialsFromUrl(config.influx.url ?? DEFAULT_INFLUX_URL, config.influx.token);
  return { url, token, org: config.influx.org, db: config.influx.db, timeoutMs: config.influx.timeoutMs };
}

/**
 * `http://user:password@host:8086`: the credentials leave the URL and become the token
 * `user:password` (1.x's form: basic auth, or `Token user:password` on 1.8+), so that the URL
 * shown anywhere (logs, /healthz, error messages) carries none; the password is registered as a
 * secret, masked wherever it would appear in a log line. Credentials in the URL beside a token
 * are refused: which one is meant is not ours to guess.
 */
export function credentialsFromUrl(url: string, token: string | undefined): { url: string; token: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StorageError('unreachable', `WATTSCOPE_INFLUX_URL is not a URL: ${JSON.stringify(maskUrl(url))} (expected e.g. http://127.0.0.1:8086)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new StorageError('unreachable', `WATTSCOPE_INFLUX_URL must be an http:// or https:// URL, got ${parsed.protocol}//…`);
  }
  if (parsed.username === '' && parsed.password === '') return { url, token };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  registerSecret(password);
  registerSecret(parsed.password);
  parsed.username = '';
  parsed.password = '';
  const bare = url.endsWith('/') ? parsed.href : parsed.href.replace(/\/$/, '');
  if (token !== undefined) {
    throw new StorageError('unauthorized', `WATTSCOPE_INFLUX_URL carries credentials (${maskUrl(url)}) and WATTSCOPE_INFLUX_TOKEN is set too: give the credentials one way only`);
  }
  if (password === '') throw new StorageError('unauthorized', `WATTSCOPE_INFLUX_URL names a user (${maskUrl(url)}) but no password: give user:password, or the token in WATTSCOPE_INFLUX_TOKEN`);
  const fromUrl = `${user}:${password}`;
  registerSecret(fromUrl);
  return { url: bare, token: fromUrl };
}

/** A URL as it may be shown: any password in it replaced by `***`. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** How long a health check or the probe of a hung InfluxDB waits for an answer. */
export const HEALTH_TIMEOUT_MS = 2000;

export interface ServerVersion {
  raw: string;
  major: number;
  minor: number;
  /** 1.x before 1.8: only `/write?db=` accepts writes */
  legacyWrite: boolean;
}

export function parseVersion(header: string | null): ServerVersion {
  const raw = header ?? 'unknown';
  const m = /^v?(\d+)\.(\d+)/.exec(raw.trim());
  // No header: a server that old or that unusual speaks the 1.x protocol if anything.
  const major = m ? Number(m[1]) : 1;
  const minor = m ? Number(m[2]) : 0;
  return { raw, major, minor, legacyWrite: major === 1 && minor < 8 };
}

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;
export interface Series {
  name: string;
  tags: Record<string, string>;
  columns: string[];
  values: Cell[][];
}
export interface StatementResult {
  series: Series[];
}

interface RawResponse {
  results?: Array<{ statement_id?: number; series?: Array<{ name?: string; tags?: Record<string, string>; columns?: string[]; values?: Cell[][] }>; error?: string }>;
  error?: string;
}

/**
 * The client's transport, seen through: every response's `Date` goes to the clock estimator,
 * and on 1.x before 1.8 the v2 write path is rewritten to the 1.x endpoint of the same meaning.
 */
class WriteTransport implements Transport {
  readonly chunkCombiner: Transport['chunkCombiner'];
  constructor(
    private readonly inner: Transport,
    private readonly db: string,
    private readonly legacy: boolean,
    private readonly clock: ClockOffsetEstimator,
    private readonly stats: { requests: number },
  ) {
    this.chunkCombiner = inner.chunkCombiner;
  }
  private rewrite(path: string): string {
    if (!this.legacy || !path.startsWith('/api/v2/write?')) return path;
    const params = new URLSearchParams(path.slice('/api/v2/write?'.length));
    const out = new URLSearchParams({ db: this.db, precision: params.get('precision') ?? 'ms' });
    return `/write?${out.toString()}`;
  }
  send(path: string, body: string, options: SendOptions, callbacks?: Partial<CommunicationObserver<Uint8Array>>): void {
    const sentAt = Date.now();
    if (path.startsWith('/api/v2/write?')) this.stats.requests++;
    const observed: Partial<CommunicationObserver<Uint8Array>> = {
      ...callbacks,
      responseStarted: (headers, status) => {
        this.clock.observe(headers.date, sentAt, Date.now());
        callbacks?.responseStarted?.(headers, status);
      },
    };
    // the client binds these to the observer object itself
    if (callbacks?.useCancellable) observed.useCancellable = callbacks.useCancellable.bind(callbacks);
    if (callbacks?.useResume) observed.useResume = callbacks.useResume.bind(callbacks);
    this.inner.send(this.rewrite(path), body, options, observed);
  }
  request(path: string, body: unknown, options: SendOptions, started?: Parameters<Transport['request']>[3]): Promise<unknown> {
    return this.inner.request(this.rewrite(path), body, options, started) as Promise<unknown>;
  }
  iterate(path: string, body: unknown, options: SendOptions): AsyncIterableIterator<Uint8Array> {
    return this.inner.iterate(this.rewrite(path), body, options);
  }
}

export interface WriterOptions {
  /** lines per HTTP request (default 5000) */
  batchSize?: number;
  /** retries after a failed request, with exponential backoff (default 5; 0 = caller keeps the data) */
  maxRetries?: number;
  maxRetryTimeMs?: number;
  maxBufferLines?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * Buffers lines and sends them in batches through the client's write API. flush() resolves once
 * every batch was accepted, or rejects with the first StorageError; with maxRetries > 0 the
 * client keeps retrying the failed batches in the background (exponential backoff) until they
 * land or maxRetryTimeMs passes. With maxRetries = 0 the caller keeps the data (the collector's
 * spool does).
 */
export class Writer {
  private buffer: string[] = [];
  constructor(
    private readonly api: WriteApi,
    private readonly batchSize: number,
    private readonly mapError: (e: unknown) => StorageError,
    /** a database that went missing (dropped, or a server back on empty storage): create it again; true if it did */
    private readonly recreateDatabase: () => Promise<boolean> = async () => false,
    /** the error to give for a database still missing (the refusal to create it, where that is why) */
    private readonly explainMissing: (e: StorageError) => StorageError = (e) => e,
  ) {}
  get buffered(): number {
    return this.buffer.length;
  }
  writeLines(lines: readonly string[]): void {
    for (const line of lines) this.buffer.push(line);
  }
  writeSamples(samples: readonly Sample[]): void {
    this.writeLines(toLines(samples));
  }
  async flush(): Promise<void> {
    const lines = this.buffer;
    this.buffer = [];
    let first: StorageError | undefined;
    for (let i = 0; i < lines.length; i += this.batchSize) {
      const chunk = lines.slice(i, i + this.batchSize);
      try {
        await this.send(chunk);
      } catch (e) {
        first ??= e instanceof StorageError ? e : this.mapError(e);
      }
    }
    if (first) throw first;
  }

  private async send(chunk: string[]): Promise<void> {
    this.api.writeRecords(chunk);
    try {
      await this.api.flush();
    } catch (e) {
      const error = this.mapError(e);
      if (error.code !== 'database_missing') throw error;
      if (!(await this.recreateDatabase())) throw this.explainMissing(error);
      this.api.writeRecords(chunk);
      try {
        await this.api.flush();
      } catch (again) {
        throw this.mapError(again);
      }
    }
  }
  /** Flushes, then stops the client's pending retries. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.api.close().catch(() => undefined);
    }
  }
}

function basicAuth(token: string): string {
  return 'Basic ' + Buffer.from(token).toString('base64');
}

/** Statements by name, for {@link InfluxStore.queryNamed}: one, or a list under one name. */
export type NamedStatements = Record<string, InfluxQL | readonly InfluxQL[]>;
export type NamedResults<N extends NamedStatements> = { [K in keyof N]: N[K] extends readonly InfluxQL[] ? Array<StatementResult | undefined> : StatementResult | undefined };

export class InfluxStore {
  private readonly client: InfluxDB;
  private readonly authHeader: Record<string, string>;
  /**
   * /query requests answered and the bytes of their bodies, counted since the store opened:
   * what a computation fetched from InfluxDB (the fleet benchmark reads it around a run's
   * summary, to show that it does not grow with the run's length).
   */
  readonly queryStats = { requests: 0, bytes: 0 };
  /** HTTP write requests sent (retries included) */
  readonly writeStats = { requests: 0 };

  private constructor(
    readonly settings: InfluxSettings,
    readonly version: ServerVersion,
    /** this machine's clock against InfluxDB's, learnt from every response */
    readonly clock: ClockOffsetEstimator,
  ) {
    const { url, token, timeoutMs } = settings;
    // 1.x before 1.8 knows no `Token` scheme: `user:password` goes as basic auth there.
    const legacyBasic = version.legacyWrite && token !== undefined && token.includes(':');
    this.authHeader = token === undefined ? {} : { Authorization: legacyBasic ? basicAuth(token) : `Token ${token}` };
    const clientToken = legacyBasic ? undefined : token;
    const inner = new InfluxDB({ url, token: clientToken, timeout: timeoutMs }).transport;
    const transport = new WriteTransport(inner, settings.db, version.legacyWrite, this.clock, this.writeStats);
    this.client = new InfluxDB({ url, token: clientToken, timeout: timeoutMs, transport });
  }


  /**
   * Pings the server and detects its version. On 1.x the database is used when it exists and
   * created only when it does not — never asked of credentials that cannot (a user with
   * `GRANT ALL ON <db>` is no admin, and needs none): a clear error says who must create it.
   */
  static async open(settings: InfluxSettings, options: { createDatabase?: boolean } = {}): Promise<InfluxStore> {
    const clock = new ClockOffsetEstimator();
    const version = await InfluxStore.ping(settings, clock);
    if (version.major >= 2 && settings.token?.includes(':')) {
      throw new StorageError(
        'unauthorized',
        `InfluxDB ${version.raw} at ${settings.url} authenticates with an API token: set WATTSCOPE_INFLUX_TOKEN to a token with read and write access to "${settings.db}" (user:password, in the token or in WATTSCOPE_INFLUX_URL, is for InfluxDB 1.x)`,
      );
    }
    const store = new InfluxStore(settings, version, clock);
    store.createsDatabase = options.createDatabase !== false && version.major === 1;
    if (store.createsDatabase && (await store.databaseMissing())) await store.createDatabase();
    return store;
  }

  /** whether this store creates its database (1.x; 2.x/3.x buckets are made by a person) */
  private createsDatabase = false;
  private recreating: Promise<boolean> | undefined;
  /** why the database could not be created (no admin right): the error to give instead of "missing" */
  private createRefused: StorageError | undefined;

  /**
   * Whether the database is missing, asked with a read any reader may make. Credentials that may
   * not read it (a collector's write-only user) cannot tell: then it is taken to exist, and a
   * write into a missing one finds out (and creates it, where allowed).
   */
  private async databaseMissing(): Promise<boolean> {
    try {
      // (1.x answers SHOW MEASUREMENTS on a missing database with nothing, not an error)
      await this.queryOnce(iql`SHOW RETENTION POLICIES`, {});
      return false;
    } catch (e) {
      if (e instanceof StorageError && e.code === 'database_missing') return true;
      if (e instanceof StorageError && e.code === 'forbidden') return false;
      throw e;
    }
  }

  private async createDatabase(): Promise<void> {
    try {
      await this.queryOnce(iql`CREATE DATABASE ${ident(this.settings.db)}`, { db: false, operation: 'create' });
      this.createRefused = undefined;
    } catch (e) {
      if (e instanceof StorageError && (e.code === 'forbidden' || e.code === 'unauthorized')) this.createRefused = e;
      throw e;
    }
  }

  /**
   * Creates the database again after it went missing (DROP DATABASE, a server back on empty
   * storage), on 1.x; concurrent callers share one attempt. 2.x/3.x: false (the bucket must be
   * created by a person; the error message says so).
   */
  async recreateDatabase(): Promise<boolean> {
    if (!this.createsDatabase) return false;
    this.recreating ??= this.createDatabase().then(
      () => {
        log.warn(`database "${this.db}" was missing on ${this.settings.url} (dropped?); created it again`);
        return true;
      },
      () => false,
    );
    try {
      return await this.recreating;
    } finally {
      this.recreating = undefined;
    }
  }

  /** The error for a missing database: the refusal to create it, where that is why it is still missing. */
  missingError(error: StorageError): StorageError {
    return error.code === 'database_missing' && this.createRefused ? this.createRefused : error;
  }

  static async ping(settings: Pick<InfluxSettings, 'url' | 'timeoutMs'>, clock?: ClockOffsetEstimator): Promise<ServerVersion> {
    let res: HttpResponse;
    const sentAt = Date.now();
    try {
      res = await send(new URL('/ping', settings.url), { timeoutMs: settings.timeoutMs });
    } catch (e) {
      throw InfluxStore.networkError(settings.url, e);
    }
    clock?.observe(res.headers.date, sentAt, res.receivedAtMs);
    if (res.status >= 500) throw new StorageError('server', `InfluxDB at ${settings.url} answered /ping with ${res.status}`, res.status);
    const version = res.headers['x-influxdb-version'];
    return parseVersion(typeof version === 'string' ? version : null);
  }

  private static networkError(url: string, e: unknown): StorageError {
    if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      return new StorageError('timeout', `InfluxDB at ${url} did not answer in time: is it overloaded or hung?`);
    }
    return unreachable(url, e);
  }

  get db(): string {
    return this.settings.db;
  }

  /** Runs one or more `;`-separated statements; one result per statement. */
  async query(q: InfluxQL, options: { db?: boolean } = {}): Promise<StatementResult[]> {
    try {
      return await this.queryOnce(q, options);
    } catch (e) {
      // a dropped database is created again (1.x), then the query answers from it (empty)
      if (e instanceof StorageError && e.code === 'database_missing' && options.db !== false) {
        if (await this.recreateDatabase()) return this.queryOnce(q, options);
        throw this.missingError(e);
      }
      throw e;
    }
  }

  /**
   * A server that stopped answering (hung, SIGSTOPped, swapping) is not waited for by every
   * caller in turn: once a request times out, every request fails at once, and a prober pings
   * the server (HEALTH_TIMEOUT_MS each, a second apart) until it answers again. The probe is a
   * `/ping`, not a caller's query: a heavy query that is merely slow must not keep it shut.
   */
  private unresponsive: { since: number; prober: NodeJS.Timeout | undefined } | undefined;

  /** Since when InfluxDB has not answered (epoch ms), while it does not. */
  get unresponsiveSince(): number | undefined {
    return this.unresponsive?.since;
  }

  private failFast(): StorageError | undefined {
    const u = this.unresponsive;
    if (!u) return undefined;
    return new StorageError('timeout', `InfluxDB at ${this.settings.url} has not answered since ${new Date(u.since).toISOString()} (hung or overloaded): failing at once until it answers again`);
  }

  private markUnresponsive(): void {
    if (this.unresponsive) return;
    log.warn(`InfluxDB at ${this.settings.url} did not answer in time; requests fail at once until it answers again`);
    const state: { since: number; prober: NodeJS.Timeout | undefined } = { since: Date.now(), prober: undefined };
    this.unresponsive = state;
    const probe = () => {
      state.prober = undefined;
      InfluxStore.ping({ url: this.settings.url, timeoutMs: HEALTH_TIMEOUT_MS }, this.clock).then(
        () => {
          if (this.unresponsive !== state) return;
          this.unresponsive = undefined;
          log.info(`InfluxDB at ${this.settings.url} answers again`, { after_s: Math.round((Date.now() - state.since) / 1000) });
        },
        () => {
          if (this.unresponsive === state) state.prober = setTimeout(probe, 1000).unref();
        },
      );
    };
    state.prober = setTimeout(probe, 0).unref();
  }

  private async queryOnce(q: InfluxQL, options: { db?: boolean; operation?: StorageOperation; timeoutMs?: number }): Promise<StatementResult[]> {
    if (!(q instanceof InfluxQL)) throw new TypeError('queries are built with iql`…`');
    const { url, db } = this.settings;
    const refused = this.failFast();
    if (refused) throw refused;
    const timeoutMs = Math.min(options.timeoutMs ?? Infinity, this.settings.timeoutMs);
    const params = new URLSearchParams({ q: q.text, epoch: 'ms' });
    if (options.db !== false) params.set('db', db);
    let res: HttpResponse;
    const sentAt = Date.now();
    try {
      res = await send(new URL('/query', url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.authHeader },
        body: params.toString(),
        timeoutMs,
      });
    } catch (e) {
      const error = InfluxStore.networkError(url, e);
      if (error.code === 'timeout') this.markUnresponsive();
      throw error;
    }
    this.clock.observe(res.headers.date, sentAt, res.receivedAtMs);
    this.queryStats.requests++;
    this.queryStats.bytes += res.bytes;
    const text = res.body;
    let body: RawResponse = {};
    try {
      body = text ? (JSON.parse(text) as RawResponse) : {};
    } catch {
      body = { error: text.slice(0, 500) };
    }
    const context = { url, db, query: q.text, operation: options.operation ?? 'read' };
    if (res.status !== 200) throw fromHttp(res.status, body.error ?? `HTTP ${res.status}`, context);
    if (body.error) throw fromHttp(400, body.error, context);
    return (body.results ?? []).map((r) => {
      if (r.error) {
        if (/database not found/i.test(r.error)) throw databaseMissing(db, url, r.error);
        if (/requires (admin privilege|read|write)|not authorized/i.test(r.error)) throw fromHttp(403, r.error, context);
        throw new StorageError('query', `InfluxQL error: ${r.error}\n  query: ${q.text}`, 400);
      }
      return {
        series: (r.series ?? []).map((s) => ({ name: s.name ?? '', tags: s.tags ?? {}, columns: s.columns ?? [], values: s.values ?? [] })),
      };
    });
  }

  /**
   * Whether InfluxDB serves this store now, asked the way the API uses it (a read of its
   * database, with these credentials), answered within `timeoutMs` whatever the server does:
   * a hung server, wrong or rotated credentials and a missing database are each unhealthy,
   * with the reason.
   */
  async health(timeoutMs = HEALTH_TIMEOUT_MS): Promise<{ ok: true } | { ok: false; code: StorageError['code']; error: string }> {
    const refused = this.failFast();
    if (refused) return { ok: false, code: refused.code, error: refused.message };
    try {
      // a read any reader of the database may make; on 1.x one that also finds it missing
      await this.queryOnce(this.version.major === 1 ? iql`SHOW RETENTION POLICIES` : iql`SHOW MEASUREMENTS LIMIT 1`, { timeoutMs });
      return { ok: true };
    } catch (e) {
      // a dropped database is made again where the credentials may (as any query would)
      if (e instanceof StorageError && e.code === 'database_missing' && (await this.recreateDatabase())) return { ok: true };
      const error = e instanceof StorageError ? this.missingError(e) : unreachable(this.settings.url, e);
      return { ok: false, code: error.code, error: error.message };
    }
  }

  /** Whether points can be deleted here (1.x: InfluxQL DELETE; 2.x: /api/v2/delete; InfluxDB 3 cannot). */
  get canDelete(): boolean {
    return this.version.major === 1 || this.version.major === 2;
  }

  /**
   * Deletes the points of `measurement` whose tags equal `tags`, in [fromMs, toMs]: on 1.x with
   * InfluxQL's DELETE, on 2.x through /api/v2/delete and its predicate (untested here: no 2.x
   * server can be had; the request follows InfluxDB's documentation of the endpoint).
   */
  async deletePoints(measurement: string, tags: Readonly<Record<string, string>>, fromMs: number, toMs: number): Promise<void> {
    if (this.version.major === 1) {
      const conditions = Object.entries(tags).map(([k, v]) => iql`${ident(k)} = ${str(v)}`);
      await this.query(iql`DELETE FROM ${ident(measurement)} WHERE ${join([...conditions, iql`time >= ${timeMs(fromMs)}`, iql`time <= ${timeMs(toMs)}`], ' AND ')}`);
      return;
    }
    if (this.version.major !== 2) throw new StorageError('server', `InfluxDB ${this.version.raw} cannot delete points`, 501);
    const quote = (v: string) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    const predicate = [`_measurement=${quote(measurement)}`, ...Object.entries(tags).map(([k, v]) => `${k}=${quote(v)}`)].join(' AND ');
    const { url, org, db, timeoutMs } = this.settings;
    const params = new URLSearchParams({ org, bucket: db });
    let res: HttpResponse;
    try {
      res = await send(new URL(`/api/v2/delete?${params.toString()}`, url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.authHeader },
        // the stop is exclusive in 2.x: one millisecond past the last
        body: JSON.stringify({ start: new Date(fromMs).toISOString(), stop: new Date(toMs + 1).toISOString(), predicate }),
        timeoutMs,
      });
    } catch (e) {
      throw InfluxStore.networkError(url, e);
    }
    if (res.status !== 204 && res.status !== 200) throw fromHttp(res.status, res.body.slice(0, 500), { url, db });
  }

  /**
   * Several statements in one request, each under a name (a list of them under one name): the
   * results come back by the same names, never by position.
   */
  async queryNamed<N extends NamedStatements>(named: N): Promise<NamedResults<N>> {
    const entries = Object.entries(named).filter(([, q]) => !Array.isArray(q) || q.length > 0);
    const flat = entries.flatMap(([, q]) => (Array.isArray(q) ? q : [q as InfluxQL]));
    const results = flat.length > 0 ? await this.query(join(flat, '; ')) : [];
    const out: Record<string, StatementResult | undefined | Array<StatementResult | undefined>> = {};
    let i = 0;
    for (const [name, q] of Object.entries(named)) {
      if (Array.isArray(q)) {
        out[name] = q.map((_, k) => results[i + k]);
        i += q.length;
      } else out[name] = results[i++];
    }
    return out as NamedResults<N>;
  }

  /** Rows of the first statement, every series flattened, tags merged into each row. */
  async rows<T extends Row = Row>(q: InfluxQL): Promise<T[]> {
    const [first] = await this.query(q);
    return first ? seriesRows<T>(first.series) : [];
  }


  writer(options: WriterOptions = {}): Writer {
    const { url, db, org } = this.settings;
    const batchSize = options.batchSize ?? 5000;
    const api = this.client.getWriteApi(org, db, 'ms', {
      // batches are cut by Writer.flush(); the client never sends on its own
      batchSize: batchSize + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: options.maxRetries ?? 5,
      maxRetryTime: options.maxRetryTimeMs ?? 180_000,
      maxBufferLines: options.maxBufferLines ?? 100_000,
      minRetryDelay: options.minRetryDelayMs ?? 500,
      maxRetryDelay: options.maxRetryDelayMs ?? 30_000,
      retryJitter: 200,
      gzipThreshold: 64 * 1024,
      headers: this.version.legacyWrite ? this.authHeader : {},
    });
    return new Writer(
      api,
      batchSize,
      (e) => mapWriteError(e, url, db),
      () => this.recreateDatabase(),
      (e) => this.missingError(e),
    );
  }

  /**
   * Writes samples now, retrying as the writer does; resolves once they are stored. While
   * InfluxDB does not answer (see markUnresponsive()), fails at once instead of waiting for it.
   *
   * Writes asked for while another is on its way go together in the next request (a group
   * commit): InfluxDB syncs its log once per request, so 200 runs started at once are a few
   * requests, not 200 one after another. A write alone goes at once. Each caller's points are
   * encoded before they join a group (a point that cannot be encoded fails only its caller); a
   * group refused for its content is written again caller by caller, so that one caller's bad
   * point fails only that caller.
   */
  write(samples: readonly Sample[]): Promise<void> {
    const refused = this.failFast();
    if (refused) return Promise.reject(refused);
    let lines: string[];
    try {
      lines = toLines(samples);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return new Promise<void>((resolve, reject) => {
      this.writeQueue.push({ lines, resolve, reject });
      if (!this.writing) void this.drainWrites();
    });
  }

  private writeQueue: PendingWrite[] = [];
  private writing = false;

  private async drainWrites(): Promise<void> {
    this.writing = true;
    try {
      while (this.writeQueue.length > 0) {
        const group = this.takeGroup();
        try {
          await this.writeNow(group.flatMap((w) => w.lines));
          for (const w of group) w.resolve();
        } catch (e) {
          const error = e instanceof Error ? e : new Error(String(e));
          if (group.length > 1 && error instanceof StorageError && !error.retryable && !error.refused) {
            for (const w of group) await this.writeNow(w.lines).then(w.resolve, w.reject);
          } else {
            for (const w of group) w.reject(error);
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** The oldest waiting writes, up to one request's worth of lines (a single larger write goes whole: the writer cuts it). */
  private takeGroup(): PendingWrite[] {
    let lines = 0;
    let n = 0;
    while (n < this.writeQueue.length && (n === 0 || lines + (this.writeQueue[n]?.lines.length ?? 0) <= WRITE_GROUP_LINES)) {
      lines += this.writeQueue[n]?.lines.length ?? 0;
      n++;
    }
    return this.writeQueue.splice(0, n);
  }

  private async writeNow(lines: readonly string[]): Promise<void> {
    const refused = this.failFast();
    if (refused) throw refused;
    const writer = this.writer({ maxRetries: 2, maxRetryTimeMs: 10_000 });
    writer.writeLines(lines);
    try {
      await writer.close();
    } catch (e) {
      if (e instanceof StorageError && e.code === 'timeout') this.markUnresponsive();
      throw e;
    }
  }
}

/** The most lines one group commit sends in a request (the writer's own batch size). */
const WRITE_GROUP_LINES = 5000;

interface PendingWrite {
  lines: string[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export function seriesRows<T extends Row = Row>(series: readonly Series[]): T[] {
  const out: T[] = [];
  for (const s of series) {
    for (const values of s.values) {
      const row: Row = { ...s.tags };
      s.columns.forEach((c, i) => {
        row[c] = values[i] ?? null;
      });
      out.push(row as T);
    }
  }
  return out;
}

function mapWriteError(e: unknown, url: string, db: string): StorageError {
  if (e instanceof StorageError) return e;
  if (e instanceof HttpError) {
    let message = e.body ?? e.message;
    try {
      const parsed = JSON.parse(e.body ?? '') as { error?: string; message?: string };
      message = parsed.error ?? parsed.message ?? message;
    } catch {
      // a body that is not JSON is its own message
    }
    return fromHttp(e.statusCode, message, { url, db, operation: 'write' });
  }
  if (e instanceof Error && /timed out/i.test(e.message)) return new StorageError('timeout', `InfluxDB at ${url} did not answer a write in time`);
  return unreachable(url, e);
}
