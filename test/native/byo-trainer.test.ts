/**
 * byo-trainer.test.ts — the bring-your-own-trainer dense route of docs/interop.md, run as written:
 * the example block of the doc must equal the marked region below (so the doc cannot rot), the ops it
 * calls give what the doc says (cpMaterialize = Ψ, cpMttkrp = factor gradients and ∂L/∂s against float64
 * references, cpHypergrad = ∂s with tangent gradients and (1 − d)·∂s with Euclidean ones), and the loop
 * (a foreign loss on an order-3 weight, factors by Riemannian SGD, s by Frank-Wolfe) brings the loss down.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import { randomFactor, retract } from '../../lib/nn/geometry';
import { cpMaterialize, cpMttkrp } from '../../lib/ops/cp_dense';
import { cpHypergrad } from '../../lib/ops/cp_hypergrad';
import { cpTangent } from '../../lib/ops/cp_tangent';
import { Rng } from '../../lib/rng';
import { uniform } from '../helpers/random';
import { abs64, gamma, materialize64, mttkrp64, worstRatio } from '../helpers/reference_dense';

const dims = [6, 5, 3];

/** "Your framework": a frozen W0 and a target; L(W) = ½‖W − T‖², so ∂L/∂W = W − T. */
function framework() {
  const W0 = uniform(81, 90, -1, 1);
  // The target is W0 plus a rank-2 CP tensor the adapter has to find.
  const rng = new Rng(82);
  const star = dims.map((n) => randomFactor('oblique', n, 2, rng));
  const psiStar = materialize64(star, [1.0, 0.6], dims);
  const T = Float64Array.from(W0, (w, j) => w + (psiStar[j] as number));
  let last = Number.NaN;
  let first = Number.NaN;
  return {
    W0,
    /** Adds ΔW to W0 and returns ∂L/∂W (same layout); keeps the loss for the test. */
    yourGradient(dW: Float32Array): Float32Array {
      const G = new Float32Array(dW.length);
      last = 0;
      for (let j = 0; j < G.length; j++) {
        const e = (W0[j] as number) + (dW[j] as number) - (T[j] as number);
        G[j] = e;
        last += 0.5 * e * e;
      }
      if (Number.isNaN(first)) first = last;
      return G;
    },
    /** The loss at the last call and at the first. */
    loss: () => last,
    firstLoss: () => first,
  };
}

/** "Your optimiser": plain SGD. */
function yourOptimizerStep(U: Float32Array, g: Float32Array): void {
  for (let j = 0; j < U.length; j++) U[j] = (U[j] as number) - 0.3 * (g[j] as number);
}

describe('bring-your-own-trainer (dense route)', () => {
  test('the example in docs/interop.md is the code run here', () => {
    const doc = fs.readFileSync(path.join(__dirname, '../../docs/interop.md'), 'utf8');
    const src = fs.readFileSync(__filename, 'utf8');
    const docBlock = /<!-- byo-example -->\s*```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    const testBlock =
      /\/\/ --- docs\/interop\.md example: begin\n([\s\S]*?)\s*\/\/ --- docs\/interop\.md example: end/.exec(src)?.[1];
    const norm = (t: string | undefined) =>
      (t ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0)
        .join('\n');
    expect(norm(testBlock).length).toBeGreaterThan(500);
    expect(norm(docBlock)).toBe(norm(testBlock));
  });

  test('the ops give what the doc says: Ψ, MTTKRP gradients, ∂L/∂s, and G̃ in both geometries', () => {
    const r = 3;
    const d = dims.length;
    const rng = new Rng(3);
    const factors = dims.map((n) => randomFactor('oblique', n, r, rng));
    const s = Float32Array.from([0.9, 0.4, 0.7]);
    const dW = cpMaterialize(factors, s, dims);
    const psi = materialize64(factors, s, dims);
    const psiAbs = materialize64(factors.map(abs64), abs64(s), dims);
    // r products of d + 1 factors and r − 1 additions: γ_{d+r} of the absolute terms.
    expect(worstRatio(dW, psi, (j) => gamma(d + r) * (psiAbs[j] as number))).toBeLessThanOrEqual(1);
    const G = uniform(4, dW.length, -1, 1);
    const { grads, ds, dots } = cpMttkrp(factors, s, dims, G, { wantDots: true });
    const ref = mttkrp64(factors, s, dims, G);
    const refAbs = mttkrp64(factors.map(abs64), abs64(s), dims, abs64(G));
    const total = dW.length;
    grads.forEach((g, k) => {
      expect(
        worstRatio(
          g,
          ref.grads[k] as Float64Array,
          (j) => gamma(total + d) * ((refAbs.grads[k] as Float64Array)[j] as number),
        ),
      ).toBeLessThanOrEqual(1);
    });
    expect(worstRatio(ds, ref.ds, (j) => gamma(total + d) * (refAbs.ds[j] as number))).toBeLessThanOrEqual(1);
    // Euclidean gradients: Σ_k ⟨u_i, g_i⟩ = d·s_i·∂s_i, so G̃ = (1 − d)·∂s (the wrong sign: ALGORITHM.md §3).
    const gEuclid = cpHypergrad(ds, s, dots as Float32Array);
    gEuclid.forEach((v, i) => {
      expect(Math.abs(v - (1 - d) * (ds[i] as number))).toBeLessThan(1e-4 * (Math.abs(ds[i] as number) + 1e-3));
    });
    // Tangent (oblique) gradients: the sum vanishes and G̃ = ∂s.
    const tdots = new Float32Array(r);
    factors.forEach((U, k) => {
      cpTangent('oblique', U, grads[k] as Float32Array, dims[k] as number, r, {
        out: grads[k] as Float32Array,
        dots: tdots,
      });
    });
    const gTangent = cpHypergrad(ds, s, tdots);
    gTangent.forEach((v, i) => {
      expect(Math.abs(v - (ds[i] as number))).toBeLessThan(1e-4 * (Math.abs(ds[i] as number) + 1e-3));
    });
    // Able to fail: the two differ by d·∂s.
    expect(Math.abs((gTangent[0] as number) - (gEuclid[0] as number))).toBeGreaterThan(0.1 * Math.abs(ds[0] as number));
  });

  test('the example loop: factors by Riemannian SGD, s by Frank-Wolfe; the foreign loss falls', () => {
    const { W0, yourGradient, loss, firstLoss } = framework();
    expect(W0.length).toBe(90);
    // --- docs/interop.md example: begin
    const dims = [6, 5, 3]; // the shape of a weight your framework owns (order 2–6, row-major)
    const r = 3;
    const rng = new Rng(1);
    const factors = dims.map((n) => randomFactor('oblique', n, r, rng)); // U^(k): n_k × r, unit columns
    const s = new Float32Array(r).fill(0.3);
    const fw = new SimplexFrankWolfe({ tau: 2, epsilon: 1e-3 }, [{ name: 'W', rank: r }], { s0: s });

    for (let outer = 0; outer < 40; outer++) {
      // Lower level: train the factors with s fixed.
      for (let inner = 0; inner < 5; inner++) {
        const dW = cpMaterialize(factors, s, dims); // ΔW = Ψ(B, s), laid out like W
        const G = yourGradient(dW); // your framework: W = W0 + ΔW, forward, backward → ∂L/∂W
        const { grads } = cpMttkrp(factors, s, dims, G); // ∂L/∂U^(k)
        factors.forEach((U, k) => {
          const g = grads[k] as Float32Array;
          cpTangent('oblique', U, g, U.length / r, r, { out: g }); // Riemannian gradient
          yourOptimizerStep(U, g);
          retract('oblique', U, U.length / r, r); // back onto unit columns
        });
      }
      // Upper level: the hypergradient G̃ and one Frank-Wolfe step on s.
      const G = yourGradient(cpMaterialize(factors, s, dims));
      const { grads, ds } = cpMttkrp(factors, s, dims, G);
      const dots = new Float32Array(r);
      factors.forEach((U, k) => {
        const g = grads[k] as Float32Array;
        cpTangent('oblique', U, g, U.length / r, r, { out: g, dots }); // dots_i += ⟨u_i, P(g_i)⟩
      });
      const Gt = cpHypergrad(ds, s, dots); // G̃_i = ∂s_i − (1/s_i)·Σ_k ⟨u_i^(k), g_i^(k)⟩
      fw.step(Gt);
      s.set(fw.s); // the new weights on the budget simplex
    }
    // --- docs/interop.md example: end
    yourGradient(cpMaterialize(factors, s, dims));
    const first = firstLoss();
    const last = loss();
    // ½‖Ψ*‖² ≈ ½(1 + 0.36) at the start (Ψ small); the loop must remove most of it.
    expect(first).toBeGreaterThan(0.3);
    expect(last).toBeLessThan(0.05 * first);
    // s stays on the simplex: s_i ≥ ε and Σ s ≤ τ + rε.
    expect(Math.min(...s)).toBeGreaterThanOrEqual(1e-3 * (1 - 1e-6));
    expect(s.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2 + 3e-3 + 1e-5);
  });
});
