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
 * canonical vector orthogonal to them, so the result always has orthonormal columns.
 */
export function orthonormalizeColumns(U: Float32Array, n: number, r: number): void {
  const Q = new Float64Array(n * r);
  for (let k = 0; k < n * r; k++) Q[k] = U[k] as number;
  const col = new Float64Array(n);
  for (let j = 0; j < r; j++) {
    for (let i = 0; i < n; i++) col[i] = Q[i * r + j] as number;
    const norm0 = Math.sqrt(dot(col, col));
    for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, r, j);
    let nrm = Math.sqrt(dot(col, col));
    if (!(nrm > 1e-6 * norm0) || !Number.isFinite(nrm)) {
      // Degenerate column: take the first canonical vector with a component left after projection.
      for (let e = 0; e < n; e++) {
        col.fill(0);
        col[e] = 1;
        for (let pass = 0; pass < 2; pass++) subtractProjections(Q, col, n, r, j);
        nrm = Math.sqrt(dot(col, col));
        if (nrm > 0.5) break;
      }
    }
    for (let i = 0; i < n; i++) Q[i * r + j] = (col[i] as number) / nrm;
  }
  for (let k = 0; k < n * r; k++) U[k] = Q[k] as number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** col -= Σ_{k<j} q_k ⟨q_k, col⟩ (columns q_k of the row-major Q). */
function subtractProjections(Q: Float64Array, col: Float64Array, n: number, r: number, j: number): void {
  for (let k = 0; k < j; k++) {
    let p = 0;
    for (let i = 0; i < n; i++) p += (Q[i * r + k] as number) * (col[i] as number);
    for (let i = 0; i < n; i++) col[i] = (col[i] as number) - p * (Q[i * r + k] as number);
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
