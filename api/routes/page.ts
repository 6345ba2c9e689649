/** The built-in live page: static files read once at start, uPlot served from node_modules. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../../common/paths.js';

const require = createRequire(import.meta.url);
const page = (name: string) => join(packageRoot(), 'api', 'page', name);

interface Asset {
  type: string;
  body: Buffer;
}

function assets(): Map<string, Asset> {
  const files: Array<[string, string, string]> = [
    ['/', 'text/html; charset=utf-8', page('index.html')],
    // the page's own ES modules (app.js imports the others)
    ...['app.js', 'common.js', 'live.js', 'serving.js', 'runs.js', 'compare.js'].map((f): [string, string, string] => [`/static/${f}`, 'text/javascript; charset=utf-8', page(f)]),
    ['/static/style.css', 'text/css; charset=utf-8', page('style.css')],
    ['/static/uplot.js', 'text/javascript; charset=utf-8', require.resolve('uplot/dist/uPlot.iife.min.js')],
    ['/static/uplot.css', 'text/css; charset=utf-8', require.resolve('uplot/dist/uPlot.min.css')],
  ];
  return new Map(files.map(([route, type, file]) => [route, { type, body: readFileSync(file) }]));
}

/** Nothing external, nothing inline: the page works offline and runs only our own scripts. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

export function pageRoutes(app: FastifyInstance): void {
  for (const [route, asset] of assets()) {
    app.get(route, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(asset.type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(asset.body),
    );
  }
}
