/**
 * A stand-in inference server's /metrics: a real captured page (collector/sources/serving/
 * testdata/*.prom) replayed with chosen counters advancing at known rates. Every series of a
 * counter named in `perS` reads its captured value plus rate × seconds, where seconds come from
 * the test's clock (the golden harness drives it) or, by default, the time since the stand-in
 * started — computed at each request, so the counters are exact whatever the scheduling. Values
 * keep their fraction (a real engine's counters move in whole steps; the fraction takes the
 * quantisation out of checks that compare rates). `restart()` plays a server restart: the
 * counters start again from 0. `/info` answers `{"model_id"}` where `modelId` is given (TGI).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';

export interface ServingStandin {
  url: string;
  /** requests served to /metrics */
  readonly scrapes: number;
  /** the counters' clock, for tests that drive it */
  setSeconds(s: number): void;
  /** the server restarts: its counters read 0 plus rate × the time since now */
  restart(): void;
  /** stops answering (connections refused) until resume() */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** A sample line's value as its page writes numbers (Python's `57.0`, Rust's `57`). */
function formatLike(original: string, v: number): string {
  const fixed = Number(v.toFixed(6));
  if (Number.isInteger(fixed) && /\.0$/.test(original)) return `${fixed}.0`;
  return String(fixed);
}

/** The page with the counters moved on: each series of a counter in `perS` gets base × `scale` + rate × seconds. */
export function advancedPage(text: string, perS: Readonly<Record<string, number>>, seconds: number, scale = 1): string {
  return text.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^\n]*\})? (\S+)$/gm, (line, name: string, labels: string | undefined, value: string) => {
    const rate = perS[name];
    if (rate === undefined) return line;
    return `${name}${labels ?? ''} ${formatLike(value, Number(value) * scale + rate * seconds)}`;
  });
}

export async function startServingStandin(page: string, perS: Readonly<Record<string, number>>, options: { modelId?: string; port?: number } = {}): Promise<ServingStandin> {
  const text = readFileSync(page, 'utf8');
  let origin = performance.now();
  let driven: number | undefined;
  let scale = 1;
  let scrapes = 0;
  const seconds = () => driven ?? (performance.now() - origin) / 1000;
  const handler = (req: { url?: string }, res: import('node:http').ServerResponse) => {
    if (req.url === '/info' && options.modelId) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model_id: options.modelId }));
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found');
      return;
    }
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(advancedPage(text, perS, seconds(), scale));
  };
  let server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const close = (s: Server) =>
    new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    get scrapes() {
      return scrapes;
    },
    setSeconds: (s) => void (driven = s),
    restart: () => {
      scale = 0;
      origin = performance.now();
      if (driven !== undefined) driven = 0;
    },
    pause: () => close(server),
    resume: async () => {
      server = createServer(handler);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    },
    close: () => close(server),
  };
}
