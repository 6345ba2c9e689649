/** /api/workload: energy per request and per output token of a host's serving engines over any time range. */
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { READ_ERRORS } from '../schemas/runs.js';
import { WorkloadQuery, WorkloadReply } from '../schemas/workload.js';
import type { WorkloadReads } from '../services/workload.js';
import { parseTime } from '../validate.js';

/** The longest range asked at once. */
export const MAX_RANGE_MS = 366 * 86_400_000;

export function workloadRoutes(app: FastifyInstance, workload: WorkloadReads, now: () => number = Date.now): void {
  app.get<{ Querystring: WorkloadQuery }>(
    '/api/workload',
    {
      schema: {
        operationId: 'getWorkload',
        tags: ['hosts'],
        summary: 'A host’s energy over a time range, the requests and tokens its serving engines (vLLM, SGLang, TGI, Triton) finished in it, and the energy per request and per output token',
        querystring: WorkloadQuery,
        response: { 200: WorkloadReply, ...READ_ERRORS },
      },
    },
    async (request) => {
      const t0 = parseTime(request.query.from, 'from') as number;
      const t1 = parseTime(request.query.to, 'to') ?? now();
      if (t1 <= t0) throw new ApiError(400, 'querystring/to must be after from', { field: 'to' });
      if (t1 - t0 > MAX_RANGE_MS) throw new ApiError(400, 'querystring/from: a range is at most 366 days', { field: 'from' });
      return workload.range(request.query.host, t0, t1);
    },
  );
}
