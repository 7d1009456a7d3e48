/**
 * tfjs-layer.test.ts — the DeboraDense tfjs layer (lib/tfjs/dense.ts): forward against a float64
 * reference (2-D and 3-D input, bias, activation), initialisation (same factors as the native
 * CpAdapter for a seed, stiefel / oblique fallback, 'offset' starts at the base function, fromDense),
 * tangent projection of gradients (equal to cpTangent; Σ⟨u, P(g)⟩ = 0 on stiefel), retraction,
 * pruning with Adam state kept aligned, save/load through tfjs serialization, and bad input.
 * Seeded data throughout; tolerances are float32 rounding bounds stated where used.
 */
import * as tf from '@tensorflow/tfjs';
import { CpAdapter, resolveAdapterOptions } from '../../lib/nn/adapter';
import { cpTangent } from '../../lib/ops/cp_tangent';
import { type DeboraDense, deboraDense, deboraDenseClass } from '../../lib/tfjs';
import { expectErr } from '../helpers/errors';
import { uniform } from '../helpers/random';

tf.env().set('PROD', true); // silences tfjs's "install tfjs-node" banner

const data = (t: tf.Tensor | { read(): tf.Tensor }): Float32Array =>
  ('read' in t ? t.read() : t).dataSync() as Float32Array;

/** max |UᵀU − I| (or only the diagonal: unit columns) for an n×r row-major U. */
function orthoError(U: Float32Array, n: number, r: number, unitOnly = false): number {
  let worst = 0;
  for (let a = 0; a < r; a++)
    for (let b = unitOnly ? a : 0; b < (unitOnly ? a + 1 : r); b++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (U[i * r + a] as number) * (U[i * r + b] as number);
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  return worst;
}

/** float64 y = act(x K + b + ((x V) ⊙ s) Uᵀ) for x N×nIn, K nIn×nOut (tfjs layout); also Σ|terms|. */
function reference(layer: DeboraDense, x: Float32Array, N: number, act: (v: number) => number) {
  const [nIn, nOut, r] = [layer.inputDim, layer.units, layer.rank];
  const K = data(layer.kernel);
  const b = layer.bias === null ? new Float32Array(nOut) : data(layer.bias);
  const U = data(layer.U);
  const V = data(layer.V);
  const s = data(layer.s);
  const y = new Float64Array(N * nOut);
  const mag = new Float64Array(N * nOut);
  for (let n = 0; n < N; n++) {
    const z = new Float64Array(r);
    const za = new Float64Array(r);
    for (let i = 0; i < r; i++)
      for (let k = 0; k < nIn; k++) {
        z[i] = (z[i] as number) + (x[n * nIn + k] as number) * (V[k * r + i] as number);
        za[i] = (za[i] as number) + Math.abs((x[n * nIn + k] as number) * (V[k * r + i] as number));
      }
    for (let j = 0; j < nOut; j++) {
      let v = b[j] as number;
      let m = Math.abs(v);
      for (let k = 0; k < nIn; k++) {
        v += (x[n * nIn + k] as number) * (K[k * nOut + j] as number);
        m += Math.abs((x[n * nIn + k] as number) * (K[k * nOut + j] as number));
      }
      for (let i = 0; i < r; i++) {
        v += (z[i] as number) * (s[i] as number) * (U[j * r + i] as number);
        m += (za[i] as number) * Math.abs((s[i] as number) * (U[j * r + i] as number));
      }
      y[n * nOut + j] = act(v);
      mag[n * nOut + j] = m;
    }
  }
  return { y, mag };
}

function maxRatio(got: ArrayLike<number>, ref: ArrayLike<number>, mag: ArrayLike<number>, k: number): number {
  let worst = 0;
  for (let q = 0; q < ref.length; q++) {
    const r = Math.abs((got[q] as number) - (ref[q] as number)) / (k * 2 ** -24 * (mag[q] as number) + 1e-30);
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

describe('DeboraDense', () => {
  test('forward equals act(x W0 + b + ((x V) ⊙ s) Uᵀ) for 2-D and 3-D input', () => {
    const [N, nIn, nOut, r] = [5, 7, 6, 3];
    const layer = deboraDense(tf, {
      units: nOut,
      rank: r,
      kernel: tf.tensor2d(uniform(1, nIn * nOut, -1, 1), [nIn, nOut]),
      bias: uniform(2, nOut, -0.5, 0.5),
      activation: 'relu',
      sInit: 0.7,
      seed: 3,
    });
    const xs = uniform(4, N * nIn, -1, 1);
    const y = layer.apply(tf.tensor2d(xs, [N, nIn])) as tf.Tensor;
    const ref = reference(layer, xs, N, (v) => Math.max(v, 0));
    const k = nIn + r + 8; // longest sum chain of an output, with slack for the three additions
    expect(y.shape).toEqual([N, nOut]);
    expect(maxRatio(y.dataSync(), ref.y, ref.mag, k)).toBeLessThanOrEqual(1);
    // Both signs occur, so the relu is exercised.
    expect(ref.y.some((v) => v === 0) && ref.y.some((v) => v > 0)).toBe(true);
    // A 3-D batch [2, 3, nIn] is the same computation on the last axis.
    const x3 = uniform(5, 6 * nIn, -1, 1);
    const y3 = layer.apply(tf.tensor3d(x3, [2, 3, nIn])) as tf.Tensor;
    expect(y3.shape).toEqual([2, 3, nOut]);
    const ref3 = reference(layer, x3, 6, (v) => Math.max(v, 0));
    expect(maxRatio(y3.dataSync(), ref3.y, ref3.mag, k)).toBeLessThanOrEqual(1);
    expect(layer.computeOutputShape([null, 4, nIn])).toEqual([null, 4, nOut]);
  });

  test('initialisation: same factors as the native CpAdapter, stiefel with oblique fallback, s = sInit', () => {
    const [nIn, nOut, r] = [9, 4, 6]; // nOut < r: U cannot be stiefel
    const layer = deboraDense(tf, { units: nOut, rank: r, inputDim: nIn, sInit: 0.05, seed: 11 });
    expect(layer.built).toBe(true);
    expect(layer.modeGeometries).toEqual(['oblique', 'stiefel']);
    const native = new CpAdapter([nOut, nIn], resolveAdapterOptions('t', { rank: r, seed: 11 }), ['U', 'V']);
    expect(Array.from(data(layer.U))).toEqual(Array.from(native.factors[0]!.data));
    expect(Array.from(data(layer.V))).toEqual(Array.from(native.factors[1]!.data));
    expect(orthoError(data(layer.V), nIn, r)).toBeLessThan(1e-5);
    expect(orthoError(data(layer.U), nOut, r, true)).toBeLessThan(1e-5);
    expect(orthoError(data(layer.U), nOut, r)).toBeGreaterThan(1e-2); // not orthonormal: oblique only
    expect(Array.from(layer.getS())).toEqual(new Array(r).fill(Math.fround(0.05)));
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['U', 'V']);
    expect(layer.nonTrainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['s', 'kernel', 'bias']);
    // Unfreezing the layer re-enables U and V only: s stays the Frank-Wolfe loop's.
    layer.trainable = false;
    expect(layer.trainableWeights).toHaveLength(0);
    layer.trainable = true;
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['U', 'V']);
    expect(layer.sVariable().trainable).toBe(false);
  });

  test("fromDense keeps the dense layer's function with init 'offset', and its input shape", () => {
    const dense = tf.layers.dense({
      units: 5,
      activation: 'tanh',
      inputShape: [8],
      kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
      biasInitializer: tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 8 }),
    });
    const base = tf.sequential({ layers: [dense] });
    const layer = deboraDenseClass(tf).fromDense(dense, { rank: 4, init: 'offset', sInit: 0.3, seed: 2 });
    const model = tf.sequential({ layers: [layer] });
    expect(layer.name).toBe(`${dense.name}_debora`);
    const x = tf.tensor2d(uniform(9, 3 * 8, -1, 1), [3, 8]);
    const want = (base.predict(x) as tf.Tensor).dataSync();
    const got = (model.predict(x) as tf.Tensor).dataSync();
    // W0 − Ψ0 + Ψ0 in float32: a few roundings of O(|W| + |Ψ|) per product; tanh is 1-Lipschitz.
    for (let q = 0; q < want.length; q++) expect(Math.abs((got[q] as number) - (want[q] as number))).toBeLessThan(2e-6);
    // The factors are not zero: the adapter is live, only offset.
    expect(Math.max(...Array.from(data(layer.adapterDelta()), Math.abs))).toBeGreaterThan(1e-2);
    // A plain (non-offset) adapter changes the output.
    const plain = deboraDenseClass(tf).fromDense(dense, { rank: 4, sInit: 0.3, seed: 2, name: 'plain' });
    const other = (plain.apply(x) as tf.Tensor).dataSync();
    expect(Math.max(...Array.from(other, (v, q) => Math.abs(v - (want[q] as number))))).toBeGreaterThan(1e-3);
  });

  test('projectGradients equals cpTangent and gives Σ⟨u, P(g)⟩ = 0 on stiefel; euclidean is left alone', () => {
    const [N, nIn, nOut, r] = [6, 8, 7, 3];
    const x = tf.tensor2d(uniform(20, N * nIn, -1, 1), [N, nIn]);
    const w = tf.tensor2d(uniform(21, N * nOut, -1, 1), [N, nOut]);
    for (const geometry of ['stiefel', 'euclidean'] as const) {
      const layer = deboraDense(tf, {
        units: nOut,
        rank: r,
        inputDim: nIn,
        geometry,
        init: 'small',
        sInit: 0.4,
        seed: 5,
      });
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, w)) as tf.Scalar,
        layer.factorVariables(),
      );
      const gU = Float32Array.from(grads[layer.U.name]!.dataSync());
      const gV = Float32Array.from(grads[layer.V.name]!.dataSync());
      const dots = new Float32Array(r);
      layer.projectGradients(grads, dots);
      if (geometry === 'stiefel') {
        expect(Array.from(grads[layer.U.name]!.dataSync())).toEqual(
          Array.from(cpTangent('stiefel', data(layer.U), gU, nOut, r)),
        );
        expect(Array.from(grads[layer.V.name]!.dataSync())).toEqual(
          Array.from(cpTangent('stiefel', data(layer.V), gV, nIn, r)),
        );
        // ⟨u_i, P(g)_i⟩ = (UᵀG − sym(UᵀG))_ii = 0 with orthonormal U; scale: Σ|g|.
        const scale = gU.reduce((a, v) => a + Math.abs(v), 0) + gV.reduce((a, v) => a + Math.abs(v), 0);
        for (const d of dots) expect(Math.abs(d)).toBeLessThan(1e-5 * scale);
        expect(scale).toBeGreaterThan(1);
      } else {
        expect(Array.from(grads[layer.U.name]!.dataSync())).toEqual(Array.from(gU));
        // Euler: Σ_k ⟨u^(k), g^(k)⟩ = 2 s_i ∂s_i — non-zero here, so the dots were really summed.
        expect(Math.max(...Array.from(dots, Math.abs))).toBeGreaterThan(1e-3);
      }
      tf.dispose(Object.values(grads) as tf.Tensor[]);
    }
  });

  test('retract puts perturbed factors back on stiefel / oblique', () => {
    const layer = deboraDense(tf, { units: 3, rank: 5, inputDim: 10, seed: 8 });
    for (const [lv, n] of [
      [layer.U, 3],
      [layer.V, 10],
    ] as const) {
      const t = tf.tensor2d(uniform(30 + n, n * 5, -1, 1), [n, 5]);
      lv.write(tf.add(lv.read(), t));
    }
    expect(orthoError(data(layer.V), 10, 5)).toBeGreaterThan(0.1);
    layer.retract();
    expect(orthoError(data(layer.V), 10, 5)).toBeLessThan(1e-5);
    expect(orthoError(data(layer.U), 3, 5, true)).toBeLessThan(1e-5);
  });

  test('prune keeps the chosen components, rebuilds the variables and slices the Adam moments', () => {
    const [N, nIn, nOut, r] = [4, 6, 5, 4];
    const layer = deboraDense(tf, { units: nOut, rank: r, inputDim: nIn, sInit: 0.2, seed: 9 });
    layer.setS([0.5, 0.1, 0.9, 0.3]);
    const x = tf.tensor2d(uniform(40, N * nIn, -1, 1), [N, nIn]);
    const opt: tf.Optimizer = tf.train.adam(1e-2);
    const step = () => {
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar,
        layer.factorVariables(),
      );
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads) as tf.Tensor[]);
    };
    step();
    step();
    const slots = opt as unknown as {
      accumulatedFirstMoment: { variable: tf.Variable }[];
      accumulatedSecondMoment: { variable: tf.Variable }[];
    };
    const m0 = Float32Array.from(slots.accumulatedFirstMoment[0]!.variable.dataSync());
    const v1 = Float32Array.from(slots.accumulatedSecondMoment[1]!.variable.dataSync());
    const U0 = Float32Array.from(data(layer.U));
    const oldU = layer.U;
    const kept = [2, 0];
    layer.prune(kept, [opt]);
    const k = [0, 2];
    expect(layer.rank).toBe(2);
    expect(Array.from(layer.getS())).toEqual([Math.fround(0.5), Math.fround(0.9)]);
    const col = (a: Float32Array, n: number, cols: number) =>
      Array.from({ length: n * k.length }, (_, q) => a[Math.floor(q / k.length) * cols + (k[q % k.length] as number)]);
    expect(Array.from(data(layer.U))).toEqual(col(U0, nOut, r));
    expect(Array.from(slots.accumulatedFirstMoment[0]!.variable.dataSync())).toEqual(col(m0, nOut, r));
    expect(Array.from(slots.accumulatedSecondMoment[1]!.variable.dataSync())).toEqual(col(v1, nIn, r));
    expect(slots.accumulatedFirstMoment[0]!.variable.shape).toEqual([nOut, 2]);
    expect(() => oldU.read()).toThrow(/disposed/);
    expect(layer.nonTrainableWeights.map((w) => w.shape)).toEqual([[2], [nIn, nOut], [nOut]]);
    expect(layer.sVariable().trainable).toBe(false);
    expect(layer.trainableWeights.map((w) => w.shape)).toEqual([
      [nOut, 2],
      [nIn, 2],
    ]);
    // The pruned layer computes the adapter of the kept components, and training continues.
    const ref = reference(layer, x.dataSync() as Float32Array, N, (v) => v);
    expect(maxRatio((layer.apply(x) as tf.Tensor).dataSync(), ref.y, ref.mag, nIn + 8)).toBeLessThanOrEqual(1);
    expect(step).not.toThrow();
    expect(layer.getConfig().rank).toBe(2);
  });

  test('a model with DeboraDense saves and loads through tfjs serialization (after pruning too)', async () => {
    const layer = deboraDense(tf, { units: 4, rank: 3, inputDim: 6, activation: 'relu', seed: 4, name: 'dd_save' });
    const model = tf.sequential({ layers: [layer, tf.layers.dense({ units: 2 })] });
    layer.setS([0.3, 0.6, 0.2]);
    layer.prune([0, 1]);
    const x = tf.tensor2d(uniform(50, 12, -1, 1), [2, 6]);
    const want = (model.predict(x) as tf.Tensor).dataSync();
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const back = loaded.layers[0] as DeboraDense;
    expect(back.getClassName()).toBe('DeboraDense');
    expect(back.rank).toBe(2);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(want));
  });

  test('bad input: DeboraError naming the argument and the fix', () => {
    const ok = { units: 3, rank: 2, inputDim: 4 };
    expectErr(() => deboraDense(tf, { ...ok, units: 0 }), 'DEBORA_INVALID_ARG', /'units'/);
    expectErr(() => deboraDense(tf, { ...ok, rank: 0 }), 'DEBORA_INVALID_ARG', /'rank'/);
    expectErr(() => deboraDense(tf, { ...ok, geometry: 'round' as 'stiefel' }), 'DEBORA_INVALID_ARG', /'geometry'/);
    expectErr(() => deboraDense(tf, { ...ok, init: 'zero' }), 'DEBORA_INVALID_CONFIG', /use init 'small' or 'offset'/);
    expectErr(
      () => deboraDense(tf, { ...ok, kernel: tf.tensor2d(uniform(1, 10, -1, 1), [5, 2]) }),
      'DEBORA_SHAPE_MISMATCH',
      /\[inputDim, 3\] for argument 'kernel'/,
    );
    expectErr(() => deboraDense(tf, { ...ok, kernel: uniform(1, 15, -1, 1) }), 'DEBORA_SHAPE_MISMATCH', /'inputDim'/);
    expectErr(() => deboraDense(tf, { ...ok, activation: 'wiggle' }), 'DEBORA_INVALID_ARG', /'activation'.*'wiggle'/);
    expectErr(() => deboraDense(tf, { units: 3, rank: 2 }).U, 'DEBORA_INVALID_ARG', /not built yet.*inputShape/);
    const layer = deboraDense(tf, ok);
    expectErr(() => layer.setS([1]), 'DEBORA_SHAPE_MISMATCH', /'values'/);
    expectErr(() => layer.setS([1, -1]), 'DEBORA_INVALID_ARG', /> 0/);
    expectErr(() => layer.setS([1, Number.NaN]), 'DEBORA_NON_FINITE', /finite/);
    expectErr(() => layer.prune([0, 0]), 'DEBORA_INVALID_ARG', /distinct/);
    expectErr(() => layer.prune([2]), 'DEBORA_INVALID_ARG', /'kept\[0\]'/);
    expectErr(() => layer.prune([]), 'DEBORA_INVALID_ARG', /at least one/);
    expect(layer.rank).toBe(2); // refused prunes changed nothing
    expectErr(() => deboraDenseClass(tf).fromDense(tf.layers.flatten(), { rank: 2 }), 'DEBORA_INVALID_ARG', /'dense'/);
    expectErr(() => layer.apply(tf.zeros([2, 5])), 'DEBORA_SHAPE_MISMATCH', /last dimension is 4/);
  });
});
