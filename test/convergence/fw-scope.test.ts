/**
 * fw-scope.test.ts — scopes: a run with one simplex per group (or per adapter) is exactly a set of
 * independent runs, one per block, on a separable objective — step by step, bit for bit (the
 * adaptive rule to rounding), truncation included.
 */

import type { StepSizeSpec } from '../../lib/fw/step-size';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { AdapterSpec, Scope, Variant } from '../../lib/fw/types';
import { gaussian, mulberry32, sparseLeastSquares, type TestProblem } from './helpers';

const EPS = 1e-3;
// groups interleave: the 'attn' block is q then v, not contiguous in s
const adapters: AdapterSpec[] = [
  { name: 'q', rank: 7, group: 'attn' },
  { name: 'up', rank: 11, group: 'mlp' },
  { name: 'v', rank: 5, group: 'attn' },
];
const offsets: Record<string, number> = { q: 0, up: 7, v: 18 };
const blocks: Record<string, string[]> = { attn: ['q', 'v'], mlp: ['up'] };
const tau: Record<string, number> = { attn: 0.7, mlp: 1.3 };
// one least-squares problem per block, on the block's own coordinates (q then v for attn)
const problems: Record<string, TestProblem> = {
  attn: sparseLeastSquares({ seed: 31, dim: 12, rows: 24, support: [1, 6, 9], tau: 0.7, eps: EPS }),
  mlp: sparseLeastSquares({ seed: 32, dim: 11, rows: 22, support: [0, 4, 10], tau: 1.3, eps: EPS }),
};

function gather(s: ArrayLike<number>, names: string[]): Float64Array {
  return Float64Array.from(
    names.flatMap((n) =>
      Array.from(
        { length: (adapters.find((a) => a.name === n) as AdapterSpec).rank },
        (_, i) => (offsets[n] as number) + i,
      ),
    ),
    (i) => s[i] as number,
  );
}
function scatter(into: Float64Array, names: string[], v: ArrayLike<number>): void {
  let k = 0;
  for (const n of names) {
    const r = (adapters.find((a) => a.name === n) as AdapterSpec).rank;
    for (let i = 0; i < r; i++) into[(offsets[n] as number) + i] = v[k++] as number;
  }
}
/** ∇ of the separable objective Σ_b f_b(s_b) (+ noise drawn in a fixed order). */
function fullGrad(s: ArrayLike<number>, noise: () => number): Float64Array {
  const g = new Float64Array(23);
  for (const [b, names] of Object.entries(blocks)) {
    scatter(
      g,
      names,
      (problems[b] as TestProblem).grad(gather(s, names)).map((v) => v + noise()),
    );
  }
  return g;
}
const fullF = (s: Float64Array): number =>
  Object.entries(blocks).reduce((acc, [b, names]) => acc + (problems[b] as TestProblem).f(gather(s, names)), 0);

const cases: [Variant, StepSizeSpec, number][] = [
  ['away', { rule: 'short', M: 3 }, 0],
  ['away', { rule: 'short', M: 3 }, 0.02],
  ['pairwise', { rule: 'short', M: 3 }, 0],
  ['away', { rule: 'open-loop' }, 0.02],
  ['fw', { rule: 'constant', alpha: 0.1 }, 0],
];

describe("scope 'group' equals independent runs per group", () => {
  test.each(cases)('%s / %j / noise %d', (variant, stepSize, sigma) => {
    const cfg = { epsilon: EPS, gapTol: 1e-9, variant, stepSize, truncateFrom: 60 };
    const grouped = new SimplexFrankWolfe({ ...cfg, tau, scope: 'group' as Scope }, adapters);
    const alone: Record<string, SimplexFrankWolfe> = {};
    for (const [b, names] of Object.entries(blocks)) {
      alone[b] = new SimplexFrankWolfe(
        { ...cfg, tau: tau[b] as number },
        names.map((n) => ({ name: n, rank: (adapters.find((a) => a.name === n) as AdapterSpec).rank })),
      );
    }
    const noise = gaussian(mulberry32(8));
    for (let n = 0; n < 150; n++) {
      const g = fullGrad(grouped.s, () => sigma * noise());
      const ev = grouped.step(g);
      for (const [bi, [b, names]] of Object.entries(blocks).entries()) {
        const solo = alone[b] as SimplexFrankWolfe;
        const evb = solo.step(gather(g, names));
        // same numbers, bit for bit; only the block's name differs
        expect({ ...ev.blocks[bi], name: b }).toEqual({ ...evb.blocks[0], name: b });
        expect(Array.from(gather(grouped.s, names))).toEqual(Array.from(solo.s));
      }
    }
    // truncation: the same components go, in both
    const tg = grouped.truncate();
    if (variant !== 'fw') expect(tg.removed).toBeGreaterThan(0);
    for (const [b, names] of Object.entries(blocks)) {
      const tb = (alone[b] as SimplexFrankWolfe).truncate();
      for (const name of names) {
        expect(tg.adapters.find((a) => a.name === name)).toEqual(tb.adapters.find((a) => a.name === name));
      }
      expect(names.map((nm) => Array.from(grouped.sOf(nm)))).toEqual(
        names.map((nm) => Array.from((alone[b] as SimplexFrankWolfe).sOf(nm))),
      );
    }
  });

  test('adaptive step: the same up to rounding (f is summed over blocks in one run)', () => {
    const cfg = { epsilon: EPS, gapTol: 1e-9, stepSize: { rule: 'adaptive' as const } };
    const grouped = new SimplexFrankWolfe({ ...cfg, tau, scope: 'group' }, adapters);
    const alone = Object.fromEntries(
      Object.entries(blocks).map(([b, names]) => [
        b,
        new SimplexFrankWolfe(
          { ...cfg, tau: tau[b] as number },
          names.map((n) => ({ name: n, rank: (adapters.find((a) => a.name === n) as AdapterSpec).rank })),
        ),
      ]),
    ) as Record<string, SimplexFrankWolfe>;
    for (let n = 0; n < 100; n++) {
      const g = fullGrad(grouped.s, () => 0);
      grouped.step(g, { f: fullF });
      for (const [b, names] of Object.entries(blocks)) {
        (alone[b] as SimplexFrankWolfe).step(gather(g, names), { f: (s) => (problems[b] as TestProblem).f(s) });
      }
    }
    for (const [b, names] of Object.entries(blocks)) {
      const a = gather(grouped.s, names);
      const s = (alone[b] as SimplexFrankWolfe).s;
      // the sufficient-decrease test compares f values of different size (one block vs the sum), so
      // near the optimum its rounding can tip differently: agreement to 5e-8, not bit for bit
      a.forEach((v, i) => {
        expect(v).toBeCloseTo(s[i] as number, 7);
      });
    }
  });
});

test("scope 'adapter' equals independent runs per adapter", () => {
  const cfg = { epsilon: EPS, gapTol: 1e-9, stepSize: { rule: 'short' as const, M: 3 } };
  const per = new SimplexFrankWolfe({ ...cfg, tau: 0.5, scope: 'adapter' }, adapters);
  const alone = adapters.map((a) => new SimplexFrankWolfe({ ...cfg, tau: 0.5 }, [{ name: a.name, rank: a.rank }]));
  const noise = gaussian(mulberry32(3));
  for (let n = 0; n < 100; n++) {
    const g = fullGrad(per.s, () => 0.05 * noise());
    per.step(g);
    adapters.forEach((a, k) => {
      const solo = alone[k] as SimplexFrankWolfe;
      solo.step(gather(g, [a.name]));
      expect(Array.from(per.sOf(a.name))).toEqual(Array.from(solo.s));
    });
  }
});
