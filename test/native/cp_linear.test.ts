/**
 * cp_linear.test.ts — op cp_linear (matrix adapter, activation route) against the float64
 * reference on seeded awkward shapes (1, primes, SIMD width ± 1, the 64-row block ± 1, r up to
 * 256), with every SIMD path this CPU has; outputs large enough for streaming stores at unaligned
 * offsets (every offset within a line where the rows are a multiple of 16 floats); the reference backward against central finite
 * differences; options (accumulate, Z reuse, no dX, dots, async); the d = 2 hypergradient
 * identity; and bad input (clear error, outputs untouched).
 * Tolerance: γ_k·Σ|terms| with k = nIn + nOut + N + r + 4, the worst-case float32 summation
 * bound over the longest chain of sums an output depends on (see test/helpers/compare.ts).
 */
import {
  cpHypergrad,
  cpLinearBackward,
  cpLinearBackwardAsync,
  cpLinearForward,
  cpLinearForwardAsync,
  getNumThreads,
  info,
  isDeboraError,
  SIMD_LEVELS,
  type SimdLevel,
  setNumThreads,
  setSimd,
} from '../../lib';
import { abs, boundRatio, sameBits } from '../helpers/compare';
import { loopTurnsDuring } from '../helpers/event_loop';
import { poisoned, uniform } from '../helpers/random';
import { linearBackward, linearForward, linearLoss } from '../helpers/reference_linear';

const best = info().cpu.simdSupported;
// Every level up to the best: the AVX-512 level runs a last 8 columns in the AVX2 code, and a
// machine with AVX-512 must still test the AVX2 level that others run.
const LEVELS: SimdLevel[] = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(best) + 1);

afterAll(() => setSimd(best));

function problem(seed: number, N: number, nIn: number, nOut: number, r: number) {
  return {
    N,
    nIn,
    nOut,
    r,
    X: uniform(seed, N * nIn, -1, 1),
    U: uniform(seed + 1, nOut * r, -1, 1),
    V: uniform(seed + 2, nIn * r, -1, 1),
    s: uniform(seed + 3, r, 0.05, 2),
    dY: uniform(seed + 4, N * nOut, -1, 1),
  };
}

/** Every output of a backward with dX and dots against the float64 reference, within γ_k (dots: γ_2k). */
function expectBackwardMatches(p: ReturnType<typeof problem>, g: ReturnType<typeof cpLinearBackward>): void {
  const { N, nIn, nOut, r } = p;
  const ref = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.dY);
  const a = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.dY));
  const k = nIn + nOut + N + r + 4;
  expect(boundRatio(g.dX as Float32Array, ref.dX, a.dX, k)).toBeLessThanOrEqual(1);
  expect(boundRatio(g.dU, ref.dU, a.dU, k)).toBeLessThanOrEqual(1);
  expect(boundRatio(g.dV, ref.dV, a.dV, k)).toBeLessThanOrEqual(1);
  expect(boundRatio(g.ds, ref.ds, a.ds, k)).toBeLessThanOrEqual(1);
  // dots_i = <U_i, dU_i> + <V_i, dV_i>, from the same pass
  const dots = new Float64Array(r);
  const absDots = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < nOut; j++) {
      dots[i] = (dots[i] as number) + (p.U[j * r + i] as number) * (ref.dU[j * r + i] as number);
      absDots[i] = (absDots[i] as number) + Math.abs(p.U[j * r + i] as number) * (a.dU[j * r + i] as number);
    }
    for (let q = 0; q < nIn; q++) {
      dots[i] = (dots[i] as number) + (p.V[q * r + i] as number) * (ref.dV[q * r + i] as number);
      absDots[i] = (absDots[i] as number) + Math.abs(p.V[q * r + i] as number) * (a.dV[q * r + i] as number);
    }
  }
  expect(boundRatio(g.dots as Float32Array, dots, absDots, 2 * k)).toBeLessThanOrEqual(1);
}

// [N, nIn, nOut, r]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [3, 7, 5, 1],
  [2, 1, 9, 8],
  [17, 9, 15, 7],
  [21, 10, 14, 6], // K = 10 and 14: AVX-512's k1 at rp = 8 (four k per vector) with a last two k
  [6, 2, 3, 8], // K = 2 and 3: that k1 with only a partial step
  [5, 1, 2, 13], // rp = 16 with K = 1 and 2: k1 (two k per vector) with only a partial step, k3's odd last row
  [63, 8, 17, 9],
  [64, 16, 16, 16],
  [65, 33, 31, 17],
  [129, 24, 7, 24],
  [300, 40, 23, 33],
  [5, 13, 11, 256],
];

describe.each(LEVELS)('simd %s', (level) => {
  beforeAll(() => setSimd(level));

  test.each(SHAPES)('forward N=%i nIn=%i nOut=%i r=%i matches float64', (N, nIn, nOut, r) => {
    const p = problem(N * 131 + r, N, nIn, nOut, r);
    const base = uniform(7, N * nOut, -1, 1);
    const out = base.slice();
    const { Y, Z } = cpLinearForward(p, { out, accumulate: true, Z: poisoned(N * r) });
    const ref = linearForward(N, nIn, nOut, r, p.X, p.U, p.V, p.s);
    const absRef = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s));
    const k = nIn + nOut + N + r + 4;
    const refY = ref.Y.map((v, q) => v + (base[q] as number));
    const absY = absRef.Y.map((v, q) => v + Math.abs(base[q] as number));
    expect(Y).toBe(out);
    expect(boundRatio(Y, refY, absY, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(Z as Float32Array, ref.Z, absRef.Z, k)).toBeLessThanOrEqual(1);
    // Overwrite mode writes every element (poisoned output).
    const fresh = cpLinearForward(p, { out: poisoned(N * nOut) }).Y;
    expect(boundRatio(fresh, ref.Y, absRef.Y, k)).toBeLessThanOrEqual(1);
  });

  test.each(SHAPES)('backward N=%i nIn=%i nOut=%i r=%i matches float64', (N, nIn, nOut, r) => {
    const p = problem(N * 977 + r, N, nIn, nOut, r);
    const g = cpLinearBackward(p, {
      dX: poisoned(N * nIn),
      dU: poisoned(nOut * r),
      dV: poisoned(nIn * r),
      ds: poisoned(r),
      dots: poisoned(r),
    });
    expectBackwardMatches(p, g);
  });
});

// Outputs of >= 4 MiB that are overwritten go out through a staging strip with streaming stores,
// and with inputs of >= 4 MiB the backward fetches each block's X rows during its dY pass (with Z
// given) in blocks sized to L2 (128 rows at 1 MiB, 120 at 784 + 768; 64 from cache). These paths, and the micro-kernels' column-tile
// mixes (rp = 48: 4 + 2 vectors, rp = 56: 4 + 2 + 1) and multi-panel accumulation, on awkward
// shapes, with outputs at an unaligned offset (the strip's head and tail use plain stores) and
// poisoned beforehand, against the float64 reference.
function unaligned(n: number): Float32Array {
  const v = new Float32Array(new ArrayBuffer(4 * (n + 1)), 4, n);
  v.fill(Number.NaN);
  return v;
}

describe.each(LEVELS)('simd %s, large outputs and wide ranks', (level) => {
  beforeAll(() => setSimd(level));
  // [N, nIn, nOut, r]
  test.each([
    [1800, 37, 701, 9], // Y streamed (5.0 MB), inputs from DRAM in the backward
    [1300, 967, 29, 17], // dX streamed (5.0 MB), inputs from DRAM in the backward
    [150000, 5, 7, 3], // Y streamed with rows narrower than one vector (head/tail stores only)
    [1400, 767, 769, 7], // both streamed, rp = 8 from DRAM: L2-sized backward blocks (128 rows at 1 MiB), a partial last one
    [600, 340, 310, 45], // rp = 48
    [700, 301, 333, 53], // rp = 56
  ])('N=%i nIn=%i nOut=%i r=%i, Z reused', (N, nIn, nOut, r) => {
    const p = problem(N + nIn + r, N, nIn, nOut, r);
    const { Y, Z } = cpLinearForward(p, { out: unaligned(N * nOut), Z: poisoned(N * r) });
    const g = cpLinearBackward(p, {
      Z: Z as Float32Array,
      dX: unaligned(N * nIn),
      dU: poisoned(nOut * r),
      dV: poisoned(nIn * r),
      ds: poisoned(r),
    });
    const ref = linearForward(N, nIn, nOut, r, p.X, p.U, p.V, p.s);
    const absRef = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s));
    const rb = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.dY);
    const ab = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.dY));
    const k = nIn + nOut + N + r + 4;
    expect(boundRatio(Y, ref.Y, absRef.Y, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(g.dX as Float32Array, rb.dX, ab.dX, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(g.dU, rb.dU, ab.dU, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(g.dV, rb.dV, ab.dV, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(g.ds, rb.ds, ab.ds, k)).toBeLessThanOrEqual(1);
  });

  // Accumulating into Y and dX across several 16 KiB panels of the transposed factor, small (in
  // cache) and large (inputs from DRAM, no streaming since the outputs are read).
  test.each([
    [90, 301, 333, 16],
    [1800, 701, 37, 9],
  ])('accumulate: N=%i nIn=%i nOut=%i r=%i', (N, nIn, nOut, r) => {
    const p = problem(3 * N + r, N, nIn, nOut, r);
    const baseY = uniform(17, N * nOut, -1, 1);
    const baseX = uniform(18, N * nIn, -1, 1);
    const Y = cpLinearForward(p, { out: baseY.slice(), accumulate: true }).Y;
    const dX = cpLinearBackward(p, { dX: baseX.slice(), accumulateDx: true }).dX as Float32Array;
    const ref = linearForward(N, nIn, nOut, r, p.X, p.U, p.V, p.s);
    const absRef = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s));
    const rb = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.dY);
    const ab = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.dY));
    const k = nIn + nOut + N + r + 5;
    const plus = (v: Float64Array, b: Float32Array, absolute: boolean) =>
      v.map((x, q) => x + (absolute ? Math.abs(b[q] as number) : (b[q] as number)));
    expect(boundRatio(Y, plus(ref.Y, baseY, false), plus(absRef.Y, baseY, true), k)).toBeLessThanOrEqual(1);
    expect(boundRatio(dX, plus(rb.dX, baseX, false), plus(ab.dX, baseX, true), k)).toBeLessThanOrEqual(1);
  });
});

// Rows a multiple of 16 floats: at the AVX-512 level a streamed Y or dX goes out straight from the register tiles
// with aligned non-temporal stores from the first 64-byte boundary of each row, and the floats before it (the head)
// and after the last whole vector (the tail) with plain stores; the other levels use the staging strip. At each of
// the 16 offsets of the output within a line: bitwise equal to the same product accumulated onto zeros (which
// never streams), every element written, nothing written outside the output; at one offset also against float64.
describe.each(LEVELS)('simd %s, streamed outputs at every offset within a cache line', (level) => {
  beforeAll(() => setSimd(level));
  // [N, nIn, nOut, r]: Y 4.3 MB and dX 4.4 MB, both over the 4 MiB streaming threshold.
  const shapes: [number, number, number, number][] = [
    [1400, 784, 768, 9],
    [1401, 800, 752, 8],
  ];
  test.each(shapes)('N=%i nIn=%i nOut=%i r=%i', (N, nIn, nOut, r) => {
    const p = problem(N + r, N, nIn, nOut, r);
    const Yacc = cpLinearForward(p, { out: new Float32Array(N * nOut), accumulate: true }).Y;
    const dXacc = cpLinearBackward(p, { dX: new Float32Array(N * nIn), accumulateDx: true }).dX as Float32Array;
    const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    // The output at `offset` floats into a NaN-filled buffer, with 32 - offset guard floats after it.
    const view = (n: number, offset: number) => {
      const all = new Float32Array(n + 32).fill(Number.NaN);
      return { all, out: all.subarray(offset, offset + n) };
    };
    const guardsIntact = (all: Float32Array, offset: number, n: number) =>
      all.subarray(0, offset).every(Number.isNaN) && all.subarray(offset + n).every(Number.isNaN);
    for (let offset = 0; offset < 16; offset++) {
      const y = view(N * nOut, offset);
      cpLinearForward(p, { out: y.out });
      const dx = view(N * nIn, offset);
      cpLinearBackward(p, { dX: dx.out });
      expect([offset, bytes(y.out).equals(bytes(Yacc)), guardsIntact(y.all, offset, N * nOut)]).toEqual([
        offset,
        true,
        true,
      ]);
      expect([offset, bytes(dx.out).equals(bytes(dXacc)), guardsIntact(dx.all, offset, N * nIn)]).toEqual([
        offset,
        true,
        true,
      ]);
    }
    const ref = linearForward(N, nIn, nOut, r, p.X, p.U, p.V, p.s);
    const absRef = linearForward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s));
    const rb = linearBackward(N, nIn, nOut, r, p.X, p.U, p.V, p.s, p.dY);
    const ab = linearBackward(N, nIn, nOut, r, abs(p.X), abs(p.U), abs(p.V), abs(p.s), abs(p.dY));
    const y = view(N * nOut, 5);
    cpLinearForward(p, { out: y.out });
    const dx = view(N * nIn, 5);
    cpLinearBackward(p, { dX: dx.out });
    const k = nIn + nOut + N + r + 4;
    expect(boundRatio(y.out, ref.Y, absRef.Y, k)).toBeLessThanOrEqual(1);
    expect(boundRatio(dx.out, rb.dX, ab.dX, k)).toBeLessThanOrEqual(1);
  });
});

describe('large outputs are bitwise repeatable', () => {
  const p = problem(5, 1800, 37, 701, 9);
  const q = problem(6, 1300, 967, 29, 17);
  afterEach(() => setNumThreads(defaultThreads));
  const defaultThreads = getNumThreads();

  test('a streamed Y equals the same product accumulated onto zeros, and does not depend on the thread count', () => {
    const streamed = cpLinearForward(p).Y;
    const accumulated = cpLinearForward(p, { out: new Float32Array(p.N * p.nOut), accumulate: true }).Y;
    expect(Buffer.from(streamed.buffer).equals(Buffer.from(accumulated.buffer))).toBe(true);
    setNumThreads(1);
    const one = cpLinearForward(p).Y;
    setNumThreads(3);
    const three = cpLinearForward(p).Y;
    expect(Buffer.from(one.buffer).equals(Buffer.from(streamed.buffer))).toBe(true);
    expect(Buffer.from(three.buffer).equals(Buffer.from(streamed.buffer))).toBe(true);
  });

  test('more than two threads: the partials, and the dots with them, are reduced by all threads', () => {
    // Four chunks of rows (N >= 4 x 128) with partials of (nOut + nIn + 1) x rp >= 2^14 floats take the
    // parallel reduction, each share of the rows summing its own dots; poisoned outputs, float64 reference.
    const t = problem(7, 601, 613, 389, 19);
    setNumThreads(4);
    // Twice: the second call finds the first one's partials in the reused workspace (each must be cleared).
    cpLinearBackward(t, { dots: true });
    const g = cpLinearBackward(t, {
      dX: poisoned(t.N * t.nIn),
      dU: poisoned(t.nOut * t.r),
      dV: poisoned(t.nIn * t.r),
      ds: poisoned(t.r),
      dots: poisoned(t.r),
    });
    expectBackwardMatches(t, g);
    // Tighter: dots against the returned dU and dV themselves (float64 sums), within the rounding of its own
    // n_out + n_in products and 4 partial sums only.
    const dots = new Float64Array(t.r);
    const absDots = new Float64Array(t.r);
    for (const [F, dF, rows] of [
      [t.U, g.dU, t.nOut],
      [t.V, g.dV, t.nIn],
    ] as const) {
      for (let j = 0; j < rows; j++) {
        for (let i = 0; i < t.r; i++) {
          const v = (F[j * t.r + i] as number) * (dF[j * t.r + i] as number);
          dots[i] = (dots[i] as number) + v;
          absDots[i] = (absDots[i] as number) + Math.abs(v);
        }
      }
    }
    expect(boundRatio(g.dots as Float32Array, dots, absDots, t.nOut + t.nIn + 6)).toBeLessThanOrEqual(1);
  });

  test('repeated backward calls with streaming and inputs from DRAM give identical outputs', () => {
    const a = cpLinearBackward(q, { dots: true });
    const b = cpLinearBackward(q, { dots: true });
    for (const key of ['dX', 'dU', 'dV', 'ds', 'dots'] as const) {
      const x = a[key] as Float32Array;
      const y = b[key] as Float32Array;
      expect(
        Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)),
      ).toBe(true);
    }
  });
});

test('the float64 reference backward equals central finite differences of the loss ⟨dY, Y⟩', () => {
  const [N, nIn, nOut, r] = [3, 4, 5, 3];
  const p = problem(42, N, nIn, nOut, r);
  const X = Float64Array.from(p.X);
  const U = Float64Array.from(p.U);
  const V = Float64Array.from(p.V);
  const s = Float64Array.from(p.s);
  const ref = linearBackward(N, nIn, nOut, r, X, U, V, s, p.dY);
  const h = 1e-6;
  const check = (arr: Float64Array, grad: Float64Array) => {
    for (let q = 0; q < arr.length; q++) {
      const keep = arr[q] as number;
      arr[q] = keep + h;
      const lp = linearLoss(N, nIn, nOut, r, X, U, V, s, p.dY);
      arr[q] = keep - h;
      const lm = linearLoss(N, nIn, nOut, r, X, U, V, s, p.dY);
      arr[q] = keep;
      const fd = (lp - lm) / (2 * h);
      expect(Math.abs(fd - (grad[q] as number))).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
    }
  };
  check(X, ref.dX);
  check(U, ref.dU);
  check(V, ref.dV);
  check(s, ref.ds);
});

test('Z from the forward pass gives the same backward as recomputing it; no-dX skips dX', () => {
  const p = problem(5, 70, 19, 13, 10);
  const { Z } = cpLinearForward(p, { Z: true });
  const a = cpLinearBackward(p, { Z });
  const b = cpLinearBackward(p);
  expect(Array.from(a.dU)).toEqual(Array.from(b.dU));
  expect(Array.from(a.ds)).toEqual(Array.from(b.ds));
  const c = cpLinearBackward(p, { computeDx: false });
  expect(c.dX).toBeUndefined();
  expect(Array.from(c.dV)).toEqual(Array.from(b.dV));
});

test('accumulateDx adds onto the given dX', () => {
  const p = problem(6, 33, 12, 9, 5);
  const base = uniform(99, 33 * 12, -1, 1);
  const plain = cpLinearBackward(p).dX as Float32Array;
  const acc = cpLinearBackward(p, { dX: base.slice(), accumulateDx: true }).dX as Float32Array;
  for (let q = 0; q < base.length; q++) {
    expect(Math.abs((acc[q] as number) - ((plain[q] as number) + (base[q] as number)))).toBeLessThan(1e-5);
  }
});

test('repeated calls are bitwise deterministic', () => {
  const p = problem(8, 1000, 48, 40, 12);
  const a = cpLinearBackward(p);
  const b = cpLinearBackward(p);
  expect(Buffer.from(a.dU.buffer).equals(Buffer.from(b.dU.buffer))).toBe(true);
  expect(Buffer.from(a.ds.buffer).equals(Buffer.from(b.ds.buffer))).toBe(true);
});

test('hypergradient identity (d = 2, Euclidean): dots = 2·s⊙ds, so G̃ = −ds', () => {
  const p = problem(11, 257, 21, 18, 6);
  const g = cpLinearBackward(p, { dots: true });
  const G = cpHypergrad(g.ds, p.s, g.dots as Float32Array, { backend: 'cpu' });
  for (let i = 0; i < p.r; i++) {
    const ds = g.ds[i] as number;
    // dots and 2·s·ds are the same sum in two orders: relative 1e-4 is ~1000 float32 roundings
    expect(Math.abs((g.dots?.[i] as number) - 2 * (p.s[i] as number) * ds)).toBeLessThan(
      1e-4 * (1 + Math.abs(2 * (p.s[i] as number) * ds)),
    );
    expect(Math.abs((G[i] as number) + ds)).toBeLessThan(1e-4 * (1 + Math.abs(ds)));
  }
});

test('async variants give the same results and leave the event loop free', async () => {
  const p = problem(12, 2048, 512, 384, 64);
  const syncY = cpLinearForward(p).Y;
  const syncG = cpLinearBackward(p);
  // The counter sees no turn during synchronous calls (the JS thread is held)...
  expect(await loopTurnsDuring(() => [cpLinearForward(p), cpLinearBackward(p)])).toBe(0);
  // ...and at least one across two async calls awaited in turn (see test/helpers/event_loop.ts).
  let fa: Awaited<ReturnType<typeof cpLinearForwardAsync>> | undefined;
  let ba: Awaited<ReturnType<typeof cpLinearBackwardAsync>> | undefined;
  const turns = await loopTurnsDuring(async () => {
    fa = await cpLinearForwardAsync(p);
    ba = await cpLinearBackwardAsync(p);
  });
  expect(turns).toBeGreaterThan(0);
  // Both at once (two worker threads sharing the CPU pool): the same bits again.
  const [fc, bc] = await Promise.all([cpLinearForwardAsync(p), cpLinearBackwardAsync(p)]);
  for (const f of [fa, fc]) expect(sameBits(f?.Y, syncY)).toBe(true);
  for (const b of [ba, bc])
    for (const k of ['dX', 'dU', 'dV', 'ds'] as const) expect(sameBits(b?.[k], syncG[k])).toBe(true);
  // errors reject with the same DeboraError
  const bad = { ...p, s: p.s.slice() };
  bad.s[3] = Number.NaN;
  await expect(cpLinearForwardAsync(bad)).rejects.toMatchObject({
    name: 'DeboraError',
    code: 'DEBORA_NON_FINITE',
  });
});

test('N = 0 is a valid empty batch (gradients are zero)', () => {
  const p = problem(13, 0, 5, 4, 3);
  expect(cpLinearForward(p).Y.length).toBe(0);
  const g = cpLinearBackward(p);
  expect(Array.from(g.dU)).toEqual(new Array(12).fill(0));
});

describe('bad input: clear error naming the argument, outputs untouched', () => {
  const p = problem(14, 6, 5, 4, 3);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (isDeboraError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
    return 'no error';
  };

  test('wrong lengths and sizes', () => {
    expect(code(() => cpLinearForward({ ...p, V: p.V.subarray(1) }))).toBe(
      "DEBORA_SHAPE_MISMATCH: cpLinearForward: expected a Float32Array of length 15 for argument 'V', received a Float32Array of length 14",
    );
    expect(code(() => cpLinearForward({ ...p, r: 0 }))).toMatch(/^DEBORA_INVALID_ARG: .*argument 'r', received 0/);
    expect(code(() => cpLinearForward({ ...p, N: -1 }))).toMatch(/argument 'N', received -1/);
    expect(code(() => cpLinearBackward({ ...p, dY: new Float32Array(3) }))).toMatch(/argument 'dY'/);
    expect(code(() => cpLinearForward(p, { accumulate: true }))).toMatch(/'accumulate' needs an 'out'/);
  });

  test('non-finite s is refused before anything is written', () => {
    const s = p.s.slice();
    s[1] = Number.POSITIVE_INFINITY;
    const out = new Float32Array(6 * 4).fill(7);
    const dU = new Float32Array(4 * 3).fill(7);
    expect(code(() => cpLinearForward({ ...p, s }, { out }))).toBe(
      "DEBORA_NON_FINITE: cp_linear_fwd: expected finite values for argument 's', received Infinity at index 1",
    );
    expect(code(() => cpLinearBackward({ ...p, s }, { dU }))).toMatch(/^DEBORA_NON_FINITE: cp_linear_bwd/);
    expect(out.every((v) => v === 7)).toBe(true);
    expect(dU.every((v) => v === 7)).toBe(true);
  });

  test("backend 'cuda' runs the CUDA twin where a GPU is usable and is refused clearly elsewhere", () => {
    expect(code(() => cpLinearForward(p, { backend: 'cpu' }))).toBe('no error');
    const c = code(() => cpLinearForward(p, { backend: 'cuda' }));
    if (info().cuda.available) expect(c).toBe('no error');
    else expect(c).toMatch(/^DEBORA_BACKEND_UNAVAILABLE: backend 'cuda' was requested but is unavailable/);
  });
});
