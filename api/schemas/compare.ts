/** The reply of /api/compare (api/domain/compare.ts): one row per model × platform. */
import { Type, type TSchema } from '@sinclair/typebox';
import { COMPARED, type Compared } from '../domain/compare.js';
import { Nullable } from './runs.js';

const perScore = <T extends TSchema>(schema: T) => Type.Object(Object.fromEntries(COMPARED.map((c) => [c, schema])) as Record<Compared, T>);

const StatsSchema = Type.Object(
  { n: Type.Integer({ minimum: 0 }), mean: Nullable(Type.Number()), std: Nullable(Type.Number()), cv: Nullable(Type.Number()) },
  { description: 'Over the pair’s runs: count, mean, sample standard deviation, coefficient of variation.' },
);

export const PairRowSchema = Type.Object({
  model: Type.String(),
  platform: Type.String(),
  runs: Type.Integer({ minimum: 1 }),
  scores: perScore(StatsSchema),
  ranks: perScore(Nullable(Type.Integer({ minimum: 1, description: 'Rank among the models on this platform (1 = best; ties share the better rank).' }))),
  relative: Nullable(perScore(Nullable(Type.Number({ description: 'This platform’s mean ÷ the reference platform’s, for the same model.' })))),
});

export const CompareReply = Type.Object({
  reference: Nullable(Type.String()),
  rows: Type.Array(PairRowSchema),
});
