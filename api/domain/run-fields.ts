/**
 * What comes of the run's one definition (./run-record.ts) besides the summary: the figures
 * stored for Grafana, the CSV columns, the catalog of fields the page and the clients read
 * (GET /api/run-fields), the lines of a run's detail, the series' metrics, the compared fields,
 * the stored field names and the run table of docs/DATA-MODEL.md (pure).
 */
import type { Column, View, ViewOptions } from './record.js';
import { RUN_COLUMNS, RUN_SUMMARY, type Run, type RunSummary, type SummaryContext, type SummaryField } from './run-record.js';
import { NOT_FINITE, type Score } from './scores.js';

type SummaryFields = typeof RUN_SUMMARY;

/** The summary's fields that are also stored in the point, for Grafana, under their stored names. */
export function storedViews(summary: RunSummary): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, field] of Object.entries(RUN_SUMMARY) as Array<[SummaryField, View<Run, SummaryContext>]>) if (field.store) out[field.store] = summary[name] as number | null;
  return out;
}

/** The CSV export's columns, in the summary's order. */
export const RUN_CSV_COLUMNS = (Object.entries(RUN_SUMMARY) as Array<[SummaryField, View<Run, SummaryContext>]>).filter(([, f]) => f.csv).map(([k]) => k);

/** A CSV field (RFC 4180): empty for null, JSON for an object, quoted where it must be. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Runs as the CSV export gives them: the header line, then a line per run (CRLF). */
export function runsCsv(summaries: readonly RunSummary[]): string {
  const lines = [RUN_CSV_COLUMNS.join(','), ...summaries.map((s) => RUN_CSV_COLUMNS.map((c) => csvCell(s[c])).join(','))];
  return lines.join('\r\n') + '\r\n';
}

export interface FieldInfo {
  name: string;
  doc: string;
  unit: string | null;
  list: ViewOptions['list'] | null;
  detail: ViewOptions['detail'] | null;
  series: ViewOptions['series'] | null;
  compare: ViewOptions['compare'] | null;
  csv: boolean;
}

/** What the page and the clients know of the summary's fields: labels, units, digits, how they compare (GET /api/run-fields). */
export function fieldCatalog(): FieldInfo[] {
  return (Object.entries(RUN_SUMMARY) as Array<[string, View<Run, SummaryContext>]>).map(([name, f]) => ({
    name,
    doc: f.doc,
    unit: f.unit ?? null,
    list: f.list ?? null,
    detail: f.detail ?? null,
    series: f.series ?? null,
    compare: f.compare ?? null,
    csv: f.csv === true,
  }));
}

/** The lines of a run's detail (the CLI's summary, the page's run detail), in the summary's order. */
export const DETAIL_FIELDS: ReadonlyArray<FieldInfo & { detail: NonNullable<ViewOptions['detail']> }> = fieldCatalog().flatMap((f) => (f.detail ? [{ ...f, detail: f.detail }] : []));

type SeriesField = { [K in SummaryField]: SummaryFields[K] extends { series: object } ? K : never }[SummaryField];

/** The fields a series of repeated runs is described by (n, mean, sd, cv, 95 % interval: ./series.ts). */
export const SERIES_METRICS = (Object.entries(RUN_SUMMARY) as Array<[SeriesField, View<Run, SummaryContext>]>).filter(([, f]) => f.series).map(([k]) => k);

/** Where a summary field is kept in the stored point, for Grafana: a column under its name, or a stored view under its stored name; undefined when not stored. */
export function storedName(field: SummaryField): string | undefined {
  const f = RUN_SUMMARY[field] as View<Run, SummaryContext>;
  if (f.store) return f.store;
  const column = (RUN_COLUMNS as Record<string, Column<unknown>>)[field];
  return column?.place === 'field' ? field : undefined;
}

/** The summary's fields stored for Grafana, in the summary's order: its name, and the stored name it is read from. */
export const STORED_VIEWS: ReadonlyArray<{ name: SummaryField; stored: string; unit: string | null }> = (Object.entries(RUN_SUMMARY) as Array<[SummaryField, View<Run, SummaryContext>]>).flatMap(([name, f]) => (f.store ? [{ name, stored: f.store, unit: f.unit ?? null }] : []));

/**
 * The scores of a run that are not finite numbers (inputs so large or small that they
 * overflow), with the inputs each is derived from: an import names one of them in its 400.
 */
export function notFiniteScores(run: Run, ctx: SummaryContext): Array<{ name: string; inputs: readonly string[] }> {
  return (Object.entries(RUN_SUMMARY) as Array<[string, View<Run, SummaryContext>]>).flatMap(([name, f]) => {
    if (!f.score) return [];
    const s = f.value(run, ctx) as Score;
    return s.value === null && s.reason === NOT_FINITE ? [{ name, inputs: f.inputs ?? [] }] : [];
  });
}

type ComparedField = { [K in SummaryField]: SummaryFields[K] extends { compare: object } ? K : never }[SummaryField];

/** The fields compared across models × platforms (./compare.ts), and which way is better. */
export const COMPARED = (Object.entries(RUN_SUMMARY) as Array<[ComparedField, View<Run, SummaryContext>]>).filter(([, f]) => f.compare).map(([k]) => k);

export const LOWER_IS_BETTER: ReadonlySet<string> = new Set((Object.entries(RUN_SUMMARY) as Array<[string, View<Run, SummaryContext>]>).filter(([, f]) => f.compare?.better === 'lower').map(([k]) => k));

type StoredViewName = { [K in SummaryField]: SummaryFields[K] extends { store: infer S extends string } ? S : never }[SummaryField];
type ColumnFieldName = { [K in keyof typeof RUN_COLUMNS]: (typeof RUN_COLUMNS)[K]['place'] extends 'field' ? K : never }[keyof typeof RUN_COLUMNS];

/** The stored field names, for queries and Grafana: the point's columns and the summary's stored views. */
export const RUN_FIELDS = Object.fromEntries([
  ...Object.entries(RUN_COLUMNS).filter(([, c]) => c.place === 'field').map(([k]) => [k, k]),
  ...(Object.values(RUN_SUMMARY) as ViewOptions[]).flatMap((f) => (f.store ? [[f.store, f.store]] : [])),
]) as { readonly [K in ColumnFieldName | StoredViewName]: K };

/** The run table of docs/DATA-MODEL.md. */
export function runFieldsTable(): string {
  const rows = Object.entries(RUN_COLUMNS).map(([k, c]) => `| \`${k}\` | ${c.place} | ${c.unit ?? ''} | ${c.doc.replace(/\|/g, '\\|')} |`);
  const views = (Object.entries(RUN_SUMMARY) as Array<[string, View<Run, SummaryContext>]>).filter(([, f]) => f.store).map(([, f]) => `| \`${f.store as string}\` | field | ${f.unit ?? ''} | ${f.doc.replace(/\|/g, '\\|')} Stored for Grafana. |`);
  return ['| name | kept as | unit | meaning |', '| --- | --- | --- | --- |', ...rows, ...views].join('\n');
}

