/**
 * `/runs` on the collector's port: the clients on this host say which processes are a run's
 * (`POST /runs {"run_id", "pids"}`), and when it ended (`DELETE /runs/<run_id>`); `GET /runs`
 * lists them. Loopback only: the process IDs mean something on this host alone, and nobody
 * elsewhere should steer what is attributed here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../common/log.js';
import { RegistrationError, type RunTracker } from './attribution.js';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_BODY = 64 * 1024;

function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const bad = (res: ServerResponse, field: string, message: string) => reply(res, 400, { statusCode: 400, error: 'Bad Request', message, field });

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || (address ?? '').startsWith('127.');
}

export function runRegistration(req: IncomingMessage, res: ServerResponse, tracker: RunTracker, log: Logger): void {
  if (!isLoopback(req.socket.remoteAddress)) {
    reply(res, 403, { statusCode: 403, error: 'Forbidden', message: '/runs takes requests from this host only (the process IDs it names are this host’s)' });
    return;
  }
  const url = req.url ?? '';
  if (req.method === 'GET' && url === '/runs') return reply(res, 200, { runs: tracker.list() });
  if (req.method === 'DELETE' && url.startsWith('/runs/')) {
    const id = decodeURIComponent(url.slice('/runs/'.length));
    return tracker.unregister(id) ? reply(res, 204) : reply(res, 404, { statusCode: 404, error: 'Not Found', message: `no run "${id}" is tracked here` });
  }
  if (req.method !== 'POST' || url !== '/runs') return reply(res, 405, { statusCode: 405, error: 'Method Not Allowed', message: 'POST /runs, GET /runs or DELETE /runs/<run_id>' });
  let size = 0;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return reply(res, 413, { statusCode: 413, error: 'Payload Too Large', message: `at most ${MAX_BODY} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return bad(res, '(root)', 'body must be JSON: {"run_id": "…", "pids": [1234]}');
    }
    const { run_id: runId, pids } = (body ?? {}) as { run_id?: unknown; pids?: unknown };
    if (typeof runId !== 'string' || !RUN_ID.test(runId)) return bad(res, 'run_id', 'body/run_id must be a run id (letters, digits and . _ : -, 1–128 characters)');
    if (!Array.isArray(pids) || pids.length === 0 || pids.length > 64 || !pids.every((p) => Number.isSafeInteger(p) && (p as number) > 0)) {
      return bad(res, 'pids', 'body/pids must be 1–64 process ids (positive integers)');
    }
    try {
      tracker.register(runId, pids as number[]);
    } catch (e) {
      if (e instanceof RegistrationError) return bad(res, 'pids', `body/pids: ${e.message}`);
      throw e;
    }
    log.info('following the processes of a run, for its attributed energy', { run_id: runId, pids: (pids as number[]).join(',') });
    reply(res, 201, { run_id: runId, pids, tracked_runs: tracker.size });
  });
}
