/**
 * The order the suite's files start in: the longest first, by their seconds in a recent run
 * (test/durations.json, written by scripts/test-durations.mjs), whichever project they are in;
 * a file not listed there (a new one) first of all, as it may be long. vitest's own order runs
 * one project after the other and, on a clean clone (CI: no results cache), the larger files
 * first: there a 100 s file could start after four minutes and the suite end a minute late,
 * with the CPU-bound unit files all at the end instead of beside the e2e files' waits.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = new URL('../../', import.meta.url).pathname;

function durations(): Map<string, number> {
  try {
    const table: unknown = JSON.parse(readFileSync(new URL('../durations.json', import.meta.url), 'utf8'));
    if (typeof table !== 'object' || table === null) return new Map();
    return new Map(Object.entries(table).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
  } catch {
    return new Map(); // no table: vitest's order
  }
}

export class LongestFirst extends BaseSequencer {
  private readonly seconds = durations();

  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    if (this.seconds.size === 0) return base;
    const rank = (f: TestSpecification) => this.seconds.get(relative(ROOT, f.moduleId)) ?? Infinity;
    // a stable sort: ties (files of equal or unknown length) keep vitest's order
    return base.map((f, i) => ({ f, i, s: rank(f) })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.f);
  }
}
