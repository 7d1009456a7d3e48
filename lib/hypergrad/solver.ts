/**
 * hypergrad/solver.ts — float64 lower-level solvers for the hypergradient oracle: Riemannian gradient
 * descent with Barzilai–Borwein trial steps and Armijo backtracking, then a Riemannian Newton–CG
 * polish (Hessian-vector products by central differences of the extended Riemannian gradient);
 * conjugate gradients; and the trainer-like inner loop (T_max Riemannian Adam or RGD steps).
 * Tested in test/unit/hypergrad-validation.test.ts.
 */
import type { Rng } from '../rng';
import type { Bilevel } from './problem';

const { sqrt, abs, max, min } = Math;

export function dot(a: Float64Array, b: Float64Array): number {
  let v = 0;
  for (let i = 0; i < a.length; i++) v += a[i]! * b[i]!;
  return v;
}

export function norm(a: Float64Array): number {
  return sqrt(dot(a, a));
}

/** out = a + t·v, then retract (a step along v on the manifold). */
function step(obj: Bilevel, b: Float64Array, v: Float64Array, t: number, out: Float64Array): Float64Array {
  for (let i = 0; i < b.length; i++) out[i] = b[i]! + t * v[i]!;
  obj.retract(out);
  return out;
}

/** Weights c_j (j = 1..k) of central first-derivative stencils: 5 points (exact for degree ≤ 4), 9 points (≤ 8). */
const STENCILS: Readonly<Record<5 | 9, readonly number[]>> = {
  5: [2 / 3, -1 / 12],
  9: [4 / 5, -1 / 5, 4 / 105, -1 / 280],
};

/**
 * F'(0) for a vector function F(t) by a central stencil of 5 or 9 points with step h (into out).
 * On the least-squares problems the functions differentiated here are polynomials in t of low
 * degree, and the stencil is chosen to be exact for them: then h can be large (rounding ∝ ε/h).
 */
export function stencilDerivative(
  F: (t: number, out: Float64Array) => void,
  h: number,
  out: Float64Array,
  points: 5 | 9 = 9,
): Float64Array {
  const a = new Float64Array(out.length);
  const c = new Float64Array(out.length);
  const w = STENCILS[points];
  out.fill(0);
  for (let j = 1; j <= w.length; j++) {
    F(j * h, a);
    F(-j * h, c);
    const wj = w[j - 1]! / h;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + wj * (a[i]! - c[i]!);
  }
  return out;
}

/**
 * The stencil that is exact for the Hessian-vector product of a least-squares loss through a CP
 * adapter of order d (the Euclidean gradient along a line is a polynomial of degree 2d − 1), and its step.
 */
export function hvpStencil(order: number): { points: 5 | 9; step: number } {
  return order <= 2 ? { points: 5, step: 1e-3 } : { points: 9, step: 1e-2 };
}

/**
 * Riemannian Hessian-vector product of f_level at b along the tangent vector v (embedded metric):
 *   euclidean  ∇²f[v]
 *   oblique    P(∇²f[v]) − v_i ⟨u_i, ∇f_i⟩            (per column; the sphere's curvature term)
 *   stiefel    P(∇²f[v] − v sym(Uᵀ∇f))
 * ∇²f[v] by a central stencil on the Euclidean gradient (hvpStencil: exact up to rounding, ~1e-13,
 * on the least-squares problems; truncation ~1e-12 on the tanh network). `grad` is ∇f(b) when the
 * caller has it (saves one evaluation).
 */
export function hvp(
  obj: Bilevel,
  level: 1 | 2,
  b: Float64Array,
  s: Float64Array,
  v: Float64Array,
  out: Float64Array,
  grad?: Float64Array,
): Float64Array {
  const nv = norm(v);
  if (nv === 0) return out.fill(0);
  const x = new Float64Array(b.length);
  const { points, step: h } = hvpStencil(obj.order);
  stencilDerivative(
    (t, o) => {
      for (let i = 0; i < b.length; i++) x[i] = b[i]! + t * v[i]!;
      obj.eval(level, x, s, o);
    },
    h / nv,
    out,
    points,
  );
  let g = grad;
  if (g === undefined) {
    g = new Float64Array(b.length);
    obj.eval(level, b, s, g);
  }
  obj.curvatureTerm(b, g, v, out);
  obj.project(b, out, out);
  return out;
}

/** Result of conjugate gradients. */
export interface CgResult {
  x: Float64Array;
  iterations: number;
  /** ‖A x − rhs‖ / ‖rhs‖ as tracked by the recursion. */
  relResidual: number;
  /** True when a direction of non-positive curvature stopped the iteration. */
  negativeCurvature: boolean;
}

/** Conjugate gradients for A x = rhs (A symmetric, positive definite on the span of rhs). */
export function conjugateGradient(
  apply: (v: Float64Array, out: Float64Array) => void,
  rhs: Float64Array,
  relTol: number,
  maxIter: number,
): CgResult {
  const n = rhs.length;
  const x = new Float64Array(n);
  const r = Float64Array.from(rhs);
  const p = Float64Array.from(rhs);
  const Ap = new Float64Array(n);
  const b0 = norm(rhs);
  if (b0 === 0) return { x, iterations: 0, relResidual: 0, negativeCurvature: false };
  let rr = dot(r, r);
  let it = 0;
  for (; it < maxIter && sqrt(rr) > relTol * b0; it++) {
    apply(p, Ap);
    const pAp = dot(p, Ap);
    if (!(pAp > 0)) return { x, iterations: it, relResidual: sqrt(rr) / b0, negativeCurvature: true };
    const alpha = rr / pAp;
    for (let i = 0; i < n; i++) {
      x[i] = x[i]! + alpha * p[i]!;
      r[i] = r[i]! - alpha * Ap[i]!;
    }
    const rrNew = dot(r, r);
    const beta = rrNew / rr;
    rr = rrNew;
    for (let i = 0; i < n; i++) p[i] = r[i]! + beta * p[i]!;
  }
  return { x, iterations: it, relResidual: sqrt(rr) / b0, negativeCurvature: false };
}

/** Options of the lower-level solver. */
export interface SolveOptions {
  /** Target Riemannian gradient norm (default 1e-11). */
  tol?: number;
  /** Gradient norm below which Newton–CG takes over from gradient descent (default 1e-4). */
  newtonFrom?: number;
  /** Gradient-descent iterations at most, all rounds together (default 50000). */
  maxGd?: number;
  /** Newton iterations at most, all rounds together (default 40). */
  maxNewton?: number;
}

/** Result of a lower-level solve. */
export interface SolveResult {
  b: Float64Array;
  f: number;
  gradNorm: number;
  gdIterations: number;
  newtonIterations: number;
  converged: boolean;
}

/**
 * Minimises f2(·, s) on the factor geometry from b0 (not modified): Riemannian gradient descent
 * (Barzilai–Borwein trial step, Armijo backtracking, retraction) down to a gradient norm of
 * `newtonFrom`, then Riemannian Newton–CG (full step when it reduces the gradient norm, else Armijo
 * backtracking) down to `tol`. When Newton stalls (a saddle region, negative curvature), gradient
 * descent resumes with a 100× lower hand-over threshold. Warm-start it from a nearby solution.
 */
export function solveLower(obj: Bilevel, s: Float64Array, b0: Float64Array, o: SolveOptions = {}): SolveResult {
  const tol = o.tol ?? 1e-11;
  let newtonFrom = max(o.newtonFrom ?? 1e-4, tol);
  const maxGd = o.maxGd ?? 50000;
  const maxNewton = o.maxNewton ?? 40;
  const n = b0.length;
  let b = Float64Array.from(b0);
  obj.retract(b);
  let g = new Float64Array(n);
  let f = obj.rgrad(2, b, s, g);
  let gn = norm(g);
  let bNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  let alpha = 1 / max(gn, 1);
  let gd = 0;
  let newton = 0;
  const eg = new Float64Array(n); // Euclidean gradient at b, for the Hessian's curvature term
  for (let round = 0; round < 4 && gn > tol; round++) {
    // Later rounds get a bounded budget: near non-isolated minimisers (oblique) gradient descent
    // crawls, and the precision reached there (~1e-8) is enough for the finite differences.
    const gdEnd = round === 0 ? maxGd : min(maxGd, gd + 2000);
    for (; gd < gdEnd && gn > newtonFrom; gd++) {
      let accepted = false;
      // BB trial step first; if rounding defeats it (a huge BB step), retry from t = 1/‖g‖.
      for (const t0 of [alpha, 1 / max(gn, 1e-300)]) {
        let t = t0;
        for (let k = 0; k < 80 && !accepted; k++, t *= 0.5) {
          step(obj, b, g, -t, bNew);
          if (obj.eval(2, bNew, s) <= f - 1e-4 * t * gn * gn) accepted = true;
        }
        if (accepted) break;
      }
      if (!accepted) break; // rounding floor: hand over to Newton
      f = obj.rgrad(2, bNew, s, gNew);
      // BB1 step from the ambient differences (both points are on the manifold).
      let ss = 0;
      let sy = 0;
      for (let i = 0; i < n; i++) {
        const di = bNew[i]! - b[i]!;
        ss += di * di;
        sy += di * (gNew[i]! - g[i]!);
      }
      alpha = sy > 0 ? min(max(ss / sy, 1e-8), 1e4) : 1 / max(gn, 1e-300);
      [b, bNew] = [bNew, b];
      [g, gNew] = [gNew, g];
      gn = norm(g);
    }
    let stalled = false;
    for (; newton < maxNewton && gn > tol; newton++) {
      const minusG = new Float64Array(n);
      for (let i = 0; i < n; i++) minusG[i] = -g[i]!;
      obj.eval(2, b, s, eg);
      // Levenberg–Marquardt shift μ = min(1e-3, ‖g‖): keeps the system positive definite where the
      // minimisers are not isolated (oblique factors can rotate within a plane without changing Ψ)
      // and still converges superlinearly; forcing term min(0.1, ‖g‖) for the inexact solve.
      const mu = min(1e-3, gn);
      const cg = conjugateGradient(
        (v, out) => {
          hvp(obj, 2, b, s, v, out, eg);
          for (let i = 0; i < n; i++) out[i] = out[i]! + mu * v[i]!;
        },
        minusG,
        max(min(0.1, gn), 1e-12),
        2 * n + 20,
      );
      // On negative curvature CG's last iterate is still a descent direction (truncated Newton).
      if (cg.iterations === 0 || !(dot(cg.x, g) < 0)) {
        stalled = true; // not a convex region: back to gradient descent
        break;
      }
      const dir = cg.x;
      // Full step if the gradient norm falls (rounding makes f flat near the minimiser), else Armijo on f.
      step(obj, b, dir, 1, bNew);
      let fNew = obj.rgrad(2, bNew, s, gNew);
      let gnNew = norm(gNew);
      if (!(gnNew < gn)) {
        const slope = dot(dir, g);
        let t = 1;
        let ok = false;
        for (let k = 0; k < 40; k++) {
          t *= 0.5;
          step(obj, b, dir, t, bNew);
          fNew = obj.eval(2, bNew, s);
          if (fNew <= f + 1e-4 * t * slope) {
            ok = true;
            break;
          }
        }
        if (!ok) {
          stalled = true;
          break;
        }
        fNew = obj.rgrad(2, bNew, s, gNew);
        gnNew = norm(gNew);
      }
      [b, bNew] = [bNew, b];
      [g, gNew] = [gNew, g];
      f = fNew;
      gn = gnNew;
    }
    if (!stalled) break;
    newtonFrom = max(newtonFrom * 1e-2, tol);
  }
  return { b, f, gradNorm: gn, gdIterations: gd, newtonIterations: newton, converged: gn <= tol };
}

/** The trainer-like inner loop of Algorithm 2. */
export interface InnerOptions {
  /** 'adam' (the trainer's default, lr 1e-2) or 'rgd' (Armijo-backtracked full-batch Riemannian GD). */
  optimizer: 'adam' | 'rgd';
  lr?: number;
  /** D2 minibatch size for Adam (default 64; 0 = full D2). */
  batch?: number;
  rng: Rng;
  /** Called after every step t = 1..T with the current point (do not keep it: it is updated in place). */
  onStep?: (t: number, b: Float64Array) => void;
}

/**
 * T steps of the lower-level optimiser from b (not modified) with s fixed, as the trainer takes them:
 * Euclidean gradient on a D2 minibatch → tangent projection → optimiser step → retraction.
 */
export function innerSteps(obj: Bilevel, s: Float64Array, b0: Float64Array, T: number, o: InnerOptions): Float64Array {
  const n = b0.length;
  const b = Float64Array.from(b0);
  const g = new Float64Array(n);
  if (o.optimizer === 'rgd') {
    const trial = new Float64Array(n);
    for (let t = 0; t < T; t++) {
      const f = obj.rgrad(2, b, s, g);
      const gg = dot(g, g);
      let lr = 1;
      for (let k = 0; k < 60; k++, lr *= 0.5) {
        step(obj, b, g, -lr, trial);
        if (obj.eval(2, trial, s) <= f - 1e-4 * lr * gg) break;
      }
      b.set(trial);
      o.onStep?.(t + 1, b);
    }
    return b;
  }
  const lr = o.lr ?? 1e-2;
  const N2 = obj.problem.model.sizes[1];
  const batch = o.batch === undefined || o.batch === 0 ? N2 : min(o.batch, N2);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  const b1 = 0.9;
  const b2 = 0.999;
  let perm = o.rng.permutation(N2);
  let cursor = 0;
  for (let t = 1; t <= T; t++) {
    if (cursor + batch > N2) {
      perm = o.rng.permutation(N2);
      cursor = 0;
    }
    const rows = batch === N2 ? undefined : perm.subarray(cursor, cursor + batch);
    cursor += batch;
    obj.rgrad(2, b, s, g, rows);
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < n; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      b[i] = b[i]! - (lr * (m[i]! / c1)) / (sqrt(v[i]! / c2) + 1e-8);
    }
    obj.retract(b);
    o.onStep?.(t, b);
  }
  return b;
}

/** max |a_i| (for reports). */
export function maxAbs(a: Float64Array): number {
  let v = 0;
  for (let i = 0; i < a.length; i++) v = max(v, abs(a[i]!));
  return v;
}
