/**
 * bench/retraction.bench.ts — the Stiefel retraction (lib/nn/geometry.ts) on adapter-sized factors:
 * orthonormalizeColumns (CholeskyQR2 with the native float32 gemm for the O(n·r²) products) against
 * modified Gram–Schmidt in float64 (its fallback and the former implementation) and against
 * CholeskyQR2 entirely in float64 TypeScript (the alternative weighed in geometry.ts, kept here), on
 * two inputs: a factor after a small step (the training case, κ ≈ 1) and a Gaussian one (κ ≈ 1.5–3,
 * up to ~20 at 10×8). Uses the process's gemm implementation (printed; see setGemmImpl).
 * Timed interleaved, medians; also ‖QᵀQ − I‖max and the largest difference from Gram–Schmidt.
 * Run: npx tsc -p bench/tsconfig.json && node build-bench/bench/retraction.bench.js [--quick].
 */
import {
  cholesky,
  invertUpper,
  orthonormalizeColumns,
  orthonormalizeColumnsCholQr2,
  orthonormalizeColumnsMgs,
} from '../lib/nn/geometry';
import { gemmImpl } from '../lib/ops/gemm';
import { Rng } from '../lib/rng';

const quick = process.argv.includes('--quick');
const REPS = quick ? 30 : 120;
const { abs, max, sqrt } = Math;

// --- CholeskyQR2 in float64 TypeScript (column-major copy, 4-way blocked loops) ---------------
// A float64 Gram resolves pivots down to ~1e-7, so this variant accepts everything Gram–Schmidt
// does not call degenerate (pivot ≥ 1e-5), and skips the second pass when the first left nothing
// float32 could show.
const MIN_PIVOT = 1e-5;
const MAX_PASS1_LOSS = 1e-2;
/** Below this loss after the first pass the second is skipped (its correction is below float32 rounding). */
const SKIP_PASS2_LOSS = 1e-10;
let work64 = new Float64Array(0);
let small64 = new Float64Array(0);

function cholQr2F64(U: Float32Array, n: number, r: number): boolean {
  if (r === 0) return true;
  if (n < r) return false;
  if (work64.length < n * r) work64 = new Float64Array(n * r);
  if (small64.length < 2 * r * r + r) small64 = new Float64Array(2 * r * r + r);
  const A = work64; // column-major n×r: column j is A[j·n … j·n + n)
  const G = small64.subarray(0, r * r); // upper triangles, row-major r×r
  const M = small64.subarray(r * r, 2 * r * r);
  const d = small64.subarray(2 * r * r, 2 * r * r + r);
  for (let i = 0; i < n; i++) {
    const row = i * r;
    for (let j = 0; j < r; j++) A[j * n + i] = U[row + j] as number;
  }
  // Pass 1, on the columns scaled to unit norm: G ← D⁻¹AᵀAD⁻¹ with D = diag(‖a_j‖).
  gram(A, n, r, G);
  for (let j = 0; j < r; j++) {
    const dj = sqrt(G[j * r + j] as number);
    if (!(dj > 0 && dj < Number.POSITIVE_INFINITY)) return false; // zero, NaN or ∞ column
    d[j] = dj;
  }
  for (let j = 0; j < r; j++) {
    const dj = d[j] as number;
    G[j * r + j] = 1;
    for (let k = j + 1; k < r; k++) G[j * r + k] = (G[j * r + k] as number) / (dj * (d[k] as number));
  }
  if (!cholesky(G, r, MIN_PIVOT)) return false;
  invertUpper(G, M, r);
  for (let k = 0; k < r; k++) {
    const inv = 1 / (d[k] as number);
    for (let j = k; j < r; j++) M[k * r + j] = (M[k * r + j] as number) * inv;
  }
  applyUpper(A, n, r, M); // A ← A·D⁻¹·R⁻¹
  // Pass 2: measure what the first pass left, and repair it unless it is below float32 rounding.
  gram(A, n, r, G);
  let loss = 0;
  for (let j = 0; j < r; j++) {
    for (let k = j; k < r; k++) {
      loss = max(loss, abs((G[j * r + k] as number) - (j === k ? 1 : 0))); // NaN stays NaN: refused
    }
  }
  if (!(loss <= MAX_PASS1_LOSS)) return false;
  if (loss > SKIP_PASS2_LOSS) {
    if (!cholesky(G, r, 0.5)) return false;
    invertUpper(G, M, r);
    applyUpper(A, n, r, M);
  }
  for (let i = 0; i < n; i++) {
    const row = i * r;
    for (let j = 0; j < r; j++) U[row + j] = A[j * n + i] as number;
  }
  return true;
}

/** The upper triangle (k ≥ j) of G = AᵀA for the column-major n×r A, four dot products per sweep. */
function gram(A: Float64Array, n: number, r: number, G: Float64Array): void {
  for (let j = 0; j < r; j++) {
    const oj = j * n;
    let k = j;
    for (; k + 3 < r; k += 4) {
      const o0 = k * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n; i++) {
        const a = A[oj + i] as number;
        s0 += a * (A[o0 + i] as number);
        s1 += a * (A[o1 + i] as number);
        s2 += a * (A[o2 + i] as number);
        s3 += a * (A[o3 + i] as number);
      }
      G[j * r + k] = s0;
      G[j * r + k + 1] = s1;
      G[j * r + k + 2] = s2;
      G[j * r + k + 3] = s3;
    }
    for (; k < r; k++) {
      const ok = k * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += (A[oj + i] as number) * (A[ok + i] as number);
      G[j * r + k] = s;
    }
  }
}

/**
 * A ← A·M in place for the column-major n×r A and the upper-triangular row-major M: column j
 * becomes Σ_{k≤j} M_kj·a_k, so going from the last column down only reads columns not yet
 * overwritten; four source columns per sweep.
 */
function applyUpper(A: Float64Array, n: number, r: number, M: Float64Array): void {
  for (let j = r - 1; j >= 0; j--) {
    const oj = j * n;
    const mjj = M[j * r + j] as number;
    for (let i = 0; i < n; i++) A[oj + i] = (A[oj + i] as number) * mjj;
    let k = 0;
    for (; k + 3 < j; k += 4) {
      const m0 = M[k * r + j] as number;
      const m1 = M[(k + 1) * r + j] as number;
      const m2 = M[(k + 2) * r + j] as number;
      const m3 = M[(k + 3) * r + j] as number;
      const o0 = k * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      for (let i = 0; i < n; i++) {
        A[oj + i] =
          (A[oj + i] as number) +
          m0 * (A[o0 + i] as number) +
          m1 * (A[o1 + i] as number) +
          m2 * (A[o2 + i] as number) +
          m3 * (A[o3 + i] as number);
      }
    }
    for (; k < j; k++) {
      const m = M[k * r + j] as number;
      const ok = k * n;
      for (let i = 0; i < n; i++) A[oj + i] = (A[oj + i] as number) + m * (A[ok + i] as number);
    }
  }
}

// --- the bench ----------------------------------------------------------------------------------
function orthoError(U: Float32Array, n: number, r: number): number {
  let worst = 0;
  for (let a = 0; a < r; a++)
    for (let b = a; b < r; b++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (U[i * r + a] as number) * (U[i * r + b] as number);
      worst = max(worst, abs(d - (a === b ? 1 : 0)));
    }
  return worst;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = max(m, abs((a[i] as number) - (b[i] as number)));
  return m;
}

const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[a.length >> 1] as number;

type Impl = [string, (U: Float32Array, n: number, r: number) => void];
const IMPLS: Impl[] = [
  ['mgs (before)', orthonormalizeColumnsMgs],
  [
    'cholqr2 gemm (now)',
    (U, n, r) => {
      if (!orthonormalizeColumnsCholQr2(U, n, r)) throw new Error('cholqr2 fell back to Gram–Schmidt');
    },
  ],
  [
    'cholqr2 f64 TS',
    (U, n, r) => {
      if (!cholQr2F64(U, n, r)) throw new Error('cholqr2 f64 fell back');
    },
  ],
];

function main(): void {
  const rng = new Rng(11);
  orthonormalizeColumns(new Float32Array(4), 2, 2); // loads the addon outside the timings
  const lines = [
    `gemm: ${gemmImpl()}`,
    'shape      input      impl                median µs  speedup vs mgs  |QᵀQ−I|max  max|Q−Q_mgs|',
  ];
  for (const [n, r] of [
    [784, 4],
    [784, 8],
    [784, 16],
    [784, 32],
    [784, 64],
    [256, 16],
    [4096, 64],
    [128, 8],
    [128, 16],
    [64, 16],
    [10, 8],
  ] as Array<[number, number]>) {
    const Q0 = rng.fillNormal(new Float32Array(n * r), 1 / sqrt(n));
    orthonormalizeColumnsMgs(Q0, n, r);
    const stepped = Q0.map((v) => v + (0.01 / sqrt(n)) * rng.normal());
    const gaussian = rng.fillNormal(new Float32Array(n * r));
    for (const [label, input] of [
      ['stepped', stepped],
      ['gaussian', gaussian],
    ] as Array<[string, Float32Array]>) {
      const ref = Float32Array.from(input);
      orthonormalizeColumnsMgs(ref, n, r);
      const bufs = IMPLS.map(() => new Float32Array(n * r));
      const reps = n * r > 100_000 ? max(10, REPS >> 3) : REPS;
      const us: number[][] = IMPLS.map(() => []);
      for (let k = 0; k < reps + 5; k++) {
        IMPLS.forEach(([, f], m) => {
          const U = bufs[m] as Float32Array;
          U.set(input);
          const t0 = performance.now();
          f(U, n, r);
          if (k >= 5) (us[m] as number[]).push((performance.now() - t0) * 1e3);
        });
      }
      const tMgs = median(us[0] as number[]);
      IMPLS.forEach(([name], m) => {
        const t = median(us[m] as number[]);
        const U = bufs[m] as Float32Array;
        lines.push(
          `${`${n}×${r}`.padEnd(10)} ${label.padEnd(10)} ${name.padEnd(19)} ${t.toFixed(1).padStart(9)}  ${(tMgs / t).toFixed(2).padStart(14)}  ${orthoError(U, n, r).toExponential(1).padStart(10)}  ${maxAbsDiff(U, ref).toExponential(1).padStart(12)}`,
        );
      });
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
