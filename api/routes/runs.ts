/** /api/runs, /api/baselines: tag runs, stop them, fix their results later, list and export them. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../errors.js';
import { headerText, parseLabelFilter, parseTime } from '../validate.js';
import type { RunLifecycle } from '../services/lifecycle.js';
import type { RunReads } from '../services/reads.js';
import { fieldCatalog, runsCsv } from '../domain/run-fields.js';
import {
  BaselineBody,
  ErrorReply,
  HeartbeatReply,
  Host,
  ImportBody,
  ImportReply,
  ListQuery,
  ListReplies,
  PatchBody,
  READ_ERRORS,
  RUN_READ_ERRORS,
  RunParams,
  RunFieldsReply,
  RunSummarySchema,
  StartBody,
  StartReply,
  StopBody,
  WRITE_ERRORS,
} from '../schemas/runs.js';

const CALLER_HOST = 'x-wattscope-host';

const StartHeaders = Type.Object({
  [CALLER_HOST]: Type.Optional({ ...Host, description: 'The caller’s host, measured when the body names no hosts (UTF-8; no commas).' }),
});

/**
 * Header bytes come as latin1 from Node; the caller's host is decoded as UTF-8 before the
 * schema checks it (length, commas), so `café` is stored as `café`, not `cafÃ©`.
 */
const decodeCallerHost: preValidationAsyncHookHandler = async (request) => {
  const raw = request.headers[CALLER_HOST];
  if (typeof raw !== 'string') return;
  const text = headerText(raw);
  if (text === undefined) throw new ApiError(400, `headers/${CALLER_HOST} must be UTF-8 text`, { field: CALLER_HOST });
  request.headers[CALLER_HOST] = text;
};

export function runRoutes(app: FastifyInstance, lifecycle: RunLifecycle, reads: RunReads): void {
  app.post<{ Body: StartBody; Headers: { [CALLER_HOST]?: string } }>(
    '/api/runs',
    {
      schema: { operationId: 'startRun', tags: ['runs'], summary: 'Start a run', headers: StartHeaders, body: StartBody, response: { 200: StartReply, 201: StartReply, ...WRITE_ERRORS } },
      preValidation: decodeCallerHost,
    },
    async (request, reply) => {
      const { run, created } = await lifecycle.start(request.body, request.headers[CALLER_HOST]);
      return reply.status(created ? 201 : 200).send({ run_id: run.run_id, started_at: new Date(run.started_at_ms).toISOString() });
    },
  );

  app.post<{ Params: RunParams }>(
    '/api/runs/:id/heartbeat',
    { schema: { operationId: 'heartbeatRun', tags: ['runs'], summary: 'Say a run is still going', params: RunParams, response: { 200: HeartbeatReply, ...WRITE_ERRORS } } },
    async (request) => {
      const run = await lifecycle.heartbeat(request.params.id);
      return { run_id: run.run_id, heartbeat_at: new Date(run.heartbeat_at_ms ?? Date.now()).toISOString() };
    },
  );

  app.post<{ Params: RunParams; Body: StopBody }>(
    '/api/runs/:id/stop',
    {
      schema: { operationId: 'stopRun', tags: ['runs'], summary: 'Stop a run: computes its energy and scores (the body may be left out)', params: RunParams, body: StopBody, response: { 200: RunSummarySchema, ...WRITE_ERRORS } },
      config: { optionalBody: true },
    },
    async (request) => lifecycle.stop(request.params.id, request.body),
  );

  app.patch<{ Params: RunParams; Body: PatchBody }>(
    '/api/runs/:id',
    {
      schema: {
        operationId: 'patchRun',
        tags: ['runs'],
        summary: 'Set accuracy, counts or labels later, or correct the platform the run is filed under; scores are recomputed',
        params: RunParams,
        body: PatchBody,
        response: { 200: RunSummarySchema, ...WRITE_ERRORS, 501: ErrorReply },
      },
    },
    async (request) => lifecycle.patch(request.params.id, request.body),
  );

  app.get<{ Params: RunParams }>(
    '/api/runs/:id',
    { schema: { operationId: 'getRun', tags: ['runs'], summary: 'A run’s summary: Table I columns, energy per source, every score (so far, for a running run)', params: RunParams, response: { 200: RunSummarySchema, ...RUN_READ_ERRORS } } },
    async (request) => reads.current(request.params.id),
  );

  app.get(
    '/api/run-fields',
    {
      schema: {
        operationId: 'getRunFields',
        tags: ['runs'],
        summary: 'The fields of a run’s summary: meaning, unit, and where each shows (CSV, the runs list, the comparison), from the run’s one definition',
        response: { 200: RunFieldsReply, ...READ_ERRORS },
      },
    },
    async () => ({ fields: fieldCatalog() }),
  );

  app.post<{ Body: ImportBody }>(
    '/api/runs/import',
    {
      schema: {
        operationId: 'importRuns',
        tags: ['runs'],
        summary: 'Import runs measured elsewhere (kind=imported): all of a batch, or none',
        description: 'A run_id that exists already is a 409; one given twice in a batch is a 400. Every derived number (average power, scores) must be finite.',
        body: ImportBody,
        response: { 201: ImportReply, ...WRITE_ERRORS },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const runs = Array.isArray(body) ? await lifecycle.import(body, { batch: true }) : await lifecycle.import([body], { batch: false });
      return reply.status(201).send({ runs });
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/runs',
    {
      schema: {
        operationId: 'listRuns',
        tags: ['runs'],
        summary: 'List runs (JSON, or CSV with Accept: text/csv or ?format=csv; a CSV page gives the next page’s offset in the x-next-offset header)',
        querystring: ListQuery,
        response: { 200: ListReplies, ...READ_ERRORS },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) throw new ApiError(400, 'querystring/limit must be between 1 and 1000', { field: 'limit' });
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      const { runs: summaries, more } = await reads.page({
        model: q.model,
        platform: q.platform,
        kind: q.kind,
        status: q.status,
        fromMs: parseTime(q.from, 'from'),
        toMs: parseTime(q.to, 'to'),
        labels: parseLabelFilter(q.label),
        seriesId: q.series,
        limit,
        offset,
      });
      const nextOffset = more ? offset + limit : null;
      const wantsCsv = q.format === 'csv' || (q.format === undefined && (request.headers.accept ?? '').includes('text/csv'));
      if (wantsCsv) {
        // the summary's fields marked `csv` in the run's definition; CSV has no room for the paging cursor: it travels in a header (absent after the last page)
        if (nextOffset !== null) reply.header('x-next-offset', String(nextOffset));
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="wattscope-runs.csv"').send(runsCsv(summaries));
      }
      return { runs: summaries, next_offset: nextOffset };
    },
  );

  app.post<{ Body: BaselineBody }>(
    '/api/baselines',
    { schema: { operationId: 'measureBaseline', tags: ['runs'], summary: 'Measure a host’s idle power over the last N seconds (a baseline run)', body: BaselineBody, response: { 201: RunSummarySchema, ...WRITE_ERRORS, 422: ErrorReply } } },
    async (request, reply) => reply.status(201).send(await lifecycle.baseline(request.body.host, request.body.seconds, request.body.platform)),
  );
}
