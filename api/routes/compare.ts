/** /api/compare: models × platforms, ranks, relative scores and repeat statistics. */
// the OpenAPI fields of route schemas (tags, summary) come from @fastify/swagger's types
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { compare } from '../domain/compare.js';
import { parseTime } from '../validate.js';
import type { RunService } from '../service.js';
import { CompareQuery, READ_ERRORS } from '../schemas/runs.js';
import { CompareReply } from '../schemas/compare.js';

export function compareRoutes(app: FastifyInstance, service: RunService): void {
  app.get<{ Querystring: CompareQuery }>(
    '/api/compare',
    { schema: { tags: ['compare'], summary: 'Models × platforms: scores, ranks, relative factors, repeatability', querystring: CompareQuery, response: { 200: CompareReply, ...READ_ERRORS } } },
    async (request) => {
      const q = request.query;
      const filter = { model: q.model, platform: q.platform, fromMs: parseTime(q.from, 'from'), toMs: parseTime(q.to, 'to') };
      const kinds = q.kind ? [q.kind] : (['inference', 'imported'] as const);
      const runs = [];
      for (const kind of kinds) for await (const run of service.runs.all({ ...filter, kind, status: 'completed' })) runs.push(run);
      return compare(runs.map((r) => service.summary(r)), q.reference);
    },
  );
}
