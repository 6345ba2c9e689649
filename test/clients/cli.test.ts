/** The `wattscope` client commands against the real API and influxd. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunSummary } from '../../clients/ts/client.js';
import { startInfluxd } from '../../common/influxd.js';
import { findExecutable } from '../../common/paths.js';
import { liveServer, steadyPower, type LiveServer } from './server.js';
import { runProcess, testStore, waitFor } from '../helpers.js';
import { powerPoints } from '../api/harness.js';
import { hostRecordSample, type HostSource } from '../../common/host-record.js';

const BIN = new URL('../../bin/wattscope.js', import.meta.url).pathname;
const WAITING = "[wattscope] waiting for the collectors' last points…";

let server: LiveServer;
beforeAll(async () => {
  server = await liveServer('cli');
  await steadyPower(server.store, 'cli-host', 120, 900);
});
afterAll(async () => server.close());

const env = () => ({ PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url, WATTSCOPE_HOST: 'cli-host', WATTSCOPE_COLLECTOR_PORT: '9' });
const cli = (args: string[], extra: Record<string, string> = {}) => runProcess(process.execPath, [BIN, ...args], { env: { ...env(), ...extra } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runsOf = async (url: string, model: string) => ((await (await fetch(`${url}/api/runs?model=${model}`)).json()) as { runs: RunSummary[] }).runs;

/**
 * `line` under a pseudo-terminal of rows × 100 (util-linux `script`), as the bytes it printed
 * there; `typescript` gets them too as they come (flushed), for a test that acts on what it sees.
 */
const inPty = (line: string, extra: Record<string, string> = {}, typescript = '/dev/null') =>
  runProcess('script', ['-qefc', `stty rows 24 cols 100; ${line}`, typescript], { env: { ...env(), TERM: 'xterm', ...extra } });

/**
 * `line` in a real terminal emulator (tmux, detached, on a socket of its own), to read the screen
 * a user would see; `[exit N]` is printed when the line ends.
 */
async function terminal(line: string, extra: Record<string, string> = {}, size = { rows: 15, cols: 100 }) {
  if (!findExecutable('tmux')) throw new Error('this test reads a real terminal’s screen and needs tmux: apt-get install -y tmux');
  const socket = `wattscope-test-${process.pid}-${Date.now()}`;
  const tmux = (...args: string[]) => runProcess('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env: { ...env(), TERM: 'xterm', ...extra } });
  const started = await tmux('new-session', '-d', '-x', String(size.cols), '-y', String(size.rows), `${line}; echo "[exit $?]"; sleep 600`);
  if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`);
  return {
    /** the rows on screen now (wrapped lines joined) */
    screen: async () => (await tmux('capture-pane', '-p', '-J')).stdout.replace(/\n+$/, '').split('\n'),
    /** everything the terminal shows and has scrolled away */
    history: async () => (await tmux('capture-pane', '-p', '-J', '-S', '-')).stdout.replace(/\n+$/, '').split('\n'),
    close: () => tmux('kill-server'),
  };
}

describe('wattscope run', () => {
  it('wraps a command as a run: environment, accuracy from a file, summary with energy and score', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-cli-'));
    const out = join(dir, 'result.json');
    const r = await cli([
      'run', '--model', 'cli-model', '--dataset', 'val', '--params-m', '25.6', '--macs-g', '4.1', '--label', 'team=energy', '--accuracy-from', out, '--json',
      '--', 'sh', '-c', `sleep 1.5; echo "$WATTSCOPE_RUN_ID $WATTSCOPE_API_URL" > ${join(dir, 'env')}; echo '{"accuracy": 0.76, "inferences": 5000}' > ${out}`,
    ]);
    // not on a terminal, the wait for the collectors' last points is one line on stderr, and nothing else is
    expect(r.stderr).toBe(`${WAITING}\n`);
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

  it('keeps the live status line on the terminal’s last row, under the command’s own output, and removes it at the end', async () => {
    const child = 'for i in 1 2 3 4; do echo step $i; sleep 1; done; printf "progress 1/2"; sleep 1.2; printf "\\rprogress 2/2"; sleep 1.2; echo';
    const term = await terminal(`${process.execPath} ${BIN} run --model cli-tty -- sh -c '${child}'`);
    try {
      const LIVE = /^\[wattscope\] \d+ s {2}120\.0 W {2}\d+\.\d{3} Wh so far$/;
      // while the command prints: its lines whole, one live line, on the last row
      const mid = await waitFor(async () => {
        const rows = await term.screen();
        return rows.includes('step 3') && LIVE.test(rows.at(-1) ?? '') ? rows : undefined;
      }, 20_000, 'step 3 with the live line under it');
      expect(mid.filter((r) => r.includes('step'))).toEqual(mid.filter((r) => /^step \d$/.test(r)));
      expect(mid.filter((r) => r.includes('[wattscope]'))).toHaveLength(1);
      const rows = await waitFor(async () => {
        const h = await term.history();
        return h.includes('[exit 0]') ? h : undefined;
      }, 30_000, 'the run to end');
      // at the end: every line of the command as it printed it, the summary, and no live line left behind
      expect(rows.filter((r) => r.startsWith('step') || r.startsWith('progress'))).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'progress 2/2']);
      expect(rows.some((r) => /\(inference, completed\)/.test(r))).toBe(true);
      expect(rows.filter((r) => r.includes('[wattscope]'))).toEqual([]);
    } finally {
      await term.close();
    }
  });

  it('on a terminal, shows the wait for the collectors’ last points, redrawn each second, then final figures', async () => {
    // late-host's collector sends every 5 s (its record says so): when the command ends, the
    // points that cover its last seconds are not in InfluxDB yet; they land ~2.5 s later
    const now = Math.floor(Date.now() / 1000) * 1000;
    await server.store.write([
      hostRecordSample({ host: 'late-host', platform: 'late-gpu', cpuModel: null, gpus: [], sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 }], sampleHz: 10, reportIntervalS: 1, flushIntervalS: 5, version: '0.1.0', clockOffsetS: 0, clockOffsetErrorS: 0.05, startedAtMs: now - 120_000, timeMs: now - 60_000 }),
      ...powerPoints('late-host', 'nvml/0', now - 60_000, 63, () => 80),
    ]);
    // they land 2.5 s after the terminal shows the wait, whenever the command got there (late on a
    // loaded machine: timed from the run's start, the wait was once over before its second frame)
    const seen = join(mkdtempSync(join(tmpdir(), 'wattscope-cli-wait-')), 'typescript');
    const late = (async () => {
      await waitFor(async () => existsSync(seen) && readFileSync(seen, 'utf8').includes("waiting for the collectors' last points"), 60_000, 'the wait on the terminal');
      await sleep(2500);
      await server.store.write(powerPoints('late-host', 'nvml/0', now + 3000, 30, () => 80));
    })();
    const r = await inPty(`${process.execPath} ${BIN} run --model cli-wait --host late-host -- sleep 4`, {}, seen);
    await late;
    expect(r.status).toBe(0);
    const waited = [...r.stdout.matchAll(/waiting for the collectors' last points… (\d+) s/g)].map((m) => Number(m[1]));
    // redrawn each second with the seconds waited: from 0, never back, past 2 s (the points land
    // ~2.5 s after the end). Not every second is seen: on a loaded machine a redraw comes late and
    // the next one shows a second more (0, 1, 1, 3 and 0, 2 were seen with both cores busy)
    expect(waited[0]).toBe(0);
    expect(waited.length).toBeGreaterThanOrEqual(2);
    expect(waited.every((w, i) => i === 0 || w >= (waited[i - 1] as number))).toBe(true);
    expect(waited.at(-1)).toBeGreaterThanOrEqual(2);
    // the figures printed are final: the whole run covered, on the platform its collector reports
    expect(r.stdout).toMatch(/\(inference, completed\)/);
    expect(r.stdout).not.toMatch(/PARTIAL/);
    expect(r.stdout).toMatch(/model \/ platform\s+cli-wait on late-gpu/);
    expect(r.stdout).toMatch(/coverage\s+100 %/);
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
    const marker = join(mkdtempSync(join(tmpdir(), 'wattscope-cli-')), 'ran');
    const down = await cli(['run', '--model', 'm', '--', 'touch', marker], { WATTSCOPE_API_URL: 'http://127.0.0.1:9' });
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the Wattscope API at http:\/\/127\.0\.0\.1:9 .*start it with `wattscope up`/);
    expect(existsSync(marker)).toBe(false);
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
  it('checks every option before anything starts: exit 2 naming the option, no run, the command not run', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'wattscope-cli-')), 'ran');
    const cases: Array<[string[], RegExp]> = [
      [['--inferences', '12k'], /--inferences takes a whole number ≥ 0 and ≤ 1e15, got 12k/],
      [['--inferences=-1'], /--inferences takes a whole number ≥ 0/],
      [['--inferences', '2.5'], /--inferences takes a whole number/],
      [['--correct', 'many'], /--correct takes a whole number/],
      [['--accuracy', '76'], /--accuracy takes a number from 0 to 1 \(a fraction: 0\.76, not 76\), got 76/],
      [['--accuracy', ''], /--accuracy takes a number from 0 to 1/],
      [['--inferences', '500', '--correct', '600'], /--correct \(600\) cannot exceed --inferences \(500\)/],
      [['--batch-size', '0'], /--batch-size takes a whole number ≥ 1/],
      [['--batch-size', '1.5'], /--batch-size takes a whole number/],
      [['--params-m', 'abc'], /--params-m takes a number > 0/],
      [['--macs-g=-4'], /--macs-g takes a number > 0/],
      [['--label', 'team'], /--label takes key=value, got "team"/],
      [['--kind', 'party'], /--kind must be inference, training or baseline/],
      // what only the API knows to refuse, it refuses at the start: still before the command
      [['--host', 'a,b'], /--host: the API refused it .*hosts\/0.*nothing was started/],
      [['--run-id', '../etc'], /--run-id: the API refused it/],
    ];
    for (const [options, message] of cases) {
      const r = await cli(['run', '--model', 'cli-refused', ...options, '--', 'touch', marker]);
      expect(r.status, options.join(' ')).toBe(2);
      expect(r.stderr, options.join(' ')).toMatch(message);
      expect(existsSync(marker), options.join(' ')).toBe(false);
    }
    expect(await runsOf(server.url, 'cli-refused')).toEqual([]);
    const stop = await cli(['runs', 'stop', 'r-any', '--accuracy', '1.5']);
    expect(stop.status).toBe(2);
    expect(stop.stderr).toMatch(/--accuracy takes a number from 0 to 1/);
  });

  it('says what every numeric option of every command takes when given a negative number (not that the argument is ambiguous): exit 2, nothing started', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'wattscope-cli-')), 'ran');
    const home = mkdtempSync(join(tmpdir(), 'wattscope-cli-home-'));
    const run = (...options: string[]) => ['run', '--model', 'cli-negative', ...options, '--', 'touch', marker];
    const bench = (...options: string[]) => ['bench', '--model', 'cli-negative', ...options, '--', 'touch', marker];
    const cases: Array<[string[], string]> = [
      [run('--inferences', '-5'), '--inferences takes a whole number ≥ 0 and ≤ 1e15, got -5'],
      [run('--correct', '-1'), '--correct takes a whole number ≥ 0 and ≤ 1e15, got -1'],
      [run('--accuracy', '-0.5'), '--accuracy takes a number from 0 to 1 (a fraction: 0.76, not 76), got -0.5'],
      [run('--batch-size', '-8'), '--batch-size takes a whole number ≥ 1 and ≤ 1e9, got -8'],
      [run('--params-m', '-.5'), '--params-m takes a number > 0 and ≤ 1e7, got -.5'],
      [run('--macs-g', '-4e3'), '--macs-g takes a number > 0 and ≤ 1e9, got -4e3'],
      [bench('--inferences', '-5'), '--inferences takes a whole number ≥ 0 and ≤ 1e15, got -5'],
      [bench('--repeat', '-3'), '--repeat takes a whole number ≥ 1 and ≤ 1000, got -3'],
      [bench('--warmup', '-1'), '--warmup takes a whole number ≥ 0 and ≤ 100, got -1'],
      [bench('--cooldown', '-2'), '--cooldown takes auto or a number of seconds ≥ 0 (and ≤ 86400), got -2'],
      [bench('--cooldown-max', '-60'), '--cooldown-max takes a number from 1 to 86400, got -60'],
      [bench('--baseline', '-10'), '--baseline takes a number from 1 to 86400, got -10'],
      [bench('--until-cv', '-2'), '--until-cv takes a percentage above 0 and below 100, e.g. 2%, got -2'],
      [bench('--until-cv', '2', '--min', '-3'), '--min takes a whole number ≥ 2 and ≤ 1000, got -3'],
      [bench('--until-cv', '2', '--max', '-3'), '--max takes a whole number ≥ 2 and ≤ 1000, got -3'],
      [['runs', 'ls', '--limit', '-5'], '--limit takes a whole number ≥ 1 and ≤ 1000, got -5'],
      [['runs', 'export', '--limit', '-5'], '--limit takes a whole number ≥ 1, got -5'],
      [['runs', 'set-platform', 'P', '--from-platform', 'Q', '--limit', '-5'], '--limit takes a whole number ≥ 1, got -5'],
      [['runs', 'stop', 'r-any', '--inferences', '-5'], '--inferences takes a whole number ≥ 0 and ≤ 1e15, got -5'],
      [['runs', 'stop', 'r-any', '--correct', '-5'], '--correct takes a whole number ≥ 0 and ≤ 1e15, got -5'],
      [['runs', 'stop', 'r-any', '--accuracy', '-1'], '--accuracy takes a number from 0 to 1 (a fraction: 0.76, not 76), got -1'],
      // a time is a date or epoch milliseconds; "-5" is neither (Date.parse would make it a day in 2001)
      [['runs', 'stop', 'r-any', '--ended-at', '-5'], '--ended-at takes an ISO 8601 date-time or epoch milliseconds, got -5'],
      [['runs', 'ls', '--from', '-5'], '--from takes an ISO 8601 date-time or epoch milliseconds, got -5'],
      [['baseline', '--seconds', '-5'], '--seconds takes a number from 1 to 86400, got -5'],
      [['up', '--influx-port', '-1'], '--influx-port takes a whole number ≥ 1 and ≤ 65535, got -1'],
    ];
    const baselines = async () => ((await (await fetch(`${server.url}/api/runs?kind=baseline`)).json()) as { runs: RunSummary[] }).runs.length;
    const before = await baselines();
    for (const [args, message] of cases) {
      const r = await cli(args, { HOME: home });
      expect(r.stderr, args.join(' ')).toBe(`wattscope: ${message}\n`);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    // nothing started: no run, no baseline, the command not run, no local stack (its lock file)
    expect(await runsOf(server.url, 'cli-negative')).toEqual([]);
    expect(await baselines()).toBe(before);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(home, '.local', 'share', 'wattscope'))).toBe(false);
    // a negative number is a value only after an option that takes one: after a flag it is still refused as an option
    const flag = await cli(['runs', 'show', 'r-any', '--json', '-5']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/^wattscope: Unknown option '-5'/);
  });

  it('says in the energy headline when the energy is an estimate, and which source is', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    // a VM whose CPU has no sensor (its collector estimates it) beside a GPU counter; another with the estimate alone
    const estimated = (host: string) => powerPoints(host, 'estimate/cpu', now - 60_000, 360, () => 40, true, 'cpu').map((p) => ({ ...p, tags: { ...p.tags, method: 'estimated' } }));
    await server.store.write([...estimated('est-host'), ...powerPoints('est-host', 'nvml/0', now - 60_000, 360, () => 100), ...estimated('est-only')]);
    const part = await cli(['run', '--model', 'cli-estimated', '--host', 'est-host', '--', 'sleep', '1']);
    expect(part.status, part.stderr).toBe(0);
    const cpuJ = (JSON.parse((await cli(['runs', 'show', /run\s+(r-[\w-]+)/.exec(part.stdout)?.[1] as string, '--json'])).stdout) as RunSummary).sources.find((s) => s.source === 'estimate/cpu')?.energy_j as number;
    const headline = /^energy\s+[\d.]+ Wh, partly estimated {2}\([\d,.]+ J gross, [\d,.—]+ J net of idle; estimated: estimate\/cpu on est-host, ([\d,.]+) J\)$/m.exec(part.stdout);
    expect(headline, part.stdout).not.toBeNull();
    expect(Math.abs(Number(headline?.[1]?.replace(/,/g, '')) - cpuJ)).toBeLessThanOrEqual(0.05);
    // the host's energy says so too, without naming the same source twice
    expect(part.stdout).toMatch(/^host energy\s+[\d,.]+ J, partly estimated {2}\(every source of est-host, its GPUs or not\)$/m);
    const all = await cli(['run', '--model', 'cli-estimated', '--host', 'est-only', '--', 'sleep', '1']);
    expect(all.stdout).toMatch(/^energy\s+[\d.]+ Wh, estimated {2}\(.*; estimated: estimate\/cpu on est-only, [\d.]+ J\)$/m);
    // measured energy is not called an estimate
    const measured = await cli(['run', '--model', 'cli-measured', '--', 'sleep', '1']);
    expect(measured.stdout).toMatch(/^energy\s+[\d.]+ Wh {2}\(/m);
    expect(measured.stdout).not.toMatch(/estimated/);
  });

  it('says each hint once: silent sources once per host, the scores a missing input empties in one line, by their labels', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    // a host whose collector lists two sources and then fell silent: neither has a point in the run
    const sources: HostSource[] = [
      { id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 },
      { id: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: true },
    ];
    await server.store.write([hostRecordSample({ host: 'silent-host', platform: 'silent', cpuModel: null, gpus: [], sources, sampleHz: 10, reportIntervalS: 1, flushIntervalS: 1, version: '0.1.0', clockOffsetS: 0, clockOffsetErrorS: 0.05, startedAtMs: now - 120_000, timeMs: now - 60_000 })]);
    const r = await cli(['run', '--model', 'cli-silent', '--host', 'silent-host', '--inferences', '100', '--', 'true']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    // no line twice, and each hint once
    expect(lines.filter((l, i) => lines.indexOf(l) !== i)).toEqual([]);
    expect(lines.filter((l) => l.startsWith('PARTIAL'))).toEqual(['PARTIAL: no points from nvml/0, rapl/package-0 on silent-host (is its collector running? their sensors readable?)']);
    for (const hint of ['is its collector running?', 'give accuracy, or correct with inferences', 'set WATTSCOPE_ENERGY_PRICE']) expect(r.stdout.split(hint), hint).toHaveLength(2);
    // the empty scores by the labels of their lines above, not by field names
    const notComputed = r.stdout.slice(r.stdout.indexOf('not computed:')).split('\n').slice(1).filter(Boolean);
    expect(notComputed).toEqual(
      expect.arrayContaining([
        '  carbon, energy / request, energy / output token, energy / inference, inferences / J, energy-delay product: no energy: no power data covers the run',
        '  cost: no price: set WATTSCOPE_ENERGY_PRICE (per kWh)',
        '  accuracy, composite score, NetScore, information density: no accuracy: give accuracy, or correct with inferences',
      ]),
    );
    expect(r.stdout).not.toMatch(/energy_cost|null_reasons|_uwh|carbon_g/);
  });

  it('exits as a shell would: 128 + the signal that killed the command, 127 for a command not found', async () => {
    const killed = await cli(['run', '--model', 'cli-killed', '--', 'sh', '-c', 'kill -KILL $$']);
    expect(killed.status).toBe(128 + 9);
    expect(killed.stdout).toMatch(/\(inference, failed\)/);
    expect(killed.stderr).toMatch(/was killed by SIGKILL; run r-[\w-]+ marked failed/);
    const interrupted = await cli(['run', '--model', 'cli-killed', '--', 'sh', '-c', 'kill -INT $$']);
    expect(interrupted.status).toBe(128 + 2);
    const missing = await cli(['run', '--model', 'cli-missing', '--', 'no-such-command-wattscope']);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toMatch(/no-such-command-wattscope: command not found; nothing was started/);
    expect(await runsOf(server.url, 'cli-missing')).toEqual([]);
  });

  it('when the API is gone at the end, prints the command that finishes the run, and that command does', async () => {
    const first = await liveServer('cli_away');
    await steadyPower(first.store, 'away-host', 100, 900);
    const running = cli(['run', '--model', 'cli-away', '--inferences', '50000', '--accuracy', '0.76', '--', 'sh', '-c', 'sleep 2; exit 5'], {
      WATTSCOPE_API_URL: first.url,
      WATTSCOPE_HOST: 'away-host',
    });
    await waitFor(async () => (await runsOf(first.url, 'cli-away')).length > 0, 10_000, 'the run to start');
    await first.close();
    const r = await running;
    expect(r.status).toBe(5);
    const printed = /^ {2}(wattscope runs stop .*)$/m.exec(r.stderr)?.[1] as string;
    expect(printed).toMatch(/^wattscope runs stop r-[\w-]+ --status failed --inferences 50000 --accuracy 0\.76 --ended-at \S+Z$/);
    const runId = printed.split(' ')[3] as string;
    expect(r.stderr).toMatch(new RegExp(`exited with 5, but run ${runId} could not be stopped: cannot reach the Wattscope API`));
    // a stop that took its own time as the run's end would add these seconds to the run
    await sleep(3000);
    const back = await liveServer('cli_away', {}, { store: first.store });
    try {
      const bin = mkdtempSync(join(tmpdir(), 'wattscope-bin-'));
      symlinkSync(BIN, join(bin, 'wattscope'));
      const done = await runProcess('sh', ['-c', printed], { env: { ...env(), PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, WATTSCOPE_API_URL: back.url } });
      expect(done.stderr).toBe(`${WAITING}\n`);
      expect(done.status).toBe(0);
      expect(done.stdout).toMatch(new RegExp(`run\\s+${runId}\\s+\\(inference, failed\\)`));
      const s = (await (await fetch(`${back.url}/api/runs/${runId}`)).json()) as RunSummary;
      expect(s).toMatchObject({ status: 'failed', inferences: 50000, accuracy: 0.76 });
      // the command's 2 s (and its start), not the 3 s waited before the stop
      expect(s.duration_s).toBeGreaterThanOrEqual(2);
      expect(s.duration_s).toBeLessThan(4.5);
      expect((s.energy_j as number) / (s.duration_s as number)).toBeCloseTo(100, 6);
    } finally {
      await back.close();
    }
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

  it('counts the GPUs of CUDA_VISIBLE_DEVICES (or --gpus), lists the others apart, and says so', async () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    const sources = [0, 1].map((gpu) => ({ id: `nvml/${gpu}`, domain: 'gpu' as const, method: 'counter' as const, in_total: true, gpu }));
    await server.store.write([
      hostRecordSample({ host: 'gpu-box', platform: '2xH100', cpuModel: null, gpus: [{ index: 0, name: 'H100', uuid: 'GPU-aaaa0000' }, { index: 1, name: 'H100', uuid: 'GPU-bbbb1111' }], sources, sampleHz: 10, reportIntervalS: 1, flushIntervalS: 5, version: '0.1.0', clockOffsetS: 0, clockOffsetErrorS: 0.05, startedAtMs: now - 120_000, timeMs: now - 60_000 }),
      ...powerPoints('gpu-box', 'nvml/0', now - 60_000, 400, () => 300),
      ...powerPoints('gpu-box', 'nvml/1', now - 60_000, 400, () => 100),
    ]);
    const scoped = await cli(['run', '--model', 'scoped', '--host', 'gpu-box', '--json', '--', 'sleep', '1'], { CUDA_VISIBLE_DEVICES: '1' });
    expect(scoped.status).toBe(0);
    const s = JSON.parse(scoped.stdout) as RunSummary;
    expect(s).toMatchObject({ gpus: ['1'], gpus_from: 'CUDA_VISIBLE_DEVICES' });
    expect((s.energy_j as number) / (s.duration_s as number)).toBeCloseTo(100, 6);
    expect((s.energy_host_j as number) / (s.duration_s as number)).toBeCloseTo(400, 6);
    const text = await cli(['run', '--model', 'scoped', '--host', 'gpu-box', '--gpus', 'GPU-aaaa', '--', 'sleep', '1']);
    expect(text.stdout).toMatch(/^GPUs\s+GPU-aaaa \(given\); not in this run: nvml\/1$/m);
    expect(text.stdout).toMatch(/^host energy\s+[\d,.]+ J {2}\(every source of gpu-box, its GPUs or not\)$/m);
    expect(text.stdout).toMatch(/nvml\/1\s+counter\s+[\d,.]+\s+100\s+100 %\s+no \(not in this run\)/);
    const all = await cli(['run', '--model', 'scoped', '--host', 'gpu-box', '--', 'sleep', '1']);
    expect(all.stdout).toMatch(/^GPUs\s+every GPU of its hosts \(none named: CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES unset\)$/m);
    const bad = await cli(['run', '--model', 'scoped', '--gpus', 'first', '--', 'true']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--gpus takes GPU indices or UUIDs/);
  });

  it('files stored runs under a corrected platform, named or by the platform they are under', async () => {
    for (const model of ['plat-a', 'plat-b', 'plat-c']) expect((await cli(['run', '--model', model, '--', 'true'])).status).toBe(0);
    const ls = await cli(['runs', 'ls', '--platform', 'unknown']);
    const id = (model: string) => new RegExp(`(r-[0-9a-f-]+)\\s+${model}`).exec(ls.stdout)?.[1] as string;
    // one run by its id, then what is left under `unknown` of one model, by the platform
    const one = await cli(['runs', 'set-platform', 'RTX-4090', id('plat-a')]);
    expect(one.status).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^${id('plat-a')}  plat-a  now on RTX-4090$`, 'm'));
    const bulk = await cli(['runs', 'set-platform', 'A100-40G', '--from-platform', 'unknown', '--model', 'plat-b']);
    expect(bulk.status).toBe(0);
    expect(bulk.stderr).toBe('1 run filed under A100-40G\n');
    expect((await cli(['runs', 'ls', '--platform', 'RTX-4090'])).stdout).toContain('plat-a');
    expect((await cli(['runs', 'ls', '--platform', 'A100-40G'])).stdout).toContain('plat-b');
    const left = (await cli(['runs', 'ls', '--platform', 'unknown'])).stdout;
    expect(left).toContain('plat-c');
    expect(left).not.toMatch(/plat-[ab]/);
    const usage = await cli(['runs', 'set-platform', 'X']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/either run ids or --from-platform/);
  });

  it('reports the stack’s health, naming what is down', async () => {
    const st = await cli(['status']);
    expect(st.status).toBe(1);
    expect(st.stdout).toMatch(/API\s+ok/);
    expect(st.stdout).toMatch(/InfluxDB\s+ok/);
    expect(st.stdout).toMatch(/collector\s+DOWN\s+nothing answers http:\/\/127\.0\.0\.1:9\/healthz/);
  });

  it('shows InfluxDB’s row when the API answers 503 because its InfluxDB is down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-cli-influxd-'));
    const influxd = await startInfluxd({ bin: inject('influxdBin'), dir });
    const degraded = await liveServer('cli_degraded', {}, { store: await testStore('cli_degraded', influxd.url) });
    try {
      await influxd.stop();
      const health = await fetch(`${degraded.url}/healthz`);
      expect(health.status).toBe(503);
      const st = await cli(['status'], { WATTSCOPE_API_URL: degraded.url });
      expect(st.status).toBe(1);
      expect(st.stdout).toMatch(/API\s+ok/);
      expect(st.stdout).toContain(`cannot reach InfluxDB at ${influxd.url}`);
      expect(st.stdout).toMatch(/InfluxDB\s+DOWN\s+cannot reach InfluxDB/);
    } finally {
      await degraded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records a baseline of idle power, counting down on a terminal and in one line elsewhere', async () => {
    const r = await cli(['baseline', '--seconds', '1']);
    expect(r.status).toBe(0);
    // the steady 120 W of the host, all of the window covered
    expect(r.stdout).toMatch(/^nvml\/0\s+counter\s+120\s+100 %$/m);
    expect(r.stdout).toMatch(/^baseline b-[\w-]+: 120 W idle in total$/m);
    expect(r.stderr).toBe(`[wattscope] measuring idle power of cli-host for 1 s; leave the machine idle…\n${WAITING}\n`);
    const tty = await inPty(`${process.execPath} ${BIN} baseline --seconds 2`);
    expect(tty.status).toBe(0);
    const left = [...tty.stdout.matchAll(/leave the machine idle… (\d) s left/g)].map((m) => Number(m[1]));
    // redrawn in place: a late redraw may show a second again (2, 1, 1 seen on a busy machine), never one back
    expect([...new Set(left)]).toEqual([2, 1]);
    expect(left.every((v, i) => i === 0 || v <= (left[i - 1] as number))).toBe(true);
    expect(tty.stdout).toMatch(/nvml\/0\s+counter\s+120/);
  });

  it('exports every run, page after page with the CSV header once, or at most --limit', async () => {
    const exp = await liveServer('cli_export');
    try {
      const newest = Date.now() - 3_600_000;
      const items = Array.from({ length: 1100 }, (_, i) => ({
        run_id: `exp-${String(i).padStart(4, '0')}`,
        model: 'exp',
        platform: 'P-exp',
        inferences: 100,
        energy_j: 1 + i,
        started_at: new Date(newest - i * 1000).toISOString(),
      }));
      const imported = await fetch(`${exp.url}/api/runs/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });
      expect(imported.status).toBe(201);
      const ids = items.map((i) => i.run_id); // newest first, as runs are listed
      const at = { WATTSCOPE_API_URL: exp.url };
      const csv = await cli(['runs', 'export', '--format', 'csv'], at);
      expect(csv.status).toBe(0);
      const lines = csv.stdout.split('\r\n');
      expect(lines.at(-1)).toBe('');
      expect(lines[0]).toMatch(/^run_id,model,platform/);
      expect(lines.filter((l) => l.startsWith('run_id,'))).toHaveLength(1);
      expect(lines.slice(1, -1).map((l) => l.split(',')[0])).toEqual(ids);
      const json = await cli(['runs', 'export', '--format', 'json'], at);
      expect((JSON.parse(json.stdout) as RunSummary[]).map((r) => r.run_id)).toEqual(ids);
      const capped = await cli(['runs', 'export', '--format', 'json', '--limit', '1050'], at);
      expect((JSON.parse(capped.stdout) as RunSummary[]).map((r) => r.run_id)).toEqual(ids.slice(0, 1050));
      const cappedCsv = await cli(['runs', 'export', '--limit', '1001'], at);
      expect(cappedCsv.stdout.trim().split('\r\n').slice(1).map((l) => l.split(',')[0])).toEqual(ids.slice(0, 1001));
    } finally {
      await exp.close();
    }
  });
});

describe('wattscope window', () => {
  // a data directory of its own (where open windows are kept), and no collector (port 9: nothing listens)
  const homes: string[] = [];
  const home = () => {
    homes.push(mkdtempSync(join(tmpdir(), 'wattscope-win-')));
    return { WATTSCOPE_HOME: homes.at(-1) as string };
  };
  afterAll(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('a name not open, or open already, is a clear error (exit 2); so is a bad name or a run option without --record', async () => {
    const h = home();
    const never = await cli(['window', 'end', 'never'], h);
    expect(never.status).toBe(2);
    expect(never.stderr).toBe('wattscope: no window "never" is open: begin it with `wattscope window begin never`\n');
    expect((await cli(['window', 'begin', 'twice'], h)).status).toBe(0);
    const again = await cli(['window', 'begin', 'twice'], h);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('wattscope: window "twice" is already open; end it first (wattscope window end twice)');
    for (const args of [['window'], ['window', 'open', 'x'], ['window', 'begin', '../x'], ['window', 'begin', 'x', '--model', 'm'], ['window', 'run', 'x']]) {
      const r = await cli(args, h);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });

  it('with the collector down: exit 0, the energies null, the time still measured, one line naming its URL per command', async () => {
    const h = home();
    const begun = await cli(['window', 'begin', 'w'], h);
    expect(begun.status).toBe(0);
    expect(begun.stderr).toMatch(/^wattscope: cannot read the collector at http:\/\/127\.0\.0\.1:9 \(.*\): start it with `wattscope collect`.*\n$/);
    await sleep(300);
    const ended = await cli(['window', 'end', 'w', '--json'], h);
    expect(ended.status).toBe(0);
    const m = JSON.parse(ended.stdout) as { energy_j: number | null; duration_s: number; measured: boolean };
    expect(m).toMatchObject({ energy_j: null, measured: false });
    expect(m.duration_s).toBeGreaterThanOrEqual(0.3);
    // run: the command's status is the exit status, the window printed all the same
    const ran = await cli(['window', 'run', 'r', '--', 'sh', '-c', 'exit 3'], h);
    expect(ran.status).toBe(3);
    expect(ran.stdout).toMatch(/^window r: — J \(no reading from the collector\) over \d/);
  });
});

