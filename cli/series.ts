/** A series of repeated runs as the terminal shows it: its statistics, and its flag. */
import type { Series } from '../clients/ts/client.js';
import { fieldCatalog } from '../api/domain/run-fields.js';
import { fixed, num, table } from './format.js';

type Described = Series['stats']['energy_j'];

/** The series' metrics as the run's definition labels them (`series`), in its order. */
const ROWS = fieldCatalog().flatMap((f) => (f.series ? [[f.name as keyof Series['stats'], f.series.label, f.series.digits] as const] : []));

function row(name: string, d: Described, digits: number): string[] {
  const ci = d.ci95_low === null || d.ci95_high === null ? '—' : `${fixed(d.ci95_low, digits)} – ${fixed(d.ci95_high, digits)}`;
  return [name, String(d.n), fixed(d.mean, digits), fixed(d.std, digits), d.cv === null ? '—' : fixed(d.cv * 100, 2), ci];
}

/** The heading line, the statistics table, and the verdict on the run-to-run deviation. */
export function formatSeries(s: Series): string {
  const head = `series ${s.series_id}: ${s.model} on ${s.platform}, ${s.counted} run${s.counted === 1 ? '' : 's'} counted${s.left_out.length ? ` (left out: ${s.left_out.map((l) => `${l.run_id} ${l.why}`).join(', ')})` : ''}`;
  const stats = table(['', 'n', 'mean', 'sd', 'CV %', '95 % CI (Student t)'], ROWS.map(([k, name, digits]) => row(name, s.stats[k], digits)));
  const cv = s.stats.energy_per_inference_uwh.cv;
  const verdict =
    s.flag !== null
      ? `FLAGGED: ${s.flag}`
      : cv === null
        ? 'run-to-run deviation: needs two counted runs with energy per inference'
        : `run-to-run deviation of energy per inference: ${num(cv * 100, 2)} % (at most ${num(s.cv_flag * 100, 0)} %)`;
  return [head, '', stats, '', verdict].join('\n');
}
