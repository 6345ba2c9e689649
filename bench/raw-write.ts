/**
 * InfluxDB 1.x's own line-protocol ingest, without any of our code in the way: bodies of lines
 * POSTed to `/write?db=…&precision=ms` over keep-alive connections, `concurrency` at a time, as
 * fast as influxd answers. The fleet benchmark's ceiling, and its bulk loader.
 */
import { Agent, request } from 'node:http';

export interface RawWriteResult {
  points: number;
  seconds: number;
  requests: number;
}

/**
 * Sends every body (lines joined by newlines) and resolves when influxd has answered all; a
 * non-204 answer rejects. `next` is called for more bodies until it returns undefined, so
 * bodies can be made while earlier ones are in flight.
 */
export async function rawWrite(url: string, db: string, next: () => { body: string; points: number } | undefined, concurrency = 4): Promise<RawWriteResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(`/write?${new URLSearchParams({ db, precision: 'ms' }).toString()}`, url);
  let points = 0;
  let requests = 0;
  const started = performance.now();
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(target, { method: 'POST', agent, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`influxd answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    for (let b = next(); b !== undefined; b = next()) {
      await post(b.body);
      points += b.points;
      requests++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return { points, seconds: (performance.now() - started) / 1000, requests };
}
