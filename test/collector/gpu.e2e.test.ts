/**
 * `wattscope collect` with GPU sources into the real influxd: a dcgm-exporter stand-in whose
 * energy counter advances at a known power, and the nvidia-smi stand-in replaying captured rows.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxStore, ident, iql, str } from '../../common/storage/index.js';
import { testSettings } from '../helpers.js';
import { copyHost, testdata } from './fixtures.js';
import { spawnCollector } from './process.js';
import { STANDIN_STALENESS_S } from './power-points.js';

const WATTS = 250;

let server: Server;
let url = '';
beforeAll(async () => {
  const text = readFileSync(testdata('dcgm', 'h100x2.prom'), 'utf8');
  const t0 = performance.now();
  server = createServer((_req, res) => {
    // GPU 0's counter: 250 W since the stand-in started, in mJ, as dcgm-exporter reports it
    const mj = Math.floor(9_382_741_023 + WATTS * (performance.now() - t0));
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text.replace('} 9382741023', `} ${mj}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/metrics`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('wattscope collect with GPUs', () => {
  it('writes gpu and power points per GPU, the DCGM counter within 0.5 % of the truth', async () => {
    const settings = testSettings('gpu_e2e');
    const store = await InfluxStore.open(settings);
    const collector = await spawnCollector(copyHost('vm-epyc'), {
      WATTSCOPE_INFLUX_URL: settings.url,
      WATTSCOPE_INFLUX_DB: settings.db,
      WATTSCOPE_SOURCES: 'nvidia-smi,dcgm',
      WATTSCOPE_DCGM_URL: url,
      WATTSCOPE_NVIDIA_SMI: testdata('nvidia-smi', 'bin', 'nvidia-smi'),
      NVIDIA_SMI_REPLAY: testdata('nvidia-smi', 'a100x2.csv'),
    });
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await collector.stop()).toBe(0);
    expect(collector.output()).toMatch(/platform=2xA100-SXM4-40GB/);
    const rows = await store.rows<{ time: number; energy_j: number; interval_s: number; method: string; in_total: string }>(
      iql`SELECT ${ident('energy_j')}, ${ident('interval_s')}, ${ident('method')}, ${ident('in_total')} FROM ${ident('power')} WHERE ${ident('source')} = ${str('dcgm/0')}`,
    );
    // the first interval starts before the collector's first scrape landed: leave out the edges
    const inner = rows.slice(1, -1);
    expect(inner.length).toBeGreaterThan(8);
    const e = inner.reduce((a, r) => a + r.energy_j, 0);
    const t = inner.reduce((a, r) => a + r.interval_s, 0);
    // the stand-in answers with its counter when the scrape reaches it: 0.5 % plus its staleness
    expect(Math.abs(e - WATTS * t) / (WATTS * t)).toBeLessThan(0.005 + STANDIN_STALENESS_S / t);
    const smi = await store.rows<{ power_w: number; method: string; in_total: string }>(
      iql`SELECT ${ident('power_w')}, ${ident('method')}, ${ident('in_total')} FROM ${ident('power')} WHERE ${ident('source')} = ${str('nvidia-smi/1')}`,
    );
    expect(smi.length).toBeGreaterThan(8);
    for (const r of smi.slice(1)) expect(r.power_w).toBeGreaterThan(312.7);
    // both read the same boards (the same PCI addresses): DCGM's energy counter counts, the
    // reading of nvidia-smi is reported, not added (power.draw of a driver that does not say
    // whether it averages: labelled averaged)
    expect(smi[0]).toMatchObject({ method: 'averaged', in_total: 'false' });
    expect(rows[0]).toMatchObject({ method: 'counter', in_total: 'true' });
    const gpus = await store.rows(iql`SELECT last(${ident('util_pct')}) FROM ${ident('gpu')} GROUP BY ${ident('gpu')}`);
    expect(gpus.length).toBe(2);
  }, 60_000);
});
