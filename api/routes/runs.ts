/** /api/runs, /api/baselines: tag runs, stop them, fix their results later, list and export them. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { csvCell, parseTime } from '../http.js';
import type { RunService } from '../service.js';
import type { RunSummary } from '../domain/run.js';
import {
  BaselineBody,
  ConflictReply,
  ErrorReply,
  ImportBody,
  ListQuery,
  PatchBody,
  RunParams,
  RunSummarySchema,
  StartBody,
  StartReply,
  StopBody,
} from '../schemas/runs.js';
import { Type } from '@sinclair/typebox';

const CSV_COLUMNS: Array<keyof RunSummary> = [
  'run_id', 'model', 'platform', 'kind', 'status', 'dataset', 'started_at', 'ended_at', 'duration_s', 'energy_j', 'energy_wh', 'energy_net_j',
  'avg_power_w', 'coverage', 'inferences', 'correct', 'accuracy', 'energy_per_inference_uwh', 'inferences_per_s', 'composite_score', 'netscore',
  'info_density', 'avg_gpu_power_w', 'avg_gpu_util_pct', 'avg_gpu_mem_pct', 'avg_cpu_pct', 'hosts', 'labels',
];

const errors = { 400: ErrorReply, 401: ErrorReply, 404: ErrorReply, 409: ConflictReply, 413: ErrorReply, 429: ErrorReply, 503: ErrorReply };

export function parseLabelFilter(label: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of label === undefined ? [] : Array.isArray(label) ? label : [label]) {
    const eq = item.indexOf('=');
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function runRoutes(app: FastifyInstance, service: RunService): void {
  app.post<{ Body: StartBody }>(
    '/api/runs',
    { schema: { tags: ['runs'], summary: 'Start a run', body: StartBody, response: { 200: StartReply, 201: StartReply, ...errors } } },
    async (request, reply) => {
      const callerHost = request.headers['x-wattscope-host'];
      const { run, created } = await service.start(request.body, typeof callerHost === 'string' && callerHost ? callerHost : undefined);
      return reply.status(created ? 201 : 200).send({ run_id: run.run_id, started_at: new Date(run.started_at_ms).toISOString() });
    },
  );

  app.post<{ Params: RunParams }>(
    '/api/runs/:id/heartbeat',
    { schema: { tags: ['runs'], summary: 'Say a run is still going', params: RunParams, response: { 200: Type.Object({ run_id: Type.String(), heartbeat_at: Type.String() }), ...errors } } },
    async (request) => {
      const run = await service.heartbeat(request.params.id);
      return { run_id: run.run_id, heartbeat_at: new Date(run.heartbeat_at_ms ?? Date.now()).toISOString() };
    },
  );

  app.post<{ Params: RunParams; Body: StopBody }>(
    '/api/runs/:id/stop',
    { schema: { tags: ['runs'], summary: 'Stop a run: computes its energy and scores', params: RunParams, body: Type.Optional(StopBody), response: { 200: RunSummarySchema, ...errors } } },
    async (request) => service.summary(await service.stop(request.params.id, request.body ?? {})),
  );

  app.patch<{ Params: RunParams; Body: PatchBody }>(
    '/api/runs/:id',
    { schema: { tags: ['runs'], summary: 'Set accuracy, counts or labels later; scores are recomputed', params: RunParams, body: PatchBody, response: { 200: RunSummarySchema, ...errors } } },
    async (request) => service.summary(await service.patch(request.params.id, request.body)),
  );

  app.get<{ Params: RunParams }>(
    '/api/runs/:id',
    { schema: { tags: ['runs'], summary: 'A run’s summary: Table I columns, energy per source, every score (so far, for a running run)', params: RunParams, response: { 200: RunSummarySchema, ...errors } } },
    async (request) => service.summary(await service.current(request.params.id)),
  );

  app.post<{ Body: ImportBody }>(
    '/api/runs/import',
    { schema: { tags: ['runs'], summary: 'Import runs measured elsewhere (kind=imported)', body: ImportBody, response: { 201: Type.Object({ runs: Type.Array(RunSummarySchema) }), ...errors } } },
    async (request, reply) => {
      const items = Array.isArray(request.body) ? request.body : [request.body];
      const runs = await service.import(items);
      return reply.status(201).send({ runs: runs.map((r) => service.summary(r)) });
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'List runs (JSON, or CSV with Accept: text/csv or ?format=csv; a CSV page gives the next page’s offset in the x-next-offset header)',
        querystring: ListQuery,
        response: { 200: Type.Object({ runs: Type.Array(RunSummarySchema), next_offset: Type.Union([Type.Integer(), Type.Null()]) }), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) throw new ApiError(400, 'querystring/limit must be between 1 and 1000', { field: 'limit' });
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      const runs = await service.runs.list({
        model: q.model,
        platform: q.platform,
        kind: q.kind,
        status: q.status,
        fromMs: parseTime(q.from, 'from'),
        toMs: parseTime(q.to, 'to'),
        labels: parseLabelFilter(q.label),
        limit,
        offset,
      });
      const summaries = runs.map((r) => service.summary(r));
      const nextOffset = runs.length === limit ? offset + limit : null;
      const wantsCsv = q.format === 'csv' || (q.format === undefined && (request.headers.accept ?? '').includes('text/csv'));
      if (wantsCsv) {
        const lines = [CSV_COLUMNS.join(','), ...summaries.map((s) => CSV_COLUMNS.map((c) => csvCell(s[c])).join(','))];
        // CSV has no room for the paging cursor: it travels in a header (absent after the last page)
        if (nextOffset !== null) reply.header('x-next-offset', String(nextOffset));
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="wattscope-runs.csv"').send(lines.join('\r\n') + '\r\n');
      }
      return { runs: summaries, next_offset: nextOffset };
    },
  );

  app.post<{ Body: BaselineBody }>(
    '/api/baselines',
    { schema: { tags: ['runs'], summary: 'Measure a host’s idle power over the last N seconds (a baseline run)', body: BaselineBody, response: { 201: RunSummarySchema, ...errors, 422: ErrorReply } } },
    async (request, reply) => reply.status(201).send(service.summary(await service.baseline(request.body.host, request.body.seconds, request.body.platform))),
  );
}
