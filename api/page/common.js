// The page's shared state and helpers (an ES module: no framework, no build step, nothing from outside this server).

export const WINDOW_MS = 15 * 60 * 1000;
export const BASELINE_COLOR = '#667085';
export const COLORS = ['#0b7a75', '#d9480f', '#5f3dc4', '#1971c2', '#c2255c', '#2b8a3e', '#e67700', '#495057', '#0c8599', '#862e9c'];
export const $ = (sel) => document.querySelector(sel);

export const state = {
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

export const keyOf = (p) => `${p.host}\u0000${p.source}`;
export const fmt = (v, digits = 2) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString(undefined, { maximumFractionDigits: digits }) : String(v));

export function setStatus(text, s) {
  const el = $('#status');
  el.textContent = text;
  el.dataset.state = s;
}

export function cell(value, digits) {
  const td = document.createElement('td');
  if (typeof value === 'number') td.className = 'num';
  td.textContent = fmt(value, digits);
  return td;
}

/** Sorts rows by `key` in direction `dir` (1 ascending), missing values last either way. */
export function sortRows(rows, key, dir) {
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
}

