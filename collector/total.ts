/**
 * Which power channels add up to the host's energy (pure; docs/DATA-MODEL.md `in_total`).
 * Sources say what each channel measures — never what another source reads — and this one
 * policy, over every channel discovered, decides which count, which sit inside another, and
 * which repeat another:
 * - the same device read twice (a RAPL zone and its MMIO twin; AMD's per-CCD views of one
 *   package counter; `amd_energy` beside RAPL; one GPU through NVML, DCGM, nvidia-smi and
 *   hwmon) counts once: a counter before an instantaneous power before an averaged one before
 *   an estimate, then the source's own preference;
 * - a part (RAPL core and uncore, an INA rail) counts only where nothing measures its whole;
 * - a whole-machine reading (RAPL psys, a board's input rail, a battery discharging) counts
 *   only where no CPU package is measured, and then alone: it covers everything else;
 * - the CPU estimate counts only where nothing measures the CPU;
 * - a sensor of unknown scope (ACPI power_meter, an unknown hwmon chip) is never added.
 */
import type { PowerMethod } from '../common/model.js';

export type Measurand =
  /** a device whose energy is its own: a CPU package (`cpu-package:<socket>[:die<d>]`), DRAM, a GPU (`gpu:<pci address>`) */
  | { kind: 'device'; key: string; cpu?: boolean }
  /** inside a device or a whole (`of` its key): RAPL core and uncore, a board's rails */
  | { kind: 'part'; of: string }
  /** the whole machine or board: RAPL psys, an input rail, a battery's discharge */
  | { kind: 'whole'; key: string }
  /** a model of the CPU's power, where nothing measures it */
  | { kind: 'cpu-estimate' }
  /** a sensor whose scope is not known: reported, never added */
  | { kind: 'unknown' };

export interface ChannelFacts {
  id: string;
  method: PowerMethod;
  measures: Measurand;
  /** among readings of the same thing by the same method, lower is preferred (the source's rank) */
  rank: number;
}

export interface TotalDecision {
  inTotal: boolean;
  /**
   * the reading of record of what it measures: the best of the channels that read the same
   * device or whole (counted or not); its source alone reports that GPU's `gpu` points
   */
  primary: boolean;
  /** why not, for the logs and the tests */
  reason: string;
}

const METHOD_RANK: Record<PowerMethod, number> = { counter: 0, sampled: 1, averaged: 2, estimated: 3, attributed: 4 };

/** A counter before an instantaneous power before an averaged one before an estimate; then the source's rank; then the id. */
function compare(a: ChannelFacts, b: ChannelFacts): number {
  return METHOD_RANK[a.method] - METHOD_RANK[b.method] || a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const better = (a: ChannelFacts, b: ChannelFacts): ChannelFacts => (compare(a, b) <= 0 ? a : b);

const keyOf = (m: Measurand): string | undefined => (m.kind === 'device' || m.kind === 'whole' ? `${m.kind}:${m.key}` : undefined);

export function decideTotals(channels: readonly ChannelFacts[]): Map<string, TotalDecision> {
  const out = new Map<string, TotalDecision>();
  const set = (c: ChannelFacts, inTotal: boolean, reason: string) => {
    const key = keyOf(c.measures);
    out.set(c.id, { inTotal, primary: key === undefined || best.get(key) === c, reason });
  };

  // one reading per device or whole: the best; the others repeat it
  const best = new Map<string, ChannelFacts>();
  for (const c of channels) {
    const key = keyOf(c.measures);
    if (key === undefined) continue;
    const seen = best.get(key);
    best.set(key, seen ? better(seen, c) : c);
  }
  const measured = new Set([...best.keys()]);
  const cpuMeasured = [...best.values()].some((c) => c.measures.kind === 'device' && c.measures.cpu);
  // a whole counts where no CPU package is measured; of several, the best alone
  const wholes = [...best.values()].filter((c) => c.measures.kind === 'whole');
  const whole = cpuMeasured || wholes.length === 0 ? undefined : wholes.reduce(better);

  for (const c of channels) {
    const m = c.measures;
    const key = keyOf(m);
    if (key !== undefined && best.get(key) !== c) {
      set(c, false, `repeats ${(best.get(key) as ChannelFacts).id}`);
      continue;
    }
    switch (m.kind) {
      case 'unknown':
        set(c, false, 'its scope is unknown: it may overlap anything');
        break;
      case 'whole':
        if (cpuMeasured) set(c, false, 'the CPU packages are measured: they and the rest are counted apart');
        else if (whole !== c) set(c, false, `${(whole as ChannelFacts).id} covers the machine`);
        else set(c, true, 'covers the whole machine');
        break;
      case 'part':
        if (whole) set(c, false, `inside ${whole.id}`);
        else if (measured.has(`device:${m.of}`) || measured.has(`whole:${m.of}`)) set(c, false, `inside ${m.of}`);
        else set(c, true, 'its whole is not measured');
        break;
      case 'cpu-estimate':
        if (cpuMeasured || whole) set(c, false, 'a sensor measures the CPU');
        else set(c, true, 'no sensor measures the CPU');
        break;
      case 'device':
        if (whole) set(c, false, `inside ${whole.id}`);
        else set(c, true, 'a device of its own');
        break;
    }
  }
  return out;
}
