/**
 * `wattscope run [options] -- <command…>`: runs a command as a measured run. Every option is
 * checked before the run starts or the command is spawned. The command gets WATTSCOPE_RUN_ID
 * and WATTSCOPE_API_URL; signals are forwarded; its exit status decides the run's (0 →
 * completed, else failed) and is always the exit status of `wattscope run` too. When the API
 * cannot stop the run at the end, the command that stops it later is printed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { loadConfig, type Config } from './config.js';
import { findExecutable } from '../common/paths.js';
import { ApiClientError, CollectorClient, type LivePower, type RunSummary, type StartRun, type StopRun, type WattscopeClient } from '../clients/ts/client.js';
import { scopeFromEnv, visibleDevices } from '../common/visible-devices.js';
import { BATCH_SIZE, client, COUNT, describeRule, FRACTION, inRange, MACS_G, num, numberOption, PARAMS_M, parseLabels, parseOptions, resultOptions, UsageError, type NumberRule } from './format.js';
import { formatSummary } from './summary.js';
import { BottomLine, WAITING_FOR_COLLECTORS, whilePending } from './terminal.js';
import type { Command } from './command.js';

const USAGE = `Usage: wattscope run [options] -- <command> [args…]

Runs <command> as a measured run on this host and prints its energy and scores.

Options:
  --model M            model name (required)
  --dataset D          dataset name
  --kind K             inference (default), training or baseline
  --inferences N       inferences the command does (for energy per inference), a whole number ≥ 0
  --correct N          correct inferences (accuracy = correct / inferences), ≤ --inferences
  --accuracy A         accuracy as a fraction, 0–1
  --accuracy-from F    read {"accuracy", "inferences", "correct"} from the JSON file F that the
                       command writes (read after it exits)
  --batch-size B       batch size, a whole number ≥ 1
  --params-m P         parameters in millions (for NetScore, information density), > 0
  --macs-g M           multiply-accumulates per inference in billions (for NetScore), > 0
  --platform P         platform label (default: WATTSCOPE_PLATFORM or the server's)
  --host H             host whose energy counts (repeatable; default this machine, WATTSCOPE_HOST)
  --label k=v          a label (repeatable)
  --gpus LIST          the GPUs the command uses, as CUDA names them: indices or UUIDs, comma
                       separated (default: CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES, of
                       this environment; neither set: every GPU). The run's energy counts these
                       GPUs and the host's CPU, DRAM and other sources; the other GPUs are listed
                       apart
  --score-energy E     scoped (default: the run's devices) or attributed (the share of a shared
                       host that the command's own processes used) for the scores
  --run-id ID          choose the run id (retrying the same id is safe)
  --json               print the summary as JSON
  -h, --help           this text

Every option is checked before anything starts: a bad one exits with status 2 and runs nothing.
The API (WATTSCOPE_API_URL) must answer when the run starts: if it does not, wattscope run
exits with status 1 without running the command (start it with \`wattscope up\`), so that a long
evaluation never runs unmeasured by surprise. If it is gone when the command ends, the run id
and the \`wattscope runs stop …\` command that finishes the run later are printed.

While the command runs on a terminal, its last row shows the power and energy so far. At the
end the API waits for the collectors' last points (a few seconds) before it answers.

The collector on this host (WATTSCOPE_COLLECTOR_PORT) is told this process's id: it follows the
process tree below it (the command and its children) and attributes to the run its share of the
host's energy, shown beside the host's in the summary.

The command sees WATTSCOPE_RUN_ID and WATTSCOPE_API_URL. Exit status: the command's (128+N
when a signal N killed it, 127 when it cannot be found).`;

type Results = NonNullable<Pick<StopRun, 'inferences' | 'correct' | 'accuracy'>>;

const RESULT_RULES: Record<keyof Results, NumberRule> = { inferences: COUNT, correct: COUNT, accuracy: FRACTION };

/** What identifies a file's version: a write changes its times (or, replaced, its inode). */
function fileVersion(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st && `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/**
 * The results the command wrote to `path`. The command has already run: a value the API would
 * refuse is left out with a message rather than losing the run's stop over it. `before`: the
 * file's version when the command started; a file left as it was is an earlier run's (wattscope
 * bench runs the command again and again), not this one's.
 */
function readResultFile(path: string, before: string | undefined): { results: Results; problems: string[] } {
  let parsed: unknown;
  try {
    if (before !== undefined && fileVersion(path) === before) return { results: {}, problems: [`--accuracy-from ${path}: the command did not write this file during the run (it is as it was before)`] };
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the command did not write this file' : `not valid JSON (${(e as Error).message})`;
    return { results: {}, problems: [`--accuracy-from ${path}: ${why}`] };
  }
  const results: Results = {};
  const problems: string[] = [];
  const obj = (parsed ?? {}) as Record<string, unknown>;
  for (const k of ['inferences', 'correct', 'accuracy'] as const) {
    const v = obj[k];
    if (v === undefined) continue;
    if (typeof v === 'number' && inRange(v, RESULT_RULES[k])) results[k] = v;
    else problems.push(`--accuracy-from ${path}: "${k}" must be ${describeRule(RESULT_RULES[k])}, got ${JSON.stringify(v)}`);
  }
  return { results, problems };
}

/** API field → the option that set it, to name the option when the API refuses a start. */
const FIELD_OPTIONS: Record<string, string> = {
  model: 'model', dataset: 'dataset', kind: 'kind', hosts: 'host', platform: 'platform', batch_size: 'batch-size',
  params_m: 'params-m', macs_g: 'macs-g', labels: 'label', run_id: 'run-id', series_id: 'series',
};

function refusedOption(e: ApiClientError): UsageError {
  const body = (e.body ?? {}) as { field?: unknown; message?: unknown };
  const option = FIELD_OPTIONS[String(body.field ?? '').split('/')[0] ?? ''];
  const why = typeof body.message === 'string' ? body.message : e.message;
  return new UsageError(`${option ? `--${option}: ` : ''}the API refused it (${why}); nothing was started`);
}

/** The exit status a shell gives: the command's, or 128 + the number of the signal that killed it. */
function exitStatus(exit: { code: number | null; signal: NodeJS.Signals | null }): number {
  if (exit.code !== null) return exit.code;
  const signo = exit.signal ? constants.signals[exit.signal] : undefined;
  return signo === undefined ? 1 : 128 + signo;
}

/** Power now on `host` (its in-total sources' latest values, which may sit in different columns) or undefined without data. */
export function latestPower(live: LivePower): number | undefined {
  let watts: number | undefined;
  for (const s of live.series) {
    if (!s.in_total) continue;
    const last = s.power_w.findLast((w) => w !== null);
    if (last !== undefined && last !== null) watts = (watts ?? 0) + last;
  }
  return watts;
}

/**
 * Draws elapsed time, power and energy so far on `line` each second, after `prefix` (e.g. "run
 * 2 of 5"); returns the function that stops it.
 */
function followPower(line: BottomLine, api: WattscopeClient, host: string, startedAt: number, prefix = ''): () => void {
  let energyJ = 0;
  let lastAt = startedAt;
  let busy = false;
  const tick = async () => {
    if (busy) return; // a slow answer skips a tick, never stacks
    busy = true;
    const elapsed = () => `[wattscope] ${prefix}${Math.round((Date.now() - startedAt) / 1000)} s`;
    try {
      const watts = latestPower(await api.livePower(host));
      const now = Date.now();
      if (watts === undefined) {
        line.draw(`${elapsed()}  no power data from ${host} in the last minute: is \`wattscope collect\` running there?`);
        return;
      }
      energyJ += (watts * (now - lastAt)) / 1000;
      lastAt = now;
      line.draw(`${elapsed()}  ${watts.toFixed(1)} W  ${(energyJ / 3600).toFixed(3)} Wh so far`);
    } catch {
      // a frozen figure would look like a measurement: say the API is not answering (it may come back)
      line.draw(`${elapsed()}  the API does not answer: power unknown`);
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), 1000);
  return () => clearInterval(timer);
}

/** The command that stops the run later with what this one would have sent. */
function finishCommand(runId: string, stop: StopRun): string {
  const words = ['wattscope', 'runs', 'stop', runId, '--status', stop.status ?? 'completed'];
  for (const k of ['inferences', 'correct', 'accuracy'] as const) if (stop[k] !== undefined) words.push(`--${k}`, String(stop[k]));
  if (stop.ended_at) words.push('--ended-at', stop.ended_at);
  return words.join(' ');
}

/** The run's GPUs: --gpus, else the environment the command inherits; undefined: every GPU. */
function gpuScope(option: string | undefined): { gpus: string[] | null; from: 'CUDA_VISIBLE_DEVICES' | 'NVIDIA_VISIBLE_DEVICES' | 'given' } | undefined {
  if (option === undefined) return scopeFromEnv(process.env);
  if (option.trim() === 'all') return { gpus: null, from: 'given' };
  const gpus = visibleDevices(option) ?? [];
  const entries = option.split(',').map((p) => p.trim()).filter(Boolean);
  if (gpus.length !== entries.length) throw new UsageError(`--gpus takes GPU indices or UUIDs, comma separated (or all), got "${option}"`);
  return { gpus, from: 'given' };
}

/** The options of `wattscope run`, which `wattscope bench` takes too (parseArgs form). */
export const RUN_OPTIONS = {
  model: { type: 'string' },
  dataset: { type: 'string' },
  kind: { type: 'string' },
  inferences: { type: 'string' },
  correct: { type: 'string' },
  accuracy: { type: 'string' },
  'accuracy-from': { type: 'string' },
  'batch-size': { type: 'string' },
  'params-m': { type: 'string' },
  'macs-g': { type: 'string' },
  platform: { type: 'string' },
  host: { type: 'string', multiple: true },
  label: { type: 'string', multiple: true },
  gpus: { type: 'string' },
  'score-energy': { type: 'string' },
  json: { type: 'boolean' },
} as const;

type RunValues = { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof RUN_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/** A command to measure, its options checked: everything a run needs but the API's answer. */
export interface RunPlan {
  /** `wattscope run`, `wattscope bench`: how messages name the command */
  who: string;
  config: Config;
  api: WattscopeClient;
  /** the host whose power the live line shows */
  host: string;
  start: StartRun;
  program: string;
  args: string[];
  given: Results;
  accuracyFrom: string | undefined;
}

/**
 * Checks every option of a run before anything starts: a long evaluation must not run only to
 * have its results refused. Throws a UsageError naming the option; returns the exit status of
 * a shell (126, 127) when the command cannot be run, having said why.
 */
export function planRun(who: string, values: RunValues, command: readonly string[]): RunPlan | number {
  if (!values.model) throw new UsageError('--model is required');
  if (command.length === 0) throw new UsageError(`give the command to run after --, e.g. ${who} --model m -- python eval.py`);
  const kind = values.kind;
  if (kind !== undefined && kind !== 'inference' && kind !== 'training' && kind !== 'baseline') throw new UsageError(`--kind must be inference, training or baseline, got "${kind}"`);
  const given = resultOptions(values);
  const batchSize = numberOption(values['batch-size'], 'batch-size', BATCH_SIZE);
  const paramsM = numberOption(values['params-m'], 'params-m', PARAMS_M);
  const macsG = numberOption(values['macs-g'], 'macs-g', MACS_G);
  const labels = parseLabels(values.label);
  const scope = gpuScope(values.gpus);
  const scoreEnergy = values['score-energy'];
  if (scoreEnergy !== undefined && scoreEnergy !== 'scoped' && scoreEnergy !== 'attributed') throw new UsageError(`--score-energy must be scoped or attributed, got "${scoreEnergy}"`);
  const program = command[0] as string;
  if (!findExecutable(program)) {
    const found = program.includes('/') && existsSync(program);
    console.error(`${who}: ${program}: ${found ? 'not an executable file' : 'command not found'}; nothing was started`);
    return found ? 126 : 127;
  }
  const config = loadConfig();
  return {
    who,
    config,
    api: client(config),
    host: values.host?.[0] ?? config.host,
    start: {
      model: values.model,
      dataset: values.dataset,
      kind,
      hosts: values.host ?? [config.host],
      platform: values.platform ?? (config.platform || undefined),
      batch_size: batchSize,
      params_m: paramsM,
      macs_g: macsG,
      labels,
      ...(scope && scope.gpus !== null ? { gpus: scope.gpus, gpus_from: scope.from } : {}),
      score_energy: scoreEnergy,
    },
    program,
    args: command.slice(1),
    given,
    accuracyFrom: values['accuracy-from'],
  };
}

/** What measuring a command gave: its exit status, and the run's summary unless the stop failed (then it said why). */
export interface Measured {
  run_id: string;
  code: number;
  /** "exited with 3", "was killed by SIGKILL" */
  how: string;
  summary: RunSummary | undefined;
}

/**
 * Runs `plan`'s command as one measured run: starts the run, spawns the command (signals
 * forwarded, the collector told to follow it, a heartbeat), stops the run with the command's
 * results once it exits, and waits for the collectors' last points. `line`: a status line the
 * caller keeps open (wattscope bench), drawn with `prefix`; else one of its own on a terminal.
 */
export async function measureCommand(plan: RunPlan, opts: { start?: Partial<StartRun>; line?: BottomLine | undefined; prefix?: string } = {}): Promise<Measured> {
  const { api, config, who } = plan;
  let started: { run_id: string; started_at: string };
  try {
    started = await api.startRun({ ...plan.start, ...opts.start });
  } catch (e) {
    if (e instanceof ApiClientError && e.status === 400) throw refusedOption(e);
    throw e;
  }
  const { run_id } = started;
  // the run's end for a stop sent later: the server's start plus this process's monotonic clock,
  // so that a clock offset between this host and the API's does not move it
  const sinceStart = performance.now();
  const endedAt = () => new Date(Date.parse(started.started_at) + (performance.now() - sinceStart)).toISOString();
  const startedAt = Date.now();
  const resultBefore = plan.accuracyFrom === undefined ? undefined : fileVersion(plan.accuracyFrom);
  const child = spawn(plan.program, plan.args, {
    stdio: 'inherit',
    env: { ...process.env, WATTSCOPE_RUN_ID: run_id, WATTSCOPE_API_URL: config.api.url },
  });
  // the collector follows this process and everything below it: the command, its children, and
  // what they leave behind once reaped (a child's CPU time passes to its parent's)
  const collector = new CollectorClient(`http://127.0.0.1:${config.collector.port}`);
  const followed = collector.follow(run_id, [process.pid]);
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const heartbeat = setInterval(() => void api.heartbeat(run_id).catch(() => undefined), 60_000);
  const line = opts.line ?? BottomLine.open(process.stdout);
  const stopFollowing = line ? followPower(line, api, plan.host, startedAt, opts.prefix) : undefined;
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code === 'ENOENT' ? 127 : 126, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ended = endedAt();
  if (await followed) await collector.forget(run_id);
  clearInterval(heartbeat);
  stopFollowing?.();
  if (!opts.line) line?.close();
  for (const [s, h] of handlers) process.off(s, h);
  if (exit.error) console.error(`${who}: cannot start ${plan.program}: ${exit.error.message}`);
  const code = exitStatus(exit);
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;

  let results: Results = plan.given;
  if (plan.accuracyFrom) {
    const file = readResultFile(plan.accuracyFrom, resultBefore);
    for (const p of file.problems) console.error(`${who}: ${p}; the run is stopped without it`);
    results = { ...results, ...file.results };
  }
  if (results.correct !== undefined && results.inferences !== undefined && results.correct > results.inferences) {
    console.error(`${who}: correct (${results.correct}) exceeds inferences (${results.inferences}); the run is stopped without correct`);
    delete results.correct;
  }
  const stop: StopRun = { ...results, status: code === 0 ? 'completed' : 'failed' };
  try {
    const summary = await whilePending(api.stopRun(run_id, stop), WAITING_FOR_COLLECTORS, process.stderr, opts.line);
    return { run_id, code, how, summary };
  } catch (e) {
    if (!(e instanceof ApiClientError)) throw e;
    if (e.status === 409) {
      console.error(`${who}: the command ${how}; run ${run_id} had been stopped already: ${e.message}`);
      return { run_id, code, how, summary: undefined };
    }
    console.error(
      [
        `${who}: the command ${how}, but run ${run_id} could not be stopped: ${e.message}`,
        'Once the API answers again, finish the run (measured up to when the command ended) with:',
        `  ${finishCommand(run_id, { ...stop, ended_at: ended })}`,
      ].join('\n'),
    );
    return { run_id, code, how, summary: undefined };
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const command = sep < 0 ? [] : argv.slice(sep + 1);
  const { values } = parseOptions({ args: own, options: { ...RUN_OPTIONS, 'run-id': { type: 'string' } } });
  const plan = planRun('wattscope run', values, command);
  if (typeof plan === 'number') return plan;
  const { run_id, code, how, summary } = await measureCommand(plan, { start: { run_id: values['run-id'] } });
  if (!summary) return code;
  console.log(values.json ? JSON.stringify(summary, null, 2) : `\n${formatSummary(summary)}`);
  if (code !== 0) console.error(`wattscope run: the command ${how}; run ${run_id} marked failed (${num(summary.energy_j, 1)} J)`);
  return code;
}

export const runCommandSpec: Command = {
  name: 'run',
  usage: USAGE,
  main: runCommand,
};
