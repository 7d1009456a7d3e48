/**
 * geometry.ts — factor geometries of CP adapters (ALGORITHM.md section 2): which geometry each
 * mode gets, random initialisation on it, and the retraction applied after every factor update
 * (oblique: normalise columns; stiefel: QR with positive diagonal). The tangent projection of
 * gradients is the native op cp_tangent. Tested in test/native/nn-adapters.test.ts.
 */
import type { Geometry } from '../ops/common';
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
 * QR retraction onto the Stiefel manifold (n ≥ r): U ← Q with Q R = U and diag(R) > 0, by modified
 * Gram–Schmidt in float64, done twice (one pass loses orthogonality when U is ill-conditioned).
 * A column that is (numerically) in the span of the previous ones is replaced by the first
 * canonical vector orthogonal to them, so the result always has orthonormal columns. Works on a
 * column-major copy so every inner loop is contiguous.
 */
export function orthonormalizeColumns(U: Float32Array, n: number, r: number): void {
  const Q = new Float64Array(n * r); // column-major: column j is Q[j·n … j·n + n)
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) Q[j * n + i] = U[i * r + j] as number;
  for (let j = 0; j < r; j++) {
    const col = Q.subarray(j * n, j * n + n);
    const norm0 = Math.sqrt(dot(col, col));
    for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, j);
    let nrm = Math.sqrt(dot(col, col));
    if (!(nrm > 1e-6 * norm0) || !Number.isFinite(nrm)) {
      // Degenerate column: take the first canonical vector with a component left after projection.
      for (let e = 0; e < n; e++) {
        col.fill(0);
        col[e] = 1;
        for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, j);
        nrm = Math.sqrt(dot(col, col));
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
