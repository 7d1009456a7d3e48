/**
 * reference_gemm.ts — float64 reference of op gemm (row-major C = alpha·op(A)·op(B) + beta·C with
 * leading dimensions), written for clarity, plus the per-element bound Σ|terms| the tolerance
 * uses. Used by test/native/gemm.test.ts.
 */

// Math's functions looked up once: under jest every global lookup in a hot loop goes through the
// test context's global object and made this reference 40x slower.
const { abs } = Math;

export interface GemmProblem {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  A: ArrayLike<number>;
  lda: number;
  B: ArrayLike<number>;
  ldb: number;
  beta: number;
  /** The C before the call (ignored when beta = 0), leading dimension ldc. */
  C: ArrayLike<number>;
  ldc: number;
}

/**
 * The exact result (to float64 rounding) as a dense M×N array, and per element the sum of the
 * magnitudes of its terms |alpha|·Σ_k |op(A)_ik·op(B)_kj| + |beta·C_ij| (0 for C when beta = 0).
 */
export function refGemm(p: GemmProblem): { C: Float64Array; bound: Float64Array } {
  const { M, N, K } = p;
  // op(A) as M×K and op(B) as K×N, dense: the i-k-j loop below then runs over contiguous rows.
  const a = new Float64Array(M * K);
  const b = new Float64Array(K * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) a[i * K + k] = (p.transA ? p.A[k * p.lda + i] : p.A[i * p.lda + k]) as number;
  for (let k = 0; k < K; k++)
    for (let j = 0; j < N; j++) b[k * N + j] = (p.transB ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j]) as number;
  const C = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k] as number;
      for (let j = 0; j < N; j++) {
        const prod = aik * (b[k * N + j] as number);
        C[i * N + j] = (C[i * N + j] as number) + prod;
        bound[i * N + j] = (bound[i * N + j] as number) + abs(prod);
      }
    }
    for (let j = 0; j < N; j++) {
      const c = p.beta === 0 ? 0 : p.beta * (p.C[i * p.ldc + j] as number);
      C[i * N + j] = p.alpha * (C[i * N + j] as number) + c;
      bound[i * N + j] = abs(p.alpha) * (bound[i * N + j] as number) + abs(c);
    }
  }
  return { C, bound };
}
