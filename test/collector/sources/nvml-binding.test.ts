/**
 * The koffi NVML binding against a real shared library with NVML's C signatures (a stand-in
 * built here with gcc): loaded, its types declared and its functions called for real — twice
 * in one process, as rediscovery does every minute.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadNvml } from '../../../collector/resources/nvml.js';
import { nvmlSource } from '../../../collector/sources/nvml/index.js';
import { discoverSources } from '../../../collector/discover.js';
import { buildNvmlStandin } from '../nvml-standin.js';
import { contextFor, FIXTURES, recordingLogger } from '../fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NVML through koffi', () => {
  it('binds once and initialises NVML again at every discovery, reading the same devices each time', async () => {
    const lib = buildNvmlStandin();
    const trace = join(tmpdir(), `nvml-trace-${process.pid}-${Date.now()}`);
    process.env.NVML_STANDIN_LOG = trace;
    try {
      const first = loadNvml(lib);
      const second = loadNvml(lib); // before the fix: "Duplicate type name 'nvmlDevice_t'"
      expect(first).toBeDefined();
      expect(second).toBeDefined();
      for (const api of [first!, second!]) {
        expect(api.deviceCount()).toBe(2);
        expect(api.name(0)).toBe('NVIDIA H100 80GB HBM3');
        expect(api.uuid?.(1)).toBe('GPU-00000000-0000-0000-0000-000000000001');
        expect(api.memory(1)).toEqual({ used: 2 * 1024 ** 3, total: 85899345920 });
        expect(api.utilization(0)).toEqual({ gpu: 90, memory: 40 });
        expect(api.powerMw(1)).toBe(150_000);
      }
      // GPU 1 draws 150 W: its counter advances by that, read through either binding
      const e0 = second!.totalEnergyMj(1) as number;
      const t0 = performance.now();
      await sleep(400);
      const e1 = first!.totalEnergyMj(1) as number;
      const watts = (e1 - e0) / (performance.now() - t0);
      expect(watts).toBeGreaterThan(140);
      expect(watts).toBeLessThan(160);
      first!.shutdown();
      first!.shutdown(); // a second shutdown of one session is not passed on
      expect(second!.deviceCount()).toBe(2); // the other session still works
      second!.shutdown();
      expect(readFileSync(trace, 'utf8').trim().split('\n')).toEqual(['init 1', 'init 2', 'shutdown 1', 'shutdown 0']);
    } finally {
      delete process.env.NVML_STANDIN_LOG;
    }
  });

  it('discovers the NVML source twice in one process, as rediscovery does, with energy counters on both', async () => {
    const lib = buildNvmlStandin();
    const log = recordingLogger();
    const ctx = contextFor(join(FIXTURES, 'vm-epyc'), { log, env: { WATTSCOPE_NVML_LIBRARY: lib } });
    const discover = async () => (await discoverSources(ctx.config, { hostTags: ctx.hostTags, log, resources: ctx.resources, factories: [nvmlSource] }))[0];
    const first = await discover();
    const second = await discover();
    for (const source of [first, second]) {
      expect(source?.channels().map((c) => `${c.id} ${c.method} ${c.domain} ${c.inTotal} gpu=${c.gpu}`)).toEqual(['nvml/0 counter gpu true gpu=0', 'nvml/1 counter gpu true gpu=1']);
      expect(source?.gpus?.()).toEqual([
        { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-00000000-0000-0000-0000-000000000000' },
        { index: 1, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-00000000-0000-0000-0000-000000000001' },
      ]);
    }
    // the old source is closed after the new one is up; the new one keeps reading
    await first?.close?.();
    const channel = second!.channels()[0]!;
    const j0 = channel.read() as number;
    await sleep(200);
    expect((channel.read() as number) - j0).toBeGreaterThan(0);
    await second?.close?.();
    ctx.resources.close();
    expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('reads, where a GPU has no energy counter, the instantaneous power field (nvmlFieldValue_t as nvml.h lays it out), and the averaged power only where that is missing', async () => {
    const lib = buildNvmlStandin();
    const env = { NVML_STANDIN_NO_ENERGY: '1', NVML_STANDIN_WATTS_0: '250', NVML_STANDIN_AVERAGE_WATTS_0: '310', NVML_STANDIN_WATTS_1: '120', NVML_STANDIN_AVERAGE_WATTS_1: '120' };
    Object.assign(process.env, env);
    const discover = async (over: Record<string, string> = {}) => {
      Object.assign(process.env, over);
      const log = recordingLogger();
      const ctx = contextFor(join(FIXTURES, 'vm-epyc'), { log, env: { WATTSCOPE_NVML_LIBRARY: lib } });
      const [source] = await discoverSources(ctx.config, { hostTags: ctx.hostTags, log, resources: ctx.resources, factories: [nvmlSource] });
      const channels = source?.channels().map((c) => `${c.id} ${c.method} ${c.reading} ${c.read()}`);
      await source?.close?.();
      ctx.resources.close();
      return { channels, log: log.lines.map((l) => l.message) };
    };
    try {
      const api = loadNvml(lib)!;
      expect(api.powerInstantMw?.(0)).toBe(250_000);
      expect(api.powerMw(0)).toBe(310_000);
      expect(api.computeCapability?.(0)).toBe(9);
      api.shutdown();
      // the instantaneous 250 W, not the one-second average's 310 W
      expect((await discover()).channels).toEqual(['nvml/0 sampled NVML_FI_DEV_POWER_INSTANT 250', 'nvml/1 sampled NVML_FI_DEV_POWER_INSTANT 120']);
      // a driver without the field: the average, labelled as one on an H100 (compute capability 9.0) …
      const averaged = await discover({ NVML_STANDIN_NO_INSTANT: '1' });
      expect(averaged.channels).toEqual(['nvml/0 averaged nvmlDeviceGetPowerUsage 310', 'nvml/1 averaged nvmlDeviceGetPowerUsage 120']);
      expect(averaged.log.filter((m) => /one-second average \(method=averaged\)/.test(m))).toHaveLength(2);
      // … and as the instantaneous power it is on a V100 (7.0)
      expect((await discover({ NVML_STANDIN_CC: '7.0' })).channels).toEqual(['nvml/0 sampled nvmlDeviceGetPowerUsage 310', 'nvml/1 sampled nvmlDeviceGetPowerUsage 120']);
    } finally {
      for (const k of [...Object.keys(env), 'NVML_STANDIN_NO_INSTANT', 'NVML_STANDIN_CC']) delete process.env[k];
    }
  });
});
