/** What /healthz says: whether InfluxDB answers, its version and the database, or why not. */
import { InfluxStore } from '../../common/storage/store.js';

export type HealthReport = { reachable: true; version: string; database: string } | { reachable: false; error: string };

export class HealthCheck {
  constructor(private readonly store: InfluxStore) {}

  async influxdb(): Promise<HealthReport> {
    try {
      const version = await InfluxStore.ping(this.store.settings);
      return { reachable: true, version: version.raw, database: this.store.db };
    } catch (e) {
      return { reachable: false, error: (e as Error).message };
    }
  }
}
