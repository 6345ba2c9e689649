// Wattscope live page: no framework, no build step, nothing from outside this server.
'use strict';

const WINDOW_MS = 15 * 60 * 1000;
const BASELINE_COLOR = '#667085';
const COLORS = ['#0b7a75', '#d9480f', '#5f3dc4', '#1971c2', '#c2255c', '#2b8a3e', '#e67700', '#495057', '#0c8599', '#862e9c'];
const $ = (sel) => document.querySelector(sel);

const state = {
  host: '',
  times: [],
  /** key host\u0000source -> { meta, values: Map<t, watts> } */
  series: new Map(),
  chart: null,
  runs: [],
  sort: { key: 'started_at', dir: -1 },
  openRun: null,
  /** the comparison (GET /api/compare) and how its tables are sorted */
  compare: null,
  reference: '',
  matrixSort: { key: 'model', dir: 1 },
  compareSort: { key: 'platform', dir: 1 },
  /** run ids drawn in the overlay, and their fetched curves */
  overlay: new Set(),
  curves: new Map(),
  overlayChart: null,
  overlayGeneration: 0,
  completedSignature: null,
  /** the summary's fields as the run's definition describes them (GET /api/run-fields) */
  fields: [],
};

/** How a field of the runs list shows: a few fields read better as words. */
const LIST_FORMAT = {
  gpus: (r) => gpusLabel(r),
  series_id: (r) => seriesLabel(r),
};

const keyOf = (p) => `${p.host}\u0000${p.source}`;
const fmt = (v, digits = 2) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString(undefined, { maximumFractionDigits: digits }) : String(v));

function setStatus(text, s) {
  const el = $('#status');
  el.textContent = text;
  el.dataset.state = s;
}

function addPoint(p) {
  if (state.host && p.host !== state.host) return;
  let s = state.series.get(keyOf(p));
  if (!s) {
    s = { meta: p, values: new Map() };
    state.series.set(keyOf(p), s);
  }
  s.values.set(p.t, p.power_w);
}

function seriesList() {
  return [...state.series.values()].sort((a, b) => a.meta.host.localeCompare(b.meta.host) || a.meta.source.localeCompare(b.meta.source));
}

function render() {
  const cutoff = Date.now() - WINDOW_MS;
  const list = seriesList();
  const times = new Set();
  for (const s of list) {
    for (const t of [...s.values.keys()]) {
      if (t < cutoff) s.values.delete(t);
      else times.add(t);
    }
  }
  const xs = [...times].sort((a, b) => a - b);
  const data = [xs.map((t) => t / 1000), ...list.map((s) => xs.map((t) => (s.values.has(t) ? s.values.get(t) : null)))];
  const el = $('#live-chart');
  const names = list.map((s) => `${s.meta.host} ${s.meta.source} (${s.meta.method})`);
  const signature = names.join('|');
  if (!state.chart || state.chart.signature !== signature) {
    if (state.chart) state.chart.destroy();
    el.textContent = '';
    state.chart = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 320,
        scales: { x: { time: true } },
        axes: [{}, { label: 'W', size: 60 }],
        series: [{}, ...list.map((s, i) => ({ label: names[i], stroke: COLORS[i % COLORS.length], width: 1.5, dash: s.meta.in_total ? undefined : [6, 4], spanGaps: false, value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} W`) }))],
      },
      data,
      el,
    );
    state.chart.signature = signature;
  } else {
    state.chart.setData(data);
  }
  const last = xs.length ? xs[xs.length - 1] : 0;
  el.dataset.lastTime = String(last);
  el.dataset.points = String(xs.length);
  // the host total at the latest time every in_total source has reported
  let total = 0;
  let any = false;
  for (const s of list) {
    if (!s.meta.in_total) continue;
    const ts = [...s.values.keys()];
    if (!ts.length) continue;
    total += s.values.get(Math.max(...ts));
    any = true;
  }
  $('#total').textContent = any ? `${total.toFixed(1)} W` : '— W';
}

async function loadHistory() {
  const q = new URLSearchParams({ minutes: '15' });
  if (state.host) q.set('host', state.host);
  const res = await fetch(`/api/live/power?${q}`);
  if (!res.ok) throw new Error(`history: ${res.status}`);
  const table = await res.json();
  state.series.clear();
  for (const s of table.series) {
    table.times.forEach((t, i) => {
      if (s.power_w[i] !== null) addPoint({ ...s, t, power_w: s.power_w[i] });
    });
  }
  const hosts = new Set(table.series.map((s) => s.host));
  const select = $('#host');
  for (const h of hosts) {
    if (![...select.options].some((o) => o.value === h)) select.add(new Option(h, h));
  }
  render();
}

function connect() {
  const source = new EventSource('/api/live/stream');
  source.addEventListener('open', () => setStatus('live', 'live'));
  source.addEventListener('power', (e) => {
    for (const p of JSON.parse(e.data)) addPoint(p);
    render();
  });
  source.addEventListener('error', () => setStatus('reconnecting…', 'error'));
}

function cell(value, digits) {
  const td = document.createElement('td');
  if (typeof value === 'number') td.className = 'num';
  td.textContent = fmt(value, digits);
  return td;
}

/** Sorts rows by `key` in direction `dir` (1 ascending), missing values last either way. */
function sortRows(rows, key, dir) {
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
}

/** The runs list's columns: who and when, then the fields the run's definition lists (`list`), then the overlay box. */
function listColumns() {
  return [
    ...[['model', 'model'], ['platform', 'platform'], ['kind', 'kind'], ['status', 'status'], ['started_at', 'started']].map(([key, label]) => ({ key, label, value: (r) => (key === 'started_at' ? new Date(r.started_at).toLocaleString() : r[key]), sortBy: (r) => r[key] })),
    ...state.fields
      .filter((f) => f.list)
      .map((f) => {
        const show = LIST_FORMAT[f.name] ?? ((r) => (typeof r[f.name] === 'number' ? r[f.name] * (f.list.scale ?? 1) : r[f.name]));
        return { key: f.name, label: f.list.label, numeric: !LIST_FORMAT[f.name], digits: f.list.digits, title: f.doc, value: show, sortBy: show };
      }),
  ];
}

function renderRunsHead() {
  const tr = $('#runs thead tr');
  tr.textContent = '';
  for (const c of listColumns()) {
    const th = document.createElement('th');
    th.dataset.key = c.key;
    th.textContent = c.label;
    if (c.numeric) th.className = 'num';
    if (c.title) th.title = c.title;
    th.addEventListener('click', () => {
      state.sort = { key: c.key, dir: state.sort.key === c.key ? -state.sort.dir : -1 };
      renderRuns();
    });
    tr.append(th);
  }
  const pick = document.createElement('th');
  pick.dataset.key = 'overlay';
  pick.className = 'pick';
  pick.title = "draw this run's power curve below, aligned at its start";
  pick.textContent = 'overlay';
  tr.append(pick);
}

function renderRuns() {
  const { key, dir } = state.sort;
  const columns = listColumns();
  const by = columns.find((c) => c.key === key) ?? columns[0];
  const rows = sortRows(state.runs.map((r) => ({ run: r, [key]: by.sortBy(r) })), key, dir).map((x) => x.run);
  const body = $('#runs tbody');
  body.textContent = '';
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.runId = r.run_id;
    tr.append(...columns.map((c) => cell(c.value(r), c.digits)), pickCell(r));
    tr.addEventListener('click', () => void openRun(r.run_id));
    body.append(tr);
  }
  $('#runs-empty').hidden = rows.length > 0;
  for (const th of document.querySelectorAll('#runs th:not(.pick)')) th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
}

/** The overlay checkbox of a run: ticking it draws the run's curve below (and does not open its detail). */
function pickCell(r) {
  const td = document.createElement('td');
  td.className = 'pick';
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = state.overlay.has(r.run_id);
  box.setAttribute('aria-label', `draw ${r.model} (${r.run_id}) in the overlay`);
  box.addEventListener('click', (e) => e.stopPropagation());
  box.addEventListener('change', () => {
    if (box.checked) state.overlay.add(r.run_id);
    else state.overlay.delete(r.run_id);
    void renderOverlay();
  });
  td.append(box);
  return td;
}

/** The series a run belongs to, short, and whether it was a warm-up. */
function seriesLabel(r) {
  if (!r.series_id) return null;
  return `${r.series_id.slice(0, 10)}${r.warmup ? ' (warm-up)' : ''}`;
}

/** The run's GPUs in a few characters: "all", "none", or the ones it named. */
function gpusLabel(r) {
  if (r.gpus === null || r.gpus === undefined) return 'all';
  return r.gpus.length === 0 ? 'none' : r.gpus.join(',');
}

async function loadFields() {
  const res = await fetch('/api/run-fields');
  if (!res.ok) throw new Error(`run fields: ${res.status}`);
  state.fields = (await res.json()).fields;
  renderRunsHead();
  renderCompareHead();
}

async function loadRuns() {
  const res = await fetch('/api/runs?limit=200');
  if (!res.ok) return;
  state.runs = (await res.json()).runs;
  renderRuns();
  // the comparison changes when a run completes (or one is imported, corrected): read it again then
  const completed = state.runs.filter((r) => r.status === 'completed').map((r) => `${r.run_id}/${r.platform}`).join(',');
  if (completed !== state.completedSignature) {
    state.completedSignature = completed;
    void loadCompare();
  }
}

async function openRun(id) {
  const [summary, curve] = await Promise.all([fetch(`/api/runs/${encodeURIComponent(id)}`).then((r) => r.json()), fetch(`/api/runs/${encodeURIComponent(id)}/power`).then((r) => r.json())]);
  state.openRun = id;
  $('#detail').hidden = false;
  $('#detail-title').textContent = `Run ${summary.model} on ${summary.platform} (${summary.status})`;
  const dl = $('#detail-values');
  dl.textContent = '';
  const items = [
    ['duration', `${fmt(summary.duration_s, 1)} s`], ['energy', `${fmt(summary.energy_wh, 4)} Wh (${fmt(summary.energy_j, 1)} J)`], ['net energy', `${fmt(summary.energy_net_j, 1)} J`],
    ['GPUs', summary.gpus === null ? 'every GPU of its hosts' : `${gpusLabel(summary)} (${summary.gpus_from})`],
    ['not in this run', summary.sources.filter((s) => !s.in_run).map((s) => s.source).join(', ') || '—'],
    ['host energy', `${fmt(summary.energy_host_j, 1)} J`],
    ['attributed', summary.energy_attributed_j === null ? '— (no collector followed its processes)' : `${fmt(summary.energy_attributed_j, 1)} J to its own processes${summary.score_energy === 'attributed' ? ' (scores use it)' : ''}`],
    ['attributed by', summary.attributed ? summary.attributed.model : '—'],
    ['average power', `${fmt(summary.avg_power_w, 1)} W`], ['average GPU power', `${fmt(summary.avg_gpu_power_w, 1)} W`], ['GPU utilisation', `${fmt(summary.avg_gpu_util_pct, 1)} %`],
    ['GPU memory', `${fmt(summary.avg_gpu_mem_pct, 1)} %`], ['CPU', `${fmt(summary.avg_cpu_pct, 1)} %`], ['coverage', `${fmt(summary.coverage === null ? null : summary.coverage * 100, 1)} %${summary.partial ? ' (partial)' : ''}`],
    ['steady part', summary.steady_power_w === null ? `— (${summary.steady_reason ?? 'not measured'})` : `${fmt(summary.steady_s, 1)} s at ${fmt(summary.steady_power_w, 1)} W (rise ${fmt(summary.steady_rise_s, 1)} s and tail ${fmt(summary.steady_tail_s, 1)} s trimmed)`],
    ['series', summary.series_id ? `${summary.series_id}${summary.warmup ? ' (a warm-up run, not counted)' : ''}` : '—'],
    // its figures and scores, one line each, as the run's definition lists them (`detail`)
    ...state.fields.filter((f) => f.detail).map((f) => [f.detail.label, summary[f.name] === null || summary[f.name] === undefined || !f.unit ? fmt(summary[f.name], f.detail.digits) : `${fmt(summary[f.name], f.detail.digits)} ${f.unit}`]),
  ];
  const pair = (name, value) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    div.append(dt, dd);
    dl.append(div);
  };
  for (const [name, value] of items) pair(name, value);
  // the steady part's reason is said above, with the steady part
  for (const [name, reason] of Object.entries(summary.null_reasons || {})) if (name !== 'energy_per_inference_steady_uwh') pair(`${name} is empty`, reason);
  const el = $('#run-chart');
  el.textContent = '';
  const data = [curve.times.map((t) => t / 1000), ...curve.series.map((s) => s.power_w)];
  new uPlot(
    {
      width: Math.max(320, el.clientWidth),
      height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: 'W', size: 60 }],
      series: [{}, ...curve.series.map((s, i) => ({ label: `${s.host} ${s.source}`, stroke: COLORS[i % COLORS.length], dash: s.in_total ? undefined : [6, 4] }))],
    },
    data,
    el,
  );
}

/** Decimals that give `v` four significant digits, as the paper tables print it (api/domain/tables.ts). */
function decimalsFor(v) {
  if (v === 0 || !Number.isFinite(v)) return 0;
  return Math.min(8, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v)))));
}

const fixed = (v, d) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
/** A number to four significant digits, or — */
const sig = (v) => (v === null || v === undefined ? '—' : fixed(v, decimalsFor(v)));
/** mean ± sd, the sd to the mean's decimals */
function meanSd(s) {
  if (!s || s.mean === null) return '—';
  const d = decimalsFor(s.mean);
  return s.std === null ? fixed(s.mean, d) : `${fixed(s.mean, d)} ± ${fixed(s.std, d)}`;
}

async function loadCompare() {
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
function renderMatrix() {
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
function compareColumns() {
  const epi = 'energy_per_inference_uwh';
  const compared = state.fields.filter((f) => f.compare);
  const stat = (k) => (r) => r.scores[epi][k];
  const num = (key, label, value, opts = {}) => ({ key, label, numeric: true, value, ...opts });
  return [
    { key: 'model', label: 'model', value: (r) => r.model },
    { key: 'platform', label: 'platform', value: (r) => r.platform },
    num('n', 'n', stat('n'), { title: 'completed runs, warm-ups left out', show: (v) => String(v) }),
    num('epi_mean', 'µWh / inference', stat('mean'), { epi: true }),
    num('epi_std', 'sd', stat('std'), { epi: true }),
    num('epi_cv', 'CV %', (r) => (r.scores[epi].cv === null ? null : r.scores[epi].cv * 100), { title: 'coefficient of variation: sd / mean (the paper saw < 2 %)', show: (v) => fixed(v, 2), flag: (v) => v > 2 }),
    num('epi_ci', '95 % CI', stat('ci95_low'), { title: "95 % confidence interval of the mean, Student's t", show: (v, r, d) => `${fixed(r.scores[epi].ci95_low, d)} – ${fixed(r.scores[epi].ci95_high, d)}` }),
    ...compared.filter((f) => f.name !== epi).map((f) => num(`mean:${f.name}`, f.compare.label, (r) => r.scores[f.name].mean, { title: f.doc, show: sig })),
    num('rel_epi', '× ref µWh', (r) => (r.relative ? r.relative[epi] : null), { ref: true, show: sig }),
    num('rel_composite', '× ref composite', (r) => (r.relative ? r.relative.composite_score : null), { ref: true, show: sig }),
    ...compared.filter((f) => f.compare.rank).map((f) => num(`rank:${f.name}`, `rank ${f.name === epi ? 'µWh' : f.compare.label}`, (r) => r.ranks[f.name], { title: `rank on its platform, 1 = ${f.compare.better === 'lower' ? 'least' : 'most'} ${f.compare.label}`, show: (v) => String(v) })),
    { key: 'series', label: 'series', value: (r) => (r.series.length ? r.series.map((id) => id.slice(0, 10)).join(', ') : null) },
  ];
}

function renderCompareHead() {
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
function renderCompareTable() {
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
async function curveOf(id) {
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
async function renderOverlay() {
  const generation = ++state.overlayGeneration;
  const ids = [...state.overlay];
  const loaded = await Promise.all(ids.map(curveOf));
  // a newer tick or untick has drawn (or will draw) the chart: this answer is stale
  if (generation !== state.overlayGeneration) return;
  const el = $('#overlay-chart');
  if (state.overlayChart) state.overlayChart.destroy();
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
      width: Math.max(320, el.clientWidth),
      height: 320,
      scales: { x: { time: false } },
      axes: [{ label: 's since the run started', size: 40 }, { label: 'W', size: 60 }],
      series: [
        { label: 's', value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} s`) },
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
  state.overlayChart = chart;
  // for whoever reads the chart back (the tests): what is drawn, by series
  el.uplot = chart;
}

function init() {
  $('#reference').addEventListener('change', (e) => {
    state.reference = e.target.value;
    void loadCompare();
  });
  $('#overlay-clear').addEventListener('click', () => {
    state.overlay.clear();
    for (const box of document.querySelectorAll('#runs td.pick input')) box.checked = false;
    void renderOverlay();
  });
  // loaded with the runs, and again whenever the completed runs change (loadRuns); a run older
  // than the runs list (200 newest) changes it rarely: once a minute catches that
  setInterval(() => void loadCompare(), 60_000);
  $('#host').addEventListener('change', (e) => {
    state.host = e.target.value;
    void loadHistory();
  });
  $('#detail-close').addEventListener('click', () => {
    $('#detail').hidden = true;
  });
  loadHistory().then(connect, (e) => {
    setStatus(`cannot load history (${e.message})`, 'error');
    connect();
  });
  // the columns of the runs list and the comparison come from the run's definition
  loadFields().then(
    () => {
      void loadRuns();
      setInterval(() => void loadRuns(), 3000);
    },
    (e) => setStatus(`cannot load the run fields (${e.message})`, 'error'),
  );
}

init();
