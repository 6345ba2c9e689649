/**
 * Windows for TypeScript programs, as the Python module has them: the energy of any span of a
 * program from two readings of the collector on this host (its GET /energy), at once and without
 * the API. Windows nest and overlap by name; a name not open is a clear error; with the
 * collector down or late (past `timeoutMs`, 100 ms) an edge gives no reading, a warning is said
 * once, and the window's energies are null — the program goes on. `record` files a window as a
 * run through the API in the background (`settled()` waits for those).
 *
 *     const w = new Windows();
 *     await w.begin('epoch-1');
 *     await trainOneEpoch();
 *     const m = await w.end('epoch-1');   // m.energy_j, m.gpu_energy_j, m.duration_s
 */
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname } from 'node:os';
import type { EnergyAnswer } from '../../collector/energy-endpoint.js';
import type { RunResult, StartRun, WattscopeClient } from './client.js';

/** The energy of a window (the Python module's Measurement, field for field). */
export interface Measurement {
  name: string;
  /** the host's energy: its in-total sources (J); null where the collector could not be read at an edge */
  energy_j: number | null;
  /** the in-total GPU sources' (J); null where the host has none */
  gpu_energy_j: number | null;
  /** every source's joules, nested ones too */
  sources: Record<string, number>;
  /** from the collector's monotonic clock (this process's where it could not be read) */
  duration_s: number;
  /** seconds since the epoch, the collector's clock */
  start_time: number;
  end_time: number;
  host: string | null;
  /** the run the window is filed as (`record`), known at once */
  run_id: string | null;
  measured: boolean;
}

/** A window filed as a run: the run's options (its model defaults to the window's name). */
export type RecordOptions = Omit<StartRun, 'run_id' | 'hosts' | 'started_at' | 'model'> & { model?: string };

/** One reading of the collector, and this process's clocks when it was taken. */
export interface Edge {
  reading: EnergyAnswer | undefined;
  wallMs: number;
  monoMs: number;
}

/** One reading of GET /energy within `timeoutMs`, on a kept-alive connection; the error says why not. */
export function readEnergy(url: string, timeoutMs: number, agent?: Agent): Promise<EnergyAnswer> {
  const started = performance.now();
  const target = new URL('energy', url.endsWith('/') ? url : `${url}/`);
  const once = (): Promise<EnergyAnswer> =>
    new Promise((resolve, reject) => {
      const send = target.protocol === 'https:' ? httpsRequest : request;
      const left = Math.max(1, timeoutMs - (performance.now() - started));
      const req = send(target, { agent: target.protocol === 'https:' ? undefined : agent, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(deadline);
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
            resolve(parseEnergy(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      });
      // the whole exchange, not only each socket's idle time, is bounded
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s (WATTSCOPE_COLLECTOR_TIMEOUT)`)), left);
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        // a kept-alive connection the collector closed while idle: one fresh try
        reject(Object.assign(e, { stale: req.reusedSocket && e.code === 'ECONNRESET' }));
      });
      req.end();
    });
  return once().catch((e: Error & { stale?: boolean }) => (e.stale ? once() : Promise.reject(e)));
}

/** The answer, checked: anything of another shape is no reading. */
export function parseEnergy(data: unknown): EnergyAnswer {
  const d = data as Partial<EnergyAnswer> | null;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!d || typeof d.host !== 'string' || !finite(d.time_ms) || !finite(d.uptime_s) || !finite(d.started_ms) || !Array.isArray(d.sources)) throw new Error('not an energy reading');
  for (const s of d.sources) if (!s || typeof s.source !== 'string' || typeof s.in_total !== 'boolean' || !finite(s.energy_j)) throw new Error('not an energy reading');
  return d as EnergyAnswer;
}

/** A window's Measurement from its two edges (pure). */
export function measurementOf(name: string, begin: Edge, end: Edge): Measurement {
  const a = begin.reading;
  const b = end.reading;
  if (!a || !b || a.started_ms !== b.started_ms) {
    return { name, energy_j: null, gpu_energy_j: null, sources: {}, duration_s: (end.monoMs - begin.monoMs) / 1000, start_time: begin.wallMs / 1000, end_time: end.wallMs / 1000, host: (b ?? a)?.host ?? null, run_id: null, measured: false };
  }
  const before = new Map(a.sources.map((s) => [s.source, s.energy_j]));
  const sources: Record<string, number> = {};
  let total = 0;
  let gpu: number | null = null;
  for (const s of b.sources) {
    const was = before.get(s.source);
    if (was === undefined) continue; // found during the window: its energy before is unknown
    const used = Math.max(0, s.energy_j - was);
    sources[s.source] = used;
    if (s.in_total) {
      total += used;
      if (s.domain === 'gpu') gpu = (gpu ?? 0) + used;
    }
  }
  return { name, energy_j: total, gpu_energy_j: gpu, sources, duration_s: Number((b.uptime_s - a.uptime_s).toFixed(6)), start_time: a.time_ms / 1000, end_time: b.time_ms / 1000, host: b.host, run_id: null, measured: true };
}

export interface WindowsOptions {
  /** default WATTSCOPE_COLLECTOR_URL, else http://127.0.0.1:$WATTSCOPE_COLLECTOR_PORT (9101) */
  collectorUrl?: string;
  /** each edge's bound, ms (default WATTSCOPE_COLLECTOR_TIMEOUT × 1000, else 100) */
  timeoutMs?: number;
  /** where `record` files windows */
  api?: WattscopeClient;
  /** told each warning once (default: stderr) */
  warn?: (message: string) => void;
}

export class Windows {
  private readonly open = new Map<string, { edge: Edge; record: RecordOptions | undefined }>();
  private readonly said = new Set<string>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly filing = new Set<Promise<void>>();
  readonly collectorUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WindowsOptions = {}) {
    this.collectorUrl = (opts.collectorUrl ?? (process.env.WATTSCOPE_COLLECTOR_URL || `http://127.0.0.1:${process.env.WATTSCOPE_COLLECTOR_PORT || '9101'}`)).replace(/\/+$/, '');
    const fromEnv = Number(process.env.WATTSCOPE_COLLECTOR_TIMEOUT);
    this.timeoutMs = opts.timeoutMs ?? (fromEnv > 0 && Number.isFinite(fromEnv) ? fromEnv * 1000 : 100);
  }

  private warn(key: string, message: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    (this.opts.warn ?? ((m: string) => process.stderr.write(`wattscope: ${m}\n`)))(message);
  }

  /** An edge: the collector's energies now (none, said once, when it cannot answer in time). */
  async edge(): Promise<Edge> {
    let reading: EnergyAnswer | undefined;
    try {
      reading = await readEnergy(this.collectorUrl, this.timeoutMs, this.agent);
    } catch (e) {
      this.warn('collector-down', `cannot read the collector at ${this.collectorUrl} (${(e as Error).message}): start it with \`wattscope collect\` (or \`wattscope up\`), or set WATTSCOPE_COLLECTOR_URL; window energy is null meanwhile`);
    }
    return { reading, wallMs: Date.now(), monoMs: performance.now() };
  }

  /** Opens the window `name`; a name already open is an error. */
  async begin(name: string, options: { record?: RecordOptions } = {}): Promise<void> {
    if (this.open.has(name)) throw new Error(`wattscope: window "${name}" is already open; end it first, or give this one another name`);
    // taken at once, so that a second begin of the name while this one reads is refused too
    const slot = { edge: { reading: undefined, wallMs: Date.now(), monoMs: performance.now() } as Edge, record: options.record };
    this.open.set(name, slot);
    slot.edge = await this.edge();
  }

  /** Closes the window `name` and gives its Measurement; a name not open is an error. */
  async end(name: string, results: RunResult & { failed?: boolean } = {}): Promise<Measurement> {
    const opened = this.open.get(name);
    if (!opened) throw new Error(`wattscope: no window "${name}" is open (open: ${[...this.open.keys()].map((n) => `"${n}"`).join(', ') || 'none'}); begin("${name}") first`);
    this.open.delete(name);
    const m = measurementOf(name, opened.edge, await this.edge());
    if (opened.record) this.file(m, opened.record, results);
    return m;
  }

  /** `fn` inside a window of its own (the same name may be open many times at once); a throw files a recorded window as failed and goes on. */
  async window<T>(name: string, fn: () => T | Promise<T>, options: { record?: RecordOptions } = {}): Promise<{ result: T; measurement: Measurement }> {
    const begin = await this.edge();
    const close = async (failed: boolean) => {
      const m = measurementOf(name, begin, await this.edge());
      if (options.record) this.file(m, options.record, { failed });
      return m;
    };
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await close(true);
      throw e;
    }
    return { result, measurement: await close(false) };
  }

  /** Files a window as a run in the background: a start at its first edge, a stop at its second. */
  private file(m: Measurement, record: RecordOptions, results: RunResult & { failed?: boolean }): void {
    const api = this.opts.api;
    m.run_id = `w-${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
    if (!api) {
      this.warn('no-api', 'a recorded window needs the API: give Windows an api client');
      return;
    }
    const { failed, ...result } = results;
    const { model, ...rest } = record;
    const start: StartRun = { ...rest, model: model ?? m.name, run_id: m.run_id, hosts: [m.host ?? (process.env.WATTSCOPE_HOST || hostname())], started_at: new Date(m.start_time * 1000).toISOString(), labels: { ...record.labels, window: m.name } };
    const p = (async () => {
      try {
        await api.startRun(start);
        await api.stopRun(m.run_id as string, { ...result, status: failed ? 'failed' : 'completed', ended_at: new Date(m.end_time * 1000).toISOString() });
      } catch (e) {
        this.warn('window-file', `${(e as Error).message}; window run ${m.run_id} is not filed`);
      }
    })();
    this.filing.add(p);
    void p.finally(() => this.filing.delete(p));
  }

  /** Resolves once every recorded window has been filed (or failed to be, said once). */
  async settled(): Promise<void> {
    while (this.filing.size > 0) await Promise.all([...this.filing]);
  }

  /** Closes the kept-alive connection (a program that ends need not call it). */
  close(): void {
    this.agent.destroy();
  }
}
