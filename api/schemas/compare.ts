/** The reply of /api/compare (api/domain/compare.ts): one row per model × platform. */
import { Type, type TSchema } from '@sinclair/typebox';
import { COMPARED, type Compared } from '../domain/compare.js';
import { Nullable } from './runs.js';

const perScore = <T extends TSchema>(schema: T) => Type.Object(Object.fromEntries(COMPARED.map((c) => [c, schema])) as Record<Compared, T>);

const StatsSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 0 }),
    mean: Nullable(Type.Number()),
    std: Nullable(Type.Number()),
    cv: Nullable(Type.Number()),
    ci95_low: Nullable(Type.Number()),
    ci95_high: Nullable(Type.Number()),
  },
  { description: 'Over the pair’s runs (warm-ups left out): count, mean, sample standard deviation, coefficient of variation, and the 95 % confidence interval of the mean (Student’s t, n − 1 degrees of freedom).' },
);

export const PairRowSchema = Type.Object({
  model: Type.String(),
  platform: Type.String(),
  runs: Type.Integer({ minimum: 1 }),
  series: Type.Array(Type.String(), { description: 'The series (`wattscope bench`) its runs belong to.' }),
  scores: perScore(StatsSchema),
  ranks: perScore(Nullable(Type.Integer({ minimum: 1, description: 'Rank among the models on this platform (1 = best; ties share the better rank).' }))),
  relative: Nullable(perScore(Nullable(Type.Number({ description: 'This platform’s mean ÷ the reference platform’s, for the same model.' })))),
});

export const CompareReply = Type.Object({
  reference: Nullable(Type.String()),
  rows: Type.Array(PairRowSchema),
});

/** JSON, or a paper's tables as text in the format asked (?format=md|csv|latex). */
export const CompareReplies = {
  description: 'The comparison as JSON, or its tables as Markdown, CSV or LaTeX.',
  content: {
    'application/json': { schema: CompareReply },
    'text/markdown': { schema: Type.String({ description: 'GitHub-flavoured Markdown tables, each under a bold title; repeats as mean ± sd, 4 significant digits.' }) },
    'text/csv': { schema: Type.String({ description: 'One table, RFC 4180 (CRLF): every number in full, a mean and its sd in two columns, units in the headers.' }) },
    'text/x-tex': { schema: Type.String({ description: 'LaTeX tabular environments (plain \\hline rules), each under a % comment with its title: the body of a table float.' }) },
  },
};
