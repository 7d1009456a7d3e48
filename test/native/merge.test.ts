/**
 * merge.test.ts — mergeAdapters / unmergeAdapters (lib/nn/merge.ts): the merged model computes the
 * adapted model's function (Linear, and Conv2d with stride / padding / dilation / rectangular kernels,
 * both against one float64 reference), unmerging gives the base weights back, the adapter is detached
 * while merged (so nothing adds Ψ twice), and every refusal (double merge, nothing to merge or unmerge,
 * non-finite results, adapters changed in between) leaves the whole model unchanged.
 */
import { Flatten, ReLU } from '../../lib/nn/activation';
import type { CpAdapter } from '../../lib/nn/adapter';
import { adaptersOf, attachAdapters } from '../../lib/nn/attach';
import { Conv2d } from '../../lib/nn/conv2d';
import { Linear } from '../../lib/nn/linear';
import { mergeAdapters, mergedAdapters, unmergeAdapters } from '../../lib/nn/merge';
import type { Module } from '../../lib/nn/module';
import { Sequential } from '../../lib/nn/sequential';
import type { Tensor } from '../../lib/nn/tensor';
import { boundRatio } from '../helpers/compare';
import { expectErr } from '../helpers/errors';
import { uniform } from '../helpers/random';
import { denseForward, type RefGeom } from '../helpers/reference_conv2d';
import { abs64, materialize64 } from '../helpers/reference_dense';

const u32 = 2 ** -24;

/** Every parameter (and the adapter slot of every layer) as it is now, for "nothing changed" checks. */
function snapshot(model: Module): { params: Array<[string, Float32Array]>; adapters: Map<string, CpAdapter> } {
  return {
    params: model.namedParameters().map(([n, p]): [string, Float32Array] => [n, p.data.slice()]),
    adapters: adaptersOf(model),
  };
}

function expectUnchanged(model: Module, snap: ReturnType<typeof snapshot>): void {
  const now = model.namedParameters();
  expect(now.map(([n]) => n)).toEqual(snap.params.map(([n]) => n));
  now.forEach(([, p], i) => {
    expect(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)).toEqual(
      Buffer.from((snap.params[i] as [string, Float32Array])[1].buffer),
    );
  });
  const ads = adaptersOf(model);
  expect([...ads.keys()]).toEqual([...snap.adapters.keys()]);
  for (const [n, a] of ads) expect(a).toBe(snap.adapters.get(n));
}

function forward(model: Module, x: Tensor): Float32Array {
  return model.forward(x).data.slice();
}

/** Gives the adapter random, distinct, positive s (attach sets them all equal). */
function randomS(a: CpAdapter, seed: number): void {
  a.s.data.set(uniform(seed, a.rank, 0.2, 1.1));
}

describe('merge: Linear', () => {
  const nIn = 13;
  const nOut = 7;
  const N = 5;
  const r = 4;

  function build(init: 'small' | 'offset'): { model: Sequential; fc: Linear; a: CpAdapter; W0: Float32Array } {
    const fc = new Linear(nIn, nOut, { seed: 3 });
    const model = new Sequential([['fc', fc]]);
    const W0 = fc.weight.data.slice();
    const a = attachAdapters(model, { targets: 'fc', rank: r, geometry: 'stiefel', init, sInit: 0.5, seed: 11 }).get(
      'fc',
    ) as CpAdapter;
    randomS(a, 12);
    return { model, fc, a, W0 };
  }

  /** Float64 Y = X (W + Ψ)ᵀ + b and its error scale, with W the base weight the layer holds now. */
  function reference(fc: Linear, a: CpAdapter, W: Float32Array, X: Float32Array) {
    const [U, V] = a.factors.map((f) => f.data) as [Float32Array, Float32Array];
    const psi = materialize64([U, V], a.s.data, [nOut, nIn]);
    const psiAbs = materialize64([abs64(U), abs64(V)], abs64(a.s.data), [nOut, nIn]);
    const b = fc.bias?.data as Float32Array;
    const ref = new Float64Array(N * nOut);
    const absRef = new Float64Array(N * nOut);
    for (let n = 0; n < N; n++)
      for (let o = 0; o < nOut; o++) {
        let y = b[o] as number;
        let ya = Math.abs(b[o] as number);
        for (let j = 0; j < nIn; j++) {
          const x = X[n * nIn + j] as number;
          y += x * ((W[o * nIn + j] as number) + (psi[o * nIn + j] as number));
          ya += Math.abs(x) * (Math.abs(W[o * nIn + j] as number) + (psiAbs[o * nIn + j] as number));
        }
        ref[n * nOut + o] = y;
        absRef[n * nOut + o] = ya;
      }
    return { ref, absRef, psi, psiAbs };
  }

  // Roundings per output: nIn for X·W, r + 2 for the adapter path (X·V, ·s, ·Uᵀ) or one for W + Ψ
  // when merged, one for the bias: nIn + r + 3 bounds both paths.
  const k = nIn + r + 3;

  test.each(['small', 'offset'] as const)('merged output = adapted output = float64 reference (init %s)', (init) => {
    const { model, fc, a, W0 } = build(init);
    const X = uniform(21, N * nIn, -1, 1);
    const x = { data: X, shape: [N, nIn] };
    const base = fc.weight.data.slice(); // W0 − Ψ0 under 'offset'
    const { ref, absRef, psi, psiAbs } = reference(fc, a, base, X);
    const yAdapted = forward(model, x);
    expect(boundRatio(yAdapted, ref, absRef, k)).toBeLessThanOrEqual(1);

    const out = mergeAdapters(model);
    expect([...out.keys()]).toEqual(['fc']);
    expect(out.get('fc')).toBe(a);
    expect(fc.adapter).toBeNull(); // detached: forward cannot add Ψ a second time
    expect(model.namedParameters().map(([n]) => n)).toEqual(['fc.weight', 'fc.bias']);
    expect(mergedAdapters(model).get('fc')).toBe(a);
    // The merged weight is W + Ψ rounded once (Ψ from the float32 kernel: r + 1 roundings).
    const wRef = Float64Array.from(base, (w, i) => w + (psi[i] as number));
    const wAbs = Float64Array.from(base, (w, i) => Math.abs(w) + (psiAbs[i] as number));
    expect(boundRatio(fc.weight.data, wRef, wAbs, r + 2)).toBeLessThanOrEqual(1);
    const yMerged = forward(model, x);
    expect(boundRatio(yMerged, ref, absRef, k)).toBeLessThanOrEqual(1);
    // Able to fail: the adapter's contribution is far above the tolerance.
    let contribution = 0;
    for (let i = 0; i < psi.length; i++) contribution = Math.max(contribution, Math.abs(psi[i] as number));
    expect(contribution).toBeGreaterThan(0.05);

    const back = unmergeAdapters(model);
    expect(back.get('fc')).toBe(a);
    expect(fc.adapter).toBe(a);
    expect(mergedAdapters(model).size).toBe(0);
    // (W + Ψ) − Ψ: one rounding for the merge and one for the unmerge, relative to |W| + |W + Ψ|.
    for (let i = 0; i < base.length; i++) {
      const w = base[i] as number;
      const tol = 2 * u32 * (Math.abs(w) + Math.abs(w) + (psiAbs[i] as number)) + 1e-30;
      expect(Math.abs((fc.weight.data[i] as number) - w)).toBeLessThanOrEqual(tol);
    }
    if (init === 'small') expect(Array.from(base)).toEqual(Array.from(W0));
    expect(boundRatio(forward(model, x), ref, absRef, k)).toBeLessThanOrEqual(1);
  });

  test('a layer pruned to rank 0 merges as Ψ = 0', () => {
    const { model, fc, a } = build('small');
    a.prune([]);
    const before = fc.weight.data.slice();
    mergeAdapters(model);
    expect(Array.from(fc.weight.data)).toEqual(Array.from(before));
    unmergeAdapters(model);
    expect(fc.adapter).toBe(a);
  });

  test('a bare Linear (the model itself) merges too', () => {
    const fc = new Linear(nIn, nOut, { seed: 5 });
    const a = fc.attachAdapter({ rank: 3, sInit: 0.4, seed: 2 });
    const X = uniform(22, N * nIn, -1, 1);
    const { ref, absRef } = reference(fc, a, fc.weight.data.slice(), X);
    expect([...mergeAdapters(fc).keys()]).toEqual(['']);
    expect(boundRatio(forward(fc, { data: X, shape: [N, nIn] }), ref, absRef, nIn + 6)).toBeLessThanOrEqual(1);
    expectErr(() => mergeAdapters(fc), 'DEBORA_INVALID_ARG', /the model itself hold a merged adapter/);
  });
});

describe('merge: Conv2d', () => {
  interface Case {
    name: string;
    C: number;
    F: number;
    H: number;
    W: number;
    k: [number, number];
    stride: [number, number];
    padding: [number, number];
    dilation: [number, number];
    r: number;
  }
  const cases: Case[] = [
    {
      name: '3×3 stride 1 pad 1',
      C: 3,
      F: 5,
      H: 7,
      W: 6,
      k: [3, 3],
      stride: [1, 1],
      padding: [1, 1],
      dilation: [1, 1],
      r: 4,
    },
    {
      name: '3×2 stride 2×1 pad 1×0',
      C: 4,
      F: 3,
      H: 9,
      W: 7,
      k: [3, 2],
      stride: [2, 1],
      padding: [1, 0],
      dilation: [1, 1],
      r: 3,
    },
    {
      name: '2×3 dilation 2 pad 2 stride 2',
      C: 2,
      F: 6,
      H: 8,
      W: 9,
      k: [2, 3],
      stride: [2, 2],
      padding: [2, 2],
      dilation: [2, 2],
      r: 5,
    },
    {
      name: '1×1 stride 3',
      C: 5,
      F: 4,
      H: 7,
      W: 5,
      k: [1, 1],
      stride: [3, 3],
      padding: [0, 0],
      dilation: [1, 1],
      r: 2,
    },
  ];

  test.each(cases)('merged output = adapted output = float64 reference ($name)', (c) => {
    const conv = new Conv2d(c.C, c.F, c.k, { stride: c.stride, padding: c.padding, dilation: c.dilation, seed: 4 });
    const model = new Sequential([['conv', conv]]);
    const a = attachAdapters(model, { targets: 'conv', rank: c.r, sInit: 0.5, seed: 9 }).get('conv') as CpAdapter;
    randomS(a, 13);
    const batch = 2;
    const X = uniform(31, batch * c.C * c.H * c.W, -1, 1);
    const x = { data: X, shape: [batch, c.C, c.H, c.W] };
    const g: RefGeom = {
      batch,
      C: c.C,
      H: c.H,
      W: c.W,
      F: c.F,
      kh: c.k[0],
      kw: c.k[1],
      sh: c.stride[0],
      sw: c.stride[1],
      ph: c.padding[0],
      pw: c.padding[1],
      dh: c.dilation[0],
      dw: c.dilation[1],
    };
    const dims = [c.F, c.C, c.k[0], c.k[1]];
    const fs = a.factors.map((f) => f.data);
    const psi = materialize64(fs, a.s.data, dims);
    const psiAbs = materialize64(fs.map(abs64), abs64(a.s.data), dims);
    const W0 = conv.weight.data.slice();
    const K = Float64Array.from(W0, (w, i) => w + (psi[i] as number));
    const Kabs = Float64Array.from(W0, (w, i) => Math.abs(w) + (psiAbs[i] as number));
    const ref = denseForward(g, X, K);
    const absRef = denseForward(g, abs64(X), Kabs);
    const b = conv.bias?.data as Float32Array;
    const plane = ref.length / (batch * c.F);
    for (let q = 0; q < ref.length; q++) {
      const f = Math.floor(q / plane) % c.F;
      ref[q] = (ref[q] as number) + (b[f] as number);
      absRef[q] = (absRef[q] as number) + Math.abs(b[f] as number);
    }
    // Roundings per output: C·kh·kw for the base convolution, C + kh + kw + r + 3 for the adapter
    // chain (1×1, kh×1, 1×kw, ·s, 1×1, accumulate) or r + 2 for K0 + ΔK when merged, one for the bias.
    const k = c.C * c.k[0] * c.k[1] + c.C + c.k[0] + c.k[1] + c.r + 4;
    const yAdapted = forward(model, x);
    expect(boundRatio(yAdapted, ref, absRef, k)).toBeLessThanOrEqual(1);
    mergeAdapters(model);
    expect(conv.adapter).toBeNull();
    const yMerged = forward(model, x);
    expect(boundRatio(yMerged, ref, absRef, k)).toBeLessThanOrEqual(1);
    // Able to fail: without the adapter the output is far from the reference.
    const yBase = denseForward(g, X, W0);
    let gap = 0;
    for (let q = 0; q < ref.length; q++)
      gap = Math.max(
        gap,
        Math.abs((ref[q] as number) - (yBase[q] as number) - (b[Math.floor(q / plane) % c.F] as number)),
      );
    expect(gap).toBeGreaterThan(1e-3);
    unmergeAdapters(model);
    expect(conv.adapter).toBe(a);
    for (let i = 0; i < W0.length; i++) {
      const w = W0[i] as number;
      const tol = 2 * u32 * (2 * Math.abs(w) + (psiAbs[i] as number)) + 1e-30;
      expect(Math.abs((conv.weight.data[i] as number) - w)).toBeLessThanOrEqual(tol);
    }
  });

  test('a conv → relu → flatten → linear network: merged = adapted; training after merge sees no adapter', () => {
    const conv = new Conv2d(2, 4, 3, { stride: 2, padding: 1, seed: 1 });
    const fc = new Linear(4 * 3 * 3, 5, { seed: 2 });
    const model = new Sequential([
      ['conv', conv],
      ['relu', new ReLU()],
      ['flat', new Flatten()],
      ['fc', fc],
    ]);
    const ads = attachAdapters(model, { targets: ['conv', 'fc'], rank: 3, sInit: 0.6, seed: 5 });
    for (const [i, a] of [...ads.values()].entries()) randomS(a, 40 + i);
    const x = { data: uniform(41, 3 * 2 * 6 * 6, -1, 1), shape: [3, 2, 6, 6] };
    const yA = forward(model, x);
    expect(model.parameters().length).toBe(2 + 5 + 2 + 3); // bases, then conv U1–U4 + s, fc U, V, s
    mergeAdapters(model);
    expect(model.parameters().length).toBe(4); // both adapters gone
    const yM = forward(model, x);
    // Two layers of float32 rounding on outputs of size ~1: 1e-5 absolute is ~100 ulps of margin
    // over the per-layer bounds checked above, and 1000× below the adapters' effect (checked next).
    let diff = 0;
    for (let i = 0; i < yA.length; i++) diff = Math.max(diff, Math.abs((yA[i] as number) - (yM[i] as number)));
    expect(diff).toBeLessThan(1e-5);
    unmergeAdapters(model);
    for (const [n, a] of ads) expect(adaptersOf(model).get(n)).toBe(a);
    conv.detachAdapter();
    fc.detachAdapter();
    const yBase = forward(model, x);
    let effect = 0;
    for (let i = 0; i < yA.length; i++) effect = Math.max(effect, Math.abs((yA[i] as number) - (yBase[i] as number)));
    expect(effect).toBeGreaterThan(1e-2);
  });
});

describe('merge: refusals change nothing', () => {
  function twoLayers(): { model: Sequential; fc1: Linear; fc2: Linear; a1: CpAdapter; a2: CpAdapter } {
    const fc1 = new Linear(6, 5, { seed: 1 });
    const fc2 = new Linear(5, 4, { seed: 2 });
    const model = new Sequential([
      ['fc1', fc1],
      ['relu', new ReLU()],
      ['fc2', fc2],
    ]);
    const ads = attachAdapters(model, {
      targets: /^fc/,
      rank: 3,
      geometry: 'euclidean',
      init: 'small',
      sInit: 0.5,
      seed: 3,
    });
    return { model, fc1, fc2, a1: ads.get('fc1') as CpAdapter, a2: ads.get('fc2') as CpAdapter };
  }

  test('an overflowing Ψ in the second layer: DEBORA_NON_FINITE naming it, the first layer untouched', () => {
    const { model, a2 } = twoLayers();
    // Factors of 1e20 make s·u·v overflow float32 (max ≈ 3.4e38).
    for (const f of a2.factors) f.data.set(Float32Array.from(uniform(5, f.data.length, 1, 2), (v) => v * 1e20));
    const snap = snapshot(model);
    expectErr(() => mergeAdapters(model), 'DEBORA_NON_FINITE', /layer 'fc2'.*non-finite.*nothing was changed/);
    expectUnchanged(model, snap);
    expect(mergedAdapters(model).size).toBe(0);
  });

  test('a NaN in an adapter: refused, naming the layer', () => {
    const { model, a1 } = twoLayers();
    (a1.s.data as Float32Array)[1] = Number.NaN;
    const snap = snapshot(model);
    expectErr(() => mergeAdapters(model), 'DEBORA_NON_FINITE', /adapter of layer 'fc1' cannot be materialised/);
    expectUnchanged(model, snap);
  });

  test('unmerge that would overflow: refused, every layer still merged', () => {
    const { model, fc2, a2 } = twoLayers();
    a2.s.data.set([1e37, 2e37, 3e37]); // Ψ ~ 1e37: W0 + Ψ is finite
    const psi = a2.materialize();
    mergeAdapters(model);
    let kMax = 0;
    for (let i = 0; i < psi.length; i++) if ((psi[i] as number) > (psi[kMax] as number)) kMax = i;
    expect(psi[kMax] as number).toBeGreaterThan(1e36);
    (fc2.weight.data as Float32Array)[kMax] = -3.4e38; // then W − Ψ < −float32 max
    const snap = snapshot(model);
    expectErr(() => unmergeAdapters(model), 'DEBORA_NON_FINITE', /layer 'fc2' would get a non-finite weight/);
    expectUnchanged(model, snap);
    expect([...mergedAdapters(model).keys()]).toEqual(['fc1', 'fc2']);
  });

  test('double merge, nothing to merge, nothing to unmerge', () => {
    const { model } = twoLayers();
    expectErr(() => unmergeAdapters(model), 'DEBORA_INVALID_ARG', /no merged adapter.*call mergeAdapters/);
    mergeAdapters(model);
    const snap = snapshot(model);
    expectErr(
      () => mergeAdapters(model),
      'DEBORA_INVALID_ARG',
      /already merged \(layer 'fc1', layer 'fc2'.*unmergeAdapters/,
    );
    expectUnchanged(model, snap);
    const plain = new Sequential([['fc', new Linear(3, 2)]]);
    expectErr(() => mergeAdapters(plain), 'DEBORA_INVALID_ARG', /no attached adapter.*attachAdapters/);
  });

  test('a new adapter on a merged layer, or a merged adapter changed meanwhile: unmerge refused', () => {
    const { model, fc2, a1 } = twoLayers();
    mergeAdapters(model);
    fc2.attachAdapter({ rank: 2, seed: 7 });
    let snap = snapshot(model);
    expectErr(() => unmergeAdapters(model), 'DEBORA_INVALID_ARG', /layer 'fc2' got a new adapter after merging/);
    expectUnchanged(model, snap);
    fc2.detachAdapter();
    a1.prune([0, 2]);
    snap = snapshot(model);
    expectErr(() => unmergeAdapters(model), 'DEBORA_INVALID_ARG', /adapter merged into layer 'fc1' was changed/);
    expectUnchanged(model, snap);
  });
});
