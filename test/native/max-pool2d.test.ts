/**
 * max-pool2d.test.ts — op max_pool2d (NCHW max pooling with argmax) against a float64 reference that
 * is the former TypeScript MaxPool2d loop (first cell inside the image, then a strictly greater one
 * wins: ties to the first maximum in row-major window order), on seeded shapes that take every path:
 * 2×2 stride 2 with 8-wide, 4-wide and scalar rows, odd H / W, batch 1, primes; generic windows with
 * padding, overlap, stride 1, 1×1; inputs with many ties (a handful of values) and NaN cells;
 * outputs poisoned first; the scalar and the best SIMD level, 1–3 threads (bitwise equal);
 * backward (scatter, accumulate) and central finite differences on distinct inputs; the MaxPool2d
 * layer on top; bad input (a DeboraError naming the argument, outputs untouched).
 *
 * Tolerance: y and argmax are selections, equal to the reference exactly. dX is a sum of the dY of
 * the windows that chose a cell, at most c = ⌈kh/sh⌉·⌈kw/sw⌉ terms added in float32, so within
 * γ_c·Σ|terms| of the float64 sum (boundRatio with k = c); without overlap it is exact.
 */
import {
  getNumThreads,
  info,
  isDeboraError,
  maxPool2dBackward,
  maxPool2dForward,
  type Pool2dGeometry,
  pool2dOutputSize,
  SIMD_LEVELS,
  type SimdLevel,
  setNumThreads,
  setSimd,
} from '../../lib';
import { addon } from '../../lib/native';
import { MaxPool2d } from '../../lib/nn/pool';
import { abs, boundRatio } from '../helpers/compare';
import { rng, uniform } from '../helpers/random';

const { ceil, floor } = Math;

const initial = info();
const bestSimd = initial.cpu.simdSupported;
const initialThreads = getNumThreads();
const LEVELS: SimdLevel[] = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(bestSimd) + 1);
afterAll(() => {
  setSimd(initial.cpu.simd);
  setNumThreads(initialThreads);
});

/** [batch, C, H, W, kh, kw, sh, sw, ph, pw] */
type Case = [number, number, number, number, number, number, number, number, number, number];

const CASES: Case[] = [
  [4, 8, 28, 28, 2, 2, 2, 2, 0, 0], // the small CNN's first pool: 14 outputs a row (8-wide blocks)
  [4, 16, 14, 14, 2, 2, 2, 2, 0, 0], // its second pool: 7 a row (4-wide blocks)
  [1, 1, 1, 1, 1, 1, 1, 1, 0, 0], // one cell
  [1, 3, 13, 11, 2, 2, 2, 2, 0, 0], // batch 1, primes: last row and column unread, 5 a row
  [2, 1, 5, 5, 2, 2, 2, 2, 0, 0], // 2 a row: scalar
  [2, 3, 6, 14, 2, 2, 2, 2, 0, 0], // 7 a row (8 − 1)
  [1, 2, 4, 16, 2, 2, 2, 2, 0, 0], // 8 a row exactly
  [3, 2, 6, 19, 2, 2, 2, 2, 0, 0], // 9 a row (8 + 1), W odd
  [1, 5, 3, 34, 2, 2, 2, 2, 0, 0], // 17 a row
  [2, 3, 7, 5, 3, 3, 2, 2, 1, 1], // generic: padding on both axes
  [1, 2, 9, 8, 3, 2, 2, 1, 1, 1], // windows overlapping along W
  [3, 1, 5, 5, 3, 3, 1, 1, 1, 1], // stride 1, "same": every cell in up to 9 windows
  [2, 2, 13, 11, 5, 4, 3, 2, 2, 2], // asymmetric everything
  [1, 1, 3, 3, 3, 3, 1, 1, 1, 1], // windows mostly padding
  [2, 3, 5, 7, 1, 1, 1, 1, 0, 0], // 1×1: the identity
  [1, 2, 8, 9, 2, 3, 2, 3, 1, 1], // 2×3 stride 2×3 with padding: not the 2×2 path
  [1, 64, 3, 3, 2, 2, 2, 2, 0, 0], // many tiny planes per pool chunk
];

interface G {
  batch: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  Ho: number;
  Wo: number;
}

function geomOf(c: Case): G {
  const [batch, C, H, W, kh, kw, sh, sw, ph, pw] = c;
  return {
    batch,
    C,
    H,
    W,
    kh,
    kw,
    sh,
    sw,
    ph,
    pw,
    Ho: floor((H + 2 * ph - kh) / sh) + 1,
    Wo: floor((W + 2 * pw - kw) / sw) + 1,
  };
}

const libGeom = (g: G): Pool2dGeometry => ({
  batch: g.batch,
  C: g.C,
  H: g.H,
  W: g.W,
  kh: g.kh,
  kw: g.kw,
  stride: [g.sh, g.sw],
  padding: [g.ph, g.pw],
});

const caseName = (c: Case): string =>
  `batch ${c[0]}, C ${c[1]}, ${c[2]}×${c[3]}, window ${c[4]}×${c[5]}, stride ${c[6]},${c[7]}, pad ${c[8]},${c[9]}`;
const named = (cases: Case[]): [string, Case][] => cases.map((c) => [caseName(c), c]);

/** The former TypeScript layer's loop (lib/nn/pool.ts before the op), argmax within the plane. */
function refForward(g: G, x: ArrayLike<number>): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(g.batch * g.C * g.Ho * g.Wo);
  const argmax = new Int32Array(y.length);
  let o = 0;
  for (let plane = 0; plane < g.batch * g.C; plane++) {
    const base = plane * g.H * g.W;
    for (let i = 0; i < g.Ho; i++) {
      for (let j = 0; j < g.Wo; j++, o++) {
        let best = -Infinity;
        let bi = -1;
        for (let p = 0; p < g.kh; p++) {
          const hi = i * g.sh - g.ph + p;
          if (hi < 0 || hi >= g.H) continue;
          for (let q = 0; q < g.kw; q++) {
            const wi = j * g.sw - g.pw + q;
            if (wi < 0 || wi >= g.W) continue;
            const v = x[base + hi * g.W + wi] as number;
            if (v > best || bi < 0) {
              best = v;
              bi = hi * g.W + wi;
            }
          }
        }
        y[o] = best;
        argmax[o] = bi;
      }
    }
  }
  return { y, argmax };
}

/** dX = dY scattered to argmax, in float64. */
function refBackward(g: G, argmax: Int32Array, dY: ArrayLike<number>): Float64Array {
  const dX = new Float64Array(g.batch * g.C * g.H * g.W);
  const out = g.Ho * g.Wo;
  for (let o = 0; o < argmax.length; o++) {
    const k = floor(o / out) * g.H * g.W + (argmax[o] as number);
    dX[k] = (dX[k] as number) + (dY[o] as number);
  }
  return dX;
}

type Kind = 'uniform' | 'ties' | 'nan';
/** Uniform in [-1, 1); 'ties': five values only; 'nan': ties plus a NaN every 37 cells. */
function input(kind: Kind, seed: number, n: number): Float32Array {
  const x = uniform(seed, n, -1, 1);
  if (kind !== 'uniform') for (let i = 0; i < n; i++) x[i] = floor((x[i] as number) * 2.5);
  if (kind === 'nan') for (let i = 3; i < n; i += 37) x[i] = Number.NaN;
  return x;
}

/** Bitwise equality with a reference rounded to float32 (NaN = NaN). */
function sameBits(got: Float32Array, ref: ArrayLike<number>): boolean {
  const want = Float32Array.from(ref as ArrayLike<number>);
  return Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer));
}

const poisonedIdx = (n: number): Int32Array => new Int32Array(n).fill(-7);
const poisoned = (n: number): Float32Array => new Float32Array(n).fill(Number.NaN);

describe.each(LEVELS)('max_pool2d at SIMD level %s', (level) => {
  beforeAll(() => setSimd(level));

  for (const kind of ['uniform', 'ties', 'nan'] as const) {
    test.each(named(CASES))(`${kind} input: y and argmax equal the reference exactly, dX within γ_c: %s`, (_, c) => {
      const g = geomOf(c);
      const x = input(kind, 17, g.batch * g.C * g.H * g.W);
      const len = g.batch * g.C * g.Ho * g.Wo;
      const dY = uniform(18, len, -1, 1);
      const ref = refForward(g, x);
      const refDx = refBackward(g, ref.argmax, dY);
      const absDx = refBackward(g, ref.argmax, abs(dY));
      const overlap = ceil(g.kh / g.sh) * ceil(g.kw / g.sw);
      for (const t of [1, 3]) {
        setNumThreads(t);
        const { y, argmax } = maxPool2dForward(libGeom(g), x, { out: poisoned(len), argmax: poisonedIdx(len) });
        expect(sameBits(y, ref.y)).toBe(true);
        expect(Buffer.from(argmax.buffer).equals(Buffer.from(ref.argmax.buffer))).toBe(true);
        const dX = maxPool2dBackward(libGeom(g), argmax, dY, { dX: poisoned(x.length) });
        expect(boundRatio(dX, refDx, absDx, overlap)).toBeLessThanOrEqual(1);
        if (overlap === 1) expect(sameBits(dX, refDx)).toBe(true);
      }
      setNumThreads(initialThreads);
    });
  }
});

test('ties and NaN by hand: the first maximum wins; a NaN first cell stays, later NaNs are passed over', () => {
  const geom: Pool2dGeometry = { batch: 1, C: 1, H: 2, W: 16, kh: 2, kw: 2 }; // 8 outputs: the AVX2 block
  const N = Number.NaN;
  // Window k reads columns 2k, 2k+1 of both rows: [a b / c d].
  const rows = [
    [1, 1, 1, 1], // all equal: the first (offset 0)
    [0, 2, 2, 2], // 2 first at offset 1
    [0, 1, 3, 3], // 3 first at offset W
    [N, 5, 6, 7], // NaN first: stays NaN at offset 0
    [1, N, 0, 2], // NaN passed over: 2 at offset W + 1
    [-1, -1, -1, -1],
    [-0, 0, 0, 0], // -0 and +0 are equal: the first (-0) wins
    [4, 3, N, 4], // NaN passed over, 4 not > 4: offset 0
  ];
  const x = new Float32Array(32);
  rows.forEach(([a, b, c, d], k) => {
    x[2 * k] = a as number;
    x[2 * k + 1] = b as number;
    x[16 + 2 * k] = c as number;
    x[16 + 2 * k + 1] = d as number;
  });
  for (const level of LEVELS) {
    setSimd(level);
    const { y, argmax } = maxPool2dForward(geom, x);
    expect(Array.from(y)).toEqual([1, 2, 3, N, 2, -1, -0, 4]);
    expect(Object.is(y[6], -0)).toBe(true);
    expect(Array.from(argmax)).toEqual([0, 3, 20, 6, 25, 10, 12, 14]);
  }
  setSimd(initial.cpu.simd);
});

test('bitwise the same at every SIMD level and 1, 2, 3 threads (dX with overlapping windows too)', () => {
  for (const c of [[5, 6, 28, 28, 2, 2, 2, 2, 0, 0] as Case, [3, 4, 15, 13, 3, 3, 2, 1, 1, 1] as Case]) {
    const g = geomOf(c);
    const x = input('ties', 5, g.batch * g.C * g.H * g.W);
    const dY = uniform(6, g.batch * g.C * g.Ho * g.Wo, -1, 1);
    const runs: Buffer[][] = [];
    for (const level of LEVELS) {
      setSimd(level);
      for (const t of [1, 2, 3]) {
        setNumThreads(t);
        const { y, argmax } = maxPool2dForward(libGeom(g), x);
        const dX = maxPool2dBackward(libGeom(g), argmax, dY);
        runs.push([Buffer.from(y.buffer), Buffer.from(argmax.buffer), Buffer.from(dX.buffer)]);
      }
    }
    setSimd(initial.cpu.simd);
    setNumThreads(initialThreads);
    for (const r of runs.slice(1)) {
      r.forEach((b, i) => {
        expect(b.equals((runs[0] as Buffer[])[i] as Buffer)).toBe(true);
      });
    }
  }
});

test('accumulate adds the scatter onto dX; defaults: stride = window, padding 0, new arrays', () => {
  const g = geomOf([2, 3, 9, 10, 3, 2, 2, 1, 1, 1]);
  const x = input('uniform', 8, g.batch * g.C * g.H * g.W);
  const dY = uniform(9, g.batch * g.C * g.Ho * g.Wo, -1, 1);
  const { argmax } = maxPool2dForward(libGeom(g), x);
  const fresh = maxPool2dBackward(libGeom(g), argmax, dY);
  const base = uniform(10, x.length, -1, 1);
  const summed = maxPool2dBackward(libGeom(g), argmax, dY, { dX: base.slice(), accumulateDx: true });
  for (let i = 0; i < x.length; i++) {
    expect(Math.abs((summed[i] as number) - ((fresh[i] as number) + (base[i] as number)))).toBeLessThanOrEqual(2e-7);
  }
  const plain: Pool2dGeometry = { batch: 1, C: 2, H: 7, W: 9, kh: 3, kw: 2 };
  expect(pool2dOutputSize(plain)).toEqual({ Ho: 2, Wo: 4 });
  const x2 = input('uniform', 11, 2 * 7 * 9);
  const r = maxPool2dForward(plain, x2);
  const ref = refForward(geomOf([1, 2, 7, 9, 3, 2, 3, 2, 0, 0]), x2);
  expect(sameBits(r.y, ref.y)).toBe(true);
  expect(Array.from(r.argmax)).toEqual(Array.from(ref.argmax));
});

test('backward honours any in-plane argmax (not only cells of its own window); -0 gradients give +0', () => {
  // 2×2 stride 2 with ≥ 8 outputs a row and no accumulate writes dX cell by cell from the window's
  // own indices; an index outside its window must still land where it points (the scatter).
  const g = geomOf([2, 3, 6, 33, 2, 2, 2, 2, 0, 0]);
  const len = g.batch * g.C * g.Ho * g.Wo;
  const dY = uniform(40, len, -1, 1);
  const x = input('uniform', 41, g.batch * g.C * g.H * g.W);
  const { argmax } = maxPool2dForward(libGeom(g), x);
  for (const o of [0, 17, len - 1]) argmax[o] = (o * 7) % (g.H * g.W); // elsewhere in the plane
  for (const level of LEVELS) {
    setSimd(level);
    const dX = maxPool2dBackward(libGeom(g), argmax, dY, { dX: poisoned(x.length) });
    expect(boundRatio(dX, refBackward(g, argmax, dY), refBackward(g, argmax, abs(dY)), 2)).toBeLessThanOrEqual(1);
    const zeros = maxPool2dBackward(libGeom(g), maxPool2dForward(libGeom(g), x).argmax, new Float32Array(len).fill(-0));
    expect(zeros.every((v) => Object.is(v, 0))).toBe(true);
  }
  setSimd(initial.cpu.simd);
});

test('central differences of the native forward equal the native backward (distinct inputs, h below their spacing)', () => {
  // With distinct values at spacing ≥ 1/n no window changes its winner under a step h < 1/(2n): the
  // loss Σ w·y is linear in each x_i there, and the difference is exact up to float32 rounding of
  // x ± h (≈ 2⁻²⁵ / h ≈ 3e-5 relative at h = 1e-3); 2e-4 absolute allows it.
  for (const c of [[2, 2, 7, 9, 3, 3, 2, 2, 1, 1] as Case, [1, 3, 8, 6, 2, 2, 2, 2, 0, 0] as Case]) {
    const g = geomOf(c);
    const n = g.batch * g.C * g.H * g.W;
    const next = rng(21);
    const order = Array.from({ length: n }, (_, i) => [next(), i] as [number, number]).sort((a, b) => a[0] - b[0]);
    const x = new Float32Array(n);
    order.forEach(([, pos], rank) => {
      x[pos] = (rank + 0.5) / n - 0.5;
    });
    const w = uniform(22, g.batch * g.C * g.Ho * g.Wo, -1, 1);
    const loss = (): number => {
      const { y } = maxPool2dForward(libGeom(g), x);
      let s = 0;
      for (let k = 0; k < y.length; k++) s += (w[k] as number) * (y[k] as number);
      return s;
    };
    const { argmax } = maxPool2dForward(libGeom(g), x);
    const dX = maxPool2dBackward(libGeom(g), argmax, w);
    const h = 1e-3;
    expect(h).toBeLessThan(1 / (2 * n));
    for (let i = 0; i < n; i++) {
      const keep = x[i] as number;
      x[i] = keep + h;
      const up = loss();
      x[i] = keep - h;
      const down = loss();
      x[i] = keep;
      expect(Math.abs((up - down) / (2 * h) - (dX[i] as number))).toBeLessThanOrEqual(2e-4);
    }
  }
});

test('the MaxPool2d layer runs the op: same y as the reference, gradient to the first maximum only', () => {
  const g = geomOf([3, 4, 11, 12, 2, 2, 2, 2, 0, 0]);
  const x = { data: input('ties', 31, g.batch * g.C * g.H * g.W), shape: [g.batch, g.C, g.H, g.W] };
  const layer = new MaxPool2d(2);
  const y = layer.forward(x);
  expect(y.shape).toEqual([g.batch, g.C, g.Ho, g.Wo]);
  const ref = refForward(g, x.data);
  expect(sameBits(y.data, ref.y)).toBe(true);
  const dY = { data: uniform(32, y.data.length, -1, 1), shape: y.shape };
  const dX = layer.backward(dY, true)?.data as Float32Array;
  expect(sameBits(dX, refBackward(g, ref.argmax, dY.data))).toBe(true);
  expect(layer.backward(dY, false)).toBeNull();
  // Padding and stride through the layer.
  const g2 = geomOf([1, 2, 7, 8, 3, 3, 2, 2, 1, 1]);
  const x2 = { data: input('ties', 33, 2 * 7 * 8), shape: [1, 2, 7, 8] };
  const l2 = new MaxPool2d(3, { stride: 2, padding: 1 });
  expect(sameBits(l2.forward(x2).data, refForward(g2, x2.data).y)).toBe(true);
  // An empty batch: empty output, empty gradient.
  const l3 = new MaxPool2d(2);
  expect(l3.forward({ data: new Float32Array(0), shape: [0, 3, 4, 4] }).shape).toEqual([0, 3, 2, 2]);
  expect(l3.backward({ data: new Float32Array(0), shape: [0, 3, 2, 2] }, true)?.data.length).toBe(0);
});

describe('bad input: a DeboraError naming the argument, outputs untouched', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (isDeboraError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
    return 'no error';
  };
  const geom: Pool2dGeometry = { batch: 2, C: 3, H: 6, W: 6, kh: 2, kw: 2 };
  const x = uniform(1, 216, -1, 1);
  const dY = uniform(2, 54, -1, 1);

  test('geometry, lengths, types and options (TypeScript boundary)', () => {
    const out = new Float32Array(54).fill(7);
    const am = new Int32Array(54).fill(7);
    const dX = new Float32Array(216).fill(7);
    expect(code(() => maxPool2dForward({ ...geom, kh: 0 }, x, { out }))).toBe(
      "DEBORA_INVALID_ARG: maxPool2dForward: expected an integer in [1, 2147483647] for argument 'geom.kh', received 0",
    );
    expect(code(() => maxPool2dForward({ ...geom, padding: 2 }, x, { out }))).toMatch(
      /expected at most half the window on each axis for argument 'geom.padding', received \[2, 2\]/,
    );
    expect(code(() => maxPool2dForward({ ...geom, kw: 9 }, x, { out }))).toMatch(
      /^DEBORA_SHAPE_MISMATCH: maxPool2dForward: expected a window no larger than the padded input .*for argument 'geom'/,
    );
    expect(code(() => maxPool2dForward({ ...geom, stride: [1, 0] }, x, { out }))).toMatch(
      /argument 'geom.stride\[1\]', received 0/,
    );
    expect(code(() => maxPool2dForward(geom, x.subarray(1), { out }))).toBe(
      "DEBORA_SHAPE_MISMATCH: maxPool2dForward: expected a Float32Array of length 216 for argument 'X', received a Float32Array of length 215",
    );
    expect(code(() => maxPool2dForward(geom, x, { out: out.subarray(1) }))).toMatch(/argument 'out'/);
    expect(code(() => maxPool2dForward(geom, x, { out, argmax: new Float32Array(54) as unknown as Int32Array }))).toBe(
      "DEBORA_INVALID_ARG: maxPool2dForward: expected an Int32Array of length 54 for argument 'argmax', received a Float32Array of length 54",
    );
    expect(code(() => maxPool2dForward(geom, x, { out, argmax: am.subarray(2) }))).toMatch(
      /^DEBORA_SHAPE_MISMATCH: .*argument 'argmax', received a Int32Array of length 52/,
    );
    const shared = new Float32Array(270);
    expect(code(() => maxPool2dForward(geom, shared.subarray(0, 216), { out: shared.subarray(200, 254) }))).toMatch(
      /an array that does not overlap 'X' for argument 'out'/,
    );
    expect(code(() => maxPool2dBackward(geom, am, dY.subarray(1), { dX }))).toMatch(/argument 'dY'/);
    expect(code(() => maxPool2dBackward(geom, Array.from(am) as unknown as Int32Array, dY, { dX }))).toMatch(
      /an Int32Array of length 54 for argument 'argmax', received an Array of length 54/,
    );
    expect(code(() => maxPool2dBackward(geom, am, dY, { accumulateDx: true }))).toMatch(
      /a Float32Array to accumulate into when accumulateDx is true for argument 'dX', received undefined/,
    );
    expect(code(() => maxPool2dBackward(geom, am, dY, { dX, accumulateDx: 'yes' as unknown as boolean }))).toMatch(
      /expected a boolean for argument 'accumulateDx'/,
    );
    const both = new Float32Array(300);
    expect(code(() => maxPool2dBackward(geom, am, both.subarray(0, 54), { dX: both.subarray(10, 226) }))).toMatch(
      /an array that does not overlap 'dY' for argument 'dX'/,
    );
    expect(code(() => maxPool2dForward(geom, x, { out, backend: 'cuda' }))).toMatch(
      /^DEBORA_(BACKEND_UNAVAILABLE|NOT_IMPLEMENTED)/,
    );
    expect(out.every((v) => v === 7)).toBe(true);
    expect(am.every((v) => v === 7)).toBe(true);
    expect(dX.every((v) => v === 7)).toBe(true);
  });

  test('argmax values outside the plane are refused natively before dX is touched', () => {
    const dX = new Float32Array(216).fill(7);
    const am = new Int32Array(54);
    am[40] = 36; // H·W
    expect(code(() => maxPool2dBackward(geom, am, dY, { dX }))).toBe(
      "DEBORA_INVALID_ARG: max_pool2d_bwd: expected indices in [0, H*W) = [0, 36) for argument 'argmax', received 36 at index 40",
    );
    am[40] = 0;
    am[7] = -1;
    expect(code(() => maxPool2dBackward(geom, am, dY, { dX, accumulateDx: true }))).toMatch(
      /argument 'argmax', received -1 at index 7/,
    );
    expect(dX.every((v) => v === 7)).toBe(true);
  });

  test('the raw binding refuses short buffers, the kernel bad geometry; outputs untouched', () => {
    const raw = addon() as unknown as {
      maxPool2dFwd(b: number, g: number[], x: Float32Array, y: Float32Array, am: Int32Array | null): void;
      maxPool2dBwd(b: number, g: number[], am: Int32Array, dY: Float32Array, dX: Float32Array, acc: boolean): void;
    };
    const g10 = [2, 3, 6, 6, 2, 2, 2, 2, 0, 0];
    const y = new Float32Array(54).fill(7);
    const dX = new Float32Array(216).fill(7);
    expect(code(() => raw.maxPool2dFwd(0, g10, x, y.subarray(1), null))).toBe(
      "DEBORA_SHAPE_MISMATCH: max_pool2d_fwd: expected a Float32Array of length 54 for argument 'y', received length 53",
    );
    expect(code(() => raw.maxPool2dFwd(0, g10, x, y, new Int32Array(53)))).toBe(
      "DEBORA_SHAPE_MISMATCH: max_pool2d_fwd: expected an Int32Array of length 54 for argument 'argmax', received length 53",
    );
    expect(code(() => raw.maxPool2dBwd(0, g10, new Int32Array(54), dY, dX.subarray(1), false))).toMatch(
      /argument 'dX', received length 215/,
    );
    expect(code(() => raw.maxPool2dFwd(0, [2, 3, 6, 6, 3, 3, 2, 2, 2, 0], x, y, null))).toBe(
      "DEBORA_INVALID_ARG: max_pool2d_fwd: expected pad_h <= kh/2 for argument 'geom.pad_h', received pad_h=2, kh=3",
    );
    expect(code(() => raw.maxPool2dFwd(0, [2, 3, 6], x, y, null))).toMatch(/10 integers for argument 'geom'/);
    expect(code(() => raw.maxPool2dFwd(1, g10, x, y, null))).toMatch(/^DEBORA_NOT_IMPLEMENTED: max_pool2d_fwd/);
    expect(y.every((v) => v === 7)).toBe(true);
    expect(dX.every((v) => v === 7)).toBe(true);
  });
});
