/**
 * A series of repeated runs (`wattscope bench`), as one measurement with its spread (pure): the
 * paper measured each model three times on each platform and reported a run-to-run deviation
 * under 2 %. Warm-up runs, and runs that did not complete, are listed but not counted.
 */
import { type RunSummary } from './run-record.js';
import { SERIES_METRICS } from './run-fields.js';
import { describe, type Described } from './statistics.js';

/** Above this coefficient of variation of energy per inference a series is flagged (the paper saw < 2 %). */
export const CV_FLAG = 0.02;

/** The fields a series is described by: those marked `series` in the run's definition. */
export { SERIES_METRICS };
export type SeriesMetric = (typeof SERIES_METRICS)[number];

export interface SeriesStatistics {
  series_id: string;
  model: string;
  platform: string;
  /** every run of the series */
  runs: number;
  /** completed runs that are not warm-ups: the ones the statistics describe */
  counted: number;
  warmups: number;
  left_out: Array<{ run_id: string; why: string }>;
  stats: Record<SeriesMetric, Described>;
  cv_flag: number;
  /** why the series is flagged (its energy per inference varies more than cv_flag), or null */
  flag: string | null;
}

/** Why a run does not count in its series' statistics, or undefined when it does. */
export function leftOutBecause(r: Pick<RunSummary, 'warmup' | 'status'>): string | undefined {
  if (r.warmup) return 'warm-up';
  if (r.status !== 'completed') return r.status;
  return undefined;
}

export function seriesStatistics(seriesId: string, runs: readonly RunSummary[], cvFlag = CV_FLAG): SeriesStatistics {
  const counted = runs.filter((r) => leftOutBecause(r) === undefined);
  const left_out = runs.flatMap((r) => {
    const why = leftOutBecause(r);
    return why === undefined ? [] : [{ run_id: r.run_id, why }];
  });
  const stats = Object.fromEntries(
    SERIES_METRICS.map((m) => [m, describe(counted.map((r) => r[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)))]),
  ) as Record<SeriesMetric, Described>;
  const cv = stats.energy_per_inference_uwh.cv;
  const first = runs[0];
  return {
    series_id: seriesId,
    model: first?.model ?? '',
    platform: first?.platform ?? '',
    runs: runs.length,
    counted: counted.length,
    warmups: runs.filter((r) => r.warmup).length,
    left_out,
    stats,
    cv_flag: cvFlag,
    flag: cv !== null && cv > cvFlag ? `energy per inference varies by ${(cv * 100).toFixed(2)} % (coefficient of variation) over ${stats.energy_per_inference_uwh.n} runs, above ${(cvFlag * 100).toFixed(0)} %` : null,
  };
}
