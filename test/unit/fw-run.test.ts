/**
 * fw-run.test.ts — runFrankWolfe (lib/fw/run.ts): one result shape for every variant, rule and
 * scope; stopping on convergence, freeze, callback and max iterations; truncation inside the loop.
 */
import { runFrankWolfe } from '../../lib/fw/run';
import type { StepSizeSpec } from '../../lib/fw/step-size';
import type { FrankWolfeResult, Scope, TruncationResult, Variant } from '../../lib/fw/types';
import { sparseLeastSquares } from '../convergence/helpers';

const P = sparseLeastSquares({ seed: 3, dim: 16, rows: 32, support: [1, 7, 12], tau: 1, eps: 1e-3 });
const adapters = [
  { name: 'a', rank: 6, group: 'x' },
  { name: 'b', rank: 10, group: 'y' },
];
const problem = { adapters, grad: (s: ArrayLike<number>) => P.grad(s), f: (s: ArrayLike<number>) => P.f(s) };

const KEYS = [
  'adapters',
  'converged',
  'counts',
  'gap',
  'identified',
  'iterations',
  'minGap',
  'primal',
  'ranks',
  's',
  'status',
  'supportSince',
  'trajectory',
  'truncations',
];

test('every variant, rule and scope returns the same result shape', () => {
  const rules: StepSizeSpec[] = [
    { rule: 'short', M: P.M },
    { rule: 'adaptive' },
    { rule: 'open-loop' },
    { rule: 'constant', alpha: 0.1 },
  ];
  for (const variant of ['away', 'fw', 'pairwise'] as Variant[]) {
    for (const stepSize of rules) {
      for (const scope of ['global', 'adapter', 'group'] as Scope[]) {
        const res = runFrankWolfe(
          problem,
          { tau: 0.8, epsilon: 1e-3, variant, stepSize, scope },
          { maxIterations: 20 },
        );
        expect(Object.keys(res).sort()).toEqual(KEYS);
        expect(Object.keys(res.counts).sort()).toEqual(['away', 'drop', 'drops', 'fw', 'none', 'pairwise']);
        expect(res.s).toBeInstanceOf(Float64Array);
        expect(res.s).toHaveLength(16);
        expect(res.iterations).toBeLessThanOrEqual(20);
        expect(res.primal).toBeCloseTo(P.f(res.s), 12);
      }
    }
  }
});

test('stops: converged, max-iterations, stopped by the callback, frozen by identification', () => {
  const cfg = { tau: 1, epsilon: 1e-3, stepSize: { rule: 'short' as const, M: P.M } };
  const conv = runFrankWolfe(problem, { ...cfg, gapTol: 1e-8 }, { maxIterations: 2000 });
  expect([conv.status, conv.converged]).toEqual(['converged', true]);
  expect(conv.gap).toBeLessThanOrEqual(1e-8);
  const max = runFrankWolfe(problem, { ...cfg, gapTol: 1e-14 }, { maxIterations: 7, trace: true });
  expect([max.status, max.iterations, max.trajectory.length]).toEqual(['max-iterations', 7, 7]);
  expect(max.trajectory.map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  const stopped = runFrankWolfe(problem, cfg, { callback: (e) => e.step < 4 });
  expect([stopped.status, stopped.iterations]).toEqual(['stopped', 5]);
  const frozen = runFrankWolfe(
    problem,
    { ...cfg, gapTol: 1e-14, face: { stableSteps: 5, freezeOnIdentify: true } },
    {},
  );
  expect([frozen.status, frozen.identified]).toEqual(['frozen', true]);
  expect(frozen.ranks).toEqual({ a: 1, b: 2 }); // the optimal support {1} ∪ {7, 12}
});

test('truncates inside the loop from n0 on and tells the problem', () => {
  const seen: TruncationResult[] = [];
  let map: number[] = Array.from({ length: 16 }, (_, i) => i); // current index → original index
  const res: FrankWolfeResult = runFrankWolfe(
    {
      adapters,
      // the problem lives on the original 16 coordinates: expand s, shrink the gradient
      grad: (s) => {
        const full = new Float64Array(16).fill(1e-3);
        map.forEach((o, i) => {
          full[o] = s[i] as number;
        });
        const g = P.grad(full);
        return Float64Array.from(map, (o) => g[o] as number);
      },
      onTruncate: (t) => {
        seen.push(t);
        const next: number[] = [];
        let base = 0;
        for (const ad of t.adapters) {
          for (const old of ad.kept) next.push(map[base + old] as number);
          base += ad.oldRank;
        }
        map = next;
      },
    },
    { tau: 1, epsilon: 1e-3, gapTol: 1e-10, truncateFrom: 40, stepSize: { rule: 'short', M: P.M } },
    { maxIterations: 2000 },
  );
  expect(seen.length).toBeGreaterThan(0);
  expect(seen[0]?.step).toBe(40);
  expect(res.adapters).toEqual([
    { name: 'a', rank: 1, group: 'x' },
    { name: 'b', rank: 2, group: 'y' },
  ]);
  expect(map).toEqual([1, 7, 12]);
  expect(res.status).toBe('converged');
  expect(res.truncations).toEqual(seen);
});

test('a problem without grad is rejected', () => {
  expect(() => runFrankWolfe({} as never, { tau: 1, epsilon: 1e-3 })).toThrow(/argument 'problem'/);
  expect(() => runFrankWolfe({ grad: () => [] } as never, { tau: 1, epsilon: 1e-3 })).toThrow(/problem\.dim/);
});
