/**
 * The scores of the papers, as pure functions (docs/SCIENCE.md has the formulas and worked
 * examples). Each returns a value or null with the reason it cannot be computed: a run without
 * accuracy has energy but no accuracy-based score (null, never 0). A score reaches the run's
 * summary, CSV, OpenAPI, the CLI, the page and Grafana through one line in RUN_SUMMARY
 * (./run-record.ts): CONTRIBUTING.md, "Add a score".
 */

export type Score = { value: number; reason?: undefined } | { value: null; reason: string };

/** The reason a score is null when its inputs overflow (an import's 1e-300 s duration, say). */
export const NOT_FINITE = 'not a finite number';

const ok = (value: number): Score => (Number.isFinite(value) ? { value } : { value: null, reason: NOT_FINITE });
const none = (reason: string): Score => ({ value: null, reason });

/** 1 µWh = 3.6 mJ */
export const JOULES_PER_UWH = 3.6e-3;
export const JOULES_PER_WH = 3600;

/** Accuracy as a fraction: given directly, or correct / inferences. */
export function accuracyOf(run: { accuracy?: number | null; correct?: number | null; inferences?: number | null }): Score {
  if (run.accuracy !== undefined && run.accuracy !== null) return ok(run.accuracy);
  if (run.correct === undefined || run.correct === null) return none('no accuracy: give accuracy, or correct with inferences');
  if (!run.inferences) return none('no accuracy: correct is given but inferences is zero or missing');
  return ok(run.correct / run.inferences);
}

export function energyPerInferenceUwh(energyJ: number | null | undefined, inferences: number | null | undefined): Score {
  if (energyJ === null || energyJ === undefined) return none('no energy: no power data covers the run');
  if (inferences === null || inferences === undefined) return none('no inference count: give inferences');
  if (inferences <= 0) return none('zero inferences');
  return ok(energyJ / inferences / JOULES_PER_UWH);
}

/**
 * Composite score (Waltsburger et al., ISCAS 2023, eq. 3–4): accuracy² / energy per inference,
 * accuracy a fraction and energy in mWh. Example: 0.75, 20 µWh → 0.5625 / 0.020 = 28.125.
 */
export function compositeScore(accuracy: Score, perInferenceUwh: Score): Score {
  if (accuracy.value === null) return none(accuracy.reason);
  if (perInferenceUwh.value === null) return none(perInferenceUwh.reason);
  if (perInferenceUwh.value <= 0) return none('energy per inference is zero: no energy was measured');
  return ok(accuracy.value ** 2 / (perInferenceUwh.value / 1000));
}

export interface NetScoreCoefficients {
  alpha: number;
  beta: number;
  gamma: number;
}
export const DEFAULT_NETSCORE: NetScoreCoefficients = { alpha: 2, beta: 0.5, gamma: 0.5 };

/**
 * NetScore (Wong, ICIAR 2019): Ω = 20·log10(a^α / (p^β · m^γ)), a = top-1 accuracy in percent,
 * p = parameters in millions, m = multiply-accumulates per inference in billions.
 */
export function netScore(accuracy: Score, paramsM: number | null | undefined, macsG: number | null | undefined, k: NetScoreCoefficients = DEFAULT_NETSCORE): Score {
  if (accuracy.value === null) return none(accuracy.reason);
  if (!paramsM || paramsM <= 0) return none('no parameter count: give params_m');
  if (!macsG || macsG <= 0) return none('no MAC count: give macs_g');
  if (accuracy.value <= 0) return none('accuracy is zero');
  const a = accuracy.value * 100;
  return ok(20 * Math.log10(a ** k.alpha / (paramsM ** k.beta * macsG ** k.gamma)));
}

/** Information density (Canziani et al., 2016): accuracy in percent per million parameters. */
export function infoDensity(accuracy: Score, paramsM: number | null | undefined): Score {
  if (accuracy.value === null) return none(accuracy.reason);
  if (!paramsM || paramsM <= 0) return none('no parameter count: give params_m');
  return ok((accuracy.value * 100) / paramsM);
}

export function perSecond(count: number | null | undefined, seconds: number | null | undefined): Score {
  if (count === null || count === undefined) return none('no inference count: give inferences');
  if (!seconds || seconds <= 0) return none('the run has no duration');
  return ok(count / seconds);
}

export function perJoule(count: number | null | undefined, energyJ: number | null | undefined): Score {
  if (count === null || count === undefined) return none('no inference count: give inferences');
  if (energyJ === null || energyJ === undefined) return none('no energy: no power data covers the run');
  if (energyJ <= 0) return none('no energy was measured');
  return ok(count / energyJ);
}

/**
 * Energy-delay product per inference (Horowitz, Indermaur and Gonzalez, 1994, for a circuit's
 * operation; here for one inference): the energy of an inference times the time it takes, in
 * mJ·ms — (E / n, in mJ) × (T / n, in ms) = 10⁶ · E · T / n², with E the scored energy in J, T
 * the run's duration in s and n its inferences. Lower is better: a model that saves energy only
 * by running slower gains nothing. Example: 72 J over 10 s for 1,000 inferences → 72 mJ × 10 ms
 * = 720 mJ·ms.
 */
export function energyDelayProduct(energyJ: number | null | undefined, durationS: number | null | undefined, inferences: number | null | undefined): Score {
  if (energyJ === null || energyJ === undefined) return none('no energy: no power data covers the run');
  if (inferences === null || inferences === undefined) return none('no inference count: give inferences');
  if (inferences <= 0) return none('zero inferences');
  if (!durationS || durationS <= 0) return none('the run has no duration');
  return ok(((energyJ * 1000) / inferences) * ((durationS * 1000) / inferences));
}

/** A score of one platform relative to a reference platform ("Quadro/A100 = 1/2.3"). */
export function relative(value: number | null, reference: number | null): number | null {
  if (value === null || reference === null || reference === 0) return null;
  return value / reference;
}

/** The energy scores use: the run's devices, or what its own processes were attributed when it asks for that. */
export function scoreEnergyOf(run: { energy_j: number | null; energy_attributed_j: number | null; score_energy: 'scoped' | 'attributed' }): number | null {
  return run.score_energy === 'attributed' ? run.energy_attributed_j : run.energy_j;
}

/**
 * Energy per inference over the steady part, in µWh. The client gives one inference count for
 * the whole run, so the inferences are taken to run at an even rate: the steady part's share of
 * them is its share of the time, and its energy per inference is its average power × the run's
 * duration / inferences — what every inference would cost if the whole run ran as its steady part.
 */
export function steadyPerInferenceUwh(run: { steady_power_w: number | null; steady_reason: string | null; duration_s: number | null; inferences: number | null }): Score {
  if (run.steady_power_w === null) return none(run.steady_reason ?? 'no steady part measured');
  return energyPerInferenceUwh(run.duration_s === null ? null : run.steady_power_w * run.duration_s, run.inferences);
}

/** Length of the steady part: the run less its rise and tail; null without a steady part. */
export function steadySeconds(run: { steady_power_w: number | null; duration_s: number | null; steady_rise_s: number | null; steady_tail_s: number | null }): number | null {
  return run.steady_power_w === null || run.duration_s === null ? null : Math.max(0, run.duration_s - (run.steady_rise_s ?? 0) - (run.steady_tail_s ?? 0));
}

/**
 * The inferences a run's scores count: as the client gave them, else the requests the serving
 * engines on its hosts finished in its window (a server's inference is a request; docs/SCIENCE.md
 * "Energy per request and per token").
 */
export function inferencesOf(run: { inferences: number | null; requests: number | null }): number | null {
  return run.inferences ?? run.requests;
}

/** Where the scored inferences come from: the client, or the serving engines' requests. */
export function inferencesFrom(run: { inferences: number | null; requests: number | null }): 'given' | 'requests' | null {
  return run.inferences !== null ? 'given' : run.requests !== null ? 'requests' : null;
}

/**
 * Energy per unit of a serving engine's work, in J: the scored energy over the requests (or
 * output tokens) its hosts' engines finished in the run's window. Example: 40 W for 20 s serving
 * 2 requests and 50 output tokens a second → 800 J / 40 requests = 20 J per request, 800 J /
 * 1,000 tokens = 0.8 J per output token.
 */
export function energyPerWork(energyJ: number | null | undefined, count: number | null | undefined, what: 'requests' | 'output tokens'): Score {
  if (energyJ === null || energyJ === undefined) return none('no energy: no power data covers the run');
  if (count === null || count === undefined) return none(`no ${what}: no serving engine's workload points cover the run (WATTSCOPE_SERVING_METRICS_URL of its hosts' collectors)`);
  if (count <= 0) return none(`no ${what} in the run`);
  return ok(energyJ / count);
}
