/**
 * tfjs-ops.test.ts — cpLinearTf (lib/tfjs/cp_linear.ts): the native cp_linear op inside tf.customGrad,
 * on seeded awkward shapes (batch 1, primes, r = 1, r > nIn). Forward and all four gradients are
 * checked against the float64 reference and against the same math written in pure tfjs (tf.matMul);
 * gradients also against central finite differences; the op under tf.variableGrads and tf.tidy (no
 * leaked tensors); bad input (clear DeboraError naming the argument).
 * Tolerances: float32 summation bound γ_k·Σ|terms| (test/helpers/compare.ts) with k the longest sum
 * chain of an output; twice that between two float32 implementations. Finite differences: the adapter
 * term is linear in each single entry of x, U, V and s, so a central difference is exact for any h up
 * to rounding, which h = 0.5 keeps far below the size of any gradient entry.
 */
import * as tf from '@tensorflow/tfjs';
import { isDeboraError } from '../../lib/errors';
import { cpLinearTf } from '../../lib/tfjs';
import { abs, boundRatio } from '../helpers/compare';
import { uniform } from '../helpers/random';
import { linearBackward, linearForward } from '../helpers/reference_linear';

// Silences tfjs's "install tfjs-node" banner (PROD only turns off tfjs's logging and debug checks).
tf.env().set('PROD', true);

// [N, nIn, nOut, r]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 7, 5, 1],
  [3, 13, 11, 4],
  [17, 9, 15, 7],
  [2, 3, 5, 8],
  [31, 37, 29, 13],
];

function problem(seed: number, N: number, nIn: number, nOut: number, r: number) {
  return {
    X: uniform(seed, N * nIn, -1, 1),
    U: uniform(seed + 1, nOut * r, -1, 1),
    V: uniform(seed + 2, nIn * r, -1, 1),
    s: uniform(seed + 3, r, 0.05, 2),
    W: uniform(seed + 4, N * nOut, -1, 1), // probe weights: L = Σ W ⊙ Y, so dL/dY = W
  };
}

function tensors(p: ReturnType<typeof problem>, N: number, nIn: number, nOut: number, r: number) {
  return {
    x: tf.tensor2d(p.X, [N, nIn]),
    U: tf.tensor2d(p.U, [nOut, r]),
    V: tf.tensor2d(p.V, [nIn, r]),
    s: tf.tensor1d(p.s),
    w: tf.tensor2d(p.W, [N, nOut]),
  };
}

/** The same math in plain tfjs: ((x V) ⊙ s) Uᵀ. */
function pureTf(x: tf.Tensor, U: tf.Tensor, V: tf.Tensor, s: tf.Tensor): tf.Tensor {
  return tf.matMul(
    tf.mul(tf.matMul(x as tf.Tensor2D, V as tf.Tensor2D), s) as tf.Tensor2D,
    U as tf.Tensor2D,
    false,
    true,
  );
}

/** |a − b| ≤ 2·k·2⁻²⁴·absRef elementwise (both float32 implementations within the bound of the reference). */
function pairRatio(a: ArrayLike<number>, b: ArrayLike<number>, absRef: ArrayLike<number>, k: number): number {
  return boundRatio(
    a,
    Float64Array.from(b as ArrayLike<number>),
    Float64Array.from(absRef, (v) => 2 * v),
    k,
  );
}

describe('cpLinearTf', () => {
  test.each(SHAPES)('forward N=%i nIn=%i nOut=%i r=%i: float64 reference and pure tfjs', (N, nIn, nOut, r) => {
    const p = problem(N * 101 + r, N, nIn, nOut, r);
    const t = tensors(p, N, nIn, nOut, r);
    const y = cpLinearTf(tf, t.x, t.U, t.V, t.s);
    const yp = pureTf(t.x, t.U, t.V, t.s);
    expect(y.shape).toEqual([N, nOut]);
    const ref = linearForward(N, nIn, nOut, r, p.X, p.U, p.V, p.s);
    const absRef = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s));
    const k = nIn + r + 4;
    expect(boundRatio(y.dataSync(), ref.Y, absRef.Y, k)).toBeLessThanOrEqual(1);
    expect(pairRatio(y.dataSync(), yp.dataSync(), absRef.Y, k)).toBeLessThanOrEqual(1);
    tf.dispose([y, yp, ...Object.values(t)]);
  });

  test.each(SHAPES)('gradients N=%i nIn=%i nOut=%i r=%i: float64 reference and pure tfjs', (N, nIn, nOut, r) => {
    const p = problem(N * 977 + r, N, nIn, nOut, r);
    const t = tensors(p, N, nIn, nOut, r);
    const probe = (f: typeof pureTf) => (x: tf.Tensor, U: tf.Tensor, V: tf.Tensor, s: tf.Tensor) =>
      tf.sum(tf.mul(f(x, U, V, s), t.w));
    const ours = tf.grads(probe((x, U, V, s) => cpLinearTf(tf, x, U, V, s)))([t.x, t.U, t.V, t.s]);
    const theirs = tf.grads(probe(pureTf))([t.x, t.U, t.V, t.s]);
    const ref = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.W);
    const absRef = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.W));
    const k = nIn + nOut + N + r + 4;
    const names = ['dX', 'dU', 'dV', 'ds'] as const;
    names.forEach((name, q) => {
      const got = (ours[q] as tf.Tensor).dataSync();
      expect(boundRatio(got, ref[name], absRef[name], k)).toBeLessThanOrEqual(1);
      expect(pairRatio(got, (theirs[q] as tf.Tensor).dataSync(), absRef[name], k)).toBeLessThanOrEqual(1);
    });
    expect(ours.map((g) => g.shape)).toEqual([[N, nIn], [nOut, r], [nIn, r], [r]]);
    tf.dispose([...ours, ...theirs, ...Object.values(t)]);
  });

  test.each([
    [1, 7, 5, 1],
    [3, 5, 4, 3],
    [4, 3, 6, 5],
  ])('gradients N=%i nIn=%i nOut=%i r=%i match central finite differences', (N, nIn, nOut, r) => {
    const p = problem(N * 7 + nIn * 3 + r, N, nIn, nOut, r);
    const arrays = { x: p.X, U: p.U, V: p.V, s: p.s } as const;
    const shapes = { x: [N, nIn], U: [nOut, r], V: [nIn, r], s: [r] } as const;
    // L in float64 from the op's float32 output.
    const loss = (): number => {
      const y = tf.tidy(() =>
        cpLinearTf(
          tf,
          tf.tensor2d(arrays.x, shapes.x as unknown as [number, number]),
          tf.tensor2d(arrays.U, shapes.U as unknown as [number, number]),
          tf.tensor2d(arrays.V, shapes.V as unknown as [number, number]),
          tf.tensor1d(arrays.s),
        ),
      );
      const d = y.dataSync();
      let l = 0;
      for (let q = 0; q < d.length; q++) l += (d[q] as number) * (p.W[q] as number);
      y.dispose();
      return l;
    };
    const t = tensors(p, N, nIn, nOut, r);
    const grads = tf.grads((x: tf.Tensor, U: tf.Tensor, V: tf.Tensor, s: tf.Tensor) =>
      tf.sum(tf.mul(cpLinearTf(tf, x, U, V, s), t.w)),
    )([t.x, t.U, t.V, t.s]);
    const absW = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s)).Y.reduce(
      (a, v, q) => a + v * Math.abs(p.W[q] as number),
      0,
    );
    const h = 0.5;
    // Two evaluations, each off by at most γ_k·Σ|W Y|, divided by 2h.
    const tol = (2 * (nIn + r + 4 + N * nOut) * 2 ** -24 * absW) / (2 * h);
    (['x', 'U', 'V', 's'] as const).forEach((name, q) => {
      const a = arrays[name];
      const g = (grads[q] as tf.Tensor).dataSync();
      for (let i = 0; i < a.length; i++) {
        const v = a[i] as number;
        a[i] = v + h;
        const lp = loss();
        a[i] = v - h;
        const lm = loss();
        a[i] = v;
        const numeric = (lp - lm) / (2 * h);
        expect(Math.abs((g[i] as number) - numeric)).toBeLessThanOrEqual(tol);
      }
    });
    tf.dispose([...grads, ...Object.values(t)]);
  });

  test('works on variables under tf.variableGrads and leaks no tensor under tf.tidy', () => {
    const [N, nIn, nOut, r] = [5, 6, 4, 3];
    const p = problem(42, N, nIn, nOut, r);
    const t = tensors(p, N, nIn, nOut, r);
    const U = tf.variable(t.U, true, 'ops_test_U');
    const V = tf.variable(t.V, true, 'ops_test_V');
    const s = tf.variable(t.s, true, 'ops_test_s');
    const before = tf.memory().numTensors;
    const g = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(cpLinearTf(tf, t.x, U, V, s), t.w)) as tf.Scalar,
        [U, V, s],
      );
      return { value, dU: grads.ops_test_U as tf.Tensor, ds: grads.ops_test_s as tf.Tensor };
    });
    expect(tf.memory().numTensors).toBe(before + 3);
    const ref = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.W);
    const absRef = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.W));
    expect(boundRatio(g.dU.dataSync(), ref.dU, absRef.dU, N + nIn + nOut + r + 4)).toBeLessThanOrEqual(1);
    expect(boundRatio(g.ds.dataSync(), ref.ds, absRef.ds, N + nIn + nOut + r + 4)).toBeLessThanOrEqual(1);
    // Forward only (no tape): nothing is kept beyond the output.
    const before2 = tf.memory().numTensors;
    const y = cpLinearTf(tf, t.x, U, V, s);
    expect(tf.memory().numTensors).toBe(before2 + 1);
    tf.dispose([y, g.value, g.dU, g.ds, U, V, s, ...Object.values(t)]);
  });

  test('bad input: DeboraError naming the argument', () => {
    const x = tf.tensor2d(uniform(1, 6, -1, 1), [2, 3]);
    const U = tf.tensor2d(uniform(2, 8, -1, 1), [4, 2]);
    const V = tf.tensor2d(uniform(3, 6, -1, 1), [3, 2]);
    const s = tf.tensor1d(uniform(4, 2, 0.1, 1));
    const cases: [() => unknown, string, string][] = [
      [() => cpLinearTf({} as typeof tf, x, U, V, s), 'DEBORA_INVALID_ARG', "argument 'tf'"],
      [() => cpLinearTf(tf, tf.tensor1d([1, 2, 3]), U, V, s), 'DEBORA_INVALID_ARG', "argument 'x'"],
      [() => cpLinearTf(tf, tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), U, V, s), 'DEBORA_INVALID_ARG', 'int32'],
      [
        () => cpLinearTf(tf, x, U, tf.tensor2d(uniform(5, 8, -1, 1), [4, 2]), s),
        'DEBORA_SHAPE_MISMATCH',
        "argument 'V'",
      ],
      [() => cpLinearTf(tf, x, U, V, tf.tensor1d([1, 2, 3])), 'DEBORA_SHAPE_MISMATCH', "argument 's'"],
      [() => cpLinearTf(tf, x, [1, 2] as unknown as tf.Tensor, V, s), 'DEBORA_INVALID_ARG', "argument 'U'"],
    ];
    for (const [f, code, text] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isDeboraError(err)).toBe(true);
      expect((err as { code: string }).code).toBe(code);
      expect((err as Error).message).toContain(text);
    }
    // Non-finite s is refused by the native op, with the op's own clear error.
    const bad = tf.tensor1d([1, Number.NaN]);
    expect(() => cpLinearTf(tf, x, U, V, bad)).toThrow(/s/);
    tf.dispose([x, U, V, s, bad]);
  });
});
