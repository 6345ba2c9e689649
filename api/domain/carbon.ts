/**
 * Carbon and cost of a run's energy (pure; docs/SCIENCE.md "Carbon and cost"): grams of CO₂
 * from each host's share of the energy at that host's grid intensity, and money at a price per
 * kWh. Both are of the run's energy (`energy_j`: its devices), whatever energy the scores use.
 */
import type { SourceEnergy } from './energy.js';
import type { Score } from './scores.js';

export const JOULES_PER_KWH = 3.6e6;

/**
 * The default grid intensity, g CO₂ per kWh: the world's average carbon intensity of electricity
 * generation in 2022, 436 g/kWh (Ember, Global Electricity Review 2023). Set your grid's figure
 * (WATTSCOPE_GRID_INTENSITY, per host on its collector or for the deployment on the API): a
 * hydro- or nuclear-heavy grid is under 50, a coal-heavy one over 700.
 */
export const DEFAULT_GRID_INTENSITY = 436;

const ok = (value: number): Score => (Number.isFinite(value) ? { value } : { value: null, reason: 'not a finite number' });
const NO_ENERGY: Score = { value: null, reason: 'no energy: no power data covers the run' };

export function carbonGrams(run: { energy_j: number | null; sources: readonly SourceEnergy[]; grid_intensity: Readonly<Record<string, number>> }, fallbackGPerKwh: number): Score {
  if (run.energy_j === null) return NO_ENERGY;
  const perHost = new Map<string, number>();
  for (const s of run.sources) if (s.inRun !== false) perHost.set(s.host, (perHost.get(s.host) ?? 0) + s.energyJ);
  let grams = 0;
  let apportioned = 0;
  for (const [host, joules] of perHost) {
    grams += (joules / JOULES_PER_KWH) * (run.grid_intensity[host] ?? fallbackGPerKwh);
    apportioned += joules;
  }
  // energy no host's sources account for (an imported run's) at the deployment's intensity
  grams += (Math.max(0, run.energy_j - apportioned) / JOULES_PER_KWH) * fallbackGPerKwh;
  return ok(grams);
}

export function energyCost(energyJ: number | null, pricePerKwh: number | undefined): Score {
  if (pricePerKwh === undefined) return { value: null, reason: 'no price: set WATTSCOPE_ENERGY_PRICE (per kWh)' };
  if (energyJ === null) return NO_ENERGY;
  return ok((energyJ / JOULES_PER_KWH) * pricePerKwh);
}
