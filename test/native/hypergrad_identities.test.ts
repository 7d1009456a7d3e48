/**
 * hypergrad_identities.test.ts — the two identities of ALGORITHM.md section 3 through the native ops
 * (cp_mttkrp → cp_tangent → cp_hypergrad), on seeded dense-route problems:
 *  * Euclidean gradients: Σ_k ⟨u_i^(k), g_i^(k)⟩ = d·s_i·∂s_i (column i of each factor and s_i each enter Ψ
 *    linearly, so by Euler's identity every ⟨u_i^(k), g_i^(k)⟩ equals s_i·∂s_i), so G̃ = (1 − d)·∂s;
 *  * tangent-projected gradients on the manifold (stiefel modes where n_k ≥ r, oblique elsewhere):
 *    Σ_k ⟨u_i^(k), P(g_i^(k))⟩ = 0, so G̃ = ∂s.
 * Tolerances: Euclidean — dots and d·s·ds are both float32 sums of prod(dims)-term products, each within
 * γ_n·d·|s_i|·(∂s_i on |inputs|) of the exact value (n = prod(dims) + Σ n_k + d + 3), so their difference is
 * within twice that; G̃ adds a division and a subtraction (2u relative). Riemannian — ⟨U_i, P(g)_i⟩ is exactly 0
 * for the float64 math on the float32 factors up to the factors' own rounding (|UᵀU − I| ≤ ~2u) and the rounding
 * of P(g) (u|P(g)|): 8u·(r + 1)·max_j ‖g_j^(k)‖ per mode; G̃ − ∂s is that sum over modes divided by s_i, plus
 * 2u|∂s_i|. Every test also checks its tolerance is far below the quantity a wrong formula would produce.
 */
import { cpHypergrad, type Geometry } from '../../lib';
import { cpMttkrp, cpTangent } from '../../lib/ops';
import { uniform } from '../helpers/random';
import { abs64, gamma, mttkrp64, normalizeColumns, orthonormalize, prod, U32 } from '../helpers/reference_dense';

function problem(seed: number, dims: number[], r: number) {
  return {
    factors: dims.map((n, k) => uniform(seed + 13 * k, n * r, -1, 1)),
    s: uniform(seed + 99, r, 0.3, 2),
    G: uniform(seed + 77, prod(dims), -1, 1),
  };
}

describe('Euclidean gradients: Σ_k⟨u_i, g_i⟩ = d·s_i·∂s_i and G̃ = (1 − d)·∂s', () => {
  const CASES: [number[], number][] = [
    [[17, 9], 8],
    [[31, 24], 5],
    [[6, 5, 4], 3],
    [[8, 7, 3, 3], 4],
    [[5, 4, 3, 3], 17],
    [[3, 2, 4, 2, 3], 3],
    [[2, 3, 2, 2, 3, 2], 2],
  ];
  test.each(CASES.map(([dims, r]) => [dims.length, JSON.stringify(dims), r, dims] as const))(
    'd = %i, dims %s, r = %i',
    (d, _name, r, dims) => {
      const p = problem(7 * d + r, dims, r);
      const { ds, dots } = cpMttkrp(p.factors, p.s, dims, p.G, { wantDots: true, backend: 'cpu' });
      if (!dots) throw new Error('dots missing');
      const absDs = mttkrp64(p.factors.map(abs64), abs64(p.s), dims, abs64(p.G)).ds;
      const n = prod(dims) + dims.reduce((a, b) => a + b, 0) + d + 3;
      const g = cpHypergrad(ds, p.s, dots, { backend: 'cpu' });
      let worstDots = 0;
      let worstG = 0;
      let size = 0;
      for (let i = 0; i < r; i++) {
        const si = p.s[i] as number;
        const dsi = ds[i] as number;
        const tolDots = 2 * gamma(n) * d * si * (absDs[i] as number);
        worstDots = Math.max(worstDots, Math.abs((dots[i] as number) - d * si * dsi) / tolDots);
        const tolG = tolDots / si + 2 * U32 * (d * Math.abs(dsi) + Math.abs(dsi));
        worstG = Math.max(worstG, Math.abs((g[i] as number) - (1 - d) * dsi) / tolG);
        size = Math.max(size, Math.abs(dsi) / tolG);
      }
      expect(worstDots).toBeLessThanOrEqual(1);
      expect(worstG).toBeLessThanOrEqual(1);
      expect(size).toBeGreaterThan(100); // (1 − d)·∂s and ∂s differ by far more than the tolerance
    },
  );
});

describe('Riemannian gradients (stiefel where n_k ≥ r, else oblique): Σ_k⟨u_i, P(g_i)⟩ = 0 and G̃ = ∂s', () => {
  const CASES: [number[], number][] = [
    [[9, 7], 4], // d = 2, both modes stiefel
    [[12, 3], 5], // d = 2, stiefel + oblique
    [[6, 5, 3, 2], 4], // d = 4, a conv-like kernel: F, C stiefel; kh, kw oblique
    [[10, 8, 3, 3], 8], // d = 4, r = 8 > kh = kw = 3
    [[5, 6, 4], 3], // d = 3, all stiefel
  ];
  test.each(CASES.map(([dims, r]) => [dims.length, JSON.stringify(dims), r, dims] as const))(
    'd = %i, dims %s, r = %i',
    (d, _name, r, dims) => {
      const p = problem(11 * d + r, dims, r);
      const geoms: Geometry[] = dims.map((n) => (n >= r ? 'stiefel' : 'oblique'));
      const factors = p.factors.map((U, k) => {
        const n = dims[k] as number;
        return geoms[k] === 'stiefel' ? orthonormalize(U, n, r) : normalizeColumns(U, n, r);
      });
      const { grads, ds } = cpMttkrp(factors, p.s, dims, p.G, { backend: 'cpu' });
      // Tolerance per component from the Euclidean gradients' column norms (before they are projected in place).
      const tolDots = new Float64Array(r);
      for (let k = 0; k < d; k++) {
        const n = dims[k] as number;
        const gk = grads[k] as Float32Array;
        let maxNorm = 0;
        for (let i = 0; i < r; i++) {
          let s2 = 0;
          for (let j = 0; j < n; j++) s2 += (gk[j * r + i] as number) ** 2;
          maxNorm = Math.max(maxNorm, Math.sqrt(s2));
        }
        for (let i = 0; i < r; i++) tolDots[i] = (tolDots[i] as number) + 8 * U32 * (r + 1) * maxNorm;
      }
      const dots = new Float32Array(r);
      for (let k = 0; k < d; k++) {
        const gk = grads[k] as Float32Array;
        cpTangent(geoms[k] as Geometry, factors[k] as Float32Array, gk, dims[k] as number, r, {
          out: gk,
          dots,
          backend: 'cpu',
        });
      }
      const g = cpHypergrad(ds, p.s, dots, { backend: 'cpu' });
      let worstDots = 0;
      let worstG = 0;
      let size = 0;
      for (let i = 0; i < r; i++) {
        const si = p.s[i] as number;
        const dsi = ds[i] as number;
        worstDots = Math.max(worstDots, Math.abs(dots[i] as number) / (tolDots[i] as number));
        const tolG = (tolDots[i] as number) / si + 2 * U32 * Math.abs(dsi);
        worstG = Math.max(worstG, Math.abs((g[i] as number) - dsi) / tolG);
        // A Euclidean (unprojected) dot would be d·s_i·∂s_i: the tolerance must be far below it.
        size = Math.max(size, (d * si * Math.abs(dsi)) / (tolDots[i] as number));
      }
      expect(worstDots).toBeLessThanOrEqual(1);
      expect(worstG).toBeLessThanOrEqual(1);
      expect(size).toBeGreaterThan(100);
    },
  );
});
