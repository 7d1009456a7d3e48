/**
 * nn-layers.test.ts (unit) — the element-wise, pooling and normalisation layers, losses and
 * metrics of the model toolkit (ReLU and MaxPool2d call native ops since they moved native; the
 * others are TypeScript): forward against float64 references on seeded awkward shapes,
 * backward against central finite differences (test/helpers/gradcheck.ts states the probe),
 * clear errors. Linear and Conv2d (native kernels) are in test/native/nn-layers.test.ts.
 */
import { Dropout, erf, Flatten, GELU, ReLU } from '../../lib/nn/activation';
import { accuracy, argmax, confusionMatrix, MSELoss, SoftmaxCrossEntropy } from '../../lib/nn/loss';
import { BatchNorm2d, LayerNorm } from '../../lib/nn/norm';
import { AvgPool2d, MaxPool2d } from '../../lib/nn/pool';
import type { Tensor } from '../../lib/nn/tensor';
import { expectErr } from '../helpers/errors';
import { gradCheck } from '../helpers/gradcheck';
import { uniform } from '../helpers/random';

function t(data: Float32Array, shape: number[]): Tensor {
  return { data, shape };
}

/** Values away from 0 by at least 0.1 (so a finite-difference step never crosses a ReLU kink). */
function awayFromZero(seed: number, n: number): Float32Array {
  const u = uniform(seed, n, -1, 1);
  return u.map((v) => (v < 0 ? v - 0.1 : v + 0.1));
}

/** Distinct values on a grid of spacing ≥ 1/n, shuffled (max pooling has no near-ties). */
function distinct(seed: number, n: number): Float32Array {
  const r = uniform(seed, n, 0, 1);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (r[a] as number) - (r[b] as number));
  const out = new Float32Array(n);
  order.forEach((pos, rank) => {
    out[pos] = (rank + 0.5) / n - 0.5;
  });
  return out;
}

describe('activations', () => {
  test('ReLU forward and finite differences (inputs ≥ 0.1 from the kink; exact up to rounding: h 1e-2, atol 1e-4)', () => {
    const x = t(awayFromZero(1, 3 * 17), [3, 17]);
    const y = new ReLU().forward(x);
    for (let i = 0; i < x.data.length; i++) expect(y.data[i]).toBe(Math.max(0, x.data[i] as number));
    const r = gradCheck(new ReLU(), x, { h: 1e-2, atol: 1e-4, rtol: 1e-3, count: 51 });
    expect(r.worst).toBeLessThanOrEqual(1);
  });

  test('erf matches reference values to 2e-7', () => {
    // erf values from Abramowitz & Stegun table 7.1.
    const table: Array<[number, number]> = [
      [0.1, 0.112462916],
      [0.5, 0.5204998778],
      [1, 0.8427007929],
      [2, 0.995322265],
      [-0.7, -0.6778011938],
    ];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).toBeLessThan(2e-7);
  });

  test('GELU exact and tanh forms: reference values and finite differences (smooth: h 1e-2, O(h²) ≈ 1e-4)', () => {
    const exact = new GELU();
    const y = exact.forward(t(Float32Array.from([1, -0.5, 2.5]), [1, 3])).data;
    // x·Φ(x) in float64: Φ(1) = 0.841344746, Φ(−0.5) = 0.308537539, Φ(2.5) = 0.993790335.
    expect(y[0]).toBeCloseTo(0.841344746, 6);
    expect(y[1]).toBeCloseTo(-0.5 * 0.308537539, 6);
    expect(y[2]).toBeCloseTo(2.5 * 0.993790335, 5);
    const tanh = new GELU({ approximate: 'tanh' });
    const y2 = tanh.forward(t(Float32Array.from([1]), [1, 1])).data;
    expect(y2[0]).toBeCloseTo(0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715)), 6);
    const x = t(uniform(2, 5 * 13, -3, 3), [5, 13]);
    for (const layer of [exact, tanh]) {
      const r = gradCheck(layer, x, { h: 1e-2, atol: 2e-4, rtol: 2e-3, count: 65 });
      expect(r.worst).toBeLessThanOrEqual(1);
    }
  });

  test('Flatten keeps data and restores the shape in backward', () => {
    const f = new Flatten();
    const x = t(uniform(3, 2 * 3 * 4 * 5, -1, 1), [2, 3, 4, 5]);
    const y = f.forward(x);
    expect(y.shape).toEqual([2, 60]);
    expect(y.data).toBe(x.data);
    const g = f.backward(t(uniform(4, 120, -1, 1), [2, 60]), true) as Tensor;
    expect(g.shape).toEqual([2, 3, 4, 5]);
  });

  test('Dropout: inverted scaling, same mask in backward, identity in eval, p validated', () => {
    const d = new Dropout(0.3, { seed: 5 });
    const x = t(uniform(6, 4000, 0.5, 1.5), [40, 100]);
    const y = d.forward(x);
    let kept = 0;
    for (let i = 0; i < 4000; i++) {
      const v = y.data[i] as number;
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo((x.data[i] as number) / 0.7, 5);
      }
    }
    // Binomial(4000, 0.7): mean 2800, sd 29; ±5 sd.
    expect(Math.abs(kept - 2800)).toBeLessThan(145);
    const g = d.backward(t(new Float32Array(4000).fill(1), [40, 100]), true) as Tensor;
    for (let i = 0; i < 4000; i++) expect(g.data[i] === 0).toBe(y.data[i] === 0);
    d.eval();
    expect(d.forward(x).data).toBe(x.data);
    expectErr(() => new Dropout(1), 'DEBORA_INVALID_ARG', /'p'/);
  });
});

/** Direct float64 pooling reference. */
function poolRef(
  kind: 'max' | 'avg',
  x: Float32Array,
  s: number[],
  k: number[],
  st: number[],
  p: number[],
): Float64Array {
  const [n, c, h, w] = s as [number, number, number, number];
  const ho = Math.floor((h + 2 * (p[0] as number) - (k[0] as number)) / (st[0] as number)) + 1;
  const wo = Math.floor((w + 2 * (p[1] as number) - (k[1] as number)) / (st[1] as number)) + 1;
  const out = new Float64Array(n * c * ho * wo);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) {
        let acc = kind === 'max' ? -Infinity : 0;
        for (let a = 0; a < (k[0] as number); a++)
          for (let b = 0; b < (k[1] as number); b++) {
            const hi = i * (st[0] as number) - (p[0] as number) + a;
            const wi = j * (st[1] as number) - (p[1] as number) + b;
            if (hi < 0 || hi >= h || wi < 0 || wi >= w) continue;
            const v = x[pl * h * w + hi * w + wi] as number;
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        out[o++] = kind === 'max' ? acc : acc / ((k[0] as number) * (k[1] as number));
      }
  return out;
}

describe('pooling', () => {
  const cases: Array<{ s: number[]; k: [number, number]; st: [number, number]; p: [number, number] }> = [
    { s: [2, 3, 7, 5], k: [2, 2], st: [2, 2], p: [0, 0] },
    { s: [1, 2, 9, 8], k: [3, 2], st: [2, 1], p: [1, 1] },
    { s: [3, 1, 5, 5], k: [3, 3], st: [1, 1], p: [1, 0] },
  ];
  for (const c of cases) {
    test(`max and avg pooling ${JSON.stringify(c)}: reference and finite differences (piecewise linear: h 1e-3 below the 1/n value spacing)`, () => {
      const n = c.s.reduce((a, b) => a * b, 1);
      const x = t(distinct(7, n), c.s);
      for (const kind of ['max', 'avg'] as const) {
        const layer =
          kind === 'max'
            ? new MaxPool2d(c.k, { stride: c.st, padding: c.p })
            : new AvgPool2d(c.k, { stride: c.st, padding: c.p });
        const y = layer.forward(x);
        const ref = poolRef(kind, x.data, c.s, c.k, c.st, c.p);
        expect(y.data.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++)
          expect(Math.abs((y.data[i] as number) - (ref[i] as number))).toBeLessThan(1e-6);
        const r = gradCheck(layer, x, { h: 1e-3, atol: 2e-3, rtol: 2e-3, count: 40 });
        expect(r.worst).toBeLessThanOrEqual(1);
      }
    });
  }

  test('bad pooling input shapes and options are named', () => {
    expectErr(() => new MaxPool2d(2).forward(t(new Float32Array(8), [2, 4])), 'DEBORA_SHAPE_MISMATCH', /NCHW/);
    expectErr(
      () => new AvgPool2d(3).forward(t(new Float32Array(4), [1, 1, 2, 2])),
      'DEBORA_SHAPE_MISMATCH',
      /at least as large/,
    );
    expectErr(() => new MaxPool2d(2, { padding: 2 }), 'DEBORA_INVALID_ARG', /'padding'/);
  });
});

describe('normalisation', () => {
  test('LayerNorm: normalised rows, affine parameters, finite differences (smooth: h 1e-2)', () => {
    const ln = new LayerNorm(11);
    ln.weight?.data.set(uniform(8, 11, 0.5, 1.5));
    ln.bias?.data.set(uniform(9, 11, -0.5, 0.5));
    const x = t(uniform(10, 4 * 11, -2, 2), [4, 11]);
    const plain = new LayerNorm(11, { affine: false }).forward(x).data;
    for (let r = 0; r < 4; r++) {
      let m = 0;
      let v = 0;
      for (let k = 0; k < 11; k++) m += plain[r * 11 + k] as number;
      for (let k = 0; k < 11; k++) v += ((plain[r * 11 + k] as number) - m / 11) ** 2;
      expect(Math.abs(m / 11)).toBeLessThan(1e-6);
      expect(v / 11).toBeCloseTo(1, 3);
    }
    const r = gradCheck(ln, x, { h: 1e-2, atol: 5e-4, rtol: 5e-3, count: 44 });
    expect(r.worst).toBeLessThanOrEqual(1);
  });

  test('BatchNorm2d: training statistics, running averages, eval mode, finite differences in both modes', () => {
    const bn = new BatchNorm2d(3);
    bn.weight?.data.set([0.7, 1.3, 1.1]);
    bn.bias?.data.set([0.1, -0.2, 0.3]);
    const x = t(uniform(11, 4 * 3 * 5 * 2, -1, 3), [4, 3, 5, 2]);
    bn.forward(x);
    // Running mean after one step: 0.1·batch mean; running var: 0.9 + 0.1·unbiased var.
    let m0 = 0;
    for (let b = 0; b < 4; b++) for (let k = 0; k < 10; k++) m0 += x.data[b * 30 + k] as number;
    m0 /= 40;
    expect(bn.runningMean[0]).toBeCloseTo(0.1 * m0, 5);
    const rTrain = gradCheck(bn, x, { h: 1e-2, atol: 5e-4, rtol: 5e-3, count: 40 });
    expect(rTrain.worst).toBeLessThanOrEqual(1);
    bn.eval();
    const y = bn.forward(x).data;
    const expected0 =
      (((x.data[0] as number) - (bn.runningMean[0] as number)) / Math.sqrt((bn.runningVar[0] as number) + 1e-5)) * 0.7 +
      0.1;
    expect(y[0]).toBeCloseTo(expected0, 5);
    const rEval = gradCheck(bn, x, { h: 1e-2, atol: 5e-4, rtol: 5e-3, count: 40 });
    expect(rEval.worst).toBeLessThanOrEqual(1);
    expectErr(() => bn.forward(t(new Float32Array(16), [1, 4, 2, 2])), 'DEBORA_SHAPE_MISMATCH', /3 channels/);
  });
});

describe('losses and metrics', () => {
  test('softmax cross-entropy: float64 reference with and without label smoothing, gradient by finite differences', () => {
    const n = 5;
    const k = 7;
    const logits = t(uniform(12, n * k, -4, 4), [n, k]);
    const labels = Int32Array.from([0, 6, 3, 3, 1]);
    for (const eps of [0, 0.1]) {
      const ce = new SoftmaxCrossEntropy({ labelSmoothing: eps });
      const { loss, grad } = ce.compute(logits, labels);
      let ref = 0;
      for (let i = 0; i < n; i++) {
        const row = Array.from(logits.data.subarray(i * k, i * k + k));
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
        for (let j = 0; j < k; j++) ref -= ((j === labels[i] ? 1 - eps : 0) + eps / k) * ((row[j] as number) - lse);
      }
      expect(loss).toBeCloseTo(ref / n, 6);
      const g = Float32Array.from(grad.data);
      for (const idx of [0, 8, 20, 34]) {
        const orig = logits.data[idx] as number;
        logits.data[idx] = orig + 1e-3;
        const lp = ce.compute(logits, labels).loss;
        logits.data[idx] = orig - 1e-3;
        const lm = ce.compute(logits, labels).loss;
        logits.data[idx] = orig;
        expect(Math.abs((lp - lm) / 2e-3 - (g[idx] as number))).toBeLessThan(1e-4);
      }
    }
    expectErr(
      () => new SoftmaxCrossEntropy().compute(logits, Int32Array.from([0, 1, 2, 3, 7])),
      'DEBORA_INVALID_ARG',
      /labels\[4\]/,
    );
    expectErr(() => new SoftmaxCrossEntropy().compute(logits, new Int32Array(3)), 'DEBORA_SHAPE_MISMATCH', /'labels'/);
  });

  test('MSE value and gradient; accuracy, argmax and confusion matrix', () => {
    const p = t(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    const { loss, grad } = new MSELoss().compute(p, Float32Array.from([0, 2, 5, 4]));
    expect(loss).toBeCloseTo((1 + 0 + 4 + 0) / 4, 7);
    expect(Array.from(grad.data)).toEqual([0.5, 0, -1, 0]);
    const logits = t(Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.3, 0.7]), [3, 2]);
    expect(Array.from(argmax(logits))).toEqual([1, 0, 1]);
    expect(accuracy(logits, Int32Array.from([1, 1, 1]))).toBeCloseTo(2 / 3, 10);
    expect(Array.from(confusionMatrix(logits, Int32Array.from([1, 1, 0])))).toEqual([0, 1, 1, 1]);
  });
});
