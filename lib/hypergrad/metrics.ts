/**
 * hypergrad/metrics.ts — how close an estimate of the hypergradient is to the exact one: cosine,
 * relative error, sign agreement, and how good the Frank-Wolfe vertex it selects is; plus
 * mean/min/max summaries for the tables. Tested in test/unit/hypergrad-validation.test.ts.
 */
const { sqrt, min, max } = Math;

/** cos(a, b); 0 when either is zero. */
export function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / sqrt(aa * bb);
}

/** ‖est − exact‖ / ‖exact‖. */
export function relativeError(est: Float64Array, exact: Float64Array): number {
  let dd = 0;
  let ee = 0;
  for (let i = 0; i < est.length; i++) {
    dd += (est[i]! - exact[i]!) ** 2;
    ee += exact[i]! ** 2;
  }
  return sqrt(dd / ee);
}

/** Fraction of components with the same sign (zero counts as its own sign). */
export function signAgreement(est: Float64Array, exact: Float64Array): number {
  let same = 0;
  for (let i = 0; i < est.length; i++) if (Math.sign(est[i]!) === Math.sign(exact[i]!)) same++;
  return same / est.length;
}

/**
 * The Frank-Wolfe vertex a gradient selects on S = ε·1 + τ·Δ (ALGORITHM.md section 4):
 * i* = argmin g_i (lowest index on ties) if g_i* < 0, else −1 for the vertex ε·1.
 */
export function fwVertex(g: Float64Array): number {
  let k = 0;
  for (let i = 1; i < g.length; i++) if (g[i]! < g[k]!) k = i;
  return g[k]! < 0 ? k : -1;
}

/**
 * How good, for the exact hypergradient, the Frank-Wolfe vertex chosen by `est` is: on the vertices
 * ε·1 + τ·e_i and ε·1 the linear model exactᵀv takes the values τ·exact_i and 0 (up to a common
 * constant); the score is (worst − chosen) / (worst − best), 1 for the best vertex (or one tied with
 * it), 0 for the worst. τ cancels. 1 when all vertices are equally good.
 */
export function fwVertexQuality(est: Float64Array, exact: Float64Array): number {
  let best = 0;
  let worst = 0;
  for (let i = 0; i < exact.length; i++) {
    best = min(best, exact[i]!);
    worst = max(worst, exact[i]!);
  }
  const k = fwVertex(est);
  const chosen = k < 0 ? 0 : exact[k]!;
  return worst > best ? (worst - chosen) / (worst - best) : 1;
}

/** Mean, min and max of a sample. */
export interface Stat {
  mean: number;
  min: number;
  max: number;
  n: number;
}

export function stat(xs: readonly number[]): Stat {
  let s = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of xs) {
    s += x;
    lo = min(lo, x);
    hi = max(hi, x);
  }
  return { mean: xs.length === 0 ? Number.NaN : s / xs.length, min: lo, max: hi, n: xs.length };
}

function sgn(x: number, digits: number): string {
  const v = x.toFixed(digits);
  return x >= 0 && !v.startsWith('-') ? `+${v}` : v.replace(/^-0\.0+$/, '+0.00');
}

/** "mean [min, max]" with signs (cosines) or plain (errors, fractions). */
export function fmtStat(st: Stat, digits = 2, signed = true): string {
  const f = (x: number): string => (signed ? sgn(x, digits) : x.toFixed(digits));
  if (st.n === 0) return '—';
  if (st.min === st.max) return f(st.mean);
  return `${f(st.mean)} [${f(st.min)}, ${f(st.max)}]`;
}
