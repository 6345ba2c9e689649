/**
 * A run's summary as the terminal shows it: what the run was (compound lines written here), then
 * its figures and scores, one line each, from the run's definition (DETAIL_FIELDS: the summary's
 * fields marked `detail` in api/domain/run-record.ts; a new score shows here by itself).
 */
import type { RunSummary } from '../clients/ts/client.js';
import { DETAIL_FIELDS, fieldCatalog } from '../api/domain/run-fields.js';
import { num, pairs, table } from './format.js';

/** A detail field's value with its unit, as the terminal prints it. */
export function detailValue(s: RunSummary, field: (typeof DETAIL_FIELDS)[number]): string {
  const v = (s as unknown as Record<string, unknown>)[field.name];
  if (typeof v !== 'number') return '—';
  return field.unit ? `${num(v, field.detail.digits)} ${field.unit}` : num(v, field.detail.digits);
}

export function formatSummary(s: RunSummary): string {
  const head = pairs([
    ['run', `${s.run_id}  (${s.kind}, ${s.status}${s.partial ? ', PARTIAL: coverage below 99 %' : ''})`],
    ['coverage', coverageLine(s)],
    ['model / platform', `${s.model} on ${s.platform}${s.dataset ? `, ${s.dataset}` : ''}`],
    ['duration', `${num(s.duration_s, 1)} s`],
    ['GPUs', scopeLine(s)],
    ['energy', energyLine(s)],
    ['host energy', hostEnergyLine(s)],
    ['attributed', attributedLine(s)],
    ['average power', `${num(s.avg_power_w, 1)} W  (GPU ${num(s.avg_gpu_power_w, 1)} W)`],
    ['utilisation', `GPU ${num(s.avg_gpu_util_pct, 1)} %, GPU memory ${num(s.avg_gpu_mem_pct, 1)} %, CPU ${num(s.avg_cpu_pct, 1)} %`],
    ['steady part', steadyLine(s)],
    ...(s.series_id ? ([['series', `${s.series_id}${s.warmup ? '  (warm-up: not counted)' : ''}`]] as Array<[string, string]>) : []),
    ...DETAIL_FIELDS.map((f): [string, string] => [f.detail.label, detailValue(s, f)]),
  ]);
  const sources =
    s.sources.length === 0
      ? 'no power data covers this run: is `wattscope collect` running on its host?'
      : table(
          ['host', 'source', 'method', 'reading', 'energy J', 'avg W', 'coverage', 'in run'],
          s.sources.map((x) => [x.host, x.source, x.method, x.reading ?? '', num(x.energy_j, 1), num(x.avg_power_w, 1), `${num(x.coverage * 100, 1)} %`, x.in_run ? 'yes' : 'no (not in this run)']),
        );
  const notes = [
    ...silentSources(s),
    ...(s.partial_final ? [`partial for good: ${s.partial_final}`] : []),
    ...(s.attributed?.notes ?? []).map((n) => `attributed: ${n}`),
    ...Object.entries(s.clock_offsets).map(([host, offset]) => `clock: ${host} is ${Math.abs(offset).toFixed(1)} s ${offset > 0 ? 'ahead of' : 'behind'} InfluxDB; the run's window and its points disagree by that much (synchronise clocks: NTP, chrony)`),
  ];
  const reasons = nullReasons(s);
  return [head, '', sources, ...(notes.length ? ['', ...notes] : []), ...(reasons.length ? ['', 'not computed:', ...reasons.map((r) => `  ${r}`)] : [])].join('\n');
}

/**
 * Whether an energy is an estimate: some or all of the sources it adds up (every source of a
 * run is an in-total one) are a model such as TDP × utilisation, not a sensor. `inRun`: the
 * run's own sources (its energy), else every source of its hosts (the host energy).
 */
export function estimated(s: Pick<RunSummary, 'sources'>, inRun: boolean): { word: string; sources: RunSummary['sources'] } | undefined {
  const counted = s.sources.filter((x) => !inRun || x.in_run);
  const sources = counted.filter((x) => x.method === 'estimated');
  if (sources.length === 0) return undefined;
  return { word: sources.length === counted.length ? 'estimated' : 'partly estimated', sources };
}

/** The run's energy; estimated said first, and which sources are. */
function energyLine(s: RunSummary): string {
  const est = estimated(s, true);
  const which = est ? `; estimated: ${est.sources.map((x) => `${x.source} on ${x.host}, ${num(x.energy_j, 1)} J`).join('; ')}` : '';
  return `${num(s.energy_wh, 4)} Wh${est ? `, ${est.word}` : ''}  (${num(s.energy_j, 1)} J gross, ${num(s.energy_net_j, 1)} J net of idle${which})`;
}

/** The hosts' energy; its estimated sources named unless the energy line above named the same. */
function hostEnergyLine(s: RunSummary): string {
  const est = estimated(s, false);
  const named = estimated(s, true)?.sources.length ?? 0;
  const which = est && est.sources.length !== named ? `; estimated: ${est.sources.map((x) => `${x.source} on ${x.host}`).join(', ')}` : '';
  return `${num(s.energy_host_j, 1)} J${est ? `, ${est.word}` : ''}  (every source of ${s.hosts.join(', ')}, its GPUs or not${which})`;
}

/** Silent sources, one line per host: its hint once, not once per source. */
function silentSources(s: RunSummary): string[] {
  const byHost = new Map<string, string[]>();
  for (const p of s.partial_sources.filter((x) => x.coverage === 0)) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p.source]);
  return [...byHost].map(([host, sources]) => `PARTIAL: no points from ${sources.join(', ')} on ${host} (is its collector running? ${sources.length === 1 ? 'its sensor' : 'their sensors'} readable?)`);
}

/** A field's label as the detail shows it (the run's definition), else its name. */
const LABELS = new Map(fieldCatalog().map((f) => [f.name, f.detail?.label ?? f.list?.label ?? f.compare?.label ?? f.name]));

/**
 * Why scores are empty, one line per reason with the scores it empties: one missing input
 * (no energy, no accuracy) empties several scores, and its hint is said once. The steady part's
 * reason is on its own line above.
 */
export function nullReasons(s: Pick<RunSummary, 'null_reasons'>): string[] {
  const byReason = new Map<string, string[]>();
  for (const [name, reason] of Object.entries(s.null_reasons)) {
    if (name === 'energy_per_inference_steady_uwh') continue;
    byReason.set(reason, [...(byReason.get(reason) ?? []), LABELS.get(name) ?? name]);
  }
  return [...byReason].map(([reason, labels]) => `${labels.join(', ')}: ${reason}`);
}

/** The GPUs the run counts: its scope and where it came from, or every GPU. */
function scopeLine(s: RunSummary): string {
  if (s.gpus === null) return 'every GPU of its hosts (none named: CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES unset)';
  if (s.gpus.length === 0) return `none (${s.gpus_from ?? 'given'})`;
  const out = s.sources.filter((x) => x.domain === 'gpu' && !x.in_run).map((x) => x.source);
  return `${s.gpus.join(', ')} (${s.gpus_from ?? 'given'})${out.length ? `; not in this run: ${out.join(', ')}` : ''}`;
}

/** The run's own share of shared hosts, and the model; or why there is none. */
function attributedLine(s: RunSummary): string {
  if (s.attributed === null || s.energy_attributed_j === null) return '— (no collector on its hosts followed the run’s processes)';
  const parts = s.attributed.sources.map((a) => `${a.source} ${num(a.energy_j, 1)} J at ${num(a.share * 100, 1)} %`);
  return `${num(s.energy_attributed_j, 1)} J to the run’s own processes${s.score_energy === 'attributed' ? ' (the scores use it)' : ''}: ${parts.join(', ')}`;
}

/** `100 %`, or which sources fall short. */
function coverageLine(s: RunSummary): string {
  if (s.coverage === null) return '—';
  const short = s.partial_sources.map((p) => `${p.host}/${p.source} ${num(p.coverage * 100, 1)} %`);
  return short.length === 0 ? `${num(s.coverage * 100, 1)} %` : `${num(s.coverage * 100, 1)} %  (short: ${short.join(', ')})`;
}

/** The steady part of the run's power curve and its energy per inference, or why there is none. */
function steadyLine(s: RunSummary): string {
  if (s.steady_power_w === null) return `— (${s.steady_reason ?? 'not measured'})`;
  return `${num(s.energy_per_inference_steady_uwh, 3)} µWh / inference at ${num(s.steady_power_w, 1)} W over ${num(s.steady_s, 1)} s (rise ${num(s.steady_rise_s, 1)} s and tail ${num(s.steady_tail_s, 1)} s trimmed)`;
}
