/** GET /api/workload: a host's energy over a time range and what its serving engines did in it. */
import { Type, type Static } from '@sinclair/typebox';
import { Host, Nullable } from './runs.js';

export const WorkloadQuery = Type.Object(
  {
    host: Host,
    from: Type.String({ description: 'Start of the range: ISO 8601 date-time or epoch milliseconds.' }),
    to: Type.Optional(Type.String({ description: 'End of the range: ISO 8601 date-time or epoch milliseconds (default now).' })),
  },
  { additionalProperties: false },
);
export type WorkloadQuery = Static<typeof WorkloadQuery>;

const Work = {
  requests: Nullable(Type.Number({ description: 'Requests finished in the range (prorated at its edges); null where no engine counts them or no workload point covers the range.' })),
  prompt_tokens: Nullable(Type.Number()),
  output_tokens: Nullable(Type.Number()),
  energy_per_request_j: Nullable(Type.Number({ description: 'The host’s energy / requests (J).' })),
  energy_per_output_token_j: Nullable(Type.Number({ description: 'The host’s energy / output tokens (J).' })),
};

export const WorkloadReply = Type.Object({
  host: Type.String(),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  duration_s: Type.Number(),
  energy_j: Nullable(Type.Number({ description: 'The host’s energy over the range: its in-total sources (J).' })),
  coverage: Type.Number({ description: 'The share of the range its least-covered power source covers, 0–1.' }),
  ...Work,
  served: Type.Array(
    Type.Object({
      host: Type.String(),
      engine: Type.String(),
      model_name: Type.String(),
      instance: Type.String(),
      coverage: Type.Number({ description: 'The share of the range its workload points cover, 0–1.' }),
      energy_j: Nullable(Type.Number({ description: 'The host’s energy over the very intervals of this work (read by its collector at each scrape, J): its energy per unit divides this, so a server that started inside the range is not charged for the time before; null where its points carry none (then the host’s energy over the range).' })),
      ...Work,
    }),
    { description: 'Per engine, model and endpoint; each one’s energy per unit divides the whole host’s energy over its own work’s intervals (several engines on one host each divide all of it).' },
  ),
});
