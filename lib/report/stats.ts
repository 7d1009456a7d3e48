/**
 * stats.ts — the small numerics of the report: mean and sample standard deviation over seeds,
 * the per model × method summary, and the downsampling that keeps long series plottable.
 * Tested in test/unit/report.test.ts.
 */
import type { ResultRow } from './types';

/** Mean of the finite values (NaN when there are none). */
export function mean(xs: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n === 0 ? Number.NaN : s / n;
}

/** Sample standard deviation (n − 1) of the finite values; NaN below two values. */
export function std(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite);
  if (f.length < 2) return Number.NaN;
  const m = mean(f);
  let s = 0;
  for (const x of f) s += (x - m) * (x - m);
  return Math.sqrt(s / (f.length - 1));
}

/** One model × method group of the results, over its seeds. */
export interface GroupSummary {
  model: string;
  method: string;
  seeds: number[];
  accuracyMean: number;
  accuracyStd: number;
  paramsMean: number;
  paramsStd: number;
  paramsMin: number;
  paramsMax: number;
  wallMean: number;
  /** Runs of the group that were interrupted. */
  interrupted: number;
}

/** Groups result rows by model and method, in order of first appearance. */
export function summarize(rows: readonly ResultRow[]): GroupSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) {
    // JSON of the pair: no separator character can make two different pairs collide.
    const key = JSON.stringify([r.model, r.method]);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as ResultRow;
    const acc = g.map((r) => r.heldOutAccuracy);
    const params = g.map((r) => r.adapterParams);
    return {
      model: first.model,
      method: first.method,
      seeds: g.map((r) => r.seed),
      accuracyMean: mean(acc),
      accuracyStd: std(acc),
      paramsMean: mean(params),
      paramsStd: std(params),
      paramsMin: Math.min(...params),
      paramsMax: Math.max(...params),
      wallMean: mean(g.map((r) => r.wallSeconds)),
      interrupted: g.filter((r) => r.status === 'interrupted').length,
    };
  });
}

/** A point of a series over training steps. */
export interface SeriesPoint {
  step: number;
  value: number;
}

/**
 * Reduces a series (sorted by step) to at most `maxPoints` points: consecutive equal-count bins,
 * each becoming the mean step and the mean value of its finite values (the geometric mean when
 * `geometric`, for quantities drawn on a log axis such as the FW gap, so one huge value does not
 * hide a bin's typical size). Non-finite values (and non-positive ones when `geometric`) are
 * dropped first. Shorter series come back filtered but otherwise unchanged.
 */
export function downsample(points: readonly SeriesPoint[], maxPoints = 200, geometric = false): SeriesPoint[] {
  const ok = points.filter((p) => Number.isFinite(p.value) && (!geometric || p.value > 0));
  if (ok.length <= maxPoints) return ok.slice();
  const out: SeriesPoint[] = [];
  for (let b = 0; b < maxPoints; b++) {
    const lo = Math.floor((b * ok.length) / maxPoints);
    const hi = Math.floor(((b + 1) * ok.length) / maxPoints);
    if (hi <= lo) continue;
    let s = 0;
    let v = 0;
    for (let i = lo; i < hi; i++) {
      const p = ok[i] as SeriesPoint;
      s += p.step;
      v += geometric ? Math.log(p.value) : p.value;
    }
    const n = hi - lo;
    out.push({ step: s / n, value: geometric ? Math.exp(v / n) : v / n });
  }
  return out;
}

/**
 * Keeps only the points where a step-wise quantity (a layer's rank) changes, plus the first and
 * the last: exact for a step-after line, and short, since ranks change a few times per run.
 */
export function changePoints(points: readonly SeriesPoint[]): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as SeriesPoint;
    const prev = points[i - 1];
    if (i === 0 || i === points.length - 1 || prev === undefined || prev.value !== p.value) out.push(p);
  }
  return out;
}
