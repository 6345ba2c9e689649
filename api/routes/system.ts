/** /healthz and /metrics. */
import type { FastifyInstance } from 'fastify';
import { InfluxStore } from '../../common/storage/store.js';
import type { ApiMetrics } from '../metrics.js';

export function systemRoutes(app: FastifyInstance, store: InfluxStore, metrics: ApiMetrics): void {
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      const version = await InfluxStore.ping(store.settings);
      return { status: 'ok', influxdb: { reachable: true, version: version.raw, database: store.db } };
    } catch (e) {
      return reply.status(503).send({ status: 'degraded', influxdb: { reachable: false, error: (e as Error).message } });
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
