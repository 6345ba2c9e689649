/** The live page's replies (api/repo/live.ts): power per source on shared time buckets, and the SSE stream. */
import { Type } from '@sinclair/typebox';
import { Nullable } from './runs.js';

export const PowerSeriesSchema = Type.Object({
  host: Type.String(),
  source: Type.String(),
  domain: Type.String(),
  method: Type.String(),
  in_total: Type.Boolean(),
  power_w: Type.Array(Nullable(Type.Number()), { description: 'Mean power in each bucket of `times`; null where the source has no point.' }),
});

const Times = Type.Array(Type.Number(), { description: 'Bucket start times, epoch milliseconds, ascending.' });

export const PowerTableReply = Type.Object({ times: Times, series: Type.Array(PowerSeriesSchema) });

export const RunPowerReply = Type.Object({
  run_id: Type.String(),
  started_at_ms: Type.Number(),
  ended_at_ms: Nullable(Type.Number()),
  times: Times,
  series: Type.Array(PowerSeriesSchema),
  idle_w: Nullable(Type.Number({ description: 'The hosts’ idle power from their latest baseline before the run (what net energy subtracts); null when a host has none.' })),
  baselines: Type.Array(Type.Object({ host: Type.String(), run_id: Type.String(), idle_w: Type.Number(), started_at: Type.String({ format: 'date-time' }) })),
});

/** One `event: power` of the stream carries `data:` with a JSON array of these. */
export const LivePointSchema = Type.Object({
  t: Type.Number({ description: 'End of the point’s interval, epoch milliseconds.' }),
  host: Type.String(),
  source: Type.String(),
  domain: Type.String(),
  method: Type.String(),
  in_total: Type.Boolean(),
  power_w: Type.Number(),
});

export const StreamReplies = {
  description: 'Server-sent events: `retry: 3000`, then `event: power` with `data:` a JSON array of points (see LivePoint) as they land, and a `: keep-alive` comment every 15 s.',
  content: {
    'text/event-stream': { schema: Type.String({ description: 'A text/event-stream; each `data:` line is a JSON array of LivePoint.' }) },
  },
};
