/**
 * The OpenAPI document at /docs/json and the two route rules it must describe truthfully:
 * which routes need the bearer token (the same rule the auth hook applies), and which bodies
 * may be left out.
 *
 * The document is OpenAPI 3.1.0: its Schema Object is JSON Schema, so the TypeBox schemas that
 * validate requests and serialise replies appear in it unchanged (numeric `exclusiveMinimum`,
 * `propertyNames`, `type: 'null'`). OpenAPI 3.0.3's dialect has neither of the first two, and
 * rewriting them its way (boolean `exclusiveMinimum`) would make ajv, which validates with
 * these very schemas, refuse them.
 *
 * Every operation has an operationId (in its route's schema: the name a generated client gives
 * its method), an example (./schemas/examples.ts) and its security: `security: []` where the
 * deployment needs no token, the bearer scheme where it does (the scheme itself is listed only
 * then). Redocly's recommended ruleset passes it (test/api/routes/openapi-tools.e2e.test.ts).
 */
import type { FastifyInstance, FastifyRequest, RouteOptions, preValidationHookHandler } from 'fastify';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { Config } from '../common/config.js';
import { LICENSE, VERSION } from '../common/version.js';
import { needsToken } from './http.js';
import { EXAMPLES } from './schemas/examples.js';
import { LivePointSchema } from './schemas/live.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body may be left out (no body, or an empty one with a JSON content type): the handler gets {}. */
    optionalBody?: boolean;
  }
}

const BEARER = 'bearer';

/** The operations' tags, described. */
const TAGS = [
  { name: 'runs', description: 'Runs: start, heartbeat and stop them, set their results later, list, export and import them; baselines of idle power; series of repeated runs.' },
  { name: 'compare', description: 'Models × platforms: every score with its repeat statistics, ranks, factors against a reference platform, and the tables for a paper.' },
  { name: 'hosts', description: 'The hosts the collectors describe: platform, power sources and how each is read, intervals, clock offset.' },
  { name: 'live', description: 'Recent power per source, and new points as they land (server-sent events).' },
];

interface Media {
  schema?: unknown;
  example?: unknown;
}
interface Operation {
  operationId?: string;
  requestBody?: { required?: boolean; content?: Record<string, Media> };
  responses?: Record<string, { content?: Record<string, Media> }>;
}

/** The operation's example (./schemas/examples.ts) beside its request body and its 2xx replies. */
function addExamples(op: Operation): void {
  const example = op.operationId === undefined ? undefined : EXAMPLES[op.operationId];
  if (!example) return;
  const body = op.requestBody?.content?.['application/json'];
  if (body && example.body !== undefined) body.example = example.body;
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    if (!status.startsWith('2')) continue;
    for (const [type, media] of Object.entries(response.content ?? {})) {
      const value = type === 'application/json' ? example.reply : example.text?.[type];
      if (value !== undefined) media.example = value;
    }
  }
}

/** `/api/runs/:id/stop` → `/api/runs/{id}/stop`, as the document names paths. */
export function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const emptyBodyIsObject: preValidationHookHandler = (request: FastifyRequest, _reply, done) => {
  if (request.body === undefined) request.body = {};
  done();
};

/**
 * Registers, before any route: the optional-body rule and the per-route security requirement.
 * Returns the swagger options whose document reflects both.
 */
export function openapi(app: FastifyInstance, api: Config['api']): FastifyDynamicSwaggerOptions {
  const optionalBodies = new Set<string>();
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = typeof route.method === 'string' ? [route.method] : [...route.method];
    if (route.config?.optionalBody) {
      const own = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
      route.preValidation = [emptyBodyIsObject, ...own];
      for (const m of methods) optionalBodies.add(`${m.toLowerCase()} ${openapiPath(route.url)}`);
    }
    // declared on every operation, none where none is needed: a client must not guess
    route.schema = { ...route.schema, security: methods.some((m) => needsToken(m, route.url, api)) ? [{ [BEARER]: [] }] : [] };
  });
  app.addSchema({ ...LivePointSchema, $id: 'LivePoint' });
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Wattscope API',
        version: VERSION,
        description: 'Tag ML runs, integrate their energy, score models by accuracy per energy.',
        license: { name: LICENSE, identifier: LICENSE },
      },
      // relative: the server that serves this document (behind a proxy too), whatever its address
      servers: [{ url: '/', description: 'This API: the server this document is served by.' }],
      tags: TAGS,
      // only a deployment with a token has a scheme to name (WATTSCOPE_API_TOKEN)
      ...(api.token
        ? {
            components: {
              securitySchemes: {
                [BEARER]: {
                  type: 'http',
                  scheme: 'bearer',
                  description: `The token set in WATTSCOPE_API_TOKEN: writes need it${api.protectReads ? ', and reads (WATTSCOPE_API_PROTECT_READS)' : ''}.`,
                },
              },
            },
          }
        : {}),
    },
    // shared schemas keep their $id as their name under components/schemas
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const paths = (doc.openapiObject.paths ?? {}) as Record<string, Record<string, Operation | undefined>>;
      for (const key of optionalBodies) {
        const [method, path] = key.split(' ') as [string, string];
        const body = paths[path]?.[method]?.requestBody;
        if (body) body.required = false;
      }
      for (const item of Object.values(paths)) for (const op of Object.values(item)) if (op) addExamples(op);
      return doc.openapiObject;
    },
  };
}
