/** /healthz and /metrics. */
import type { FastifyInstance } from 'fastify';
import type { InfluxStore } from '../../common/storage/store.js';
import type { ApiMetrics } from '../metrics.js';

export function systemRoutes(app: FastifyInstance, store: InfluxStore, metrics: ApiMetrics): void {
  // what InfluxDB answers to a read of the API's database with the API's credentials, within
  // HEALTH_TIMEOUT_MS: wrong or rotated credentials, a missing database and a hung server are each
  // unhealthy, with the reason (the URL in it carries no credentials: ../../common/storage/store.ts)
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    const health = await store.health();
    if (health.ok) return { status: 'ok', influxdb: { reachable: true, version: store.version.raw, database: store.db } };
    const reachable = health.code !== 'unreachable' && health.code !== 'timeout';
    return reply.status(503).send({ status: 'degraded', influxdb: { reachable, state: health.code, error: health.error, database: store.db } });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
