/**
 * hypergrad/exact.ts — the exact hypergradient dF/ds of F(s) = f1(B*(s), s) (ALGORITHM.md section 3)
 * two independent ways — re-solved central finite differences and implicit differentiation with
 * conjugate gradients on Riemannian Hessian-vector products — and the cheap estimates at a point B:
 * ∂s f1, G̃ with Euclidean factor gradients, G̃ with tangent-projected ones.
 * Tested in test/unit/hypergrad-validation.test.ts.
 */
import { factorDots } from './cp';
import type { Bilevel } from './problem';
import { conjugateGradient, hvp, hvpStencil, norm, type SolveOptions, solveLower, stencilDerivative } from './solver';

const { max } = Math;

/** Result of the re-solved finite-difference hypergradient. */
export interface FdResult {
  g: Float64Array;
  /** Largest final Riemannian gradient norm over the 2r re-solves. */
  worstGradNorm: number;
  allConverged: boolean;
}

/**
 * dF/ds_i ≈ (F(s + h_i e_i) − F(s − h_i e_i)) / 2h_i with h_i = rel·max(s_i, mean s), re-solving the
 * lower level from bStar (warm start, so every solve stays on bStar's branch of minimisers).
 */
export function fdHypergrad(
  obj: Bilevel,
  s: Float64Array,
  bStar: Float64Array,
  rel = 1e-4,
  solve: SolveOptions = {},
): FdResult {
  const r = s.length;
  const g = new Float64Array(r);
  let worst = 0;
  let all = true;
  let mean = 0;
  for (let i = 0; i < r; i++) mean += s[i]! / r;
  for (let i = 0; i < r; i++) {
    const h = rel * max(s[i]!, mean);
    const vals: number[] = [];
    for (const sign of [1, -1]) {
      const sp = Float64Array.from(s);
      sp[i] = sp[i]! + sign * h;
      const res = solveLower(obj, sp, bStar, solve);
      worst = max(worst, res.gradNorm);
      all &&= res.converged;
      vals.push(obj.eval(1, res.b, sp));
    }
    g[i] = (vals[0]! - vals[1]!) / (2 * h);
  }
  return { g, worstGradNorm: worst, allConverged: all };
}

/** Result of implicit differentiation. */
export interface ImplicitResult {
  g: Float64Array;
  cgIterations: number;
  cgRelResidual: number;
  negativeCurvature: boolean;
}

/**
 * dF/ds = ∂s f1 − ∂s⟨w, ∇_B f2(B*, s)⟩ with w solving Hess_B f2 · w = grad_B f1 (Riemannian Hessian
 * on the tangent space at B*, by CG). Derivation: grad_B f2(B*(s), s) ≡ 0 gives
 * Hess · DB*(s)[e_i] = −∂s_i grad_B f2, and dF/ds_i = ∂s_i f1 + ⟨grad_B f1, DB*(s)[e_i]⟩. The mixed term is
 * the t-derivative of ∂s f2(B* + t w, s) (exact derivatives commute), by a 9-point stencil.
 */
export function implicitHypergrad(obj: Bilevel, s: Float64Array, bStar: Float64Array, cgTol = 1e-12): ImplicitResult {
  const n = bStar.length;
  const r = s.length;
  const ds1 = new Float64Array(r);
  const g1 = new Float64Array(n);
  obj.eval(1, bStar, s, g1, ds1);
  obj.project(bStar, g1, g1);
  obj.project(bStar, g1, g1); // twice: see Bilevel.rgrad
  const eg = new Float64Array(n);
  obj.eval(2, bStar, s, eg);
  const cg = conjugateGradient((v, out) => hvp(obj, 2, bStar, s, v, out, eg), g1, cgTol, 10 * n);
  const w = cg.x;
  // ∂s f2(B* + t w, s) is a polynomial of degree 2d in t on the least-squares problems: the stencil
  // is exact there (5 points for d = 2, 9 for d ≤ 4), and accurate to ~1e-12 on the network.
  const x = new Float64Array(n);
  const mixed = stencilDerivative(
    (t, out) => {
      for (let k = 0; k < n; k++) x[k] = bStar[k]! + t * w[k]!;
      obj.eval(2, x, s, null, out);
    },
    hvpStencil(obj.order).step / max(norm(w), 1e-300),
    new Float64Array(r),
    hvpStencil(obj.order).points,
  );
  const g = new Float64Array(r);
  for (let i = 0; i < r; i++) g[i] = ds1[i]! - mixed[i]!;
  return {
    g,
    cgIterations: cg.iterations,
    cgRelResidual: cg.relResidual,
    negativeCurvature: cg.negativeCurvature,
  };
}

/** The cheap estimates at a point B on (a minibatch of) the upper-level data. */
export interface Estimates {
  /** ∂f1/∂s. */
  ds: Float64Array;
  /** G̃ = ∂s f1 − (1/s)·Σ_k⟨u_i^(k), g_i^(k)⟩ with Euclidean factor gradients. */
  euclidean: Float64Array;
  /** The same formula with tangent-projected (Riemannian) factor gradients. */
  tangent: Float64Array;
}

/** ∂s f1, G̃ (Euclidean gradients) and G̃ (tangent-projected gradients) at B, on D1 or its `rows`. */
export function estimates(obj: Bilevel, s: Float64Array, b: Float64Array, rows?: Int32Array): Estimates {
  const r = s.length;
  const ds = new Float64Array(r);
  const gb = new Float64Array(b.length);
  obj.eval(1, b, s, gb, ds, rows);
  const dotsE = factorDots(obj.shape, b, gb, new Float64Array(r));
  obj.project(b, gb, gb);
  const dotsT = factorDots(obj.shape, b, gb, new Float64Array(r));
  const euclidean = new Float64Array(r);
  const tangent = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    euclidean[i] = ds[i]! - dotsE[i]! / s[i]!;
    tangent[i] = ds[i]! - dotsT[i]! / s[i]!;
  }
  return { ds, euclidean, tangent };
}
