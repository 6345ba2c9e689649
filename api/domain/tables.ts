/**
 * The comparison as the tables of a paper (pure): the per-platform score table (Table I/III of
 * the paper: every score per model and platform, repeats as mean ± sd, factors relative to a
 * reference platform) and the ranking table (Table II: the models in order under each score,
 * side by side), rendered as Markdown, CSV or LaTeX. Units are in the headers.
 *
 * Markdown and LaTeX round every number to 4 significant digits (a standard deviation to the
 * decimals of its mean); CSV is for machines: every number in full, and a mean and its standard
 * deviation in two columns.
 */
import type { compare } from './compare.js';
import { rank } from './compare.js';

type Comparison = ReturnType<typeof compare>;

export type Cell = { text: string } | { value: number | null } | { mean: number | null; sd: number | null };

export interface Column {
  /** the header, units in parentheses */
  header: string;
  kind: 'text' | 'integer' | 'number' | 'mean_sd';
}

export interface PaperTable {
  title: string;
  columns: Column[];
  rows: Cell[][];
}

export const TABLES = ['scores', 'ranking'] as const;
export type TableName = (typeof TABLES)[number];

/** The per-platform score table: one row per model × platform. */
export function scoreTable(c: Comparison): PaperTable {
  const ref = c.reference;
  const columns: Column[] = [
    { header: 'Model', kind: 'text' },
    { header: 'Platform', kind: 'text' },
    { header: 'Runs', kind: 'integer' },
    { header: 'Accuracy (%)', kind: 'mean_sd' },
    { header: 'Energy per inference (µWh)', kind: 'mean_sd' },
    { header: 'Steady-state energy per inference (µWh)', kind: 'mean_sd' },
    { header: 'Composite score (accuracy² per mWh)', kind: 'mean_sd' },
    { header: 'NetScore', kind: 'number' },
    { header: 'Information density (% per M parameters)', kind: 'number' },
    ...(ref === null
      ? []
      : ([
          { header: `Energy per inference (× ${ref})`, kind: 'number' },
          { header: `Composite score (× ${ref})`, kind: 'number' },
        ] as Column[])),
  ];
  const pct = (v: number | null) => (v === null ? null : v * 100);
  const rows = c.rows.map((r): Cell[] => [
    { text: r.model },
    { text: r.platform },
    { value: r.runs },
    { mean: pct(r.scores.accuracy.mean), sd: pct(r.scores.accuracy.std) },
    { mean: r.scores.energy_per_inference_uwh.mean, sd: r.scores.energy_per_inference_uwh.std },
    { mean: r.scores.energy_per_inference_steady_uwh.mean, sd: r.scores.energy_per_inference_steady_uwh.std },
    { mean: r.scores.composite_score.mean, sd: r.scores.composite_score.std },
    { value: r.scores.netscore.mean },
    { value: r.scores.info_density.mean },
    ...(ref === null ? [] : [{ value: r.relative?.energy_per_inference_uwh ?? null }, { value: r.relative?.composite_score ?? null }]),
  ]);
  return { title: `Scores per model and platform (mean ± sd over repeated runs, warm-ups left out${ref === null ? '' : `; factors relative to ${ref}`})`, columns, rows };
}

/**
 * The ranking table: row k holds the model ranked k-th under each score — accuracy per parameter
 * (information density) and NetScore, which do not depend on the platform, then the composite
 * score on each platform. A model tied with the one above it shows its shared rank, e.g. "(=2)".
 */
export function rankingTable(c: Comparison): PaperTable {
  const platforms = [...new Set(c.rows.map((r) => r.platform))].sort((a, b) => a.localeCompare(b));
  const models = [...new Set(c.rows.map((r) => r.model))].sort((a, b) => a.localeCompare(b));
  const meanOver = (model: string, pick: (r: Comparison['rows'][number]) => number | null) => {
    const vs = c.rows.filter((r) => r.model === model).map(pick).filter((v): v is number => v !== null);
    return vs.length === 0 ? null : vs.reduce((a, b) => a + b, 0) / vs.length;
  };
  const order = (candidates: readonly string[], value: (m: string) => number | null): Array<{ model: string; rank: number }> => {
    const ranks = rank(candidates, value, false);
    return candidates
      .flatMap((m) => {
        const k = ranks.get(m);
        return k === null || k === undefined ? [] : [{ model: m, rank: k }];
      })
      .sort((a, b) => a.rank - b.rank || a.model.localeCompare(b.model));
  };
  const orders = [
    order(models, (m) => meanOver(m, (r) => r.scores.info_density.mean)),
    order(models, (m) => meanOver(m, (r) => r.scores.netscore.mean)),
    ...platforms.map((p) => {
      const onP = c.rows.filter((r) => r.platform === p);
      return order(onP.map((r) => r.model), (m) => onP.find((r) => r.model === m)?.scores.composite_score.mean ?? null);
    }),
  ];
  const columns: Column[] = [
    { header: 'Rank', kind: 'integer' },
    { header: 'Information density (% per M parameters)', kind: 'text' },
    { header: 'NetScore', kind: 'text' },
    ...platforms.map((p): Column => ({ header: `Composite score on ${p} (accuracy² per mWh)`, kind: 'text' })),
  ];
  const depth = Math.max(0, ...orders.map((o) => o.length));
  const rows = Array.from({ length: depth }, (_, i): Cell[] => [
    { value: i + 1 },
    ...orders.map((o): Cell => {
      const at = o[i];
      if (!at) return { text: '' };
      return { text: at.rank === i + 1 ? at.model : `${at.model} (=${at.rank})` };
    }),
  ]);
  return { title: 'Models ranked under each score (1 = best)', columns, rows };
}

/** Decimals that give `v` four significant digits (none for whole numbers of four digits or more). */
export function decimalsFor(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return 0;
  return Math.min(8, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v)))));
}

/** A number as the Markdown and LaTeX tables print it. */
export function rounded(v: number, decimals = decimalsFor(v)): string {
  return v.toFixed(decimals);
}

/** A cell as Markdown and LaTeX print it: `none` for a missing number, `pm` between a mean and its sd. */
function printed(cell: Cell, column: Column, escapeText: (t: string) => string, pm: string, none: string): string {
  if ('text' in cell) return escapeText(cell.text);
  if ('value' in cell) return cell.value === null ? none : column.kind === 'integer' ? String(cell.value) : rounded(cell.value);
  if (cell.mean === null) return none;
  const d = decimalsFor(cell.mean);
  return cell.sd === null ? rounded(cell.mean, d) : `${rounded(cell.mean, d)}${pm}${rounded(cell.sd, d)}`;
}

/** GitHub-flavoured Markdown: a bold title line, then the table; `|` in text is escaped. */
export function toMarkdown(t: PaperTable): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `**${esc(t.title)}**`,
    '',
    line(t.columns.map((c) => esc(c.header))),
    line(t.columns.map((c) => (c.kind === 'text' ? ':---' : '---:'))),
    ...t.rows.map((r) => line(r.map((cell, i) => printed(cell, t.columns[i] as Column, esc, ' ± ', '—')))),
  ].join('\n');
}

/** RFC 4180 field quoting. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The header of the two CSV columns a mean ± sd column becomes: `Energy per inference mean (µWh)`, `… sd (µWh)`. */
export function splitHeader(header: string, part: 'mean' | 'sd'): string {
  const m = /^(.*?)( \(.*\))?$/.exec(header) as RegExpExecArray;
  return `${m[1] as string} ${part}${m[2] ?? ''}`;
}

/** CSV (RFC 4180, CRLF): numbers in full, a mean ± sd column as two columns, empty for none. */
export function toCsv(t: PaperTable): string {
  const header = t.columns.flatMap((c) => (c.kind === 'mean_sd' ? [splitHeader(c.header, 'mean'), splitHeader(c.header, 'sd')] : [c.header]));
  const num = (v: number | null) => (v === null ? '' : String(v));
  const rows = t.rows.map((r) => r.flatMap((cell) => ('text' in cell ? [csvField(cell.text)] : 'value' in cell ? [num(cell.value)] : [num(cell.mean), num(cell.sd)])));
  return [header.map(csvField), ...rows].map((r) => r.join(',')).join('\r\n') + '\r\n';
}

/** LaTeX's special characters in text, escaped; the few non-ASCII signs the tables use, as math. */
export function latexText(s: string): string {
  const map: Record<string, string> = {
    '\\': '\\textbackslash{}',
    '{': '\\{',
    '}': '\\}',
    _: '\\_',
    '%': '\\%',
    '&': '\\&',
    '#': '\\#',
    $: '\\$',
    '~': '\\textasciitilde{}',
    '^': '\\textasciicircum{}',
    µ: '$\\mu$',
    '²': '$^2$',
    '×': '$\\times$',
    '±': '$\\pm$',
    '—': '--',
    '\r': ' ',
    '\n': ' ',
  };
  return s.replace(/[\\{}_%&#$~^µ²×±—\r\n]/g, (ch) => map[ch] as string);
}

/**
 * A `tabular` environment, with its title as a comment above it: the body of a table float,
 * to `\input` inside `\begin{table}…\end{table}` (plain \hline rules: no package needed).
 */
export function toLatex(t: PaperTable): string {
  const spec = t.columns.map((c) => (c.kind === 'text' ? 'l' : 'r')).join('');
  const line = (cells: string[]) => `${cells.join(' & ')} \\\\`;
  return [
    `% ${latexText(t.title)}`,
    `\\begin{tabular}{${spec}}`,
    '\\hline',
    line(t.columns.map((c) => latexText(c.header))),
    '\\hline',
    ...t.rows.map((r) => line(r.map((cell, i) => printed(cell, t.columns[i] as Column, latexText, ' $\\pm$ ', '--')))),
    '\\hline',
    '\\end{tabular}',
  ].join('\n');
}

export type TableFormat = 'md' | 'csv' | 'latex';

/** The tables asked for, in one format; CSV holds one table. */
export function renderTables(c: Comparison, format: TableFormat, which: TableName | 'both'): string {
  const tables = (which === 'both' ? TABLES : [which]).map((name) => (name === 'scores' ? scoreTable(c) : rankingTable(c)));
  if (format === 'csv') {
    if (tables.length !== 1) throw new RangeError('CSV holds one table: ask for scores or ranking');
    return toCsv(tables[0] as PaperTable);
  }
  const render = format === 'md' ? toMarkdown : toLatex;
  return tables.map(render).join('\n\n') + '\n';
}
