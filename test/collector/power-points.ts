/** Reading a fixture host's `power` points back from InfluxDB, and the checks the end-to-end tests make on them. */
import { expect } from 'vitest';
import { ident, iql, str, type InfluxStore } from '../../common/storage/index.js';

export const RAPL_RANGE_UJ = 262143328850;
/** desktop-intel's package counter, as the stand-in driver advances it */
export const PKG_ENERGY = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';

export interface PowerRow {
  time: number;
  energy_j: number;
  interval_s: number;
  power_w: number;
  [k: string]: number | string | boolean | null;
}

export async function sourcePoints(store: InfluxStore, source = 'rapl/package-0'): Promise<PowerRow[]> {
  return store.rows<PowerRow>(iql`SELECT ${ident('energy_j')}, ${ident('interval_s')}, ${ident('power_w')} FROM ${ident('power')} WHERE ${ident('source')} = ${str(source)}`);
}

/** Each point's interval must start where the previous one ended (±30 ms): no gap, no overlap. */
export function gaps(rows: readonly PowerRow[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const prev = rows[i - 1] as PowerRow;
    const row = rows[i] as PowerRow;
    const start = row.time - row.interval_s * 1000;
    if (Math.abs(start - prev.time) > 30) out.push(start - prev.time);
  }
  return out;
}

/** The energy of a stretch of points against a known power, as a relative error. */
export function energyError(rows: readonly PowerRow[], watts: number): number {
  const e = rows.reduce((a, r) => a + r.energy_j, 0);
  const t = rows.reduce((a, r) => a + r.interval_s, 0);
  return Math.abs(e - watts * t) / (watts * t);
}

/**
 * How stale a stand-in's counter can be when the collector reads it on a loaded machine: the
 * driver process (or the stand-in server) waits to be scheduled, and the counter shows an older
 * moment — 0.67 s was seen (the DCGM stand-in, the suite run with both cores kept busy).
 */
export const STANDIN_STALENESS_S = 1;

/**
 * The bound on a run's energy against the truth over `seconds`: 1 %, plus a stand-in counter
 * driven at `drivenW`'s staleness at one edge of the window and not the other, as a share of
 * `watts` (the driven counter's or, diluted by steady sources beside it, the host's).
 */
export function runBound(seconds: number, watts: number, drivenW: number): number {
  return 0.01 + (drivenW * STANDIN_STALENESS_S) / (watts * seconds);
}

/**
 * The bound on a stretch's energy error against a stand-in: 0.5 %, plus the counter's staleness
 * at one end and not the other over the stretch's length. Long stretches stay within a few tenths
 * of a percent; short ones (a few seconds of points) are held to what the stand-in allows, and
 * a point lost or sent twice is caught by gaps() and the uniqueness checks beside it.
 */
export function energyBound(rows: readonly PowerRow[]): number {
  return 0.005 + STANDIN_STALENESS_S / rows.reduce((a, r) => a + r.interval_s, 0);
}

/**
 * Per point, the stand-in hardware's own scheduling shows: on a busy machine its 1 ms steps are
 * late now and then, and one interval gets part of its neighbour's energy (the sums are exact,
 * and checked to 0.5 %). Here: the typical point is right to 1 %, and no point is off by half or
 * more — a point is off by how much staler the counter was at its second reading than at its
 * first, and a loaded machine was seen to pause the driver for a third of a point (0.336); a lost
 * or repeated interval is 100 % off, a mis-handled wrap by the counter's whole range.
 */
export function expectSteady(rows: ReadonlyArray<Pick<PowerRow, 'power_w'>>, watts: number): void {
  const sorted = rows.map((r) => r.power_w).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  expect(Math.abs(median - watts) / watts).toBeLessThan(0.01);
  for (const r of rows) expect(Math.abs(r.power_w - watts) / watts).toBeLessThan(0.5);
}

/** One scrape of the collector's /metrics, with when it began and ended (wall clock). */
export interface Scrape {
  text: string;
  startMs: number;
  endMs: number;
}

export async function scrapeMetrics(port: number): Promise<Scrape> {
  const startMs = Date.now();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { text, startMs, endMs: Date.now() };
}

/** The value of the one sample of `name` with exactly these labels in a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]);
    if (JSON.stringify(got.sort()) === want) values.push(Number(m[3]));
  }
  if (values.length > 1) throw new Error(`${name} ${want} appears ${values.length} times`);
  return values[0];
}

/**
 * The collector's power gauge for the RAPL package, against the points it stored: the gauge
 * holds the power of the interval last reported before the scrape, so it is exactly the power_w
 * of the last point stored at or before the scrape began, or of one stored while it ran; and, as
 * every point in the end-to-end tests, it is within a quarter of the driven power (the stand-in's
 * 1 ms steps run late now and then on a busy machine; the stored points' median is checked to 1 %).
 */
export function expectPackageGauge(scrape: Scrape, rows: ReadonlyArray<{ time: number; power_w: number }>, watts: number): void {
  const gauge = metricValue(scrape.text, 'wattscope_power_watts', { source: 'rapl/package-0', domain: 'cpu', method: 'counter', in_total: 'true' });
  expect(gauge, 'wattscope_power_watts of rapl/package-0').toBeTypeOf('number');
  expect(Math.abs((gauge as number) - watts) / watts).toBeLessThan(0.25);
  const lastBefore = rows.filter((r) => r.time <= scrape.startMs).at(-1);
  const during = rows.filter((r) => r.time > scrape.startMs && r.time <= scrape.endMs);
  expect(lastBefore, 'a point stored before the scrape').toBeDefined();
  expect([lastBefore, ...during].map((r) => r?.power_w), 'the gauge is the power of the last reported interval').toContain(gauge);
}
