/**
 * The Python module as its README shows it: installed with the README's pip line into a fresh
 * virtual environment, its code blocks run as written (only the user's own model, loader and
 * evaluate() replaced by stand-ins) against the real API and influxd, with the API up, down,
 * hung, and slow to stop.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { powerPoints } from '../api/harness.js';
import { type Completed, runProcess, sideBySide, waitFor } from '../helpers.js';
import { hostRecordSample } from '../../common/host-record.js';
import { liveServer, steadyPower, type LiveServer } from './server.js';
import { pythonReadme, STAND_INS } from './python-readme.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const MODULE_DIR = join(ROOT, 'clients/python');
const WATTS = 50;
const WAITING = "wattscope: waiting for the collectors' last points\u2026";
const DONE = /^wattscope: \u2026 done in (\d+\.\d) s$/;

let server: LiveServer;
let work: string;
let venv: string;
let withBlock: string; // the README's first example
let decorator: string; // its second, the training step's `...` replaced by half a second of work
let windowBlocks: string; // its windows (run against a collector in windows.e2e and serving.e2e; type-checked here)
let installLine: string;

/** Spawns a command and collects its output; `stderrSoFar` lets a test act on what it printed. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<Completed & { signal: NodeJS.Signals | null; wallS: number }>((resolve, reject) => {
    const t0 = performance.now();
    child.once('error', reject);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, wallS: (performance.now() - t0) / 1000 });
    });
  });
  return { child, done, stderrSoFar: () => stderr };
}

/** The environment a user's shell would have after activating the venv, without our own settings. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WATTSCOPE_') && k !== 'PYTHONPATH' && k !== 'VIRTUAL_ENV') env[k] = v;
  return { ...env, PATH: `${join(venv, 'bin')}:${process.env.PATH}`, ...extra };
}

/** Runs Python source as a script file (outside the checkout, so `import wattscope` finds the installed one). */
async function python(source: string, extra: Record<string, string>, interpreter = join(venv, 'bin', 'python')) {
  const file = join(work, `script-${Math.random().toString(36).slice(2)}.py`);
  await writeFile(file, source);
  return start(interpreter, [file], userEnv({ WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'py-host', ...extra }), work);
}

const readme = (extra: Record<string, string> = {}, epilogue = '') => python(`${STAND_INS}\n${withBlock}\n${decorator}\n${epilogue}`, extra);

async function runsOf(model: string): Promise<RunSummary[]> {
  const res = await server.app.fastify.inject(`/api/runs?model=${model}`);
  return res.json<{ runs: RunSummary[] }>().runs;
}

/** The stop's lines when it took more than a second (the API waits for late points); none when it answered at once. */
function onlyWaitingLines(stderr: string): void {
  for (const line of stderr.split('\n').filter(Boolean)) expect(line === WAITING || DONE.test(line), line).toBe(true);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  server = await liveServer('python');
  await steadyPower(server.store, 'py-host', WATTS);
  const blocks = pythonReadme();
  [withBlock, decorator, windowBlocks, installLine] = [blocks.withBlock, blocks.decorator.replace('\n    ...\n', '\n    time.sleep(0.5)\n'), `${blocks.epochs}\n${blocks.serving}`, blocks.install];

  work = await mkdtemp(join(tmpdir(), 'wattscope-py-'));
  venv = join(work, 'venv');
  const made = await start('python3', ['-m', 'venv', venv], userEnv()).done;
  if (made.status !== 0) throw new Error(`python3 -m venv failed (on Debian: apt-get install python3-venv):\n${made.stderr}`);
  // pip retries an unreachable index 5 times with backoff, ~8 s per package where packages come
  // from a local mirror; one try is enough to fall through to it
  const installed = await start('bash', ['-euc', installLine], userEnv({ PIP_RETRIES: process.env.PIP_RETRIES ?? '0' })).done;
  if (installed.status !== 0) throw new Error(`${installLine}failed:\n${installed.stdout}${installed.stderr}`);
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('python package', () => {
  it('installs with the README’s pip line as the typed package wattscope (the one file plus py.typed)', async () => {
    const r = await (await python('import os, wattscope\nprint(wattscope.__file__)\nprint(os.listdir(os.path.dirname(wattscope.__file__)))', {})).done;
    expect(r.stderr).toBe('');
    const [file, listing] = r.stdout.trim().split('\n');
    expect(file).toMatch(new RegExp(`^${venv}/lib/python3\\.\\d+/site-packages/wattscope/__init__\\.py$`));
    expect(listing).toContain("'py.typed'");
    expect(await readFile(file as string, 'utf8')).toBe(await readFile(join(MODULE_DIR, 'wattscope.py'), 'utf8'));
  });

  it('passes mypy --strict, and so do the README’s examples against the installed package', async () => {
    const pip = await start(join(venv, 'bin', 'pip'), ['install', 'mypy'], userEnv({ PIP_RETRIES: process.env.PIP_RETRIES ?? '0' })).done;
    expect(pip.status, pip.stderr).toBe(0);
    const examples = join(work, 'examples.py');
    await writeFile(examples, `${STAND_INS}\n${withBlock}\n${decorator}\n${windowBlocks}`);
    // mypy 2 checks for Python 3.10 at the oldest; 3.8 itself is covered by running the module on it below
    const mypy = (file: string) => start(join(venv, 'bin', 'mypy'), ['--strict', '--python-version', '3.10', '--no-incremental', file], userEnv(), work).done;
    const own = await mypy(join(MODULE_DIR, 'wattscope.py'));
    expect(own.stdout + own.stderr).toMatch(/^Success: no issues found in 1 source file\s*$/);
    const users = await mypy(examples);
    expect(users.stdout + users.stderr).toMatch(/^Success: no issues found in 1 source file\s*$/);
    // the same check fails where it should: a typed package, so a wrong call is caught
    await writeFile(examples, 'import wattscope\nwattscope.current().record(inferences="many")\n');
    const wrong = await mypy(examples);
    expect(wrong.stdout).toMatch(/Argument "inferences" to "record" of "Run" has incompatible type "str"; expected "int \| None"/);
  }, 180_000);
});

describe('the README examples, as written', () => {
  it('with the API up: energy is the steady power × the run’s duration, and the scores follow from it', async () => {
    const r = await (await readme({}, 'print(r.measured, r.run_id)')).done;
    expect(r.status, r.stderr).toBe(0);
    onlyWaitingLines(r.stderr);
    const [figures, measured] = r.stdout.trim().split('\n');
    const [energyWh, perInferenceUwh, composite] = (figures as string).split(' ').map(Number) as [number, number, number];
    expect(measured).toMatch(/^True r-/);

    const run = (await server.app.fastify.inject(`/api/runs/${measured?.split(' ')[1]}`)).json<RunSummary>();
    expect(run).toMatchObject({ status: 'completed', dataset: 'imagenet-val', hosts: ['py-host'], inferences: 1000, correct: 800, params_m: 25.6, macs_g: 4.1 });
    const duration = run.duration_s as number;
    expect(duration).toBeGreaterThanOrEqual(2.0); // the stand-in evaluation sleeps 2 s
    expect(duration).toBeLessThan(r.wallS);
    expect(energyWh).toBeCloseTo((WATTS * duration) / 3600, 9);
    const expectedPerInferenceUwh = (energyWh * 1e6) / 1000;
    expect(perInferenceUwh).toBeCloseTo(expectedPerInferenceUwh, 6);
    expect(composite).toBeCloseTo(0.8 ** 2 / (expectedPerInferenceUwh / 1000), 6);

    const [epoch] = await runsOf('bert-base');
    expect(epoch).toMatchObject({ status: 'completed', kind: 'training', labels: { epoch: '1' }, inferences: 25 * 32, hosts: ['py-host'] });
    expect(epoch?.duration_s).toBeGreaterThanOrEqual(0.5);
    expect((epoch?.energy_j as number) / (epoch?.duration_s as number)).toBeCloseTo(WATTS, 6);
  });

  it('with nothing listening: exit 0, the figures are None, and one warning names the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await (await readme({ WATTSCOPE_API_URL: url }, 'print(r.measured, r.summary.measured, r.run_id, wattscope.current().run_id)')).done;
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('None None None\nFalse False None None\n');
    expect(r.stderr).toBe(`wattscope: cannot reach the Wattscope API at ${url} (${'[Errno 111] Connection refused'}): start it with \`wattscope up\`, or set WATTSCOPE_API_URL; the script goes on unmeasured\n`);
  });

  it('with a host name that does not resolve: exit 0, and the warning names the URL', async () => {
    const url = 'http://wattscope-api.invalid:8080';
    const r = await (await readme({ WATTSCOPE_API_URL: url, STANDIN_SECONDS: '0' })).done;
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('None None None\n');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^wattscope: cannot reach the Wattscope API at http:\/\/wattscope-api\.invalid:8080 \(.+\): .*goes on unmeasured\n$/);
  });

  it('with an HTTP error: exit 0, and the warning names the URL, the status and the API’s message', async () => {
    const url = `${server.url}/not-the-api`;
    const r = await (await readme({ WATTSCOPE_API_URL: url, STANDIN_SECONDS: '0' })).done;
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('None None None\n');
    expect(r.stderr).toBe(`wattscope: the Wattscope API at ${url} answered 404 to POST /api/runs: Route POST:/not-the-api/api/runs not found; the script goes on unmeasured\n`);
  });

  it('with a hung API (accepts, never answers): WATTSCOPE_API_TIMEOUT bounds the wait, and the warning names the URL', async () => {
    const sockets: Socket[] = [];
    const hung: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    try {
      const r = await (await readme({ WATTSCOPE_API_URL: url, WATTSCOPE_API_TIMEOUT: '1', STANDIN_SECONDS: '0' })).done;
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('None None None\n');
      expect(r.stderr).toBe(`wattscope: the Wattscope API at ${url} did not answer POST /api/runs within 1 s (WATTSCOPE_API_TIMEOUT); the script goes on unmeasured\n`);
      expect(sockets.length).toBe(2); // both examples asked, and each gave up after its second
      expect(r.wallS).toBeLessThan(8);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});

sideBySide('a stop that waits for late points (each on its own host: they wait side by side)', () => {
  /**
   * The README's with-block on a host whose power points end one second into the run: the API's
   * stop waits for the point that covers the run's end, which never comes here — up to the
   * collector's default flush and report intervals plus a margin (8 s, no host record) — and
   * answers partial.
   */
  async function slowStop(host: string, extra: Record<string, string> = {}, viaTerminal = false) {
    const env = { WATTSCOPE_HOST: host, STANDIN_SECONDS: '3', ...extra };
    const source = `${STAND_INS}\n${withBlock}`;
    const proc = viaTerminal
      ? await (async () => {
          const file = join(work, `tty-${host}.py`);
          await writeFile(file, source);
          // util-linux `script` gives Python a pseudo-terminal for stderr
          return start('script', ['-qefc', `${join(venv, 'bin', 'python')} ${file}`, '/dev/null'], userEnv({ WATTSCOPE_API_URL: server.url, TERM: 'dumb', ...env }), work);
        })()
      : await python(source, env);
    const run = await waitFor(async () => (await runsOf('resnet50')).find((r) => r.hosts[0] === host && r.status === 'running'), 20_000, `the run on ${host}`);
    await server.store.write(powerPoints(host, 'nvml/0', Date.parse(run.started_at) + 1000 - 61_000, 61, () => WATTS));
    return { proc, runId: run.run_id };
  }

  it('says once that it waits, then how long it took; the figures are the API’s', async () => {
    const { proc } = await slowStop('py-late');
    const r = await proc.done;
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(WAITING);
    const took = Number(DONE.exec(lines[1] as string)?.[1]);
    expect(took).toBeGreaterThanOrEqual(2.4);
    expect(took).toBeLessThan(10);
    const [energyWh] = r.stdout.trim().split(' ').map(Number);
    expect(energyWh).toBeCloseTo((WATTS * 1) / 3600, 9); // one second of points inside the run
  });

  it('on a terminal, counts the seconds on one line and ends it with the time taken', async () => {
    const { proc } = await slowStop('py-late-tty', {}, true);
    const r = await proc.done;
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${WAITING}(\\r${WAITING} \\d+ s)+\\r${WAITING} done in \\d+\\.\\d s\\r?\\n`));
  });

  it('gives up at WATTSCOPE_STOP_TIMEOUT, naming the URL and the run to finish later', async () => {
    const { proc, runId } = await slowStop('py-stop-timeout', { WATTSCOPE_STOP_TIMEOUT: '1.5' });
    const r = await proc.done;
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('None None None\n');
    expect(r.stderr).toBe(
      `${WAITING}\nwattscope: the Wattscope API at ${server.url} did not answer POST /api/runs/${runId}/stop within 1.5 s (WATTSCOPE_STOP_TIMEOUT); ` +
        `run ${runId} may still be running: finish it later with \`curl -X POST ${server.url}/api/runs/${runId}/stop\`, then \`wattscope runs show ${runId}\`\n`,
    );
    // the id is the real run's: the API, which went on waiting, has finished it
    await waitFor(async () => (await server.app.fastify.inject(`/api/runs/${runId}`)).json<RunSummary>().status === 'completed', 10_000, 'the run to complete');
  });

  it('leaves Ctrl-C to the user: SIGINT while waiting ends the script with KeyboardInterrupt', async () => {
    const { proc } = await slowStop('py-interrupt');
    await waitFor(async () => proc.stderrSoFar().includes(WAITING), 10_000, 'the waiting line');
    proc.child.kill('SIGINT');
    const r = await proc.done;
    expect(r.signal ?? r.status).not.toBe(0);
    expect(r.stdout).toBe(''); // the line after the block never ran
    expect(r.stderr).toMatch(/\nKeyboardInterrupt\n$/);
  });
});

describe('python module', () => {
  it('marks a run failed when the block raises, and lets the exception through; a second stop() keeps the answer', async () => {
    const r = await (
      await python(
        `
import wattscope
run = wattscope.run(model="py-fail")
try:
    with run:
        raise ValueError("boom")
except ValueError:
    print(run.summary["status"], run.stop()["status"])
`,
        {},
      )
    ).done;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('failed failed');
  });

  it('counts the GPUs of CUDA_VISIBLE_DEVICES, or of gpus=[…], and lists the others apart', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    await server.store.write([
      hostRecordSample({ host: 'py-gpus', platform: '2xH100', cpuModel: null, gpus: [{ index: 0, name: 'H100', uuid: 'GPU-aaaa0000' }, { index: 1, name: 'H100', uuid: 'GPU-bbbb1111' }], sources: [0, 1].map((gpu) => ({ id: `nvml/${gpu}`, domain: 'gpu' as const, method: 'counter' as const, in_total: true, gpu })), sampleHz: 10, reportIntervalS: 1, flushIntervalS: 5, version: '0.1.0', clockOffsetS: 0, clockOffsetErrorS: 0.05, startedAtMs: now - 120_000, timeMs: now - 60_000 }),
      ...powerPoints('py-gpus', 'nvml/0', now - 60_000, 400, () => 300),
      ...powerPoints('py-gpus', 'nvml/1', now - 60_000, 400, () => 100),
    ]);
    const script = (args: string) => `
import json, time, wattscope
with wattscope.run(model="py-scope"${args}) as r:
    time.sleep(1)
print(json.dumps({k: r.summary[k] for k in ("gpus", "gpus_from", "energy_j", "energy_host_j", "duration_s", "sources")}))
`;
    const fromEnv = await (await python(script(''), { WATTSCOPE_HOST: 'py-gpus', CUDA_VISIBLE_DEVICES: '1' })).done;
    expect(fromEnv.status, fromEnv.stderr).toBe(0);
    const a = JSON.parse(fromEnv.stdout) as RunSummary;
    expect(a).toMatchObject({ gpus: ['1'], gpus_from: 'CUDA_VISIBLE_DEVICES' });
    expect((a.energy_j as number) / (a.duration_s as number)).toBeCloseTo(100, 6);
    expect((a.energy_host_j as number) / (a.duration_s as number)).toBeCloseTo(400, 6);
    expect(a.sources.filter((x) => !x.in_run).map((x) => x.source)).toEqual(['nvml/0']);
    const given = await (await python(script(', gpus=["GPU-aaaa"]'), { WATTSCOPE_HOST: 'py-gpus', CUDA_VISIBLE_DEVICES: '1' })).done;
    const b = JSON.parse(given.stdout) as RunSummary;
    expect(b).toMatchObject({ gpus: ['GPU-aaaa'], gpus_from: 'given' });
    expect((b.energy_j as number) / (b.duration_s as number)).toBeCloseTo(300, 6);
  });

  it('outside any run, current() is an unstarted run whose record() goes nowhere', async () => {
    const r = await (await python('import wattscope\nrun = wattscope.current().record(inferences=3)\nprint(run.run_id, run.measured, run.summary["energy_wh"])', {})).done;
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('None False None\n');
  });

  it('attaches to the run of `wattscope run` instead of starting another', async () => {
    const outer = await server.app.fastify.inject({ method: 'POST', url: '/api/runs', payload: { model: 'outer', hosts: ['py-host'] } });
    const id = outer.json<{ run_id: string }>().run_id;
    const r = await (
      await python(
        `
import wattscope
with wattscope.run(model="inner") as run:
    run.record(inferences=10, accuracy=0.5)
print(run.run_id, run.summary["status"])
`,
        { WATTSCOPE_RUN_ID: id },
      )
    ).done;
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`${id} running`);
    const s = (await server.app.fastify.inject(`/api/runs/${id}`)).json<RunSummary>();
    expect(s).toMatchObject({ model: 'outer', status: 'running', inferences: 10, accuracy: 0.5 });
  });
});

/** A Python 3.8 on this machine: on PATH, or one that pyenv installed. */
function python38(): string | undefined {
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const versions = existsSync(pyenv) ? readdirSync(pyenv).filter((v) => /^3\.8\.\d+$/.test(v)) : [];
  const candidates = [...versions.map((v) => join(pyenv, v, 'bin', 'python3.8')), '/usr/bin/python3.8', '/usr/local/bin/python3.8'];
  return candidates.find((p) => existsSync(p));
}

const PY38 = python38();
describe('on Python 3.8 (the oldest it supports)', () => {
  it('parses as Python 3.8 (its grammar), and runs the README examples on a real 3.8 where one is installed (pyenv has one here)', async () => {
    // the grammar check runs everywhere: Python's own parser, told to accept 3.8 only
    const grammar = await runProcess('python3', ['-c', `import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 8)); print('ok')`, join(MODULE_DIR, 'wattscope.py')]);
    expect(grammar.stderr).toBe('');
    expect(grammar.stdout.trim()).toBe('ok');
    if (!PY38) return;
    const r = await (
      await python(`${STAND_INS}\n${withBlock}\n${decorator}\nimport sys\nprint(sys.version_info[:2], r.run_id)`, { PYTHONPATH: MODULE_DIR, STANDIN_SECONDS: '1' }, PY38)
    ).done;
    expect(r.status, r.stderr).toBe(0);
    onlyWaitingLines(r.stderr);
    const [figures, version] = r.stdout.trim().split('\n');
    expect(version).toMatch(/^\(3, 8\) r-/);
    const run = (await server.app.fastify.inject(`/api/runs/${version?.split(' ')[2]}`)).json<RunSummary>();
    expect(run.duration_s).toBeGreaterThanOrEqual(1);
    expect(Number(figures?.split(' ')[0])).toBeCloseTo((WATTS * (run.duration_s as number)) / 3600, 9);
  });
});
