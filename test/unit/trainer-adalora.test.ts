/**
 * trainer-adalora.test.ts — the pieces of the AdaLoRA-style baseline: the cubic budget schedule
 * (AdaLoRA's eq. 13 values and pruning steps), the global choice of components under a rank or a
 * parameter budget (minRank respected, ties deterministic), and the importance EMAs against a
 * float64 re-computation of the paper's eqs. 8–11, kept aligned when an adapter is pruned.
 */
import { CpAdapter, resolveAdapterOptions } from '../../lib/nn/adapter';
import { adaloraBudget, chooseComponents, ImportanceTracker } from '../../lib/trainer/adalora';

describe('adaloraBudget', () => {
  const sch = { initial: 24, target: 12, totalSteps: 100, tInit: 10, tFinal: 30, deltaT: 3 };
  test('initial budget before tInit, cubic fall, target from T − tFinal on', () => {
    expect(adaloraBudget(sch, 0)).toEqual({ budget: 24, due: false });
    expect(adaloraBudget(sch, 9)).toEqual({ budget: 24, due: false });
    expect(adaloraBudget(sch, 10)).toEqual({ budget: 24, due: true });
    // t = 40: q = 1 − 30/60 = 0.5 → 12 + 12/8 = 13.5 → 13; due since (40 − 10) % 3 = 0
    expect(adaloraBudget(sch, 40)).toEqual({ budget: 13, due: true });
    expect(adaloraBudget(sch, 41).due).toBe(false);
    expect(adaloraBudget(sch, 69).budget).toBe(12);
    expect(adaloraBudget(sch, 70)).toEqual({ budget: 12, due: true });
    expect(adaloraBudget(sch, 500)).toEqual({ budget: 12, due: true });
    let last = Infinity;
    for (let t = 0; t < 100; t++) {
      const b = adaloraBudget(sch, t).budget;
      expect(b).toBeLessThanOrEqual(last);
      last = b;
    }
  });
  test('no decay window (tInit + tFinal = T) jumps to the target at tInit', () => {
    const s = { ...sch, tInit: 20, tFinal: 80 };
    expect(adaloraBudget(s, 19).budget).toBe(24);
    expect(adaloraBudget(s, 20)).toEqual({ budget: 12, due: true });
  });
});

describe('chooseComponents', () => {
  const groups = [
    { scores: [5, 1, 4], cost: 1 },
    { scores: [0.5, 0.1], cost: 1 },
    { scores: [3, 2, 6], cost: 1 },
  ];
  test('keeps the globally best under a rank budget; null when the budget already fits', () => {
    expect(chooseComponents(groups, 8, 1)).toBeNull();
    expect(chooseComponents(groups, 4, 0)).toEqual([[0, 2], [], [0, 2]]);
  });
  test('every group keeps its minRank best first', () => {
    expect(chooseComponents(groups, 4, 1)).toEqual([[0, 2], [0], [2]]);
  });
  test('a parameter budget weighs components by their cost and fills what still fits', () => {
    const costly = groups.map((g, i) => ({ ...g, cost: [10, 3, 5][i] as number }));
    expect(chooseComponents(costly, 25, 0)).toEqual([[0, 2], [], [2]]);
    // 3 more fit: 3 (cost 5), 2 and 1 do not, 0.5 (cost 3) does
    expect(chooseComponents(costly, 28, 0)).toEqual([[0, 2], [0], [2]]);
  });
  test('ties go to the earlier group, then the lower index', () => {
    expect(
      chooseComponents(
        [
          { scores: [1, 1], cost: 1 },
          { scores: [1], cost: 1 },
        ],
        2,
        0,
      ),
    ).toEqual([[0, 1], []]);
  });
});

describe('ImportanceTracker', () => {
  function adapter(): CpAdapter {
    const a = new CpAdapter(
      [5, 3],
      resolveAdapterOptions('test', { rank: 4, geometry: 'euclidean', init: 'small', seed: 3 }),
      ['U', 'V'],
      '',
    );
    a.s.data.set([0.5, -1, 2, 0.25]);
    return a;
  }
  function grads(a: CpAdapter, t: number): void {
    for (const p of a.parameters()) for (let k = 0; k < p.size; k++) p.grad[k] = Math.sin(1 + 3 * k + 7 * t) * (1 + k);
  }
  test("the EMAs and scores follow AdaLoRA's eqs. 8–11 (float64 re-computation)", () => {
    const a = adapter();
    const tr = new ImportanceTracker(new Map([['fc', a]]), 0.8, 0.7);
    const ref = new Map(
      a.parameters().map((p) => [p, { ipt: new Float64Array(p.size), unc: new Float64Array(p.size) }]),
    );
    for (let t = 0; t < 5; t++) {
      grads(a, t);
      tr.update();
      for (const [p, e] of ref) {
        for (let k = 0; k < p.size; k++) {
          const sens = Math.abs((p.data[k] as number) * (p.grad[k] as number));
          e.ipt[k] = 0.8 * (e.ipt[k] as number) + 0.2 * sens;
          e.unc[k] = 0.7 * (e.unc[k] as number) + 0.3 * Math.abs(sens - (e.ipt[k] as number));
        }
      }
    }
    expect(tr.updates).toBe(5);
    const score = (p: CpAdapter['s'], k: number) => {
      const e = ref.get(p) as { ipt: Float64Array; unc: Float64Array };
      return (e.ipt[k] as number) * (e.unc[k] as number);
    };
    const got = tr.scores(a);
    for (let i = 0; i < 4; i++) {
      let want = score(a.s, i);
      a.factors.forEach((f, m) => {
        const n = a.modeSizes[m] as number;
        let acc = 0;
        for (let j = 0; j < n; j++) acc += score(f, j * 4 + i);
        want += acc / n;
      });
      expect(got[i]).toBeCloseTo(want, 5);
      expect(Math.abs((got[i] as number) - want)).toBeLessThan(1e-5 * want);
    }
    // Pruning through the tracker drops the same columns of its EMAs.
    a.prune([0, 2, 3], [tr]);
    const after = tr.scores(a);
    expect(Array.from(after)).toEqual([got[0], got[2], got[3]]);
    const st = tr.state();
    expect(st.buffers.U?.ipt.length).toBe(15);
    expect(st.buffers.s?.unc.length).toBe(3);
  });
});
