// The runs list (its columns from the run's definition) and a run's detail.
import { $, COLORS, cell, chartWidth, elapsedAxis, fitWidth, fmt, sortRows, state } from './common.js';
import { loadCompare, renderCompareHead, renderOverlay } from './compare.js';

/** How a field of the runs list shows: a few fields read better as words. */
export const LIST_FORMAT = {
  gpus: (r) => gpusLabel(r),
  series_id: (r) => seriesLabel(r),
};

/** The runs list's columns: who and when, then the fields the run's definition lists (`list`), then the overlay box. */
export function listColumns() {
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

export function renderRunsHead() {
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

export function renderRuns() {
  const { key, dir } = state.sort;
  const columns = listColumns();
  const by = columns.find((c) => c.key === key) ?? columns[0];
  const rows = sortRows(state.runs.map((r) => ({ run: r, [key]: by.sortBy(r) })), key, dir).map((x) => x.run);
  const body = $('#runs tbody');
  body.textContent = '';
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.runId = r.run_id;
    tr.append(...columns.map((c) => cell(c.value(r), c.digits, c.numeric)), pickCell(r));
    tr.addEventListener('click', () => void (state.openRun === r.run_id ? closeRun() : openRun(r.run_id)));
    body.append(tr);
  }
  placeDetail();
  $('#runs-empty').hidden = rows.length > 0;
  for (const th of document.querySelectorAll('#runs th:not(.pick)')) th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
}

/** The overlay checkbox of a run: ticking it draws the run's curve below (and does not open its detail). */
export function pickCell(r) {
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
export function seriesLabel(r) {
  if (!r.series_id) return null;
  return `${r.series_id.slice(0, 10)}${r.warmup ? ' (warm-up)' : ''}`;
}

/** The run's GPUs in a few characters: "all", "none", or the ones it named. */
export function gpusLabel(r) {
  if (r.gpus === null || r.gpus === undefined) return 'all';
  return r.gpus.length === 0 ? 'none' : r.gpus.join(',');
}

export async function loadFields() {
  const res = await fetch('/api/run-fields');
  if (!res.ok) throw new Error(`run fields: ${res.status}`);
  state.fields = (await res.json()).fields;
  renderRunsHead();
  renderCompareHead();
}

export async function loadRuns() {
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

/** The run detail's section (moved between its home below the list and a row under the open run). */
const detail = document.getElementById('detail');
const detailHome = document.getElementById('runs-empty');

/** The open run's detail, in a row right under the run's own row (or back home, hidden, when none is open). */
export function placeDetail() {
  for (const old of document.querySelectorAll('#runs tr.detail-row')) old.remove();
  const row = state.openRun === null ? null : document.querySelector(`#runs tbody tr[data-run-id="${CSS.escape(state.openRun)}"]`);
  for (const tr of document.querySelectorAll('#runs tbody tr[data-run-id]')) tr.setAttribute('aria-expanded', String(tr === row));
  if (!row) {
    detail.hidden = true;
    detailHome.before(detail);
    return;
  }
  const tr = document.createElement('tr');
  tr.className = 'detail-row';
  const td = document.createElement('td');
  td.colSpan = row.children.length;
  td.append(detail);
  tr.append(td);
  row.after(tr);
  fitDetail();
}

/** The detail as wide as the list's visible box, not as the wide table: it stays in view while the table scrolls sideways. */
function fitDetail() {
  const width = $('#runs-wrap').clientWidth;
  if (width > 0) detail.style.width = `${width}px`;
}
new ResizeObserver(() => requestAnimationFrame(fitDetail)).observe(document.getElementById('runs-wrap'));

export function closeRun() {
  state.openRun = null;
  if (state.runChart) {
    state.runChart.unfit();
    state.runChart.destroy();
    state.runChart = null;
  }
  placeDetail();
}

/** A label for a field of the summary: its label in the run's definition (the detail's, the list's, the comparison's). */
export function fieldLabel(name) {
  const f = state.fields.find((x) => x.name === name);
  return f?.detail?.label ?? f?.list?.label ?? f?.compare?.label ?? name.replace(/_/g, ' ');
}

/** A quantity with its unit, or — alone when there is none. */
const qty = (v, digits, unit) => (v === null || v === undefined || !unit ? fmt(v, digits) : `${fmt(v, digits)} ${unit}`);

export async function openRun(id) {
  const [summary, curve] = await Promise.all([fetch(`/api/runs/${encodeURIComponent(id)}`).then((r) => r.json()), fetch(`/api/runs/${encodeURIComponent(id)}/power`).then((r) => r.json())]);
  state.openRun = id;
  placeDetail();
  detail.hidden = false;
  $('#detail-title').textContent = `Run ${summary.model} on ${summary.platform} (${summary.status})`;
  const dl = $('#detail-values');
  dl.textContent = '';
  const items = [
    ['duration', qty(summary.duration_s, 1, 's')], ['energy', `${fmt(summary.energy_wh, 4)} Wh (${fmt(summary.energy_j, 1)} J)`], ['net energy', qty(summary.energy_net_j, 1, 'J')],
    ['GPUs', summary.gpus === null ? 'every GPU of its hosts' : `${gpusLabel(summary)} (${summary.gpus_from})`],
    ['not in this run', summary.sources.filter((s) => !s.in_run).map((s) => s.source).join(', ') || '—'],
    ['host energy', qty(summary.energy_host_j, 1, 'J')],
    ['attributed', summary.energy_attributed_j === null ? '— (no collector followed its processes)' : `${fmt(summary.energy_attributed_j, 1)} J to its own processes${summary.score_energy === 'attributed' ? ' (scores use it)' : ''}`],
    ['attributed by', summary.attributed ? summary.attributed.model : '—'],
    ['average power', qty(summary.avg_power_w, 1, 'W')], ['average GPU power', qty(summary.avg_gpu_power_w, 1, 'W')], ['GPU utilisation', qty(summary.avg_gpu_util_pct, 1, '%')],
    ['GPU memory', qty(summary.avg_gpu_mem_pct, 1, '%')], ['CPU', qty(summary.avg_cpu_pct, 1, '%')], ['coverage', `${qty(summary.coverage === null ? null : summary.coverage * 100, 1, '%')}${summary.partial ? ' (partial)' : ''}`],
    ['steady part', summary.steady_power_w === null ? `— (${summary.steady_reason ?? 'not measured'})` : `${fmt(summary.steady_s, 1)} s at ${fmt(summary.steady_power_w, 1)} W (rise ${fmt(summary.steady_rise_s, 1)} s and tail ${fmt(summary.steady_tail_s, 1)} s trimmed)`],
    ['series', summary.series_id ? `${summary.series_id}${summary.warmup ? ' (a warm-up run, not counted)' : ''}` : '—'],
    // its figures and scores, one line each, as the run's definition lists them (`detail`); an
    // empty one is said below, with why it is empty
    ...state.fields
      .filter((f) => f.detail && summary[f.name] !== null && summary[f.name] !== undefined)
      .map((f) => [f.detail.label, qty(summary[f.name], f.detail.digits, f.unit)]),
  ];
  const pair = (name, value, why) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (why) dd.append(' ', Object.assign(document.createElement('span'), { className: 'why', textContent: why }));
    div.append(dt, dd);
    dl.append(div);
  };
  for (const [name, value] of items) pair(name, value);
  // the empty figures and scores, by their labels, those empty for one reason on one line (the
  // steady part's reason is said above, with the steady part)
  const empty = new Map();
  for (const [name, reason] of Object.entries(summary.null_reasons || {})) {
    if (name === 'energy_per_inference_steady_uwh' && summary.steady_power_w === null) continue;
    empty.set(reason, [...(empty.get(reason) ?? []), fieldLabel(name)]);
  }
  for (const [reason, labels] of empty) pair(labels.join(', '), '—', reason);
  if (state.runChart) {
    state.runChart.unfit();
    state.runChart.destroy();
  }
  const el = $('#run-chart');
  el.textContent = '';
  // against the time since the run started, in the unit its length reads best in (not a clock
  // crowded with milliseconds for a run of a few seconds); a bucket's power at its middle
  const bucket = curve.times.length > 1 ? Math.min(...curve.times.slice(1).map((t, i) => t - curve.times[i])) : 1000;
  const data = [curve.times.map((t) => (t + bucket / 2 - curve.started_at_ms) / 1000), ...curve.series.map((s) => s.power_w)];
  const hosts = [...new Set(curve.series.map((s) => s.host))];
  const oneHost = hosts.length === 1;
  state.runChart = new uPlot(
    {
      width: chartWidth(el),
      height: 260,
      scales: { x: { time: false } },
      axes: [elapsedAxis('since the run started'), { label: oneHost ? `W, ${hosts[0]}` : 'W', size: 50 }],
      series: [{ label: 'since start', value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} s`) }, ...curve.series.map((s, i) => ({ label: oneHost ? s.source : `${s.host} ${s.source}`, stroke: COLORS[i % COLORS.length], dash: s.in_total ? undefined : [6, 4], value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} W`) }))],
    },
    data,
    el,
  );
  state.runChart.unfit = fitWidth(state.runChart, el);
  el.uplot = state.runChart;
  document.querySelector('#runs tr.detail-row')?.scrollIntoView({ block: 'nearest' });
}
