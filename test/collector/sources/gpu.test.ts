import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../collector/agent.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { NvmlError, NVML_ERROR_GPU_IS_LOST, type NvmlApi } from '../../../collector/resources/nvml.js';
import { nvmlSource } from '../../../collector/sources/nvml/index.js';
import { nvidiaSmiSource } from '../../../collector/sources/nvidia-smi/index.js';
import { decimalIn, parseSmiLine } from '../../../collector/resources/nvidia-smi.js';
import { waitFor } from '../../helpers.js';
import { SharedResources } from '../../../collector/resources/index.js';
import { dcgmGpus, dcgmGpusOf, dcgmSource, parsePromText } from '../../../collector/sources/dcgm/index.js';
import type { Sample } from '../../../common/model.js';
import type { Source } from '../../../collector/source.js';
import { contextFor, discoverOn, recordingLogger, FIXTURES, testdata, type RecordingLogger } from '../fixtures.js';

const FAKE_SMI = testdata('nvidia-smi', 'bin', 'nvidia-smi');
const host = join(FIXTURES, 'vm-epyc');

/**
 * Recorded NVML values: a V100 with the energy counter, a P100 without it (at the PCI addresses
 * the DCGM fixture's two GPUs have, so that both readers name the same boards).
 */
function recordedNvml(): NvmlApi & { energy: number[]; lost: Set<number>; shutdowns: number } {
  const api = {
    energy: [5_000_000, 0],
    lost: new Set<number>(),
    shutdowns: 0,
    deviceCount: () => 2,
    name: (i: number) => ['Tesla V100-SXM2-16GB', 'Tesla P100-PCIE-16GB'][i] as string,
    pciBusId: (i: number) => ['00000000:18:00.0', '00000000:2A:00.0'][i],
    totalEnergyMj(i: number) {
      if (api.lost.has(i)) throw new NvmlError(NVML_ERROR_GPU_IS_LOST, 'GPU is lost (NVML error 15)');
      return i === 0 ? api.energy[0] : undefined;
    },
    powerMw(i: number) {
      if (api.lost.has(i)) throw new NvmlError(NVML_ERROR_GPU_IS_LOST, 'GPU is lost (NVML error 15)');
      return i === 0 ? 250_000 : 120_500;
    },
    // a V100 is compute capability 7.0, a P100 6.0: NVML's power reading of either is instantaneous
    computeCapability: (i: number) => [7.0, 6.0][i],
    utilization: (i: number) => (i === 0 ? { gpu: 93, memory: 41 } : { gpu: 12, memory: 3 }),
    memory: (i: number) => ({ used: (i + 1) * 1024 ** 3, total: 16 * 1024 ** 3 }),
    temperatureC: () => 55,
    smClockMhz: (i: number) => (i === 0 ? 1530 : undefined),
    shutdown() {
      api.shutdowns++;
    },
  };
  return api;
}

/** The collector's shared resources, with NVML answering from recorded values. */
const withNvml = (api: NvmlApi, log: RecordingLogger = recordingLogger()) => new SharedResources(log, () => api);

function agentFor(sources: Source[], clock: { t: number }, out: Sample[]) {
  return new Agent({ sources, hostTags: { host: 'h', platform: 'p' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => out.push(...s), metrics: new CollectorMetrics(), log: recordingLogger(), now: () => clock.t, wallNow: () => 1_800_000_000_000 + clock.t });
}

describe('NVML', () => {
  it('uses the total-energy counter where the GPU has one and samples power where not', async () => {
    const api = recordedNvml();
    const log = recordingLogger();
    const resources = withNvml(api, log);
    const { sources: [source] } = await discoverOn(host, [nvmlSource], { log, resources });
    expect(source?.channels().map((c) => `${c.id} ${c.method} ${c.domain} ${c.inTotal} ${c.reading}`)).toEqual(['nvml/0 counter gpu true nvmlDeviceGetTotalEnergyConsumption', 'nvml/1 sampled gpu true nvmlDeviceGetPowerUsage']);
    expect(source?.gpus?.().map((g) => g.name)).toEqual(['Tesla V100-SXM2-16GB', 'Tesla P100-PCIE-16GB']);
    expect(log.lines.map((l) => l.message).join()).toMatch(/GPU 1 \(Tesla P100-PCIE-16GB\) has no total-energy counter/);
    const clock = { t: 0 };
    const out: Sample[] = [];
    const agent = agentFor([source as Source], clock, out);
    for (let k = 0; k <= 10; k++) {
      clock.t = k * 100;
      api.energy[0] = 5_000_000 + 300 * clock.t; // 300 W: 300 mJ per ms
      agent.sample(clock.t);
    }
    agent.report();
    const p0 = out.find((s) => s.tags.source === 'nvml/0');
    const p1 = out.find((s) => s.tags.source === 'nvml/1');
    expect(p0?.fields.energy_j).toBeCloseTo(300, 9);
    expect(p0?.tags.method).toBe('counter');
    expect(p1?.fields.energy_j).toBeCloseTo(120.5, 9);
    const gpu0 = out.find((s) => s.measurement === 'gpu' && s.tags.gpu === '0');
    expect(gpu0).toMatchObject({ tags: { gpu_name: 'Tesla V100-SXM2-16GB' }, fields: { util_pct: 93, mem_util_pct: 41, mem_used_bytes: 1024 ** 3, mem_total_bytes: 16 * 1024 ** 3, temp_c: 55, sm_clock_mhz: 1530 } });
    // the P100 reports no SM clock: its point is there, without the field
    const gpu1 = out.find((s) => s.measurement === 'gpu' && s.tags.gpu === '1');
    expect(gpu1).toMatchObject({ tags: { gpu_name: 'Tesla P100-PCIE-16GB' }, fields: { util_pct: 12, mem_util_pct: 3, mem_used_bytes: 2 * 1024 ** 3, mem_total_bytes: 16 * 1024 ** 3, temp_c: 55 } });
    expect(gpu1?.fields).not.toHaveProperty('sm_clock_mhz');
    // the binding is the collector's, not the source's: closed once, at exit
    await source?.close?.();
    expect(api.shutdowns).toBe(0);
    resources.close();
    expect(api.shutdowns).toBe(1);
  });

  it('keeps going when a GPU falls off the bus, with one warning', async () => {
    const api = recordedNvml();
    const log = recordingLogger();
    const source = await nvmlSource.discover(contextFor(host, { log, resources: withNvml(api, log) }));
    api.lost.add(0);
    const [c0, c1] = source?.channels() ?? [];
    expect(c0?.read()).toBeUndefined();
    expect(c0?.read()).toBeUndefined();
    expect(c1?.read()).toBeCloseTo(120.5, 9);
    expect(log.lines.filter((l) => /fell off the bus/.test(l.message))).toHaveLength(1);
  });

  it('is absent, quietly, where libnvidia-ml is not installed', async () => {
    const log = recordingLogger();
    expect(await nvmlSource.discover(contextFor(host, { log }))).toBeUndefined();
    expect(log.lines).toEqual([]);
  });
});

describe('nvidia-smi', () => {
  it('reads a power from the bytes of a row as Number() reads its text: the same double, nothing but a plain decimal', () => {
    const at = (t: string) => decimalIn(Buffer.from(t), 0, Buffer.byteLength(t));
    // every value of the real captures' rows, and a spread of others
    const captured = readFileSync(testdata('nvidia-smi', 'a100x2.csv'), 'utf8').split(/[,\n]/).map((c) => c.trim()).filter((c) => /^-?\d+(\.\d+)?$/.test(c));
    expect(captured.length).toBeGreaterThan(20);
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const generated = Array.from({ length: 5000 }, (_, i) => (random() * 10 ** (i % 7)).toFixed(i % 6));
    for (const t of [...captured, ...generated, '0', '700.00', '127.67', '0.01', '1e3'.slice(0, 1), '-3.5']) expect(at(t), t).toBe(Number(t));
    expect(at(' 61.45 ')).toBe(61.45);
    for (const t of ['[N/A]', '[Not Supported]', 'N/A', '', '  ', '12a', '1.2.3', '.', '-', '1e3', '0x10']) expect(at(t), t).toBeUndefined();
  });

  it('parses the CSV rows as the tool prints them, unsupported values left out', () => {
    // the fixtures' columns: their header, as `--format=csv,nounits` prints it
    const rows = (file: string) => {
      const [header, ...lines] = readFileSync(testdata('nvidia-smi', file), 'utf8').trim().split('\n');
      const fields = (header as string).split(', ').map((h) => h.replace(/ \[.*\]$/, ''));
      return lines.map((l) => parseSmiLine(l, fields));
    };
    const [a, b] = rows('a100x2.csv');
    expect(a).toEqual({ index: 0, pci: '00000000:18:00.0', name: 'NVIDIA A100-SXM4-40GB', power: { 'power.draw': 61.45 }, computeCap: undefined, utilPct: 0, memUtilPct: 0, memUsedBytes: 4 * 1024 ** 2, memTotalBytes: 40960 * 1024 ** 2, tempC: 32, smClockMhz: 210 });
    expect(b?.power['power.draw']).toBe(312.8);
    const [t4, gtx, quadro] = rows('mixed-na.csv');
    expect(t4?.power['power.draw']).toBe(27.74);
    expect(gtx).toMatchObject({ name: 'NVIDIA GeForce GTX 1080 Ti', power: {}, smClockMhz: undefined, utilPct: 3 });
    expect(quadro).toMatchObject({ power: {}, utilPct: undefined, memUsedBytes: 350 * 1024 ** 2 });
    expect(parseSmiLine('')).toBeUndefined();
    expect(parseSmiLine('No devices were found')).toBeUndefined();
    // a name with a NUL or control characters is cut and cleaned: it becomes a tag
    expect(parseSmiLine('0, 00000000:18:00.0, NVIDIA\u0000garbage, 61.45, 0, 0, 4, 40960, 32, 210', ['index', 'pci.bus_id', 'name', 'power.draw', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total', 'temperature.gpu', 'clocks.sm'])?.name).toBe('NVIDIA');
  });

  it('streams one long-lived process, several GPUs, gpu points and sampled power', async () => {
    process.env.NVIDIA_SMI_REPLAY = testdata('nvidia-smi', 'a100x2.csv');
    const { sources: [source], resources } = await discoverOn(host, [nvidiaSmiSource], { env: { WATTSCOPE_NVIDIA_SMI: FAKE_SMI } });
    try {
      // a driver that knows only power.draw (these fixtures' header) and not the GPU's generation: taken for an average
      expect(source?.channels().map((c) => `${c.id} ${c.method} ${c.inTotal} ${c.reading}`)).toEqual(['nvidia-smi/0 averaged true power.draw', 'nvidia-smi/1 averaged true power.draw']);
      expect(source?.gpus?.().map((g) => g.name)).toEqual(['NVIDIA A100-SXM4-40GB', 'NVIDIA A100-SXM4-40GB']);
      const p1 = source?.channels()[1]?.read() as number;
      expect([312.8, 318.33]).toContain(p1);
      const gpus = source?.collect?.(5) ?? [];
      expect(gpus.map((g) => g.tags.gpu)).toEqual(['0', '1']);
      expect(gpus[1]?.fields.mem_used_bytes).toBe(30211 * 1024 ** 2);
    } finally {
      await source?.close?.();
      resources.close(); // the process is the collector's: stopped at exit
    }
  });

  it('shows N/A and Not Supported as missing values, and a GPU that drops out as no reading', async () => {
    process.env.NVIDIA_SMI_REPLAY = testdata('nvidia-smi', 'mixed-na.csv');
    const mixedCtx = contextFor(host, { env: { WATTSCOPE_NVIDIA_SMI: FAKE_SMI } });
    const mixed = await nvidiaSmiSource.discover(mixedCtx);
    try {
      // the boards without any power reading have no channel: their gpu points only
      expect(mixed?.channels().map((c) => c.read())).toEqual([27.74]);
      expect(mixed?.collect?.(5).map((p) => p.tags.gpu)).toEqual(['0', '1', '2']);
    } finally {
      await mixed?.close?.();
      mixedCtx.resources.close();
    }
    process.env.NVIDIA_SMI_REPLAY = testdata('nvidia-smi', 'drop-out.csv');
    process.env.NVIDIA_SMI_STOP_AFTER = '3';
    const log = recordingLogger();
    const droppingCtx = contextFor(host, { log, env: { WATTSCOPE_NVIDIA_SMI: FAKE_SMI, WATTSCOPE_SAMPLE_HZ: '20' } });
    const dropping = await nvidiaSmiSource.discover(droppingCtx);
    try {
      expect(dropping?.channels().map((c) => c.id)).toEqual(['nvidia-smi/0', 'nvidia-smi/1']);
      // the tool exits (as it does when a GPU is lost); readings go stale, the source restarts it
      // and GPU 0 reads again, GPU 1 (gone) no more: waited for (1.5 s on a calm machine, longer
      // on a loaded one)
      const [g0, g1] = dropping?.channels() ?? [];
      await waitFor(async () => typeof g0?.read() === 'number' && g1?.read() === undefined && log.lines.some((l) => /nvidia-smi exited/.test(l.message)), 15_000, 'GPU 0 to read again after the restart, GPU 1 no more');
      expect(g1?.read()).toBeUndefined();
      expect(typeof g0?.read()).toBe('number');
      expect(log.lines.filter((l) => /nvidia-smi exited/.test(l.message))).toHaveLength(1);
    } finally {
      delete process.env.NVIDIA_SMI_STOP_AFTER;
      await dropping?.close?.();
      droppingCtx.resources.close();
    }
  });

  it('reads power.draw.instant on real captures, and asks a driver that does not know it for what it knows', async () => {
    const capture = (name: string) => testdata('nvidia-smi', 'captures', name);
    const discoverWith = async (replay: string, state: string, forget = '') => {
      Object.assign(process.env, { NVIDIA_SMI_REPLAY: replay, NVIDIA_SMI_STATE: state, NVIDIA_SMI_HOLD: '1', NVIDIA_SMI_FORGET: forget });
      const log = recordingLogger();
      const ctx = contextFor(host, { log, env: { WATTSCOPE_NVIDIA_SMI: FAKE_SMI } });
      const source = await nvidiaSmiSource.discover(ctx);
      try {
        const [c] = source?.channels() ?? [];
        return { how: `${c?.method} ${c?.reading} ${c?.read()}`, refused: (await ctx.resources.smi(FAKE_SMI, 100)).refused, log: log.lines.map((l) => l.message) };
      } finally {
        await source?.close?.();
        ctx.resources.close();
        for (const k of ['NVIDIA_SMI_STATE', 'NVIDIA_SMI_HOLD', 'NVIDIA_SMI_FORGET']) delete process.env[k];
      }
    };
    const l40s = capture('linux-x86_64__nvidia-l40s__595.80.txt');
    const h100 = capture('linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
    const turing = capture('linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05.txt');
    // the driver knows every power field: the instantaneous one, not the one-second average (144.97 W)
    expect((await discoverWith(l40s, 'idle')).how).toBe('sampled power.draw.instant 127.67');
    expect((await discoverWith(h100, 'load')).how).toBe('sampled power.draw.instant 625.68');
    // a Turing board has no average: its instantaneous reading
    expect((await discoverWith(turing, 'load')).how).toBe('sampled power.draw.instant 111.5');
    // a driver that does not know .instant (the fields of the real capture less it): the average, said once
    const older = await discoverWith(l40s, 'idle', 'power.draw.instant');
    expect(older.how).toBe('averaged power.draw.average 144.97');
    expect(older.log.filter((m) => /gives only power\.draw\.average, a one-second average/.test(m))).toHaveLength(1);
    // knowing neither: power.draw, an average on an sm 8.9 board, as its compute_cap says …
    expect((await discoverWith(l40s, 'idle', 'power.draw.instant,power.draw.average')).how).toBe('averaged power.draw 144.97');
    // … instantaneous on a Turing board (7.5) …
    expect((await discoverWith(turing, 'load', 'power.draw.instant,power.draw.average')).how).toBe('sampled power.draw 111.5');
    // … and taken for an average where the driver cannot say
    expect((await discoverWith(turing, 'load', 'power.draw.instant,power.draw.average,compute_cap')).how).toBe('averaged power.draw 111.5');
    // where the driver knows .average and gives none for the board (Turing), power.draw is its instantaneous power
    expect((await discoverWith(turing, 'load', 'power.draw.instant')).how).toBe('sampled power.draw 111.5');
  });

  it('refuses, as the real tool, a field the replayed driver does not know', () => {
    const r = spawnSync(FAKE_SMI, ['--query-gpu=index,power.draw.instant', '--format=csv,noheader,nounits', '-lms', '100'], { encoding: 'utf8', env: { ...process.env, NVIDIA_SMI_REPLAY: testdata('nvidia-smi', 'a100x2.csv') } });
    expect(r.stdout).toBe('Field "power.draw.instant" is not a valid field to query.\n\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(2);
  });

  it('is absent, quietly, without nvidia-smi, and steps aside for NVML', async () => {
    const log = recordingLogger();
    expect(await nvidiaSmiSource.discover(contextFor(host, { log, env: { WATTSCOPE_NVIDIA_SMI: '/nonexistent/nvidia-smi' } }))).toBeUndefined();
    expect(log.lines).toEqual([]);
    // where NVML works the tool is not started: NVML reads the same GPUs
    expect(await nvidiaSmiSource.discover(contextFor(host, { resources: withNvml(recordedNvml()), env: { WATTSCOPE_NVIDIA_SMI: FAKE_SMI } }))).toBeUndefined();
  });
});

describe('DCGM', () => {
  let server: Server;
  let url = '';
  let energyMj = 9_382_741_023;
  beforeAll(async () => {
    const text = readFileSync(testdata('dcgm', 'h100x2.prom'), 'utf8');
    server = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text.replace('} 9382741023', `} ${energyMj}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/metrics`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('parses dcgm-exporter text: counter in mJ, framebuffer in MiB, per GPU', () => {
    const gpus = dcgmGpus(parsePromText(readFileSync(testdata('dcgm', 'h100x2.prom'), 'utf8')));
    expect(gpus.get(0)).toEqual({
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-5d3a0b4c-1f2e-4a6b-9c8d-7e6f5a4b3c2d',
      pci: '00000000:18:00.0',
      energyMj: 9382741023,
      powerW: 402.118,
      powerInstantW: undefined,
      utilPct: 97,
      memUtilPct: 41,
      memUsedBytes: 69718 * 1024 ** 2,
      memTotalBytes: (69718 + 11287) * 1024 ** 2,
      tempC: 47,
      smClockMhz: 1980,
    });
    expect(gpus.get(1)?.energyMj).toBe(2210948112);
  });

  it('reads a scrape every report as the general parser does, parsing only the lines and labels it uses', () => {
    const text = readFileSync(testdata('dcgm', 'h100x2.prom'), 'utf8');
    expect(dcgmGpusOf(text)).toEqual(dcgmGpus(parsePromText(text)));
    // a fuller exporter's text: other metrics, escapes in labels, blanks, garbage, no newline at the end
    const odd = [
      '# HELP DCGM_FI_DEV_XID_ERRORS Value of the last XID error encountered.',
      '  DCGM_FI_DEV_GPU_TEMP{gpu="2",modelName="NVIDIA \\"Odd\\" \\\\ Board\\n",pci_bus_id="00000000:3A:00.0", UUID="GPU-2" }  51 1700000000000',
      'DCGM_FI_DEV_XID_ERRORS{gpu="2",UUID="GPU-2"} 0',
      'DCGM_FI_DEV_GPU_UTIL{gpu="2",Hostname="n,1",modelName="NVIDIA, with a comma"}\t88',
      'DCGM_FI_DEV_SM_CLOCK{gpu="2"} not-a-number',
      'DCGM_FI_DEV_FB_USED{gpu="2" 12',
      'DCGM_FI_DEV_FB_FREE 7',
      'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="2"} 1.5e3',
    ].join('\n');
    expect(dcgmGpusOf(odd)).toEqual(dcgmGpus(parsePromText(odd)));
    expect(dcgmGpusOf(odd).get(2)).toMatchObject({ name: 'NVIDIA "Odd" \\ Board', tempC: 51, utilPct: 88, energyMj: 1500, pci: '00000000:3A:00.0' });
  });

  it('scrapes the endpoint, differences the energy counter, and is not added twice beside NVML', async () => {
    const { sources: [source] } = await discoverOn(host, [dcgmSource], { env: { WATTSCOPE_DCGM_URL: url } });
    try {
      expect(source?.channels().map((c) => `${c.id} ${c.method} ${c.inTotal}`)).toEqual(['dcgm/0 counter true', 'dcgm/1 counter true']);
      const clock = { t: 0 };
      const out: Sample[] = [];
      const agent = agentFor([source as Source], clock, out);
      agent.sample(0);
      energyMj += 400_000; // 400 J
      await new Promise((r) => setTimeout(r, 1300)); // the scraper's own interval picks it up
      clock.t = 1000;
      agent.sample(clock.t);
      agent.report();
      expect(out.find((s) => s.tags.source === 'dcgm/0')?.fields.energy_j).toBeCloseTo(400, 9);
      expect(out.find((s) => s.measurement === 'gpu' && s.tags.gpu === '0')?.fields.util_pct).toBe(97);
    } finally {
      await source?.close?.();
    }
    // beside NVML, the same boards (by PCI address) count once: NVML's counter, then DCGM's
    // counter before NVML's sampled reading of the P100
    const both = await discoverOn(host, [nvmlSource, dcgmSource], { resources: withNvml(recordedNvml()), env: { WATTSCOPE_DCGM_URL: url } });
    expect(both.channels.map((c) => `${c.id} ${c.method} ${c.inTotal} ${c.reading}`)).toEqual([
      'nvml/0 counter true nvmlDeviceGetTotalEnergyConsumption',
      'nvml/1 sampled false nvmlDeviceGetPowerUsage',
      'dcgm/0 counter false DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
      'dcgm/1 counter true DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
    ]);
    for (const s of both.sources) await s.close?.();
  });

  it('says once when the endpoint does not answer', async () => {
    const log = recordingLogger();
    expect(await dcgmSource.discover(contextFor(host, { log, env: { WATTSCOPE_DCGM_URL: 'http://127.0.0.1:9/metrics' } }))).toBeUndefined();
    expect(log.lines.map((l) => l.message)).toEqual([expect.stringMatching(/cannot scrape dcgm-exporter at http:\/\/127\.0\.0\.1:9\/metrics/), expect.stringMatching(/reports no GPU/)]);
  });
});
