// Live power: the last 15 minutes per source, then the points the stream sends as they land.
import { $, COLORS, WINDOW_MS, chartWidth, clockAxis, fitWidth, keyOf, setStatus, state } from './common.js';

export function addPoint(p) {
  if (state.host && p.host !== state.host) return;
  let s = state.series.get(keyOf(p));
  if (!s) {
    s = { meta: p, values: new Map() };
    state.series.set(keyOf(p), s);
  }
  s.values.set(p.t, p.power_w);
}

export function seriesList() {
  return [...state.series.values()].sort((a, b) => a.meta.host.localeCompare(b.meta.host) || a.meta.source.localeCompare(b.meta.source));
}

export function render() {
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
  // one host: its name once, in the axis's label, not before each source
  const hosts = new Set(list.map((s) => s.meta.host));
  const names = list.map((s) => `${hosts.size > 1 ? `${s.meta.host} ` : ''}${s.meta.source} (${s.meta.method})`);
  const signature = names.join('|');
  if (!state.chart || state.chart.signature !== signature) {
    if (state.chart) {
      state.chart.unfit();
      state.chart.destroy();
    }
    el.textContent = '';
    state.chart = new uPlot(
      {
        width: chartWidth(el),
        height: 320,
        scales: { x: { time: true } },
        // one line per label, as wide as the others: the first no longer runs into the second
        axes: [clockAxis, { label: hosts.size === 1 ? `W, ${[...hosts][0]}` : 'W', size: 50 }],
        series: [{}, ...list.map((s, i) => ({ label: names[i], stroke: COLORS[i % COLORS.length], width: 1.5, dash: s.meta.in_total ? undefined : [6, 4], spanGaps: false, value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} W`) }))],
      },
      data,
      el,
    );
    state.chart.signature = signature;
    state.chart.unfit = fitWidth(state.chart, el);
    // for whoever reads the chart back (the tests): its axes, as drawn
    el.uplot = state.chart;
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

export async function loadHistory() {
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

export function connect() {
  const source = new EventSource('/api/live/stream');
  source.addEventListener('open', () => setStatus('live', 'live'));
  source.addEventListener('power', (e) => {
    for (const p of JSON.parse(e.data)) addPoint(p);
    render();
  });
  source.addEventListener('error', () => setStatus('reconnecting…', 'error'));
}
