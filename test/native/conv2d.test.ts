/**
 * conv2d.test.ts — op conv2d (dense convolution of a frozen base layer, NCHW) forward and backward
 * against the direct float64 convolution (test/helpers/reference_dense_conv.ts) for many
 * stride/padding/dilation combinations, the 1×1 shortcut, several output-row blocks, batches
 * smaller than the pool and larger than the 32 dK groups, with every gemm implementation (builtin
 * scalar and SIMD, and the system BLAS when compiled in); the reference backward against central
 * finite differences; options (bias, accumulate, each gradient optional, X / K null when unused,
 * async); thread-count independence; bad input (a DeboraError naming the argument, outputs untouched).
 *
 * Tolerance: every output is a sum of products, evaluated in float32 in some order, so it is within
 * γ_k·B of the exact value (γ_k ≈ k·2⁻²⁴, B the sum of the magnitudes of its terms, which the
 * reference gives when run on |inputs|), k the longest chain of roundings an element sees:
 * Y: the Q = C·kh·kw products of one gemm, + bias + accumulate → k = Q + 3; dX: the F products of
 * one gemm, then at most kh·kw col2im adds → k = F + kh·kw + 3; dK: per group of images the products
 * over every pixel of every image of the group, accumulated in float32 (beta = 1), then groups in
 * double → k ≤ batch·Ho·Wo + 3; dbias: 8-lane float32 sums over the pixels of a row block, then
 * double → k = Ho·Wo + 3.
 */
import {
  type Conv2dGeometry,
  conv2dBackward,
  conv2dBackwardAsync,
  conv2dForward,
  conv2dForwardAsync,
  conv2dOutputSize,
  type GemmImpl,
  getNumThreads,
  info,
  isDeboraError,
  type SimdLevel,
  setGemmImpl,
  setNumThreads,
  setSimd,
} from '../../lib';
import { addon } from '../../lib/native';
import { abs, boundRatio } from '../helpers/compare';
import { poisoned, uniform } from '../helpers/random';
import { convBackward, convForward, type RefGeom, refOutSize } from '../helpers/reference_dense_conv';

const initial = info();
const bestSimd = initial.cpu.simdSupported;
const initialThreads = getNumThreads();
const VARIANTS: [string, GemmImpl, SimdLevel][] = [
  ['builtin scalar', 'builtin', 'scalar'],
  ...(bestSimd === 'scalar' ? [] : [[`builtin ${bestSimd}`, 'builtin', bestSimd] as [string, GemmImpl, SimdLevel]]),
  ...(initial.cpu.blas.compiled ? [['blas', 'blas', bestSimd] as [string, GemmImpl, SimdLevel]] : []),
];
afterAll(() => {
  setGemmImpl('auto');
  setSimd(initial.cpu.simd);
  setNumThreads(initialThreads);
});

/** [batch, C, H, W, F, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w] */
type Case = [number, number, number, number, number, number, number, number, number, number, number, number, number];

const CASES: Case[] = [
  [1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1], // smallest; 1×1 shortcut (no im2col)
  [3, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1], // 3×3 "same"
  [2, 8, 13, 7, 9, 3, 3, 2, 2, 1, 0, 1, 1], // stride 2, padding only on rows
  [3, 9, 7, 13, 8, 1, 3, 1, 2, 0, 2, 1, 2], // 1×3, asymmetric stride, dilation 2 on columns
  [3, 17, 5, 7, 3, 5, 2, 1, 1, 2, 1, 1, 1], // 5×2, padding 2 / 1
  [1, 7, 13, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2], // batch 1 (< pool: products split instead), dilation 2
  [3, 3, 13, 5, 9, 5, 2, 2, 1, 0, 1, 2, 1], // everything asymmetric
  [2, 17, 7, 7, 1, 3, 3, 1, 1, 0, 0, 1, 1], // F = 1, "valid" 3×3
  [3, 8, 5, 13, 16, 1, 1, 2, 1, 2, 0, 1, 1], // 1×1 with padding and stride: not the shortcut
  [2, 5, 9, 11, 6, 1, 1, 1, 1, 0, 0, 1, 1], // 1×1 shortcut, several channels
  [1, 3, 13, 7, 3, 5, 2, 3, 2, 1, 1, 1, 2], // stride 3: input rows no window reads
  [40, 2, 6, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1], // batch 40: 32 dK groups of 1 or 2 images
  [2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1], // the second layer of a small CNN
  [1, 64, 26, 26, 5, 3, 3, 1, 1, 0, 0, 1, 1], // im2col of 55 KiB per output row: two row blocks
  [1, 300, 40, 30, 3, 1, 1, 1, 1, 0, 0, 1, 1], // 1×1 shortcut over two row blocks
];

function refGeom(c: Case): RefGeom {
  const [batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = c;
  return { batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw };
}

function libGeom(c: Case): Conv2dGeometry {
  const [batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = c;
  return { batch, C, H, W, F, kh, kw, stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] };
}

function caseName(c: Case): string {
  const [b, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = c;
  return `batch ${b}, C ${C}, ${H}×${W}, F ${F}, ${kh}×${kw}, stride ${sh},${sw}, pad ${ph},${pw}, dil ${dh},${dw}`;
}

interface Inputs {
  X: Float32Array;
  K: Float32Array;
  bias: Float32Array;
  dY: Float32Array;
}

function inputs(c: Case, seed: number): Inputs {
  const g = refGeom(c);
  const { Ho, Wo } = refOutSize(g);
  return {
    X: uniform(seed + 1, g.batch * g.C * g.H * g.W, -1, 1),
    K: uniform(seed + 2, g.F * g.C * g.kh * g.kw, -1, 1),
    bias: uniform(seed + 3, g.F, -1, 1),
    dY: uniform(seed + 4, g.batch * g.F * Ho * Wo, -1, 1),
  };
}

/** The reference on |inputs|: per-element sums of term magnitudes (computed once per case). */
const refCache = new Map<
  string,
  { Y: Float64Array; absY: Float64Array; g: ReturnType<typeof convBackward>; a: ReturnType<typeof convBackward> }
>();
function reference(c: Case, inp: Inputs) {
  const key = caseName(c);
  let r = refCache.get(key);
  if (r === undefined) {
    const g = refGeom(c);
    r = {
      Y: convForward(g, inp.X, inp.K, inp.bias),
      absY: convForward(g, abs(inp.X), abs(inp.K), abs(inp.bias)),
      g: convBackward(g, inp.X, inp.K, inp.dY),
      a: convBackward(g, abs(inp.X), abs(inp.K), abs(inp.dY)),
    };
    refCache.set(key, r);
  }
  return r;
}

const named = (cases: Case[]): [string, Case][] => cases.map((c) => [caseName(c), c]);

describe.each(VARIANTS)('conv2d with gemm %s', (_label, impl, simd) => {
  beforeAll(() => {
    setSimd(simd);
    setGemmImpl(impl);
  });

  test.each(named(CASES))('forward (+ bias) matches the direct convolution: %s', (_, c) => {
    const g = refGeom(c);
    const inp = inputs(c, 100);
    const { Ho, Wo } = conv2dOutputSize(libGeom(c));
    const out = poisoned(g.batch * g.F * Ho * Wo);
    const Y = conv2dForward(libGeom(c), inp.X, inp.K, { bias: inp.bias, out });
    expect(Y).toBe(out);
    const ref = reference(c, inp);
    expect(boundRatio(Y, ref.Y, ref.absY, g.C * g.kh * g.kw + 3)).toBeLessThanOrEqual(1);
  });

  test.each(named(CASES))('backward dX, dK, dbias match the direct convolution: %s', (_, c) => {
    const g = refGeom(c);
    const inp = inputs(c, 100);
    const { Ho, Wo } = refOutSize(g);
    const grads = conv2dBackward(libGeom(c), inp.X, inp.K, inp.dY, {
      dX: poisoned(inp.X.length),
      dK: poisoned(inp.K.length),
      dbias: poisoned(g.F),
    });
    const { g: ref, a } = reference(c, inp);
    expect(boundRatio(grads.dX as Float32Array, ref.dX, a.dX, g.F + g.kh * g.kw + 3)).toBeLessThanOrEqual(1);
    expect(boundRatio(grads.dK as Float32Array, ref.dK, a.dK, g.batch * Ho * Wo + 3)).toBeLessThanOrEqual(1);
    expect(boundRatio(grads.dbias as Float32Array, ref.dbias, a.dbias, Ho * Wo + 3)).toBeLessThanOrEqual(1);
  });
});

// L = ⟨dY, Y⟩ is affine in each single input entry, so a central difference is exact up to
// rounding (≈ 1e-16·|L| / h): the reference gradients must agree to ~1e-10 of their term bound.
const FD_CASES: Case[] = [
  [2, 3, 5, 7, 2, 3, 3, 2, 1, 1, 2, 1, 2],
  [1, 2, 7, 5, 3, 5, 2, 1, 2, 2, 0, 2, 1],
  [2, 2, 4, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1],
];
test.each(named(FD_CASES))('the reference backward equals central differences of the forward: %s', (_, c) => {
  const g = refGeom(c);
  const inp = inputs(c, 7);
  const X = Float64Array.from(inp.X);
  const K = Float64Array.from(inp.K);
  const bias = Float64Array.from(inp.bias);
  const loss = (): number => {
    const Y = convForward(g, X, K, bias);
    let L = 0;
    for (let i = 0; i < Y.length; i++) L += (Y[i] as number) * (inp.dY[i] as number);
    return L;
  };
  const grads = convBackward(g, X, K, inp.dY);
  const bound = convBackward(g, abs(X), abs(K), abs(inp.dY));
  const h = 1e-3;
  for (const [v, gr, b] of [
    [X, grads.dX, bound.dX],
    [K, grads.dK, bound.dK],
    [bias, grads.dbias, bound.dbias],
  ] as const) {
    const fd = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const keep = v[i] as number;
      v[i] = keep + h;
      const up = loss();
      v[i] = keep - h;
      const down = loss();
      v[i] = keep;
      fd[i] = (up - down) / (2 * h);
    }
    // boundRatio's unit is k·2⁻²⁴; 1e-10 relative is k = 1e-10 / 2⁻²⁴ ≈ 0.0017.
    expect(boundRatio(fd, gr, b, 1e-10 * 2 ** 24)).toBeLessThanOrEqual(1);
  }
});

describe('options', () => {
  const c: Case = [3, 4, 9, 8, 6, 3, 3, 1, 2, 1, 1, 1, 1];
  const geom = libGeom(c);
  const inp = inputs(c, 55);
  const g = refGeom(c);
  const { Ho, Wo } = refOutSize(g);
  const yLen = g.batch * g.F * Ho * Wo;

  test('accumulate adds onto out; each gradient accumulates; bias is optional', () => {
    const base = uniform(9, yLen, -1, 1);
    const plain = conv2dForward(geom, inp.X, inp.K);
    const withBias = conv2dForward(geom, inp.X, inp.K, { bias: inp.bias });
    const acc = conv2dForward(geom, inp.X, inp.K, { out: base.slice(), accumulate: true });
    for (let i = 0; i < yLen; i++) {
      expect(Math.abs((acc[i] as number) - ((plain[i] as number) + (base[i] as number)))).toBeLessThan(1e-5);
      const f = Math.floor(i / (Ho * Wo)) % g.F;
      expect(Math.abs((withBias[i] as number) - ((plain[i] as number) + (inp.bias[f] as number)))).toBeLessThan(1e-5);
    }
    const fresh = conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDk: true, computeDbias: true });
    const bx = uniform(10, inp.X.length, -1, 1);
    const bk = uniform(11, inp.K.length, -1, 1);
    const bb = uniform(12, g.F, -1, 1);
    const summed = conv2dBackward(geom, inp.X, inp.K, inp.dY, {
      dX: bx.slice(),
      accumulateDx: true,
      dK: bk.slice(),
      accumulateDk: true,
      dbias: bb.slice(),
      accumulateDbias: true,
    });
    const pairs = [
      [summed.dX, fresh.dX, bx],
      [summed.dK, fresh.dK, bk],
      [summed.dbias, fresh.dbias, bb],
    ] as const;
    for (const [s, f, b] of pairs) {
      for (let i = 0; i < b.length; i++) {
        expect(Math.abs((s?.[i] as number) - ((f?.[i] as number) + (b[i] as number)))).toBeLessThan(1e-4);
      }
    }
  });

  test('each gradient is optional; X may be null without dK and K without dX', () => {
    const all = conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDk: true, computeDbias: true });
    const onlyDx = conv2dBackward(geom, null, inp.K, inp.dY);
    expect(Object.keys(onlyDx)).toEqual(['dX']);
    expect(Array.from(onlyDx.dX as Float32Array)).toEqual(Array.from(all.dX as Float32Array));
    const onlyDk = conv2dBackward(geom, inp.X, null, inp.dY, { computeDx: false, computeDk: true });
    expect(Object.keys(onlyDk)).toEqual(['dK']);
    expect(Array.from(onlyDk.dK as Float32Array)).toEqual(Array.from(all.dK as Float32Array));
    const onlyDb = conv2dBackward(geom, null, null, inp.dY, { computeDx: false, dbias: poisoned(g.F) });
    expect(Array.from(onlyDb.dbias as Float32Array)).toEqual(Array.from(all.dbias as Float32Array));
    expect(conv2dBackward(geom, null, null, inp.dY, { computeDx: false })).toEqual({});
  });

  test('async variants give the same results', async () => {
    const Y = conv2dForward(geom, inp.X, inp.K, { bias: inp.bias });
    const gr = conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDk: true });
    const [Ya, ga] = await Promise.all([
      conv2dForwardAsync(geom, inp.X, inp.K, { bias: inp.bias }),
      conv2dBackwardAsync(geom, inp.X, inp.K, inp.dY, { computeDk: true }),
    ]);
    expect(Array.from(Ya)).toEqual(Array.from(Y));
    expect(Array.from(ga.dX as Float32Array)).toEqual(Array.from(gr.dX as Float32Array));
    expect(Array.from(ga.dK as Float32Array)).toEqual(Array.from(gr.dK as Float32Array));
    await expect(conv2dForwardAsync(geom, inp.X, inp.K.subarray(1))).rejects.toMatchObject({
      name: 'DeboraError',
      code: 'DEBORA_SHAPE_MISMATCH',
    });
  });
});

test.each(
  named([
    [5, 6, 11, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1],
    [1, 6, 30, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1],
  ]),
)('builtin: Y, dX, dK, dbias are bitwise the same for 1, 2 and 3 threads: %s', (_, c) => {
  setSimd(bestSimd);
  setGemmImpl('builtin');
  const inp = inputs(c, 77);
  const runs: Float32Array[][] = [];
  for (const t of [1, 2, 3]) {
    setNumThreads(t);
    const Y = conv2dForward(libGeom(c), inp.X, inp.K, { bias: inp.bias });
    const gr = conv2dBackward(libGeom(c), inp.X, inp.K, inp.dY, { computeDk: true, computeDbias: true });
    runs.push([Y, gr.dX as Float32Array, gr.dK as Float32Array, gr.dbias as Float32Array]);
  }
  setNumThreads(initialThreads);
  setGemmImpl('auto');
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const run of runs.slice(1)) {
    run.forEach((a, i) => {
      expect(bytes(a).equals(bytes((runs[0] as Float32Array[])[i] as Float32Array))).toBe(true);
    });
  }
});

describe('bad input: a DeboraError naming the argument, outputs untouched', () => {
  const c: Case = [2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1];
  const geom = libGeom(c);
  const inp = inputs(c, 3);
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (isDeboraError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
    return 'no error';
  };

  test('wrong lengths, geometry and options (TypeScript boundary)', () => {
    const out = new Float32Array(2 * 4 * 36).fill(7);
    const dK = new Float32Array(4 * 3 * 9).fill(7);
    expect(code(() => conv2dForward(geom, inp.X, inp.K.subarray(1), { out }))).toBe(
      "DEBORA_SHAPE_MISMATCH: conv2dForward: expected a Float32Array of length 108 for argument 'K', received a Float32Array of length 107",
    );
    expect(code(() => conv2dForward(geom, inp.X.subarray(2), inp.K, { out }))).toMatch(/argument 'X'/);
    expect(code(() => conv2dForward(geom, inp.X, inp.K, { out, bias: new Float32Array(3) }))).toMatch(
      /length 4 for argument 'bias', received a Float32Array of length 3/,
    );
    expect(code(() => conv2dForward(geom, inp.X, inp.K, { out: out.subarray(1) }))).toMatch(/argument 'out'/);
    expect(code(() => conv2dForward(geom, inp.X, inp.K, { accumulate: true }))).toMatch(/argument 'out'/);
    expect(code(() => conv2dForward({ ...geom, kh: 9 }, inp.X, inp.K, { out }))).toMatch(
      /^DEBORA_SHAPE_MISMATCH: conv2dForward: .*for argument 'geom'/,
    );
    expect(code(() => conv2dForward({ ...geom, F: 0 }, inp.X, inp.K, { out }))).toMatch(
      /argument 'geom.F', received 0/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY.subarray(1), { dK }))).toMatch(/argument 'dY'/);
    expect(code(() => conv2dBackward(geom, null, inp.K, inp.dY, { dK }))).toMatch(
      /expected a Float32Array of length 216 for argument 'X', received null/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, null, inp.dY, { dK }))).toMatch(/argument 'K', received null/);
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDx: false, dX: out }))).toMatch(
      /no buffer when computeDx is false for argument 'dX'/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDk: false, dK }))).toMatch(
      /no buffer when computeDk is false for argument 'dK'/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY, { accumulateDk: true }))).toMatch(
      /expected false when computeDk is false for argument 'accumulateDk', received true/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY, { computeDk: true, accumulateDk: true }))).toMatch(
      /a Float32Array to accumulate into when accumulateDk is true for argument 'dK', received undefined/,
    );
    expect(code(() => conv2dBackward(geom, inp.X, inp.K, inp.dY, { dK: dK.subarray(1) }))).toMatch(/argument 'dK'/);
    expect(out.every((v) => v === 7)).toBe(true);
    expect(dK.every((v) => v === 7)).toBe(true);
  });

  test('the raw binding refuses short buffers, the kernel missing inputs; outputs untouched', () => {
    const raw = addon();
    const g13 = [2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1];
    const Y = new Float32Array(2 * 4 * 36).fill(7);
    const dK = new Float32Array(108).fill(7);
    expect(code(() => raw.conv2dFwd(0, g13, inp.X, inp.K, null, Y.subarray(1), false))).toBe(
      "DEBORA_SHAPE_MISMATCH: conv2d_fwd: expected a Float32Array of length 288 for argument 'Y', received length 287",
    );
    expect(code(() => raw.conv2dBwd(0, g13, null, inp.K, inp.dY, null, false, dK, false, null, false))).toBe(
      "DEBORA_INVALID_ARG: conv2d_bwd: expected a buffer for argument 'X', received null",
    );
    expect(code(() => raw.conv2dFwd(0, [2, 3, 6, 6, 4, 3, 3, 0, 1, 1, 1, 1, 1], inp.X, inp.K, null, Y, false))).toMatch(
      /^DEBORA_INVALID_ARG: conv2d_fwd: .*'geom.stride_h', received 0/,
    );
    expect(Y.every((v) => v === 7)).toBe(true);
    expect(dK.every((v) => v === 7)).toBe(true);
  });

  test('cuda is refused clearly until the CUDA twin exists', () => {
    expect(code(() => conv2dForward(geom, inp.X, inp.K, { backend: 'cuda' }))).toMatch(
      /^DEBORA_(BACKEND_UNAVAILABLE|NOT_IMPLEMENTED)/,
    );
  });
});
