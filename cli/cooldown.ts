/**
 * Whether a host has cooled down after a run (pure): the paper waited between runs to see idle
 * power again; `wattscope bench --cooldown auto` waits until the host's power is back within a
 * tolerance of its idle baseline for a few seconds in a row.
 *
 * Collectors send their points every flush interval (5 s by default), so the latest seconds of
 * the live table are often incomplete: only columns where every in-total source has a value
 * count, and only columns after the run's end, so that neither a late column nor the run's own
 * tail can pass for idle.
 */
import type { LivePower } from '../clients/ts/client.js';

/** Within this fraction of the idle power (or COOL_ABS_W, whichever is larger) counts as idle. */
export const COOL_REL = 0.1;
export const COOL_ABS_W = 2;
/** seconds (one-second columns) in a row that must be idle */
export const COOL_HOLD = 3;

export function toleranceW(idleW: number): number {
  return Math.max(COOL_REL * idleW, COOL_ABS_W);
}

/** The host's total power per column from `sinceMs` on: the columns where every in-total source has a value. */
export function completeTotals(live: LivePower, sinceMs: number): Array<{ timeMs: number; watts: number }> {
  const sources = live.series.filter((s) => s.in_total && s.power_w.some((w) => w !== null));
  if (sources.length === 0) return [];
  const out: Array<{ timeMs: number; watts: number }> = [];
  live.times.forEach((timeMs, i) => {
    if (timeMs < sinceMs) return;
    const ws = sources.map((s) => s.power_w[i]);
    if (ws.every((w): w is number => typeof w === 'number')) out.push({ timeMs, watts: ws.reduce((a, b) => a + b, 0) });
  });
  return out;
}

export interface CoolState {
  settled: boolean;
  /** the latest complete total, if any */
  nowW: number | undefined;
}

/**
 * Settled when the last COOL_HOLD complete columns since `sinceMs` are all within the tolerance
 * above `idleW`. Below it counts too: a host that idles lower than its baseline has cooled down,
 * and waiting would not bring it up.
 */
export function coolState(live: LivePower, sinceMs: number, idleW: number, hold = COOL_HOLD): CoolState {
  const totals = completeTotals(live, sinceMs);
  const last = totals.slice(-hold);
  const tol = toleranceW(idleW);
  return { settled: last.length === hold && last.every((t) => t.watts - idleW <= tol), nowW: totals.at(-1)?.watts };
}
