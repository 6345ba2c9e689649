// Wattscope live page: no framework, no build step, nothing from outside this server.
'use strict';

const WINDOW_MS = 15 * 60 * 1000;
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

function renderRuns() {
  const { key, dir } = state.sort;
  const rows = [...state.runs].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const body = $('#runs tbody');
  body.textContent = '';
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.runId = r.run_id;
    tr.append(
      cell(r.model), cell(r.platform), cell(r.kind), cell(r.status), cell(new Date(r.started_at).toLocaleString()),
      cell(r.duration_s, 1), cell(r.energy_wh, 4), cell(r.energy_per_inference_uwh, 2), cell(r.accuracy, 4),
      cell(r.composite_score, 2), cell(r.netscore, 2), cell(r.info_density, 3),
      cell(r.gpus_label), cell(r.energy_host_wh, 4), cell(r.energy_attributed_wh, 4),
    );
    tr.addEventListener('click', () => void openRun(r.run_id));
    body.append(tr);
  }
  $('#runs-empty').hidden = rows.length > 0;
  for (const th of document.querySelectorAll('#runs th')) th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
}

/** The run's GPUs in a few characters: "all", "none", or the ones it named. */
function gpusLabel(r) {
  if (r.gpus === null || r.gpus === undefined) return 'all';
  return r.gpus.length === 0 ? 'none' : r.gpus.join(',');
}

const wh = (j) => (j === null || j === undefined ? null : j / 3600);

async function loadRuns() {
  const res = await fetch('/api/runs?limit=200');
  if (!res.ok) return;
  state.runs = (await res.json()).runs.map((r) => ({ ...r, gpus_label: gpusLabel(r), energy_host_wh: wh(r.energy_host_j), energy_attributed_wh: wh(r.energy_attributed_j) }));
  renderRuns();
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
    ['inferences', fmt(summary.inferences, 0)], ['accuracy', fmt(summary.accuracy, 4)], ['µWh / inference', fmt(summary.energy_per_inference_uwh, 3)],
    ['composite score', fmt(summary.composite_score, 3)], ['NetScore', fmt(summary.netscore, 3)], ['information density', fmt(summary.info_density, 4)],
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
  for (const [name, reason] of Object.entries(summary.null_reasons || {})) pair(`${name} is empty`, reason);
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

function init() {
  for (const th of document.querySelectorAll('#runs th')) {
    th.addEventListener('click', () => {
      state.sort = { key: th.dataset.key, dir: state.sort.key === th.dataset.key ? -state.sort.dir : -1 };
      renderRuns();
    });
  }
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
  void loadRuns();
  setInterval(() => void loadRuns(), 3000);
}

init();
