/** `wattscope serve`: boots the API, starts its jobs, closes gracefully on SIGTERM. */
import type { Config } from '../common/config.js';
import { logger } from '../common/log.js';
import { InfluxStore, settingsFromConfig } from '../common/storage/store.js';
import { StorageError } from '../common/storage/errors.js';
import { buildApp } from './app.js';
import { startJobs } from './jobs/index.js';

const log = logger('api');

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

async function openStore(config: Config): Promise<InfluxStore> {
  // credentials given twice, or a URL that is none: wrong now and later alike, so not retried
  const settings = settingsFromConfig(config);
  for (let attempt = 0; ; attempt++) {
    try {
      return await InfluxStore.open(settings);
    } catch (e) {
      if (attempt >= 30) throw e;
      const refused = e instanceof StorageError && e.refused;
      if (attempt === 0) log.warn(refused ? 'InfluxDB refuses the API; trying again for a while in case it is being set up' : 'InfluxDB is not reachable yet; retrying', { error: e });
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** attempt)));
    }
  }
}

export async function startServer(config: Config): Promise<RunningServer> {
  const store = await openStore(config);
  const app = await buildApp({ config, store });
  const { fastify } = app;
  const jobs = startJobs(app.jobs, { metrics: app.metrics });
  const address = await fastify.listen({ port: config.api.port, host: config.api.bind });
  log.info(`API listening on ${address} (OpenAPI docs at ${address}/docs)`, { influxdb: store.settings.url, database: store.db, auth: config.api.token ? 'bearer token on writes' : 'none' });
  // the comparison's view is read whole once; better now than in a user's first request
  app.reads.warm().catch((e: unknown) => log.warn('the comparison could not be read at start; the first GET /api/compare reads it', { error: e }));
  return {
    url: address,
    async close() {
      for (const job of jobs) await job.stop();
      await fastify.close();
    },
  };
}
