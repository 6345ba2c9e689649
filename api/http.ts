/** HTTP plumbing shared by the routes: errors as JSON with the wrong field, auth, JSON bodies. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import { StorageError } from '../common/storage/errors.js';
import { logger } from '../common/log.js';
import { ApiError } from './errors.js';
import { PATTERN_RULES } from './schemas/runs.js';

const log = logger('api');

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
  /** set by ajv when a `propertyNames` rule failed: the key at fault */
  propertyName?: string;
}

/** The field an ajv error is about: `hosts/0`, `model`, or the missing/extra property. */
export function fieldOf(e: AjvError): string {
  const path = (e.instancePath ?? '').replace(/^\//, '');
  const extra = (e.params?.missingProperty ?? e.params?.additionalProperty) as string | undefined;
  return [path, extra].filter(Boolean).join('/') || '(root)';
}

/**
 * The error that says most about the input. A union (an import is one item or an array of
 * them) fails in each branch: the branch that got deepest into the body is the one the client
 * meant, so `0/labels` wins over the other branch's "body must be object".
 */
function mostSpecific(errors: readonly AjvError[]): AjvError {
  const depth = (e: AjvError) => (fieldOf(e) === '(root)' ? 0 : fieldOf(e).split('/').length);
  let best = errors[0] as AjvError;
  for (const e of errors) if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && depth(e) > depth(best)) best = e;
  return best;
}

/** What a validation error says about its field: the rule in words a person can act on. */
function ruleOf(e: AjvError): string {
  if (e.keyword === 'additionalProperties') return 'is not a known field';
  if (e.keyword === 'required') return 'is required';
  const rule = (e.keyword === 'pattern' && PATTERN_RULES.get(String(e.params?.pattern))) || (e.message ?? 'is invalid');
  return e.propertyName === undefined ? rule : `has a key ${JSON.stringify(e.propertyName)} that ${rule}`;
}

export function errorHandler(error: FastifyError & { validation?: AjvError[]; validationContext?: string }, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ApiError) {
    void reply.status(error.statusCode).send({ statusCode: error.statusCode, error: httpName(error.statusCode), message: error.message, ...error.details });
    return;
  }
  if (error.validation && error.validation.length > 0) {
    const first = mostSpecific(error.validation);
    const field = fieldOf(first);
    const context = error.validationContext ?? 'body';
    void reply.status(400).send({ statusCode: 400, error: 'Bad Request', message: `${field === '(root)' ? context : `${context}/${field}`} ${ruleOf(first)}`, field });
    return;
  }
  if (error instanceof StorageError) {
    storageErrorReply(error, request, reply);
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

/**
 * A StorageError's message carries InfluxQL or line protocol, the server's URL and its answer:
 * for the API log, never for the client. InfluxDB refusing a query or a write means the values
 * of this request got past the checks (a 400, nothing for the operator to fix); anything else
 * is InfluxDB being unavailable to the API (a 503).
 */
function storageErrorReply(error: StorageError, request: FastifyRequest, reply: FastifyReply): void {
  log.error('storage error', { route: request.routeOptions.url, method: request.method, code: error.code, status: error.status, error: error.message });
  if (error.code === 'query' || error.code === 'write') {
    void reply.status(400).send({
      statusCode: 400,
      error: 'Bad Request',
      message: 'InfluxDB refused the values of this request: check them against the API documentation at /docs (times from 1677-09-21 to 2262-04-11, finite numbers); the API log has the detail',
    });
    return;
  }
  const why =
    error.refused
      ? 'InfluxDB refuses the API (its credentials or database are not set up): an operator needs to fix the API’s InfluxDB settings; the API log has the detail'
      : 'InfluxDB is unavailable (unreachable, timing out or failing): try again shortly; the API log has the detail';
  if (error.retryable) void reply.header('retry-after', '5');
  void reply.status(503).send({ statusCode: 503, error: 'Service Unavailable', message: why });
}

function httpName(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 503: 'Service Unavailable' }[
      status
    ] ?? 'Error'
  );
}

export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a request needs `Authorization: Bearer <token>`: the auth hook and the OpenAPI document both ask this. */
export function needsToken(method: string, url: string, api: Pick<Config['api'], 'token' | 'protectReads'>): boolean {
  if (!api.token || !url.startsWith('/api/')) return false;
  return WRITE_METHODS.has(method.toUpperCase()) || api.protectReads;
}

/**
 * JSON bodies as fastify parses them (prototype poisoning refused), except that an empty body
 * is no body: `content-type: application/json` with nothing after it reaches the route as
 * undefined, like a bare POST, and the route's schema says whether it needs one.
 */
export function parseJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, undefined);
    else parse(request, text, done);
  });
}

