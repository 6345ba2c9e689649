/**
 * Models × platforms (pure): every score per pair, repeat statistics where a pair has several
 * runs (n, mean, standard deviation, coefficient of variation, 95 % confidence interval), the
 * rank of each model under each score per platform (Table II of the paper), and scores relative
 * to a reference platform (Table III's factors). Warm-up runs of a series are not repeats.
 */
import { type RunSummary } from './run-record.js';
import { COMPARED, LOWER_IS_BETTER } from './run-fields.js';
import { describe, type Described } from './statistics.js';

/** The summary's fields compared, and which are better lower: from the run's definition (`compare`). */
export { COMPARED, LOWER_IS_BETTER };
export type Compared = (typeof COMPARED)[number];

export type Stats = Described;

/** n, mean, sample standard deviation, coefficient of variation and 95 % confidence interval (./statistics.ts). */
export const stats = describe;

/** Competition ranking (1, 2, 2, 4): ties share the better rank. */
export function rank<T>(items: readonly T[], value: (t: T) => number | null, lowerIsBetter: boolean): Map<T, number | null> {
  const scored = items.filter((t) => value(t) !== null).sort((a, b) => ((value(a) as number) - (value(b) as number)) * (lowerIsBetter ? 1 : -1));
  const out = new Map<T, number | null>();
  scored.forEach((t, i) => {
    const prev = scored[i - 1];
    out.set(t, prev !== undefined && value(prev) === value(t) ? (out.get(prev) as number) : i + 1);
  });
  for (const t of items) if (!out.has(t)) out.set(t, null);
  return out;
}

export interface PairRow {
  model: string;
  platform: string;
  runs: number;
  /** the series its runs belong to (`wattscope bench`), if any */
  series: string[];
  scores: Record<Compared, Stats>;
  ranks: Record<Compared, number | null>;
  relative: Record<Compared, number | null> | null;
}

export interface Comparison {
  reference: string | null;
  rows: PairRow[];
}

/** What the comparison reads of a run's summary. */
export type ComparedRun = Pick<RunSummary, 'model' | 'platform' | 'series_id' | 'warmup' | Compared>;

export function compare(runs: readonly ComparedRun[], reference?: string): Comparison {
  const groups = new Map<string, ComparedRun[]>();
  for (const r of runs) {
    if (r.warmup) continue;
    const key = `${r.model}\u0000${r.platform}`;
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  const rows: PairRow[] = [...groups.values()].map((g) => {
    const first = g[0] as ComparedRun;
    const scores = Object.fromEntries(
      COMPARED.map((c) => [c, stats(g.map((r) => r[c]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)))]),
    ) as Record<Compared, Stats>;
    const series = [...new Set(g.map((r) => r.series_id).filter((id): id is string => id !== null))].sort();
    return { model: first.model, platform: first.platform, runs: g.length, series, scores, ranks: {} as Record<Compared, number | null>, relative: null };
  });
  rows.sort((a, b) => a.platform.localeCompare(b.platform) || a.model.localeCompare(b.model));
  for (const platform of new Set(rows.map((r) => r.platform))) {
    const onPlatform = rows.filter((r) => r.platform === platform);
    for (const c of COMPARED) {
      const ranks = rank(onPlatform, (r) => r.scores[c].mean, LOWER_IS_BETTER.has(c));
      for (const r of onPlatform) r.ranks[c] = ranks.get(r) ?? null;
    }
  }
  if (reference) {
    for (const r of rows) {
      const ref = rows.find((o) => o.model === r.model && o.platform === reference);
      if (!ref) continue;
      r.relative = Object.fromEntries(
        COMPARED.map((c) => {
          const v = r.scores[c].mean;
          const base = ref.scores[c].mean;
          return [c, v === null || base === null || base === 0 ? null : v / base];
        }),
      ) as Record<Compared, number | null>;
    }
  }
  return { reference: reference ?? null, rows };
}
