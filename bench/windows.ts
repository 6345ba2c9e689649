/**
 * What a window costs, and what it gives: a real `wattscope collect` on its defaults on a fixture
 * host whose RAPL package is driven at 40 W (laptop-thinkpad: the package is its one in-total
 * source), and the Python module's begin_window / end_window against it.
 *
 * 1. The latency of each edge, from Python (1,000 windows), beside its baseline in the same run:
 *    a bare HTTP GET of the collector's /healthz from the same Python process on a kept-alive
 *    connection (the round trip every edge makes), and Python doing nothing (the timer's cost).
 * 2. GET /energy at 100 requests a second from a Node client, on a kept-alive connection (as the
 *    Python client) and on a new connection each (as curl): the answer's latency and the
 *    collector's CPU, against the same collector left alone and answering a route it does not
 *    have (its HTTP server's own cost) — baselines in the same run.
 * 3. The energy of 2 s windows against the truth (80 J).
 *
 *   npm run bench -- windows
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree } from '../common/copy-tree.js';
import { findInfluxd, startInfluxd } from '../common/influxd.js';
import { packageRoot } from '../common/paths.js';
import { fmt, machineBusyS, percentile, raplDriver, sleep, usage } from './proc.js';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'hosts', 'laptop-thinkpad');
const BIN = join(packageRoot(), 'bin', 'wattscope.js');
const PYTHON_CLIENT = join(packageRoot(), 'clients', 'python');
const PKG = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';
const WATTS = 40;

function python(source: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', source], { env: { PATH: process.env.PATH, PYTHONPATH: PYTHON_CLIENT, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => (code === 0 && err === '' ? resolve(out) : reject(new Error(`python exited ${code}: ${err}`))));
  });
}

function get(port: number, path: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t));
    });
    req.on('error', reject);
    req.end();
  });
}

const EDGES = `
import json, os, time, http.client, wattscope
n = 1000
port = int(os.environ["BENCH_PORT"])
begin, end, health, nothing = [], [], [], []
c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
for i in range(n):
    t = time.perf_counter(); wattscope.begin_window("w"); begin.append(time.perf_counter() - t)
    t = time.perf_counter(); m = wattscope.end_window("w"); end.append(time.perf_counter() - t)
    assert m.measured
    t = time.perf_counter()
    c.request("GET", "/healthz"); c.getresponse().read()
    health.append(time.perf_counter() - t)
    t = time.perf_counter(); nothing.append(time.perf_counter() - t)
print(json.dumps({"begin": begin, "end": end, "health": health, "nothing": nothing}))
`;

export async function benchWindows(): Promise<void> {
  const bin = findInfluxd();
  if (!bin) throw new Error('influxd is needed: apt-get install -y influxdb');
  const work = mkdtempSync(join(tmpdir(), 'wattscope-bench-windows-'));
  const influx = await startInfluxd({ bin, dir: join(work, 'influxdb') });
  const root = join(work, 'host');
  copyTree(FIXTURE, root);
  const driver = raplDriver(join(root, PKG), WATTS);
  let out = '';
  const collector = spawn(process.execPath, [BIN, 'collect'], {
    env: { PATH: process.env.PATH, HOME: root, WATTSCOPE_PROCFS_ROOT: join(root, 'proc'), WATTSCOPE_SYSFS_ROOT: join(root, 'sys'), WATTSCOPE_COLLECTOR_PORT: '0', WATTSCOPE_HOST: 'bench-host', WATTSCOPE_INFLUX_URL: influx.url, WATTSCOPE_INFLUX_DB: 'bench' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  collector.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    let port = 0;
    for (let waited = 0; port === 0 && waited < 20_000; waited += 100) {
      port = Number(/on http:\/\/[\d.]+:(\d+)/.exec(out)?.[1] ?? 0);
      await sleep(100);
    }
    if (port === 0) throw new Error(`the collector did not start:\n${out}`);
    await sleep(3000);
    const env = { WATTSCOPE_COLLECTOR_URL: `http://127.0.0.1:${port}` };

    // 1. each edge's latency from Python, beside the bare round trip and the timer's own cost
    const edges = JSON.parse(await python(EDGES, { ...env, BENCH_PORT: String(port) })) as Record<'begin' | 'end' | 'health' | 'nothing', number[]>;
    console.log('\n### A window’s edges from Python (1,000 windows, the collector on its defaults, same process and run)\n');
    console.log('| call | p50 | p90 | p99 | max |');
    console.log('| --- | --- | --- | --- | --- |');
    const row = (name: string, xs: number[]) => console.log(`| ${name} | ${fmt(percentile(xs, 50) * 1000, 2)} ms | ${fmt(percentile(xs, 90) * 1000, 2)} ms | ${fmt(percentile(xs, 99) * 1000, 2)} ms | ${fmt(Math.max(...xs) * 1000, 2)} ms |`);
    row('`wattscope.begin_window()`', edges.begin);
    row('`wattscope.end_window()`', edges.end);
    row('baseline: `http.client` GET /healthz of the same collector, kept-alive connection (as the edges)', edges.health);
    row('baseline: nothing (two `perf_counter()` calls)', edges.nothing);

    // 2. GET /energy at 100/s, against the collector left alone, and against its HTTP server alone (a route it does not have)
    const pid = collector.pid as number;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const SECONDS = 15;
    const measure = async (path: string | undefined, agent: Agent | false) => {
      const cpu0 = usage(pid).cpuS;
      const busy0 = machineBusyS();
      const latencies: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < SECONDS * 100; i++) {
        const wait = t0 + i * 10 - performance.now();
        if (wait > 0) await sleep(wait);
        if (path) latencies.push(await get(port, path, agent));
      }
      if (!path) await sleep(t0 + SECONDS * 1000 - performance.now());
      const s = (performance.now() - t0) / 1000;
      const cpu = usage(pid).cpuS - cpu0;
      return { cpuPerS: cpu / s, otherPerS: (machineBusyS() - busy0 - cpu) / s, latencies };
    };
    const idle = await measure(undefined, false);
    const energyKept = await measure('/energy', keepAlive);
    const energyNew = await measure('/energy', false);
    const notFound = await measure('/no-such-route', keepAlive);
    console.log(`\n### The collector answering 100 requests a second for ${SECONDS} s each, same run (the host: 5 RAPL counters and a battery)\n`);
    console.log('| load | collector CPU per second | share of one core | answer p50 | answer p99 | answer max | the machine’s other CPU |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    const line = (name: string, m: Awaited<ReturnType<typeof measure>>) =>
      console.log(`| ${name} | ${fmt(m.cpuPerS * 1000, 1)} ms | ${fmt(m.cpuPerS * 100, 2)} % | ${m.latencies.length ? `${fmt(percentile(m.latencies, 50), 2)} ms | ${fmt(percentile(m.latencies, 99), 2)} ms | ${fmt(Math.max(...m.latencies), 2)} ms` : '— | — | —'} | ${fmt(m.otherPerS * 100, 0)} % |`);
    line('baseline: none (the collector on its defaults)', idle);
    line('baseline: a route it does not have (404), kept-alive connection', notFound);
    line('GET /energy, kept-alive connection (as the Python client)', energyKept);
    line('GET /energy, a new connection each (as curl)', energyNew);
    console.log(`\nGET /energy's own work per answer, over the 404 on the same connection: ${fmt(((energyKept.cpuPerS - notFound.cpuPerS) / 100) * 1e6, 0)} µs; a connection's set-up: ${fmt(((energyNew.cpuPerS - energyKept.cpuPerS) / 100) * 1e6, 0)} µs`);

    // 3. accuracy: five 2 s windows against the driven 40 W
    const windows = JSON.parse(await python('import json, time, wattscope\nout = []\nfor i in range(5):\n    wattscope.begin_window("w"); time.sleep(2); m = wattscope.end_window("w"); out.append([m.energy_j, m.duration_s])\nprint(json.dumps(out))', env)) as Array<[number, number]>;
    const errors = windows.map(([e, d]) => Math.abs(e - WATTS * d) / (WATTS * d));
    console.log(`\n### Five 2 s windows on the 40 W package: ${windows.map(([e]) => `${fmt(e, 2)} J`).join(', ')}; error against 40 W × the window's duration: median ${fmt(percentile(errors, 50) * 100, 3)} %, worst ${fmt(Math.max(...errors) * 100, 3)} %`);
  } finally {
    collector.kill('SIGTERM');
    driver.kill('SIGTERM');
    await sleep(500);
    await influx.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
