/**
 * Repeat statistics (pure): n, mean, sample standard deviation, coefficient of variation and a
 * 95 % confidence interval of the mean from Student's t distribution. The paper repeated each
 * measurement three times: with n = 3 the t quantile is 4.303, not the normal 1.96, so an interval
 * from the normal distribution would claim more than three runs can show.
 */

export interface Described {
  n: number;
  mean: number | null;
  /** sample standard deviation (n − 1) */
  std: number | null;
  /** std / |mean| */
  cv: number | null;
  /** the 95 % confidence interval of the mean: mean ∓ t(0.975, n − 1) · std / √n */
  ci95_low: number | null;
  ci95_high: number | null;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // the fraction converges fast only on this side of the mean; use the symmetry otherwise
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile (0.5 < p < 1) of Student's t with `df` ≥ 1 degrees of freedom, by bisection on the CDF. */
export function studentQuantile(p: number, df: number): number {
  if (!(p > 0.5 && p < 1) || !(df >= 1)) throw new RangeError(`studentQuantile needs 0.5 < p < 1 and df ≥ 1, got p=${p}, df=${df}`);
  let lo = 0;
  let hi = 1;
  while (studentCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** t₀.₉₇₅ by degrees of freedom: a bisection over the incomplete beta function is ~0.03 ms, and a comparison asks it thousands of times for a few values of df. */
const T975 = new Map<number, number>();
function t975(df: number): number {
  let t = T975.get(df);
  if (t === undefined) {
    t = studentQuantile(0.975, df);
    if (T975.size < 10_000) T975.set(df, t);
  }
  return t;
}

export function describe(values: readonly number[]): Described {
  const n = values.length;
  const none = { std: null, cv: null, ci95_low: null, ci95_high: null };
  if (n === 0) return { n, mean: null, ...none };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, ...none };
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = (t975(n - 1) * std) / Math.sqrt(n);
  return { n, mean, std, cv: mean !== 0 ? std / Math.abs(mean) : null, ci95_low: mean - half, ci95_high: mean + half };
}
