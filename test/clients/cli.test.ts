/** The `wattscope` client commands against the real API and influxd. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { liveServer, steadyPower, type LiveServer } from './server.js';
import { runProcess } from '../helpers.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;

let server: LiveServer;
beforeAll(async () => {
  server = await liveServer('cli');
  await steadyPower(server.store, 'cli-host', 120);
});
afterAll(async () => server.close());

const env = () => ({ PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'cli-host', WATTSCOPE_COLLECTOR_PORT: '9' });
const cli = (args: string[], extra: Record<string, string> = {}) => runProcess(process.execPath, [BIN, ...args], { env: { ...env(), ...extra } });

describe('wattscope run', () => {
  it('wraps a command as a run: environment, accuracy from a file, summary with energy and score', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-cli-'));
    const out = join(dir, 'result.json');
    const r = await cli([
      'run', '--model', 'cli-model', '--dataset', 'val', '--params-m', '25.6', '--macs-g', '4.1', '--label', 'team=energy', '--accuracy-from', out, '--json',
      '--', 'sh', '-c', `sleep 1.5; echo "$WATTSCOPE_RUN_ID $WATTSCOPE_API_URL" > ${join(dir, 'env')}; echo '{"accuracy": 0.76, "inferences": 5000}' > ${out}`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s).toMatchObject({ model: 'cli-model', status: 'completed', hosts: ['cli-host'], accuracy: 0.76, inferences: 5000, labels: { team: 'energy' } });
    expect((s.energy_j as number) / (s.duration_s as number)).toBeCloseTo(120, 6);
    // 1 µWh = 3.6 mJ; composite = accuracy² / mWh per inference
    const perInferenceUwh = (s.energy_j as number) / 5000 / 3.6e-3;
    expect(s.energy_per_inference_uwh).toBeCloseTo(perInferenceUwh, 9);
    expect(s.composite_score).toBeCloseTo(0.76 ** 2 / (perInferenceUwh / 1000), 9);
    expect(readFileSync(join(dir, 'env'), 'utf8').trim()).toBe(`${s.run_id} ${server.url}`);
  });

  it('marks the run failed with the command’s exit status, and prints the summary table', async () => {
    const r = await cli(['run', '--model', 'cli-fails', '--', 'sh', '-c', 'exit 3']);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/run\s+r-[\w-]+\s+\(inference, failed\)/);
    expect(r.stdout).toMatch(/energy\s+[\d.]+ Wh/);
    expect(r.stderr).toMatch(/exited with 3; run r-[\w-]+ marked failed/);
  });

  it('shows one live status line (elapsed, power, energy so far) when stdout is a terminal', async () => {
    // util-linux `script` gives the command a pseudo-terminal and records what it printed
    const line = `${process.execPath} ${BIN} run --model cli-tty -- sleep 3.5`;
    const r = await runProcess('script', ['-qefc', line, '/dev/null'], { env: { ...env(), TERM: 'dumb' } });
    expect(r.status).toBe(0);
    const updates = r.stdout.split('\r').filter((l) => l.includes('[wattscope]'));
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.at(-1)).toMatch(/\[wattscope\] \d+ s {2}120\.0 W {2}\d+\.\d{3} Wh so far/);
    expect(r.stdout).toMatch(/\(inference, completed\)/);
  });

  it('forwards SIGTERM to the command', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--model', 'cli-signal', '--', 'sh', '-c', 'trap "exit 42" TERM; sleep 30 & wait'], { env: env() });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(42);
    expect(out).toMatch(/\(inference, failed\)/);
  });

  it('says what to do when the API is unreachable or wants a token', async () => {
    const down = await cli(['run', '--model', 'm', '--', 'true'], { WATTSCOPE_API_URL: 'http://127.0.0.1:9' });
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the Wattscope API at http:\/\/127\.0\.0\.1:9 .*start it with `wattscope up`/);
    const secured = await liveServer('cli_auth', { WATTSCOPE_API_TOKEN: 'cli-secret-token' });
    try {
      const denied = await cli(['run', '--model', 'm', '--', 'true'], { WATTSCOPE_API_URL: secured.url });
      expect(denied.status).toBe(1);
      expect(denied.stderr).toMatch(/set WATTSCOPE_API_TOKEN/);
      const ok = await cli(['run', '--model', 'm', '--', 'true'], { WATTSCOPE_API_URL: secured.url, WATTSCOPE_API_TOKEN: 'cli-secret-token' });
      expect(ok.status).toBe(0);
    } finally {
      await secured.close();
    }
    const usage = await cli(['run', '--', 'true']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--model is required/);
  });
});

describe('wattscope runs, compare, status', () => {
  it('lists, shows and exports runs, and compares models', async () => {
    await cli(['run', '--model', 'cmp-a', '--inferences', '1000', '--accuracy', '0.9', '--platform', 'P1', '--', 'sleep', '1']);
    await cli(['run', '--model', 'cmp-b', '--inferences', '1000', '--accuracy', '0.7', '--platform', 'P1', '--', 'sleep', '1']);
    const ls = await cli(['runs', 'ls', '--platform', 'P1']);
    expect(ls.status).toBe(0);
    expect(ls.stdout).toMatch(/^run_id\s+model\s+platform/);
    expect(ls.stdout).toContain('cmp-a');
    expect(ls.stdout).toContain('cmp-b');
    const id = /(r-[0-9a-f-]+)\s+cmp-a/.exec(ls.stdout)?.[1] as string;
    const show = await cli(['runs', 'show', id]);
    expect(show.stdout).toMatch(/nvml\/0\s+counter/);
    const csv = await cli(['runs', 'export', '--format', 'csv', '--platform', 'P1']);
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^run_id,model,platform/);
    expect(csv.stdout.trim().split('\r\n')).toHaveLength(3);
    const cmp = await cli(['compare']);
    expect(cmp.status).toBe(0);
    expect(cmp.stdout).toMatch(/cmp-a\s+P1\s+1\s+[\d.]+\s+[\d.]+\s+1/);
    expect(cmp.stdout).toMatch(/cmp-b\s+P1\s+1\s+[\d.]+\s+[\d.]+\s+2/);
    const missing = await cli(['runs', 'show', 'no-such-run']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/404 no run with run_id "no-such-run"/);
  });

  it('reports the stack’s health, naming what is down', async () => {
    const st = await cli(['status']);
    expect(st.status).toBe(1);
    expect(st.stdout).toMatch(/API\s+ok/);
    expect(st.stdout).toMatch(/InfluxDB\s+ok/);
    expect(st.stdout).toMatch(/collector\s+DOWN\s+nothing answers http:\/\/127\.0\.0\.1:9\/healthz/);
  });

  it('records a baseline of idle power', async () => {
    const r = await cli(['baseline', '--seconds', '1']);
    expect(r.status).toBe(0);
    // the steady 120 W of the host, all of the window covered
    expect(r.stdout).toMatch(/^nvml\/0\s+counter\s+120\s+100 %$/m);
    expect(r.stdout).toMatch(/^baseline b-[\w-]+: 120 W idle in total$/m);
  });
});
