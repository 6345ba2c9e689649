/** `wattscope runs ls|show|export` and `wattscope compare`. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ListRuns } from '../clients/ts/client.js';
import { client, num, numberOption, table, UsageError } from './format.js';
import { formatSummary } from './summary.js';
import type { Command } from './command.js';

const RUNS_USAGE = `Usage:
  wattscope runs ls [--model M] [--platform P] [--kind K] [--status S] [--label k=v] [--from T] [--to T] [--limit N]
  wattscope runs show <run_id> [--json]
  wattscope runs export --format csv|json [--out FILE] [filters as for ls]

ls lists runs, newest first; show prints a run's summary (energy per source, every score);
export writes runs as CSV or JSON (to stdout, or FILE).`;

const filterOptions = {
  model: { type: 'string' },
  platform: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string' },
  label: { type: 'string', multiple: true },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
} as const;

function filters(values: Record<string, string | string[] | boolean | undefined>): ListRuns {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return {
    model: str('model'),
    platform: str('platform'),
    kind: str('kind'),
    status: str('status'),
    from: str('from'),
    to: str('to'),
    label: Array.isArray(values.label) ? values.label : undefined,
    limit: numberOption(str('limit'), 'limit', true),
  };
}

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list, show and export runs',
  usage: RUNS_USAGE,
  async main(argv) {
    const [sub, ...rest] = argv;
    if (!sub) {
      console.log(RUNS_USAGE);
      return 2;
    }
    const api = client();
    if (sub === 'ls') {
      const { values } = parseArgs({ args: rest, options: filterOptions });
      const { runs } = await api.listRuns(filters(values));
      if (runs.length === 0) {
        console.log('no runs match');
        return 0;
      }
      console.log(
        table(
          ['run_id', 'model', 'platform', 'kind', 'status', 'started', 'duration s', 'energy Wh', 'µWh/inf', 'accuracy', 'composite'],
          runs.map((r) => [r.run_id, r.model, r.platform, r.kind, r.status, r.started_at.slice(0, 19).replace('T', ' '), num(r.duration_s, 1), num(r.energy_wh, 4), num(r.energy_per_inference_uwh, 2), num(r.accuracy, 4), num(r.composite_score, 2)]),
        ),
      );
      return 0;
    }
    if (sub === 'show') {
      const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true });
      const id = positionals[0];
      if (!id) throw new UsageError('wattscope runs show needs a run_id');
      const s = await api.getRun(id);
      console.log(values.json ? JSON.stringify(s, null, 2) : formatSummary(s));
      return 0;
    }
    if (sub === 'export') {
      const { values } = parseArgs({ args: rest, options: { ...filterOptions, format: { type: 'string' }, out: { type: 'string' } } });
      const format = values.format ?? 'csv';
      if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, got "${format}"`);
      const f = { ...filters(values), limit: filters(values).limit ?? 1000 };
      const text = format === 'csv' ? await api.exportCsv(f) : JSON.stringify((await api.listRuns(f)).runs, null, 2) + '\n';
      if (values.out) {
        writeFileSync(values.out, text);
        console.error(`wrote ${values.out}`);
      } else process.stdout.write(text);
      return 0;
    }
    throw new UsageError(`unknown subcommand "runs ${sub}"\n\n${RUNS_USAGE}`);
  },
};

const COMPARE_USAGE = `Usage: wattscope compare [--reference PLATFORM] [--json]

Models × platforms over completed runs: energy per inference and composite score (mean ± std
and CV over repeated runs), the model's rank per platform, and factors relative to --reference.`;

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare models across platforms: scores, ranks, relative factors',
  usage: COMPARE_USAGE,
  async main(argv) {
    const { values } = parseArgs({ args: argv, options: { reference: { type: 'string' }, json: { type: 'boolean' } } });
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
