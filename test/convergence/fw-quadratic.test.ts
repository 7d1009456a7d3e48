/**
 * fw-quadratic.test.ts — known optima: a linear objective reaches its vertex in one step; the
 * quadratic ½‖s − p‖² converges to p when p ∈ S and to the Euclidean projection of p onto S when
 * p ∉ S (computed independently by sorting). Gaps after k steps are the numbers in docs/frank-wolfe.md.
 */
import { runFrankWolfe } from '../../lib/fw/run';
import type { StepSizeSpec } from '../../lib/fw/step-size';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { FrankWolfeResult, StepEvent, Variant } from '../../lib/fw/types';
import { maxAbsDiff, mulberry32, projectOntoBudgetSimplex, report, supportOf } from './helpers';

const EPS = 1e-3;
const TAU = 1;
const R = 25;

describe('linear objective cᵀs: the expected vertex in one step', () => {
  const cases: [string, number[], number][] = [
    ['a unique minimum', [0.3, -0.2, 0.5, -0.9, 0.1], 3],
    ['ties: the lowest index', [0.3, -0.9, 0.5, -0.9, 0.1], 1],
    ['no negative entry: ε·1', [0.3, 0, 0.5, 0.9, 0.1], -1],
  ];
  const starts: [string, number[] | undefined][] = [
    ['s0 = ε·1', [EPS, EPS, EPS, EPS, EPS]],
    ['s0 = a point inside', [EPS + 0.1, EPS + 0.2, EPS, EPS + 0.05, EPS + 0.3]],
  ];
  const configs: [Variant, StepSizeSpec][] = [
    ['fw', { rule: 'open-loop' }],
    ['fw', { rule: 'short', M: 1e-6 }],
    ['away', { rule: 'open-loop' }],
  ];
  for (const [what, c, vertex] of cases) {
    for (const [from, s0] of starts) {
      for (const [variant, stepSize] of configs) {
        // away steps start with a FW step only where s0 = ε·1 (its only active vertex is ε·1)
        if (variant === 'away' && from !== 's0 = ε·1') continue;
        test(`${what}, ${from}, ${variant} ${stepSize.rule}`, () => {
          const fw = new SimplexFrankWolfe(
            { tau: TAU, epsilon: EPS, gapTol: 1e-12, variant, stepSize },
            [{ name: 's', rank: 5 }],
            {
              ...(s0 === undefined ? {} : { s0 }),
            },
          );
          const ev = fw.step(c);
          const expected = [EPS, EPS, EPS, EPS, EPS];
          if (vertex >= 0) expected[vertex] = EPS + TAU;
          expect(Array.from(fw.s)).toEqual(expected); // exactly: a FW step of 1 assigns the vertex
          expect(ev.type).toBe(vertex < 0 && from === 's0 = ε·1' ? 'none' : 'fw');
          const next = fw.step(c);
          expect(next.gap).toBeLessThanOrEqual(1e-15); // (ε + τ) − ε is τ up to one rounding
          expect(next.converged).toBe(true);
        });
      }
    }
  }
});

function quadratic(p: Float64Array): {
  f: (s: ArrayLike<number>) => number;
  grad: (s: ArrayLike<number>) => Float64Array;
} {
  return {
    f: (s) => {
      let q = 0;
      for (let i = 0; i < p.length; i++) q += ((s[i] as number) - (p[i] as number)) ** 2;
      return 0.5 * q;
    },
    grad: (s) => Float64Array.from(p, (pi, i) => (s[i] as number) - pi),
  };
}

function run(
  p: Float64Array,
  variant: Variant,
  stepSize: StepSizeSpec,
  steps: number,
): { res: FrankWolfeResult; gapAt: Map<number, number> } {
  const q = quadratic(p);
  const gapAt = new Map<number, number>();
  const res = runFrankWolfe(
    { dim: R, grad: (s) => q.grad(s), f: (s) => q.f(s) },
    { tau: TAU, epsilon: EPS, gapTol: 1e-13, variant, stepSize },
    {
      maxIterations: steps,
      callback: (e: StepEvent) => {
        gapAt.set(e.step + 1, e.gap);
        return undefined;
      },
    },
  );
  report(`quadratic ${p === pInside ? 'inside' : 'outside'} ${variant} ${stepSize.rule}`, {
    status: res.status,
    iterations: res.iterations,
    gap: [10, 50, 200, 1000].filter((k) => gapAt.has(k)).map((k) => [k, gapAt.get(k)]),
  });
  return { res, gapAt };
}

const rng = mulberry32(2);
const xin = Float64Array.from({ length: R }, () => 0.01 + 0.04 * rng());
const xsum = xin.reduce((a, b) => a + b, 0);
/** p strictly inside S: every p_i > ε and Σ(p − ε) = 0.8τ. */
const pInside = xin.map((v) => EPS + (0.8 * TAU * v) / xsum);
/** p outside S: negative entries and too much mass; its projection has 11 of 25 components above ε. */
const pOutside = Float64Array.from({ length: R }, () => EPS + (rng() - 0.35) * 0.3);

describe('½‖s − p‖² with p inside S converges to p', () => {
  test('away-step FW, short step: gap ≤ 1e-8 after 200 steps, then s = p', () => {
    const { res, gapAt } = run(pInside, 'away', { rule: 'short', M: 1 }, 1000);
    expect(gapAt.get(200)).toBeLessThanOrEqual(1e-8);
    expect(res.status).toBe('converged');
    expect(maxAbsDiff(res.s, pInside)).toBeLessThanOrEqual(1e-12);
  });
  test('pairwise FW, short step: converged within 60 steps', () => {
    const { res } = run(pInside, 'pairwise', { rule: 'short', M: 1 }, 60);
    expect(res.status).toBe('converged');
    expect(maxAbsDiff(res.s, pInside)).toBeLessThanOrEqual(1e-12);
  });
  test('away-step FW, adaptive step: gap ≤ 1e-5 after 200 steps', () => {
    const { res, gapAt } = run(pInside, 'away', { rule: 'adaptive' }, 200);
    expect(gapAt.get(200)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(res.s, pInside)).toBeLessThanOrEqual(1e-3);
  });
  test('plain FW, short step: slower (gap still above 1e-4 after 200 steps) but heading to p', () => {
    const { res, gapAt } = run(pInside, 'fw', { rule: 'short', M: 1 }, 200);
    expect(gapAt.get(200)).toBeGreaterThan(1e-4);
    expect(gapAt.get(200)).toBeLessThan(gapAt.get(10) as number);
    expect(maxAbsDiff(res.s, pInside)).toBeLessThanOrEqual(1e-2);
  });
});

describe('½‖s − p‖² with p outside S converges to the projection of p onto S', () => {
  const proj = projectOntoBudgetSimplex(pOutside, TAU, EPS);
  const support = supportOf(proj, EPS);
  test('the reference projection is on the budget face with a proper support', () => {
    expect(support.length).toBe(11);
    expect(proj.reduce((a, v) => a + v - EPS, 0)).toBeCloseTo(TAU, 12);
  });
  test.each([
    ['away', 200],
    ['pairwise', 200],
  ] as const)(
    '%s-step FW, short step: converged within %i steps, s = projection, support identified',
    (variant, steps) => {
      const { res } = run(pOutside, variant, { rule: 'short', M: 1 }, steps);
      expect(res.status).toBe('converged');
      expect(maxAbsDiff(res.s, proj)).toBeLessThanOrEqual(1e-10);
      expect(supportOf(res.s, EPS)).toEqual(support);
    },
  );
  test('away-step FW, adaptive step: gap ≤ 1e-8 after 200 steps and s within 1e-7 of the projection', () => {
    const { res, gapAt } = run(pOutside, 'away', { rule: 'adaptive' }, 200);
    expect(gapAt.get(200)).toBeLessThanOrEqual(1e-8);
    expect(maxAbsDiff(res.s, proj)).toBeLessThanOrEqual(1e-7);
    expect(supportOf(res.s, EPS)).toEqual(support);
  });
  test('plain FW, short step: never leaves the full support (25, not 11) in 1000 steps', () => {
    const { res } = run(pOutside, 'fw', { rule: 'short', M: 1 }, 1000);
    expect(supportOf(res.s, EPS)).toHaveLength(25);
    expect(res.gap).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(res.s, proj)).toBeLessThanOrEqual(1e-2);
  });
});
