/**
 * `GET /energy` on the collector's port: a fresh reading of every power channel, taken at the
 * request (counters read then, sampled powers integrated up to then), with each channel's
 * energy since the collector started. The clients take a window's energy from two such readings
 * (`begin_window` / `end_window`), at once and without the API or InfluxDB.
 *
 *     {"host": "…", "time_ms": 1767225600123, "uptime_s": 3600.123456, "started_ms": 1767222000000,
 *      "sources": [{"source": "rapl/package-0", "domain": "cpu", "method": "counter", "in_total": true, "energy_j": 144012.5}]}
 *
 * `time_ms` is the wall clock of the reading (the clock of the collector's points, whole ms);
 * `uptime_s` the collector's monotonic clock since it started (µs), for durations that no clock
 * step can spoil; `started_ms` names this run of the collector: two readings with different
 * `started_ms` are not from one collector's life, and their difference means nothing. Read-only
 * and about this host only, like /metrics (which exposes the same energies): served wherever the
 * port is bound, loopback by default.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent } from './agent.js';

export interface EnergyAnswer {
  host: string;
  time_ms: number;
  uptime_s: number;
  started_ms: number;
  sources: Array<{ source: string; domain: string; method: string; in_total: boolean; energy_j: number }>;
}

/** The reading, as plain data (tested without HTTP): `clock` is the agent's (monotonic and wall, ms). */
export function energyAnswer(agent: Agent, host: string, started: { wallMs: number; monoMs: number }, clock: { mono: () => number; wall: () => number } = { mono: () => performance.now(), wall: Date.now }): EnergyAnswer {
  const monoMs = clock.mono();
  const wallMs = clock.wall();
  const channels = agent.readNow(monoMs, wallMs);
  return {
    host,
    time_ms: wallMs,
    uptime_s: Number(((monoMs - started.monoMs) / 1000).toFixed(6)),
    started_ms: started.wallMs,
    sources: channels.map((c) => ({ source: c.id, domain: c.domain, method: c.method, in_total: c.inTotal, energy_j: c.energyJ })),
  };
}

export function energyEndpoint(req: IncomingMessage, res: ServerResponse, answer: () => EnergyAnswer): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' }).end(JSON.stringify({ statusCode: 405, error: 'Method Not Allowed', message: 'GET /energy' }));
    return;
  }
  const body = JSON.stringify(answer());
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
