/**
 * A minimal HTTP(S) client over node:http for the storage layer's /ping and /query, and the
 * collector's dcgm-exporter scrape. Not fetch: fetch loads undici and compiles its WebAssembly
 * parser, which costs the collector ~15 MB of memory for a few small requests.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** the body's length in bytes, as it came over the wire (after any transfer encoding) */
  bytes: number;
  /** when the response's headers arrived (epoch ms), for the clock estimate */
  receivedAtMs: number;
}

export class HttpTimeoutError extends Error {
  override name = 'TimeoutError';
}

export function send(url: URL, options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number }): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const receivedAtMs = Date.now();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8'), bytes: body.length, receivedAtMs });
      });
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs, () => req.destroy(new HttpTimeoutError(`no answer from ${url.origin} within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
