/**
 * The TypeScript client's windows (clients/ts/windows.ts): the Measurement from two readings
 * (pure, with literals), what counts as a reading, and the Windows class against an in-process
 * stand-in of the collector's GET /energy — names, nesting, the collector down, a recorded
 * window filed as a start and a stop over its own edges. End to end on a real collector: the
 * shell's `wattscope window` in test/stack/serving.e2e.test.ts.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measurementOf, parseEnergy, Windows } from '../../clients/ts/windows.js';
import type { EnergyAnswer } from '../../collector/energy-endpoint.js';
import type { WattscopeClient } from '../../clients/ts/client.js';

const reading = (uptimeS: number, pkg: number, core: number, gpu: number | undefined, startedMs = 1_000): EnergyAnswer => ({
  host: 'h',
  time_ms: 1_767_225_600_000 + uptimeS * 1000,
  uptime_s: uptimeS,
  started_ms: startedMs,
  sources: [
    { source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true, energy_j: pkg },
    { source: 'rapl/core-0', domain: 'cpu', method: 'counter', in_total: false, energy_j: core },
    ...(gpu === undefined ? [] : [{ source: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, energy_j: gpu }]),
  ],
});
const edge = (r: EnergyAnswer | undefined, wallMs = 5_000, monoMs = 100) => ({ reading: r, wallMs, monoMs });

describe('a window’s Measurement from its two readings', () => {
  it('the host’s energy is its in-total sources’, nested ones listed apart; the GPUs’ apart; times from the collector', () => {
    const m = measurementOf('w', edge(reading(10, 1000, 400, 5000)), edge(reading(12, 1080, 430, 5600)));
    expect(m).toEqual({
      name: 'w',
      energy_j: 80 + 600,
      gpu_energy_j: 600,
      sources: { 'rapl/package-0': 80, 'rapl/core-0': 30, 'nvml/0': 600 },
      duration_s: 2,
      start_time: 1_767_225_610,
      end_time: 1_767_225_612,
      host: 'h',
      run_id: null,
      measured: true,
    });
  });

  it('no GPU: gpu_energy_j null; a source found during the window is left out (its energy before is unknown)', () => {
    const m = measurementOf('w', edge(reading(10, 1000, 400, undefined)), edge(reading(11, 1040, 410, 9999)));
    expect(m.energy_j).toBe(40);
    expect(m.gpu_energy_j).toBeNull();
    expect(m.sources).toEqual({ 'rapl/package-0': 40, 'rapl/core-0': 10 });
  });

  it('an edge without a reading, or a collector restarted in between: null energies, this process’s times', () => {
    for (const [a, b] of [
      [undefined, reading(11, 1040, 410, undefined)],
      [reading(10, 1000, 400, undefined), undefined],
      [reading(10, 1000, 400, undefined), reading(1, 5, 1, undefined, 2_000)],
    ] as const) {
      const m = measurementOf('w', edge(a, 5_000, 100), edge(b, 7_500, 2_600));
      expect(m).toMatchObject({ energy_j: null, gpu_energy_j: null, sources: {}, duration_s: 2.5, start_time: 5, end_time: 7.5, measured: false });
    }
  });

  it('a reading is the collector’s shape, or none', () => {
    expect(parseEnergy(reading(1, 2, 3, 4))).toEqual(reading(1, 2, 3, 4));
    for (const bad of [null, {}, { ...reading(1, 2, 3, 4), uptime_s: 'x' }, { ...reading(1, 2, 3, 4), sources: [{ source: 's', in_total: true, energy_j: Number.NaN }] }, { ...reading(1, 2, 3, 4), sources: 'no' }]) {
      expect(() => parseEnergy(bad)).toThrow('not an energy reading');
    }
  });
});

describe('Windows against a stand-in collector (40 W on its monotonic clock)', () => {
  let server: Server;
  let url: string;
  const t0 = performance.now();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const s = (performance.now() - t0) / 1000;
      if (req.url !== '/energy') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ host: 'standin', time_ms: Date.now(), uptime_s: s, started_ms: 1, sources: [{ source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true, energy_j: 40 * s }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('nested and overlapping by name; a name open twice or not open is a clear error', async () => {
    const w = new Windows({ collectorUrl: url });
    await w.begin('outer');
    await w.begin('inner');
    await expect(w.begin('inner')).rejects.toThrow('window "inner" is already open');
    await new Promise((r) => setTimeout(r, 200));
    const inner = await w.end('inner');
    const outer = await w.end('outer');
    await expect(w.end('outer')).rejects.toThrow('no window "outer" is open (open: none); begin("outer") first');
    w.close();
    // the duration is kept to the µs: 40 W to a few mW
    for (const m of [inner, outer]) expect((m.energy_j as number) / m.duration_s).toBeCloseTo(40, 2);
    expect(outer.duration_s).toBeGreaterThan(inner.duration_s);
    expect(inner.host).toBe('standin');
  });

  it('window(): the function’s result and its Measurement; a throw goes on as it was', async () => {
    const w = new Windows({ collectorUrl: url });
    const { result, measurement } = await w.window('step', async () => {
      await new Promise((r) => setTimeout(r, 100));
      return 7;
    });
    expect(result).toBe(7);
    expect(measurement.measured).toBe(true);
    await expect(w.window('bad', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    w.close();
  });

  it('record: filed in the background as a start at the first edge and a stop at the second, with the results', async () => {
    const calls: unknown[] = [];
    const api = { startRun: async (body: unknown) => void calls.push(['start', body]), stopRun: async (id: string, body: unknown) => void calls.push(['stop', id, body]) } as unknown as WattscopeClient;
    const w = new Windows({ collectorUrl: url, api });
    await w.begin('eval', { record: { kind: 'inference', labels: { epoch: '3' } } });
    const m = await w.end('eval', { inferences: 100 });
    expect(m.run_id).toMatch(/^w-[0-9a-f]{20}$/);
    await w.settled();
    w.close();
    expect(calls).toEqual([
      ['start', { kind: 'inference', model: 'eval', run_id: m.run_id, hosts: ['standin'], started_at: new Date(m.start_time * 1000).toISOString(), labels: { epoch: '3', window: 'eval' } }],
      ['stop', m.run_id, { inferences: 100, status: 'completed', ended_at: new Date(m.end_time * 1000).toISOString() }],
    ]);
  });

  it('the collector down: null energies, the time still measured, one warning naming its URL', async () => {
    const said: string[] = [];
    const w = new Windows({ collectorUrl: 'http://127.0.0.1:1', warn: (m) => said.push(m) });
    await w.begin('a');
    const a = await w.end('a');
    const { measurement: b } = await w.window('b', () => undefined);
    w.close();
    for (const m of [a, b]) expect(m).toMatchObject({ energy_j: null, measured: false });
    expect(a.duration_s).toBeGreaterThanOrEqual(0);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^cannot read the collector at http:\/\/127\.0\.0\.1:1 \(.*ECONNREFUSED.*\)/);
  });
});
