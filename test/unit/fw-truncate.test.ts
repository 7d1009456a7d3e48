/**
 * fw-truncate.test.ts — truncation (lib/fw/truncate.ts and SimplexFrankWolfe.truncate): what is
 * deleted, the old → new maps, minRank, n0, and that the kept weights and the budget are preserved.
 */
import { buildLayout } from '../../lib/fw/blocks';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import { planTruncation } from '../../lib/fw/truncate';
import { excess, range, sparseLeastSquares } from '../convergence/helpers';

const EPS = 1e-3;

test('planTruncation: deleted, kept and map per adapter; minRank keeps the largest', () => {
  const specs = [
    { name: 'a', rank: 4 },
    { name: 'b', rank: 3 },
  ];
  const x = [0.2, 0, 0.5, 0, /* b: all at ε, the middle one within tolerance */ 0, 1e-15, 0];
  const s = Float64Array.from(x, (v) => EPS + v);
  const plan = planTruncation(s, buildLayout(specs, 'global'), specs, EPS, [1e-12], 1);
  expect(plan.adapters).toEqual([
    { name: 'a', oldRank: 4, newRank: 2, deleted: [1, 3], kept: [0, 2], map: [0, -1, 1, -1] },
    { name: 'b', oldRank: 3, newRank: 1, deleted: [0, 2], kept: [1], map: [-1, 0, -1] },
  ]);
  expect(Array.from(plan.keptGlobal)).toEqual([0, 2, 5]);
  expect(plan.removed).toBe(4);
  expect(plan.newAdapters).toEqual([
    { name: 'a', rank: 2 },
    { name: 'b', rank: 1 },
  ]);
});

describe('SimplexFrankWolfe.truncate', () => {
  const P = sparseLeastSquares({ seed: 9, dim: 20, rows: 40, support: [3, 4, 12, 17], tau: 1, eps: EPS });
  const specs = [
    { name: 'first', rank: 8, group: 'g' },
    { name: 'second', rank: 12, group: 'g' },
  ];
  const config = {
    tau: 1,
    epsilon: EPS,
    gapTol: 1e-12,
    truncateFrom: 30,
    stepSize: { rule: 'short' as const, M: P.M },
  };

  test('does nothing before n0 (or when disabled) unless forced', () => {
    const fw = new SimplexFrankWolfe(config, specs);
    for (let n = 0; n < 10; n++) fw.step(P.grad(fw.s));
    const t = fw.truncate();
    expect([t.applied, t.removed]).toEqual([false, 0]);
    expect(t.reason).toMatch(/before truncateFrom \(30\)/);
    expect(fw.dim).toBe(20);
    const off = new SimplexFrankWolfe({ ...config, truncateFrom: null }, specs);
    for (let n = 0; n < 40; n++) off.step(P.grad(off.s));
    expect(off.truncate().reason).toMatch(/disabled/);
    expect(off.truncate({ force: true }).applied).toBe(true);
  });

  test('removes the components at ε, keeps the others bit for bit, maps indices, keeps the budget', () => {
    const fw = new SimplexFrankWolfe(config, specs);
    let due = -1;
    for (let n = 0; n < 200; n++) {
      const ev = fw.step(P.grad(fw.s));
      if (ev.truncationDue && due < 0) due = n;
    }
    expect(due).toBe(30); // the first step with n ≥ n0 (components were at ε long before)
    const before = fw.s.slice();
    const beforeRanks = fw.result().ranks;
    const t = fw.truncate();
    expect(t.applied).toBe(true);
    expect(t.step).toBe(199);
    const [a, b] = t.adapters;
    expect(a?.deleted.length).toBe(8 - (beforeRanks.first as number));
    // the optimal support is {3, 4} in 'first' and {4, 9} (global 12, 17) in 'second'
    expect([a?.kept, b?.kept]).toEqual([
      [3, 4],
      [4, 9],
    ]);
    expect(fw.adapters).toEqual([
      { name: 'first', rank: 2, group: 'g' },
      { name: 'second', rank: 2, group: 'g' },
    ]);
    // kept weights unchanged, bit for bit, at their new places
    const offsets = [0, 8];
    t.adapters.forEach((ad, k) => {
      ad.kept.forEach((old, neu) => {
        expect(fw.sOf(ad.name)[neu]).toBe(before[(offsets[k] as number) + old]);
        expect(ad.map[old]).toBe(neu);
      });
      for (const old of ad.deleted) {
        expect(ad.map[old]).toBe(-1);
        expect(before[(offsets[k] as number) + old]).toBe(EPS);
      }
    });
    expect(excess(fw.s, range(4), EPS)).toBeLessThanOrEqual(1 + 1e-12);
    expect(fw.blocks[0]?.rank).toBe(4);
    expect(fw.blocks[0]?.tau).toBe(1);
    // nothing left to remove; the stepper goes on with the shorter s
    expect(fw.truncate().applied).toBe(false);
    const g = P.grad(
      Float64Array.from({ length: 20 }, (_, i) => (i === 3 || i === 4 || i === 12 || i === 17 ? 0 : EPS)),
    );
    const ev = fw.step(Float64Array.from([3, 4, 12, 17], (i) => g[i] as number));
    expect(ev.ranks).toEqual({ first: 2, second: 2 });
    expect(ev.truncationDue).toBe(false);
  });

  test('minRank keeps the largest components of an adapter that would shrink below it', () => {
    const fw = new SimplexFrankWolfe({ ...config, minRank: 3 }, specs);
    for (let n = 0; n < 200; n++) fw.step(P.grad(fw.s));
    const before = Array.from(fw.sOf('first'));
    const t = fw.truncate();
    const kept = t.adapters[0]?.kept ?? [];
    expect(kept).toHaveLength(3);
    // the third is the largest of the inactive ones (all at ε: the lowest index)
    const inactive = before.map((v, i) => [v, i] as const).filter(([, i]) => i !== 3 && i !== 4);
    inactive.sort((p, q) => q[0] - p[0] || p[1] - q[1]);
    expect(kept).toEqual([inactive[0]?.[1] as number, 3, 4].sort((p, q) => p - q));
  });
});
