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
 */
import type { FastifyInstance, FastifyRequest, RouteOptions, preValidationHookHandler } from 'fastify';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { Config } from '../common/config.js';
import { needsToken } from './http.js';
import { LivePointSchema } from './schemas/live.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body may be left out (no body, or an empty one with a JSON content type): the handler gets {}. */
    optionalBody?: boolean;
  }
}

const BEARER = 'bearer';

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
    if (methods.some((m) => needsToken(m, route.url, api))) route.schema = { ...route.schema, security: [{ [BEARER]: [] }] };
  });
  app.addSchema({ ...LivePointSchema, $id: 'LivePoint' });
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Wattscope API', version: '0.1.0', description: 'Tag ML runs, integrate their energy, score models by accuracy per energy.' },
      components: {
        securitySchemes: {
          [BEARER]: {
            type: 'http',
            scheme: 'bearer',
            description: 'The token set in WATTSCOPE_API_TOKEN. Writes need it when one is set; reads too with WATTSCOPE_API_PROTECT_READS.',
          },
        },
      },
    },
    // shared schemas keep their $id as their name under components/schemas
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const paths = (doc.openapiObject.paths ?? {}) as Record<string, Record<string, { requestBody?: { required?: boolean } } | undefined>>;
      for (const key of optionalBodies) {
        const [method, path] = key.split(' ') as [string, string];
        const body = paths[path]?.[method]?.requestBody;
        if (body) body.required = false;
      }
      return doc.openapiObject;
    },
  };
}
