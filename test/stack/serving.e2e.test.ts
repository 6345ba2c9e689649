/**
 * A serving host as deployed: `wattscope collect` and `wattscope serve` as separate processes on
 * their defaults, a RAPL package at 40 W (laptop-thinkpad: its one in-total source; the counter a
 * FUSE file exact at every read, ../collector/rapl-counter), and vLLM's /metrics — a real capture
 * replayed with its counters running at 50 output tokens, 120 prompt tokens and 2 requests a
 * second — named in WATTSCOPE_SERVING_METRICS_URL, the one setting a user gives the collector
 * for it. Then what users do: a 20 s run (0.8 J per output token and 20 J per request, within
 * 2 %), the live page's J/token, the Python README's recorded window around a load test, a shell
 * script's windows.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { runProcess, testSettings, waitFor } from '../helpers.js';
import { spawnApi, type ApiProcess } from './api-process.js';
import { copyHost, testdata } from '../collector/fixtures.js';
import { spawnCollector, type CollectorProcess } from '../collector/process.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from '../collector/power-points.js';
import { startExactRapl } from '../collector/rapl-counter/index.js';
import { startServingStandin, type ServingStandin } from '../collector/serving-standin.js';
import { pythonReadme, STAND_INS } from '../clients/python-readme.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const PYTHON_CLIENT = new URL('../../clients/python/', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const WATTS = 40;
const TOKENS_PER_S = 50;
const REQUESTS_PER_S = 2;

let collector: CollectorProcess;
let api: ApiProcess;
let rapl: { stop(): Promise<void> };
let vllm: ServingStandin;
let clientEnv: NodeJS.ProcessEnv;

const within = (value: number | null | undefined, want: number, rel: number) => value !== null && value !== undefined && Math.abs(value - want) / want < rel;

beforeAll(async () => {
  const root = copyHost('laptop-thinkpad');
  rapl = await startExactRapl(join(root, PKG_ENERGY), WATTS, 1e9, RAPL_RANGE_UJ);
  vllm = await startServingStandin(testdata('serving', 'vllm-opt-125m.prom'), { 'vllm:generation_tokens_total': TOKENS_PER_S, 'vllm:prompt_tokens_total': 120, 'vllm:request_success_total': REQUESTS_PER_S });
  const settings = testSettings('serving');
  const influx = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
  // where InfluxDB is, this machine's name, and where its inference server's metrics are: all a user sets
  collector = await spawnCollector(root, { ...influx, WATTSCOPE_HOST: 'srv-node', WATTSCOPE_SERVING_METRICS_URL: vllm.url });
  api = await spawnApi({ PATH: process.env.PATH, HOME: root, ...influx, WATTSCOPE_API_PORT: '0' });
  // the test's collector is on a free port (tests run side by side): a client says where it is, as a user would for a collector off the default port
  clientEnv = { PATH: process.env.PATH, HOME: root, WATTSCOPE_API_URL: api.url, WATTSCOPE_HOST: 'srv-node', WATTSCOPE_COLLECTOR_URL: `http://127.0.0.1:${collector.port}`, PYTHONPATH: PYTHON_CLIENT };
  await waitFor(async () => /scraping vllm at http:\/\/127\.0\.0\.1:\d+\/metrics for requests and tokens/.test(collector.output()), 10_000, 'the collector to recognise vLLM');
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await collector?.stop();
  await vllm?.close();
  await rapl?.stop();
});

describe('a serving host, as deployed', () => {
  it('wattscope run -- sleep 20: 0.8 J per output token and 20 J per request within 2 %, its requests its inferences', async () => {
    const r = await runProcess(process.execPath, [BIN, 'run', '--model', 'opt-125m-serving', '--json', '--', 'sleep', '20'], { env: clientEnv, timeoutMs: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.partial).toBe(false);
    expect(s.duration_s).toBeGreaterThan(20);
    // the work: the counters' differences, prorated at the run's edges
    expect(within(s.output_tokens, TOKENS_PER_S * (s.duration_s as number), 0.005), `${s.output_tokens} tokens over ${s.duration_s} s`).toBe(true);
    expect(within(s.requests, REQUESTS_PER_S * (s.duration_s as number), 0.005), `${s.requests} requests`).toBe(true);
    expect(within(s.energy_per_output_token_j, WATTS / TOKENS_PER_S, 0.02), `${s.energy_per_output_token_j} J/token`).toBe(true);
    expect(within(s.energy_per_request_j, WATTS / REQUESTS_PER_S, 0.02), `${s.energy_per_request_j} J/request`).toBe(true);
    expect(s.workload).toEqual([expect.objectContaining({ host: 'srv-node', engine: 'vllm', model_name: 'facebook/opt-125m' })]);
    expect(s.inferences_from).toBe('requests');
    expect(within(s.energy_per_inference_uwh, WATTS / REQUESTS_PER_S / 3.6e-3, 0.02)).toBe(true);
    // the same, as a user reads it in the terminal
    const shown = await runProcess(process.execPath, [BIN, 'runs', 'show', s.run_id], { env: clientEnv });
    const line = /^energy \/ output token\s+([\d.]+) J$/m.exec(shown.stdout);
    expect(line, shown.stdout).not.toBeNull();
    expect(within(Number(line?.[1]), 0.8, 0.02)).toBe(true);
    // and for any range over HTTP
    const w = (await (await fetch(`${api.url}/api/workload?host=srv-node&from=${encodeURIComponent(s.started_at)}&to=${encodeURIComponent(s.ended_at as string)}`)).json()) as { energy_per_output_token_j: number; energy_per_request_j: number };
    expect(within(w.energy_per_output_token_j, 0.8, 0.02)).toBe(true);
    expect(within(w.energy_per_request_j, 20, 0.02)).toBe(true);
  }, 120_000);

  it('the live page shows J per output token and per request for the engine', async () => {
    if (!existsSync(CHROMIUM)) throw new Error('the page check needs Debian’s Chromium: apt-get install -y chromium');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      await page.goto(api.url);
      await page.waitForSelector('#serving:not([hidden]) tbody tr', { timeout: 20_000 });
      const row = await page.$$eval('#serving tbody tr td', (tds) => tds.map((td) => td.textContent ?? ''));
      expect(row.slice(0, 3)).toEqual(['srv-node', 'vllm', 'facebook/opt-125m']);
      const [tokensPerS, requestsPerS, perToken, perRequest] = row.slice(3).map((t) => Number(t.replace(/,/g, '')));
      expect(within(tokensPerS, TOKENS_PER_S, 0.05)).toBe(true);
      expect(within(requestsPerS, REQUESTS_PER_S, 0.05)).toBe(true);
      expect(within(perToken, 0.8, 0.05), `${perToken} J/token on the page`).toBe(true);
      expect(within(perRequest, 20, 0.05), `${perRequest} J/request on the page`).toBe(true);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('the README’s recorded window around a load test: measured at once, and filed as a run over the same window, with its J per output token, by the time the script exits', async () => {
    // clients/python/README.md's example as written, its load generator a stand-in of 3 s
    const { serving } = pythonReadme();
    const epilogue = 'import json\nprint(json.dumps({"run_id": w.run_id, "energy_j": w.energy_j, "duration_s": w.duration_s, "start": w.start_time, "end": w.end_time}))';
    const r = await runProcess('python3', ['-c', `${STAND_INS}\nimport wattscope\n${serving}\n${epilogue}`], { env: clientEnv, timeoutMs: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    // at exit the script waits for the window to be filed (the stop waits for the collector's last
    // points, a second or two), and past a second says so; nothing else
    expect(r.stderr).toMatch(/^(wattscope: filing 1 window\(s\) as runs\u2026\n)?$/);
    const m = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { run_id: string; energy_j: number; duration_s: number; start: number; end: number };
    expect(m.duration_s).toBeGreaterThanOrEqual(3);
    expect(within(m.energy_j, WATTS * m.duration_s, 0.01)).toBe(true);
    const s = (await (await fetch(`${api.url}/api/runs/${m.run_id}`)).json()) as RunSummary;
    expect(s).toMatchObject({ status: 'completed', model: 'llama-3.1-8b', labels: { window: 'load-test', engine: 'vllm' }, hosts: ['srv-node'] });
    expect(Date.parse(s.started_at)).toBeCloseTo(m.start * 1000, -1);
    expect(s.duration_s).toBeCloseTo(m.duration_s, 1);
    // the API's energy of the window, from the stored points, agrees with the window's own
    expect(within(s.energy_j, m.energy_j, 0.01), `${s.energy_j} J stored, ${m.energy_j} J at once`).toBe(true);
    expect(within(s.energy_per_output_token_j, 0.8, 0.02), `${s.energy_per_output_token_j} J/token`).toBe(true);
    expect(within(s.energy_per_request_j, 20, 0.02), `${s.energy_per_request_j} J/request`).toBe(true);
  }, 120_000);

  it('a shell script’s windows: begin and end in separate processes, and a recorded one filed in the background', async () => {
    const script = `set -e
wattscope() { "${process.execPath}" "${BIN}" "$@"; }
wattscope window begin load
sleep 2
wattscope window end load --json
wattscope window run step --record --model opt-125m-step --json -- sleep 3`;
    const r = await runProcess('bash', ['-c', script], { env: clientEnv, timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [load, step] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { energy_j: number; duration_s: number; run_id: string | null; measured: boolean });
    expect(load?.measured).toBe(true);
    expect(load?.duration_s).toBeGreaterThanOrEqual(2);
    expect(within(load?.energy_j, WATTS * (load?.duration_s as number), 0.01)).toBe(true);
    expect(step?.run_id).toMatch(/^w-/);
    const run = await waitFor(async () => {
      const s = (await (await fetch(`${api.url}/api/runs/${step?.run_id}`)).json()) as RunSummary;
      return s.status === 'completed' ? s : undefined;
    }, 30_000, 'the recorded window’s run');
    expect(run).toMatchObject({ model: 'opt-125m-step', labels: { window: 'step' } });
    // 3 s, not 1: each edge's counter is read a few ms from the instant it is stamped with, more
    // when the machine is busy (a 1 s window once differed by over 1 % with the whole suite running)
    expect(within(run.energy_j, step?.energy_j as number, 0.01), `${run.energy_j} J stored over ${run.duration_s} s, ${step?.energy_j} J at once over ${step?.duration_s} s; clock offsets ${JSON.stringify(run.clock_offsets)}, coverage ${run.coverage}`).toBe(true);
  }, 90_000);
});
