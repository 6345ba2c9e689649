/** /api/hosts: the hosts the collectors describe — platform, power sources, intervals, clock. */
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import type { HostRecord } from '../../common/host-record.js';
import type { RunReads } from '../services/reads.js';
import { READ_ERRORS } from '../schemas/runs.js';
import { HostsReply, type HostReply } from '../schemas/hosts.js';

export function hostReply(r: HostRecord): HostReply {
  return {
    host: r.host,
    platform: r.platform,
    cpu_model: r.cpuModel,
    gpus: r.gpus.map((g) => ({ index: g.index, name: g.name, ...(g.uuid ? { uuid: g.uuid } : {}) })),
    sources: r.sources.map((s) => ({ id: s.id, domain: s.domain, method: s.method, in_total: s.in_total, ...(s.gpu === undefined ? {} : { gpu: s.gpu }), ...(typeof s.reading === 'string' ? { reading: s.reading } : {}) })),
    workload: (r.workload ?? []).map((w) => ({ instance: w.instance, engine: w.engine ?? null })),
    sample_hz: r.sampleHz,
    report_interval_s: r.reportIntervalS,
    flush_interval_s: r.flushIntervalS,
    version: r.version,
    clock_offset_s: r.clockOffsetS,
    clock_offset_error_s: r.clockOffsetErrorS,
    started_at: r.startedAtMs === null ? null : new Date(r.startedAtMs).toISOString(),
    seen_at: new Date(r.timeMs).toISOString(),
  };
}

export function hostRoutes(app: FastifyInstance, reads: RunReads): void {
  app.get('/api/hosts', { schema: { operationId: 'listHosts', tags: ['hosts'], summary: 'Every host a collector describes: platform, power sources, intervals, clock offset', response: { 200: HostsReply, ...READ_ERRORS } } }, async () => ({
    hosts: (await reads.hosts()).map(hostReply),
  }));
}
