/**
 * Input checks that JSON Schema cannot express, as pure functions (no fastify, no InfluxDB):
 * times InfluxDB can store, bodies that are nested too deep or carry unstorable text, header
 * bytes decoded as UTF-8, the list's label filter, and the numbers an import derives. Each
 * failure is an ApiError 400 whose `field` names the input, as the schema errors do.
 */
import { ApiError } from './errors.js';
import { type Run, type SummaryContext } from './domain/run-record.js';
import { notFiniteScores } from './domain/run-fields.js';
import { LABEL_KEY_MAX_LENGTH } from './schemas/runs.js';

/**
 * InfluxDB stores time as int64 nanoseconds, from math.MinInt64 + 2 to math.MaxInt64 - 1
 * (1677-09-21T00:12:43.145224194Z to 2262-04-11T23:47:16.854775806Z); these are the first and
 * last whole milliseconds inside that range.
 */
export const INFLUX_MIN_MS = -9_223_372_036_854;
export const INFLUX_MAX_MS = 9_223_372_036_854;
const RANGE_TEXT = `between ${new Date(INFLUX_MIN_MS).toISOString()} and ${new Date(INFLUX_MAX_MS).toISOString()} (the times InfluxDB can store)`;

/** Why `ms` cannot be a time in InfluxDB, or undefined if it can. */
export function timeProblem(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return 'must be a valid date-time';
  if (ms < INFLUX_MIN_MS || ms > INFLUX_MAX_MS) return `must be ${RANGE_TEXT}`;
  return undefined;
}

/**
 * A query parameter given as ISO 8601 or epoch milliseconds → ms inside InfluxDB's range;
 * otherwise a 400 naming the parameter.
 */
export function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError(400, `querystring/${field} must be an ISO 8601 date-time or epoch milliseconds`, { field });
  const problem = timeProblem(ms);
  if (problem) throw new ApiError(400, `querystring/${field} ${problem}`, { field });
  return ms;
}

/** Deeper than this, a body is refused: the API's bodies nest three levels at most (a batch of items with labels). */
export const MAX_BODY_DEPTH = 32;

// eslint-disable-next-line no-control-regex
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type BodyProblem = { field: string; message: string };

/**
 * The first part of a parsed JSON body that cannot be stored: nesting deeper than `maxDepth`,
 * or a string (key or value) with a NUL or an unpaired UTF-16 surrogate. Iterative, so a body
 * of 400,000 nested arrays costs a loop, not the stack.
 */
export function bodyProblem(body: unknown, maxDepth = MAX_BODY_DEPTH): BodyProblem | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: '', depth: 0 }];
  const at = (path: string, key: string) => (path ? `${path}/${key}` : key);
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string; depth: number };
    if (typeof value === 'string') {
      if (UNSTORABLE_TEXT.test(value)) return unstorable(path);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= maxDepth) return { field: '(root)', message: `body is nested more than ${maxDepth} levels deep` };
    // pushed in reverse, so the first bad value in document order is the one reported
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, v] = entries[i] as readonly [string, unknown];
      const p = at(path, key);
      if (!Array.isArray(value) && UNSTORABLE_TEXT.test(key)) return unstorable(p);
      stack.push({ value: v, path: p, depth: depth + 1 });
    }
  }
  return undefined;
}

function unstorable(path: string): BodyProblem {
  const field = path || '(root)';
  return { field, message: `${path ? `body/${path}` : 'body'} must not contain NUL characters or unpaired UTF-16 surrogates` };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as the client wrote it. Node hands header bytes over as latin1 (one character
 * per byte), so `café` sent as UTF-8 arrives as `cafÃ©`: the bytes are decoded again as UTF-8.
 * Undefined when they are not valid UTF-8. A value with a character above U+00FF did not come
 * off the wire as bytes (an in-process request), and is already text.
 */
export function headerText(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[^\u0000-\u00ff]/.test(value)) return value;
  try {
    return utf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return undefined;
  }
}

/**
 * `?label=key=value` (repeatable) → { key: value }. Keys never contain `=` (`Labels` in
 * schemas/runs.ts refuses them when a run is created or patched), so the first `=` ends the key and the value may contain more. A key
 * given twice is a 400: a run has one value per key, and silently keeping one would hide it.
 */
export function parseLabelFilter(label: string | readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const items = label === undefined ? [] : typeof label === 'string' ? [label] : label;
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq);
    if (eq <= 0 || key.length > LABEL_KEY_MAX_LENGTH) {
      throw new ApiError(400, `querystring/label must be key=value with a key of 1–${LABEL_KEY_MAX_LENGTH} characters, got ${JSON.stringify(item.slice(0, 200))}`, { field: 'label' });
    }
    if (Object.hasOwn(out, key)) throw new ApiError(400, `querystring/label names the key ${JSON.stringify(key)} twice: a run has one value per label key`, { field: 'label' });
    out[key] = item.slice(eq + 1);
  }
  return out;
}

/** What an import item gives; the numbers the API derives from it are checked against it. */
export interface ImportFields {
  energy_j?: number | undefined;
  energy_per_inference_uwh?: number | undefined;
  params_m?: number | undefined;
  macs_g?: number | undefined;
  duration_s?: number | undefined;
  accuracy?: number | undefined;
  run_id?: string | undefined;
}

/** A run shorter than this has no end time of its own: times are stored in milliseconds. */
export const MIN_DURATION_S = 0.001;

/** The input each derived number comes from (`energy` is whichever of energy_j and energy_per_inference_uwh was given). */
const RUN_SOURCES = { started_at_ms: 'started_at', ended_at_ms: 'duration_s', duration_s: 'duration_s', avg_power_w: 'duration_s', energy_j: 'energy' } as const;

/**
 * Checks a batch of imported runs before anything is stored: every time inside InfluxDB's
 * range, every number the API derives (average power, end time, every score) finite, and no
 * run_id twice. `field(i, name)` names input `name` of item i as the client sees it.
 */
export function checkImportedRuns(items: readonly ImportFields[], runs: readonly Run[], ctx: SummaryContext, field: (i: number, name: string) => string): void {
  const seen = new Map<string, number>();
  runs.forEach((run, i) => {
    const item = items[i] as ImportFields;
    const energyField = item.energy_j !== undefined ? 'energy_j' : 'energy_per_inference_uwh';
    const fail = (name: string, rule: string): never => {
      const f = field(i, name);
      throw new ApiError(400, `body/${f} ${rule}`, { field: f });
    };
    const started = timeProblem(run.started_at_ms);
    if (started) fail('started_at', started);
    if (run.duration_s !== null && run.duration_s > 0 && run.duration_s < MIN_DURATION_S) {
      fail('duration_s', `must be 0 or at least ${MIN_DURATION_S} s: a run's times are kept in milliseconds`);
    }
    for (const [key, source] of Object.entries(RUN_SOURCES) as Array<[keyof typeof RUN_SOURCES, string]>) {
      const v = run[key];
      if (v !== null && !Number.isFinite(v)) fail(source === 'energy' ? energyField : source, `makes ${key} not a finite number (too small or too large)`);
    }
    // every score the summary derives (the run's definition says which inputs each comes from)
    for (const { name, inputs } of notFiniteScores(run, ctx)) fail(culprit(item, inputs.map((k) => (k === 'energy' ? energyField : k))), `makes ${name} not a finite number (too small or too large)`);
    if (item.run_id !== undefined) {
      const first = seen.get(item.run_id);
      if (first !== undefined) fail('run_id', `repeats run_id ${JSON.stringify(item.run_id)} of ${field(first, 'run_id')}: each run needs its own`);
      seen.set(item.run_id, i);
    }
  });
}

/** Of the inputs a score comes from, the one given smallest (a number so small that a division by it overflows); the first on a tie. */
function culprit(item: ImportFields, inputs: readonly string[]): string {
  const given = inputs.flatMap((k) => {
    const v = (item as Record<string, unknown>)[k];
    return typeof v === 'number' ? [{ k, v: Math.abs(v) }] : [];
  });
  return given.reduce<{ k: string; v: number } | undefined>((best, g) => (best === undefined || g.v < best.v ? g : best), undefined)?.k ?? inputs[0] ?? 'body';
}
