/** `wattscope runs ls|show|stop|export|set-platform` and `wattscope compare`. */
import { writeFileSync } from 'node:fs';
import type { ListRuns, RunSummary, WattscopeClient } from '../clients/ts/client.js';
import { RUN_KINDS, RUN_STATUSES } from '../common/model.js';
import { client, num, numberOption, parseLabels, parseOptions, resultOptions, table, timeOption, UsageError } from './format.js';
import { formatSummary } from './summary.js';
import { formatSeries } from './series.js';
import { WAITING_FOR_COLLECTORS, whilePending } from './terminal.js';
import type { Command } from './command.js';

const RUNS_USAGE = `Usage:
  wattscope runs ls [--model M] [--platform P] [--kind K] [--status S] [--label k=v] [--series ID] [--from T] [--to T] [--limit N]
  wattscope runs show <run_id> [--json]
  wattscope runs stop <run_id> [--status completed|failed] [--inferences N] [--correct N] [--accuracy A]
                      [--label k=v …] [--ended-at T] [--json]
  wattscope runs export --format csv|json [--out FILE] [filters as for ls; --limit N: at most N runs]
  wattscope runs set-platform <platform> (<run_id>… | --from-platform P [filters as for ls])

ls lists runs, newest first (--limit 1–1000, default 100); with --series, the runs of a series
(\`wattscope bench\`), warm-ups marked, and the series' statistics under them. show prints a run's summary (energy
per source, every score). stop stops a running run with its results and prints its summary;
the API answers once the collectors' last points have arrived (a few seconds). --ended-at
(default now) is when the run really ended: \`wattscope run\` prints this command, with it set,
when the API was unreachable as its command ended. export writes every matching run that had
started when it began, page after page, as CSV or JSON to stdout or FILE. set-platform files
runs under another platform (e.g. runs stored as \`unknown\` by an older version): the named
runs, or every run now under --from-platform that the filters match.

T is an ISO 8601 date-time or epoch milliseconds.`;

const filterOptions = {
  model: { type: 'string' },
  platform: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string' },
  label: { type: 'string', multiple: true },
  series: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** What the API answers on one page at most. */
const PAGE_SIZE = 1000;

/** An option that takes one of a few words, as the API's schema lists them. */
function oneOfOption<const T extends string>(v: string | undefined, values: readonly T[], name: string): T | undefined {
  if (v === undefined || (values as readonly string[]).includes(v)) return v as T | undefined;
  throw new UsageError(`--${name} takes one of ${values.join(', ')}, got "${v}"`);
}

/** The filters of ls and export; `maxLimit`: the most --limit may ask (none for export, which pages). */
function filters(values: Record<string, string | string[] | boolean | undefined>, maxLimit: number | undefined): ListRuns {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return {
    model: str('model'),
    platform: str('platform'),
    kind: oneOfOption(str('kind'), RUN_KINDS, 'kind'),
    status: oneOfOption(str('status'), RUN_STATUSES, 'status'),
    from: timeOption(str('from'), 'from'),
    to: timeOption(str('to'), 'to'),
    label: Array.isArray(values.label) ? values.label : undefined,
    series: str('series'),
    limit: numberOption(str('limit'), 'limit', { integer: true, min: 1, max: maxLimit }),
  };
}

/**
 * Fetches every run that matches `f`, page after page (at most `f.limit` runs): `fetchPage` gets
 * one page's query and says how many runs came and where the next page starts.
 */
async function everyPage(api: WattscopeClient, f: ListRuns, fetchPage: (q: ListRuns) => Promise<{ count: number; next_offset: number | null }>): Promise<void> {
  // runs that start during the export would shift the later pages' offsets: end at the newest
  // run there is now (its time is the API's, so this host's clock does not matter)
  const newest = f.to === undefined ? (await api.listRuns({ ...f, limit: 1, offset: 0 })).runs[0]?.started_at : undefined;
  const q: ListRuns = { ...f, to: f.to ?? newest };
  let got = 0;
  let offset: number | null = 0;
  while (offset !== null && (f.limit === undefined || got < f.limit)) {
    const limit = f.limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, f.limit - got);
    const page: { count: number; next_offset: number | null } = await fetchPage({ ...q, limit, offset });
    got += page.count;
    offset = page.next_offset;
  }
}

async function exportRuns(api: WattscopeClient, f: ListRuns, format: 'csv' | 'json'): Promise<string> {
  if (format === 'json') {
    const runs: RunSummary[] = [];
    await everyPage(api, f, async (q) => {
      const page = await api.listRuns(q);
      runs.push(...page.runs);
      return { count: page.runs.length, next_offset: page.next_offset };
    });
    return JSON.stringify(runs, null, 2) + '\n';
  }
  let header = '';
  const bodies: string[] = [];
  await everyPage(api, f, async (q) => {
    const page = await api.exportCsv(q);
    // the header line once (it has no quotes, so its first CRLF ends it)
    const eol = page.csv.indexOf('\r\n') + 2;
    header = page.csv.slice(0, eol);
    bodies.push(page.csv.slice(eol));
    // a full page has `limit` rows; only the last can be short, and then next_offset is null
    return { count: page.next_offset === null ? 0 : (q.limit as number), next_offset: page.next_offset };
  });
  return header + bodies.join('');
}

const isStopStatus = (s: string): s is 'completed' | 'failed' => s === 'completed' || s === 'failed';

export const runsCommand: Command = {
  name: 'runs',
  usage: RUNS_USAGE,
  async main(argv) {
    const [sub, ...rest] = argv;
    if (!sub) {
      console.log(RUNS_USAGE);
      return 2;
    }
    const api = client();
    if (sub === 'ls') {
      const { values } = parseOptions({ args: rest, options: filterOptions });
      const { runs } = await api.listRuns(filters(values, PAGE_SIZE));
      if (runs.length === 0) {
        console.log('no runs match');
        return 0;
      }
      // a series is shown oldest first, its warm-ups marked, its steady part beside the whole run
      const inSeries = values.series !== undefined;
      const shown = inSeries ? [...runs].reverse() : runs;
      console.log(
        table(
          ['run_id', 'model', 'platform', 'kind', 'status', 'started', 'duration s', 'energy Wh', 'µWh/inf', 'accuracy', 'composite', ...(inSeries ? ['steady µWh/inf', 'trimmed s', 'role'] : [])],
          shown.map((r) => [
            r.run_id, r.model, r.platform, r.kind, r.status, r.started_at.slice(0, 19).replace('T', ' '), num(r.duration_s, 1), num(r.energy_wh, 4), num(r.energy_per_inference_uwh, 2), num(r.accuracy, 4), num(r.composite_score, 2),
            ...(inSeries ? [num(r.energy_per_inference_steady_uwh, 2), r.steady_rise_s === null ? '—' : `${num(r.steady_rise_s, 1)} + ${num(r.steady_tail_s, 1)}`, r.warmup ? 'warm-up' : 'counted'] : []),
          ]),
        ),
      );
      if (inSeries) console.log(`\n${formatSeries(await api.series(values.series as string))}`);
      return 0;
    }
    if (sub === 'show') {
      const { values, positionals } = parseOptions({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true });
      const id = positionals[0];
      if (!id) throw new UsageError('wattscope runs show needs a run_id');
      const s = await api.getRun(id);
      console.log(values.json ? JSON.stringify(s, null, 2) : formatSummary(s));
      return 0;
    }
    if (sub === 'stop') {
      const { values, positionals } = parseOptions({
        args: rest,
        options: {
          status: { type: 'string' },
          inferences: { type: 'string' },
          correct: { type: 'string' },
          accuracy: { type: 'string' },
          label: { type: 'string', multiple: true },
          'ended-at': { type: 'string' },
          json: { type: 'boolean' },
        },
        allowPositionals: true,
      });
      const [id, ...extra] = positionals;
      if (!id) throw new UsageError('wattscope runs stop needs a run_id');
      if (extra.length > 0) throw new UsageError(`wattscope runs stop takes one run_id, got also "${extra.join(' ')}"`);
      const status = values.status;
      if (status !== undefined && !isStopStatus(status)) throw new UsageError(`--status must be completed or failed, got "${status}"`);
      const stop = { ...resultOptions(values), status, labels: parseLabels(values.label), ended_at: timeOption(values['ended-at'], 'ended-at') };
      const s = await whilePending(api.stopRun(id, stop), WAITING_FOR_COLLECTORS);
      console.log(values.json ? JSON.stringify(s, null, 2) : formatSummary(s));
      return 0;
    }
    if (sub === 'set-platform') {
      const { values, positionals } = parseOptions({ args: rest, options: { ...filterOptions, 'from-platform': { type: 'string' } }, allowPositionals: true });
      const [platform, ...ids] = positionals;
      if (!platform) throw new UsageError('wattscope runs set-platform needs the platform, then run ids or --from-platform');
      const from = values['from-platform'];
      if ((ids.length > 0) === (from !== undefined)) throw new UsageError('give either run ids or --from-platform P, not both and not neither');
      if (values.platform !== undefined) throw new UsageError('--platform is the new platform here: give it first, as `set-platform NEW --from-platform OLD`');
      const targets = ids.length > 0 ? ids : (JSON.parse(await exportRuns(api, { ...filters(values, undefined), platform: from }, 'json')) as RunSummary[]).map((r) => r.run_id);
      let n = 0;
      for (const id of targets) {
        const s = await api.patchRun(id, { platform });
        console.log(`${s.run_id}  ${s.model}  now on ${s.platform}`);
        n++;
      }
      console.error(`${n} run${n === 1 ? '' : 's'} filed under ${platform}`);
      return 0;
    }
    if (sub === 'export') {
      const { values } = parseOptions({ args: rest, options: { ...filterOptions, format: { type: 'string' }, out: { type: 'string' } } });
      const format = values.format ?? 'csv';
      if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, got "${format}"`);
      const text = await exportRuns(api, filters(values, undefined), format);
      if (values.out) {
        writeFileSync(values.out, text);
        console.error(`wrote ${values.out}`);
      } else process.stdout.write(text);
      return 0;
    }
    throw new UsageError(`unknown subcommand "runs ${sub}"\n\n${RUNS_USAGE}`);
  },
};

const COMPARE_USAGE = `Usage: wattscope compare [--reference PLATFORM] [--json | --format md|csv|latex [--table scores|ranking|both]]

Models × platforms over completed runs (warm-ups left out): energy per inference and composite
score (mean ± std and CV over repeated runs), the model's rank per platform, and factors
relative to --reference.

--format prints the tables for a paper (the same as GET /api/compare?format=…): the score table
(every score per model and platform, repeats as mean ± sd, units in the headers, factors relative
to --reference) and the ranking table (the models in order under each score, side by side).
md: Markdown; latex: tabular environments to \\input in a table float; csv: one table (--table
scores, the default, or ranking), every number in full and a mean and its sd in two columns.`;

export const compareCommand: Command = {
  name: 'compare',
  usage: COMPARE_USAGE,
  async main(argv) {
    const { values } = parseOptions({ args: argv, options: { reference: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' }, table: { type: 'string' } } });
    const { format, table: which } = values;
    if (format !== undefined && format !== 'md' && format !== 'csv' && format !== 'latex') throw new UsageError(`--format must be md, csv or latex, got "${format}"`);
    if (which !== undefined && which !== 'scores' && which !== 'ranking' && which !== 'both') throw new UsageError(`--table must be scores, ranking or both, got "${which}"`);
    if (which !== undefined && format === undefined) throw new UsageError('--table goes with --format md, csv or latex');
    if (format === 'csv' && which === 'both') throw new UsageError('--format csv holds one table: --table scores or --table ranking');
    if (format !== undefined && values.json) throw new UsageError('give --json or --format, not both');
    if (format !== undefined) {
      process.stdout.write(await client().compareTables(format, { reference: values.reference, table: which }));
      return 0;
    }
    const result = await client().compare(values.reference);
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    if (result.rows.length === 0) {
      console.log('no completed runs to compare');
      return 0;
    }
    const meanStd = (s: { mean: number | null; std: number | null; cv: number | null }, d: number) =>
      s.mean === null ? '—' : s.std === null ? num(s.mean, d) : `${num(s.mean, d)} ± ${num(s.std, d)} (${num((s.cv ?? 0) * 100, 1)} %)`;
    console.log(
      table(
        ['model', 'platform', 'runs', 'µWh / inference', 'composite', 'rank', 'NetScore', 'accuracy', ...(result.reference ? [`× ${result.reference}`] : [])],
        result.rows.map((r) => [
          r.model,
          r.platform,
          String(r.runs),
          meanStd(r.scores.energy_per_inference_uwh, 2),
          meanStd(r.scores.composite_score, 2),
          r.ranks.composite_score === null ? '—' : String(r.ranks.composite_score),
          num(r.scores.netscore.mean, 2),
          num(r.scores.accuracy.mean, 4),
          ...(result.reference ? [r.relative?.composite_score === null || r.relative === null ? '—' : num(r.relative.composite_score, 3)] : []),
        ]),
      ),
    );
    return 0;
  },
};
