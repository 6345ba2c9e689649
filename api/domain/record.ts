/**
 * The pieces a record definition is made of (pure): a **column** says how one field of a stored
 * record is kept in its InfluxDB point (tag, timestamp or field, and how its value is encoded),
 * with its JSON Schema, unit and meaning; a **view** says how one field of a reply is computed
 * from the record, and where else it shows (CSV, the page's runs list, the comparison). The run
 * is defined once with them in ./run-record.ts; its type, row mapping, summary, CSV columns,
 * OpenAPI schema and documentation all come from that definition.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FieldValue } from '../../common/model.js';
import type { Score } from './scores.js';

export type Row = Readonly<Record<string, unknown>>;

export interface Column<T> {
  /** the value's JSON Schema, its description included */
  readonly schema: TSchema;
  readonly place: 'tag' | 'time' | 'field';
  readonly unit?: string | undefined;
  readonly doc: string;
  /** the value from the stored one (the row's column; the whole row for rules across fields) */
  decode(raw: unknown, row: Row): T;
  /** the stored value; null: not written (InfluxDB has no null, and a write keeps older fields) */
  encode(value: T, record: Readonly<Record<string, unknown>>): FieldValue | null;
}

export type Columns = Readonly<Record<string, Column<unknown>>>;
export type RecordOf<C extends Columns> = { -readonly [K in keyof C]: C[K] extends Column<infer T> ? T : never };

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const describe = (doc: string, unit?: string) => ({ description: unit ? `${doc} (${unit})` : doc });
const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function parseJson(v: unknown): unknown {
  if (typeof v !== 'string') return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return undefined;
  }
}

/** A tag: part of the point's identity, always written. */
export function tag(doc: string): Column<string> & { readonly place: 'tag' } {
  return { schema: Type.String(describe(doc)), place: 'tag', doc, decode: (raw) => text(raw) ?? '', encode: (v) => v };
}

/** A tag only some records have (absent, not empty, on the others). */
export function optionalTag(doc: string): Column<string | null> & { readonly place: 'tag' } {
  return { schema: Nullable(Type.String(describe(doc))), place: 'tag', doc, decode: (raw) => text(raw) || null, encode: (v) => v };
}

/** The point's timestamp, epoch ms. */
export function time(doc: string): Column<number> & { readonly place: 'time' } {
  return { schema: Type.Number(describe(doc, 'epoch ms')), place: 'time', unit: 'epoch ms', doc, decode: (raw) => finite(raw) ?? 0, encode: (v) => v };
}

type Rule<T> = Partial<Pick<Column<T>, 'decode' | 'encode'>>;

/** A number, null where unknown. */
export function num(doc: string, unit?: string, rule: Rule<number | null> = {}): Column<number | null> & { readonly place: 'field' } {
  return { schema: Nullable(Type.Number(describe(doc, unit))), place: 'field', unit, doc, decode: (raw) => finite(raw), encode: (v) => v, ...rule };
}

/** A string, null where not given. */
export function str(doc: string, rule: Rule<string | null> = {}): Column<string | null> & { readonly place: 'field' } {
  return { schema: Nullable(Type.String(describe(doc))), place: 'field', doc, decode: (raw) => text(raw), encode: (v) => v, ...rule };
}

/** One of a few strings; anything else stored reads as the default. */
export function oneOf<const V extends readonly string[]>(values: V, fallback: V[number], doc: string): Column<V[number]> & { readonly place: 'field' } {
  return {
    schema: Type.Union(values.map((v) => Type.Literal(v)), describe(doc)),
    place: 'field',
    doc,
    decode: (raw) => (typeof raw === 'string' && (values as readonly string[]).includes(raw) ? (raw as V[number]) : fallback),
    encode: (v) => v,
  };
}

export function bool(doc: string, fallback: boolean, rule: Rule<boolean> = {}): Column<boolean> & { readonly place: 'field' } {
  return { schema: Type.Boolean(describe(doc)), place: 'field', doc, decode: (raw) => (typeof raw === 'boolean' ? raw : fallback), encode: (v) => v, ...rule };
}

/** A list of names, stored as a comma list (they have no commas). */
export function commaList(doc: string): Column<string[]> & { readonly place: 'field' } {
  return {
    schema: Type.Array(Type.String(), describe(doc)),
    place: 'field',
    doc,
    decode: (raw) => (text(raw) ?? '').split(',').filter(Boolean),
    encode: (v) => v.join(','),
  };
}

/**
 * A structured value stored as JSON text. `omitEmpty`: an empty array or object is not written
 * (it says nothing a missing field does not).
 */
export function json<S extends TSchema, T = Static<S>>(schema: S, fallback: T, doc: string, opts: { omitEmpty?: boolean; encodeKeys?: (v: T) => T } = {}): Column<T> & { readonly place: 'field' } {
  return {
    schema: { ...schema, ...describe(doc) },
    place: 'field',
    doc,
    decode: (raw) => {
      const v = parseJson(raw);
      return v === undefined ? fallback : (v as T);
    },
    encode: (v) => {
      if (v === null) return null;
      if (opts.omitEmpty && (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0)) return null;
      return JSON.stringify(opts.encodeKeys ? opts.encodeKeys(v) : v);
    },
  };
}

/** A record as stored: tags, fields (nulls left out) and its time. */
export function encodeRecord<C extends Columns>(columns: C, record: RecordOf<C>): { tags: Record<string, string>; fields: Record<string, FieldValue>; timeMs: number } {
  const tags: Record<string, string> = {};
  const fields: Record<string, FieldValue> = {};
  let timeMs = 0;
  const whole = record as Readonly<Record<string, unknown>>;
  for (const [name, column] of Object.entries(columns)) {
    const value = column.encode(whole[name], whole);
    if (value === null) continue;
    if (column.place === 'time') timeMs = value as number;
    else if (column.place === 'tag') tags[name] = String(value);
    else fields[name] = value;
  }
  return { tags, fields, timeMs };
}

/** A row of `SELECT *` (tags merged in, `time` in ms) as a record. */
export function decodeRecord<C extends Columns>(columns: C, row: Row): RecordOf<C> {
  const out: Record<string, unknown> = {};
  for (const [name, column] of Object.entries(columns)) out[name] = column.decode(column.place === 'time' ? row.time : row[name], row);
  return out as RecordOf<C>;
}

/** Where a reply's field also shows. */
export interface ViewOptions {
  unit?: string;
  /** a column of the CSV export */
  csv?: boolean;
  /** a column of the page's runs list: its header, the digits shown, and a factor (J → Wh) */
  list?: { label: string; digits: number; scale?: number };
  /** a line of a run's detail (the CLI's summary, the page's run detail): its label and the digits shown, the unit after it */
  detail?: { label: string; digits: number };
  /** described over a series of repeated runs (n, mean, sd, cv, 95 % interval): its label and digits there */
  series?: { label: string; digits: number };
  /** for a score: the inputs of an imported run it is derived from (`energy`, `duration_s`, …); a 400 names the one given smallest when the score is not finite */
  inputs?: readonly string[];
  /** compared across models × platforms: which way is better; `rank`: ranked on each platform in the comparison table */
  compare?: { better: 'lower' | 'higher'; label: string; rank?: boolean };
  /** also written into the stored point under this field, for Grafana (which cannot compute it) */
  store?: string;
}

export interface View<R, Ctx> extends ViewOptions {
  readonly schema: TSchema;
  readonly doc: string;
  /** a score: its null comes with a reason (collected in the reply's `null_reasons`) */
  readonly score: boolean;
  value(record: R, ctx: Ctx): unknown;
}

/** A view whose reply value has type V (a phantom member, for the reply's type). */
export type Typed<V> = { readonly out?: V };

/** A field of the reply computed from the record. */
export function view<R, Ctx, S extends TSchema, const O extends ViewOptions = Record<never, never>>(schema: S, doc: string, value: (record: R, ctx: Ctx) => Static<S>, opts?: O): View<R, Ctx> & O & Typed<Static<S>> {
  return { ...(opts as O), schema: { ...schema, ...describe(doc, opts?.unit) }, doc, score: false, value };
}

/** A number of the reply that is null with a reason when it cannot be computed. */
export function score<R, Ctx, const O extends ViewOptions = Record<never, never>>(doc: string, value: (record: R, ctx: Ctx) => Score, opts?: O): View<R, Ctx> & O & Typed<number | null> {
  return { ...(opts as O), schema: Nullable(Type.Number(describe(doc, opts?.unit))), doc, score: true, value };
}

/** A stored column shown as it is. */
export function same<R, Ctx, T, const O extends ViewOptions = Record<never, never>>(column: Column<T>, name: string, opts?: O): View<R, Ctx> & O & Typed<T> {
  return { unit: column.unit, ...(opts as O), schema: column.schema, doc: column.doc, score: false, value: (r) => (r as Record<string, unknown>)[name] };
}

/** The reply's type from its views. */
export type ReplyOf<V extends Readonly<Record<string, Typed<unknown>>>> = { -readonly [K in keyof V]-?: V[K] extends Typed<infer T> ? T : never };
