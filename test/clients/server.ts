/** The real API listening on a loopback port, over its own database, with power data for a host. */
import { loadConfig } from '../../common/config.js';
import { buildApp, type App } from '../../api/app.js';
import { InfluxStore } from '../../common/storage/store.js';
import { testSettings } from '../helpers.js';
import { powerPoints } from '../api/harness.js';

export interface LiveServer {
  url: string;
  app: App;
  store: InfluxStore;
  close(): Promise<void>;
}

/** `store`: serve an existing database (an API that comes back, or one over another influxd) instead of a fresh one. */
export async function liveServer(prefix: string, env: Record<string, string> = {}, options: { store?: InfluxStore } = {}): Promise<LiveServer> {
  const config = loadConfig({ HOME: '/nonexistent', WATTSCOPE_HOST: 'client-host', WATTSCOPE_API_RATE_LIMIT: '100000', ...env });
  // the server talks to InfluxDB with the configured token, as `wattscope serve` does (the
  // suite's influxd has no auth and ignores it)
  const store = options.store ?? (await InfluxStore.open({ ...testSettings(prefix), token: config.influx.token }));
  const app = await buildApp({ config, store });
  const url = await app.fastify.listen({ port: 0, host: '127.0.0.1' });
  return { url, app, store, close: () => app.fastify.close() };
}

/** A steady `watts` on `host`, from a minute ago to `aheadS` seconds from now, one point per second. */
export async function steadyPower(store: InfluxStore, host: string, watts: number, aheadS = 300): Promise<void> {
  const from = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  await store.write(powerPoints(host, 'nvml/0', from, 60 + aheadS, () => watts));
}
