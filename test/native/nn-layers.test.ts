/**
 * nn-layers.test.ts (native) — the Linear and Conv2d layers (native gemm / conv2d underneath):
 * forward against float64 references on seeded awkward shapes, backward against central finite
 * differences (test/helpers/gradcheck.ts states the probe), frozen weights, clear errors.
 */
import { Conv2d } from '../../lib/nn/conv2d';
import { Linear } from '../../lib/nn/linear';
import type { Tensor } from '../../lib/nn/tensor';
import { expectErr } from '../helpers/errors';
import { gradCheck } from '../helpers/gradcheck';
import { uniform } from '../helpers/random';
import { denseForward } from '../helpers/reference_conv2d';

function t(data: Float32Array, shape: number[]): Tensor {
  return { data, shape };
}

describe('Linear', () => {
  test('forward equals X·Wᵀ + b in float64 on awkward shapes; backward by finite differences (linear: exact up to rounding)', () => {
    for (const [n, nIn, nOut] of [
      [1, 1, 1],
      [3, 17, 9],
      [7, 33, 31],
    ] as Array<[number, number, number]>) {
      const layer = new Linear(nIn, nOut, { seed: n });
      const x = t(uniform(20 + n, n * nIn, -1, 1), [n, nIn]);
      const y = layer.forward(x).data;
      const W = layer.weight.data;
      const b = layer.bias?.data as Float32Array;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < nOut; j++) {
          let ref = b[j] as number;
          let absRef = Math.abs(b[j] as number);
          for (let k = 0; k < nIn; k++) {
            ref += (x.data[i * nIn + k] as number) * (W[j * nIn + k] as number);
            absRef += Math.abs((x.data[i * nIn + k] as number) * (W[j * nIn + k] as number));
          }
          expect(Math.abs((y[i * nOut + j] as number) - ref)).toBeLessThanOrEqual(
            (nIn + 1) * 2 ** -23 * absRef + 1e-30,
          );
        }
      const r = gradCheck(layer, x, { h: 1e-2, atol: 2e-4, rtol: 2e-3, count: 30 });
      expect(r.worst).toBeLessThanOrEqual(1);
    }
  });

  test('frozen base weight gets no gradient; the input gradient is still right', () => {
    const layer = new Linear(5, 4, { trainable: false, seed: 3 });
    const x = t(uniform(31, 10, -1, 1), [2, 5]);
    layer.forward(x);
    layer.backward(t(uniform(32, 8, -1, 1), [2, 4]), true);
    expect(layer.weight.grad.every((v) => v === 0)).toBe(true);
    const r = gradCheck(layer, x, { h: 1e-2, atol: 2e-4, rtol: 2e-3 });
    expect(r.worst).toBeLessThanOrEqual(1);
  });

  test('bad input shapes and gradients are named', () => {
    const layer = new Linear(5, 4);
    expectErr(() => layer.forward(t(new Float32Array(6), [2, 3])), 'DEBORA_SHAPE_MISMATCH', /\[N, 5\]/);
    layer.forward(t(uniform(1, 10, -1, 1), [2, 5]));
    expectErr(() => layer.backward(t(new Float32Array(6), [2, 3]), true), 'DEBORA_SHAPE_MISMATCH', /'dy'/);
    expectErr(() => new Linear(0, 3), 'DEBORA_INVALID_ARG', /'inFeatures'/);
  });
});

describe('Conv2d', () => {
  const geoms = [
    { batch: 2, C: 3, H: 7, W: 6, F: 4, k: [3, 3], stride: 1, padding: 1, dilation: 1 },
    { batch: 1, C: 2, H: 9, W: 8, F: 5, k: [3, 2], stride: [2, 1], padding: [0, 1], dilation: [1, 2] },
    { batch: 3, C: 1, H: 5, W: 5, F: 1, k: [1, 1], stride: 2, padding: 0, dilation: 1 },
  ] as const;
  for (const g of geoms) {
    test(`forward equals the float64 direct convolution and backward passes finite differences: ${JSON.stringify(g)}`, () => {
      const layer = new Conv2d(g.C, g.F, g.k as unknown as [number, number], {
        stride: g.stride as number | [number, number],
        padding: g.padding as number | [number, number],
        dilation: g.dilation as number | [number, number],
        seed: 4,
      });
      const x = t(uniform(40, g.batch * g.C * g.H * g.W, -1, 1), [g.batch, g.C, g.H, g.W]);
      const y = layer.forward(x);
      const pair = (v: number | readonly number[]): [number, number] =>
        typeof v === 'number' ? [v, v] : [v[0] as number, v[1] as number];
      const [sh, sw] = pair(g.stride);
      const [ph, pw] = pair(g.padding);
      const [dh, dw] = pair(g.dilation);
      const ref = denseForward(
        { batch: g.batch, C: g.C, H: g.H, W: g.W, F: g.F, kh: g.k[0], kw: g.k[1], sh, sw, ph, pw, dh, dw },
        x.data,
        layer.weight.data,
      );
      const b = layer.bias?.data as Float32Array;
      const per = y.data.length / (g.batch * g.F);
      for (let i = 0; i < y.data.length; i++) {
        const f = Math.floor(i / per) % g.F;
        expect(Math.abs((y.data[i] as number) - ((ref[i] as number) + (b[f] as number)))).toBeLessThan(1e-5);
      }
      const r = gradCheck(layer, x, { h: 1e-2, atol: 3e-4, rtol: 3e-3, count: 30 });
      expect(r.worst).toBeLessThanOrEqual(1);
    });
  }

  test('bad input channels are named', () => {
    expectErr(
      () => new Conv2d(3, 4, 3).forward(t(new Float32Array(2 * 25), [1, 2, 5, 5])),
      'DEBORA_SHAPE_MISMATCH',
      /3 channels/,
    );
  });
});

describe('gradient accumulation', () => {
  test('two backward calls add up (base weights, bias and adapter factors of Linear and Conv2d)', () => {
    const lin = new Linear(9, 5, { seed: 1 });
    lin.attachAdapter({ rank: 2, geometry: 'oblique', sInit: 0.5 });
    const conv = new Conv2d(2, 3, 3, { padding: 1, seed: 2 });
    conv.attachAdapter({ rank: 2, geometry: 'oblique', sInit: 0.5 });
    const cases: Array<[Linear | Conv2d, Tensor, number[]]> = [
      [lin, t(uniform(1, 4 * 9, -1, 1), [4, 9]), [4, 5]],
      [conv, t(uniform(2, 2 * 2 * 5 * 5, -1, 1), [2, 2, 5, 5]), [2, 3, 5, 5]],
    ];
    for (const [layer, x, yShape] of cases) {
      const dy = t(
        uniform(
          3,
          yShape.reduce((a, b) => a * b, 1),
          -1,
          1,
        ),
        yShape,
      );
      for (const p of layer.parameters()) p.zeroGrad();
      layer.forward(x);
      layer.backward(dy, true);
      const once = layer.parameters().map((p) => Float32Array.from(p.grad));
      layer.backward(dy, true);
      layer.parameters().forEach((p, k) => {
        const g1 = once[k] as Float32Array;
        expect(g1.some((v) => v !== 0)).toBe(true);
        for (let i = 0; i < g1.length; i++)
          expect(Math.abs((p.grad[i] as number) - 2 * (g1[i] as number))).toBeLessThanOrEqual(
            1e-6 * (1 + Math.abs(g1[i] as number)),
          );
      });
    }
  });
});
