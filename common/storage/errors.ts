/** Errors of the storage layer; each says what went wrong and what to do about it. */

/**
 * - `unauthorized`: the credentials are wrong (401);
 * - `forbidden`: they are right but may not do this (403): create the database, read or write it.
 */
export const STORAGE_ERROR_CODES = ['unreachable', 'unauthorized', 'forbidden', 'database_missing', 'query', 'write', 'server', 'timeout'] as const;
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
  /** Refused until a person changes something: the credentials, their rights, a database or bucket. */
  get refused(): boolean {
    return this.code === 'unauthorized' || this.code === 'forbidden' || this.code === 'database_missing';
  }
  /**
   * Worth trying again as it is (the server may come back, or is shedding load: 5xx, 429); the
   * others need a change by a person (credentials, a bucket) or to the data itself.
   */
  get retryable(): boolean {
    return this.code === 'unreachable' || this.code === 'timeout' || (this.code === 'server' && ((this.status ?? 500) >= 500 || this.status === 429));
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET', 'ETIMEDOUT']);

function causeCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export function unreachable(url: string, e: unknown): StorageError {
  const code = causeCode(e) ?? (e instanceof Error ? e.message : 'error');
  return new StorageError(
    'unreachable',
    `cannot reach InfluxDB at ${url} (${code}): is influxd running? Start the local stack with \`wattscope up\`, or set WATTSCOPE_INFLUX_URL to your server`,
  );
}

export function isNetworkError(e: unknown): boolean {
  const code = causeCode(e);
  return code !== undefined && NETWORK_CODES.has(code);
}

/** What a request to InfluxDB was doing, for an error message that says which right is missing. */
export type StorageOperation = 'read' | 'write' | 'create';

const ACCESS_DOC = 'docs/ACCESS.md lists the least rights each service needs';

/** Maps an HTTP status and the server's message to a StorageError that says what to do. */
export function fromHttp(status: number, serverMessage: string, context: { url: string; db: string; query?: string; operation?: StorageOperation }): StorageError {
  const { url, db } = context;
  if (status === 401) {
    return new StorageError(
      'unauthorized',
      `InfluxDB at ${url} refused the credentials (${status}: ${serverMessage}): set WATTSCOPE_INFLUX_TOKEN (or the user:password in WATTSCOPE_INFLUX_URL) to ones it accepts: an API token on InfluxDB 2.x/3.x, user:password on 1.x`,
      status,
    );
  }
  // 1.x answers 403 for a right the user lacks ("requires admin privilege", "requires READ on …"); 2.x/3.x likewise for a token's permission
  if (status === 403 || /requires (admin privilege|read|write)|not authorized to execute/i.test(serverMessage)) {
    const operation = context.operation ?? (context.query !== undefined ? 'read' : 'write');
    const why =
      operation === 'create'
        ? `cannot create the database "${db}" on ${url}: these credentials are not an admin's (${serverMessage}). Ask an admin to create it (1.x: CREATE DATABASE "${db}"; 2.x/3.x: a bucket "${db}"), or set WATTSCOPE_INFLUX_DB to one that exists; Wattscope itself needs no admin right`
        : operation === 'write'
          ? `InfluxDB at ${url} refused to store points in "${db}" (${serverMessage}): these credentials may not write it; grant write access (1.x: GRANT WRITE ON "${db}" TO <user>; 2.x/3.x: a token with write permission on the bucket)`
          : `InfluxDB at ${url} refused to read "${db}" (${serverMessage}): these credentials may not read it, or it does not exist (InfluxDB 1.x tells a user without rights on a database no more); grant read access (1.x: GRANT READ ON "${db}" TO <user>; 2.x/3.x: a token with read permission on the bucket), or have an admin create it`;
    return new StorageError('forbidden', `${why}; ${ACCESS_DOC}`, 403);
  }
  if (/database not found|bucket .*not found/i.test(serverMessage)) return databaseMissing(db, url, serverMessage);
  if (context.query !== undefined && status === 400) {
    return new StorageError('query', `InfluxQL error: ${serverMessage}\n  query: ${context.query}`, status);
  }
  if (status === 400 || status === 413 || status === 422) {
    return new StorageError('write', `InfluxDB rejected the data (${status}): ${serverMessage}`, status);
  }
  return new StorageError('server', `InfluxDB at ${url} answered ${status}: ${serverMessage}`, status);
}

export function databaseMissing(db: string, url: string, serverMessage: string): StorageError {
  return new StorageError(
    'database_missing',
    `database/bucket "${db}" does not exist on ${url} (${serverMessage}): on InfluxDB 1.x Wattscope creates it at start; on 2.x/3.x create the bucket (or set WATTSCOPE_INFLUX_DB to an existing one)`,
    404,
  );
}
