/** The hosts the collectors describe (their `host` records), as GET /api/hosts gives them. */
import { Type, type Static } from '@sinclair/typebox';
import { POWER_DOMAINS, POWER_METHODS } from '../../common/model.js';

const Nullable = <T extends ReturnType<typeof Type.Number> | ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const HostSchema = Type.Object({
  host: Type.String(),
  platform: Type.String({ description: 'The platform its collector works out (or WATTSCOPE_PLATFORM of the collector): runs on this host are filed under it unless they name one.' }),
  cpu_model: Nullable(Type.String()),
  gpus: Type.Array(Type.Object({ index: Type.Integer(), name: Type.String(), uuid: Type.Optional(Type.String()) })),
  sources: Type.Array(
    Type.Object({
      id: Type.String(),
      domain: Type.Union(POWER_DOMAINS.map((d) => Type.Literal(d))),
      method: Type.Union(POWER_METHODS.map((m) => Type.Literal(m))),
      in_total: Type.Boolean(),
      gpu: Type.Optional(Type.Integer()),
      reading: Type.Optional(Type.String({ description: 'The value it reads, in its sensor’s words: energy_uj, power1_input, power1_average, power.draw.instant, nvmlDeviceGetTotalEnergyConsumption…' })),
    }),
  ),
  workload: Type.Array(Type.Object({ instance: Type.String({ description: 'host:port of its /metrics.' }), engine: Nullable(Type.String({ description: 'The engine recognised at its last scrape; null before one answered.' })) }), {
    description: 'The inference servers its collector scrapes for requests and tokens (WATTSCOPE_SERVING_METRICS_URL).',
  }),
  sample_hz: Nullable(Type.Number()),
  report_interval_s: Nullable(Type.Number()),
  flush_interval_s: Nullable(Type.Number({ description: 'How late its points can be: a run’s stop waits up to this (plus its report interval and a margin).' })),
  version: Nullable(Type.String()),
  clock_offset_s: Nullable(Type.Number({ description: 'Its clock minus InfluxDB’s, seconds.' })),
  clock_offset_error_s: Nullable(Type.Number()),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  seen_at: Type.String({ format: 'date-time', description: 'When its collector last wrote this record (every minute while it runs).' }),
});
export type HostReply = Static<typeof HostSchema>;

export const HostsReply = Type.Object({ hosts: Type.Array(HostSchema) });
