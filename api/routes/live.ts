/** The live page's data: recent power, the SSE stream, a run's power curve. */
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import { Type, type Static } from '@sinclair/typebox';
import type { LiveHub } from '../services/live.js';
import type { RunReads } from '../services/reads.js';
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

const StreamQuery = Type.Object({ host: Type.Optional(Host) }, { additionalProperties: false });
type StreamQuery = Static<typeof StreamQuery>;

/** A viewer whose socket holds more unsent than this does not keep up, and is cut off (it reconnects and starts afresh). */
export const VIEWER_BUFFER_BYTES = 1024 * 1024;

export interface StreamLimits {
  maxViewers: number;
  onDropped(): void;
  onRefused(): void;
}

export function liveRoutes(app: FastifyInstance, reads: RunReads, hub: LiveHub, limits: StreamLimits): void {
  app.get<{ Querystring: PowerQuery }>(
    '/api/live/power',
    { schema: { operationId: 'getLivePower', tags: ['live'], summary: 'Power per source over the last minutes (mean per bucket)', querystring: PowerQuery, response: { 200: PowerTableReply, ...READ_ERRORS } } },
    async (request) => {
      const minutes = request.query.minutes === undefined ? 15 : Number(request.query.minutes);
      if (minutes < 1 || minutes > 1440) throw new ApiError(400, 'querystring/minutes must be between 1 and 1440', { field: 'minutes' });
      return reads.livePower(minutes, request.query.host);
    },
  );

  app.get<{ Params: RunParams }>(
    '/api/runs/:id/power',
    { schema: { operationId: 'getRunPower', tags: ['runs'], summary: 'A run’s power curve per source', params: RunParams, response: { 200: RunPowerReply, ...RUN_READ_ERRORS } } },
    async (request) => reads.runPower(request.params.id),
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
        operationId: 'streamLivePower',
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
