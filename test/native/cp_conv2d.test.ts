/**
 * cp_conv2d.test.ts — op cp_conv2d (CP adapter of a conv kernel, NCHW) forward and backward
 * against float64 references (test/helpers/reference_conv2d.ts): the dense convolution with the
 * materialised ΔK (the issue's equality test) and the chain; the references' gradients against
 * central finite differences; accumulate, dX = null, dots, the d = 4 hypergradient identity,
 * thread-count independence, and bad inputs (clear error naming the argument, outputs untouched).
 *
 * Tolerance (native vs float64): every output is a sum of products of inputs with coefficients +1,
 * so the same reference run on |inputs| gives, per element, B = Σ|terms|, and a float32 evaluation
 * in any order is within n·u·B of the exact value (u = 2⁻²⁴, n the longest chain of roundings an
 * element goes through). Y and dX pass through the C→r and r→F sums, the kh and kw taps and the s
 * fold: n ≤ C + F + kh + kw + r + 2. The factor gradients also go through the other direction's sums
 * and then over the pixels of a tile in VW-lane float32 partials (≤ 64 per lane for these shapes)
 * before a float64 reduction. We allow n·u·B per element with n = 2·(C + F + kh + kw + r) + 64.
 */
import { getNumThreads, info, isDeboraError, SIMD_LEVELS, setNumThreads, setSimd } from '../../lib';
import { addon } from '../../lib/native';
import {
  type Conv2dGeometry,
  type CpConv2dFactors,
  type CpConv2dGrads,
  conv2dOutputSize,
  cpConv2dBackward,
  cpConv2dBackwardAsync,
  cpConv2dForward,
  cpConv2dForwardAsync,
} from '../../lib/ops';
import { sameBits } from '../helpers/compare';
import { loopTurnsDuring } from '../helpers/event_loop';
import { poisoned, uniform } from '../helpers/random';
import {
  abs64,
  chainBackward,
  chainForward,
  denseBackward,
  denseForward,
  materialize,
  type RefFactors,
  type RefGeom,
  type RefGrads,
  refOutSize,
} from '../helpers/reference_conv2d';

const U = 2 ** -24;
const TOL = 256 * U; // the default bound for the small fixed shapes below (n = 256)

/** [batch, C, H, W, F, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, r] */
type Case = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

const CASES: Case[] = [
  [1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1], // smallest: 1×1, one channel, r = 1
  [3, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 3], // 3×3 "same"
  [1, 8, 13, 7, 9, 3, 3, 2, 2, 1, 0, 1, 1, 8], // stride 2, padding only on rows
  [3, 9, 7, 13, 8, 1, 3, 1, 2, 0, 2, 1, 2, 17], // 1×3, asymmetric stride, dilation 2 on columns, r = 17
  [3, 17, 5, 7, 3, 5, 2, 1, 1, 2, 1, 1, 1, 3], // 5×2, padding 2 / 1
  [1, 7, 13, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2, 8], // dilation 2 with padding 2
  [3, 3, 13, 5, 9, 5, 2, 2, 1, 0, 1, 2, 1, 1], // everything asymmetric, r = 1
  [1, 17, 7, 7, 1, 3, 3, 1, 1, 0, 0, 1, 1, 17], // F = 1, "valid" 3×3, r > kh·kw
  [3, 8, 5, 13, 8, 1, 1, 2, 1, 2, 0, 1, 1, 8], // 1×1 with padding: output rows of zeros
  [1, 9, 13, 5, 7, 3, 3, 2, 1, 1, 2, 1, 2, 3], // padding 2 wider than the dilated kernel needs
  [1, 4, 31, 19, 5, 3, 3, 1, 1, 1, 1, 1, 1, 4], // batch 1, tall: the kernel splits the image into row tiles
  [3, 1, 7, 13, 17, 1, 3, 1, 1, 0, 1, 1, 1, 17], // C = 1
  [1, 3, 13, 7, 3, 5, 2, 3, 2, 1, 1, 1, 2, 3], // stride 3: input rows no window reads
  [1, 3, 21, 23, 4, 19, 17, 1, 1, 9, 8, 1, 1, 3], // 19×17 "same": more taps per row than one group of 16
  // r·(F + C) > 4096: the kernel keeps the factor-gradient partial sums as scalars, not vectors.
  [2, 257, 5, 5, 240, 1, 3, 1, 1, 0, 1, 1, 1, 9],
];

// Outputs of >= 4 MiB, which the kernel writes with streamed (non-temporal) stores, are tested in
// test/native/driver_cp_conv2d.cpp: with a million-element output the float64 references take
// seconds under jest.

/** n·u of the tolerance comment for one case. */
function tolFor(c: Case): number {
  const [, C, , , F, kh, kw] = c;
  return (2 * (C + F + kh + kw + c[13]) + 64) * U;
}

function refGeom(c: Case): RefGeom {
  const [batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = c;
  return { batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw };
}

function libGeom(c: Case): Conv2dGeometry {
  const [batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = c;
  return { batch, C, H, W, F, kh, kw, stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] };
}

function caseName(c: Case): string {
  const [b, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, r] = c;
  return `batch ${b}, C ${C}, ${H}×${W}, F ${F}, ${kh}×${kw}, stride ${sh},${sw}, pad ${ph},${pw}, dil ${dh},${dw}, r ${r}`;
}

interface Inputs {
  X: Float32Array;
  f: CpConv2dFactors;
  dY: Float32Array;
}

function inputs(c: Case, seed: number): Inputs {
  const g = refGeom(c);
  const r = c[13];
  const { Ho, Wo } = refOutSize(g);
  return {
    X: uniform(seed + 1, g.batch * g.C * g.H * g.W, -1, 1),
    f: {
      U1: uniform(seed + 2, g.F * r, -1, 1),
      U2: uniform(seed + 3, g.C * r, -1, 1),
      U3: uniform(seed + 4, g.kh * r, -1, 1),
      U4: uniform(seed + 5, g.kw * r, -1, 1),
      s: uniform(seed + 6, r, -1.5, 2), // any finite s: signs included
    },
    dY: uniform(seed + 7, g.batch * g.F * Ho * Wo, -1, 1),
  };
}

function absFactors(f: RefFactors): RefFactors {
  return { U1: abs64(f.U1), U2: abs64(f.U2), U3: abs64(f.U3), U4: abs64(f.U4), s: abs64(f.s) };
}

/** max_i |got_i − want_i| / (TOL·bound_i): ≤ 1 passes; NaN (an unwritten element) gives Infinity. */
function worstRatio(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, tol = TOL): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs((got[i] as number) - (want[i] as number)) / (tol * (bound[i] as number) + 1e-300);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

const GRAD_NAMES = ['dX', 'dU1', 'dU2', 'dU3', 'dU4', 'ds'] as const;

// The scalar path and the best one this CPU has (AVX-512 is only exercised where it exists).
const initialSimd = info().cpu.simd;
const best = info().cpu.simdSupported;
// Every level up to the best (the AVX-512 code hands some tails to the AVX2 code, and a machine
// with AVX-512 must still test the AVX2 level that others run).
const levels = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(best) + 1);
afterAll(() => setSimd(initialSimd));

const named = (cases: Case[]): [string, Case][] => cases.map((c) => [caseName(c), c]);

describe('float64 references', () => {
  test.each(named(CASES.slice(0, 8)))('the chain equals the dense convolution with ΔK: %s', (_, kase) => {
    const g = refGeom(kase);
    const r = kase[13];
    const { X, f, dY } = inputs(kase, 10);
    const bound = chainForward(g, r, abs64(X), absFactors(f));
    expect(
      worstRatio(chainForward(g, r, X, f), denseForward(g, X, materialize(g, r, f)), bound, 1e-13),
    ).toBeLessThanOrEqual(1);
    const a = chainBackward(g, r, X, f, dY);
    const b = denseBackward(g, r, X, f, dY);
    const bb = chainBackward(g, r, abs64(X), absFactors(f), abs64(dY));
    for (const k of GRAD_NAMES) expect(worstRatio(a[k], b[k], bb[k], 1e-13)).toBeLessThanOrEqual(1);
  });

  // L = Σ dY ⊙ Y is affine in every single input entry, so a central difference is exact up to
  // rounding (≈ 1e-16·|L|/h): the gradients must agree to ~1e-10 relative to their term bound.
  const FD_CASES: Case[] = [
    [2, 3, 5, 7, 2, 3, 3, 2, 1, 1, 2, 1, 2, 3],
    [1, 2, 7, 5, 3, 5, 2, 1, 2, 2, 0, 2, 1, 2],
    [2, 2, 5, 5, 2, 1, 3, 1, 1, 0, 1, 1, 1, 1],
  ];
  test.each(named(FD_CASES))('both reference backwards equal central differences of the forward: %s', (_, kase) => {
    const g = refGeom(kase);
    const r = kase[13];
    const inp = inputs(kase, 20);
    const params: Record<string, Float64Array> = {
      X: Float64Array.from(inp.X),
      U1: Float64Array.from(inp.f.U1),
      U2: Float64Array.from(inp.f.U2),
      U3: Float64Array.from(inp.f.U3),
      U4: Float64Array.from(inp.f.U4),
      s: Float64Array.from(inp.f.s),
    };
    const p = params as unknown as RefFactors & { X: Float64Array };
    const loss = (): number => {
      const Y = denseForward(g, p.X, materialize(g, r, p));
      let L = 0;
      for (let i = 0; i < Y.length; i++) L += (Y[i] as number) * (inp.dY[i] as number);
      return L;
    };
    const chain = chainBackward(g, r, p.X, p, inp.dY);
    const dense = denseBackward(g, r, p.X, p, inp.dY);
    const bound = chainBackward(g, r, abs64(p.X), absFactors(p), abs64(inp.dY));
    const pairs: [string, keyof RefGrads][] = [
      ['X', 'dX'],
      ['U1', 'dU1'],
      ['U2', 'dU2'],
      ['U3', 'dU3'],
      ['U4', 'dU4'],
      ['s', 'ds'],
    ];
    const h = 1e-3;
    for (const [pname, gname] of pairs) {
      const v = params[pname] as Float64Array;
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
      expect(worstRatio(chain[gname], fd, bound[gname], 1e-10)).toBeLessThanOrEqual(1);
      expect(worstRatio(dense[gname], fd, bound[gname], 1e-10)).toBeLessThanOrEqual(1);
    }
  });
});

describe.each(levels)('native cp_conv2d, SIMD %s', (level) => {
  beforeAll(() => setSimd(level));

  test.each(named(CASES))('forward equals the dense convolution with ΔK: %s', (_, kase) => {
    const g = refGeom(kase);
    const r = kase[13];
    const { X, f } = inputs(kase, 100);
    const { Ho, Wo } = conv2dOutputSize(libGeom(kase));
    const out = poisoned(g.batch * g.F * Ho * Wo);
    const Y = cpConv2dForward(libGeom(kase), r, X, f, { out, backend: 'cpu' });
    expect(Y).toBe(out);
    const want = denseForward(g, X, materialize(g, r, f));
    const bound = chainForward(g, r, abs64(X), absFactors(f));
    expect(worstRatio(Y, want, bound, tolFor(kase))).toBeLessThanOrEqual(1);
  });

  test.each(named(CASES))('backward equals the dense gradients (dX, MTTKRPs of dK): %s', (_, kase) => {
    const g = refGeom(kase);
    const r = kase[13];
    const { X, f, dY } = inputs(kase, 200);
    const bufs = {
      dX: poisoned(X.length),
      dU1: poisoned(f.U1.length),
      dU2: poisoned(f.U2.length),
      dU3: poisoned(f.U3.length),
      dU4: poisoned(f.U4.length),
      ds: poisoned(r),
      dots: poisoned(r),
    };
    const got = cpConv2dBackward(libGeom(kase), r, X, f, dY, { ...bufs, backend: 'cpu' });
    expect(got.dX).toBe(bufs.dX);
    expect(got.dots).toBe(bufs.dots);
    const want = denseBackward(g, r, X, f, dY);
    const bound = chainBackward(g, r, abs64(X), absFactors(f), abs64(dY));
    for (const k of GRAD_NAMES) {
      const ratio = worstRatio(got[k] as Float32Array, want[k], bound[k], tolFor(kase));
      if (!(ratio <= 1)) throw new Error(`${caseName(kase)}: ${k} off by ${ratio} × the tolerance`);
    }
    // dots = Σ_k ⟨U_k[:,i], dU_k[:,i]⟩ of the returned gradients (float64 sum of float32 products,
    // rounded once to float32), and the d = 4 Euler identity dots = 4·s⊙ds of exact gradients.
    const dots64 = new Float64Array(r);
    const dotsBound = new Float64Array(r);
    const pairs: [Float32Array, Float32Array][] = [
      [f.U1, got.dU1],
      [f.U2, got.dU2],
      [f.U3, got.dU3],
      [f.U4, got.dU4],
    ];
    for (const [Uk, dUk] of pairs)
      for (let j = 0; j < Uk.length; j++) {
        const i = j % r;
        dots64[i] = (dots64[i] as number) + (Uk[j] as number) * (dUk[j] as number);
        dotsBound[i] = (dotsBound[i] as number) + Math.abs((Uk[j] as number) * (dUk[j] as number));
      }
    expect(worstRatio(got.dots as Float32Array, dots64, dotsBound, 2 * U)).toBeLessThanOrEqual(1);
    // Each side is within n·u·4·|s_i|·B(ds_i) of the exact 4·s_i·ds_i (the identity holds for the
    // |inputs| reference too, so that is also the bound of Σ_k Σ_j |U_k| B(dU_k)); 3× for the roundings
    // of the products and of ds itself.
    const euler = new Float64Array(r);
    const eulerBound = new Float64Array(r);
    for (let i = 0; i < r; i++) {
      euler[i] = 4 * (f.s[i] as number) * (got.ds[i] as number);
      eulerBound[i] = 4 * Math.abs(f.s[i] as number) * (bound.ds[i] as number);
    }
    expect(worstRatio(got.dots as Float32Array, euler, eulerBound, 3 * tolFor(kase))).toBeLessThanOrEqual(1);
  });
});

describe('native cp_conv2d options', () => {
  const kase: Case = [2, 5, 9, 7, 6, 3, 3, 1, 2, 1, 1, 1, 1, 4];
  const g = refGeom(kase);
  const r = kase[13];
  const { X, f, dY } = inputs(kase, 300);
  const want = denseForward(g, X, materialize(g, r, f));
  const wantB = denseBackward(g, r, X, f, dY);
  const bound = chainForward(g, r, abs64(X), absFactors(f));
  const boundB = chainBackward(g, r, abs64(X), absFactors(f), abs64(dY));

  test('accumulate adds into Y (e.g. onto the frozen layer output)', () => {
    const Y0 = uniform(301, want.length, -3, 3);
    const Y = Float32Array.from(Y0);
    cpConv2dForward(libGeom(kase), r, X, f, { out: Y, accumulate: true, backend: 'cpu' });
    const sum = want.map((v, i) => v + (Y0[i] as number));
    const sumBound = bound.map((v, i) => v + Math.abs(Y0[i] as number));
    expect(worstRatio(Y, sum, sumBound)).toBeLessThanOrEqual(1);
  });

  test('accumulateDx adds into dX; the factor gradients are still overwritten', () => {
    const dX0 = uniform(302, X.length, -3, 3);
    const dX = Float32Array.from(dX0);
    const dU2 = new Float32Array(f.U2.length).fill(123);
    const got = cpConv2dBackward(libGeom(kase), r, X, f, dY, { dX, dU2, accumulateDx: true, backend: 'cpu' });
    expect(got.dX).toBe(dX);
    const sum = wantB.dX.map((v, i) => v + (dX0[i] as number));
    const sumBound = boundB.dX.map((v, i) => v + Math.abs(dX0[i] as number));
    expect(worstRatio(dX, sum, sumBound)).toBeLessThanOrEqual(1);
    expect(worstRatio(dU2, wantB.dU2, boundB.dU2)).toBeLessThanOrEqual(1);
  });

  test('computeDx: false skips dX (null to the kernel); wantDots: false skips dots; the rest is bit-identical', () => {
    const full = cpConv2dBackward(libGeom(kase), r, X, f, dY, { backend: 'cpu' });
    const lean = cpConv2dBackward(libGeom(kase), r, X, f, dY, { computeDx: false, wantDots: false, backend: 'cpu' });
    expect(lean.dX).toBeUndefined();
    expect(lean.dots).toBeUndefined();
    for (const k of ['dU1', 'dU2', 'dU3', 'dU4', 'ds'] as const) expect(lean[k]).toEqual(full[k]);
    // Through the addon directly: a null dX leaves nothing written anywhere it could be.
    const { Ho, Wo } = refOutSize(g);
    expect(Ho * Wo * g.F * g.batch).toBe(dY.length);
    const ds = poisoned(r);
    addon().cpConv2dBwd(
      0,
      geomArr(kase),
      r,
      X,
      f.U1,
      f.U2,
      f.U3,
      f.U4,
      f.s,
      dY,
      null,
      false,
      new Float32Array(f.U1.length),
      new Float32Array(f.U2.length),
      new Float32Array(f.U3.length),
      new Float32Array(f.U4.length),
      ds,
      null,
    );
    expect(Array.from(ds)).toEqual(Array.from(full.ds));
  });

  test('the result does not depend on the thread count (bitwise)', () => {
    const saved = getNumThreads();
    try {
      const runs = [1, 2, 3].map((t) => {
        setNumThreads(t);
        const Y = cpConv2dForward(libGeom(kase), r, X, f, { backend: 'cpu' });
        return { Y, ...cpConv2dBackward(libGeom(kase), r, X, f, dY, { backend: 'cpu' }) };
      });
      for (const run of runs.slice(1)) expect(run).toEqual(runs[0]);
    } finally {
      setNumThreads(saved);
    }
  });

  test('async variants: the sync results bit for bit, the event loop free meanwhile, errors reject', async () => {
    // An awkward shape: odd C and F, stride 2 on one axis.
    const big: Case = [16, 37, 33, 31, 29, 3, 3, 1, 2, 1, 1, 1, 1, 24];
    const bi = inputs(big, 310);
    const bg = libGeom(big);
    const br = big[13];
    const fwd = () => cpConv2dForward(bg, br, bi.X, bi.f, { backend: 'cpu' });
    const bwd = () => cpConv2dBackward(bg, br, bi.X, bi.f, bi.dY, { backend: 'cpu' });
    const syncY = fwd();
    const syncG = bwd();
    // The counter sees no turn during synchronous calls (the JS thread is held)...
    expect(await loopTurnsDuring(() => [fwd(), bwd()])).toBe(0);
    // ...and at least one across two async calls awaited in turn (see test/helpers/event_loop.ts).
    let ya: Float32Array | undefined;
    let ga: CpConv2dGrads | undefined;
    const turns = await loopTurnsDuring(async () => {
      ya = await cpConv2dForwardAsync(bg, br, bi.X, bi.f, { backend: 'cpu' });
      ga = await cpConv2dBackwardAsync(bg, br, bi.X, bi.f, bi.dY, { backend: 'cpu' });
    });
    expect(turns).toBeGreaterThan(0);
    // Both at once: the same bits again.
    const [yc, gc] = await Promise.all([
      cpConv2dForwardAsync(bg, br, bi.X, bi.f, { backend: 'cpu' }),
      cpConv2dBackwardAsync(bg, br, bi.X, bi.f, bi.dY, { backend: 'cpu' }),
    ]);
    for (const y of [ya, yc]) expect(sameBits(y, syncY)).toBe(true);
    for (const g of [ga, gc]) {
      for (const k of GRAD_NAMES) expect(sameBits(g?.[k], syncG[k])).toBe(true);
      expect(sameBits(g?.dots, syncG.dots)).toBe(true);
    }
    // Kernel errors and boundary errors both arrive as rejections with the DeboraError, outputs untouched.
    const s = Float32Array.from(f.s);
    s[2] = Number.NaN;
    const out = poisoned(want.length);
    await expect(cpConv2dForwardAsync(libGeom(kase), r, X, { ...f, s }, { out })).rejects.toMatchObject({
      name: 'DeboraError',
      code: 'DEBORA_NON_FINITE',
    });
    expect(out.every(Number.isNaN)).toBe(true);
    await expect(cpConv2dBackwardAsync(libGeom(kase), r, X, f, dY.subarray(1))).rejects.toMatchObject({
      name: 'DeboraError',
      code: 'DEBORA_SHAPE_MISMATCH',
    });
  });

  test('conv2dOutputSize follows the convolution arithmetic', () => {
    const base = { batch: 1, C: 1, H: 13, W: 7, F: 1, kh: 3, kw: 2 };
    expect(conv2dOutputSize(base)).toEqual({ Ho: 11, Wo: 6 });
    expect(conv2dOutputSize({ ...base, stride: 2, padding: 1 })).toEqual({ Ho: 7, Wo: 4 });
    expect(conv2dOutputSize({ ...base, stride: [3, 1], padding: [0, 2], dilation: [2, 3] })).toEqual({ Ho: 3, Wo: 8 });
  });
});

function geomArr(c: Case): number[] {
  return c.slice(0, 13);
}

function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a throw');
}

describe('bad inputs: a clear error naming the argument, outputs untouched', () => {
  const kase: Case = [2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2];
  const r = kase[13];
  const { X, f, dY } = inputs(kase, 400);
  const SENTINEL = 7.25;
  const fresh = () => ({
    Y: new Float32Array(dY.length).fill(SENTINEL),
    dX: new Float32Array(X.length).fill(SENTINEL),
    dU1: new Float32Array(f.U1.length).fill(SENTINEL),
    dU2: new Float32Array(f.U2.length).fill(SENTINEL),
    dU3: new Float32Array(f.U3.length).fill(SENTINEL),
    dU4: new Float32Array(f.U4.length).fill(SENTINEL),
    ds: new Float32Array(r).fill(SENTINEL),
    dots: new Float32Array(r).fill(SENTINEL),
  });
  const untouched = (o: ReturnType<typeof fresh>) => {
    for (const v of Object.values(o)) expect(v.every((x) => x === SENTINEL)).toBe(true);
  };
  const both = (geom: Conv2dGeometry, ff: CpConv2dFactors, XX: Float32Array, dYY: Float32Array) => {
    const o = fresh();
    const e1 = thrown(() => cpConv2dForward(geom, r, XX, ff, { out: o.Y, backend: 'cpu' }));
    const { Y: _y, ...grads } = o;
    const e2 = thrown(() => cpConv2dBackward(geom, r, XX, ff, dYY, { ...grads, backend: 'cpu' }));
    untouched(o);
    return [e1, e2];
  };

  test.each([
    ['X', () => [libGeom(kase), f, X.subarray(1), dY]],
    ['U3', () => [libGeom(kase), { ...f, U3: new Float32Array(7) }, X, dY]],
    ['s', () => [libGeom(kase), { ...f, s: new Float32Array(3) }, X, dY]],
  ] as const)('wrong length of %s: DEBORA_SHAPE_MISMATCH', (name, args) => {
    const [geom, ff, XX, dYY] = args() as [Conv2dGeometry, CpConv2dFactors, Float32Array, Float32Array];
    for (const e of both(geom, ff, XX, dYY)) {
      expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
      expect(e.message).toContain(`for argument '${name}'`);
    }
  });

  test('wrong length of dY, out, dU2: DEBORA_SHAPE_MISMATCH', () => {
    const o = fresh();
    expect(
      thrown(() => cpConv2dBackward(libGeom(kase), r, X, f, dY.subarray(2), { backend: 'cpu' })).message,
    ).toContain("argument 'dY'");
    const e = thrown(() => cpConv2dForward(libGeom(kase), r, X, f, { out: new Float32Array(5), backend: 'cpu' }));
    expect([e.code, e.message.includes("argument 'out'")]).toEqual(['DEBORA_SHAPE_MISMATCH', true]);
    const { Y: _y, ...g } = o;
    const e2 = thrown(() =>
      cpConv2dBackward(libGeom(kase), r, X, f, dY, { ...g, dU2: new Float32Array(1), backend: 'cpu' }),
    );
    expect([e2.code, e2.message.includes("argument 'dU2'")]).toEqual(['DEBORA_SHAPE_MISMATCH', true]);
    untouched(o);
  });

  test('geometry without an output position (dilated kernel larger than the padded input)', () => {
    for (const geom of [
      { ...libGeom(kase), kh: 9 },
      { ...libGeom(kase), kw: 2, padding: 0, dilation: [1, 8] as [number, number] },
    ]) {
      for (const e of both(
        geom,
        { ...f, U3: new Float32Array(geom.kh * r), U4: new Float32Array(geom.kw * r) },
        X,
        dY,
      )) {
        expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
        expect(e.message).toContain("for argument 'geom'");
      }
    }
  });

  test.each([
    ['geom.stride', { stride: 0 }],
    ['geom.stride[1]', { stride: [1, 0] }],
    ['geom.padding', { padding: -1 }],
    ['geom.dilation[0]', { dilation: [0, 1] }],
    ['geom.kh', { kh: 0 }],
    ['geom.batch', { batch: 2.5 }],
  ])('%s out of range: DEBORA_INVALID_ARG', (name, patch) => {
    for (const e of both({ ...libGeom(kase), ...(patch as object) } as Conv2dGeometry, f, X, dY)) {
      expect(e.code).toBe('DEBORA_INVALID_ARG');
      expect(e.message).toContain(`for argument '${name}'`);
    }
  });

  test('NaN in s: DEBORA_NON_FINITE from the kernel', () => {
    const s = Float32Array.from(f.s);
    s[1] = Number.NaN;
    for (const e of both(libGeom(kase), { ...f, s }, X, dY)) {
      expect(e.code).toBe('DEBORA_NON_FINITE');
      expect(e.message).toMatch(
        /cp_conv2d_(fwd|bwd): expected finite values for argument 's', received NaN at index 1/,
      );
    }
  });

  // The kernel's own checks, reached through the addon without the TypeScript validation. Buffers
  // get the lengths the binding expects (it computes Ho, Wo as the kernel would, truncating, and
  // skips its length checks when either is <= 0), so the error comes from the kernel itself.
  test.each([
    ['geom', 'DEBORA_SHAPE_MISMATCH', [2, 3, 5, 7, 4, 9, 3, 1, 1, 1, 1, 1, 1]], // Ho <= 0
    ['geom', 'DEBORA_SHAPE_MISMATCH', [2, 3, 5, 5, 4, 3, 2, 1, 2, 1, 0, 1, 5]], // (5 - 6)/2 truncates to Wo = 1
    ['geom.stride_h', 'DEBORA_INVALID_ARG', [2, 3, 5, 7, 4, 3, 3, 0, 1, 1, 1, 1, 1]],
    ['geom.pad_w', 'DEBORA_INVALID_ARG', [2, 3, 5, 7, 4, 3, 3, 1, 1, 1, -1, 1, 1]],
    ['geom.dil_w', 'DEBORA_INVALID_ARG', [2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, 0]],
  ] as const)('native: %s (%s) for geom %j', (name, code, geom) => {
    const [batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw] = geom;
    const trunc = (n: number, k: number, st: number, p: number, d: number) =>
      st > 0 ? Math.trunc((n + 2 * p - d * (k - 1) - 1) / st) + 1 : -1;
    const Ho = trunc(H, kh, sh, ph, dh);
    const Wo = trunc(W, kw, sw, pw, dw);
    const yLen = Ho > 0 && Wo > 0 ? batch * F * Ho * Wo : 1;
    const XX = uniform(401, batch * C * H * W, -1, 1);
    const dYY = uniform(402, yLen, -1, 1);
    const fill = (n: number) => new Float32Array(n).fill(SENTINEL);
    const o = {
      Y: fill(yLen),
      dX: fill(XX.length),
      dU1: fill(F * r),
      dU2: fill(C * r),
      dU3: fill(kh * r),
      dU4: fill(kw * r),
      ds: fill(r),
      dots: fill(r),
    };
    const U1 = uniform(403, F * r, -1, 1);
    const U2 = uniform(404, C * r, -1, 1);
    const U3 = uniform(405, kh * r, -1, 1);
    const U4 = uniform(406, kw * r, -1, 1);
    const e1 = thrown(() => addon().cpConv2dFwd(0, [...geom], r, XX, U1, U2, U3, U4, f.s, o.Y, false));
    const e2 = thrown(() =>
      addon().cpConv2dBwd(
        0,
        [...geom],
        r,
        XX,
        U1,
        U2,
        U3,
        U4,
        f.s,
        dYY,
        o.dX,
        false,
        o.dU1,
        o.dU2,
        o.dU3,
        o.dU4,
        o.ds,
        o.dots,
      ),
    );
    for (const e of [e1, e2]) {
      expect(e.code).toBe(code);
      expect(e.message).toContain(`for argument '${name}'`);
    }
    untouched(o);
  });
});
