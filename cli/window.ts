/**
 * `wattscope window begin|end|run NAME`: windows for shell scripts, as the Python module has them —
 * the energy of any span of a script from two readings of the collector on this host (GET
 * /energy), at once and without the API. `begin` keeps its reading in a file of its own
 * (<data dir>/windows/), `end` takes the second and prints the window; `run` wraps one command.
 * With the collector down an edge has no reading: one line says so, the energies print as —
 * (null in JSON), and the exit status is still 0 — a script is never broken by measuring.
 * `--record` files the window as a run through the API by a process of its own in the
 * background; the script does not wait.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir } from '../common/paths.js';
import { measurementOf, Windows, type Edge, type Measurement, type RecordOptions } from '../clients/ts/windows.js';
import { binPath, type Command } from './command.js';
import { loadConfig, type Config } from './config.js';
import { BATCH_SIZE, client, MACS_G, num, numberOption, PARAMS_M, parseLabels, resultOptions, UsageError } from './format.js';

const USAGE = `Usage: wattscope window begin NAME [--record [run options]]
       wattscope window end NAME [--json] [--inferences N] [--correct N] [--accuracy A]
       wattscope window run NAME [--json] [--record [run options]] -- <command> [args…]

The energy of a span of a shell script, from the collector on this host (its GET /energy: every
power source read at the moment), at once and without the API: the host's energy (its in-total
sources), its GPUs', each source's, and the span's length. Windows nest and overlap by name.

  begin NAME     takes the first reading (kept in ${join('<data dir>', 'windows')}); a NAME already
                 open is an error (exit 2)
  end NAME       takes the second and prints the window; a NAME not open is an error (exit 2)
  run NAME -- C  runs the command C inside a window, prints it, and exits with C's status

Options:
  --json               print the window as JSON (energy_j, gpu_energy_j, sources, duration_s,
                       start_time, end_time, host, run_id, measured)
  --record             also file the window as a run through the API (WATTSCOPE_API_URL), in the
                       background: it shows in the runs list and comparisons with its scores
  --model M            the run's model (default: the window's name); with --record
  --kind K             inference (default), training or baseline; with --record
  --dataset D, --batch-size B, --params-m P, --macs-g M, --label k=v (repeatable): the run's
  --inferences N, --correct N, --accuracy A: the run's results (end, run)
  -h, --help           this text

With the collector down, or not answering within WATTSCOPE_COLLECTOR_TIMEOUT (0.1 s), an edge
has no reading: one line says so on stderr, the energies print as — (null in JSON), and the
exit status is 0. The collector is at WATTSCOPE_COLLECTOR_URL (default
http://127.0.0.1:<WATTSCOPE_COLLECTOR_PORT>).`;

const RUN_OPTIONS = {
  record: { type: 'boolean' },
  model: { type: 'string' },
  kind: { type: 'string' },
  dataset: { type: 'string' },
  'batch-size': { type: 'string' },
  'params-m': { type: 'string' },
  'macs-g': { type: 'string' },
  label: { type: 'string', multiple: true },
} as const;
const RESULT_OPTIONS = { inferences: { type: 'string' }, correct: { type: 'string' }, accuracy: { type: 'string' }, json: { type: 'boolean' } } as const;

interface Kept {
  name: string;
  edge: Edge;
  record?: RecordOptions | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;

function windowsDir(): string {
  return join(dataDir(), 'windows');
}

function fileOf(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`a window's name is letters, digits and . _ : @ + - (1–128, starting with a letter or digit), got "${name}"`);
  return join(windowsDir(), `${name}.json`);
}

function recordOptions(v: { record?: boolean | undefined; model?: string | undefined; kind?: string | undefined; dataset?: string | undefined; 'batch-size'?: string | undefined; 'params-m'?: string | undefined; 'macs-g'?: string | undefined; label?: string[] | undefined }): RecordOptions | undefined {
  const given = ['model', 'kind', 'dataset', 'batch-size', 'params-m', 'macs-g', 'label'].filter((k) => v[k as keyof typeof v] !== undefined);
  if (!v.record) {
    if (given.length > 0) throw new UsageError(`--${given[0]} is an option of the run a window is filed as: give --record too`);
    return undefined;
  }
  if (v.kind !== undefined && !['inference', 'training', 'baseline'].includes(v.kind)) throw new UsageError(`--kind takes inference, training or baseline, got "${v.kind}"`);
  const out: RecordOptions = {};
  if (v.model !== undefined) out.model = v.model;
  if (v.kind !== undefined) out.kind = v.kind as NonNullable<RecordOptions['kind']>;
  if (v.dataset !== undefined) out.dataset = v.dataset;
  const batch = numberOption(v['batch-size'], 'batch-size', BATCH_SIZE);
  if (batch !== undefined) out.batch_size = batch;
  const params = numberOption(v['params-m'], 'params-m', PARAMS_M);
  if (params !== undefined) out.params_m = params;
  const macs = numberOption(v['macs-g'], 'macs-g', MACS_G);
  if (macs !== undefined) out.macs_g = macs;
  const labels = parseLabels(v.label);
  if (labels) out.labels = labels;
  return out;
}

/**
 * An edge kept for another process: a process's monotonic clock starts with it, so where the
 * collector gave no reading (whose own clock times the window) the span is timed on the wall clock.
 */
function acrossProcesses(edge: Edge): Edge {
  return { ...edge, monoMs: edge.wallMs };
}

function windows(config: Config): Windows {
  return new Windows({ collectorUrl: config.collector.url || `http://127.0.0.1:${config.collector.port}`, timeoutMs: config.collector.clientTimeoutS * 1000 });
}

/** The window in words: its energy, length and power, and each source. */
export function formatWindow(m: Measurement): string {
  const lines = [
    `window ${m.name}: ${m.energy_j === null ? '— J (no reading from the collector)' : `${num(m.energy_j, 3)} J`} over ${num(m.duration_s, 3)} s${m.energy_j !== null && m.duration_s > 0 ? ` (${num(m.energy_j / m.duration_s, 1)} W)` : ''}${m.host ? ` on ${m.host}` : ''}`,
  ];
  if (m.gpu_energy_j !== null) lines.push(`  GPUs: ${num(m.gpu_energy_j, 3)} J`);
  for (const [source, j] of Object.entries(m.sources)) lines.push(`  ${source}: ${num(j, 3)} J`);
  if (m.run_id) lines.push(`  filed as run ${m.run_id} in the background: wattscope runs show ${m.run_id}`);
  return lines.join('\n');
}

function print(m: Measurement, json: boolean | undefined): void {
  console.log(json ? JSON.stringify(m) : formatWindow(m));
}

/** Files a window by a process of its own, so that the script goes on at once. */
function fileInBackground(m: Measurement, record: RecordOptions, results: Record<string, unknown>): void {
  const dir = join(windowsDir(), 'filing');
  mkdirSync(dir, { recursive: true });
  m.run_id = `w-${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const path = join(dir, `${m.run_id}.json`);
  writeFileSync(path, JSON.stringify({ m, record, results }));
  spawn(process.execPath, [binPath(), 'window', '_file', path], { detached: true, stdio: 'ignore', env: process.env }).unref();
}

async function begin(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: RUN_OPTIONS, allowPositionals: true });
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError('window begin takes one NAME');
  const file = fileOf(name);
  const record = recordOptions(values);
  if (existsSync(file)) {
    console.error(`wattscope: window "${name}" is already open; end it first (wattscope window end ${name}), or give this one another name`);
    return 2;
  }
  const edge = acrossProcesses(await windows(loadConfig()).edge());
  mkdirSync(windowsDir(), { recursive: true });
  const kept: Kept = { name, edge, record };
  // whole and at once: a link made only where no window of the name is open (two scripts beginning it together: one wins)
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(kept));
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    console.error(`wattscope: window "${name}" is already open; end it first (wattscope window end ${name}), or give this one another name`);
    return 2;
  } finally {
    rmSync(tmp, { force: true });
  }
  return 0;
}

async function end(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: RESULT_OPTIONS, allowPositionals: true });
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError('window end takes one NAME');
  const results = resultOptions(values);
  const file = fileOf(name);
  let kept: Kept;
  try {
    kept = JSON.parse(readFileSync(file, 'utf8')) as Kept;
  } catch {
    console.error(`wattscope: no window "${name}" is open: begin it with \`wattscope window begin ${name}\``);
    return 2;
  }
  rmSync(file, { force: true });
  const config = loadConfig();
  const m = measurementOf(name, kept.edge, acrossProcesses(await windows(config).edge()));
  if (kept.record) fileInBackground(m, kept.record, results);
  print(m, values.json);
  return 0;
}

async function run(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  if (dash < 0 || dash === args.length - 1) throw new UsageError('window run NAME [options] -- <command> [args…]');
  const { values, positionals } = parseArgs({ args: args.slice(0, dash), options: { ...RUN_OPTIONS, ...RESULT_OPTIONS }, allowPositionals: true });
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError('window run takes one NAME before --');
  fileOf(name);
  const record = recordOptions(values);
  const results = resultOptions(values);
  const [command, ...commandArgs] = args.slice(dash + 1) as [string, ...string[]];
  const w = windows(loadConfig());
  const first = await w.edge();
  const status = await new Promise<number>((resolve) => {
    const child = spawn(command, commandArgs, { stdio: 'inherit' });
    child.once('error', (e) => {
      console.error(`wattscope: cannot run ${command}: ${e.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
  const m = measurementOf(name, first, await w.edge());
  w.close();
  if (record) fileInBackground(m, record, { ...results, status: status === 0 ? 'completed' : 'failed' });
  print(m, values.json);
  return status;
}

/** The background filing of a window: a run started at its first edge and stopped at its second. */
async function file(args: string[]): Promise<number> {
  const [path] = args;
  if (!path) return 2;
  const { m, record, results } = JSON.parse(readFileSync(path, 'utf8')) as { m: Measurement; record: RecordOptions; results: Record<string, unknown> & { status?: 'completed' | 'failed' } };
  const config = loadConfig();
  const log = join(windowsDir(), 'filed.log');
  try {
    const api = client(config);
    const { model, ...rest } = record;
    await api.startRun({ ...rest, model: model ?? m.name, run_id: m.run_id as string, hosts: [m.host ?? config.host], started_at: new Date(m.start_time * 1000).toISOString(), labels: { ...record.labels, window: m.name } });
    await api.stopRun(m.run_id as string, { ...results, ended_at: new Date(m.end_time * 1000).toISOString() });
    appendFileSync(log, `${new Date().toISOString()} ${m.run_id} window ${m.name}: filed\n`);
  } catch (e) {
    appendFileSync(log, `${new Date().toISOString()} ${m.run_id} window ${m.name}: not filed: ${(e as Error).message}\n`);
    return 1;
  } finally {
    rmSync(path, { force: true });
  }
  return 0;
}

export const windowCommand: Command = {
  name: 'window',
  usage: USAGE,
  async main(argv) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'begin':
        return begin(rest);
      case 'end':
        return end(rest);
      case 'run':
        return run(rest);
      case '_file':
        return file(rest);
      default:
        throw new UsageError(`window takes begin, end or run, got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
    }
  },
};
