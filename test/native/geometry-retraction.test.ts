/**
 * geometry-retraction.test.ts — the Stiefel retraction of lib/nn/geometry.ts: CholeskyQR2 on the
 * native gemm against the float64 modified Gram–Schmidt it replaced (now its fallback and the
 * reference here), on seeded random factors of odd shapes, column norms spanning 1e-6 … 1e3, nearly
 * dependent, rank-deficient and non-finite columns: same Q (the QR convention diag(R) > 0), which
 * path runs, and that a refused input is left untouched for the fallback.
 */

import { info } from '../../lib/info';
import {
  orthonormalizeColumns,
  orthonormalizeColumnsCholQr2,
  orthonormalizeColumnsMgs,
  retract,
} from '../../lib/nn/geometry';
import { type GemmImpl, gemmImpl, setGemmImpl } from '../../lib/ops/gemm';
import { Rng } from '../../lib/rng';

const { abs, max, sqrt } = Math;

/**
 * Tolerances. ORTHO bounds max|QᵀQ − I|: CholeskyQR2 forms both Gram matrices in the float32 gemm
 * (relative rounding ε ≈ 1e-7 … 1e-6, accumulated over n) and the second pass leaves ≈ ε; measured
 * ≤ 6.0e-7 on the factors below with the builtin gemm (Zen 3, Zen 5 and Zen 4 machines) and with
 * OpenBLAS on Zen 5, but 1.05e-6 with OpenBLAS on a Zen 4 at n = 3001, r = 7 (its sgemm kernel there
 * sums the 3001-long Gram dot products in another order), so the bound is 2e-6, about 34 units of
 * float32 roundoff: a broken second pass or a wrong Cholesky factor is off by orders of magnitude
 * (Gram–Schmidt in float64: ~1e-8, the float32 rounding of Q). CLOSE bounds max|Q − Q_MGS| (entries
 * of Q are ≤ 1): the two agree to float32 rounding times ‖R⁻¹‖ of the column-scaled U, which the fast
 * path keeps ≤ 32 (measured ≤ 1.3e-7 below, ≤ 2.8e-7 near that limit).
 */
const ORTHO = 2e-6;
const CLOSE = 1e-6;

/** max |UᵀU − I| for an n×r row-major U, in float64. */
function orthoError(U: Float32Array, n: number, r: number): number {
  let worst = 0;
  for (let a = 0; a < r; a++)
    for (let b = a; b < r; b++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (U[i * r + a] as number) * (U[i * r + b] as number);
      worst = max(worst, abs(d - (a === b ? 1 : 0)));
    }
  return worst;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = max(m, abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * The QR convention, checked on R = QᵀU (float64): upper triangular (below the diagonal only
 * rounding, relative to the column's norm) with a positive diagonal.
 */
function expectPositiveUpperR(Q: Float32Array, U: Float32Array, n: number, r: number): void {
  for (let j = 0; j < r; j++) {
    let norm = 0;
    for (let i = 0; i < n; i++) norm += (U[i * r + j] as number) ** 2;
    norm = sqrt(norm);
    for (let k = j; k < r; k++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (Q[i * r + k] as number) * (U[i * r + j] as number);
      if (k === j) expect(d).toBeGreaterThan(0);
      else expect(abs(d)).toBeLessThan(1e-5 * norm); // R_kj, k > j
    }
  }
}

/** Runs both retractions on copies of U; `fast` tells whether CholeskyQR2 took it. */
function both(U: Float32Array, n: number, r: number): { Q: Float32Array; ref: Float32Array; fast: boolean } {
  const probe = Float32Array.from(U);
  const fast = orthonormalizeColumnsCholQr2(probe, n, r);
  const Q = Float32Array.from(U);
  orthonormalizeColumns(Q, n, r);
  const ref = Float32Array.from(U);
  orthonormalizeColumnsMgs(ref, n, r);
  if (fast)
    expect(Array.from(Q)).toEqual(Array.from(probe)); // orthonormalizeColumns ran the fast path
  else expect(Array.from(probe)).toEqual(Array.from(U)); // refused: U left for the fallback
  return { Q, ref, fast };
}

function gaussian(rng: Rng, n: number, r: number): Float32Array {
  return rng.fillNormal(new Float32Array(n * r));
}

const IMPLS: GemmImpl[] = info().cpu.blas.compiled ? ['builtin', 'blas'] : ['builtin'];
const initialImpl = gemmImpl();
afterAll(() => setGemmImpl(initialImpl));

describe.each(IMPLS)('stiefel retraction: CholeskyQR2 (gemm %s) against Gram–Schmidt', (impl) => {
  beforeAll(() => setGemmImpl(impl));

  test('random factors of odd shapes: same Q, orthonormal, diag(R) > 0', () => {
    const rng = new Rng(21);
    for (const [n, r] of [
      [1, 1],
      [2, 1],
      [7, 3],
      [17, 5],
      [64, 16],
      [97, 13],
      [256, 31],
      [784, 16],
      [1000, 64],
      [3001, 7],
    ] as Array<[number, number]>) {
      const U = gaussian(rng, n, r);
      const { Q, ref, fast } = both(U, n, r);
      expect({ n, r, fast }).toEqual({ n, r, fast: true });
      expect(orthoError(Q, n, r)).toBeLessThan(ORTHO);
      expect(maxAbsDiff(Q, ref)).toBeLessThan(CLOSE);
      expectPositiveUpperR(Q, U, n, r);
    }
  });

  test('a factor after a small step (the training case) and a fixed point', () => {
    const rng = new Rng(22);
    const [n, r] = [784, 16];
    const Q0 = gaussian(rng, n, r);
    orthonormalizeColumns(Q0, n, r);
    const again = Float32Array.from(Q0);
    expect(orthonormalizeColumnsCholQr2(again, n, r)).toBe(true);
    expect(maxAbsDiff(again, Q0)).toBeLessThan(CLOSE); // already on the manifold: unchanged
    const stepped = Q0.map((v) => v + (0.01 / sqrt(n)) * rng.normal());
    const { Q, ref, fast } = both(stepped, n, r);
    expect(fast).toBe(true);
    expect(orthoError(Q, n, r)).toBeLessThan(ORTHO);
    expect(maxAbsDiff(Q, ref)).toBeLessThan(CLOSE);
  });

  test('column norms spanning 1e-6 … 1e3 stay on the fast path and give the unscaled Q', () => {
    const rng = new Rng(23);
    for (const [n, r] of [
      [50, 10],
      [784, 16],
      [300, 37],
    ] as Array<[number, number]>) {
      const base = gaussian(rng, n, r);
      const U = Float32Array.from(base);
      const perm = rng.permutation(r); // scales in no particular column order
      for (let j = 0; j < r; j++) {
        const s = 10 ** (-6 + (9 * (perm[j] as number)) / max(1, r - 1));
        for (let i = 0; i < n; i++) U[i * r + j] = (U[i * r + j] as number) * s;
      }
      const { Q, ref, fast } = both(U, n, r);
      expect(fast).toBe(true);
      expect(orthoError(Q, n, r)).toBeLessThan(ORTHO);
      expect(maxAbsDiff(Q, ref)).toBeLessThan(CLOSE);
      expectPositiveUpperR(Q, U, n, r);
      // QR is invariant to positive column scaling: the same Q as the unscaled factor's.
      const Qb = Float32Array.from(base);
      orthonormalizeColumns(Qb, n, r);
      expect(maxAbsDiff(Q, Qb)).toBeLessThan(CLOSE);
    }
  });

  test('nearly dependent columns: moderate ones on the fast path, near-degenerate ones fall back', () => {
    const rng = new Rng(24);
    const [n, r] = [784, 16];
    for (const [eps, fastExpected] of [
      [0.5, true],
      [0.25, true],
      [1e-3, false],
      [1e-5, false],
      [1e-8, false], // below Gram–Schmidt's own degeneracy threshold: a canonical vector replaces it
    ] as Array<[number, boolean]>) {
      const U = gaussian(rng, n, r);
      for (let i = 0; i < n; i++) {
        U[i * r + 5] = (U[i * r + 2] as number) + eps * (U[i * r + 5] as number);
        U[i * r + 11] = 1e3 * ((U[i * r + 2] as number) - (eps / 2) * (U[i * r + 11] as number));
      }
      const { Q, ref, fast } = both(U, n, r);
      expect({ eps, fast }).toEqual({ eps, fast: fastExpected });
      expect(orthoError(Q, n, r)).toBeLessThan(ORTHO);
      if (fast) expect(maxAbsDiff(Q, ref)).toBeLessThan(CLOSE);
      else expect(Array.from(Q)).toEqual(Array.from(ref)); // the fallback is Gram–Schmidt itself
    }
  });

  test('rank-deficient, zero and non-finite columns, and n < r, fall back untouched', () => {
    const rng = new Rng(25);
    const [n, r] = [40, 6];
    const dup = gaussian(rng, n, r);
    for (let i = 0; i < n; i++) dup[i * r + 4] = 2 * (dup[i * r + 1] as number);
    const zero = gaussian(rng, n, r);
    for (let i = 0; i < n; i++) zero[i * r + 3] = 0;
    for (const U of [dup, zero]) {
      const { Q, ref, fast } = both(U, n, r);
      expect(fast).toBe(false);
      expect(Array.from(Q)).toEqual(Array.from(ref));
      expect(orthoError(Q, n, r)).toBeLessThan(ORTHO);
    }
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e30]) {
      const U = gaussian(rng, n, r);
      U[7 * r + 2] = bad; // 1e30: its square overflows the float32 Gram
      const copy = Float32Array.from(U);
      expect(orthonormalizeColumnsCholQr2(copy, n, r)).toBe(false);
      expect(Array.from(copy)).toEqual(Array.from(U));
    }
    const wide = gaussian(rng, 3, 5);
    expect(orthonormalizeColumnsCholQr2(Float32Array.from(wide), 3, 5)).toBe(false);
    expect(orthonormalizeColumnsCholQr2(new Float32Array(0), 4, 0)).toBe(true);
  });

  test('retract(stiefel) is this retraction, on views into a larger buffer too', () => {
    const rng = new Rng(26);
    const [n, r] = [129, 9];
    const buf = rng.fillNormal(new Float32Array(n * r + 10));
    const view = buf.subarray(5, 5 + n * r);
    const ref = Float32Array.from(view);
    orthonormalizeColumnsMgs(ref, n, r);
    const guard = [buf[4], buf[5 + n * r]];
    retract('stiefel', view, n, r);
    expect(maxAbsDiff(view, ref)).toBeLessThan(CLOSE);
    expect([buf[4], buf[5 + n * r]]).toEqual(guard); // nothing written outside the factor
  });
});
