/** /api/compare: models × platforms, ranks, relative scores and repeat statistics; as JSON, or as the tables of a paper. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { renderTables } from '../domain/tables.js';
import { ApiError } from '../errors.js';
import { parseTime } from '../validate.js';
import type { RunReads } from '../services/reads.js';
import { CompareQuery, READ_ERRORS } from '../schemas/runs.js';
import { CompareReplies } from '../schemas/compare.js';

/** The media type of each table format. */
export const TABLE_TYPES = { md: 'text/markdown', csv: 'text/csv', latex: 'text/x-tex' } as const;

export function compareRoutes(app: FastifyInstance, reads: RunReads): void {
  app.get<{ Querystring: CompareQuery }>(
    '/api/compare',
    {
      schema: {
        operationId: 'compareModels',
        tags: ['compare'],
        summary: 'Models × platforms: scores, ranks, relative factors, repeatability; ?format=md|csv|latex: the per-platform score table and the ranking table for a paper',
        querystring: CompareQuery,
        response: { 200: CompareReplies, ...READ_ERRORS },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const format = q.format ?? 'json';
      // checked before the runs are read: a bad combination costs nothing
      if (format === 'json' && q.table !== undefined) throw new ApiError(400, 'querystring/table applies to format md, csv or latex', { field: 'table' });
      if (format === 'csv' && q.table === 'both') throw new ApiError(400, 'querystring/table: CSV holds one table: ask for table=scores or table=ranking', { field: 'table' });
      const kinds = q.kind ? [q.kind] : (['inference', 'imported'] as const);
      const result = await reads.compare({ model: q.model, platform: q.platform, fromMs: parseTime(q.from, 'from'), toMs: parseTime(q.to, 'to'), kinds }, q.reference);
      if (format === 'json') return result;
      const text = renderTables(result, format, q.table ?? (format === 'csv' ? 'scores' : 'both'));
      return reply.type(`${TABLE_TYPES[format]}; charset=utf-8`).send(text);
    },
  );
}
