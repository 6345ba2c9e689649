/**
 * The comparison as the tables of a paper, from the API and from `wattscope compare --format`:
 * LaTeX with the structure of a table body (and compiled by pdflatex where it is installed),
 * Markdown and CSV that parse back to the numbers of the JSON comparison.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { compare } from '../../../api/domain/compare.js';
import { findExecutable } from '../../../common/paths.js';
import { liveServer, type LiveServer } from '../../clients/server.js';
import { runProcess } from '../../helpers.js';

type Comparison = ReturnType<typeof compare>;
const BIN = new URL('../../../bin/wattscope.js', import.meta.url).pathname;

// names with every character LaTeX treats specially, and Markdown's cell separator
const MODEL_A = 'res_net#50 & co';
const MODEL_B = 'mobile|net {v2} ~50%';
const P1 = 'A100_40G';
const P2 = 'Quadro $5000^';

let server: LiveServer;
let json: Comparison;

beforeAll(async () => {
  server = await liveServer('tables');
  const run = (model: string, platform: string, uwh: number, accuracy: number) => ({ model, platform, inferences: 50_000, energy_per_inference_uwh: uwh, accuracy, params_m: model === MODEL_A ? 25.6 : 3.5, macs_g: model === MODEL_A ? 4.1 : 0.3 });
  const runs = [
    run(MODEL_A, P1, 20.1, 0.761), run(MODEL_A, P1, 20.6, 0.761), run(MODEL_A, P1, 19.8, 0.761),
    run(MODEL_B, P1, 8.02, 0.72), run(MODEL_B, P1, 8.31, 0.72),
    run(MODEL_A, P2, 48.3, 0.761),
    run(MODEL_B, P2, 15.7, 0.72), run(MODEL_B, P2, 16.1, 0.72), run(MODEL_B, P2, 15.2, 0.72),
  ];
  const res = await fetch(`${server.url}/api/runs/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(runs) });
  expect(res.status).toBe(201);
  json = (await (await fetch(`${server.url}/api/compare?reference=${encodeURIComponent(P1)}`)).json()) as Comparison;
  expect(json.rows).toHaveLength(4);
});
afterAll(async () => server.close());

const tables = async (format: string, table?: string) => {
  const q = new URLSearchParams({ format, reference: P1, ...(table ? { table } : {}) });
  const res = await fetch(`${server.url}/api/compare?${q}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

const row = (model: string, platform: string) => json.rows.find((r) => r.model === model && r.platform === platform) as Comparison['rows'][number];

/** Splits a LaTeX row at the `&`s that separate cells (not `\&`). */
const latexCells = (line: string) => line.replace(/\s*\\\\$/, '').split(/(?<!\\)&/).map((c) => c.trim());

describe('LaTeX', () => {
  it('is a table body: tabular environments whose every row has the header’s column count, ends with \\\\, and escapes _ % & # $ { } ~ ^', async () => {
    const { status, type, text } = await tables('latex');
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/x-tex/);
    const envs = [...text.matchAll(/\\begin\{tabular\}\{([lr]+)\}\n([\s\S]*?)\n\\end\{tabular\}/g)];
    expect(envs).toHaveLength(2); // the score table and the ranking table
    for (const [, spec, body] of envs) {
      const lines = (body as string).split('\n');
      expect(lines[0]).toBe('\\hline');
      expect(lines[2]).toBe('\\hline');
      expect(lines.at(-1)).toBe('\\hline');
      const rows = lines.filter((l) => l !== '\\hline');
      expect(rows.length).toBeGreaterThan(1);
      for (const r of rows) {
        expect(r, r).toMatch(/ \\\\$/);
        expect(latexCells(r), r).toHaveLength((spec as string).length);
        // outside math, no special character is left bare
        const prose = r
          .replace(/\\text(backslash|asciitilde|asciicircum)\{\}/g, '')
          .replace(/\\[_%&#${}]/g, '')
          .replace(/\$[^$]*\$/g, '')
          .replace(/ \\\\$/, '')
          .replace(/&/g, '');
        expect(prose, r).not.toMatch(/[_%&#$~^{}\\]/);
      }
    }
    const scores = envs[0]?.[2] as string;
    expect(scores).toContain('res\\_net\\#50 \\& co & A100\\_40G & 3 &');
    expect(scores).toContain('mobile|net \\{v2\\} \\textasciitilde{}50\\% & Quadro \\$5000\\textasciicircum{}');
    // units in the header, as LaTeX writes them
    expect(scores).toContain('Energy per inference ($\\mu$Wh)');
    expect(scores).toContain('Composite score (accuracy$^2$ per mWh)');
    expect(scores).toContain('Energy per inference ($\\times$ A100\\_40G)');
    // repeats as mean ± sd
    const a1 = row(MODEL_A, P1).scores.energy_per_inference_uwh;
    expect(scores).toContain(`${(a1.mean as number).toFixed(2)} $\\pm$ ${(a1.std as number).toFixed(2)}`);
  });

  it.runIf(findExecutable('pdflatex') !== undefined)('compiles with pdflatex inside a table float', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-latex-'));
    writeFileSync(join(dir, 'tables.tex'), (await tables('latex')).text);
    writeFileSync(join(dir, 'paper.tex'), '\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\begin{document}\n\\begin{table}\\centering\\small\n\\input{tables.tex}\n\\caption{Scores}\n\\end{table}\n\\end{document}\n');
    const out = execFileSync('pdflatex', ['-interaction=nonstopmode', '-halt-on-error', 'paper.tex'], { cwd: dir, encoding: 'utf8' });
    expect(out).toMatch(/Output written on paper\.pdf/);
    expect(out).not.toMatch(/^! /m);
  });
});

/** The cells of each Markdown table in `text` (header row first), `\|` unescaped. */
function markdownTables(text: string): string[][][] {
  const out: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    if (!current) out.push((current = []));
    const cells = line.slice(2, -2).split(/(?<!\\) \| /).map((c) => c.replace(/\\\|/g, '|').replace(/\\\\/g, '\\'));
    if (!cells.every((c) => /^:?-+:?$/.test(c))) current.push(cells);
  }
  return out;
}

/** A printed number and the half of its last digit: what rounding may have moved it by. */
const printedNumber = (s: string) => ({ value: Number(s), slack: 0.5 * 10 ** -(s.split('.')[1]?.length ?? 0) + 1e-12 });

function expectPrinted(cell: string | undefined, value: number | null, what: string) {
  if (value === null) {
    expect(cell, what).toBe('—');
    return;
  }
  const p = printedNumber(cell as string);
  expect(Math.abs(p.value - value), `${what}: ${cell} vs ${value}`).toBeLessThanOrEqual(p.slack);
}

describe('Markdown', () => {
  it('parses back to the comparison’s numbers (to the digits printed), repeats as mean ± sd, units in the headers', async () => {
    const { status, type, text } = await tables('md');
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/markdown/);
    const [scores, ranking] = markdownTables(text);
    const header = scores?.[0] as string[];
    expect(header).toEqual([
      'Model', 'Platform', 'Runs', 'Accuracy (%)', 'Energy per inference (µWh)', 'Steady-state energy per inference (µWh)', 'Composite score (accuracy² per mWh)', 'NetScore',
      'Information density (% per M parameters)', `Energy per inference (× ${P1})`, `Composite score (× ${P1})`,
    ]);
    const col = (name: string) => header.indexOf(name);
    for (const cells of scores?.slice(1) ?? []) {
      const r = row(cells[0] as string, cells[1] as string);
      expect(r, cells.join(' | ')).toBeDefined();
      expect(Number(cells[col('Runs')])).toBe(r.runs);
      for (const [name, stats, scale] of [['Energy per inference (µWh)', r.scores.energy_per_inference_uwh, 1], ['Composite score (accuracy² per mWh)', r.scores.composite_score, 1], ['Accuracy (%)', r.scores.accuracy, 100]] as const) {
        const cell = cells[col(name)] as string;
        const [mean, sd] = cell.split(' ± ');
        expectPrinted(mean, stats.mean === null ? null : stats.mean * scale, `${r.model} ${r.platform} ${name} mean`);
        if (stats.std === null) expect(sd, cell).toBeUndefined();
        else expectPrinted(sd, stats.std * scale, `${r.model} ${r.platform} ${name} sd`);
      }
      expectPrinted(cells[col('NetScore')], r.scores.netscore.mean, 'NetScore');
      expectPrinted(cells[col(`Energy per inference (× ${P1})`)], r.relative?.energy_per_inference_uwh ?? null, 'relative energy');
      expectPrinted(cells[col(`Composite score (× ${P1})`)], r.relative?.composite_score ?? null, 'relative composite');
    }
    expect(scores?.length).toBe(1 + json.rows.length);
    // the ranking: row k names the model ranked k-th by the composite score on each platform
    const rh = ranking?.[0] as string[];
    for (const platform of [P1, P2]) {
      const c = rh.indexOf(`Composite score on ${platform} (accuracy² per mWh)`);
      expect(c, platform).toBeGreaterThan(0);
      for (const cells of ranking?.slice(1) ?? []) {
        const k = Number(cells[0]);
        const named = json.rows.filter((r) => r.platform === platform && r.ranks.composite_score === k).map((r) => r.model);
        expect(named, `${platform} rank ${k}`).toEqual([cells[c]]);
      }
    }
  });
});

/** RFC 4180: fields, quoted fields with "" inside, CRLF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  expect(field, 'the CSV ends with CRLF').toBe('');
  return rows;
}

describe('CSV', () => {
  it('parses back to exactly the comparison’s numbers: a mean and its sd in two columns, units in the headers', async () => {
    const { status, type, text } = await tables('csv');
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/csv/);
    const [header, ...rows] = parseCsv(text);
    expect(header).toContain('Energy per inference mean (µWh)');
    expect(header).toContain('Energy per inference sd (µWh)');
    expect(header).toContain('Composite score mean (accuracy² per mWh)');
    const col = (name: string) => (header as string[]).indexOf(name);
    expect(rows).toHaveLength(json.rows.length);
    const num = (s: string | undefined) => (s === '' || s === undefined ? null : Number(s));
    for (const cells of rows) {
      const r = row(cells[0] as string, cells[1] as string);
      expect(r, cells.join(',')).toBeDefined();
      expect(num(cells[col('Energy per inference mean (µWh)')])).toBe(r.scores.energy_per_inference_uwh.mean);
      expect(num(cells[col('Energy per inference sd (µWh)')])).toBe(r.scores.energy_per_inference_uwh.std);
      expect(num(cells[col('Composite score mean (accuracy² per mWh)')])).toBe(r.scores.composite_score.mean);
      expect(num(cells[col('Composite score sd (accuracy² per mWh)')])).toBe(r.scores.composite_score.std);
      expect(num(cells[col('NetScore')])).toBe(r.scores.netscore.mean);
      expect(num(cells[col(`Composite score (× ${P1})`)])).toBe(r.relative?.composite_score ?? null);
    }
    const ranking = parseCsv((await tables('csv', 'ranking')).text);
    expect(ranking[0]?.[0]).toBe('Rank');
    expect(ranking.length).toBe(3); // a header, and two models
  });

  it('refuses what cannot be: CSV of both tables, a table without a format, an unknown format — naming the field', async () => {
    for (const [q, field] of [['format=csv&table=both', 'table'], ['table=scores', 'table'], ['format=xml', 'format'], ['format=md&table=all', 'table']] as const) {
      const res = await fetch(`${server.url}/api/compare?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { field: string }).field, q).toBe(field);
    }
  });
});

describe('wattscope compare --format', () => {
  it('prints what the API gives, and checks its options before asking', async () => {
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', WATTSCOPE_API_URL: server.url };
    for (const format of ['md', 'csv', 'latex']) {
      const r = await runProcess(process.execPath, [BIN, 'compare', '--format', format, '--reference', P1], { env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe((await tables(format)).text);
    }
    const bad = await runProcess(process.execPath, [BIN, 'compare', '--format', 'csv', '--table', 'both'], { env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format csv holds one table/);
  });
});
