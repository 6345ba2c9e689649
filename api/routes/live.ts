/** The live page's data: recent power, the SSE stream, a run's power curve. */
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { LiveHub } from '../live.js';
import type { LiveRepository } from '../repo/live.js';
import type { RunService } from '../service.js';
import { Host, READ_ERRORS, RUN_READ_ERRORS, RunParams } from '../schemas/runs.js';
import { PowerTableReply, RunPowerReply, StreamReplies } from '../schemas/live.js';
import { ApiError } from '../errors.js';

const PowerQuery = Type.Object(
  {
    minutes: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Window, 1–1440 minutes (default 15).' })),
    host: Type.Optional(Host),
  },
  { additionalProperties: false },
);
type PowerQuery = Static<typeof PowerQuery>;

/** Bucket so that a chart has at most ~600 points per series. */
export function bucketFor(spanMs: number): number {
  return Math.max(1000, Math.ceil(spanMs / 600 / 1000) * 1000);
}

const StreamQuery = Type.Object({ host: Type.Optional(Host) }, { additionalProperties: false });
type StreamQuery = Static<typeof StreamQuery>;

/** A viewer whose socket holds more unsent than this does not keep up, and is cut off (it reconnects and starts afresh). */
export const VIEWER_BUFFER_BYTES = 1024 * 1024;

export interface StreamLimits {
  maxViewers: number;
  onDropped(): void;
  onRefused(): void;
}

export function liveRoutes(app: FastifyInstance, live: LiveRepository, hub: LiveHub, service: RunService, limits: StreamLimits): void {
  app.get<{ Querystring: PowerQuery }>(
    '/api/live/power',
    { schema: { tags: ['live'], summary: 'Power per source over the last minutes (mean per bucket)', querystring: PowerQuery, response: { 200: PowerTableReply, ...READ_ERRORS } } },
    async (request) => {
      const minutes = request.query.minutes === undefined ? 15 : Number(request.query.minutes);
      if (minutes < 1 || minutes > 1440) throw new ApiError(400, 'querystring/minutes must be between 1 and 1440', { field: 'minutes' });
      const to = Date.now();
      const from = to - minutes * 60_000;
      return live.powerTable(from, to, bucketFor(to - from), request.query.host);
    },
  );

  app.get<{ Params: RunParams }>(
    '/api/runs/:id/power',
    { schema: { tags: ['runs'], summary: 'A run’s power curve per source', params: RunParams, response: { 200: RunPowerReply, ...RUN_READ_ERRORS } } },
    async (request) => {
      const run = await service.get(request.params.id);
      const end = run.ended_at_ms ?? Date.now();
      const pad = Math.max(2000, (end - run.started_at_ms) * 0.05);
      const from = run.started_at_ms - pad;
      const to = end + pad;
      const tables = await Promise.all(run.hosts.map((h) => live.powerTable(from, to, bucketFor(to - from), h)));
      const times = [...new Set(tables.flatMap((t) => t.times))].sort((a, b) => a - b);
      const series = tables.flatMap((t) => {
        const at = new Map(t.times.map((time, i) => [time, i]));
        return t.series.map((s) => ({ ...s, power_w: times.map((time) => s.power_w[at.get(time) ?? -1] ?? null) }));
      });
      // the idle power the run's net energy subtracts: each host's latest baseline before the run
      const baselines = [];
      for (const [host, b] of await service.runs.latestBaselines(run.hosts, run.started_at_ms)) {
        if (b.avg_power_w !== null) baselines.push({ host, run_id: b.run_id, idle_w: b.avg_power_w, started_at: new Date(b.started_at_ms).toISOString() });
      }
      const idle_w = baselines.length === run.hosts.length && baselines.length > 0 ? baselines.reduce((a, b) => a + b.idle_w, 0) : null;
      return { run_id: run.run_id, started_at_ms: run.started_at_ms, ended_at_ms: run.ended_at_ms, times, series, idle_w, baselines };
    },
  );

  // open streams end when the server closes, or a graceful shutdown would wait for them forever
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get<{ Querystring: StreamQuery }>(
    '/api/live/stream',
    {
      schema: {
        tags: ['live'],
        summary: 'Server-sent events: new power points as they land (one query per second for all viewers); ?host= only that host’s. At most WATTSCOPE_LIVE_MAX_VIEWERS at once (503 with Retry-After past it); a viewer that does not keep up is cut off.',
        querystring: StreamQuery,
        response: { 200: StreamReplies, ...READ_ERRORS },
      },
    },
    (request, reply) => {
      if (hub.viewerCount >= limits.maxViewers) {
        limits.onRefused();
        return reply.status(503).header('retry-after', '10').send({ statusCode: 503, error: 'Service Unavailable', message: `the live stream has its ${limits.maxViewers} viewers (WATTSCOPE_LIVE_MAX_VIEWERS); try again later` });
      }
      reply.hijack();
      const res = reply.raw;
      streams.add(res);
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 3000\n\n');
      const host = request.query.host;
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        unsubscribe();
        streams.delete(res);
      };
      // what a viewer has not read yet piles up in its socket: past the bound it is cut off,
      // instead of holding the server's memory
      const send = (text: string) => {
        if (closed) return;
        res.write(text);
        if (res.writableLength > VIEWER_BUFFER_BYTES) {
          limits.onDropped();
          close();
          res.destroy();
        }
      };
      const unsubscribe = hub.subscribe((points) => {
        const mine = host === undefined ? points : points.filter((p) => p.host === host);
        if (mine.length > 0) send(`event: power\ndata: ${JSON.stringify(mine)}\n\n`);
      });
      const keepAlive = setInterval(() => send(': keep-alive\n\n'), 15_000);
      keepAlive.unref();
      request.raw.on('close', close);
    },
  );
}
