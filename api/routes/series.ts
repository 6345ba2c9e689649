/** /api/series/:id: a series of repeated runs (`wattscope bench`) and its statistics. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { seriesStatistics } from '../domain/series.js';
import { ApiError } from '../errors.js';
import type { Run } from '../domain/run-record.js';
import type { RunService } from '../service.js';
import { RUN_READ_ERRORS, SeriesParams } from '../schemas/runs.js';
import { SeriesReply } from '../schemas/series.js';

export function seriesRoutes(app: FastifyInstance, service: RunService): void {
  app.get<{ Params: SeriesParams }>(
    '/api/series/:id',
    {
      schema: {
        tags: ['runs'],
        summary: 'A series of repeated runs: its runs, and n, mean, standard deviation, coefficient of variation and 95 % confidence interval (Student’s t) of duration, energy, energy per inference and composite score over its completed runs that are not warm-ups',
        params: SeriesParams,
        response: { 200: SeriesReply, ...RUN_READ_ERRORS },
      },
    },
    async (request) => {
      const id = request.params.id;
      const runs: Run[] = [];
      for await (const run of service.runs.all({ seriesId: id })) runs.push(run);
      if (runs.length === 0) throw new ApiError(404, `no run belongs to series "${id}"`);
      const members = runs.sort((a, b) => a.started_at_ms - b.started_at_ms).map((r) => service.summary(r));
      return { ...seriesStatistics(id, members), members };
    },
  );
}
