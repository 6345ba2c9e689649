/** /healthz and /metrics. */
import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics.js';
import type { HealthCheck } from '../services/health.js';

export function systemRoutes(app: FastifyInstance, health: HealthCheck, metrics: ApiMetrics): void {
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    const { healthy, ...influxdb } = await health.influxdb();
    return healthy ? { status: 'ok', influxdb } : reply.status(503).send({ status: 'degraded', influxdb });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
