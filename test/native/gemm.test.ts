/**
 * gemm.test.ts — op gemm (row-major SGEMM) against the float64 reference on seeded awkward shapes
 * (1, primes, SIMD width 8 ± 1, the AVX2 tile 6×16 ± 1, the K block 256 ± 1, sizes that split over
 * the pool), all four transpose combinations, leading dimensions beyond the row length (with NaN in
 * the gaps, which must never be read, and a C whose gaps must stay untouched), alpha/beta including
 * beta = 0 on a NaN-poisoned C (overwritten, not multiplied), alpha = 0 and K = 0; every
 * implementation in one run: builtin at the scalar and the best SIMD level, and the system BLAS when
 * compiled in. Also: thread-count independence of the builtin, async, impl switching, bad input.
 *
 * Tolerance: C_ij = alpha·Σ_k a_ik·b_kj + beta·c_ij is evaluated in float32 with at most K + 3
 * roundings on any path (K products summed in some order, alpha folded into a or applied to the
 * sum, beta·c and the final add), so |C − C_exact| ≤ γ_{K+3}·B_ij with B_ij = |alpha|·Σ_k|a_ik·b_kj|
 * + |beta·c_ij| (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), γ_k ≈ k·2⁻²⁴; the
 * reference gives B_ij, and boundRatio ≤ 1 checks exactly this bound in any summation order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type GemmImpl,
  gemm,
  gemmAsync,
  gemmImpl,
  getNumThreads,
  info,
  isDeboraError,
  type SimdLevel,
  setGemmImpl,
  setNumThreads,
  setSimd,
} from '../../lib';
import { addon, loadAddonFrom } from '../../lib/native';
import { boundRatio } from '../helpers/compare';
import { uniform } from '../helpers/random';
import { refGemm } from '../helpers/reference_gemm';

const initial = info();
const blasCompiled = initial.cpu.blas.compiled;
const bestSimd = initial.cpu.simdSupported;
const initialThreads = getNumThreads();

/** Every implementation this build has: [label, impl, SIMD level]. */
const VARIANTS: [string, GemmImpl, SimdLevel][] = [
  ['builtin scalar', 'builtin', 'scalar'],
  ...(bestSimd === 'scalar' ? [] : [[`builtin ${bestSimd}`, 'builtin', bestSimd] as [string, GemmImpl, SimdLevel]]),
  ...(blasCompiled ? [['blas', 'blas', bestSimd] as [string, GemmImpl, SimdLevel]] : []),
];

afterAll(() => {
  setGemmImpl('auto');
  setSimd(initial.cpu.simd);
  setNumThreads(initialThreads);
});

test(`the build reports its gemm implementations (system BLAS ${blasCompiled ? 'compiled in' : 'NOT compiled in: blas cases skipped'})`, () => {
  setGemmImpl('auto');
  expect(gemmImpl()).toBe(blasCompiled ? 'blas' : 'builtin');
  setGemmImpl('builtin');
  expect(gemmImpl()).toBe('builtin');
  expect(info().cpu.blas.gemm).toBe('builtin');
  if (blasCompiled) {
    expect(info().cpu.blas.library).toMatch(/blas/i);
    setGemmImpl('blas');
    expect(gemmImpl()).toBe('blas');
  }
  setGemmImpl('auto');
});

/** A stored rows×cols matrix with leading dimension ld ≥ cols; the gaps hold `gap`. */
function stored(seed: number, rows: number, cols: number, ld: number, gap: number): Float32Array {
  const vals = uniform(seed, rows * cols, -1, 1);
  const out = new Float32Array(rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols).fill(gap);
  for (let i = 0; i < rows; i++) out.set(vals.subarray(i * cols, (i + 1) * cols), i * ld);
  return out;
}

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra leading-dimension padding of A, B, C (0: packed). */
  pad: number;
}

/** Runs one case with the current implementation; returns the bound ratio (≤ 1 passes). */
function runCase(c: Case, seed: number): number {
  const [rowsA, colsA] = c.transA ? [c.K, c.M] : [c.M, c.K];
  const [rowsB, colsB] = c.transB ? [c.N, c.K] : [c.K, c.N];
  const lda = Math.max(1, colsA) + c.pad;
  const ldb = Math.max(1, colsB) + c.pad;
  const ldc = Math.max(1, c.N) + c.pad;
  // NaN in the gaps of A and B: a kernel reading past the row length poisons the result.
  const A = stored(seed, rowsA, colsA, lda, Number.NaN);
  const B = stored(seed + 1, rowsB, colsB, ldb, Number.NaN);
  // C: NaN where it must be overwritten (beta = 0), values otherwise; the gaps hold a sentinel.
  const C0 = stored(seed + 2, c.M, c.N, ldc, 12345);
  if (c.beta === 0) for (let i = 0; i < c.M; i++) C0.fill(Number.NaN, i * ldc, i * ldc + c.N);
  const C = C0.slice();
  const out = gemm({ ...c, A, lda, B, ldb, C, ldc });
  expect(out).toBe(C);
  const ref = refGemm({ ...c, A, lda, B, ldb, C: C0, ldc });
  const got = new Float32Array(c.M * c.N);
  for (let i = 0; i < c.M; i++) {
    got.set(C.subarray(i * ldc, i * ldc + c.N), i * c.N);
    for (let j = c.N; j < ldc && i * ldc + j < C.length; j++) expect(C[i * ldc + j]).toBe(12345);
  }
  return boundRatio(got, ref.C, ref.bound, c.K + 3);
}

// [M, N, K]: 1, primes, SIMD width 8 ± 1, the 6×16 tile ± 1, K block 256 ± 1, the 12/16 split units,
// and products large enough (M·N·K ≥ 2^21) to be split over the pool, by rows and by columns.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 3],
  [7, 1, 9],
  [5, 15, 8],
  [6, 16, 7],
  [7, 17, 1],
  [13, 31, 97],
  [12, 33, 255],
  [25, 47, 257],
  [143, 9, 30],
  [145, 130, 113], // 2.1 M multiply-adds: split over rows
  [20, 1100, 100], // split over columns
];
const TRANS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const SCALARS: [number, number][] = [
  [1, 0],
  [-0.75, 1],
  [2.5, -0.5],
  [1, 0.25],
];

describe.each(VARIANTS)('gemm %s', (_label, impl, simd) => {
  beforeAll(() => {
    setSimd(simd);
    setGemmImpl(impl);
  });

  const cases: [string, Case][] = [];
  SHAPES.forEach(([M, N, K], s) => {
    TRANS.forEach(([transA, transB], t) => {
      const [alpha, beta] = SCALARS[(s + t) % SCALARS.length] as [number, number];
      const pad = (s + t) % 3 === 0 ? 0 : (s % 5) + 1;
      cases.push([
        `M=${M} N=${N} K=${K} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} alpha=${alpha} beta=${beta} pad=${pad}`,
        { transA, transB, M, N, K, alpha, beta, pad },
      ]);
    });
  });

  test.each(cases)('%s matches float64', (_name, c) => {
    expect(gemmImpl()).toBe(impl);
    expect(runCase(c, c.M * 7919 + c.N * 31 + c.K)).toBeLessThanOrEqual(1);
  });

  test('beta = 0 overwrites a NaN C; alpha = 0 or K = 0 reads neither A nor B', () => {
    const C = new Float32Array(6).fill(Number.NaN);
    const A = uniform(1, 6, -1, 1);
    const B = uniform(2, 9, -1, 1);
    gemm({ M: 2, N: 3, K: 3, A, B, C });
    expect(C.every((v) => Number.isFinite(v))).toBe(true);
    // alpha = 0: C = beta·C exactly, NaN in A and B never read
    const nanA = new Float32Array(6).fill(Number.NaN);
    const nanB = new Float32Array(9).fill(Number.NaN);
    const C2 = Float32Array.from([1, 2, 3, 4, 5, 6]);
    gemm({ M: 2, N: 3, K: 3, alpha: 0, A: nanA, B: nanB, beta: 0.5, C: C2 });
    expect(Array.from(C2)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    const C3 = new Float32Array(6).fill(Number.NaN);
    gemm({ M: 2, N: 3, K: 3, alpha: 0, A: nanA, B: nanB, beta: 0, C: C3 });
    expect(Array.from(C3)).toEqual([0, 0, 0, 0, 0, 0]);
    // K = 0: the empty sum
    const C4 = Float32Array.from([1, -2, 3, -4, 5, -6]);
    gemm({ M: 2, N: 3, K: 0, A: new Float32Array(0), B: new Float32Array(0), beta: -1, C: C4 });
    expect(Array.from(C4)).toEqual([-1, 2, -3, 4, -5, 6]);
    // M = 0 or N = 0: nothing to do
    expect(gemm({ M: 0, N: 3, K: 2, A: new Float32Array(0), B: uniform(3, 6, -1, 1) }).length).toBe(0);
  });
});

test('builtin: every element is bitwise the same for 1, 2 and 3 threads, and for the sync and async calls', async () => {
  setSimd(bestSimd);
  setGemmImpl('builtin');
  const M = 150;
  const N = 170;
  const K = 300;
  const A = uniform(5, M * K, -1, 1);
  const B = uniform(6, K * N, -1, 1);
  const results: Float32Array[] = [];
  for (const t of [1, 2, 3]) {
    setNumThreads(t);
    results.push(gemm({ M, N, K, A, B, transB: false }));
    results.push(gemm({ M: N, N: M, K, A: B, B: A, transA: true, transB: true }));
  }
  setNumThreads(initialThreads);
  for (let t = 1; t < 3; t++) {
    expect(
      Buffer.from((results[2 * t] as Float32Array).buffer).equals(Buffer.from((results[0] as Float32Array).buffer)),
    ).toBe(true);
    expect(
      Buffer.from((results[2 * t + 1] as Float32Array).buffer).equals(Buffer.from((results[1] as Float32Array).buffer)),
    ).toBe(true);
  }
  const viaAsync = await gemmAsync({ M, N, K, A, B });
  expect(Buffer.from(viaAsync.buffer).equals(Buffer.from((results[0] as Float32Array).buffer))).toBe(true);
  setGemmImpl('auto');
});

test('the implementations agree to the tolerance on a Linear-layer product (X·Wᵀ, 256×256×784)', () => {
  const [M, N, K] = [256, 256, 784];
  const X = uniform(7, M * K, -1, 1);
  const W = uniform(8, N * K, -1, 1);
  const outs: Float32Array[] = [];
  for (const [, impl, simd] of VARIANTS) {
    setSimd(simd);
    setGemmImpl(impl);
    outs.push(gemm({ M, N, K, A: X, B: W, transB: true }));
  }
  setSimd(bestSimd);
  setGemmImpl('auto');
  // Two float32 evaluations of the same sums: each within γ_{K+3}·B of the exact value.
  const bound = new Float64Array(M * N);
  const { abs } = Math; // one lookup: global lookups in a hot loop are slow under jest
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let t = 0;
      for (let k = 0; k < K; k++) t += abs((X[i * K + k] as number) * (W[j * K + k] as number));
      bound[i * N + j] = 2 * t;
    }
  for (const o of outs.slice(1)) expect(boundRatio(o, outs[0] as Float32Array, bound, K + 3)).toBeLessThanOrEqual(1);
});

describe('bad input: a DeboraError naming the argument, C untouched', () => {
  const A = uniform(1, 12, -1, 1);
  const B = uniform(2, 20, -1, 1);
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (isDeboraError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
    return 'no error';
  };

  test('shapes, lengths, leading dimensions and scalars (TypeScript boundary)', () => {
    const C = new Float32Array(15).fill(7);
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A: A.subarray(1), B, C }))).toBe(
      "DEBORA_SHAPE_MISMATCH: gemm: expected a Float32Array of length >= 12 for argument 'A', received a Float32Array of length 11",
    );
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B: B.subarray(2), C }))).toMatch(
      /argument 'B', received a Float32Array of length 18/,
    );
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B, C: C.subarray(1) }))).toMatch(/argument 'C'/);
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B, C, lda: 3 }))).toBe(
      "DEBORA_INVALID_ARG: gemm: expected an integer in [4, 2147483647] for argument 'lda', received 3",
    );
    expect(code(() => gemm({ M: -1, N: 5, K: 4, A, B, C }))).toMatch(
      /^DEBORA_INVALID_ARG: .*argument 'M', received -1/,
    );
    expect(code(() => gemm({ M: 3, N: 5, K: 4.5, A, B, C }))).toMatch(/argument 'K', received 4.5/);
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B, C, alpha: Number.NaN }))).toBe(
      "DEBORA_NON_FINITE: gemm: expected a finite number for argument 'alpha', received NaN",
    );
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B, C, beta: Number.POSITIVE_INFINITY }))).toMatch(
      /^DEBORA_NON_FINITE: .*'beta', received Infinity/,
    );
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A, B, C, transB: 1 as unknown as boolean }))).toMatch(
      /expected a boolean for argument 'transB', received 1/,
    );
    const shared = new Float32Array(40);
    expect(code(() => gemm({ M: 3, N: 5, K: 4, A: shared.subarray(0, 12), B, C: shared.subarray(10, 25) }))).toMatch(
      /^DEBORA_INVALID_ARG: gemm: expected an array not overlapping 'A' for argument 'C'/,
    );
    expect(code(() => setGemmImpl('fast' as GemmImpl))).toMatch(/'auto', 'builtin', 'blas' for argument 'impl'/);
    expect(C.every((v) => v === 7)).toBe(true);
  });

  test('the raw binding refuses short buffers and the kernel bad leading dimensions, C untouched', () => {
    const C = new Float32Array(15).fill(7);
    const raw = addon();
    expect(code(() => raw.gemm(0, false, false, 3, 5, 4, 1, A.subarray(2), 4, B, 5, 0, C, 5))).toBe(
      "DEBORA_SHAPE_MISMATCH: gemm: expected a Float32Array of length >= 12 for argument 'A', received length 10",
    );
    expect(code(() => raw.gemm(0, false, false, 3, 5, 4, 1, A, 3, B, 5, 0, C, 5))).toBe(
      "DEBORA_INVALID_ARG: gemm: expected an integer >= 4 for argument 'lda', received 3",
    );
    expect(code(() => raw.gemm(0, false, false, 3, 5, 4, 1, A, 4, B, 5, 0, C, 4))).toMatch(
      /argument 'ldc', received 4/,
    );
    expect(code(() => raw.gemm(0, false, false, 3, 5, 4, Number.NaN, A, 4, B, 5, 0, C, 5))).toMatch(
      /^DEBORA_NON_FINITE: gemm: .*'alpha'/,
    );
    expect(code(() => raw.gemmSetImpl(7))).toMatch(/^DEBORA_INVALID_ARG: gemm_set_impl: .*'impl'/);
    expect(C.every((v) => v === 7)).toBe(true);
  });

  test('cuda is refused clearly until the CUDA twin exists', () => {
    const c = code(() => gemm({ M: 3, N: 5, K: 4, A, B, backend: 'cuda' }));
    expect(c).toMatch(/^DEBORA_(BACKEND_UNAVAILABLE|NOT_IMPLEMENTED)/);
  });
});

const gypAddon = path.resolve(__dirname, '../../build/Release/debora.node');
const gypPresent = fs.existsSync(gypAddon);
(gypPresent ? test : test.skip)(
  `a build without BLAS (node-gyp) runs builtin and refuses 'blas' with DEBORA_BACKEND_UNAVAILABLE${gypPresent ? '' : ' [SKIPPED: build/Release/debora.node not built; npm run build:gyp]'}`,
  () => {
    const raw = loadAddonFrom(gypAddon);
    if (typeof raw.gemmImpl !== 'function') throw new Error('the node-gyp addon predates op gemm: npm run build:gyp');
    expect(raw.nativeInfo().blas.compiled).toBe(false);
    expect(raw.gemmImpl()).toBe(1);
    let err: unknown;
    try {
      raw.gemmSetImpl(2);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'DEBORA_BACKEND_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/no BLAS/);
  },
);
