/**
 * cp_tangent.ts — op cp_tangent: the Riemannian (tangent-projected) gradient of one CP factor for its
 * geometry (ALGORITHM.md sections 2–3). Tested in test/native/cp_tangent.test.ts and
 * test/native/hypergrad_identities.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { f32, int, invalid, oneOf } from '../validate';
import { GEOMETRIES, GEOMETRY_CODE, type Geometry, type OpOptions } from './common';

/**
 * cp_tangent — projects the Euclidean gradient G of a factor U (both n × r, row-major) onto the tangent
 * space of U's geometry:
 *
 *     euclidean   out = G
 *     oblique     out_i = G_i − U_i ⟨U_i, G_i⟩                  (U has unit-norm columns)
 *     stiefel     out = G − U · sym(Uᵀ G),  sym(A) = (A + Aᵀ)/2   (U has orthonormal columns; needs n ≥ r)
 *
 * With `opts.dots` (length r) it also accumulates dots[i] += ⟨U_i, out_i⟩ — call it once per factor of an
 * adapter to get Σ_k ⟨u_i^(k), P(g_i^(k))⟩ for cpHypergrad (≈ 0 on a manifold, so G̃ = ∂f/∂s there).
 * Writes into `opts.out` when given (it may be G itself: in place), else into a new array; returns it.
 * U and G must be finite. A factor with fewer rows than the rank cannot have orthonormal columns: use
 * 'oblique' for it (ALGORITHM.md section 3).
 */
export function cpTangent(
  geometry: Geometry,
  U: Float32Array,
  G: Float32Array,
  n: number,
  r: number,
  opts: OpOptions & { out?: Float32Array; dots?: Float32Array } = {},
): Float32Array {
  const where = 'cpTangent';
  const geom = oneOf(where, 'geometry', geometry, GEOMETRIES);
  int(where, 'n', n, 1);
  int(where, 'r', r, 1);
  if (!Number.isSafeInteger(n * r)) invalid(where, 'r', 'n * r to be a safe integer', `n = ${n}, r = ${r}`);
  if (geom === 'stiefel' && n < r) {
    invalid(
      where,
      'n',
      "n >= r (stiefel needs at least as many rows as the rank 'r' for orthonormal columns; use geometry 'oblique' for this factor)",
      `n = ${n}, r = ${r}`,
    );
  }
  f32(where, 'U', U, n * r);
  f32(where, 'G', G, n * r);
  const out = opts.out === undefined ? new Float32Array(n * r) : f32(where, 'out', opts.out, n * r);
  const dots = opts.dots === undefined ? null : f32(where, 'dots', opts.dots, r);
  addon().cpTangent(backendCode(resolveBackend(opts.backend)), GEOMETRY_CODE[geom], n, r, U, G, out, dots);
  return out;
}
