/** A run's summary as the terminal shows it. */
import type { RunSummary } from '../clients/ts/client.js';
import { num, pairs, table } from './format.js';

export function formatSummary(s: RunSummary): string {
  const head = pairs([
    ['run', `${s.run_id}  (${s.kind}, ${s.status}${s.partial ? ', PARTIAL: coverage below 99 %' : ''})`],
    ['model / platform', `${s.model} on ${s.platform}${s.dataset ? `, ${s.dataset}` : ''}`],
    ['duration', `${num(s.duration_s, 1)} s`],
    ['energy', `${num(s.energy_wh, 4)} Wh  (${num(s.energy_j, 1)} J gross, ${num(s.energy_net_j, 1)} J net of idle)`],
    ['average power', `${num(s.avg_power_w, 1)} W  (GPU ${num(s.avg_gpu_power_w, 1)} W)`],
    ['utilisation', `GPU ${num(s.avg_gpu_util_pct, 1)} %, GPU memory ${num(s.avg_gpu_mem_pct, 1)} %, CPU ${num(s.avg_cpu_pct, 1)} %`],
    ['inferences', `${num(s.inferences, 0)}  (${num(s.inferences_per_s, 1)}/s, ${num(s.inferences_per_j, 3)}/J)`],
    ['accuracy', num(s.accuracy, 4)],
    ['energy / inference', `${num(s.energy_per_inference_uwh, 3)} µWh`],
    ['composite score', num(s.composite_score, 3)],
    ['NetScore', num(s.netscore, 3)],
    ['information density', num(s.info_density, 4)],
  ]);
  const sources =
    s.sources.length === 0
      ? 'no power data covers this run: is `wattscope collect` running on its host?'
      : table(
          ['host', 'source', 'method', 'energy J', 'avg W', 'coverage'],
          s.sources.map((x) => [x.host, x.source, x.method, num(x.energy_j, 1), num(x.avg_power_w, 1), `${num(x.coverage * 100, 1)} %`]),
        );
  const reasons = Object.entries(s.null_reasons);
  return [head, '', sources, ...(reasons.length ? ['', ...reasons.map(([k, r]) => `${k}: ${r}`)] : [])].join('\n');
}
