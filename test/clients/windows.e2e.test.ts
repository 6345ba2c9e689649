/**
 * Windows from Python, as a script uses them: the real `wattscope collect` on a fixture host
 * whose one in-total source is a RAPL package at 40 W (laptop-thinkpad; its counter a FUSE file
 * that reads its truth at the moment it is read: ../collector/rapl-counter), on its defaults,
 * and the module's begin_window / end_window / window against it — no API, no InfluxDB needed.
 * A 2 s window is 80 J and nested windows of 3 s and 1 s are 120 J and 40 J, each within 1 %;
 * an edge answers in milliseconds; with the collector stopped, or hung, the script runs on with
 * None figures and one warning; a name not open is a clear error.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, testSettings, waitFor } from '../helpers.js';
import { copyHost } from '../collector/fixtures.js';
import { spawnCollector, type CollectorProcess } from '../collector/process.js';
import { startExactRapl } from '../collector/rapl-counter/index.js';
import { PKG_ENERGY, RAPL_RANGE_UJ } from '../collector/power-points.js';
import { pythonReadme, STAND_INS } from './python-readme.js';

const MODULE_DIR = new URL('../../clients/python/', import.meta.url).pathname;
const WATTS = 40;

let collector: CollectorProcess;
let driver: { stop(): Promise<void> };
let collectorUrl: string;

beforeAll(async () => {
  const root = copyHost('laptop-thinkpad');
  // the counter reads its truth at the moment it is read: a 1 s window is exact however busy the machine
  driver = await startExactRapl(join(root, PKG_ENERGY), WATTS, 1e9, RAPL_RANGE_UJ);
  const settings = testSettings('windows');
  collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db, WATTSCOPE_HOST: 'win-host' });
  // the test's collector listens on a free port (tests run side by side); a user whose collector
  // is not on the default port says where it is, as here
  collectorUrl = `http://127.0.0.1:${collector.port}`;
}, 60_000);

afterAll(async () => {
  await collector?.stop();
  await driver?.stop();
});

/** Runs a script with the module on its path and this environment only (no WATTSCOPE_API_URL: windows need no API). */
async function python(source: string, env: Record<string, string> = {}) {
  const r = await runProcess('python3', ['-c', source], { env: { PATH: process.env.PATH, PYTHONPATH: MODULE_DIR, WATTSCOPE_COLLECTOR_URL: collectorUrl, ...env }, timeoutMs: 60_000 });
  return r;
}

const within = (value: number, want: number, rel: number) => Math.abs(value - want) / want < rel;

describe('windows from Python against the collector', () => {
  it('a 2 s window is 80 J within 1 %, the host’s energy, from the collector’s clock', async () => {
    const r = await python(`
import json, time, wattscope
wattscope.begin_window("two-seconds")
time.sleep(2)
m = wattscope.end_window("two-seconds")
print(json.dumps({"energy_j": m.energy_j, "gpu_energy_j": m.gpu_energy_j, "sources": m.sources, "duration_s": m.duration_s,
                  "start_time": m.start_time, "end_time": m.end_time, "host": m.host, "measured": m.measured, "power_w": m.power_w}))
`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout) as { energy_j: number; gpu_energy_j: number | null; sources: Record<string, number>; duration_s: number; start_time: number; end_time: number; host: string; measured: boolean; power_w: number };
    expect(m.measured).toBe(true);
    expect(m.host).toBe('win-host');
    // 2 s of sleep, and the edges: the window is what the script slept (a busy machine oversleeps a little)
    expect(m.duration_s).toBeGreaterThanOrEqual(2);
    expect(m.duration_s).toBeLessThan(2.2);
    // 80 J for exactly 2 s: 40 W × the window's own length, within 1 %
    expect(within(m.energy_j, WATTS * m.duration_s, 0.01), `${m.energy_j} J over ${m.duration_s} s`).toBe(true);
    expect(within(m.power_w, WATTS, 0.01), `${m.power_w} W`).toBe(true);
    // the in-total source is the package; the battery is listed, not added; no GPU on this host
    expect(m.sources['rapl/package-0']).toBe(m.energy_j);
    expect(m.gpu_energy_j).toBeNull();
    expect(m.end_time - m.start_time).toBeCloseTo(m.duration_s, 1);
    expect(Math.abs(m.end_time - Date.now() / 1000)).toBeLessThan(30);
  }, 30_000);

  it('nested windows, by name: the outer 3 s is 120 J, the inner 1 s 40 J, each within 1 %', async () => {
    const r = await python(`
import json, time, wattscope
wattscope.begin_window("outer")
time.sleep(1)
wattscope.begin_window("inner")
time.sleep(1)
inner = wattscope.end_window("inner")
time.sleep(1)
outer = wattscope.end_window("outer")
print(json.dumps([outer.energy_j, outer.duration_s, inner.energy_j, inner.duration_s]))
`);
    expect(r.stderr).toBe('');
    const [outer, outerS, inner, innerS] = JSON.parse(r.stdout) as number[];
    expect(outerS).toBeGreaterThanOrEqual(3);
    expect(outerS).toBeLessThan(3.3);
    expect(innerS).toBeGreaterThanOrEqual(1);
    expect(innerS).toBeLessThan(1.1);
    // 120 J and 40 J for exactly 3 s and 1 s: 40 W × each window's own length, within 1 %
    expect(within(outer as number, WATTS * (outerS as number), 0.01), `${outer} J over ${outerS} s`).toBe(true);
    expect(within(inner as number, WATTS * (innerS as number), 0.01), `${inner} J over ${innerS} s`).toBe(true);
  }, 30_000);

  it('overlapping windows, a context manager and a decorator: each its own energy', async () => {
    const r = await python(`
import json, time, wattscope
done = []

@wattscope.window("step", on_end=done.append)
def step() -> int:
    time.sleep(0.5)
    return 7

wattscope.begin_window("a")
time.sleep(0.5)
wattscope.begin_window("b")
with wattscope.window("block") as w:
    time.sleep(0.5)
a = wattscope.end_window("a")
time.sleep(0.5)
b = wattscope.end_window("b")
result = step()
print(json.dumps({"a": [a.energy_j, a.duration_s], "b": [b.energy_j, b.duration_s], "block": [w.energy_j, w.duration_s, w.name],
                  "step": [done[0].energy_j, done[0].duration_s, result]}))
`);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Record<string, [number, number, unknown?]>;
    for (const [name, [energy, duration]] of Object.entries(out)) expect(within(energy / duration, WATTS, 0.02), `${name}: ${energy} J over ${duration} s`).toBe(true);
    expect(out.a?.[1]).toBeGreaterThanOrEqual(1);
    expect(out.b?.[1]).toBeGreaterThanOrEqual(1);
    expect(out.block?.[2]).toBe('block');
    expect(out.step?.[2]).toBe(7);
  }, 30_000);

  it('the README’s training loop: a window per epoch and one per evaluation inside it, each at 40 W', async () => {
    // clients/python/README.md's example as written; an epoch's training 1 s, its evaluation 0.5 s
    const { epochs } = pythonReadme();
    // the project's README shows the same loop (without the import)
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(epochs.replace('import wattscope\n\n', ''));
    const r = await python(`${STAND_INS}\n${epochs}`, { STANDIN_EPOCHS: '2', STANDIN_TRAIN_SECONDS: '1', STANDIN_SECONDS: '0.5' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      const m = /^epoch (\d+): ([\d.]+) J in ([\d.]+) s, GPUs None J, of which evaluation ([\d.]+) J$/.exec(line);
      expect(m, line).not.toBeNull();
      const [epoch, energy, seconds, evaluation] = (m as RegExpExecArray).slice(1).map(Number) as [number, number, number, number];
      expect(epoch).toBe(i + 1);
      expect(seconds).toBeGreaterThanOrEqual(1.5);
      expect(within(energy, WATTS * seconds, 0.01), `${energy} J over ${seconds} s`).toBe(true);
      // the evaluation's 0.5 s (and what a busy machine oversleeps), inside its epoch
      expect(evaluation).toBeGreaterThanOrEqual(WATTS * 0.5 * 0.99);
      expect(evaluation).toBeLessThan(energy - WATTS * 0.99);
    });
  }, 30_000);

  it('an edge answers in milliseconds: end_window’s median under 10 ms, none over 100 ms', async () => {
    const r = await python(`
import json, time, wattscope
took = []
late = 0
for i in range(200):
    wattscope.begin_window("w")
    t = time.perf_counter()
    m = wattscope.end_window("w")
    took.append(time.perf_counter() - t)
    late += m.energy_j is None
took.sort()
print(json.dumps({"median_ms": took[len(took) // 2] * 1000, "max_ms": took[-1] * 1000, "late": late}))
`);
    const { median_ms: median, max_ms: max, late } = JSON.parse(r.stdout) as { median_ms: number; max_ms: number; late: number };
    // an answer later than the edge's bound gives None and one warning, by design; with the whole
    // suite running beside it one edge in 200 was seen late: allowed, a few of them, never more
    expect(late).toBeLessThanOrEqual(3);
    expect(r.stderr).toMatch(late === 0 ? /^$/ : /^wattscope: cannot reach the collector at \S+ \(no answer within 0\.1 s/);
    expect(median).toBeLessThan(10);
    // bounded by WATTSCOPE_COLLECTOR_TIMEOUT (0.1 s) however busy the machine; a late answer gives None, never a longer wait
    expect(max).toBeLessThan(100 + 50);
  }, 60_000);

  it('a window longer than the collector keeps an idle connection (5 s) is measured all the same: the edge reconnects', async () => {
    const r = await python(`
import json, time, wattscope
wattscope.begin_window("long")
time.sleep(6)
t = time.perf_counter()
m = wattscope.end_window("long")
print(json.dumps([m.energy_j, m.duration_s, time.perf_counter() - t]))
`);
    expect(r.stderr).toBe('');
    const [energy, duration, took] = JSON.parse(r.stdout) as number[];
    expect(within((energy as number) / (duration as number), WATTS, 0.01)).toBe(true);
    // the stale connection's failure and the fresh one share the edge's 0.1 s for their socket
    // work; the Python process, scheduled late with the suite's four files around it, adds wall
    // time (0.22 s seen once) — an edge that waited out a stale socket would take seconds
    expect(took).toBeLessThan(0.5);
  }, 30_000);

  it('a name that is not open, or one opened twice, is a clear error', async () => {
    const r = await python(`
import wattscope
wattscope.begin_window("epoch-1")
try:
    wattscope.end_window("epoch-2")
except ValueError as e:
    print(e)
try:
    wattscope.begin_window("epoch-1")
except ValueError as e:
    print(e)
`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("wattscope: no window 'epoch-2' is open (open: 'epoch-1'); begin_window('epoch-2') first\nwattscope: window 'epoch-1' is already open; end it first, or give this one another name\n");
  });
});

describe('windows without a collector: the script runs on', () => {
  const script = `
import json, time, wattscope
t0 = time.perf_counter()
for i in range(3):
    wattscope.begin_window("w")
    time.sleep(0.2)
    m = wattscope.end_window("w")
with wattscope.window("block") as w:
    pass
print(json.dumps({"energy_j": m.energy_j, "gpu_energy_j": m.gpu_energy_j, "sources": m.sources, "measured": m.measured,
                  "duration_s": m.duration_s, "block": w.energy_j, "wall_s": time.perf_counter() - t0}))
`;

  it('nothing listening: None figures, the time still measured, one warning naming the URL, exit 0', async () => {
    const url = 'http://127.0.0.1:9';
    const r = await python(script, { WATTSCOPE_COLLECTOR_URL: url });
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout) as { energy_j: null; measured: boolean; duration_s: number; block: null; sources: Record<string, number>; wall_s: number };
    expect(m).toMatchObject({ energy_j: null, gpu_energy_j: null, sources: {}, measured: false, block: null });
    expect(m.duration_s).toBeGreaterThanOrEqual(0.2);
    expect(m.wall_s).toBeLessThan(2);
    expect(r.stderr).toBe(`wattscope: cannot reach the collector at ${url} ([Errno 111] Connection refused): start it with \`wattscope collect\` (or \`wattscope up\`), or set WATTSCOPE_COLLECTOR_URL; window energy is None meanwhile\n`);
  });

  it('a hung collector (accepts, never answers): each edge gives up at 0.1 s, one warning', async () => {
    const sockets: Socket[] = [];
    const hung: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    try {
      const r = await python(script, { WATTSCOPE_COLLECTOR_URL: url });
      expect(r.status).toBe(0);
      const m = JSON.parse(r.stdout) as { energy_j: null; wall_s: number };
      expect(m.energy_j).toBeNull();
      // 8 edges of at most 0.1 s each, and 0.6 s of sleeping
      expect(m.wall_s).toBeLessThan(0.6 + 8 * 0.1 + 0.5);
      expect(r.stderr).toBe(`wattscope: cannot reach the collector at ${url} (no answer within 0.1 s (WATTSCOPE_COLLECTOR_TIMEOUT)): start it with \`wattscope collect\` (or \`wattscope up\`), or set WATTSCOPE_COLLECTOR_URL; window energy is None meanwhile\n`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it('the collector stopped in the middle of a script: the windows after it are None, the script finishes', async () => {
    const root = copyHost('laptop-thinkpad');
    const settings = testSettings('windows_stop');
    const own = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db });
    // the first window once came back None (an edge past its 0.1 s, five files running); a fresh
    // collector's first answer to GET /energy runs cold code and reads every channel a first
    // time, so it is asked once here, as a script beside a collector up for a while finds it
    expect((await fetch(`http://127.0.0.1:${own.port}/energy`)).status).toBe(200);
    // the collector is stopped once the first window is measured (a file says so), and the
    // second window is begun once it is down (another file): no race with a slow start
    const marks = mkdtempSync(join(tmpdir(), 'wattscope-windows-stop-'));
    const run = python(
      `
import json, os, sys, time, wattscope
wattscope.begin_window("before")
m1 = wattscope.end_window("before")
print("first", m1.measured, flush=True)
open(os.path.join(${JSON.stringify(marks)}, "first"), "w").close()
while not os.path.exists(os.path.join(${JSON.stringify(marks)}, "stopped")):
    time.sleep(0.05)
wattscope.begin_window("after")
m2 = wattscope.end_window("after")
print("second", m2.measured, m2.energy_j)
`,
      { WATTSCOPE_COLLECTOR_URL: `http://127.0.0.1:${own.port}` },
    );
    await waitFor(async () => existsSync(join(marks, 'first')), 20_000, 'the first window');
    expect(await own.stop()).toBe(0);
    writeFileSync(join(marks, 'stopped'), '');
    const r = await run;
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('first True\nsecond False None\n');
    expect(r.stderr).toMatch(/^wattscope: cannot reach the collector at http:\/\/127\.0\.0\.1:\d+ \(\[Errno 111\] Connection refused\)/);
  }, 30_000);
});
