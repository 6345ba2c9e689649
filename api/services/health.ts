/**
 * What /healthz says: whether InfluxDB serves the API now — a read of the API's database with the
 * API's credentials, answered within HEALTH_TIMEOUT_MS whatever the server does — its version and
 * the database, or why not: wrong or rotated credentials, a right missing, a missing database, a
 * hung or unreachable server (the URL in the reason carries no credentials: common/storage/store.ts).
 */
import type { InfluxStore } from '../../common/storage/store.js';
import type { StorageErrorCode } from '../../common/storage/errors.js';

export type HealthReport =
  | { healthy: true; reachable: true; version: string; database: string }
  | { healthy: false; reachable: boolean; state: StorageErrorCode; error: string; database: string };

export class HealthCheck {
  constructor(private readonly store: InfluxStore) {}

  async influxdb(): Promise<HealthReport> {
    const health = await this.store.health();
    const database = this.store.db;
    if (health.ok) return { healthy: true, reachable: true, version: this.store.version.raw, database };
    // refused (401/403, a missing database) is reachable; unreachable or hung is not
    return { healthy: false, reachable: health.code !== 'unreachable' && health.code !== 'timeout', state: health.code, error: health.error, database };
  }
}
