/** The reply of /api/series/:id (api/domain/series.ts): a series of repeated runs and its statistics. */
import { Type } from '@sinclair/typebox';
import { SERIES_METRICS, type SeriesMetric } from '../domain/series.js';
import { Nullable, RunSummarySchema } from './runs.js';

const N = Nullable(Type.Number());

export const DescribedSchema = Type.Object(
  { n: Type.Integer({ minimum: 0 }), mean: N, std: N, cv: N, ci95_low: N, ci95_high: N },
  { description: 'Over the counted runs: count, mean, sample standard deviation, coefficient of variation (std / |mean|), and the 95 % confidence interval of the mean from Student’s t with n − 1 degrees of freedom (null below two runs).' },
);

export const SeriesReply = Type.Object({
  series_id: Type.String(),
  model: Type.String(),
  platform: Type.String(),
  runs: Type.Integer({ minimum: 1, description: 'Every run of the series, warm-ups included.' }),
  counted: Type.Integer({ minimum: 0, description: 'Completed runs that are not warm-ups: the ones the statistics describe.' }),
  warmups: Type.Integer({ minimum: 0 }),
  left_out: Type.Array(Type.Object({ run_id: Type.String(), why: Type.String({ description: '`warm-up`, or the status of a run that did not complete.' }) })),
  stats: Type.Object(Object.fromEntries(SERIES_METRICS.map((m) => [m, DescribedSchema])) as Record<SeriesMetric, typeof DescribedSchema>),
  cv_flag: Type.Number({ description: 'A series whose energy per inference varies more than this (coefficient of variation) is flagged: the paper saw < 2 %.' }),
  flag: Nullable(Type.String({ description: 'Why the series is flagged; null when it is not.' })),
  members: Type.Array(RunSummarySchema, { description: 'Its runs, oldest first.' }),
});
