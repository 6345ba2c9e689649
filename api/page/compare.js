// Models × platforms: the matrix, the comparison table, and the overlay of runs' curves.
import { $, BASELINE_COLOR, COLORS, cell, chartWidth, elapsedAxis, fitWidth, sortRows, state } from './common.js';

/** Decimals that give `v` four significant digits, as the paper tables print it (api/domain/tables.ts). */
export function decimalsFor(v) {
  if (v === 0 || !Number.isFinite(v)) return 0;
  return Math.min(8, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v)))));
}

export const fixed = (v, d) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
/** A number to four significant digits, or — */
export const sig = (v) => (v === null || v === undefined ? '—' : fixed(v, decimalsFor(v)));
/** mean ± sd, the sd to the mean's decimals */
export function meanSd(s) {
  if (!s || s.mean === null) return '—';
  const d = decimalsFor(s.mean);
  return s.std === null ? fixed(s.mean, d) : `${fixed(s.mean, d)} ± ${fixed(s.std, d)}`;
}

/**
 * The 95 % interval of a mean energy as the page shows it: Student's t interval, its lower end cut
 * at 0 (two runs far apart give a t interval reaching below zero, an energy no run can have).
 */
export function ciOf(s) {
  if (s.ci95_low === null || s.ci95_high === null) return { low: null, high: null, cut: false };
  return { low: Math.max(0, s.ci95_low), high: s.ci95_high, cut: s.ci95_low < 0 };
}

export async function loadCompare() {
  const q = state.reference ? `?reference=${encodeURIComponent(state.reference)}` : '';
  const res = await fetch(`/api/compare${q}`);
  if (!res.ok) return;
  state.compare = await res.json();
  // the reference can be any platform the comparison has
  const select = $('#reference');
  for (const p of new Set(state.compare.rows.map((r) => r.platform))) {
    if (![...select.options].some((o) => o.value === p)) select.add(new Option(p, p));
  }
  for (const [id, format] of [['#export-md', 'md'], ['#export-csv', 'csv'], ['#export-latex', 'latex']]) {
    $(id).href = `/api/compare?format=${format}${state.reference ? `&reference=${encodeURIComponent(state.reference)}` : ''}`;
  }
  renderMatrix();
  renderCompareTable();
}

/** Models × platforms: energy per inference per platform, and its factor against the reference. */
export function renderMatrix() {
  const rows = state.compare ? state.compare.rows : [];
  const platforms = [...new Set(rows.map((r) => r.platform))].sort((a, b) => a.localeCompare(b));
  const models = [...new Set(rows.map((r) => r.model))];
  const at = (m, p) => rows.find((r) => r.model === m && r.platform === p);
  const { key, dir } = state.matrixSort;
  const keyed = models.map((m) => ({ model: m, ...Object.fromEntries(platforms.map((p) => [`p:${p}`, at(m, p)?.scores.energy_per_inference_uwh.mean ?? null])) }));
  const sorted = sortRows(keyed, key, dir);
  const head = $('#matrix thead tr');
  head.textContent = '';
  const headers = [['model', 'model', false], ...platforms.map((p) => [`p:${p}`, p, true])];
  for (const [k, text, numeric] of headers) {
    const th = document.createElement('th');
    th.dataset.key = k;
    th.textContent = text;
    if (numeric) th.className = 'num';
    th.setAttribute('aria-sort', k === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    th.addEventListener('click', () => {
      state.matrixSort = { key: k, dir: state.matrixSort.key === k ? -state.matrixSort.dir : 1 };
      renderMatrix();
    });
    head.append(th);
  }
  const body = $('#matrix tbody');
  body.textContent = '';
  for (const k of sorted) {
    const tr = document.createElement('tr');
    tr.dataset.model = k.model;
    tr.append(cell(k.model));
    for (const p of platforms) {
      const r = at(k.model, p);
      const td = document.createElement('td');
      td.className = 'num';
      td.dataset.platform = p;
      const value = document.createElement('span');
      value.className = 'mean-sd';
      value.textContent = r ? meanSd(r.scores.energy_per_inference_uwh) : '—';
      td.append(value);
      if (r && r.scores.energy_per_inference_uwh.n < r.runs) td.append(' ', Object.assign(document.createElement('span'), { className: 'of', textContent: `(${r.scores.energy_per_inference_uwh.n} of ${r.runs} runs)` }));
      if (r && r.relative && state.reference) {
        const factor = document.createElement('span');
        factor.className = 'factor';
        factor.textContent = `× ${sig(r.relative.energy_per_inference_uwh)} ${state.reference}`;
        td.append(factor);
      }
      tr.append(td);
    }
    body.append(tr);
  }
  $('#compare-empty').hidden = rows.length > 0;
}

/**
 * The comparison table's columns: each pair, the repeat statistics of its energy per inference,
 * the mean of every other field the run's definition compares (`compare`), the factors against
 * the reference, the ranks of those it ranks, and the series.
 */
export function compareColumns() {
  const epi = 'energy_per_inference_uwh';
  const compared = state.fields.filter((f) => f.compare);
  const stat = (k) => (r) => r.scores[epi][k];
  const num = (key, label, value, opts = {}) => ({ key, label, numeric: true, value, ...opts });
  return [
    { key: 'model', label: 'model', value: (r) => r.model },
    { key: 'platform', label: 'platform', value: (r) => r.platform },
    // one count of runs, the exported tables' "Runs": the statistics below are over those of
    // them that have the figure (a run given no inference count has no energy per inference)
    num('runs', 'runs', (r) => r.runs, { title: 'completed runs, warm-ups left out', show: (v) => String(v) }),
    num('epi_mean', 'µWh / inference', stat('mean'), { epi: true, of: true }),
    num('epi_std', 'sd', stat('std'), { epi: true }),
    num('epi_cv', 'CV %', (r) => (r.scores[epi].cv === null ? null : r.scores[epi].cv * 100), { title: 'coefficient of variation: sd / mean (the paper saw < 2 %)', show: (v) => fixed(v, 2), flag: (v) => v > 2 }),
    num('epi_ci', '95 % CI', (r) => ciOf(r.scores[epi]).low, { title: "95 % confidence interval of the mean (Student's t, n − 1 degrees of freedom), cut at 0: energy is never negative", show: (v, r, d) => `${fixed(ciOf(r.scores[epi]).low, d)} – ${fixed(r.scores[epi].ci95_high, d)}` }),
    ...compared.filter((f) => f.name !== epi).map((f) => num(`mean:${f.name}`, f.compare.label, (r) => r.scores[f.name].mean, { title: f.doc, show: sig })),
    num('rel_epi', '× ref µWh', (r) => (r.relative ? r.relative[epi] : null), { ref: true, show: sig }),
    num('rel_composite', '× ref composite', (r) => (r.relative ? r.relative.composite_score : null), { ref: true, show: sig }),
    ...compared.filter((f) => f.compare.rank).map((f) => num(`rank:${f.name}`, `rank ${f.name === epi ? 'µWh' : f.compare.label}`, (r) => r.ranks[f.name], { title: `rank on its platform, 1 = ${f.compare.better === 'lower' ? 'least' : 'most'} ${f.compare.label}`, show: (v) => String(v) })),
    { key: 'series', label: 'series', value: (r) => (r.series.length ? r.series.map((id) => id.slice(0, 10)).join(', ') : null) },
  ];
}

export function renderCompareHead() {
  const tr = $('#compare-table thead tr');
  tr.textContent = '';
  for (const c of compareColumns()) {
    const th = document.createElement('th');
    th.dataset.key = c.key;
    th.textContent = c.label;
    th.className = [c.numeric ? 'num' : '', c.ref ? 'ref' : ''].filter(Boolean).join(' ');
    if (c.title) th.title = c.title;
    th.addEventListener('click', () => {
      state.compareSort = { key: c.key, dir: state.compareSort.key === c.key ? -state.compareSort.dir : 1 };
      renderCompareTable();
    });
    tr.append(th);
  }
}

/** Every compared field per model × platform, the ranks side by side, and the repeat statistics. */
export function renderCompareTable() {
  const columns = compareColumns();
  const rows = (state.compare ? state.compare.rows : []).map((r) => ({ row: r, ...Object.fromEntries(columns.map((c) => [c.key, c.value(r)])) }));
  const { key, dir } = state.compareSort;
  const body = $('#compare-table tbody');
  body.textContent = '';
  for (const k of sortRows(rows, key, dir)) {
    const r = k.row;
    const mean = r.scores.energy_per_inference_uwh.mean;
    const d = mean === null ? 0 : decimalsFor(mean);
    const tr = document.createElement('tr');
    tr.dataset.model = r.model;
    tr.dataset.platform = r.platform;
    for (const c of columns) {
      const v = k[c.key];
      const td = document.createElement('td');
      if (c.numeric) td.className = 'num';
      td.textContent = v === null || v === undefined ? '—' : c.show ? c.show(v, r, d) : c.epi ? fixed(v, d) : String(v);
      // a statistic over fewer runs than the pair has (those with the figure) says over how many
      const n = r.scores.energy_per_inference_uwh.n;
      if (c.of && n < r.runs) {
        td.append(' ', Object.assign(document.createElement('span'), { className: 'of', textContent: `(${n} of ${r.runs})` }));
        td.title = `${r.runs - n} of its ${r.runs} runs have no energy per inference (no inference count given)`;
      }
      if (c.key === 'epi_ci' && ciOf(r.scores.energy_per_inference_uwh).cut) td.title = `Student's t interval ${fixed(r.scores.energy_per_inference_uwh.ci95_low, d)} – ${fixed(r.scores.energy_per_inference_uwh.ci95_high, d)}, cut at 0`;
      // the paper saw less than 2 % run-to-run deviation: above it, the pair is flagged
      if (c.flag && v !== null && c.flag(v)) td.classList.add('flagged');
      tr.append(td);
    }
    body.append(tr);
  }
  for (const th of document.querySelectorAll('#compare-table th')) th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
  for (const th of document.querySelectorAll('#compare-table th.ref')) th.textContent = th.dataset.key === 'rel_epi' ? `× ${state.reference || 'ref'} µWh` : `× ${state.reference || 'ref'} composite`;
}

/** A run's curve and summary, fetched once (an ended run's curve does not change). */
export async function curveOf(id) {
  if (!state.curves.has(id)) {
    const [summary, curve] = await Promise.all([fetch(`/api/runs/${encodeURIComponent(id)}`).then((r) => r.json()), fetch(`/api/runs/${encodeURIComponent(id)}/power`).then((r) => r.json())]);
    if (summary.status === 'running') return { summary, curve };
    state.curves.set(id, { summary, curve });
  }
  return state.curves.get(id);
}

/**
 * The chosen runs' power curves on one chart, each against the seconds since it started (the
 * paper's figure of three architectures on one GPU), with the hosts' idle baseline dashed.
 * A run's power is the sum of its hosts' in-total sources at each time they all have a point.
 */
export async function renderOverlay() {
  const generation = ++state.overlayGeneration;
  const ids = [...state.overlay];
  const loaded = await Promise.all(ids.map(curveOf));
  // a newer tick or untick has drawn (or will draw) the chart: this answer is stale
  if (generation !== state.overlayGeneration) return;
  const el = $('#overlay-chart');
  if (state.overlayChart) {
    state.overlayChart.unfit();
    state.overlayChart.destroy();
  }
  state.overlayChart = null;
  el.textContent = '';
  el.dataset.runs = String(ids.length);
  $('#overlay-empty').hidden = ids.length > 0;
  if (!ids.length) return;
  const xs = new Set();
  const runs = loaded.map(({ summary, curve }) => {
    const totals = new Map();
    const counted = curve.series.filter((s) => s.in_total);
    // a bucket holds the points that end inside it: drawn at its middle, not at its start, so
    // that a run's rise shows after its start and not half a bucket before it
    const bucket = curve.times.length > 1 ? Math.min(...curve.times.slice(1).map((t, i) => t - curve.times[i])) : 1000;
    curve.times.forEach((t, i) => {
      const ws = counted.map((s) => s.power_w[i]);
      if (!ws.length || ws.some((w) => w === null || w === undefined)) return;
      const x = Math.round(t + bucket / 2 - curve.started_at_ms) / 1000;
      xs.add(x);
      totals.set(x, ws.reduce((a, b) => a + b, 0));
    });
    return { summary, curve, totals };
  });
  const x = [...xs].sort((a, b) => a - b);
  const baselines = new Map();
  for (const { curve } of runs) {
    if (curve.idle_w === null) continue;
    const key = curve.baselines.map((b) => b.run_id).join(',');
    if (!baselines.has(key)) baselines.set(key, { hosts: curve.baselines.map((b) => b.host).join(', '), idle: curve.idle_w });
  }
  const data = [x, ...runs.map((r) => x.map((v) => (r.totals.has(v) ? r.totals.get(v) : null))), ...[...baselines.values()].map((b) => x.map(() => b.idle))];
  const chart = new uPlot(
    {
      width: chartWidth(el),
      height: 320,
      scales: { x: { time: false } },
      axes: [elapsedAxis('since the run started'), { label: 'W', size: 50 }],
      series: [
        { label: 'since start', value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} s`) },
        ...runs.map((r, i) => ({
          label: `${r.summary.model} on ${r.summary.platform} (${r.summary.run_id.slice(0, 10)})`,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} W`),
        })),
        ...[...baselines.values()].map((b) => ({ label: `idle baseline of ${b.hosts}: ${b.idle.toFixed(1)} W`, stroke: BASELINE_COLOR, width: 1.5, dash: [8, 6], value: () => `${b.idle.toFixed(1)} W` })),
      ],
    },
    data,
    el,
  );
  chart.unfit = fitWidth(chart, el);
  state.overlayChart = chart;
  // for whoever reads the chart back (the tests): what is drawn, by series
  el.uplot = chart;
}
