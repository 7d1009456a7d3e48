/**
 * geometry.ts — factor geometries of CP adapters (ALGORITHM.md section 2): which geometry each
 * mode gets, random initialisation on it, and the retraction applied after every factor update
 * (oblique: normalise columns; stiefel: QR with positive diagonal). The tangent projection of
 * gradients is the native op cp_tangent. Tested in test/native/nn-adapters.test.ts and (the Stiefel
 * retraction against Gram–Schmidt) test/native/geometry-retraction.test.ts.
 */
import type { Geometry } from '../ops/common';
import { gemm } from '../ops/gemm';
import type { Rng } from '../rng';

/**
 * The geometry a mode of size n actually uses for rank r: a factor with fewer rows than the rank
 * cannot have orthonormal columns, so 'stiefel' falls back to 'oblique' there (ALGORITHM.md
 * section 3, e.g. the 3×r spatial factors of a 3×3 conv kernel).
 */
export function modeGeometry(geometry: Geometry, n: number, r: number): Geometry {
  return geometry === 'stiefel' && n < r ? 'oblique' : geometry;
}

/** Normalises every column of the n×r row-major U to unit norm (a zero column becomes e_(i mod n)). */
export function normalizeColumns(U: Float32Array, n: number, r: number): void {
  for (let j = 0; j < r; j++) {
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const v = U[i * r + j] as number;
      ss += v * v;
    }
    if (ss > 0 && Number.isFinite(ss)) {
      const inv = 1 / Math.sqrt(ss);
      for (let i = 0; i < n; i++) U[i * r + j] = (U[i * r + j] as number) * inv;
    } else {
      for (let i = 0; i < n; i++) U[i * r + j] = i === j % n ? 1 : 0;
    }
  }
}

/**
 * QR retraction onto the Stiefel manifold (n ≥ r): U ← Q with Q R = U and diag(R) > 0. Runs
 * CholeskyQR2 (orthonormalizeColumnsCholQr2) and falls back to modified Gram–Schmidt
 * (orthonormalizeColumnsMgs) when U is too ill-conditioned for it or rank-deficient; both give the
 * same Q up to float32 rounding. A column in the span of the previous ones is replaced by the first
 * canonical vector orthogonal to them, so the result always has orthonormal columns.
 */
export function orthonormalizeColumns(U: Float32Array, n: number, r: number): void {
  if (!orthonormalizeColumnsCholQr2(U, n, r)) orthonormalizeColumnsMgs(U, n, r);
}

// Bound once: under jest's module wrapper a global lookup in a hot loop costs ~100×.
const { abs, max, sqrt } = Math;

/**
 * Largest ‖R⁻¹‖₂ (bounded above by √(‖R⁻¹‖₁‖R⁻¹‖∞)) of the column-scaled U = QR that the fast path
 * accepts, i.e. the smallest singular value of U with unit columns is ≥ 1/32. Its Q differs from
 * the exact one by ~(float32 rounding of G)·‖R⁻¹‖, while Gram–Schmidt's float64 Q is exact to
 * float32 rounding; so beyond this (nearly dependent columns, square random draws) Gram–Schmidt
 * runs. Training factors (orthonormal before a small step) have ‖R⁻¹‖ ≈ 1, Gaussian n×r ones
 * 1/(1 − √(r/n)). A pivot R_jj < 1/32 already implies ‖R⁻¹‖ > 32, which lets Cholesky stop early.
 */
const MAX_RINV_NORM = 32;
/** Largest |QᵀQ − I| entry after the first pass that the second pass is trusted to repair. */
const MAX_PASS1_LOSS = 0.1;

/**
 * Workspaces reused across calls, grown to the largest factor seen (n·r float32): a retraction runs
 * after every step, and a call never yields, so one set serves the whole (single-threaded) isolate.
 */
let Q1 = new Float32Array(0);
let G32 = new Float32Array(0);
let M32 = new Float32Array(0);
let G64 = new Float64Array(0);
let M64 = new Float64Array(0);
let D64 = new Float64Array(0);

/**
 * The Stiefel retraction by CholeskyQR2: G = UᵀU, G = RᵀR (Cholesky), Q₁ = U·R⁻¹, then the same
 * once more on Q₁ to repair the orthogonality the first pass loses (≈ κ²·ε of G). Returns false
 * and leaves U unchanged when U is outside its safe range (a zero, non-finite or nearly dependent
 * column, see MAX_RINV_NORM): the caller falls back to Gram–Schmidt; n < r always returns false.
 * Accuracy: ‖QᵀQ − I‖max ≲ 6e-7 and |Q − Q_MGS| ≲ 3e-7 (tested ≤ 1e-6 in
 * test/native/geometry-retraction.test.ts). @internal (exported for the tests and
 * bench/retraction.bench.ts).
 *
 * The O(n·r²) products (both Gram matrices and both A·R⁻¹) run in the native float32 gemm; only
 * the r×r Cholesky and triangular inverse run here, in float64. Why not float64 throughout (the
 * Gram in unrolled TypeScript loops): V8 runs those at ~0.7 GFMA/s here, which made the whole
 * retraction only 2–2.8× faster than Gram–Schmidt (784×16: 0.55–0.70 ms), while the gemm version
 * is 6–14× faster (0.11–0.14 ms; bench/retraction.bench.ts), and the retraction runs after every
 * step: only the latter makes stiefel factors nearly free in training. The price is float32
 * accuracy: G's rounding (ε ≈ 1e-7 … 1e-6) limits the result to ‖QᵀQ − I‖ ~ 3e-7 instead of ~1e-8,
 * far below what float32 training resolves, and, amplified by κ², it would wreck ill-conditioned
 * inputs; MAX_RINV_NORM and the check after the first pass send those to the float64 Gram–Schmidt.
 * Columns are scaled to unit norm inside G and R⁻¹ (QR is invariant to that scaling), so a spread
 * of column norms (1e-6 … 1e3) does not count as ill-conditioning: only near-dependence does.
 */
export function orthonormalizeColumnsCholQr2(U: Float32Array, n: number, r: number): boolean {
  if (r === 0) return true;
  if (n < r) return false;
  if (Q1.length < n * r) Q1 = new Float32Array(n * r);
  if (G32.length < r * r) {
    G32 = new Float32Array(r * r);
    M32 = new Float32Array(r * r);
    G64 = new Float64Array(r * r);
    M64 = new Float64Array(r * r);
    D64 = new Float64Array(r);
  }
  const Q = Q1.subarray(0, n * r);
  const G = G64.subarray(0, r * r); // row-major r×r; upper triangles only
  const M = M64.subarray(0, r * r);
  const Gf = G32.subarray(0, r * r);
  const Mf = M32.subarray(0, r * r);
  const d = D64.subarray(0, r); // 1/‖u_j‖
  // On the CPU whatever the process backend: U is a host array and gemm has no CUDA twin.
  const backend = 'cpu';
  // Pass 1, on the columns scaled to unit norm: G ← D⁻¹UᵀUD⁻¹ with D = diag(‖u_j‖).
  gemm({ backend, transA: true, M: r, N: r, K: n, A: U, B: U, C: Gf });
  for (let j = 0; j < r; j++) {
    const dj = sqrt(Gf[j * r + j] as number);
    if (!(dj > 0 && dj < Number.POSITIVE_INFINITY)) return false; // zero, NaN or ∞ column
    d[j] = 1 / dj;
  }
  for (let j = 0; j < r; j++) {
    const dj = d[j] as number;
    G[j * r + j] = 1;
    for (let k = j + 1; k < r; k++) G[j * r + k] = (Gf[j * r + k] as number) * dj * (d[k] as number);
  }
  if (!cholesky(G, r, 1 / MAX_RINV_NORM)) return false;
  invertUpper(G, M, r);
  if (!(upperNormBound(M, r) <= MAX_RINV_NORM)) return false;
  for (let k = 0; k < r; k++) {
    const dk = d[k] as number;
    for (let j = k; j < r; j++) M[k * r + j] = (M[k * r + j] as number) * dk; // U's R⁻¹ = D⁻¹·(scaled R)⁻¹
  }
  toFloat32Upper(M, Mf, r);
  gemm({ backend, M: n, N: r, K: r, A: U, B: Mf, C: Q });
  // Pass 2: measure what the first pass left and repair it.
  gemm({ backend, transA: true, M: r, N: r, K: n, A: Q, B: Q, C: Gf });
  let loss = 0;
  for (let j = 0; j < r; j++) {
    for (let k = j; k < r; k++) {
      const g = Gf[j * r + k] as number;
      G[j * r + k] = g;
      loss = max(loss, abs(g - (j === k ? 1 : 0))); // NaN stays NaN: refused below
    }
  }
  if (!(loss <= MAX_PASS1_LOSS)) return false;
  if (!cholesky(G, r, 0.5)) return false;
  invertUpper(G, M, r);
  toFloat32Upper(M, Mf, r);
  gemm({ backend, M: n, N: r, K: r, A: Q, B: Mf, C: U });
  return true;
}

/**
 * In-place Cholesky G = RᵀR on the upper triangle of the row-major r×r G (R overwrites it). False
 * when a pivot R_jj is not above minPivot (or is NaN): G is not safely positive definite.
 */
/** @internal Also used by bench/retraction.bench.ts's float64 variant. */
export function cholesky(G: Float64Array, r: number, minPivot: number): boolean {
  for (let j = 0; j < r; j++) {
    for (let k = 0; k < j; k++) {
      let s = G[k * r + j] as number;
      for (let l = 0; l < k; l++) s -= (G[l * r + k] as number) * (G[l * r + j] as number);
      G[k * r + j] = s / (G[k * r + k] as number);
    }
    let s = G[j * r + j] as number;
    for (let l = 0; l < j; l++) {
      const v = G[l * r + j] as number;
      s -= v * v;
    }
    if (!(s > minPivot * minPivot)) return false;
    G[j * r + j] = sqrt(s);
  }
  return true;
}

/** M ← R⁻¹ for the upper-triangular R (row-major r×r, upper triangles only), by back substitution. */
/** @internal Also used by bench/retraction.bench.ts's float64 variant. */
export function invertUpper(R: Float64Array, M: Float64Array, r: number): void {
  for (let j = 0; j < r; j++) {
    M[j * r + j] = 1 / (R[j * r + j] as number);
    for (let k = j - 1; k >= 0; k--) {
      let s = 0;
      for (let l = k + 1; l <= j; l++) s += (R[k * r + l] as number) * (M[l * r + j] as number);
      M[k * r + j] = -s / (R[k * r + k] as number);
    }
  }
}

/** √(‖M‖₁·‖M‖∞) ≥ ‖M‖₂ for the upper-triangular row-major r×r M. */
function upperNormBound(M: Float64Array, r: number): number {
  let rows = 0;
  let cols = 0;
  for (let k = 0; k < r; k++) {
    let sr = 0;
    let sc = 0;
    for (let j = k; j < r; j++) sr += abs(M[k * r + j] as number);
    for (let i = 0; i <= k; i++) sc += abs(M[i * r + k] as number);
    rows = max(rows, sr);
    cols = max(cols, sc);
  }
  return sqrt(rows * cols);
}

/** The upper triangle of M as a full float32 r×r matrix (zeros below: gemm reads all of it). */
function toFloat32Upper(M: Float64Array, out: Float32Array, r: number): void {
  for (let k = 0; k < r; k++) for (let j = 0; j < r; j++) out[k * r + j] = j < k ? 0 : (M[k * r + j] as number);
}

/**
 * The Stiefel retraction by modified Gram–Schmidt in float64, done twice (one pass loses
 * orthogonality when U is ill-conditioned): the fallback of orthonormalizeColumns and the
 * reference its tests compare with. A column that is (numerically) in the span of the previous ones
 * (what is left after projection is ≤ 1e-6 of its norm) is replaced by the first canonical vector
 * orthogonal to them. Works on a column-major copy so every inner loop is contiguous. @internal
 */
export function orthonormalizeColumnsMgs(U: Float32Array, n: number, r: number): void {
  const Q = new Float64Array(n * r); // column-major: column j is Q[j·n … j·n + n)
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) Q[j * n + i] = U[i * r + j] as number;
  for (let j = 0; j < r; j++) {
    const col = Q.subarray(j * n, j * n + n);
    const norm0 = sqrt(dot(col, col));
    for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, j);
    let nrm = sqrt(dot(col, col));
    if (!(nrm > 1e-6 * norm0) || !Number.isFinite(nrm)) {
      // Degenerate column: take the first canonical vector with a component left after projection.
      for (let e = 0; e < n; e++) {
        col.fill(0);
        col[e] = 1;
        for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, j);
        nrm = sqrt(dot(col, col));
        if (nrm > 0.5) break;
      }
    }
    const inv = 1 / nrm;
    for (let i = 0; i < n; i++) col[i] = (col[i] as number) * inv;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) U[i * r + j] = Q[j * n + i] as number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** col -= Σ_{k<j} q_k ⟨q_k, col⟩ over the first j columns of the column-major Q. */
function subtractProjections(Q: Float64Array, col: Float64Array, n: number, j: number): void {
  for (let k = 0; k < j; k++) {
    const q = Q.subarray(k * n, k * n + n);
    const p = dot(q, col);
    for (let i = 0; i < n; i++) col[i] = (col[i] as number) - p * (q[i] as number);
  }
}

/** Puts U (n×r) back on its mode geometry after an update. */
export function retract(geometry: Geometry, U: Float32Array, n: number, r: number): void {
  if (geometry === 'oblique') normalizeColumns(U, n, r);
  else if (geometry === 'stiefel') orthonormalizeColumns(U, n, r);
}

/**
 * A random factor on its geometry: Gaussian columns scaled to unit expected norm, then retracted
 * (euclidean factors keep the Gaussian draw, std 1/√n, so columns have norm ≈ 1 too).
 */
export function randomFactor(geometry: Geometry, n: number, r: number, rng: Rng): Float32Array {
  const U = rng.fillNormal(new Float32Array(n * r), 1 / Math.sqrt(n));
  retract(geometry, U, n, r);
  return U;
}
