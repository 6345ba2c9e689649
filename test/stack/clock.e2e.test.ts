/**
 * A collector whose host clock is off InfluxDB's — as deployed, on its defaults, its clock
 * shifted for real with faketime (Debian's libfaketime) — and a run measured by the API on
 * this machine's clock: the API reads each host's points in that host's clock, by the offset the
 * collector measured and recorded, so the run's energy is right (within 1 %, and the stand-in's staleness) and its summary
 * says which offset it applied. Without a known offset the run is partial, never silently final.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { copyHost } from '../collector/fixtures.js';
import { PKG_ENERGY, RAPL_RANGE_UJ, runBound } from '../collector/power-points.js';
import { spawnCollector, startRaplDriver, type CollectorProcess } from '../collector/process.js';
import { runProcess, testSettings, waitFor } from '../helpers.js';
import { spawnApi, type ApiProcess } from './api-process.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** desktop-intel's in-total sources: the RAPL package (driven) and the amdgpu board's 23 W (its file stands still) */
const PACKAGE_W = 40;
const HOST_W = PACKAGE_W + 23;

let api: ApiProcess;
let influx: Record<string, string>;
const running: CollectorProcess[] = [];
const drivers: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  if (!existsSync(LIBFAKETIME)) throw new Error('these tests shift a clock for real with libfaketime: apt-get install -y faketime');
  const settings = testSettings('e2e_clock_off');
  influx = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
  api = await spawnApi({ PATH: process.env.PATH, HOME: copyHost('vm-epyc'), ...influx, WATTSCOPE_API_PORT: '0' });
}, 60_000);

afterAll(async () => {
  for (const c of running) await c.stop();
  for (const d of drivers) await d.stop();
  await api?.stop();
});

async function measuredRun(host: string, shift: string): Promise<{ summary: RunSummary; collector: CollectorProcess }> {
  const root = copyHost('desktop-intel');
  drivers.push(startRaplDriver(join(root, PKG_ENERGY), PACKAGE_W, 1e9, RAPL_RANGE_UJ));
  // libfaketime preloaded into the collector itself (the `faketime` wrapper would be a parent
  // process that a signal to it does not reach through): its clocks, wall and monotonic, shifted
  const collector = await spawnCollector(root, { ...influx, WATTSCOPE_HOST: host, LD_PRELOAD: LIBFAKETIME, FAKETIME: shift, FAKETIME_DONT_RESET: '1' });
  running.push(collector);
  // the collector measures its offset from InfluxDB's answers and records it with its host
  await waitFor(async () => /this host's clock is \d+\.\d s (ahead of|behind) InfluxDB's/.test(collector.output()), 30_000, `the collector's offset:\n${collector.output()}`);
  await new Promise((r) => setTimeout(r, 3000));
  const env = { PATH: process.env.PATH, HOME: root, WATTSCOPE_API_URL: api.url, WATTSCOPE_HOST: host };
  const r = await runProcess(process.execPath, [BIN, 'run', '--model', 'clock', '--json', '--', 'sleep', '6'], { env, timeoutMs: 90_000 });
  expect(r.status, r.stderr).toBe(0);
  return { summary: JSON.parse(r.stdout) as RunSummary, collector };
}

describe('a host whose clock is off InfluxDB’s', () => {
  for (const [shift, offset] of [['+300s', 300], ['-300s', -300]] as const) {
    it(`${shift}: the run's energy within 1 %, final, and the offset applied shown`, async () => {
      const { summary: s } = await measuredRun(`clock${offset > 0 ? 'ahead' : 'behind'}`, shift);
      expect(s.partial, JSON.stringify(s)).toBe(false);
      const seconds = s.duration_s as number;
      // 1 %, and the stand-in counter's staleness on a loaded machine (beside two busy loops one
      // run here was 1.4 % off); a window read 300 s off would be +50 % or nothing
      expect(Math.abs((s.energy_j as number) - HOST_W * seconds) / (HOST_W * seconds)).toBeLessThan(runBound(seconds, HOST_W, PACKAGE_W));
      const applied = Object.values(s.clock_offsets ?? {});
      expect(applied).toHaveLength(1);
      expect(Math.abs((applied[0] as number) - offset)).toBeLessThan(1);
    }, 120_000);
  }
});
