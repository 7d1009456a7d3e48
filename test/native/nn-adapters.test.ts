/**
 * nn-adapters.test.ts — CP adapters carried by layers: geometry (initialisation, retraction,
 * tangent projection), forward equal to the layer with W + Ψ (float64 reference), backward by
 * finite differences, the three initialisations, equivalence with a hand-written LoRA when s is
 * frozen, pruning (output unchanged for components at s = 0, optimiser state kept aligned), and
 * attachAdapters' validated config.
 */

import { ReLU } from '../../lib/nn/activation';
import { adaptersOf, attachAdapters } from '../../lib/nn/attach';
import { Conv2d } from '../../lib/nn/conv2d';
import { normalizeColumns, orthonormalizeColumns, randomFactor } from '../../lib/nn/geometry';
import { Linear } from '../../lib/nn/linear';
import { MSELoss } from '../../lib/nn/loss';
import { Sequential } from '../../lib/nn/sequential';
import type { Tensor } from '../../lib/nn/tensor';
import { trainStep } from '../../lib/nn/train';
import { Adam } from '../../lib/optim/adam';
import { SGD } from '../../lib/optim/sgd';
import { Rng } from '../../lib/rng';
import { expectErr } from '../helpers/errors';
import { gradCheck } from '../helpers/gradcheck';
import { uniform } from '../helpers/random';
import { denseForward } from '../helpers/reference_conv2d';

function t(data: Float32Array, shape: number[]): Tensor {
  return { data, shape };
}

/** max |UᵀU − I| for an n×r row-major U. */
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

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('geometry', () => {
  test('random factors lie on their manifold; retraction restores a perturbed point and fixes a valid one', () => {
    const rng = new Rng(3);
    for (const [n, r] of [
      [1, 1],
      [17, 5],
      [64, 16],
      [9, 9],
    ] as Array<[number, number]>) {
      const S = randomFactor('stiefel', n, r, rng);
      expect(orthoError(S, n, r)).toBeLessThan(1e-6);
      const O = randomFactor('oblique', n, r, rng);
      expect(orthoError(O, n, r, true)).toBeLessThan(1e-6);
      const before = Float32Array.from(S);
      orthonormalizeColumns(S, n, r);
      expect(maxAbsDiff(S, before)).toBeLessThan(1e-6);
      const P = S.map((v, i) => v + 0.05 * Math.sin(i));
      orthonormalizeColumns(P, n, r);
      expect(orthoError(P, n, r)).toBeLessThan(1e-6);
      normalizeColumns(P, n, r);
      expect(orthoError(P, n, r, true)).toBeLessThan(1e-6);
    }
    // A rank-deficient input still yields orthonormal columns.
    const D = new Float32Array(6 * 3);
    for (let i = 0; i < 6; i++) {
      D[i * 3] = i + 1;
      D[i * 3 + 1] = 2 * (i + 1);
      D[i * 3 + 2] = 1;
    }
    orthonormalizeColumns(D, 6, 3);
    expect(orthoError(D, 6, 3)).toBeLessThan(1e-6);
  });

  test('tangent projection: on stiefel Uᵀ·grad becomes skew and the dots vanish', () => {
    const layer = new Linear(12, 9, { seed: 1 });
    const a = layer.attachAdapter({ rank: 4, geometry: 'stiefel', init: 'small', seed: 2 });
    const x = t(uniform(5, 6 * 12, -1, 1), [6, 12]);
    layer.forward(x);
    layer.backward(t(uniform(6, 6 * 9, -1, 1), [6, 9]), false);
    const dots = new Float32Array(4);
    a.projectGradients(dots);
    for (const [k, f] of a.factors.entries()) {
      const n = a.modeSizes[k] as number;
      for (let p = 0; p < 4; p++)
        for (let q = 0; q < 4; q++) {
          let upq = 0;
          let uqp = 0;
          for (let i = 0; i < n; i++) {
            upq += (f.data[i * 4 + p] as number) * (f.grad[i * 4 + q] as number);
            uqp += (f.data[i * 4 + q] as number) * (f.grad[i * 4 + p] as number);
          }
          expect(Math.abs(upq + uqp)).toBeLessThan(1e-5);
        }
    }
    for (const d of dots) expect(Math.abs(d)).toBeLessThan(1e-5);
  });
});

describe('Linear with a CP adapter', () => {
  test('forward equals X·(W + U diag(s) Vᵀ)ᵀ + b (float64); finite differences on x, U, V and s', () => {
    for (const [n, nIn, nOut, r] of [
      [1, 1, 1, 1],
      [5, 13, 7, 3],
      [9, 17, 33, 8],
    ] as Array<[number, number, number, number]>) {
      const layer = new Linear(nIn, nOut, { seed: 7, trainable: false });
      const a = layer.attachAdapter({ rank: r, geometry: 'euclidean', init: 'small', sInit: 0.5, seed: 3 });
      a.s.data.set(uniform(8, r, 0.2, 1.5));
      const x = t(uniform(9, n * nIn, -1, 1), [n, nIn]);
      const y = layer.forward(x).data;
      const W = layer.weight.data;
      const [U, V] = [a.factors[0]?.data as Float32Array, a.factors[1]?.data as Float32Array];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < nOut; j++) {
          let ref = layer.bias?.data[j] as number;
          for (let k = 0; k < nIn; k++) {
            let w = W[j * nIn + k] as number;
            for (let c = 0; c < r; c++)
              w += (U[j * r + c] as number) * (a.s.data[c] as number) * (V[k * r + c] as number);
            ref += (x.data[i * nIn + k] as number) * w;
          }
          expect(Math.abs((y[i * nOut + j] as number) - ref)).toBeLessThan(1e-5 * (1 + nIn));
        }
      // The adapter is linear in each of x, U, V, s separately: central differences are exact up to rounding.
      const res = gradCheck(layer, x, { h: 1e-2, atol: 3e-4, rtol: 3e-3, count: 24 });
      expect(res.worst).toBeLessThanOrEqual(1);
    }
  });

  test('initialisations: zero and offset start exactly at the pretrained output, small close to it', () => {
    const x = t(uniform(11, 4 * 10, -1, 1), [4, 10]);
    const base = Float32Array.from(new Linear(10, 6, { seed: 5 }).forward(x).data);
    const zero = new Linear(10, 6, { seed: 5 });
    zero.attachAdapter({ rank: 3, geometry: 'euclidean' });
    expect(zero.adapter?.init).toBe('zero');
    expect(maxAbsDiff(zero.forward(x).data, base)).toBe(0);
    const off = new Linear(10, 6, { seed: 5 });
    off.attachAdapter({ rank: 3, geometry: 'stiefel', init: 'offset', sInit: 0.3 });
    expect(maxAbsDiff(off.forward(x).data, base)).toBeLessThan(1e-5);
    const small = new Linear(10, 6, { seed: 5 });
    small.attachAdapter({ rank: 3, geometry: 'stiefel', sInit: 1e-3 });
    const d = maxAbsDiff(small.forward(x).data, base);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1e-3 * 10);
  });

  test('with s frozen, training U and V equals a hand-written LoRA (B = U, A = Vᵀ, scale = s_i) step for step', () => {
    const n = 6;
    const nIn = 11;
    const nOut = 7;
    const r = 3;
    const scale = 0.75;
    const lr = 0.05;
    const layer = new Linear(nIn, nOut, { seed: 2, trainable: false, bias: false });
    const ad = layer.attachAdapter({ rank: r, geometry: 'euclidean', init: 'zero', seed: 4 });
    ad.s.data.fill(scale);
    ad.s.requiresGrad = false;
    // LoRA state in float64: W0, B (nOut×r, zero), A (r×nIn) = Vᵀ.
    const W0 = Float64Array.from(layer.weight.data);
    const B = new Float64Array(nOut * r);
    const A = new Float64Array(r * nIn);
    const V = ad.factors[1]?.data as Float32Array;
    for (let i = 0; i < nIn; i++) for (let c = 0; c < r; c++) A[c * nIn + i] = V[i * r + c] as number;
    const x = t(uniform(13, n * nIn, -1, 1), [n, nIn]);
    const target = uniform(14, n * nOut, -1, 1);
    const opt = new SGD(layer.parameters(), { lr });
    const loss = new MSELoss();
    for (let step = 0; step < 6; step++) {
      const ours = trainStep(layer, loss, opt, x, target).output.data;
      // LoRA forward/backward in float64 at the pre-step parameters.
      const XA = new Float64Array(n * r);
      for (let i = 0; i < n; i++)
        for (let c = 0; c < r; c++) {
          let v = 0;
          for (let k = 0; k < nIn; k++) v += (x.data[i * nIn + k] as number) * (A[c * nIn + k] as number);
          XA[i * r + c] = v;
        }
      const Y = new Float64Array(n * nOut);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < nOut; j++) {
          let v = 0;
          for (let k = 0; k < nIn; k++) v += (x.data[i * nIn + k] as number) * (W0[j * nIn + k] as number);
          for (let c = 0; c < r; c++) v += scale * (XA[i * r + c] as number) * (B[j * r + c] as number);
          Y[i * nOut + j] = v;
        }
      expect(maxAbsDiff(ours, Y)).toBeLessThan(1e-5);
      const dY = Y.map((v, q) => (2 * (v - (target[q] as number))) / (n * nOut));
      const dB = new Float64Array(nOut * r);
      const dA = new Float64Array(r * nIn);
      for (let j = 0; j < nOut; j++)
        for (let c = 0; c < r; c++) {
          let v = 0;
          for (let i = 0; i < n; i++) v += (dY[i * nOut + j] as number) * (XA[i * r + c] as number);
          dB[j * r + c] = scale * v;
        }
      for (let c = 0; c < r; c++)
        for (let k = 0; k < nIn; k++) {
          let v = 0;
          for (let i = 0; i < n; i++) {
            let dyb = 0;
            for (let j = 0; j < nOut; j++) dyb += (dY[i * nOut + j] as number) * (B[j * r + c] as number);
            v += dyb * (x.data[i * nIn + k] as number);
          }
          dA[c * nIn + k] = scale * v;
        }
      for (let q = 0; q < B.length; q++) B[q] = (B[q] as number) - lr * (dB[q] as number);
      for (let q = 0; q < A.length; q++) A[q] = (A[q] as number) - lr * (dA[q] as number);
    }
    const U = ad.factors[0]?.data as Float32Array;
    expect(maxAbsDiff(U, B)).toBeLessThan(1e-5);
    expect(maxAbsDiff(U, new Float64Array(U.length))).toBeGreaterThan(1e-3); // it did learn
  });

  test('pruning components at s = 0 leaves the output unchanged and keeps Adam state aligned', () => {
    const layer = new Linear(14, 10, { seed: 3 });
    const a = layer.attachAdapter({ rank: 6, geometry: 'stiefel', init: 'small', sInit: 0.4, seed: 5 });
    const x = t(uniform(15, 5 * 14, -1, 1), [5, 14]);
    const opt = new Adam(
      layer.parameters().filter((p) => p.kind === 'adapter-factor'),
      { lr: 1e-2 },
    );
    trainStep(layer, new MSELoss(), opt, x, uniform(16, 50, -1, 1));
    trainStep(layer, new MSELoss(), opt, x, uniform(16, 50, -1, 1));
    a.s.data[1] = 0;
    a.s.data[4] = 0;
    const before = Float32Array.from(layer.forward(x).data);
    const stateBefore = opt.stateDict().buffers;
    const Ubefore = Float32Array.from(a.factors[0]?.data as Float32Array);
    const removed = a.pruneBelow(0, [opt]);
    expect(removed).toEqual([1, 4]);
    expect(a.rank).toBe(4);
    expect(a.factors[0]?.shape).toEqual([10, 4]);
    expect(a.paramCount).toBe(4 * (10 + 14 + 1));
    const after = layer.forward(x).data;
    expect(maxAbsDiff(after, before)).toBeLessThan(1e-6);
    const keep = [0, 2, 3, 5];
    const name = a.factors[0]?.name as string;
    const stateAfter = opt.stateDict().buffers;
    for (const buf of ['expAvg', 'expAvgSq']) {
      const old = stateBefore[name]?.[buf] as Float32Array;
      const now = stateAfter[name]?.[buf] as Float32Array;
      expect(now.length).toBe(40);
      for (let i = 0; i < 10; i++)
        for (let j = 0; j < 4; j++) expect(now[i * 4 + j]).toBe(old[i * 6 + (keep[j] as number)]);
    }
    for (let i = 0; i < 10; i++)
      for (let j = 0; j < 4; j++) expect(a.factors[0]?.data[i * 4 + j]).toBe(Ubefore[i * 6 + (keep[j] as number)]);
    // Training goes on at the new rank.
    trainStep(layer, new MSELoss(), opt, x, uniform(16, 50, -1, 1));
    expect(a.rank).toBe(4);
    // Pruning everything leaves an inert adapter.
    a.prune([], [opt]);
    expect(a.rank).toBe(0);
    layer.detachAdapter();
    const plain = Float32Array.from(layer.forward(x).data);
    layer.adapter = a;
    expect(maxAbsDiff(layer.forward(x).data, plain)).toBe(0);
    expectErr(() => a.prune([0]), 'DEBORA_INVALID_ARG', /keep\[0\]/);
  });
});

describe('Conv2d with a CP conv adapter', () => {
  test('forward equals the dense convolution with K + ΔK; finite differences on x and every factor and s', () => {
    const g = { batch: 2, C: 3, H: 7, W: 6, F: 5, kh: 3, kw: 3 };
    const layer = new Conv2d(g.C, g.F, 3, {
      padding: 1,
      stride: [1, 2],
      dilation: [2, 1],
      seed: 2,
      trainable: false,
      bias: false,
    });
    const a = layer.attachAdapter({ rank: 4, geometry: 'stiefel', init: 'small', sInit: 0.6, seed: 1 });
    expect(a.modeGeometries).toEqual(['stiefel', 'oblique', 'oblique', 'oblique']);
    const x = t(uniform(21, g.batch * g.C * g.H * g.W, -1, 1), [g.batch, g.C, g.H, g.W]);
    const y = layer.forward(x).data;
    const dk = a.materialize();
    const K = layer.weight.data.map((v, i) => v + (dk[i] as number));
    const ref = denseForward({ ...g, sh: 1, sw: 2, ph: 1, pw: 1, dh: 2, dw: 1 }, x.data, K);
    expect(y.length).toBe(ref.length);
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
    const res = gradCheck(layer, x, { h: 1e-2, atol: 3e-4, rtol: 3e-3, count: 20 });
    expect(res.worst).toBeLessThanOrEqual(1);
  });

  test("offset init keeps the layer's function; pruning at s = 0 keeps the output", () => {
    const x = t(uniform(22, 2 * 2 * 6 * 6, -1, 1), [2, 2, 6, 6]);
    const conv = new Conv2d(2, 4, 3, { padding: 1, seed: 9 });
    const base = Float32Array.from(conv.forward(x).data);
    const a = conv.attachAdapter({ rank: 5, geometry: 'oblique', init: 'offset', sInit: 0.2 });
    expect(maxAbsDiff(conv.forward(x).data, base)).toBeLessThan(1e-5);
    a.s.data[0] = 0;
    a.s.data[3] = 0;
    const before = Float32Array.from(conv.forward(x).data);
    a.pruneBelow(0);
    expect(a.rank).toBe(3);
    expect(maxAbsDiff(conv.forward(x).data, before)).toBeLessThan(1e-6);
  });
});

describe('attachAdapters', () => {
  function mlp(): Sequential {
    return new Sequential([
      ['fc1', new Linear(8, 6, { seed: 1 })],
      ['act', new ReLU()],
      ['fc2', new Linear(6, 4, { seed: 2 })],
    ]);
  }

  test('by name and pattern, with per-layer overrides; base frozen; names assigned', () => {
    const m = mlp();
    const ads = attachAdapters(m, {
      targets: /^fc/,
      rank: 3,
      geometry: 'stiefel',
      overrides: { fc2: { rank: 2, geometry: 'oblique' } },
    });
    expect([...ads.keys()]).toEqual(['fc1', 'fc2']);
    expect(ads.get('fc1')?.rank).toBe(3);
    expect(ads.get('fc2')?.rank).toBe(2);
    expect(ads.get('fc2')?.geometry).toBe('oblique');
    expect([...adaptersOf(m).keys()]).toEqual(['fc1', 'fc2']);
    const names = m.parameters().map((p) => [p.name, p.requiresGrad]);
    expect(names).toEqual([
      ['fc1.weight', false],
      ['fc1.bias', false],
      ['fc1.adapter.U', true],
      ['fc1.adapter.V', true],
      ['fc1.adapter.s', true],
      ['fc2.weight', false],
      ['fc2.bias', false],
      ['fc2.adapter.U', true],
      ['fc2.adapter.V', true],
      ['fc2.adapter.s', true],
    ]);
    // Different layers get different factor draws.
    expect(ads.get('fc1')?.factors[1]?.data[0]).not.toBe(ads.get('fc2')?.factors[1]?.data[0]);
  });

  test('bad configs name the field and the fix, and attach nothing', () => {
    const m = mlp();
    expectErr(
      () => attachAdapters(m, { targets: 'fc3', rank: 2 }),
      'DEBORA_INVALID_CONFIG',
      /targets\[0\].*'fc1', 'fc2'/,
    );
    expectErr(() => attachAdapters(m, { targets: 'act', rank: 2 }), 'DEBORA_INVALID_CONFIG', /Linear or Conv2d/);
    expectErr(() => attachAdapters(m, { targets: /conv/, rank: 2 }), 'DEBORA_INVALID_CONFIG', /pattern matching/);
    expectErr(
      () => attachAdapters(m, { targets: ['fc1'], rank: 2, overrides: { fc2: { rank: 1 } } }),
      'DEBORA_INVALID_CONFIG',
      /overrides\.fc2/,
    );
    expectErr(
      () => attachAdapters(m, { targets: ['fc1', 'fc2'], rank: 2, overrides: { fc2: { rank: 0 } } }),
      'DEBORA_INVALID_CONFIG',
      /'rank'/,
    );
    expectErr(
      () => attachAdapters(m, { targets: ['fc1'], rank: 2, init: 'zero' }),
      'DEBORA_INVALID_CONFIG',
      /init 'zero' needs geometry 'euclidean'/,
    );
    expect(adaptersOf(m).size).toBe(0);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
  });
});
