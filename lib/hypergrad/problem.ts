/**
 * hypergrad/problem.ts — seeded float64 validation problems for the hypergradient oracle
 * (ALGORITHM.md section 3): least squares through a matrix adapter, through a CP (conv-kernel-like)
 * adapter of order 4, and a one-hidden-layer tanh network with an adapter on its first layer, each
 * with two draws D1 ≠ D2 of the same teacher; plus the bilevel objective f1, f2 over (B, s).
 * Tested in test/unit/hypergrad-validation.test.ts.
 */
import { Rng } from '../rng';
import {
  type CpShape,
  cpBackward,
  cpDense,
  cpShape,
  type FactorGeometry,
  modeGeometries,
  projectTangent,
  retract,
  subtractCurvature,
} from './cp';

const { sqrt, exp, log, tanh } = Math;

/** A data loss of the adapted weight W = W0 + Ψ (nOut × nIn), on D1 (which = 1) or D2 (which = 2). */
export interface LossModel {
  readonly nOut: number;
  readonly nIn: number;
  /** Number of samples in D1 and D2. */
  readonly sizes: readonly [number, number];
  /** Mean loss over data set `which` (or over its `rows`); writes ∂loss/∂W into G when given. */
  loss(which: 1 | 2, W: Float64Array, G: Float64Array | null, rows?: Int32Array): number;
}

/** One validation problem: the adapter's modes, its rank, the frozen weight and the data. */
export interface Problem {
  readonly name: string;
  /** One line for the docs: sizes, teacher, noise. */
  readonly description: string;
  readonly dims: readonly number[];
  readonly r: number;
  readonly W0: Float64Array;
  readonly model: LossModel;
  /** The budget τ the validation draws s from (s on the face Σ s = τ + r·ε). */
  readonly tau: number;
}

function normalMatrix(rng: Rng, rows: number, cols: number, std: number): Float64Array {
  const a = new Float64Array(rows * cols);
  for (let q = 0; q < a.length; q++) a[q] = std * rng.normal();
  return a;
}

function unitVector(rng: Rng, n: number): Float64Array {
  const v = normalMatrix(rng, n, 1, 1);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += v[i]! * v[i]!;
  const inv = 1 / sqrt(ss);
  for (let i = 0; i < n; i++) v[i] = v[i]! * inv;
  return v;
}

/** A CP teacher Σ_k t_k ⊗_m a_k^(m) as the nOut × nIn matrix (unit random vectors; orthonormal in mode 1 and 2 for d = 2). */
function cpTeacher(rng: Rng, dims: readonly number[], weights: readonly number[]): Float64Array {
  const R = weights.length;
  const sh = cpShape(dims, R);
  const b = new Float64Array(sh.size);
  for (let k = 0; k < dims.length; k++) {
    const n = dims[k]!;
    for (let i = 0; i < R; i++) {
      const v = unitVector(rng, n);
      for (let a = 0; a < n; a++) b[sh.offsets[k]! + a * R + i] = v[a]!;
    }
  }
  // Orthonormal columns where possible, so a matrix teacher's singular values are exactly `weights`.
  retract(
    sh,
    dims.map((n) => (n >= R ? 'stiefel' : 'oblique')),
    b,
  );
  const T = new Float64Array(sh.nOut * sh.nIn);
  cpDense(sh, b, Float64Array.from(weights), T);
  return T;
}

/** Least squares f_j = (1/2N_j)‖X_j Wᵀ − Y_j‖²; full-set losses use the moments XᵀX/N, YᵀX/N, ‖Y‖²/2N. */
class LeastSquares implements LossModel {
  readonly sizes: readonly [number, number];
  private readonly X: Float64Array[];
  private readonly Y: Float64Array[];
  private readonly Sxx: Float64Array[] = [];
  private readonly Syx: Float64Array[] = [];
  private readonly yy: number[] = [];
  private readonly WS: Float64Array;

  constructor(
    readonly nOut: number,
    readonly nIn: number,
    X: Float64Array[],
    Y: Float64Array[],
  ) {
    this.X = X;
    this.Y = Y;
    this.sizes = [X[0]!.length / nIn, X[1]!.length / nIn];
    this.WS = new Float64Array(nOut * nIn);
    for (let j = 0; j < 2; j++) {
      const x = X[j]!;
      const y = Y[j]!;
      const N = this.sizes[j]!;
      const Sxx = new Float64Array(nIn * nIn);
      const Syx = new Float64Array(nOut * nIn);
      let yy = 0;
      for (let n = 0; n < N; n++) {
        for (let p = 0; p < nIn; p++) {
          const xp = x[n * nIn + p]! / N;
          for (let q = 0; q < nIn; q++) Sxx[p * nIn + q] = Sxx[p * nIn + q]! + xp * x[n * nIn + q]!;
          for (let a = 0; a < nOut; a++) Syx[a * nIn + p] = Syx[a * nIn + p]! + xp * y[n * nOut + a]!;
        }
        for (let a = 0; a < nOut; a++) yy += y[n * nOut + a]! ** 2;
      }
      this.Sxx.push(Sxx);
      this.Syx.push(Syx);
      this.yy.push(yy / (2 * N));
    }
  }

  loss(which: 1 | 2, W: Float64Array, G: Float64Array | null, rows?: Int32Array): number {
    const { nOut, nIn } = this;
    if (rows === undefined) {
      const Sxx = this.Sxx[which - 1]!;
      const Syx = this.Syx[which - 1]!;
      const WS = this.WS;
      WS.fill(0);
      for (let a = 0; a < nOut; a++) {
        const row = a * nIn;
        for (let p = 0; p < nIn; p++) {
          const w = W[row + p]!;
          const sp = p * nIn;
          for (let q = 0; q < nIn; q++) WS[row + q] = WS[row + q]! + w * Sxx[sp + q]!;
        }
      }
      let f = this.yy[which - 1]!;
      for (let t = 0; t < nOut * nIn; t++) {
        f += W[t]! * (0.5 * WS[t]! - Syx[t]!);
        if (G !== null) G[t] = WS[t]! - Syx[t]!;
      }
      return f;
    }
    const X = this.X[which - 1]!;
    const Y = this.Y[which - 1]!;
    const m = rows.length;
    if (G !== null) G.fill(0);
    const res = new Float64Array(nOut);
    let f = 0;
    for (const n of rows) {
      for (let a = 0; a < nOut; a++) {
        let v = -Y[n * nOut + a]!;
        for (let p = 0; p < nIn; p++) v += W[a * nIn + p]! * X[n * nIn + p]!;
        res[a] = v;
        f += v * v;
      }
      if (G !== null)
        for (let a = 0; a < nOut; a++) {
          const ra = res[a]! / m;
          for (let p = 0; p < nIn; p++) G[a * nIn + p] = G[a * nIn + p]! + ra * X[n * nIn + p]!;
        }
    }
    return f / (2 * m);
  }
}

/** One hidden tanh layer with frozen head: logits = tanh(X Wᵀ + b1) W2ᵀ + b2, mean softmax cross-entropy. */
class TanhNet implements LossModel {
  readonly sizes: readonly [number, number];
  constructor(
    readonly nOut: number,
    readonly nIn: number,
    private readonly classes: number,
    private readonly b1: Float64Array,
    private readonly W2: Float64Array,
    private readonly b2: Float64Array,
    private readonly X: Float64Array[],
    private readonly labels: Int32Array[],
  ) {
    this.sizes = [labels[0]?.length ?? 0, labels[1]?.length ?? 0];
  }

  /** Logits of one sample x (length nIn) under first-layer weight W; fills hidden h. */
  forward(W: Float64Array, x: Float64Array, xo: number, h: Float64Array, z: Float64Array): void {
    const { nOut, nIn, classes } = this;
    for (let a = 0; a < nOut; a++) {
      let v = this.b1[a]!;
      for (let p = 0; p < nIn; p++) v += W[a * nIn + p]! * x[xo + p]!;
      h[a] = tanh(v);
    }
    for (let c = 0; c < classes; c++) {
      let v = this.b2[c]!;
      for (let a = 0; a < nOut; a++) v += this.W2[c * nOut + a]! * h[a]!;
      z[c] = v;
    }
  }

  loss(which: 1 | 2, W: Float64Array, G: Float64Array | null, rows?: Int32Array): number {
    const { nOut, nIn, classes } = this;
    const X = this.X[which - 1]!;
    const lab = this.labels[which - 1]!;
    const N = rows === undefined ? lab.length : rows.length;
    const h = new Float64Array(nOut);
    const z = new Float64Array(classes);
    const dh = new Float64Array(nOut);
    if (G !== null) G.fill(0);
    let f = 0;
    for (let t = 0; t < N; t++) {
      const n = rows === undefined ? t : rows[t]!;
      this.forward(W, X, n * nIn, h, z);
      let zmax = z[0]!;
      for (let c = 1; c < classes; c++) if (z[c]! > zmax) zmax = z[c]!;
      let se = 0;
      for (let c = 0; c < classes; c++) se += exp(z[c]! - zmax);
      const y = lab[n]!;
      f += zmax + log(se) - z[y]!;
      if (G === null) continue;
      dh.fill(0);
      for (let c = 0; c < classes; c++) {
        const dz = (exp(z[c]! - zmax) / se - (c === y ? 1 : 0)) / N;
        for (let a = 0; a < nOut; a++) dh[a] = dh[a]! + dz * this.W2[c * nOut + a]!;
      }
      for (let a = 0; a < nOut; a++) {
        const da = dh[a]! * (1 - h[a]! * h[a]!);
        for (let p = 0; p < nIn; p++) G[a * nIn + p] = G[a * nIn + p]! + da * X[n * nIn + p]!;
      }
    }
    return f / N;
  }
}

/** Options of the least-squares problems. */
export interface LeastSquaresOptions {
  /** Adapter modes: [n_out, n_in] for a matrix adapter, [F, C, kh, kw] for a conv-like one. */
  dims: readonly number[];
  r: number;
  /** Teacher CP weights (its rank is their count). */
  teacher: readonly number[];
  noise: number;
  n1: number;
  n2: number;
  tau: number;
  name?: string;
}

/**
 * Least squares through a CP adapter: inputs X_j ~ N(0, I), Y_j = X_j (W0 + T)ᵀ + noise·N(0, I),
 * T a CP teacher of rank teacher.length; f_j = (1/2N_j)‖X_j (W0 + Ψ)ᵀ − Y_j‖².
 */
export function leastSquaresProblem(seed: number, o: LeastSquaresOptions): Problem {
  const rng = new Rng(seed);
  const sh = cpShape(o.dims, o.r);
  const { nOut, nIn } = sh;
  const W0 = normalMatrix(rng, nOut, nIn, 1 / sqrt(nIn));
  const T = cpTeacher(rng, o.dims, o.teacher);
  const X: Float64Array[] = [];
  const Y: Float64Array[] = [];
  for (const N of [o.n1, o.n2]) {
    const x = normalMatrix(rng, N, nIn, 1);
    const y = new Float64Array(N * nOut);
    for (let n = 0; n < N; n++)
      for (let a = 0; a < nOut; a++) {
        let v = o.noise * rng.normal();
        for (let p = 0; p < nIn; p++) v += (W0[a * nIn + p]! + T[a * nIn + p]!) * x[n * nIn + p]!;
        y[n * nOut + a] = v;
      }
    X.push(x);
    Y.push(y);
  }
  const kind = o.dims.length === 2 ? 'matrix' : `CP order ${o.dims.length}`;
  return {
    name: o.name ?? `${kind} LS ${o.dims.join('×')} r=${o.r}`,
    description:
      `${kind} adapter, modes (${o.dims.join(', ')}), r = ${o.r}; least squares, teacher W0 + T with T of CP rank ` +
      `${o.teacher.length} (weights ${o.teacher.join(', ')}), noise σ = ${o.noise}, |D1| = ${o.n1}, |D2| = ${o.n2}, τ = ${o.tau}`,
    dims: o.dims,
    r: o.r,
    W0,
    model: new LeastSquares(nOut, nIn, X, Y),
    tau: o.tau,
  };
}

/** Options of the tanh network problem. */
export interface TanhNetOptions {
  nIn: number;
  hidden: number;
  classes: number;
  r: number;
  teacher: readonly number[];
  n1: number;
  n2: number;
  tau: number;
}

/**
 * A one-hidden-layer tanh network with frozen head; the adapter is on the first layer (hidden × nIn).
 * Labels are sampled from the teacher network's softmax (first layer W0 + T, T of rank teacher.length),
 * so the data are noisy and the losses have minimisers. Loss: mean softmax cross-entropy.
 */
export function tanhNetProblem(seed: number, o: TanhNetOptions): Problem {
  const rng = new Rng(seed);
  const dims = [o.hidden, o.nIn];
  const W0 = normalMatrix(rng, o.hidden, o.nIn, 1 / sqrt(o.nIn));
  const T = cpTeacher(rng, dims, o.teacher);
  const b1 = normalMatrix(rng, o.hidden, 1, 0.1);
  const W2 = normalMatrix(rng, o.classes, o.hidden, 2 / sqrt(o.hidden));
  const b2 = new Float64Array(o.classes);
  const Wt = new Float64Array(W0.length);
  for (let q = 0; q < Wt.length; q++) Wt[q] = W0[q]! + T[q]!;
  const X: Float64Array[] = [];
  const labels: Int32Array[] = [];
  const teacherNet = new TanhNet(o.hidden, o.nIn, o.classes, b1, W2, b2, [], []);
  const h = new Float64Array(o.hidden);
  const z = new Float64Array(o.classes);
  for (const N of [o.n1, o.n2]) {
    const x = normalMatrix(rng, N, o.nIn, 1);
    const lab = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      teacherNet.forward(Wt, x, n * o.nIn, h, z);
      let zmax = z[0]!;
      for (let c = 1; c < o.classes; c++) if (z[c]! > zmax) zmax = z[c]!;
      let se = 0;
      for (let c = 0; c < o.classes; c++) se += exp(z[c]! - zmax);
      let u = rng.next() * se;
      let c = 0;
      for (; c < o.classes - 1; c++) {
        u -= exp(z[c]! - zmax);
        if (u <= 0) break;
      }
      lab[n] = c;
    }
    X.push(x);
    labels.push(lab);
  }
  return {
    name: `tanh net ${o.nIn}→${o.hidden}→${o.classes} r=${o.r}`,
    description:
      `one hidden tanh layer ${o.nIn}→${o.hidden}→${o.classes} (frozen head), adapter on the first layer, r = ${o.r}; ` +
      `softmax cross-entropy, labels sampled from a teacher with first layer W0 + T (T rank ${o.teacher.length}, ` +
      `singular values ${o.teacher.join(', ')}), |D1| = ${o.n1}, |D2| = ${o.n2}, τ = ${o.tau}`,
    dims,
    r: o.r,
    W0,
    model: new TanhNet(o.hidden, o.nIn, o.classes, b1, W2, b2, X, labels),
    tau: o.tau,
  };
}

/** s = ε·1 + τ·w with w uniform on the probability simplex (distinct entries almost surely). */
export function drawS(rng: Rng, r: number, tau: number, eps = 1e-3): Float64Array {
  const w = new Float64Array(r);
  let sum = 0;
  for (let i = 0; i < r; i++) {
    let u = rng.next();
    while (u <= 0) u = rng.next();
    w[i] = -log(u);
    sum += w[i]!;
  }
  for (let i = 0; i < r; i++) w[i] = eps + (tau * w[i]!) / sum;
  return w;
}

/** Options of the bilevel objective. */
export interface BilevelOptions {
  /** Weight decay (λ/2)Σ‖U^(k)‖² added to f2 (lower level only); default 0.05 for euclidean, else 0. */
  weightDecay?: number;
  /** Upper-level data: 1 (D1, default) or 2 (D1 = D2). */
  upper?: 1 | 2;
}

/**
 * The bilevel objective of ALGORITHM.md section 2 on a problem and a factor geometry:
 * f1(B, s) = data loss on D1, f2(B, s) = data loss on D2 + (λ/2)Σ‖U^(k)‖² (euclidean only, so the
 * lower level has a minimiser). B is a flat vector (see CpShape).
 */
export class Bilevel {
  readonly shape: CpShape;
  readonly geoms: readonly FactorGeometry[];
  readonly weightDecay: number;
  readonly upper: 1 | 2;
  private readonly W: Float64Array;
  private readonly G: Float64Array;
  /** Data-loss evaluations so far (a cost counter for the report). */
  evaluations = 0;

  constructor(
    readonly problem: Problem,
    readonly geometry: FactorGeometry,
    o: BilevelOptions = {},
  ) {
    this.shape = cpShape(problem.dims, problem.r);
    this.geoms = modeGeometries(geometry, this.shape);
    this.weightDecay = o.weightDecay ?? (geometry === 'euclidean' ? 0.05 : 0);
    this.upper = o.upper ?? 1;
    this.W = new Float64Array(this.shape.nOut * this.shape.nIn);
    this.G = new Float64Array(this.W.length);
  }

  /** Adapter order d. */
  get order(): number {
    return this.shape.dims.length;
  }

  /**
   * f_level(B, s) (level 1: upper, 2: lower) with Euclidean gradients into gb / gs when given.
   * `rows` restricts the data to a subset (a minibatch) of that level's set.
   */
  eval(
    level: 1 | 2,
    b: Float64Array,
    s: Float64Array,
    gb: Float64Array | null = null,
    gs: Float64Array | null = null,
    rows?: Int32Array,
  ): number {
    this.evaluations++;
    const sh = this.shape;
    cpDense(sh, b, s, this.W, this.problem.W0);
    const which = level === 1 ? this.upper : 2;
    const wantGrad = gb !== null || gs !== null;
    let f = this.problem.model.loss(which, this.W, wantGrad ? this.G : null, rows);
    if (wantGrad) cpBackward(sh, b, s, this.G, gb, gs);
    if (level === 2 && this.weightDecay > 0) {
      const lam = this.weightDecay;
      let ss = 0;
      for (let q = 0; q < b.length; q++) ss += b[q]! * b[q]!;
      f += 0.5 * lam * ss;
      if (gb !== null) for (let q = 0; q < b.length; q++) gb[q] = gb[q]! + lam * b[q]!;
    }
    return f;
  }

  /**
   * Riemannian gradient of f_level at b into out (tangent projection of the Euclidean one); returns f.
   * Projected twice: near a minimiser the Euclidean gradient's normal part is O(1) while the
   * Riemannian one is ~1e-10, and one projection leaves a normal residue of ε·‖∇f‖ that CG cannot
   * remove (the Hessian's range is tangent), so Newton–CG would stall at ~1e-8.
   */
  rgrad(level: 1 | 2, b: Float64Array, s: Float64Array, out: Float64Array, rows?: Int32Array): number {
    const f = this.eval(level, b, s, out, null, rows);
    projectTangent(this.shape, this.geoms, b, out, out);
    projectTangent(this.shape, this.geoms, b, out, out);
    return f;
  }

  /** Tangent projection at b (out may be g). */
  project(b: Float64Array, g: Float64Array, out: Float64Array): void {
    projectTangent(this.shape, this.geoms, b, g, out);
  }

  /** out −= the curvature term of the Riemannian Hessian at b for tangent v (g: Euclidean gradient at b). */
  curvatureTerm(b: Float64Array, g: Float64Array, v: Float64Array, out: Float64Array): void {
    subtractCurvature(this.shape, this.geoms, b, g, v, out);
  }

  /** Retraction in place. */
  retract(b: Float64Array): void {
    retract(this.shape, this.geoms, b);
  }
}
