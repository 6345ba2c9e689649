/**
 * `wattscope bench [--repeat N | --until-cv P% --max N] [--warmup K] [--cooldown auto|S]
 * [--baseline S] [run options] -- <command…>`: the paper's measurement protocol in one command.
 * An idle baseline first, K warm-up runs (measured, marked, not counted), then the runs of one
 * series, with a cooldown to idle power between them; at the end the series' statistics.
 */
import { randomUUID } from 'node:crypto';
import type { RunSummary, Series, WattscopeClient } from '../clients/ts/client.js';
import { COOL_HOLD, coolState, toleranceW } from './cooldown.js';
import { num, numberOption, parseOptions, shown, UsageError } from './format.js';
import { measureCommand, planRun, RUN_OPTIONS, type RunPlan } from './run.js';
import { formatSeries } from './series.js';
import { measureBaseline } from './status.js';
import { BottomLine } from './terminal.js';
import type { Command } from './command.js';

/** A baseline of the host younger than this is reused (idle power drifts with temperature and load over the day). */
export const BASELINE_REUSE_MS = 10 * 60_000;
const DEFAULT_BASELINE_S = 10;
const DEFAULT_REPEAT = 3;
const DEFAULT_MAX = 10;
const DEFAULT_MIN = 3;
const DEFAULT_COOLDOWN_MAX_S = 120;
const SERIES_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const USAGE = `Usage: wattscope bench [--repeat N | --until-cv P% [--min N] [--max N]] [--warmup K]
                       [--cooldown auto|SECONDS] [--cooldown-max SECONDS] [--baseline SECONDS]
                       [--series ID] [run options] -- <command> [args…]

Measures <command> as the paper did: several runs of one series on an idle machine, and the
run-to-run deviation of their energy.

  1. An idle baseline of the host: its latest one if it is under 10 minutes old, else one of
     ${DEFAULT_BASELINE_S} s (--baseline S: always a fresh one of S seconds; leave the machine idle).
  2. K warm-up runs (--warmup, default 1): measured and stored, marked warmup, left out of the
     statistics.
  3. The runs: --repeat N (default ${DEFAULT_REPEAT}), or --until-cv P% : until the coefficient of
     variation of energy per inference over the counted runs is at most P % (checked from the
     --min-th run on, default ${DEFAULT_MIN}), or --max runs (default ${DEFAULT_MAX}).
  Between runs, --cooldown auto (default) waits until the host's power is back within 10 % (at
     least ${2} W) of the idle baseline for ${COOL_HOLD} s in a row, at most --cooldown-max seconds
     (default ${DEFAULT_COOLDOWN_MAX_S}; if it never settles it says so and goes on, and the next run gets
     the label cooldown=unsettled); --cooldown S waits S seconds (the paper: 30).

Every run carries the series id (--series ID, default a new one): \`wattscope runs ls --series ID\`
lists them with the statistics, GET /api/series/ID gives them. At the end: n, mean, standard
deviation, coefficient of variation and 95 % confidence interval (Student's t) of duration,
energy, energy per inference (whole run and steady part) and composite score; a series whose
energy per inference varies by more than 2 % is flagged.

Run options, as for \`wattscope run\`: --model (required), --dataset, --kind inference|training,
--inferences, --correct, --accuracy, --accuracy-from, --batch-size, --params-m, --macs-g,
--platform, --host (the first one is the host whose power the baseline and cooldown watch),
--label, --gpus, --score-energy. --json prints the series (as GET /api/series/ID) at the end.

Exit status: 0 when every run's command exited 0; else the failing command's status (the series
stops there; what was measured stays); 1 when the API cannot be reached or stop a run.`;

const BENCH_OPTIONS = {
  ...RUN_OPTIONS,
  repeat: { type: 'string' },
  'until-cv': { type: 'string' },
  min: { type: 'string' },
  max: { type: 'string' },
  warmup: { type: 'string' },
  cooldown: { type: 'string' },
  'cooldown-max': { type: 'string' },
  baseline: { type: 'string' },
  series: { type: 'string' },
} as const;

/** When the series is complete. */
export type StopRule = { kind: 'repeat'; runs: number } | { kind: 'until-cv'; cv: number; min: number; max: number };

/** `2%`, `2` or `2 %`: a percentage above 0 and below 100, as a fraction. */
export function percentOption(value: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%?\s*$/.exec(value);
  const pct = m ? Number(m[1]) : NaN;
  if (!(pct > 0 && pct < 100)) throw new UsageError(`--${name} takes a percentage above 0 and below 100, e.g. 2%, got ${shown(value)}`);
  return pct / 100;
}

export interface BenchPlan {
  rule: StopRule;
  warmups: number;
  cooldown: { kind: 'auto'; maxS: number } | { kind: 'fixed'; seconds: number };
  /** a fresh baseline of this many seconds; undefined: reuse a recent one */
  baselineS: number | undefined;
  seriesId: string | undefined;
}

/** The bench's own options, checked before anything starts. */
export function planBench(values: Record<string, string | string[] | boolean | undefined>): BenchPlan {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const untilCv = str('until-cv');
  const repeat = str('repeat');
  if (untilCv !== undefined && repeat !== undefined) throw new UsageError('give --repeat N or --until-cv P%, not both');
  if (untilCv === undefined && (str('max') !== undefined || str('min') !== undefined)) throw new UsageError('--min and --max go with --until-cv');
  let rule: StopRule;
  if (untilCv !== undefined) {
    const min = numberOption(str('min'), 'min', { integer: true, min: 2, max: 1000 }) ?? DEFAULT_MIN;
    const max = numberOption(str('max'), 'max', { integer: true, min: 2, max: 1000 }) ?? Math.max(DEFAULT_MAX, min);
    if (max < min) throw new UsageError(`--max (${max}) must be at least --min (${min})`);
    rule = { kind: 'until-cv', cv: percentOption(untilCv, 'until-cv'), min, max };
  } else {
    rule = { kind: 'repeat', runs: numberOption(repeat, 'repeat', { integer: true, min: 1, max: 1000 }) ?? DEFAULT_REPEAT };
  }
  const warmups = numberOption(str('warmup'), 'warmup', { integer: true, min: 0, max: 100 }) ?? 1;
  const cd = str('cooldown') ?? 'auto';
  const maxS = numberOption(str('cooldown-max'), 'cooldown-max', { min: 1, max: 86_400 }) ?? DEFAULT_COOLDOWN_MAX_S;
  if (cd !== 'auto' && str('cooldown-max') !== undefined) throw new UsageError('--cooldown-max goes with --cooldown auto');
  let cooldown: BenchPlan['cooldown'] = { kind: 'auto', maxS };
  if (cd !== 'auto') {
    const seconds = /^\d+(\.\d+)?$/.test(cd.trim()) ? Number(cd) : NaN;
    if (!(seconds >= 0 && seconds <= 86_400)) throw new UsageError(`--cooldown takes auto or a number of seconds ≥ 0 (and ≤ 86400), got ${shown(cd)}`);
    cooldown = { kind: 'fixed', seconds };
  }
  const baselineS = numberOption(str('baseline'), 'baseline', { min: 1, max: 86_400 });
  const seriesId = str('series');
  if (seriesId !== undefined && !SERIES_ID.test(seriesId)) throw new UsageError(`--series takes letters, digits and . _ : - (1–128 characters, starting with a letter or digit), got "${seriesId}"`);
  if (values.kind === 'baseline') throw new UsageError('--kind baseline: a bench measures a workload; the baseline is its first step');
  return { rule, warmups, cooldown, baselineS, seriesId };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (text: string) => process.stderr.write(`[wattscope] ${text}\n`);

/** The host's idle power: its latest baseline if recent enough and none was asked for, else a fresh one. */
async function idleBaseline(plan: RunPlan, seconds: number | undefined): Promise<{ run: RunSummary; reused: boolean }> {
  if (seconds === undefined) {
    // baselines that ended in the window started up to a day (their longest) before it
    const { runs } = await plan.api.listRuns({ kind: 'baseline', status: 'completed', from: new Date(Date.now() - BASELINE_REUSE_MS - 86_400_000).toISOString(), limit: 100 });
    const recent = runs.find((r) => r.hosts.includes(plan.host) && r.avg_power_w !== null && Date.now() - Date.parse(r.ended_at ?? r.started_at) <= BASELINE_REUSE_MS);
    if (recent) return { run: recent, reused: true };
  }
  return { run: await measureBaseline(plan.api, plan.config.api.url, plan.host, seconds ?? DEFAULT_BASELINE_S, plan.start.platform), reused: false };
}

interface Cooled {
  settled: boolean;
  waitedS: number;
  nowW: number | undefined;
}

/**
 * Waits until the host's power has been back near idle for COOL_HOLD seconds after `sinceMs`
 * (epoch ms, InfluxDB's clock: the previous run's end), at most `maxS`; says what it sees.
 */
async function coolDown(api: WattscopeClient, host: string, idleW: number, sinceMs: number, maxS: number, line: BottomLine | undefined, label: string): Promise<Cooled> {
  const tol = toleranceW(idleW);
  const started = Date.now();
  const target = `${num(idleW, 1)} W idle (±${num(tol, 1)} W)`;
  if (!line) say(`${label}: waiting until the power of ${host} is back within ±${num(tol, 1)} W of its idle ${num(idleW, 1)} W for ${COOL_HOLD} s (at most ${maxS} s)…`);
  let nowW: number | undefined;
  for (;;) {
    const waitedS = (Date.now() - started) / 1000;
    try {
      const state = coolState(await api.livePower(host), sinceMs, idleW);
      nowW = state.nowW;
      if (state.settled) return { settled: true, waitedS, nowW };
    } catch {
      // the API may come back within the bound; the line says so meanwhile
      nowW = undefined;
    }
    if (waitedS >= maxS) return { settled: false, waitedS, nowW };
    line?.draw(`[wattscope] ${label}: ${nowW === undefined ? '— W' : `${num(nowW, 1)} W`} now vs ${target}, ${Math.floor(waitedS)} s`);
    await sleep(Math.min(1000, Math.max(0, maxS * 1000 - (Date.now() - started))));
  }
}

/** Waits `seconds`, showing the seconds left and the power now on `line`. */
async function fixedCooldown(api: WattscopeClient, host: string, idleW: number, seconds: number, line: BottomLine | undefined, label: string): Promise<void> {
  if (!line) {
    say(`${label}: waiting ${seconds} s`);
    await sleep(seconds * 1000);
    return;
  }
  const deadline = Date.now() + seconds * 1000;
  for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
    let nowW: number | undefined;
    try {
      nowW = coolState(await api.livePower(host), 0, idleW).nowW;
    } catch {
      nowW = undefined;
    }
    line.draw(`[wattscope] ${label}: ${Math.ceil(left / 1000)} s left, ${nowW === undefined ? '— W' : `${num(nowW, 1)} W`} now vs ${num(idleW, 1)} W idle`);
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  }
}

/** One line per run: what it was, its energy, and its steady part. */
function runLine(role: string, s: RunSummary): string {
  // the reason's first words say enough on this line; `runs show` has it whole
  const steady = s.energy_per_inference_steady_uwh === null ? `steady — (${(s.steady_reason ?? 'none').split(':')[0]})` : `steady ${num(s.energy_per_inference_steady_uwh, 3)} µWh/inf (trimmed ${num(s.steady_rise_s, 1)} s + ${num(s.steady_tail_s, 1)} s)`;
  return `${role}  ${s.run_id}  ${num(s.duration_s, 2)} s  ${num(s.energy_j, 2)} J  ${num(s.energy_per_inference_uwh, 3)} µWh/inf  ${steady}`;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const command = sep < 0 ? [] : argv.slice(sep + 1);
  const { values } = parseOptions({ args: own, options: BENCH_OPTIONS });
  const bench = planBench(values);
  const plan = planRun('wattscope bench', values, command);
  if (typeof plan === 'number') return plan;
  const { api } = plan;
  const seriesId = bench.seriesId ?? `s-${randomUUID()}`;
  if (bench.seriesId !== undefined) {
    const existing = await api.series(seriesId).catch(() => undefined);
    if (existing) throw new UsageError(`--series ${seriesId}: that series exists already (${existing.runs} runs of ${existing.model} on ${existing.platform}); a bench starts a series of its own`);
  }
  // a line per run on stdout, unless stdout is the series as JSON
  const out = (text: string) => (values.json ? process.stderr.write(`${text}\n`) : process.stdout.write(`${text}\n`));

  const baseline = await idleBaseline(plan, bench.baselineS);
  const idleW = baseline.run.avg_power_w as number;
  const age = Math.round((Date.now() - Date.parse(baseline.run.ended_at ?? baseline.run.started_at)) / 1000);
  say(`idle baseline ${baseline.run.run_id}: ${num(idleW, 1)} W on ${plan.host} (${baseline.reused ? `measured ${age} s ago, reused; --baseline S measures afresh` : `measured now over ${num(baseline.run.duration_s, 0)} s`})`);

  const rule = bench.rule;
  const total = rule.kind === 'repeat' ? rule.runs : rule.max;
  const line = BottomLine.open(process.stdout);
  // after a baseline measured just now the host is idle; a reused one says nothing about now
  let lastEndMs = baseline.reused ? Date.now() : undefined;
  let counted = 0;
  let series: Series | undefined;
  try {
    for (let i = 1; ; i++) {
      const warmup = i <= bench.warmups;
      const role = warmup ? `warm-up ${i} of ${bench.warmups}` : rule.kind === 'repeat' ? `run ${counted + 1} of ${total}` : `run ${counted + 1} (until CV ≤ ${num(rule.cv * 100, 2)} %, at most ${total})`;
      let unsettled = false;
      if (lastEndMs !== undefined) {
        const label = `cooling down before ${role}`;
        if (bench.cooldown.kind === 'fixed') {
          await fixedCooldown(api, plan.host, idleW, bench.cooldown.seconds, line, label);
        } else {
          const cooled = await coolDown(api, plan.host, idleW, lastEndMs, bench.cooldown.maxS, line, label);
          unsettled = !cooled.settled;
          const now = cooled.nowW === undefined ? 'no complete power data' : `${num(cooled.nowW, 1)} W now`;
          if (cooled.settled) say(`cooled down in ${num(cooled.waitedS, 0)} s: ${now} vs ${num(idleW, 1)} W idle`);
          else say(`the power did not settle back to idle within ${bench.cooldown.maxS} s: ${now} vs ${num(idleW, 1)} W idle (±${num(toleranceW(idleW), 1)} W); going on with ${role}, labelled cooldown=unsettled`);
        }
      }
      if (!line) say(`${role} of series ${seriesId}…`);
      const m = await measureCommand(plan, {
        start: { series_id: seriesId, warmup, labels: { ...plan.start.labels, ...(unsettled ? { cooldown: 'unsettled' } : {}) } },
        line,
        prefix: `${role}  `,
      });
      if (!m.summary) return m.code === 0 ? 1 : m.code;
      lastEndMs = Date.parse(m.summary.ended_at ?? m.summary.started_at);
      out(runLine(role, m.summary));
      if (m.code !== 0) {
        console.error(`wattscope bench: the command ${m.how} in ${role}; run ${m.run_id} marked failed, and the series stops here`);
        return m.code;
      }
      if (warmup) continue;
      counted++;
      if (rule.kind === 'repeat') {
        if (counted >= rule.runs) break;
        continue;
      }
      if (counted < rule.min) continue;
      series = await api.series(seriesId);
      const cv = series.stats.energy_per_inference_uwh.cv;
      if (cv !== null && cv <= rule.cv) {
        say(`coefficient of variation of energy per inference ${num(cv * 100, 2)} % ≤ ${num(rule.cv * 100, 2)} % after ${counted} runs: done`);
        break;
      }
      if (counted >= rule.max) {
        say(`coefficient of variation of energy per inference still ${cv === null ? '—' : `${num(cv * 100, 2)} %`} after ${counted} runs (--max): above ${num(rule.cv * 100, 2)} %`);
        break;
      }
    }
  } finally {
    line?.close();
  }
  series = await api.series(seriesId);
  if (values.json) console.log(JSON.stringify(series, null, 2));
  else console.log(`\n${formatSeries(series)}`);
  return 0;
}

export const benchCommandSpec: Command = {
  name: 'bench',
  usage: USAGE,
  main: benchCommand,
};
