/**
 * The Python client writes its request bodies by hand (it cannot import the API's TypeBox
 * schemas): every key it sends must be one the schema knows, or the API refuses the body with a
 * 400 (additionalProperties: false) and the script runs unmeasured. Read from its source, so a
 * field renamed in the schema fails here, not in a user's training run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StartBody, StopBody, PatchBody } from '../../api/schemas/runs.js';

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
});
