/** Errors of the storage layer; each says what went wrong and what to do about it. */

export const STORAGE_ERROR_CODES = ['unreachable', 'unauthorized', 'database_missing', 'query', 'write', 'server', 'timeout'] as const;
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

/** Maps an HTTP status and the server's message to a StorageError that says what to do. */
export function fromHttp(status: number, serverMessage: string, context: { url: string; db: string; query?: string }): StorageError {
  if (status === 401 || status === 403) {
    return new StorageError(
      'unauthorized',
      `InfluxDB at ${context.url} refused the credentials (${status}: ${serverMessage}): set WATTSCOPE_INFLUX_TOKEN to a token with read/write access to "${context.db}"`,
      status,
    );
  }
  if (/database not found|bucket .*not found/i.test(serverMessage)) return databaseMissing(context.db, context.url, serverMessage);
  if (context.query !== undefined && status === 400) {
    return new StorageError('query', `InfluxQL error: ${serverMessage}\n  query: ${context.query}`, status);
  }
  if (status === 400 || status === 413 || status === 422) {
    return new StorageError('write', `InfluxDB rejected the data (${status}): ${serverMessage}`, status);
  }
  return new StorageError('server', `InfluxDB at ${context.url} answered ${status}: ${serverMessage}`, status);
}

export function databaseMissing(db: string, url: string, serverMessage: string): StorageError {
  return new StorageError(
    'database_missing',
    `database/bucket "${db}" does not exist on ${url} (${serverMessage}): on InfluxDB 1.x Wattscope creates it at start; on 2.x/3.x create the bucket (or set WATTSCOPE_INFLUX_DB to an existing one)`,
    404,
  );
}
