/** The Python module, run by python3 against the real API and influxd. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { liveServer, steadyPower, type LiveServer } from './server.js';
import { runProcess } from '../helpers.js';

const MODULE_DIR = new URL('../../clients/python/', import.meta.url).pathname;

let server: LiveServer;
beforeAll(async () => {
  server = await liveServer('python');
  await steadyPower(server.store, 'py-host', 50);
});
afterAll(async () => server.close());

function python(script: string, env: Record<string, string> = {}) {
  return runProcess('python3', ['-c', script], {
    env: { PATH: process.env.PATH, PYTHONPATH: MODULE_DIR, WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'py-host', ...env },
  });
}

describe('python module', () => {
  it('measures a with-block: energy from the collector data, score from the recorded accuracy', async () => {
    const r = await python(`
import json, time, wattscope
with wattscope.run(model="py-resnet", dataset="val", params_m=25.6, macs_g=4.1, labels={"by": "python"}) as run:
    time.sleep(2.0)
    run.record(inferences=1000, correct=800)
print(json.dumps(run.summary))
`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.status).toBe('completed');
    expect(s.model).toBe('py-resnet');
    expect(s.labels).toEqual({ by: 'python' });
    expect(s.hosts).toEqual(['py-host']);
    expect(s.accuracy).toBe(0.8);
    expect(s.duration_s).toBeGreaterThan(1.9);
    expect((s.energy_j as number) / (s.duration_s as number)).toBeCloseTo(50, 6);
    expect(s.composite_score).toBeCloseTo(0.64 / ((s.energy_j as number) / 1000 / 3.6e-3 / 1000), 6);
  });

  it('marks a run failed when the block raises, and lets the exception through', async () => {
    const r = await python(`
import wattscope
run = wattscope.run(model="py-fail")
try:
    with run:
        raise ValueError("boom")
except ValueError:
    print(run.summary["status"])
`);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('failed');
  });

  it('measures each call of a decorated function, recording from inside', async () => {
    const r = await python(`
import wattscope, json
@wattscope.measure(model="py-deco", kind="training")
def train():
    wattscope.current().record(inferences=64)
    return "trained"
print(train())
print(json.dumps(wattscope.current()))
`);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['trained', 'null']);
  });

  it('never breaks the script when the API is down: one warning, and the script runs on', async () => {
    const r = await python(
      `
import wattscope
for i in range(3):
    with wattscope.run(model="unreachable") as run:
        run.record(inferences=1)
print("done", run.run_id, run.summary)
`,
      { WATTSCOPE_API_URL: 'http://127.0.0.1:9' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('done None None');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach the Wattscope API at http:\/\/127\.0\.0\.1:9 .*wattscope up.*goes on unmeasured/);
  });

  it('attaches to the run of `wattscope run` instead of starting another', async () => {
    const outer = await server.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'outer', hosts: ['py-host'] } });
    const id = outer.json<{ run_id: string }>().run_id;
    const r = await python(
      `
import wattscope
with wattscope.run(model="inner") as run:
    run.record(inferences=10, accuracy=0.5)
print(run.run_id)
`,
      { WATTSCOPE_RUN_ID: id },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(id);
    const s = (await server.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(s).toMatchObject({ model: 'outer', status: 'running', inferences: 10, accuracy: 0.5 });
  });
});
