/** /api/series/:id: a series of repeated runs (`wattscope bench`) and its statistics. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { RunReads } from '../services/reads.js';
import { RUN_READ_ERRORS, SeriesParams } from '../schemas/runs.js';
import { SeriesReply } from '../schemas/series.js';

export function seriesRoutes(app: FastifyInstance, reads: RunReads): void {
  app.get<{ Params: SeriesParams }>(
    '/api/series/:id',
    {
      schema: {
        operationId: 'getSeries',
        tags: ['runs'],
        summary: 'A series of repeated runs: its runs, and n, mean, standard deviation, coefficient of variation and 95 % confidence interval (Student’s t) of duration, energy, energy per inference and composite score over its completed runs that are not warm-ups',
        params: SeriesParams,
        response: { 200: SeriesReply, ...RUN_READ_ERRORS },
      },
    },
    async (request) => reads.series(request.params.id),
  );
}
