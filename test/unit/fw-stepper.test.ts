/**
 * fw-stepper.test.ts — SimplexFrankWolfe as the trainer sees it (lib/fw/stepper.ts): bad input
 * throws and changes nothing, converged/frozen steppers keep answering, events are consistent with
 * s, checkpoints round-trip through JSON and continue identically.
 */
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { StepEvent } from '../../lib/fw/types';
import { mulberry32, sparseLeastSquares } from '../convergence/helpers';

const P = sparseLeastSquares({ seed: 21, dim: 12, rows: 24, support: [2, 5, 9], tau: 1, eps: 1e-3 });
const adapters = [
  { name: 'a', rank: 5 },
  { name: 'b', rank: 7 },
];
const config = { tau: 1, epsilon: 1e-3, gapTol: 1e-10, stepSize: { rule: 'adaptive' as const } };
const ctx = { f: (s: Float64Array) => P.f(s) };

function fresh(): SimplexFrankWolfe {
  const fw = new SimplexFrankWolfe(config, adapters);
  for (let i = 0; i < 5; i++) fw.step(P.grad(fw.s), ctx);
  return fw;
}

function expectThrows(fn: () => unknown, code: string, msg: RegExp): void {
  let err: { name?: string; code?: string; message?: string } = {};
  try {
    fn();
  } catch (e) {
    err = e as typeof err;
  }
  expect(err.name).toBe('DeboraError');
  expect(err.code).toBe(code);
  expect(err.message).toMatch(msg);
}

describe('bad input throws and changes nothing', () => {
  const cases: [string, (fw: SimplexFrankWolfe) => unknown, string, RegExp][] = [
    [
      'NaN in a number[] gradient',
      (fw) =>
        fw.step(
          Array.from(P.grad(fw.s), (v, i) => (i === 7 ? Number.NaN : v)),
          ctx,
        ),
      'DEBORA_NON_FINITE',
      /argument 'grad', received NaN at index 7/,
    ],
    [
      'Infinity in a Float32Array gradient',
      (fw) =>
        fw.step(
          Float32Array.from(P.grad(fw.s), (v, i) => (i === 3 ? Number.POSITIVE_INFINITY : v)),
          ctx,
        ),
      'DEBORA_NON_FINITE',
      /Infinity at index 3/,
    ],
    [
      '-Infinity on an inactive coordinate',
      (fw) =>
        fw.step(
          Float64Array.from(P.grad(fw.s), (v, i) => (i === 0 ? Number.NEGATIVE_INFINITY : v)),
          ctx,
        ),
      'DEBORA_NON_FINITE',
      /-Infinity at index 0/,
    ],
    [
      'a gradient of the wrong length',
      (fw) => fw.step(new Float64Array(11).fill(0.5), ctx),
      'DEBORA_SHAPE_MISMATCH',
      /length 12/,
    ],
    [
      'a string gradient',
      (fw) => fw.step('0.1' as never, ctx),
      'DEBORA_INVALID_ARG',
      /Float64Array, Float32Array or number\[\]/,
    ],
    [
      'a number[] with a string in it',
      (fw) =>
        fw.step(
          Array.from(P.grad(fw.s), (v, i) => (i === 4 ? ('x' as never) : v)),
          ctx,
        ),
      'DEBORA_INVALID_ARG',
      /'x' at index 4/,
    ],
    [
      'the adaptive rule without ctx.f',
      (fw) => fw.step(P.grad(fw.s)),
      'DEBORA_INVALID_ARG',
      /'adaptive' step-size rule.*argument 'ctx\.f'/,
    ],
    [
      'ctx.f returning NaN',
      (fw) => fw.step(P.grad(fw.s), { f: () => Number.NaN }),
      'DEBORA_NON_FINITE',
      /finite objective value from ctx\.f.*s was not changed/,
    ],
    [
      'ctx.f0 = Infinity',
      (fw) => fw.step(P.grad(fw.s), { ...ctx, f0: Number.POSITIVE_INFINITY }),
      'DEBORA_NON_FINITE',
      /ctx\.f0/,
    ],
  ];
  test.each(cases)('%s', (_name, act, code, msg) => {
    const fw = fresh();
    const before = JSON.stringify(fw.state());
    const sBefore = fw.s.slice();
    expectThrows(() => act(fw), code, msg);
    expect(JSON.stringify(fw.state())).toBe(before);
    expect(Array.from(fw.s)).toEqual(Array.from(sBefore));
    // and the stepper still works
    expect(fw.step(P.grad(fw.s), ctx).step).toBe(5);
  });
  test('an objective that throws (after trial evaluations) leaves the state as it was', () => {
    const fw = fresh();
    const before = JSON.stringify(fw.state());
    let calls = 0;
    expect(() =>
      fw.step(P.grad(fw.s), {
        f: (s) => {
          if (++calls === 3) throw new Error('minibatch failed');
          return P.f(s);
        },
      }),
    ).toThrow('minibatch failed');
    expect(calls).toBe(3);
    expect(JSON.stringify(fw.state())).toBe(before);
  });
});

test('Float32Array, Float64Array and number[] gradients of the same values give the same steps', () => {
  const runs = [0, 1, 2].map(() => new SimplexFrankWolfe(config, adapters));
  for (let n = 0; n < 30; n++) {
    const g32 = Float32Array.from(P.grad(runs[0]?.s as Float64Array));
    const evs = [
      runs[0]?.step(g32, ctx),
      runs[1]?.step(Float64Array.from(g32), ctx),
      runs[2]?.step(Array.from(g32), ctx),
    ];
    expect(evs[1]).toEqual(evs[0]);
    expect(evs[2]).toEqual(evs[0]);
  }
  expect(Array.from(runs[2]?.s as Float64Array)).toEqual(Array.from(runs[0]?.s as Float64Array));
});

describe('events', () => {
  test('agree with s: ranks, ‖s‖₁, budget, support changes; onStep sees the same event', () => {
    const seen: StepEvent[] = [];
    const fw = new SimplexFrankWolfe({ ...config, face: { stableSteps: 3 } }, adapters, {
      onStep: (e) => seen.push(e),
    });
    let prevSupport = new Set(Array.from({ length: 12 }, (_, i) => i));
    for (let n = 0; n < 60; n++) {
      const ev = fw.step(P.grad(fw.s), ctx);
      expect(seen[n]).toBe(ev);
      expect(ev.step).toBe(n);
      const s = fw.s;
      const support = new Set<number>();
      s.forEach((v, i) => {
        if (v - 1e-3 > 1e-12) support.add(i);
      });
      expect(ev.ranks).toEqual({
        a: [...support].filter((i) => i < 5).length,
        b: [...support].filter((i) => i >= 5).length,
      });
      expect(ev.blockRanks).toEqual({ global: support.size });
      expect(ev.entered).toBe([...support].filter((i) => !prevSupport.has(i)).length);
      expect(ev.left).toBe([...prevSupport].filter((i) => !support.has(i)).length);
      expect(ev.supportChanged).toBe(ev.entered + ev.left > 0);
      expect(ev.l1).toBeCloseTo(
        s.reduce((a, b) => a + b, 0),
        12,
      );
      expect(ev.budget).toBeCloseTo(1 + 12 * 1e-3, 15);
      expect(ev.l1).toBeLessThanOrEqual(ev.budget * (1 + 1e-12));
      const [b] = ev.blocks;
      expect(b?.mass).toBeCloseTo(ev.l1 - 12e-3, 12);
      expect(b?.alpha).toBeLessThanOrEqual(b?.alphaMax as number);
      expect(['fw', 'away', 'drop', 'none']).toContain(ev.type);
      prevSupport = support;
    }
    expect(fw.support('b')).toEqual([0, 4]); // global indices 5 and 9: the optimal support in b
    expect(fw.support('a')).toEqual([2]);
    expect(Array.from(fw.sOf('b'))).toEqual(Array.from(fw.s.subarray(5)));
  });
});

describe('converged and frozen steppers keep answering', () => {
  test('after convergence: status converged, no update, the gap is still reported', () => {
    const fw = new SimplexFrankWolfe(config, adapters);
    let ev = fw.step(P.grad(fw.s), ctx);
    for (let n = 0; n < 1000 && !ev.converged; n++) ev = fw.step(P.grad(fw.s), ctx);
    expect(ev.converged).toBe(true);
    expect(ev.gap).toBeLessThanOrEqual(1e-10);
    const s = fw.s.slice();
    const rng = mulberry32(1);
    for (let i = 0; i < 5; i++) {
      const g = Float64Array.from({ length: 12 }, () => rng() - 0.5);
      const e = fw.step(g, ctx);
      expect([e.status, e.type, e.alpha]).toEqual(['converged', 'none', 0]);
      expect(e.gap).toBeGreaterThan(0.01);
    }
    expect(Array.from(fw.s)).toEqual(Array.from(s));
    expect(fw.result().status).toBe('converged');
  });
  test('freeze / unfreeze', () => {
    const fw = fresh();
    fw.freeze();
    const s = fw.s.slice();
    const e = fw.step(P.grad(fw.s), ctx);
    expect([e.status, e.frozen, e.alpha]).toEqual(['frozen', true, 0]);
    expect(Array.from(fw.s)).toEqual(Array.from(s));
    fw.unfreeze();
    expect(fw.step(P.grad(fw.s), ctx).status).toBe('updated');
  });
});

describe('checkpoints', () => {
  test('state() survives JSON and the restored stepper continues identically', () => {
    for (const variant of ['away', 'pairwise', 'fw'] as const) {
      const cfg = { ...config, variant, truncateFrom: 10 };
      const a = new SimplexFrankWolfe(cfg, adapters);
      for (let n = 0; n < 25; n++) a.step(P.grad(a.s), ctx);
      const t = a.truncate();
      // the away-step variants have dropped components by now (so the restore covers a shrunk s)
      if (variant !== 'fw') expect(t.applied).toBe(true);
      const json = JSON.stringify(a.state());
      const b = SimplexFrankWolfe.fromState(JSON.parse(json));
      expect(JSON.stringify(b.state())).toBe(json);
      // the truncation history is not part of the checkpoint: both follow a's index map
      for (let n = 0; n < 25; n++) {
        const g = shrink(P.grad(expand(a.s, a)), a);
        const ea = a.step(g, { f: (s) => P.f(expand(s, a)) });
        const eb = b.step(g, { f: (s) => P.f(expand(s, a)) });
        expect(eb).toEqual(ea);
      }
      expect(Array.from(b.s)).toEqual(Array.from(a.s));
    }
  });
  test('a tampered state is rejected', () => {
    const st = fresh().state();
    expect(() => SimplexFrankWolfe.fromState({ ...st, version: 2 })).toThrow(/version 1/);
    expect(() => SimplexFrankWolfe.fromState({ ...st, s: st.s.map((v) => v * 10) })).toThrow(/<= tau/);
    expect(() => SimplexFrankWolfe.fromState({ ...st, config: { ...st.config, tau: -1 } })).toThrow(/argument 'tau'/);
  });
});

// after truncation s is shorter than the problem: map between the two through the kept indices
const kept = new WeakMap<SimplexFrankWolfe, number[]>();
function keptIndices(fw: SimplexFrankWolfe): number[] {
  const cached = kept.get(fw);
  if (cached) return cached;
  const idx: number[] = [];
  let base = 0;
  for (const [k, spec] of adapters.entries()) {
    const t = fw.result().truncations.at(-1)?.adapters[k];
    for (const i of t ? t.kept : Array.from({ length: spec.rank }, (_, j) => j)) idx.push(base + i);
    base += spec.rank;
  }
  kept.set(fw, idx);
  return idx;
}
function expand(s: ArrayLike<number>, fw: SimplexFrankWolfe): Float64Array {
  const full = new Float64Array(12).fill(1e-3);
  keptIndices(fw).forEach((g, i) => {
    full[g] = s[i] as number;
  });
  return full;
}
function shrink(g: Float64Array, fw: SimplexFrankWolfe): Float64Array {
  return Float64Array.from(keptIndices(fw), (i) => g[i] as number);
}
