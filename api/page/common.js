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
  /** the open run's chart */
  runChart: null,
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
/** A number to exactly `digits` decimals (a column's numbers all alike), anything else as text, — for none. */
export const fmt = (v, digits = 2) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(v));

export function setStatus(text, s) {
  const el = $('#status');
  el.textContent = text;
  el.dataset.state = s;
}

/** A table cell; a number's column (`numeric`) right-aligns its — too, so that the column reads as one. */
export function cell(value, digits, numeric = typeof value === 'number') {
  const td = document.createElement('td');
  if (numeric) td.className = 'num';
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

/**
 * Keeps a uPlot chart as wide as its container: the page never scrolls sideways for a chart, and
 * a phone turned or a window resized redraws it at the new width. Returns what stops following.
 */
export function fitWidth(chart, el) {
  let frame = 0;
  const observer = new ResizeObserver(() => {
    // on the next frame: resizing inside the observer's callback would notify it again at once
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const width = el.clientWidth;
      if (width > 0 && width !== chart.width) chart.setSize({ width, height: chart.height });
    });
  });
  observer.observe(el);
  return () => {
    cancelAnimationFrame(frame);
    observer.disconnect();
  };
}

/** The width to draw a chart at first: its container's (a hidden one reports 0). */
export const chartWidth = (el) => el.clientWidth || Math.min(600, document.documentElement.clientWidth - 40);

/** Tick steps of a time axis in seconds: whole seconds and round minutes and hours, never milliseconds. */
export const CLOCK_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** A clock time axis (x in seconds since the epoch): one line per label, hh:mm, or hh:mm:ss below a minute's step. */
export const clockAxis = {
  space: 70,
  incrs: CLOCK_INCRS,
  values: (u, splits, axis, space, incr) =>
    splits.map((s) => new Date(s * 1000).toLocaleTimeString(undefined, incr < 60 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })),
};

/** Tick steps of an elapsed-time axis in seconds: tenths only for runs of a few seconds. */
export const ELAPSED_INCRS = [0.1, 0.2, 0.5, ...CLOCK_INCRS];

/** Seconds as an elapsed time: `12 s` (`1.5 s` below a second's step), `4:30` past two minutes, `2:05:00` past two hours. */
export function elapsed(s, incr, span) {
  const sign = s < 0 ? '−' : '';
  const a = Math.abs(s);
  if (span < 120) return `${sign}${a.toFixed(incr < 1 ? 1 : 0)} s`;
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const sec = Math.round(a % 60);
  const two = (n) => String(n).padStart(2, '0');
  return span < 7200 ? `${sign}${h * 60 + m}:${two(sec)}` : `${sign}${h}:${two(m)}:${two(sec)}`;
}

/** An elapsed-time axis (x in seconds since a start), labelled in the unit its span reads best in. */
export const elapsedAxis = (label) => ({
  label,
  size: 44,
  space: 60,
  incrs: ELAPSED_INCRS,
  values: (u, splits, axis, space, incr) => {
    const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
    return splits.map((s) => elapsed(s, incr, span));
  },
});
