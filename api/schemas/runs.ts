/**
 * Request and response schemas (TypeBox → JSON Schema), used for validation, for serialising
 * replies, and for the OpenAPI 3.1 document at /docs (whose schema dialect is JSON Schema, so
 * these schemas appear there as they validate). Strings that become tags (model, platform,
 * hosts, run_id) must be representable in line protocol: no control characters, no trailing
 * backslash.
 */
import { Type, type Static } from '@sinclair/typebox';
import { RUN_KINDS, RUN_STATUSES } from '../../common/model.js';
import { Nullable } from '../domain/record.js';
import { RunSummarySchema } from '../domain/run-record.js';

const NO_CONTROL = '[^\\u0000-\\u001f\\u007f]';
const NO_CONTROL_NO_BACKSLASH = '[^\\\\\\u0000-\\u001f\\u007f]';
const TAG_PATTERN = `^${NO_CONTROL}*${NO_CONTROL_NO_BACKSLASH}$`;
const RUN_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const HOST_PATTERN = '^[^,\\u0000-\\u001f\\u007f]*[^,\\\\\\u0000-\\u001f\\u007f]$';
const LABEL_KEY_PATTERN = '^[^=]+$';
export const LABEL_KEY_MAX_LENGTH = 128;

/** What each pattern means, for error messages a person can act on (a regex is not one). */
export const PATTERN_RULES: ReadonlyMap<string, string> = new Map([
  [TAG_PATTERN, 'must be printable text (no control characters) not ending with a backslash'],
  [RUN_ID_PATTERN, 'must be letters, digits and . _ : - (1–128 characters, starting with a letter or digit)'],
  [HOST_PATTERN, 'must be a host name without commas or control characters, not ending with a backslash'],
  [LABEL_KEY_PATTERN, 'must not contain "=" (a label filter is key=value)'],
]);

/** A tag value: printable, 1–256 characters, not ending with a backslash. */
export const TagString = (description: string) => Type.String({ minLength: 1, maxLength: 256, pattern: TAG_PATTERN, description });

export const RunId = Type.String({
  pattern: RUN_ID_PATTERN,
  description: 'Letters, digits and . _ : - (1–128 characters, starting with a letter or digit).',
});

export const SeriesId = Type.String({
  pattern: RUN_ID_PATTERN,
  description: 'Letters, digits and . _ : - (1–128 characters, starting with a letter or digit).',
});

export const Host = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: HOST_PATTERN,
  description: 'A host name as the collector tags it (WATTSCOPE_HOST); no commas.',
});

export const Labels = Type.Unsafe<Record<string, string>>({
  type: 'object',
  maxProperties: 64,
  propertyNames: { minLength: 1, maxLength: LABEL_KEY_MAX_LENGTH, pattern: LABEL_KEY_PATTERN },
  additionalProperties: { type: 'string', maxLength: 1024 },
  description: 'Free-form string labels (at most 64); keys of 1–128 characters without "=".',
});

const Accuracy = Type.Number({ minimum: 0, maximum: 1, description: 'Top-1 accuracy as a fraction (0–1).' });
const Count = (description: string) => Type.Integer({ minimum: 0, maximum: 1e15, description });
const Positive = (max: number, description: string) => Type.Number({ exclusiveMinimum: 0, maximum: max, description });

export const StartBody = Type.Object(
  {
    model: TagString('Model name, e.g. resnet50.'),
    run_id: Type.Optional(RunId),
    dataset: Type.Optional(Type.String({ maxLength: 512 })),
    kind: Type.Optional(Type.Union([Type.Literal('inference'), Type.Literal('training'), Type.Literal('baseline')], { default: 'inference' })),
    hosts: Type.Optional(Type.Array(Host, { minItems: 1, maxItems: 256, uniqueItems: true, description: 'Hosts whose energy counts; default the caller’s.' })),
    platform: Type.Optional(TagString('Platform label, e.g. A100-40G.')),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
    params_m: Type.Optional(Positive(1e7, 'Parameters in millions.')),
    macs_g: Type.Optional(Positive(1e9, 'Multiply-accumulates per inference in billions.')),
    labels: Type.Optional(Labels),
    gpus: Type.Optional(
      Type.Array(Type.String({ pattern: '^([0-9]{1,4}|(GPU|MIG)-[0-9a-fA-F-]{1,64})$' }), {
        maxItems: 64,
        uniqueItems: true,
        description: 'The GPUs the run uses, as CUDA_VISIBLE_DEVICES names them: indices or UUIDs (or UUID prefixes). Its energy counts these GPUs and every other in-total source; the other GPUs are listed apart. [] no GPU; absent: every GPU.',
      }),
    ),
    gpus_from: Type.Optional(Type.Union([Type.Literal('CUDA_VISIBLE_DEVICES'), Type.Literal('NVIDIA_VISIBLE_DEVICES'), Type.Literal('given')], { description: 'Where `gpus` came from (the clients say).' })),
    score_energy: Type.Optional(Type.Union([Type.Literal('scoped'), Type.Literal('attributed')], { default: 'scoped', description: 'The energy the scores use: the run’s devices (default), or what its own processes were attributed on shared hosts.' })),
    series_id: Type.Optional({ ...SeriesId, description: 'The series of repeated runs this run belongs to (`wattscope bench`): every run of a series is of one model on one platform. ' + SeriesId.description }),
    warmup: Type.Optional(Type.Boolean({ default: false, description: 'A warm-up run of its series: measured, but left out of the series’ statistics and of compare. Needs series_id.' })),
    started_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'When the run really started, for a run filed after the fact (a window of a script: wattscope.window(record=True)); default now. At most 30 days ago, and not after now (5 s of clock difference allowed). Its energy is measured from the stored points as any run’s.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type StartBody = Static<typeof StartBody>;

export const StartReply = Type.Object({ run_id: Type.String(), started_at: Type.String({ format: 'date-time' }) });

const ResultFields = {
  inferences: Type.Optional(Count('Inferences done in the run.')),
  correct: Type.Optional(Count('Correct inferences (accuracy = correct / inferences when accuracy is not given).')),
  accuracy: Type.Optional(Accuracy),
  labels: Type.Optional(Labels),
};

export const StopBody = Type.Object(
  {
    ...ResultFields,
    status: Type.Optional(Type.Union([Type.Literal('completed'), Type.Literal('failed')], { default: 'completed' })),
    ended_at: Type.Optional(
      Type.String({ format: 'date-time', description: 'When the run really ended, for a stop sent after the fact (the API was unreachable when it ended); default now. Between the run’s start and now.' }),
    ),
  },
  { additionalProperties: false },
);
export type StopBody = Static<typeof StopBody>;

export const PatchBody = Type.Object(
  { ...ResultFields, platform: Type.Optional(TagString('Correct the platform the run is filed under (e.g. a run stored as `unknown`).')) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchBody = Static<typeof PatchBody>;

export const ImportItem = Type.Object(
  {
    model: TagString('Model name.'),
    platform: TagString('Platform the run was measured on.'),
    accuracy: Type.Optional(Accuracy),
    inferences: Type.Integer({ minimum: 1, maximum: 1e15 }),
    energy_j: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15 })),
    energy_per_inference_uwh: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15 })),
    params_m: Type.Optional(Positive(1e7, 'Parameters in millions.')),
    macs_g: Type.Optional(Positive(1e9, 'MACs per inference in billions.')),
    duration_s: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
    dataset: Type.Optional(Type.String({ maxLength: 512 })),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
    started_at: Type.Optional(Type.String({ format: 'date-time' })),
    labels: Type.Optional(Labels),
    run_id: Type.Optional(RunId),
  },
  { additionalProperties: false },
);
export type ImportItem = Static<typeof ImportItem>;
export const ImportBody = Type.Union([ImportItem, Type.Array(ImportItem, { minItems: 1, maxItems: 10_000 })]);
export type ImportBody = Static<typeof ImportBody>;

export const BaselineBody = Type.Object(
  {
    host: Host,
    seconds: Type.Number({ minimum: 1, maximum: 86_400, description: 'Measure the host’s idle power over the last N seconds.' }),
    platform: Type.Optional(TagString('Platform label.')),
  },
  { additionalProperties: false },
);
export type BaselineBody = Static<typeof BaselineBody>;

export const RunParams = Type.Object({ id: RunId });
export type RunParams = Static<typeof RunParams>;

export const SeriesParams = Type.Object({ id: SeriesId });
export type SeriesParams = Static<typeof SeriesParams>;

const DIGITS = '^[0-9]{1,9}$';
const TIME = Type.String({ maxLength: 40, description: 'ISO 8601 date-time or epoch milliseconds.' });

export const ListQuery = Type.Object(
  {
    model: Type.Optional(TagString('Only this model.')),
    platform: Type.Optional(TagString('Only this platform.')),
    kind: Type.Optional(Type.Union(RUN_KINDS.map((k) => Type.Literal(k)))),
    status: Type.Optional(Type.Union(RUN_STATUSES.map((s) => Type.Literal(s)))),
    from: Type.Optional(TIME),
    to: Type.Optional(TIME),
    label: Type.Optional(Type.Union([Type.String({ pattern: '^[^=]+=', maxLength: 1200 }), Type.Array(Type.String({ pattern: '^[^=]+=', maxLength: 1200 }), { maxItems: 16 })], { description: 'key=value; repeat for several.' })),
    series: Type.Optional({ ...SeriesId, description: 'Only the runs of this series (warm-ups included).' }),
    limit: Type.Optional(Type.String({ pattern: DIGITS, description: '1–1000, default 100.' })),
    offset: Type.Optional(Type.String({ pattern: DIGITS, description: 'Default 0.' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const CompareQuery = Type.Object(
  {
    reference: Type.Optional(TagString('Platform the others are compared with.')),
    model: Type.Optional(TagString('Only this model.')),
    platform: Type.Optional(TagString('Only this platform.')),
    kind: Type.Optional(Type.Union(RUN_KINDS.map((k) => Type.Literal(k)))),
    from: Type.Optional(TIME),
    to: Type.Optional(TIME),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('md'), Type.Literal('csv'), Type.Literal('latex')], {
        description: 'json (default); or the tables for a paper: md (Markdown), csv, latex (tabular environments to \\input in a table float).',
      }),
    ),
    table: Type.Optional(
      Type.Union([Type.Literal('scores'), Type.Literal('ranking'), Type.Literal('both')], {
        description: 'With format md, csv or latex: the per-platform score table, the ranking table, or both (default for md and latex; csv holds one table, scores by default).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CompareQuery = Static<typeof CompareQuery>;

/** A run's summary: its schema comes from the run's definition (../domain/run-record.ts). */
export { Nullable, RunSummarySchema };

export const RunFieldsReply = Type.Object({
  fields: Type.Array(
    Type.Object({
      name: Type.String(),
      doc: Type.String(),
      unit: Nullable(Type.String()),
      list: Nullable(Type.Object({ label: Type.String(), digits: Type.Integer(), scale: Type.Optional(Type.Number({ description: 'Multiply the value by this to show it (J → Wh).' })) }, { description: 'A column of the page’s runs list.' })),
      detail: Nullable(Type.Object({ label: Type.String(), digits: Type.Integer() }, { description: 'A line of a run’s detail (the CLI’s summary, the page), the unit after the value.' })),
      series: Nullable(Type.Object({ label: Type.String(), digits: Type.Integer() }, { description: 'Described over a series of repeated runs (GET /api/series/:id).' })),
      compare: Nullable(Type.Object({ better: Type.Union([Type.Literal('lower'), Type.Literal('higher')]), label: Type.String(), rank: Type.Optional(Type.Boolean()) }, { description: 'Compared across models × platforms (GET /api/compare).' })),
      csv: Type.Boolean({ description: 'A column of the CSV export.' }),
    }),
  ),
});

export const HeartbeatReply = Type.Object({ run_id: Type.String(), heartbeat_at: Type.String({ format: 'date-time' }) });

export const ImportReply = Type.Object({ runs: Type.Array(RunSummarySchema) });

export const ListReply = Type.Object({
  runs: Type.Array(RunSummarySchema),
  next_offset: Type.Union([Type.Integer(), Type.Null()], { description: 'The offset of the next page; null on the last.' }),
});

/** The list as JSON, or as CSV (`Accept: text/csv` or `?format=csv`): one header line, one line per run. */
export const ListReplies = {
  description: 'Runs, newest first.',
  content: {
    'application/json': { schema: ListReply },
    'text/csv': { schema: Type.String({ description: 'RFC 4180 CSV: a header line of column names, then one line per run (CRLF line ends).' }) },
  },
};

export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String({ description: 'What is wrong and what to do.' }),
  field: Type.Optional(Type.String({ description: 'The input at fault: a body path (`hosts/0`, `1/run_id`), a query parameter or a header name.' })),
});

export const ConflictReply = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  run: Type.Optional(RunSummarySchema),
});

/** The errors any /api route may answer (401 only with WATTSCOPE_API_TOKEN set; 503 when InfluxDB is unavailable). */
export const READ_ERRORS = { 400: ErrorReply, 401: ErrorReply, 429: ErrorReply, 503: ErrorReply };
/** A route that names a run adds 404; a write adds 409, 413 and 415. */
export const RUN_READ_ERRORS = { ...READ_ERRORS, 404: ErrorReply };
export const WRITE_ERRORS = { ...READ_ERRORS, 404: ErrorReply, 409: ConflictReply, 413: ErrorReply, 415: ErrorReply };
