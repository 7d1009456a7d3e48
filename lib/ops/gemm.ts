/**
 * gemm.ts — op gemm: row-major SGEMM `C = alpha·op(A)·op(B) + beta·C` for the frozen dense base
 * layers, sync and async, and the choice between the builtin SIMD kernels and the system BLAS.
 * Kernel: native/cpu/gemm.cpp. Tested in test/native/gemm.test.ts (float64 reference, both
 * implementations, errors).
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { describe, int, invalid, num, oneOf } from '../validate';
import type { OpOptions } from './common';

/** gemm implementations: 'auto' (the system BLAS when the build linked one, else builtin). */
export type GemmImpl = 'auto' | 'builtin' | 'blas';
export const GEMM_IMPLS: readonly GemmImpl[] = ['auto', 'builtin', 'blas'];
const IMPL_CODE: Readonly<Record<GemmImpl, number>> = { auto: 0, builtin: 1, blas: 2 };

/**
 * Arguments of gemm. Row-major: op(A) is M×K — A is stored M×K (row stride `lda` ≥ K), or K×M
 * (`lda` ≥ M) with `transA`; op(B) is K×N — B stored K×N (`ldb` ≥ N), or N×K (`ldb` ≥ K) with
 * `transB`; C is M×N (`ldc` ≥ N). Leading dimensions default to the stored row length; a stored
 * matrix of `rows` rows needs at least (rows − 1)·ld + cols elements.
 */
export interface GemmArgs extends OpOptions {
  transA?: boolean;
  transB?: boolean;
  M: number;
  N: number;
  K: number;
  /** Default 1. */
  alpha?: number;
  A: Float32Array;
  lda?: number;
  B: Float32Array;
  ldb?: number;
  /** Default 0: C is overwritten without being read (NaN in it does not propagate). */
  beta?: number;
  /** Output (and input when beta ≠ 0); default: a new M×N array. Must not overlap A or B. */
  C?: Float32Array;
  ldc?: number;
}

/** No CUDA twin yet: 'auto' runs gemm on the CPU even where a GPU is usable. */
const HAS_CUDA_KERNEL = false;

/** Largest size or leading dimension accepted (the kernels index with 64-bit products of these). */
const MAX_DIM = 2 ** 31 - 1;

function flag(where: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') invalid(where, name, 'a boolean', describe(value));
  return value;
}

/** A stored rows×cols matrix with leading dimension ld: its array must hold (rows−1)·ld + cols. */
function matrix(where: string, name: string, value: unknown, rows: number, cols: number, ld: number): Float32Array {
  const need = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  if (!(value instanceof Float32Array)) invalid(where, name, `a Float32Array of length >= ${need}`, describe(value));
  if (value.length < need) {
    invalid(where, name, `a Float32Array of length >= ${need}`, describe(value), 'DEBORA_SHAPE_MISMATCH');
  }
  return value;
}

function leading(where: string, name: string, value: unknown, cols: number): number {
  if (value === undefined) return Math.max(1, cols);
  return int(where, name, value, Math.max(1, cols), MAX_DIM);
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function gemmArgs(x: GemmArgs) {
  const where = 'gemm';
  if (typeof x !== 'object' || x === null) invalid(where, 'args', 'an object { M, N, K, A, B, ... }', describe(x));
  const transA = flag(where, 'transA', x.transA);
  const transB = flag(where, 'transB', x.transB);
  const M = int(where, 'M', x.M, 0, MAX_DIM);
  const N = int(where, 'N', x.N, 0, MAX_DIM);
  const K = int(where, 'K', x.K, 0, MAX_DIM);
  const alpha = x.alpha === undefined ? 1 : num(where, 'alpha', x.alpha);
  const beta = x.beta === undefined ? 0 : num(where, 'beta', x.beta);
  const [rowsA, colsA] = transA ? [K, M] : [M, K];
  const [rowsB, colsB] = transB ? [N, K] : [K, N];
  const lda = leading(where, 'lda', x.lda, colsA);
  const ldb = leading(where, 'ldb', x.ldb, colsB);
  const ldc = leading(where, 'ldc', x.ldc, N);
  const A = matrix(where, 'A', x.A, rowsA, colsA, lda);
  const B = matrix(where, 'B', x.B, rowsB, colsB, ldb);
  const C =
    x.C === undefined
      ? new Float32Array(M === 0 || N === 0 ? 0 : (M - 1) * ldc + N)
      : matrix(where, 'C', x.C, M, N, ldc);
  // The kernels read A and B while writing C: an overlap would make the result order-dependent.
  for (const [name, other] of [
    ['A', A],
    ['B', B],
  ] as const) {
    if (overlaps(C, other)) invalid(where, 'C', `an array not overlapping '${name}'`, 'an overlapping view');
  }
  const args = [
    backendCode(resolveBackend(x.backend, HAS_CUDA_KERNEL)),
    transA,
    transB,
    M,
    N,
    K,
    alpha,
    A,
    lda,
    B,
    ldb,
    beta,
    C,
    ldc,
  ] as const;
  return { args, C };
}

/**
 * Row-major SGEMM: `C = alpha·op(A)·op(B) + beta·C` (see GemmArgs for shapes and leading
 * dimensions), with the implementation chosen by setGemmImpl, on debora's thread pool. Returns C
 * (the given array, or a new M×N one). Non-finite alpha or beta is refused; NaN in A or B propagates.
 */
export function gemm(x: GemmArgs): Float32Array {
  const { args, C } = gemmArgs(x);
  addon().gemm(...args);
  return C;
}

/** gemm on a worker thread: leave A, B and C alone until the promise settles. */
export async function gemmAsync(x: GemmArgs): Promise<Float32Array> {
  const { args, C } = gemmArgs(x);
  await addon().gemmAsync(...args);
  return C;
}

/**
 * Chooses gemm's implementation for the process (conv2d's products follow it too): 'builtin' (the
 * blocked AVX2/scalar kernels), 'blas' (the system BLAS; throws DEBORA_BACKEND_UNAVAILABLE when the
 * build did not link one, as the node-gyp build never does) or 'auto' (blas when linked).
 */
export function setGemmImpl(impl: GemmImpl): void {
  addon().gemmSetImpl(IMPL_CODE[oneOf('setGemmImpl', 'impl', impl, GEMM_IMPLS)]);
}

/** The implementation gemm runs now ('auto' resolved). */
export function gemmImpl(): 'builtin' | 'blas' {
  return addon().gemmImpl() === 2 ? 'blas' : 'builtin';
}
