/**
 * fw-feasibility.test.ts — every variant × step rule × scope, seeded, with and without gradient
 * noise: after every step s ≥ ε exactly, Σ_block(s − ε) ≤ τ (up to rounding), ‖s‖₁ ≤ τ + rε, and the
 * reported FW gap is ≥ 0 and equal to the brute-force gap over every vertex at s_n.
 */

import type { StepSizeSpec } from '../../lib/fw/step-size';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { Scope, Variant } from '../../lib/fw/types';
import { blockIndices, bruteForceGap, excess, gaussian, mulberry32, sparseLeastSquares } from './helpers';

const EPS = 1e-3;
const adapters = [
  { name: 'q', rank: 7, group: 'attn' },
  { name: 'up', rank: 11, group: 'mlp' },
  { name: 'v', rank: 5, group: 'attn' },
  { name: 'down', rank: 9, group: 'mlp' },
];
const DIM = 32;
const P = sparseLeastSquares({ seed: 77, dim: DIM, rows: 64, support: [0, 3, 8, 13, 20, 27, 31], tau: 2, eps: EPS });
const rules: StepSizeSpec[] = [
  { rule: 'short', M: P.M },
  { rule: 'adaptive' },
  { rule: 'open-loop' },
  { rule: 'constant', alpha: 0.2 },
];
const cases: [Variant, StepSizeSpec, Scope, number][] = [];
for (const variant of ['away', 'fw', 'pairwise'] as const) {
  for (const rule of rules) {
    for (const scope of ['global', 'adapter', 'group'] as const) cases.push([variant, rule, scope, cases.length]);
  }
}

test.each(cases)('%s / %j / %s', (variant, stepSize, scope, seed) => {
  const rng = mulberry32(1000 + seed);
  const noise = gaussian(rng);
  const sigma = seed % 2 === 0 ? 0 : 0.05; // every other case: stochastic gradients
  const tau = scope === 'global' ? 2 : scope === 'group' ? { attn: 0.7, mlp: 1.3 } : 0.5;
  const fw = new SimplexFrankWolfe({ tau, epsilon: EPS, gapTol: 1e-12, variant, stepSize, scope }, adapters);
  const blocks = blockIndices(adapters, fw.blocks);
  const taus = fw.blocks.map((b) => b.tau);
  const f = (s: Float64Array) => P.f(s);
  // worst violations over the run, asserted at the end (one expect per quantity keeps this fast)
  let gapErr = 0;
  let minGap = Number.POSITIVE_INFINITY;
  let minS = Number.POSITIVE_INFINITY;
  let massOver = Number.NEGATIVE_INFINITY;
  let l1Over = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < 120; n++) {
    const before = fw.s.slice();
    const g = P.grad(before).map((v) => v + sigma * noise());
    const ev = fw.step(g, { f });
    let ref = 0;
    blocks.forEach((idx, b) => {
      const bg = bruteForceGap(before, g, idx, EPS, taus[b] as number);
      const got = ev.blocks[b]?.gap as number;
      minGap = Math.min(minGap, got);
      gapErr = Math.max(gapErr, Math.abs(got - bg.gap) / Math.max(1, Math.abs(bg.gap)));
      ref += bg.gap;
      massOver = Math.max(massOver, excess(fw.s, idx, EPS) / (taus[b] as number) - 1);
    });
    minGap = Math.min(minGap, ev.gap);
    gapErr = Math.max(gapErr, Math.abs(ev.gap - ref) / Math.max(1, ref));
    for (const v of fw.s) minS = Math.min(minS, v);
    l1Over = Math.max(l1Over, ev.l1 / ev.budget - 1);
  }
  expect(minS).toBeGreaterThanOrEqual(EPS);
  expect(massOver).toBeLessThanOrEqual(1e-12);
  expect(l1Over).toBeLessThanOrEqual(1e-12);
  expect(minGap).toBeGreaterThanOrEqual(0);
  expect(gapErr).toBeLessThanOrEqual(1e-10);
  // the run did something: s moved away from the start
  expect(fw.result().counts.none).toBeLessThan(120 * fw.blocks.length);
});
