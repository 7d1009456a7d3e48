/**
 * relu.test.ts — op relu (the ReLU layer's rectifier) against its definition on seeded inputs of
 * awkward lengths (1, primes, the AVX2 width 8 ± 1 and unroll 32 ± 1, the pool chunk 16384 ± 1, a
 * size split over the pool), with NaN, ±0, ±∞ and subnormals mixed in and outputs NaN-poisoned
 * first; at the scalar and the best SIMD level and 1–3 threads; backward from x and from y, in
 * place, accumulate; central finite differences away from the kink; the ReLU layer on top; bad
 * input (a DeboraError naming the argument, outputs untouched).
 *
 * Tolerance: none. y = x > 0 ? x : 0 and dX = x > 0 ? dY : 0 are selections, so every path must
 * reproduce the float64 reference bit for bit (as float32); accumulate is one float32 add, which the
 * reference does the same way (Math.fround).
 */
import { getNumThreads, info, isDeboraError, SIMD_LEVELS, type SimdLevel, setNumThreads, setSimd } from '../../lib';
import { addon } from '../../lib/native';
import { ReLU } from '../../lib/nn/activation';
import { reluBackward, reluForward } from '../../lib/ops';
import { poisoned, rng, uniform } from '../helpers/random';

const { fround } = Math;

const initial = info();
const bestSimd = initial.cpu.simdSupported;
const initialThreads = getNumThreads();
const LEVELS: SimdLevel[] = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(bestSimd) + 1);
afterAll(() => {
  setSimd(initial.cpu.simd);
  setNumThreads(initialThreads);
});

const SIZES = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 97, 16383, 16384, 16385, 100003];
const SPECIALS = [Number.NaN, -0, 0, Infinity, -Infinity, 1e-40, -1e-40, 3.4e38, -3.4e38];

/** Uniform in [-1, 1] with every 7th element one of SPECIALS. */
function input(seed: number, n: number): Float32Array {
  const x = uniform(seed, n, -1, 1);
  for (let i = 0, k = 0; i < n; i += 7, k++) x[i] = SPECIALS[k % SPECIALS.length] as number;
  return x;
}

/** The definition, in float64 (exact: no arithmetic). */
// biome-ignore lint/complexity/useMathMinMax: not Math.max, which keeps NaN (and is the wrong definition here)
const refFwd = (x: Float32Array): Float64Array => Float64Array.from(x, (v) => (v > 0 ? v : 0));
const refBwd = (m: Float32Array, dY: Float32Array): Float64Array =>
  Float64Array.from(m, (v, i) => (v > 0 ? (dY[i] as number) : 0));

/** Bitwise equality of a Float32Array with a reference rounded to float32 (NaN equal to NaN, +0 ≠ −0). */
function sameBits(got: Float32Array, ref: ArrayLike<number>): boolean {
  const want = Float32Array.from(ref as ArrayLike<number>);
  return Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer));
}

describe.each(LEVELS)('relu at SIMD level %s', (level) => {
  beforeAll(() => setSimd(level));

  test.each(SIZES)('forward and backward equal the definition bitwise, 1-3 threads: n = %i', (n) => {
    const x = input(n, n);
    const dY = uniform(n + 1, n, -1, 1);
    const base = uniform(n + 2, n, -1, 1);
    const y0 = refFwd(x);
    const g0 = refBwd(x, dY);
    const acc0 = Float64Array.from(base, (b, i) => fround(b + (g0[i] as number)));
    for (const t of [1, 2, 3]) {
      setNumThreads(t);
      const y = reluForward(x, { out: poisoned(n) });
      expect(sameBits(y, y0)).toBe(true);
      expect(sameBits(reluBackward(x, dY, { dX: poisoned(n) }), g0)).toBe(true);
      // y > 0 exactly where x > 0, so the output serves as the mask too.
      expect(sameBits(reluBackward(y, dY, { dX: poisoned(n) }), g0)).toBe(true);
      expect(sameBits(reluBackward(x, dY, { dX: base.slice(), accumulateDx: true }), acc0)).toBe(true);
    }
    setNumThreads(initialThreads);
  });
});

test('special values: NaN, -0 and -Infinity give +0; +0 for the masked gradient, dY bits elsewhere', () => {
  const x = new Float32Array([Number.NaN, -0, 0, -Infinity, Infinity, 1e-40, -1e-40, 2, -2]);
  const y = reluForward(x);
  expect(Array.from(y)).toEqual([0, 0, 0, 0, Infinity, Math.fround(1e-40), 0, 2, 0]);
  for (const v of y) expect(Object.is(v, -0)).toBe(false);
  const dY = new Float32Array([5, 5, 5, 5, -0, Number.NaN, 5, Number.NaN, Number.NaN]);
  const dX = reluBackward(x, dY);
  expect(Array.from(dX)).toEqual([0, 0, 0, 0, -0, Number.NaN, 0, Number.NaN, 0]);
  expect(Object.is(dX[4], -0)).toBe(true);
  for (const i of [0, 1, 2, 3, 6, 8]) expect(Object.is(dX[i], 0)).toBe(true);
});

test('in place: out may be x, dX may be dY or the mask', () => {
  const n = 1009;
  const x = input(3, n);
  const y0 = refFwd(x);
  const dY = uniform(4, n, -1, 1);
  const g0 = refBwd(x, dY);
  const xi = x.slice();
  expect(reluForward(xi, { out: xi })).toBe(xi);
  expect(sameBits(xi, y0)).toBe(true);
  const d = dY.slice();
  expect(reluBackward(x, d, { dX: d })).toBe(d);
  expect(sameBits(d, g0)).toBe(true);
  const m = x.slice();
  reluBackward(m, dY, { dX: m });
  expect(sameBits(m, g0)).toBe(true);
  // Views of one buffer that coincide exactly are the same array.
  const buf = x.slice();
  reluForward(new Float32Array(buf.buffer, 0, n), { out: new Float32Array(buf.buffer, 0, n) });
  expect(sameBits(buf, y0)).toBe(true);
});

test('central differences of the native forward equal the native backward (|x| >= 0.1, h = 1e-2)', () => {
  // L = Σ w·relu(x) is linear in each x_i away from the kink: the difference is exact up to the
  // float32 rounding of x ± h and of relu's output (≈ 2⁻²⁴·|x| / h ≈ 6e-6 relative); 1e-4 allows it.
  const n = 257;
  const next = rng(9);
  const x = Float32Array.from({ length: n }, () => {
    const v = 2 * next() - 1;
    return v < 0 ? v - 0.1 : v + 0.1;
  });
  const w = uniform(10, n, -1, 1);
  const loss = (xx: Float32Array): number => {
    const y = reluForward(xx);
    let s = 0;
    for (let i = 0; i < n; i++) s += (w[i] as number) * (y[i] as number);
    return s;
  };
  const g = reluBackward(x, w);
  const h = 1e-2;
  for (let i = 0; i < n; i++) {
    const keep = x[i] as number;
    x[i] = keep + h;
    const up = loss(x);
    x[i] = keep - h;
    const down = loss(x);
    x[i] = keep;
    const fd = (up - down) / (2 * h);
    expect(Math.abs(fd - (g[i] as number))).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(g[i] as number)));
  }
});

test('the ReLU layer runs the op: forward, backward, needInputGrad false', () => {
  const x = { data: input(5, 3 * 5 * 7 * 11), shape: [3, 5, 7, 11] };
  const layer = new ReLU();
  const y = layer.forward(x);
  expect(y.shape).toEqual(x.shape);
  expect(sameBits(y.data, refFwd(x.data))).toBe(true);
  const dY = { data: uniform(6, x.data.length, -1, 1), shape: x.shape };
  const dx = layer.backward(dY, true);
  expect(sameBits(dx?.data as Float32Array, refBwd(x.data, dY.data))).toBe(true);
  expect(layer.backward(dY, false)).toBeNull();
  // batch 1 and an empty batch
  const one = { data: input(7, 13), shape: [1, 13] };
  expect(sameBits(new ReLU().forward(one).data, refFwd(one.data))).toBe(true);
  const empty = new ReLU();
  expect(empty.forward({ data: new Float32Array(0), shape: [0, 4] }).data.length).toBe(0);
  expect(empty.backward({ data: new Float32Array(0), shape: [0, 4] }, true)?.data.length).toBe(0);
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
  const x = uniform(1, 64, -1, 1);
  const dY = uniform(2, 64, -1, 1);

  test('TypeScript boundary', () => {
    const out = new Float32Array(64).fill(7);
    expect(code(() => reluForward(Array.from(x) as unknown as Float32Array))).toBe(
      "DEBORA_INVALID_ARG: reluForward: expected a Float32Array for argument 'x', received an Array of length 64",
    );
    expect(code(() => reluForward(x, { out: out.subarray(1) }))).toBe(
      "DEBORA_SHAPE_MISMATCH: reluForward: expected a Float32Array of length 64 for argument 'out', received a Float32Array of length 63",
    );
    expect(code(() => reluBackward(x, dY.subarray(1), { dX: out }))).toMatch(
      /^DEBORA_SHAPE_MISMATCH: reluBackward: .*length 64 for argument 'dY'/,
    );
    expect(code(() => reluBackward(x, dY, { dX: new Float64Array(64) as unknown as Float32Array }))).toMatch(
      /argument 'dX', received a Float64Array of length 64/,
    );
    expect(code(() => reluBackward(x, dY, { accumulateDx: true }))).toMatch(
      /a Float32Array to accumulate into when accumulateDx is true for argument 'dX', received undefined/,
    );
    expect(code(() => reluBackward(x, dY, { dX: out, accumulateDx: 1 as unknown as boolean }))).toMatch(
      /expected a boolean for argument 'accumulateDx', received 1/,
    );
    const buf = new Float32Array(65).fill(7);
    expect(code(() => reluForward(buf.subarray(0, 64), { out: buf.subarray(1) }))).toBe(
      "DEBORA_INVALID_ARG: reluForward: expected the same array as 'x' or one that does not overlap it for argument 'out', received a partial overlap",
    );
    expect(code(() => reluBackward(x, buf.subarray(1), { dX: buf.subarray(0, 64) }))).toMatch(
      /the same array as 'dY' .* for argument 'dX', received a partial overlap/,
    );
    expect(code(() => reluForward(x, { backend: 'gpu' as 'cuda' }))).toMatch(/argument 'backend'/);
    expect(code(() => reluForward(x, { out, backend: 'cuda' }))).toMatch(
      /^DEBORA_(BACKEND_UNAVAILABLE|NOT_IMPLEMENTED)/,
    );
    expect(out.every((v) => v === 7)).toBe(true);
    expect(buf.every((v) => v === 7)).toBe(true);
  });

  test('the raw binding and the kernel refuse what the wrapper would', () => {
    const raw = addon() as unknown as {
      reluFwd(b: number, x: Float32Array, y: Float32Array): void;
      reluBwd(b: number, m: Float32Array, dY: Float32Array, dX: Float32Array, acc: boolean): void;
    };
    const out = new Float32Array(64).fill(7);
    expect(code(() => raw.reluFwd(0, x, out.subarray(1)))).toBe(
      "DEBORA_SHAPE_MISMATCH: relu_fwd: expected a Float32Array of length 64 for argument 'y', received length 63",
    );
    expect(code(() => raw.reluBwd(0, x, dY, new Int32Array(64) as unknown as Float32Array, false))).toBe(
      "DEBORA_INVALID_ARG: relu_bwd: expected a Float32Array for argument 'dX'",
    );
    const buf = new Float32Array(65).fill(7);
    expect(code(() => raw.reluFwd(0, buf.subarray(0, 64), buf.subarray(1)))).toMatch(
      /^DEBORA_INVALID_ARG: relu_fwd: .*partial overlap for argument 'y'/,
    );
    expect(code(() => raw.reluFwd(2, x, out))).toMatch(/^DEBORA_INVALID_ARG: relu_fwd: .*argument 'backend'/);
    expect(out.every((v) => v === 7)).toBe(true);
    expect(buf.every((v) => v === 7)).toBe(true);
  });
});
