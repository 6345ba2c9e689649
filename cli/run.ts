/**
 * `wattscope run [options] -- <command…>`: runs a command as a measured run. The command gets
 * WATTSCOPE_RUN_ID and WATTSCOPE_API_URL; signals are forwarded; its exit status decides the
 * run's (0 → completed, else failed); the summary is printed at the end.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import type { RunSummary } from '../clients/ts/client.js';
import { client, num, numberOption, parseLabels, UsageError } from './format.js';
import { formatSummary } from './summary.js';
import type { Command } from './command.js';

const USAGE = `Usage: wattscope run [options] -- <command> [args…]

Runs <command> as a measured run on this host and prints its energy and scores.

Options:
  --model M            model name (required)
  --dataset D          dataset name
  --kind K             inference (default), training or baseline
  --inferences N       inferences the command does (for energy per inference)
  --correct N          correct inferences (accuracy = correct / inferences)
  --accuracy A         accuracy, 0–1
  --accuracy-from F    read {"accuracy", "inferences", "correct"} from the JSON file F that the
                       command writes (read after it exits)
  --batch-size B       batch size
  --params-m P         parameters in millions (for NetScore, information density)
  --macs-g M           multiply-accumulates per inference in billions (for NetScore)
  --platform P         platform label (default: WATTSCOPE_PLATFORM or the server's)
  --host H             host whose energy counts (repeatable; default this machine, WATTSCOPE_HOST)
  --label k=v          a label (repeatable)
  --run-id ID          choose the run id (retrying the same id is safe)
  --json               print the summary as JSON
  -h, --help           this text

The command sees WATTSCOPE_RUN_ID and WATTSCOPE_API_URL. Exit status: the command's.`;

interface ResultFile {
  accuracy?: number;
  inferences?: number;
  correct?: number;
}

function readResultFile(path: string): ResultFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--accuracy-from ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the command did not write this file' : `not valid JSON (${(e as Error).message})`}`);
  }
  const out: ResultFile = {};
  const obj = (parsed ?? {}) as Record<string, unknown>;
  for (const k of ['accuracy', 'inferences', 'correct'] as const) {
    if (obj[k] === undefined) continue;
    if (typeof obj[k] !== 'number' || !Number.isFinite(obj[k])) throw new UsageError(`--accuracy-from ${path}: "${k}" must be a number`);
    out[k] = obj[k];
  }
  return out;
}

export async function runCommand(argv: string[]): Promise<number> {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const command = sep < 0 ? [] : argv.slice(sep + 1);
  const { values } = parseArgs({
    args: own,
    options: {
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
      'run-id': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  if (command.length === 0) throw new UsageError('give the command to run after --, e.g. wattscope run --model m -- python eval.py');
  const kind = values.kind;
  if (kind !== undefined && kind !== 'inference' && kind !== 'training' && kind !== 'baseline') throw new UsageError(`--kind must be inference, training or baseline, got "${kind}"`);
  const config = loadConfig();
  const api = client(config);
  const { run_id } = await api.startRun({
    model: values.model,
    dataset: values.dataset,
    kind,
    hosts: values.host ?? [config.host],
    platform: values.platform ?? (config.platform || undefined),
    batch_size: numberOption(values['batch-size'], 'batch-size', true),
    params_m: numberOption(values['params-m'], 'params-m'),
    macs_g: numberOption(values['macs-g'], 'macs-g'),
    labels: parseLabels(values.label),
    run_id: values['run-id'],
  });
  const startedAt = Date.now();
  const child = spawn(command[0] as string, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, WATTSCOPE_RUN_ID: run_id, WATTSCOPE_API_URL: config.api.url },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const heartbeat = setInterval(() => void api.heartbeat(run_id).catch(() => undefined), 60_000);
  let energyJ = 0;
  let lastPowerAt = startedAt;
  const tty = process.stdout.isTTY === true;
  const status = tty
    ? setInterval(() => {
        void api
          .livePower(values.host?.[0] ?? config.host)
          .then((live) => {
            const last = live.times.length - 1;
            if (last < 0) return;
            const watts = live.series.filter((s) => s.in_total).reduce((a, s) => a + (s.power_w[last] ?? 0), 0);
            const now = Date.now();
            energyJ += (watts * (now - lastPowerAt)) / 1000;
            lastPowerAt = now;
            process.stdout.write(`\r\x1b[2K[wattscope] ${((now - startedAt) / 1000).toFixed(0)} s  ${watts.toFixed(1)} W  ${(energyJ / 3600).toFixed(3)} Wh so far`);
          })
          .catch(() => undefined);
      }, 1000)
    : undefined;
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: 127, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearInterval(heartbeat);
  clearInterval(status);
  for (const [s, h] of handlers) process.off(s, h);
  if (tty) process.stdout.write('\r\x1b[2K');
  if (exit.error) console.error(`wattscope run: cannot start ${command[0]}: ${exit.error.message}`);
  const ok = exit.code === 0;
  let result: ResultFile = {
    inferences: numberOption(values.inferences, 'inferences', true),
    correct: numberOption(values.correct, 'correct', true),
    accuracy: numberOption(values.accuracy, 'accuracy'),
  };
  if (values['accuracy-from']) {
    try {
      result = { ...result, ...readResultFile(values['accuracy-from']) };
    } catch (e) {
      console.error(`wattscope run: ${(e as Error).message}; the run is stopped without it`);
    }
  }
  const clean = Object.fromEntries(Object.entries(result).filter(([, v]) => v !== undefined));
  const summary: RunSummary = await api.stopRun(run_id, { ...clean, status: ok ? 'completed' : 'failed' });
  console.log(values.json ? JSON.stringify(summary, null, 2) : `\n${formatSummary(summary)}`);
  if (!ok) console.error(`wattscope run: the command ${exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`}; run ${run_id} marked failed (${num(summary.energy_j, 1)} J)`);
  return exit.code ?? (exit.signal ? 128 + 15 : 1);
}

export const runCommandSpec: Command = {
  name: 'run',
  summary: 'run a command as a measured run and print its energy and scores',
  usage: USAGE,
  main: runCommand,
};
