/**
 * What /healthz says: what InfluxDB answers to a read of the API's database with the API's
 * credentials, within HEALTH_TIMEOUT_MS — wrong or rotated credentials, a missing database and a
 * hung server are each unhealthy, with the reason (the URL in it carries no credentials:
 * ../../common/storage/store.ts).
 */
import type { StorageError } from '../../common/storage/errors.js';
import type { InfluxStore } from '../../common/storage/store.js';

export type HealthReport =
  | { reachable: true; version: string; database: string }
  | { reachable: boolean; state: StorageError['code']; error: string; database: string };

export class HealthCheck {
  constructor(private readonly store: InfluxStore) {}

  /** `ok`: whether the database answers a read; the report as /healthz gives it. */
  async influxdb(): Promise<{ ok: boolean; report: HealthReport }> {
    const health = await this.store.health();
    if (health.ok) return { ok: true, report: { reachable: true, version: this.store.version.raw, database: this.store.db } };
    const reachable = health.code !== 'unreachable' && health.code !== 'timeout';
    return { ok: false, report: { reachable, state: health.code, error: health.error, database: this.store.db } };
  }
}
