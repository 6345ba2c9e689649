/**
 * A page with real data in it, as a user who has measured a few things sees it: a real collector
 * on a fixture host whose RAPL package is driven (the live chart moves), a 4 s run of a model made
 * by the real CLI with its inference count and accuracy (a run detail with a 4 s time axis), a run
 * given no inference count (energy per inference empty: a pair the comparison still counts), and
 * repeated runs of other platforms imported, one of them two runs far apart (a wide interval).
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { copyHost } from '../collector/fixtures.js';
import { spawnCollector, type CollectorProcess } from '../collector/process.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from '../collector/power-points.js';
import { liveServer, type LiveServer } from '../clients/server.js';
import { startControlledRapl, type ControlledRapl } from '../cli/standin.js';
import { runProcess } from '../helpers.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
export const IDLE_PKG_W = 10;

export interface Scene {
  server: LiveServer;
  /** the 4 s run with an inference count, and the run without one */
  timed: RunSummary;
  uncounted: RunSummary;
  /** the imported pair of two runs far apart */
  wide: { model: string; platform: string; values: number[] };
  stop(): Promise<void>;
}

export async function startScene(prefix: string): Promise<Scene> {
  const root = copyHost('desktop-intel');
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-page-scene-'));
  const rapl: ControlledRapl = startControlledRapl(join(root, PKG_ENERGY), join(dir, 'ctl'), join(dir, 'power.log'), { idleW: IDLE_PKG_W, holdS: 0, startUj: 1e9, rangeUj: RAPL_RANGE_UJ });
  const server = await liveServer(prefix);
  // sent every second, as `wattscope up` runs its collector for the live page; points every 0.2 s
  // (the default is 1 s), as a user who reads power curves sets it for their detail. The live
  // page over a collector on its defaults: test/stack/serving.e2e.test.ts
  const collector: CollectorProcess = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: server.store.settings.url, WATTSCOPE_INFLUX_DB: server.store.db, WATTSCOPE_HOST: 'scene-host', WATTSCOPE_REPORT_INTERVAL_S: '0.2', WATTSCOPE_FLUSH_INTERVAL_S: '1' });
  const env = { PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'scene-host', WATTSCOPE_COLLECTOR_PORT: String(collector.port) };
  await new Promise((r) => setTimeout(r, 3000));
  const script = join(dir, 'work.sh');
  writeFileSync(script, `#!/bin/sh\necho 35 > ${dir}/ctl\nsleep 4\necho ${IDLE_PKG_W} > ${dir}/ctl\n`);
  chmodSync(script, 0o755);
  const a = await runProcess(process.execPath, [BIN, 'run', '--model', 'resnet50', '--inferences', '1000', '--accuracy', '0.761', '--params-m', '25.6', '--macs-g', '4.1', '--json', '--', script], { env });
  expect(a.status, a.stderr).toBe(0);
  const timed = JSON.parse(a.stdout) as RunSummary;
  await new Promise((r) => setTimeout(r, 1000));
  // a run given no inference count: energy per inference (and the scores made of it) empty
  const b = await runProcess(process.execPath, [BIN, 'run', '--model', 'llama-eval', '--json', '--', 'sleep', '2'], { env });
  expect(b.status, b.stderr).toBe(0);
  const uncounted = JSON.parse(b.stdout) as RunSummary;
  const wide = { model: 'vit_b16', platform: 'A100', values: [162.5, 428.5] };
  const imported = [
    ...[20.1, 20.6, 19.8].map((e) => ({ model: 'resnet50', platform: 'A100', energy_per_inference_uwh: e, accuracy: 0.761, params_m: 25.6, macs_g: 4.1 })),
    ...wide.values.map((e) => ({ model: wide.model, platform: wide.platform, energy_per_inference_uwh: e, accuracy: 0.811, params_m: 86.6, macs_g: 17.6 })),
    ...[1203.4, 1188.9, 1221.7].map((e) => ({ model: 'vgg16', platform: 'Quadro RTX 5000', energy_per_inference_uwh: e, accuracy: 0.715, params_m: 138, macs_g: 15.5 })),
  ].map((r) => ({ ...r, inferences: 50_000 }));
  const res = await fetch(`${server.url}/api/runs/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(imported) });
  expect(res.status, await res.clone().text()).toBe(201);
  return {
    server,
    timed,
    uncounted,
    wide,
    stop: async () => {
      await collector.stop();
      await rapl.stop();
      await server.close();
    },
  };
}
