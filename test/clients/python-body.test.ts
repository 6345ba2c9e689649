/**
 * The Python client writes its request bodies by hand (it cannot import the API's TypeBox
 * schemas): every key it sends must be one the schema knows, or the API refuses the body with a
 * 400 (additionalProperties: false) and the script runs unmeasured. Read from its source, so a
 * field renamed in the schema fails here, not in a user's training run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RunSummarySchema, StartBody, StopBody, PatchBody } from '../../api/schemas/runs.js';

const source = readFileSync(new URL('../../clients/python/wattscope.py', import.meta.url), 'utf8');

/** The keys of the `for key, value in (("a", a), ("b", b), …)` tuple that follows `marker`, and every `target["key"]` assignment in that method. */
function keysAfter(marker: string, target: string): string[] {
  const at = source.indexOf(marker);
  expect(at, marker).toBeGreaterThan(-1);
  const body = source.slice(at, source.indexOf('\n    def ', at + marker.length));
  const tuple = [...body.matchAll(/\("([a-z_]+)", [a-z_]+\)/g)].map((m) => m[1] as string);
  const assigned = [...body.matchAll(new RegExp(`${target.replace(/[.[\]]/g, '\\$&')}\\["([a-z_]+)"\\]`, 'g'))].map((m) => m[1] as string);
  const literal = [...body.matchAll(/\{"model": model, "kind": kind,\s*"hosts"/g)].length > 0 ? ['model', 'kind', 'hosts'] : [];
  return [...new Set([...literal, ...tuple, ...assigned])];
}

describe('the Python client’s bodies', () => {
  it('start a run with keys the start schema knows', () => {
    const keys = keysAfter('def __init__(self, model: str', 'self._start');
    expect(keys).toEqual(expect.arrayContaining(['model', 'kind', 'hosts', 'dataset', 'batch_size', 'gpus', 'gpus_from']));
    for (const k of keys) expect(Object.keys(StartBody.properties), k).toContain(k);
    // what start() adds from CUDA_VISIBLE_DEVICES
    for (const k of [...source.matchAll(/start\["([a-z_]+)"\]/g)].map((m) => m[1] as string)) expect(Object.keys(StartBody.properties), k).toContain(k);
  });

  it('record results the stop and the patch schemas both know', () => {
    const keys = keysAfter('def record(self', 'self._result');
    expect(keys).toEqual(['inferences', 'correct', 'accuracy', 'labels']);
    for (const k of [...keys, 'status']) expect(Object.keys(StopBody.properties), k).toContain(k);
    for (const k of keys) expect(Object.keys(PatchBody.properties), k).toContain(k);
  });

  it('type the summary as the API gives it: the Summary TypedDict has every key of the summary schema, each typed as the schema says', () => {
    expectClass(RunSummarySchema as unknown as JsonSchema, 'Summary', 'summary', true);
  });
});

/** What the tests need of a JSON schema (TypeBox's output). */
interface JsonSchema {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
  required?: string[];
}

/** The TypedDicts of the module: `class Name(Base[, total=False]):` and its `    key: Type` lines. */
const classes = new Map<string, { base: string; total: boolean; fields: Map<string, string> }>();
for (const m of source.matchAll(/^class (\w+)\((\w+)(?:, total=(False|True))?\):\n((?:(?: {4}.*)?\n)*)/gm)) {
  const fields = new Map<string, string>();
  for (const f of (m[4] as string).matchAll(/^ {4}(\w+): (.+)$/gm)) fields.set(f[1] as string, f[2] as string);
  classes.set(m[1] as string, { base: m[2] as string, total: m[3] !== 'False', fields });
}
/** Module-level aliases such as `ScoreEnergy = Literal["scoped", "attributed"]`. */
const aliases = new Map([...source.matchAll(/^(\w+) = (Literal\[.*\])$/gm)].map((m) => [m[1] as string, m[2] as string]));

/** A TypedDict's keys, its bases' included, each with its annotation and whether it is required. */
function fieldsOf(name: string): Map<string, { type: string; required: boolean }> {
  const cls = classes.get(name);
  expect(cls, `class ${name}(TypedDict) in wattscope.py`).toBeDefined();
  const { base, total, fields } = cls as NonNullable<typeof cls>;
  const out = base === 'TypedDict' ? new Map<string, { type: string; required: boolean }>() : fieldsOf(base);
  for (const [key, type] of fields) out.set(key, { type, required: total });
  return out;
}

/** `name` is a TypedDict with the object schema's keys; `loose`: every key optional (the summary of a run never measured is empty). */
function expectClass(schema: JsonSchema, name: string, path: string, loose = false): void {
  const fields = fieldsOf(name);
  expect([...fields.keys()].sort(), path).toEqual(Object.keys(schema.properties ?? {}).sort());
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const field = fields.get(key) as { type: string; required: boolean };
    expect(field.required, `${path}.${key} required`).toBe(loose ? false : (schema.required ?? []).includes(key));
    expectType(sub, field.type, `${path}.${key}`);
  }
}

/** The Python annotation the schema calls for: number float, null Optional, consts a Literal, an object of keys a TypedDict. */
function expectType(schema: JsonSchema, annotation: string, path: string): void {
  const type = aliases.get(annotation) ?? annotation;
  const inner = (wrapper: string) => {
    const m = new RegExp(`^${wrapper}\\[(.*)\\]$`).exec(type);
    expect(m, `${path}: ${wrapper}[…], got ${type}`).not.toBeNull();
    return (m as RegExpExecArray)[1] as string;
  };
  if (schema.anyOf) {
    const others = schema.anyOf.filter((s) => s.type !== 'null');
    if (others.length < schema.anyOf.length) {
      expect(others, path).toHaveLength(1);
      expectType(others[0] as JsonSchema, inner('Optional'), path);
    } else expect(type, path).toBe(`Literal[${others.map((s) => JSON.stringify(s.const)).join(', ')}]`);
    return;
  }
  if (schema.type === 'array') return expectType(schema.items as JsonSchema, inner('List'), path);
  if (schema.type === 'object' && schema.patternProperties) {
    const [value] = Object.values(schema.patternProperties);
    const m = /^Dict\[str, (.*)\]$/.exec(type);
    expect(m, `${path}: Dict[str, …], got ${type}`).not.toBeNull();
    return expectType(value as JsonSchema, (m as RegExpExecArray)[1] as string, path);
  }
  if (schema.type === 'object') return expectClass(schema, type, path);
  expect(type, path).toBe({ string: 'str', number: 'float', integer: 'int', boolean: 'bool' }[schema.type ?? ''] ?? `(no Python type for ${JSON.stringify(schema)})`);
}
