/** HTTP plumbing shared by the routes: errors as JSON with the wrong field, auth, input checks. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StorageError } from '../common/storage/errors.js';
import { logger } from '../common/log.js';
import { ApiError } from './errors.js';

const log = logger('api');

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The field an ajv error is about: `hosts/0`, `model`, or the missing/extra property. */
export function fieldOf(e: AjvError): string {
  const path = (e.instancePath ?? '').replace(/^\//, '');
  const extra = (e.params?.missingProperty ?? e.params?.additionalProperty) as string | undefined;
  return [path, extra].filter(Boolean).join('/') || '(root)';
}

export function errorHandler(error: FastifyError & { validation?: AjvError[]; validationContext?: string }, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ApiError) {
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, error: httpName(error.statusCode), message: error.message, ...error.details });
    return;
  }
  if (error.validation && error.validation.length > 0) {
    const first = error.validation[0] as AjvError;
    const field = fieldOf(first);
    const rule = first.keyword === 'additionalProperties' ? 'is not a known field' : first.keyword === 'required' ? 'is required' : (first.message ?? 'is invalid');
    void reply.status(400).send({ statusCode: 400, error: 'Bad Request', message: `${error.validationContext ?? 'body'}/${field} ${rule}`, field });
    return;
  }
  if (error instanceof StorageError) {
    log.error('storage error', { route: request.routeOptions.url, error: error.message });
    void reply.status(503).send({ statusCode: 503, error: 'Service Unavailable', message: error.message });
    return;
  }
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status === 500) {
    log.error('unexpected error', { route: request.routeOptions.url, error: error.message, stack: error.stack });
    void reply.status(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'unexpected error; see the API log' });
    return;
  }
  void reply.status(status).send({ statusCode: status, error: httpName(status), message: error.message });
}

function httpName(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 503: 'Service Unavailable' }[
      status
    ] ?? 'Error'
  );
}

/** Path of the first string that cannot be stored as given: a NUL, or a lone UTF-16 surrogate. */
export function unstorableString(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') {
    // eslint-disable-next-line no-control-regex
    if (/\u0000/.test(value) || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) return path || '(root)';
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const bad = unstorableString(v, path ? `${path}/${i}` : String(i));
      if (bad) return bad;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}/${k}` : k;
      const bad = unstorableString(k, p) ?? unstorableString(v, p);
      if (bad) return bad;
    }
  }
  return undefined;
}

export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** ISO 8601 or epoch milliseconds → ms; throws a 400 naming the parameter. */
export function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError(400, `querystring/${field} must be an ISO 8601 date-time or epoch milliseconds`, { field });
  return ms;
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
