/**
 * tfjs-train.test.ts — the dEBORA loop in tfjs (lib/tfjs/frank-wolfe.ts) and a shortened run of the
 * example scripts/examples/tfjs-train.ts: the loss falls and held-out accuracy rises on the shifted
 * task, s stays feasible on the simplex and equal in the layers and the optimiser, truncation
 * shrinks the variables and Adam's moments together. Also: G̃ from the tfjs loop obeys the identities
 * of ALGORITHM.md §3 (G̃ = ∂s f on stiefel, G̃ = (1 − d)·∂s f = −∂s f with euclidean factors), inner
 * steps keep factors on the manifold and s fixed, and bad set-ups fail with clear errors.
 */
import * as tf from '@tensorflow/tfjs';
import { type DeboraDense, deboraDense, TfFrankWolfe } from '../../lib/tfjs';
import { runTfjsExample } from '../../scripts/examples/tfjs-train';
import { expectErr } from '../helpers/errors';
import { uniform } from '../helpers/random';

tf.env().set('PROD', true); // silences tfjs's "install tfjs-node" banner

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

/** max |UᵀU − I| for an n×r row-major U. */
function orthoError(U: Float32Array, n: number, r: number): number {
  let worst = 0;
  for (let a = 0; a < r; a++)
    for (let b = 0; b < r; b++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (U[i * r + a] as number) * (U[i * r + b] as number);
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  return worst;
}

describe('tfjs dEBORA loop', () => {
  test('the example (shortened) trains: loss falls, accuracy rises, s feasible, ranks pruned with Adam state', () => {
    const tau = 16;
    const eps = 1e-3;
    const res = runTfjsExample(tf, {
      outerSteps: 12,
      innerSteps: 3,
      pretrainEpochs: 2,
      fw: { tau, epsilon: eps, truncateFrom: 4 },
    });
    expect(res.innerLoss).toHaveLength(12);
    expect(mean(res.innerLoss.slice(-3))).toBeLessThan(0.6 * mean(res.innerLoss.slice(0, 3)));
    expect(mean(res.outerLoss.slice(-3))).toBeLessThan(0.6 * mean(res.outerLoss.slice(0, 3)));
    expect(res.accuracyAfter).toBeGreaterThan(res.accuracyBefore + 0.1);
    // Feasible: s_i ≥ ε and Σ(s_i − ε) ≤ τ (one global simplex over both layers).
    const s = res.loop.fw.s;
    expect(s.length).toBe(res.layers.reduce((a, l) => a + l.rank, 0));
    for (const v of s) expect(v).toBeGreaterThanOrEqual(eps);
    expect(s.reduce((a, v) => a + v - eps, 0)).toBeLessThanOrEqual(tau * (1 + 1e-12));
    // The layers hold the optimiser's s (rounded to float32).
    for (const l of res.layers) {
      expect(Array.from(l.getS())).toEqual(Array.from(res.loop.fw.sOf(l.name), Math.fround));
      expect(l.rank).toBe(res.ranks[l.name]);
    }
    // Truncation happened, and every factor kept its orthonormal columns at the new rank.
    expect(res.layers.reduce((a, l) => a + l.rank, 0)).toBeLessThan(16);
    for (const l of res.layers) {
      expect(l.U.shape).toEqual([l.units, l.rank]);
      expect(orthoError(l.V.read().dataSync() as Float32Array, l.inputDim, l.rank)).toBeLessThan(1e-5);
    }
  });

  test('G̃ = ∂s f on stiefel and G̃ = −∂s f with euclidean factors (ALGORITHM.md §3)', () => {
    const [N, nIn, nHid, nOut] = [9, 7, 6, 5];
    const x = tf.tensor2d(uniform(1, N * nIn, -1, 1), [N, nIn]);
    const target = tf.tensor2d(uniform(2, N * nOut, -1, 1), [N, nOut]);
    for (const geometry of ['stiefel', 'euclidean'] as const) {
      const common = { geometry, init: 'small' as const, sInit: 0.2 };
      const l1 = deboraDense(tf, { ...common, units: nHid, rank: 3, inputDim: nIn, activation: 'tanh', seed: 1 });
      const l2 = deboraDense(tf, { ...common, units: nOut, rank: 4, inputDim: nHid, seed: 2 });
      const net = (s1: tf.Tensor, s2: tf.Tensor) => {
        // The same network in pure tfjs with s as explicit inputs: ∂s f by tfjs's own autodiff.
        const layer = (l: DeboraDense, h: tf.Tensor, s: tf.Tensor) =>
          tf.add(
            tf.add(tf.matMul(h as tf.Tensor2D, l.kernel.read() as tf.Tensor2D), l.bias!.read()),
            tf.matMul(
              tf.mul(tf.matMul(h as tf.Tensor2D, l.V.read() as tf.Tensor2D), s) as tf.Tensor2D,
              l.U.read() as tf.Tensor2D,
              false,
              true,
            ),
          );
        return tf.losses.meanSquaredError(target, layer(l2, tf.tanh(layer(l1, x, s1)), s2)) as tf.Scalar;
      };
      const loop = new TfFrankWolfe(tf, [l1, l2], { tau: 4, epsilon: 1e-3 });
      const lossFn = () => tf.losses.meanSquaredError(target, l2.apply(l1.apply(x)) as tf.Tensor) as tf.Scalar;
      const { g, loss } = loop.hypergradient(lossFn);
      const [d1, d2] = tf.grads(net)([l1.sVariable(), l2.sVariable()]) as [tf.Tensor, tf.Tensor];
      const ds = [...d1.dataSync(), ...d2.dataSync()];
      const scale = ds.reduce((a, v) => a + Math.abs(v), 0);
      expect(scale).toBeGreaterThan(1e-3);
      const sign = geometry === 'stiefel' ? 1 : -1;
      ds.forEach((v, i) => {
        expect(Math.abs((g[i] as number) - sign * v)).toBeLessThan(1e-4 * scale);
      });
      expect(loss).toBeCloseTo(net(l1.sVariable(), l2.sVariable()).dataSync()[0] as number, 5);
      // The pass made nothing trainable for good: s is still off the optimisers' lists.
      expect(l1.sVariable().trainable).toBe(false);
      expect(l1.trainableWeights).toHaveLength(2);
    }
  });

  test('innerStep: factors move and stay on the manifold, s does not move', () => {
    const layer = deboraDense(tf, { units: 6, rank: 3, inputDim: 8, seed: 3, sInit: 0.3 });
    const loop = new TfFrankWolfe(tf, [layer], { tau: 2, epsilon: 1e-3 });
    const x = tf.tensor2d(uniform(5, 10 * 8, -1, 1), [10, 8]);
    const y = tf.tensor2d(uniform(6, 10 * 6, -1, 1), [10, 6]);
    const s0 = Array.from(layer.getS());
    const V0 = Float32Array.from(layer.V.read().dataSync());
    const opt = tf.train.adam(5e-2);
    const losses: number[] = [];
    for (let k = 0; k < 20; k++) {
      losses.push(loop.innerStep(opt, () => tf.losses.meanSquaredError(y, layer.apply(x) as tf.Tensor) as tf.Scalar));
    }
    expect(losses[19]).toBeLessThan(losses[0] as number);
    expect(Array.from(layer.getS())).toEqual(s0);
    const V = layer.V.read().dataSync() as Float32Array;
    expect(Math.max(...Array.from(V, (v, i) => Math.abs(v - (V0[i] as number))))).toBeGreaterThan(1e-2);
    expect(orthoError(V, 8, 3)).toBeLessThan(1e-5);
    expect(orthoError(layer.U.read().dataSync() as Float32Array, 6, 3)).toBeLessThan(1e-5);
  });

  test('bad set-ups: DeboraError naming the argument and the fix', () => {
    const built = deboraDense(tf, { units: 3, rank: 2, inputDim: 4, sInit: 0.01 });
    expectErr(() => new TfFrankWolfe(tf, [], { tau: 1, epsilon: 1e-3 }), 'DEBORA_INVALID_ARG', /'layers'/);
    expectErr(
      () => new TfFrankWolfe(tf, [deboraDense(tf, { units: 3, rank: 2 })], { tau: 1, epsilon: 1e-3 }),
      'DEBORA_INVALID_ARG',
      /built layer.*unbuilt/,
    );
    expectErr(
      () => new TfFrankWolfe(tf, [built], { tau: 1, epsilon: 0.05 }),
      'DEBORA_INVALID_CONFIG',
      /sInit above epsilon/,
    );
    expectErr(() => new TfFrankWolfe(tf, [built], { tau: 0.001, epsilon: 1e-3 }), 'DEBORA_INVALID_CONFIG', /raise tau/);
    expectErr(() => new TfFrankWolfe(tf, [built], { tau: -1, epsilon: 1e-3 }), 'DEBORA_INVALID_CONFIG', /'tau'/);
    expectErr(
      () => new TfFrankWolfe({} as typeof tf, [built], { tau: 1, epsilon: 1e-3 }),
      'DEBORA_INVALID_ARG',
      /'tf'/,
    );
    const loop = new TfFrankWolfe(tf, [built], { tau: 1, epsilon: 1e-3 });
    expectErr(() => loop.innerStep({} as tf.Optimizer, () => tf.scalar(0)), 'DEBORA_INVALID_ARG', /'optimizer'/);
    // A loss that never touches the layer has no ∂s.
    const v = tf.variable(tf.scalar(1.5));
    expectErr(() => loop.hypergradient(() => tf.square(v) as tf.Scalar), 'DEBORA_INVALID_ARG', /uses none of their/);
    const other = deboraDense(tf, { units: 2, rank: 1, inputDim: 3, sInit: 0.01, name: 'unused_layer' });
    const two = new TfFrankWolfe(tf, [built, other], { tau: 1, epsilon: 1e-3 });
    const x = tf.tensor2d(uniform(7, 8, -1, 1), [2, 4]);
    expectErr(
      () => two.hypergradient(() => tf.sum(built.apply(x) as tf.Tensor) as tf.Scalar),
      'DEBORA_INVALID_ARG',
      /depends on layer 'unused_layer'/,
    );
    expect(built.sVariable().trainable).toBe(false);
  });
});
