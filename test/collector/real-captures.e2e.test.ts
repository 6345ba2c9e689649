/**
 * Real captures, as deployed (issue 19's "Done when"): four `wattscope collect` processes on
 * their defaults over machines other projects captured (collector/sources/*\/testdata/SOURCES.md)
 * — an L40S and an H100 through nvidia-smi (the stand-in replays the captures and refuses what
 * their drivers would), an RX 7900 XTX and an Arc B580 through hwmon — and one run across the
 * four hosts, measured by the API. The stored GPU power equals the board's instantaneous reading
 * in the capture within 0.5 % (the L40S's one-second average is 13.5 % above it; the Radeon
 * gives only an average, and says so), the Arc card and the Radeon each count once, and the
 * run's summary names the reading each source used.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app.js';
import { loadConfig } from '../../common/config.js';
import { InfluxStore } from '../../common/storage/index.js';
import { testSettings } from '../helpers.js';
import { copyHost, testdata } from './fixtures.js';
import { spawnCollector, startRaplDriver, type CollectorProcess } from './process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A power field of a capture's `--query-gpu` row in a state (`idle`, `load`), read from the file as a person would. */
function capturedWatts(file: string, state: string, field: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(`# ${state} :: query-gpu (csv`));
  const header = (lines[at + 3] as string).split(', ');
  const row = (lines[at + 4] as string).split(', ');
  return Number.parseFloat(row[header.findIndex((h) => h.startsWith(`${field} [`))] as string);
}

const L40S = testdata('nvidia-smi', 'captures', 'linux-x86_64__nvidia-l40s__595.80.txt');
const H100 = testdata('nvidia-smi', 'captures', 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
const RADEON_AVERAGE = testdata('hwmon', 'rx7900xtx', 'sys/devices/pci0000:00/0000:00:01.1/0000:03:00.0/hwmon/hwmon8/power1_average');
const ARC_HWMON = 'sys/devices/pci0000:00/0000:00:01.1/0000:09:00.0/hwmon/hwmon2';
const ARC_CARD_W = 41.5;
const ARC_PKG_W = 27.2;

const collectors: CollectorProcess[] = [];
const drivers: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of drivers) await d.stop();
  for (const c of collectors) await c.stop();
});

interface SummarySource {
  host: string;
  source: string;
  domain: string;
  method: string;
  reading?: string;
  avg_power_w: number;
  coverage: number;
}

describe('real captures, as deployed', () => {
  it('store each board’s instantaneous power, count each board once, and name the reading in the run', async () => {
    const settings = testSettings('real_captures');
    const store = await InfluxStore.open(settings);
    const influx = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
    // nvidia-smi on PATH as the driver installs it; NVML off, as where the library will not start (the captures are nvidia-smi's)
    const smi = (file: string, state: string) => ({ PATH: `${testdata('nvidia-smi', 'bin')}:${process.env.PATH}`, WATTSCOPE_NVML: 'off', NVIDIA_SMI_REPLAY: file, NVIDIA_SMI_STATE: state, NVIDIA_SMI_HOLD: '1' });
    const arc = copyHost('desktop-arc-b580');
    // the Arc's counters run at known powers from their captured values (µJ), as the driver advances them
    drivers.push(startRaplDriver(join(arc, ARC_HWMON, 'energy1_input'), ARC_CARD_W, 11_031_745_544, 2 ** 62));
    drivers.push(startRaplDriver(join(arc, ARC_HWMON, 'energy2_input'), ARC_PKG_W, 19_014_248_107, 2 ** 62));
    const started = await Promise.all([
      spawnCollector(copyHost('gpu-l40s-smi'), { ...influx, ...smi(L40S, 'idle'), WATTSCOPE_HOST: 'l40s' }),
      spawnCollector(copyHost('gpu-h100-smi'), { ...influx, ...smi(H100, 'load'), WATTSCOPE_HOST: 'h100' }),
      spawnCollector(copyHost('desktop-rx7900xtx'), { ...influx, WATTSCOPE_HOST: 'radeon' }),
      spawnCollector(arc, { ...influx, WATTSCOPE_HOST: 'arc' }),
    ]);
    collectors.push(...started);
    const app = await buildApp({ config: loadConfig({ HOME: '/nonexistent' }), store });
    try {
      // the collectors' host records are written at their start
      await sleep(2500);
      const hosts = ['l40s', 'h100', 'radeon', 'arc'];
      const start = await app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'real-captures', hosts } });
      expect(start.statusCode, start.body).toBe(201);
      const { run_id } = start.json<{ run_id: string }>();
      await sleep(6000);
      const stop = await app.fastify.inject({ method: 'POST', url: `/api/runs/${run_id}/stop` });
      expect(stop.statusCode, stop.body).toBe(200);
      const summary = stop.json<{ partial: boolean; sources: SummarySource[] }>();
      const gpu = (host: string) => summary.sources.filter((s) => s.host === host && s.domain === 'gpu');
      const within = (got: number, want: number) => expect(Math.abs(got - want) / want, `${got} W against ${want} W`).toBeLessThan(0.005);

      // the L40S: power.draw.instant (127.67 W), not the one-second average (144.97 W)
      const [l40s, ...l40sMore] = gpu('l40s');
      expect(l40sMore).toEqual([]);
      expect(l40s).toMatchObject({ source: 'nvidia-smi/0', method: 'sampled', reading: 'power.draw.instant' });
      within(l40s?.avg_power_w as number, capturedWatts(L40S, 'idle', 'power.draw.instant'));
      expect(Math.abs((l40s?.avg_power_w as number) - capturedWatts(L40S, 'idle', 'power.draw.average'))).toBeGreaterThan(15);
      // the H100 under load: 625.68 W instantaneous, 631.95 W averaged
      const [h100] = gpu('h100');
      expect(h100).toMatchObject({ source: 'nvidia-smi/0', method: 'sampled', reading: 'power.draw.instant' });
      within(h100?.avg_power_w as number, capturedWatts(H100, 'load', 'power.draw.instant'));
      // the Radeon gives only power1_average: read, and labelled as the average it is; counted once
      const radeon = gpu('radeon');
      expect(radeon).toHaveLength(1);
      expect(radeon[0]).toMatchObject({ source: 'hwmon/amdgpu-0/power1', method: 'averaged', reading: 'power1_average' });
      within(radeon[0]?.avg_power_w as number, Number(readFileSync(RADEON_AVERAGE, 'utf8').trim()) / 1e6);
      // the Arc: its card counter counts, the package inside it does not count again
      const arcGpu = gpu('arc');
      expect(arcGpu).toHaveLength(1);
      expect(arcGpu[0]).toMatchObject({ source: 'hwmon/xe-0/energy1', method: 'counter', reading: 'energy1_input' });
      within(arcGpu[0]?.avg_power_w as number, ARC_CARD_W);
      // every source of the run names its reading, and covers it
      for (const s of summary.sources) {
        expect(s.reading, `${s.host} ${s.source}`).toMatch(/\S/);
        expect(s.coverage, `${s.host} ${s.source}`).toBeGreaterThan(0.99);
      }
      expect(summary.partial).toBe(false);
      // the host list says which reading each source uses
      const listed = (await app.fastify.inject({ method: 'GET', url: '/api/hosts' })).json<{ hosts: Array<{ host: string; sources: Array<{ id: string; in_total: boolean; reading?: string }> }> }>();
      const arcSources = listed.hosts.find((h) => h.host === 'arc')?.sources ?? [];
      expect(arcSources.filter((s) => s.id.startsWith('hwmon/')).map((s) => `${s.id} ${s.in_total} ${s.reading}`)).toEqual(['hwmon/xe-0/energy1 true energy1_input', 'hwmon/xe-0/energy2 false energy2_input']);
    } finally {
      await app.fastify.close();
    }
    for (const c of collectors) expect(await c.stop(), c.output()).toBe(0);
    // nothing averaged was read where an instantaneous reading exists
    expect(started[0]?.output()).not.toMatch(/method=averaged/);
  }, 90_000);
});
