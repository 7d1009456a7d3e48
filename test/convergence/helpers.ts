/**
 * test/convergence/helpers.ts — seeded generators and float64 references for the Frank-Wolfe tests:
 * mulberry32, Gaussian draws, least-squares problems with a known optimal face, the Euclidean
 * projection onto ε·1 + τΔ and a brute-force FW gap. Used by test/convergence/ and test/unit/fw-*.
 */

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box–Muller) from a uniform source. */
export function gaussian(rng: () => number): () => number {
  return () => {
    const u = 1 - rng();
    const v = rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** A vector of n uniform draws in [lo, hi). */
export function uniformVec(rng: () => number, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

/** Row-major m×n matrix with N(0, 1/m) entries. */
export function randomMatrix(rng: () => number, m: number, n: number): Float64Array {
  const g = gaussian(rng);
  const sd = 1 / Math.sqrt(m);
  return Float64Array.from({ length: m * n }, () => g() * sd);
}

/** y = A x (A row-major m×n). */
export function matVec(A: Float64Array, m: number, n: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let acc = 0;
    for (let j = 0; j < n; j++) acc += (A[i * n + j] as number) * (x[j] as number);
    y[i] = acc;
  }
  return y;
}

/** y = Aᵀ x (A row-major m×n). */
export function matTVec(A: Float64Array, m: number, n: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const xi = x[i] as number;
    for (let j = 0; j < n; j++) y[j] = (y[j] as number) + (A[i * n + j] as number) * xi;
  }
  return y;
}

/** Largest eigenvalue of AᵀA by power iteration (seeded start; 500 iterations are plenty here). */
export function lambdaMax(A: Float64Array, m: number, n: number, seed = 1): number {
  let v = uniformVec(mulberry32(seed), n, 0.5, 1);
  let lambda = 0;
  for (let it = 0; it < 500; it++) {
    const w = matTVec(A, m, n, matVec(A, m, n, v));
    let norm = 0;
    for (const x of w) norm += x * x;
    norm = Math.sqrt(norm);
    lambda = norm;
    v = w.map((x) => x / norm);
  }
  return lambda;
}

/** A smooth problem on one simplex, with what the tests need to know about its optimum. */
export interface TestProblem {
  readonly dim: number;
  readonly tau: number;
  readonly eps: number;
  f(s: ArrayLike<number>): number;
  grad(s: ArrayLike<number>): Float64Array;
  /** Lipschitz constant of the gradient. */
  readonly M: number;
  readonly sStar: Float64Array;
  /** Indices with s*_i > ε. */
  readonly support: readonly number[];
}

/**
 * f(s) = ½‖A(s − s*)‖² + g*ᵀs: a strongly convex least-squares problem (equivalently ½‖As − b‖²
 * with Aᵀb = AᵀAs* − g*) whose minimiser on ε·1 + τΔ is s* by construction: s* − ε has support T
 * and mass τ, and g* = ∇f(s*) equals −μ on T and −μ + δ_i (δ_i ≥ 0.5) off T, which are the KKT
 * conditions with strict complementarity. So the optimal face is known exactly.
 */
export function sparseLeastSquares(opts: {
  seed: number;
  dim: number;
  rows: number;
  support: readonly number[];
  tau: number;
  eps: number;
  mu?: number;
}): TestProblem {
  const { seed, dim, rows, support, tau, eps } = opts;
  const mu = opts.mu ?? 1;
  const rng = mulberry32(seed);
  const A = randomMatrix(rng, rows, dim);
  const w = support.map(() => 0.5 + rng());
  const wsum = w.reduce((a, b) => a + b, 0);
  const sStar = new Float64Array(dim).fill(eps);
  support.forEach((i, k) => {
    sStar[i] = eps + (tau * (w[k] as number)) / wsum;
  });
  const gStar = Float64Array.from({ length: dim }, (_, i) => (support.includes(i) ? -mu : -mu + 0.5 + rng()));
  const M = lambdaMax(A, rows, dim, seed + 1);
  // Q = AᵀA once, so f and ∇f cost one dim×dim product each (the tests call them thousands of times)
  const Q = new Float64Array(dim * dim);
  for (let k = 0; k < rows; k++) {
    for (let i = 0; i < dim; i++) {
      const aki = A[k * dim + i] as number;
      for (let j = 0; j < dim; j++) Q[i * dim + j] = (Q[i * dim + j] as number) + aki * (A[k * dim + j] as number);
    }
  }
  const d = new Float64Array(dim);
  const Qd = (s: ArrayLike<number>): Float64Array => {
    for (let i = 0; i < dim; i++) d[i] = (s[i] as number) - (sStar[i] as number);
    const out = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      let acc = 0;
      for (let j = 0; j < dim; j++) acc += (Q[i * dim + j] as number) * (d[j] as number);
      out[i] = acc;
    }
    return out;
  };
  return {
    dim,
    tau,
    eps,
    M,
    sStar,
    support: [...support].sort((a, b) => a - b),
    f(s) {
      const q = Qd(s);
      let quad = 0;
      let lin = 0;
      for (let i = 0; i < dim; i++) {
        quad += (d[i] as number) * (q[i] as number);
        lin += (gStar[i] as number) * (s[i] as number);
      }
      return 0.5 * quad + lin;
    },
    grad(s) {
      const g = Qd(s);
      for (let i = 0; i < dim; i++) g[i] = (g[i] as number) + (gStar[i] as number);
      return g;
    },
  };
}

/**
 * Euclidean projection of p onto ε·1 + τΔ = {s ≥ ε, Σ(s − ε) ≤ τ}: clip at ε if that fits the
 * budget, else project q = p − ε onto {x ≥ 0, Σx = τ} by sorting (Duchi et al., ICML 2008).
 */
export function projectOntoBudgetSimplex(p: ArrayLike<number>, tau: number, eps: number): Float64Array {
  const n = p.length;
  const q = Float64Array.from({ length: n }, (_, i) => (p[i] as number) - eps);
  let clipped = 0;
  for (const v of q) clipped += Math.max(0, v);
  if (clipped <= tau) return q.map((v) => eps + Math.max(0, v));
  const u = Array.from(q).sort((a, b) => b - a);
  let css = 0;
  let theta = 0;
  for (let k = 0; k < n; k++) {
    css += u[k] as number;
    const t = (css - tau) / (k + 1);
    if ((u[k] as number) - t > 0) theta = t;
  }
  return q.map((v) => eps + Math.max(0, v - theta));
}

/** FW gap at s over one block (indices), by brute force over every vertex of ε·1 + τΔ. */
export function bruteForceGap(
  s: ArrayLike<number>,
  g: ArrayLike<number>,
  indices: readonly number[],
  eps: number,
  tau: number,
): { gap: number; vertex: number } {
  let gs = 0;
  let base = 0;
  for (const i of indices) {
    gs += (g[i] as number) * (s[i] as number);
    base += (g[i] as number) * eps;
  }
  let vertex = -1;
  let best = base;
  for (const k of indices) {
    const v = base + (g[k] as number) * tau;
    if (v < best) {
      best = v;
      vertex = k;
    }
  }
  return { gap: gs - best, vertex };
}

/** 0..n−1. */
export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** Σ (s_i − ε) over the indices. */
export function excess(s: ArrayLike<number>, indices: readonly number[], eps: number): number {
  let m = 0;
  for (const i of indices) m += (s[i] as number) - eps;
  return m;
}

/** Indices with s_i > ε + tol. */
export function supportOf(s: ArrayLike<number>, eps: number, tol = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) if ((s[i] as number) - eps > tol) out.push(i);
  return out;
}

/** ‖a − b‖∞. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Global indices of each block of a stepper, in block order (from its adapter layout). */
export function blockIndices(
  adapters: readonly { name: string; rank: number }[],
  blocks: readonly { adapters: readonly string[] }[],
): number[][] {
  const offsets = new Map<string, [number, number]>();
  let off = 0;
  for (const a of adapters) {
    offsets.set(a.name, [off, a.rank]);
    off += a.rank;
  }
  return blocks.map((b) =>
    b.adapters.flatMap((name) => {
      const [o, r] = offsets.get(name) as [number, number];
      return range(r, o);
    }),
  );
}

/** Prints a labelled measurement when FW_REPORT is set (how the numbers in docs/frank-wolfe.md were taken). */
export function report(label: string, data: unknown): void {
  if (process.env.FW_REPORT) process.stdout.write(`[fw-report] ${label}: ${JSON.stringify(data)}\n`);
}
