/**
 * kernels.bench.ts — the CPU kernel suite (`npm run bench`): cp_linear_fwd_bwd, cp_conv2d_fwd_bwd,
 * cp_mttkrp, the dense base ops gemm and conv2d (builtin kernels against OpenBLAS in the same
 * process, interleaved), and the N-API call overhead. Each case is checked for correctness before it is timed
 * (tinybench, median), then compared with the roofline floor measured in this same run
 * (max(FLOPs/peak, minimal bytes/bandwidth), each input read once and each output written once)
 * and with PyTorch CPU doing the same math when installed. Writes bench/results/kernels-cpu-<date>.json.
 * Options: --quick (fewer, shorter cases), --no-peer.
 */
import { cpHypergrad, cpLinearBackward, cpLinearForward, getNumThreads, info, setBackend } from '../lib';
import { addon } from '../lib/native';
import { type BenchCase, commit, floorMs, machine, type PeerResult, roofline, torchPeer, writeResults } from './common';
import { fwBench } from './fw.bench';

const quick = process.argv.includes('--quick');
const withPeer = !process.argv.includes('--no-peer');

function rand(n: number, lo = -1, hi = 1, seed = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

interface Case {
  id: string;
  op: string;
  shape: Record<string, unknown>;
  flops: number;
  bytes: number;
  /** Throws if the op's result is wrong; returns a short description of what was checked. */
  check: () => string;
  run: () => void;
}

/** Relative closeness with a stated tolerance (float32 sums over ~1e3–1e4 terms). */
function close(a: number, b: number, tol: number, what: string): void {
  if (!(Math.abs(a - b) <= tol * (1 + Math.abs(b)))) throw new Error(`${what}: ${a} vs ${b}`);
}

function linearCase(N: number, r: number): Case {
  const nIn = 768;
  const nOut = 768;
  const x = {
    N,
    nIn,
    nOut,
    r,
    X: rand(N * nIn, -1, 1, 1),
    U: rand(nOut * r, -1, 1, 2),
    V: rand(nIn * r, -1, 1, 3),
    s: rand(r, 0.1, 1, 4),
  };
  const dY = rand(N * nOut, -1, 1, 5);
  const Y = new Float32Array(N * nOut);
  const Z = new Float32Array(N * r);
  const dX = new Float32Array(N * nIn);
  const dU = new Float32Array(nOut * r);
  const dV = new Float32Array(nIn * r);
  const ds = new Float32Array(r);
  const run = () => {
    cpLinearForward(x, { out: Y, Z });
    cpLinearBackward({ ...x, dY }, { Z, dX, dU, dV, ds });
  };
  const check = () => {
    run();
    // Rows 0 and N-1 of Y, and ds_0 over the whole batch, in float64.
    for (const n of [0, N - 1]) {
      const z = new Float64Array(r);
      for (let i = 0; i < r; i++)
        for (let k = 0; k < nIn; k++)
          z[i] = (z[i] as number) + (x.X[n * nIn + k] as number) * (x.V[k * r + i] as number);
      for (const j of [0, nOut - 1]) {
        let y = 0;
        for (let i = 0; i < r; i++) y += (z[i] as number) * (x.s[i] as number) * (x.U[j * r + i] as number);
        close(Y[n * nOut + j] as number, y, 1e-4, `Y[${n},${j}]`);
      }
    }
    let ds0 = 0;
    for (let n = 0; n < N; n++) {
      let z = 0;
      let t = 0;
      for (let k = 0; k < nIn; k++) z += (x.X[n * nIn + k] as number) * (x.V[k * r] as number);
      for (let j = 0; j < nOut; j++) t += (dY[n * nOut + j] as number) * (x.U[j * r] as number);
      ds0 += z * t;
    }
    close(ds[0] as number, ds0, 1e-3, 'ds[0]');
    return 'Y rows 0 and N-1, ds[0] vs float64';
  };
  return {
    id: `linear-${N}-${r}`,
    op: 'cp_linear_fwd_bwd',
    shape: { N, n_in: nIn, n_out: nOut, r },
    flops: 2 * N * r * (nIn + nOut) + 2 * N * r * (2 * nOut + 2 * nIn),
    // X read (fwd), Y written, X and dY read (bwd), dX written; factors and Z (N·r) are small
    bytes: 4 * N * (nIn + nOut + nIn + nOut + nIn),
    check,
    run,
  };
}

function conv2dCase(): Case {
  const [B, C, H, W, F, kh, kw, r] = [32, 64, 32, 32, 64, 3, 3, 8];
  const geom = [B, C, H, W, F, kh, kw, 1, 1, 1, 1, 1, 1];
  const X = rand(B * C * H * W, -1, 1, 11);
  const U = [rand(F * r, -1, 1, 12), rand(C * r, -1, 1, 13), rand(kh * r, -1, 1, 14), rand(kw * r, -1, 1, 15)] as const;
  const s = rand(r, 0.1, 1, 16);
  const Y = new Float32Array(B * F * H * W);
  const dY = rand(B * F * H * W, -1, 1, 17);
  const dX = new Float32Array(B * C * H * W);
  const dU = [
    new Float32Array(F * r),
    new Float32Array(C * r),
    new Float32Array(kh * r),
    new Float32Array(kw * r),
  ] as const;
  const ds = new Float32Array(r);
  const dots = new Float32Array(r);
  const a = addon();
  const run = () => {
    a.cpConv2dFwd(0, geom, r, X, U[0], U[1], U[2], U[3], s, Y, false);
    a.cpConv2dBwd(0, geom, r, X, U[0], U[1], U[2], U[3], s, dY, dX, false, dU[0], dU[1], dU[2], dU[3], ds, dots);
  };
  const check = () => {
    run();
    // Euler's identity for a 4-linear adapter: Σ_k ⟨u_i^(k), g_i^(k)⟩ = 4·s_i·ds_i.
    for (let i = 0; i < r; i++) close(dots[i] as number, 4 * (s[i] as number) * (ds[i] as number), 1e-3, `dots[${i}]`);
    return 'dots = 4·s⊙ds (Euler identity)';
  };
  const chain = B * H * W * (C * r) + B * H * W * (kh * r) + B * H * W * (kw * r) + B * H * W * (r * F);
  return {
    id: 'conv2d',
    op: 'cp_conv2d_fwd_bwd',
    shape: { B, C, H, W, F, kh, kw, r, stride: 1, pad: 1, dil: 1 },
    flops: 2 * chain * 3, // forward chain, and about twice that for the backward
    // X read (fwd), Y written, X and dY read (bwd), dX written: as for cp_linear, the two calls each
    // read X (until 2026-11-29 this counted X once, which understated the floor by a fifth)
    bytes: 4 * (B * C * H * W * 3 + B * F * H * W * 2),
    check,
    run,
  };
}

/**
 * A case timed twice in the same process, interleaved sample by sample: with gemm's builtin kernels
 * (the case's result) and with the system BLAS (its peer), switched by gemmSetImpl. conv2d's
 * per-image products follow the switch too.
 */
interface AbCase extends Case {
  /** Largest |builtin − blas| relative to the float64 check, filled by check(). */
  agree?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median ms per call of `run` under each implementation (blas: null when not compiled in). */
function timeAb(run: () => void, budgetMs: number): { builtin: number; blas: number | null } {
  const a = addon();
  const impls = info().cpu.blas.compiled ? [1, 2] : [1];
  for (const im of impls) {
    a.gemmSetImpl(im);
    for (let i = 0; i < 3; i++) run();
  }
  a.gemmSetImpl(1);
  let t = performance.now();
  run();
  // Calls per sample: a sample of >= 0.3 ms keeps the timer's resolution out of the result.
  const reps = Math.max(1, Math.ceil(0.3 / Math.max(performance.now() - t, 1e-3)));
  const samples: number[][] = [[], [], []];
  const end = performance.now() + budgetMs;
  while (performance.now() < end || (samples[1] as number[]).length < 7) {
    for (const im of impls) {
      a.gemmSetImpl(im);
      t = performance.now();
      for (let r = 0; r < reps; r++) run();
      (samples[im] as number[]).push((performance.now() - t) / reps);
    }
  }
  a.gemmSetImpl(0);
  return { builtin: median(samples[1] as number[]), blas: impls.length > 1 ? median(samples[2] as number[]) : null };
}

/** Row-major SGEMM M×N×K (op(A) M×K, op(B) K×N) through the raw binding (no per-call validation). */
function gemmCase(M: number, N: number, K: number, transA: boolean, transB: boolean, what: string): AbCase {
  const A = rand(M * K, -1, 1, 41);
  const B = rand(K * N, -1, 1, 42);
  const C = new Float32Array(M * N);
  const a = addon();
  const [lda, ldb] = [transA ? M : K, transB ? K : N];
  const run = () => a.gemm(0, transA, transB, M, N, K, 1, A, lda, B, ldb, 0, C, N);
  const check = () => {
    const impls = info().cpu.blas.compiled ? [1, 2] : [1];
    for (const im of impls) {
      a.gemmSetImpl(im);
      C.fill(Number.NaN);
      run();
      for (const [i, j] of [
        [0, 0],
        [M - 1, N - 1],
        [M >> 1, N >> 2],
      ] as const) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const x = transA ? A[k * M + i] : A[i * K + k];
          const y = transB ? B[j * K + k] : B[k * N + j];
          s += (x as number) * (y as number);
        }
        close(C[i * N + j] as number, s, 1e-4, `C[${i},${j}] (${im === 1 ? 'builtin' : 'blas'})`);
      }
    }
    a.gemmSetImpl(0);
    return `C[0,0], C[M-1,N-1], C[M/2,N/4] vs float64, ${impls.length === 2 ? 'builtin and blas' : 'builtin'}`;
  };
  return {
    id: `gemm-${M}x${N}x${K}-${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`,
    op: 'gemm',
    shape: { M, N, K, transA, transB, what },
    flops: 2 * M * N * K,
    bytes: 4 * (M * K + K * N + M * N),
    check,
    run,
  };
}

/** Dense 3×3 "same" convolution of a small CNN layer (batch B, C→F channels, H×W), forward or backward (dX, dK, dbias). */
function denseConvCase(B: number, C: number, H: number, W: number, F: number, pass: 'fwd' | 'bwd'): AbCase {
  const geom = [B, C, H, W, F, 3, 3, 1, 1, 1, 1, 1, 1];
  const X = rand(B * C * H * W, -1, 1, 51);
  const K = rand(F * C * 9, -1, 1, 52);
  const bias = rand(F, -1, 1, 53);
  const Y = new Float32Array(B * F * H * W);
  const dY = rand(B * F * H * W, -1, 1, 54);
  const dX = new Float32Array(B * C * H * W);
  const dK = new Float32Array(F * C * 9);
  const db = new Float32Array(F);
  const a = addon();
  const run =
    pass === 'fwd'
      ? () => a.conv2dFwd(0, geom, X, K, bias, Y, false)
      : () => a.conv2dBwd(0, geom, X, K, dY, dX, false, dK, false, db, false);
  const checkOne = () => {
    run();
    // One output element (fwd) or one element of dK (bwd), in float64.
    const x = (n: number, c: number, h: number, w: number) =>
      h < 0 || h >= H || w < 0 || w >= W ? 0 : (X[((n * C + c) * H + h) * W + w] as number);
    if (pass === 'fwd') {
      const [n, f, oh, ow] = [B - 1, F - 1, 0, W - 1];
      let y = bias[f] as number;
      for (let c = 0; c < C; c++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++)
            y += (K[((f * C + c) * 3 + i) * 3 + j] as number) * x(n, c, oh - 1 + i, ow - 1 + j);
      close(Y[((n * F + f) * H + oh) * W + ow] as number, y, 1e-4, 'Y[B-1,F-1,0,W-1]');
      return 'one output element vs float64';
    }
    const [f, c, i, j] = [F - 1, C - 1, 1, 2];
    let s = 0;
    for (let n = 0; n < B; n++)
      for (let oh = 0; oh < H; oh++)
        for (let ow = 0; ow < W; ow++)
          s += (dY[((n * F + f) * H + oh) * W + ow] as number) * x(n, c, oh - 1 + i, ow - 1 + j);
    close(dK[((f * C + c) * 3 + i) * 3 + j] as number, s, 1e-3, 'dK[F-1,C-1,1,2]');
    return 'one element of dK vs float64';
  };
  const check = () => {
    const impls = info().cpu.blas.compiled ? [1, 2] : [1];
    let what = '';
    for (const im of impls) {
      a.gemmSetImpl(im);
      what = checkOne();
    }
    a.gemmSetImpl(0);
    return `${what}, ${impls.length === 2 ? 'builtin and blas' : 'builtin'}`;
  };
  const macs = B * F * H * W * C * 9;
  return {
    id: `conv2d-${pass}-${B}x${C}x${H}x${W}-${F}`,
    op: `conv2d_${pass}`,
    shape: {
      B,
      C,
      H,
      W,
      F,
      kh: 3,
      kw: 3,
      stride: 1,
      pad: 1,
      dil: 1,
      ...(pass === 'bwd' ? { grads: 'dX,dK,dbias' } : {}),
    },
    flops: pass === 'fwd' ? 2 * macs : 4 * macs + B * F * H * W,
    bytes:
      pass === 'fwd'
        ? 4 * (B * C * H * W + F * C * 9 + B * F * H * W)
        : 4 * (2 * B * C * H * W + B * F * H * W + 2 * F * C * 9),
    check,
    run,
  };
}

function mttkrpCase(dims: number[], r: number): Case {
  const factors = dims.map((n, k) => rand(n * r, -1, 1, 20 + k));
  const s = rand(r, 0.1, 1, 30);
  const total = dims.reduce((p, n) => p * n, 1);
  const G = rand(total, -1, 1, 31);
  const grads = dims.map((n) => new Float32Array(n * r));
  const ds = new Float32Array(r);
  const dots = new Float32Array(r);
  const a = addon();
  const run = () => a.cpMttkrp(0, dims, r, factors, s, G, grads, ds, dots);
  const check = () => {
    run();
    const d = dims.length;
    for (let i = 0; i < r; i++) close(dots[i] as number, d * (s[i] as number) * (ds[i] as number), 1e-3, `dots[${i}]`);
    return `dots = ${d}·s⊙ds (Euler identity)`;
  };
  return {
    id: `mttkrp-${dims.join('x')}-${r}`,
    op: 'cp_mttkrp',
    shape: { dims, r },
    flops: 2 * dims.length * total * r,
    bytes: 4 * (total + 2 * dims.reduce((p, n) => p + n * r, 0)),
    check,
    run,
  };
}

/** Median ms of one case under tinybench (null if tinybench reports none). */
async function timeCase(c: Case, timeMs: number): Promise<number | null> {
  const { Bench } = await import('tinybench');
  const bench = new Bench({ time: timeMs, warmupTime: 200, iterations: 5, warmupIterations: 3 });
  bench.add(c.id, c.run);
  await bench.run();
  const r = bench.tasks[0]?.result as unknown as { latency?: { p50: number } };
  return r.latency?.p50 ?? null;
}

/** What the case loop records for one kernel case; the rows of the results file are built from it. */
interface CaseResult {
  median: number | null;
  checked: string;
  note?: string;
  peerMs?: number;
  around?: number | null;
  /** the roofline right before and right after the case (mean of the two) */
  adjacent?: { peakGflops: number; bandwidthGbs: number };
}

async function main(): Promise<void> {
  const { Bench } = await import('tinybench');
  setBackend('cpu'); // this is the CPU suite (bench/gpu-check.sh times the CUDA kernels)
  const i = info();
  process.stdout.write(`debora kernels bench: ${machine()}, ${getNumThreads()} threads, simd ${i.cpu.simd}\n`);
  const roof1 = roofline();
  process.stdout.write(`roofline: ${roof1.peakGflops.toFixed(0)} GFLOP/s, ${roof1.bandwidthGbs.toFixed(1)} GB/s\n`);

  const cases: Case[] = [];
  const linearShapes: [number, number][] = quick
    ? [
        [512, 16],
        [4096, 16],
      ]
    : [
        [512, 8],
        [512, 16],
        [512, 32],
        [4096, 8],
        [4096, 16],
        [4096, 32],
      ];
  for (const [N, r] of linearShapes) cases.push(linearCase(N, r));
  cases.push(conv2dCase());
  cases.push(mttkrpCase([768, 768], 32));
  cases.push(mttkrpCase([64, 64, 3, 3], 8));

  const rssBefore = process.memoryUsage().rss;
  const results = new Map<string, CaseResult>();
  for (const c of cases) {
    let checked: string;
    try {
      checked = c.check();
    } catch (e) {
      const msg =
        (e as { code?: string }).code === 'DEBORA_NOT_IMPLEMENTED'
          ? 'not implemented'
          : `check failed: ${(e as Error).message}`;
      process.stdout.write(`${c.id}: ${msg}, not timed\n`);
      results.set(c.id, { median: null, checked: 'no', note: msg });
      continue;
    }
    // The machine's limits right before and right after this case (a diagnostic column: the target's
    // ratio uses the larger of the run's two full measurements, below).
    const before = roofline(0.2);
    const median = await timeCase(c, quick ? 300 : 1500);
    const after = roofline(0.2);
    const adjacent = {
      peakGflops: (before.peakGflops + after.peakGflops) / 2,
      bandwidthGbs: (before.bandwidthGbs + after.bandwidthGbs) / 2,
    };
    // The peer is timed right after this case, and the case once more right after the peer: on
    // these machines throughput drifts by 30-50% over minutes, so the speedup compares the peer
    // with the mean of the two adjacent timings (a peer run at the end of the suite once made
    // every speedup 1.5x larger than the run before).
    let peerMs: number | undefined;
    let around = median;
    if (withPeer && median !== null) {
      peerMs = torchPeer([{ id: c.id, op: c.op, shape: c.shape }])?.[c.id];
      if (peerMs !== undefined) {
        const again = await timeCase(c, quick ? 300 : 1000);
        if (again !== null) around = (median + again) / 2;
      }
    }
    results.set(c.id, { median, checked, peerMs, around, adjacent });
    process.stdout.write(
      `${c.id}: ${median?.toFixed(3)} ms${peerMs === undefined ? '' : `, torch ${peerMs.toFixed(3)} ms (ours around it ${around?.toFixed(3)} ms)`}\n`,
    );
  }

  // The dense base ops: builtin kernels against OpenBLAS, same process, interleaved sample by sample.
  const blasInfo = i.cpu.blas;
  const coretype = process.env.OPENBLAS_CORETYPE ?? '(unset)';
  process.stdout.write(
    `gemm peer: ${blasInfo.compiled ? `${blasInfo.library} (${blasInfo.config}), OPENBLAS_CORETYPE=${coretype}, run single-threaded on debora's ${getNumThreads()}-thread pool` : 'no system BLAS compiled in: builtin only'}\n`,
  );
  const abCases: AbCase[] = [
    gemmCase(256, 256, 784, false, true, 'Linear 784->256 fwd X·Wᵀ, batch 256'),
    gemmCase(256, 784, 256, false, false, 'Linear 784->256 dX = dY·W'),
    gemmCase(256, 784, 256, true, false, 'Linear 784->256 dW = dYᵀ·X'),
    gemmCase(256, 256, 256, false, false, 'square'),
    gemmCase(1024, 1024, 1024, false, false, 'square'),
    gemmCase(16, 784, 9, false, false, 'im2col fwd, conv 1->16 28x28 (per image)'),
    gemmCase(32, 196, 144, false, false, 'im2col fwd, conv 16->32 14x14 (per image)'),
    gemmCase(144, 32, 196, false, true, 'im2col dKᵀ, conv 16->32 14x14 (per image)'),
    gemmCase(144, 196, 32, true, false, 'im2col dX, conv 16->32 14x14 (per image)'),
    denseConvCase(256, 1, 28, 28, 16, 'fwd'),
    denseConvCase(256, 1, 28, 28, 16, 'bwd'),
    denseConvCase(256, 16, 14, 14, 32, 'fwd'),
    denseConvCase(256, 16, 14, 14, 32, 'bwd'),
  ];
  const abResults = new Map<string, { builtin: number | null; blas: number | null; checked: string; note?: string }>();
  for (const c of abCases) {
    let checked: string;
    try {
      checked = c.check();
    } catch (e) {
      const msg = `check failed: ${(e as Error).message}`;
      process.stdout.write(`${c.id}: ${msg}, not timed\n`);
      abResults.set(c.id, { builtin: null, blas: null, checked: 'no', note: msg });
      continue;
    }
    const t = timeAb(c.run, quick ? 400 : 1500);
    abResults.set(c.id, { ...t, checked });
    process.stdout.write(
      `${c.id}: builtin ${t.builtin.toFixed(3)} ms${t.blas === null ? '' : `, blas ${t.blas.toFixed(3)} ms (builtin/blas time ${(t.builtin / t.blas).toFixed(2)})`}\n`,
    );
  }

  const rssAfter = process.memoryUsage().rss;
  // Call overhead: a tiny op through the TS wrapper and through the raw binding.
  const tiny = new Float32Array([0.5]);
  const out = new Float32Array(1);
  const overhead = new Bench({ time: 300, warmupTime: 100 });
  overhead.add('lib', () => cpHypergrad(tiny, tiny, tiny, { out, backend: 'cpu' }));
  overhead.add('raw', () => addon().cpHypergrad(0, tiny, tiny, tiny, out));
  await overhead.run();
  const us = overhead.tasks.map((t) =>
    ((t.result as unknown as { latency: { p50: number } }).latency.p50 * 1e3).toFixed(2),
  );
  process.stdout.write(`call overhead (cp_hypergrad r=1): ${us[0]} µs through lib/, ${us[1]} µs raw binding\n`);

  // The Frank-Wolfe step on r = 1e5 (pure TypeScript): it must never show up next to the kernels.
  const fw = await fwBench(quick ? 200 : 500);
  for (const f of fw) process.stdout.write(`fw ${f.op} r=${f.shape.r}: ${f.median_ms.toFixed(3)} ms\n`);

  const roof2 = roofline();
  // The larger of the two measurements: the floor must not be flattered by a noisy moment.
  const peak = Math.max(roof1.peakGflops, roof2.peakGflops);
  const bw = Math.max(roof1.bandwidthGbs, roof2.bandwidthGbs);

  const rows: BenchCase[] = cases.map((c) => {
    const r = results.get(c.id) as CaseResult;
    const floor = floorMs(c.flops, c.bytes, peak, bw);
    const floorAdj = r.adjacent ? floorMs(c.flops, c.bytes, r.adjacent.peakGflops, r.adjacent.bandwidthGbs) : undefined;
    const p: PeerResult | null = r.peerMs !== undefined ? { name: 'torch-cpu-2t', median_ms: r.peerMs } : null;
    const row: BenchCase = {
      op: c.op,
      shape: c.shape,
      median_ms: r.median,
      floor_ms: floor,
      ratio_to_floor: r.median === null ? null : r.median / floor,
      gflops: r.median === null ? null : c.flops / (r.median * 1e6),
      gbs: r.median === null ? null : c.bytes / (r.median * 1e6),
      flops: c.flops,
      bytes: c.bytes,
      checked: r.checked,
      peer: p,
      // against our timings on either side of the peer's (see the case loop)
      speedup_vs_peer: p && r.around ? p.median_ms / r.around : null,
    };
    if (floorAdj !== undefined) {
      row.floor_adjacent_ms = floorAdj;
      row.ratio_to_floor_adjacent = r.median === null ? null : r.median / floorAdj;
    }
    if (r.note) row.note = r.note;
    return row;
  });
  const peerName = `openblas-${getNumThreads()}t-in-process`;
  for (const c of abCases) {
    const r = abResults.get(c.id) as { builtin: number | null; blas: number | null; checked: string; note?: string };
    const floor = floorMs(c.flops, c.bytes, peak, bw);
    const row: BenchCase = {
      op: c.op,
      shape: c.shape,
      median_ms: r.builtin,
      floor_ms: floor,
      ratio_to_floor: r.builtin === null ? null : r.builtin / floor,
      gflops: r.builtin === null ? null : c.flops / (r.builtin * 1e6),
      gbs: r.builtin === null ? null : c.bytes / (r.builtin * 1e6),
      flops: c.flops,
      bytes: c.bytes,
      checked: r.checked,
      peer: r.blas === null ? null : { name: peerName, median_ms: r.blas },
      speedup_vs_peer: r.blas !== null && r.builtin ? r.blas / r.builtin : null,
    };
    if (r.note) row.note = r.note;
    rows.push(row);
  }

  const file = {
    suite: 'kernels',
    backend: 'cpu',
    machine: machine(),
    commit: commit(),
    date: new Date().toISOString(),
    threads: getNumThreads(),
    simd: i.cpu.simd,
    quick, // --quick: fewer cases, shorter timings (bench/standing.ts leaves such runs out)
    peak_gflops: peak,
    bandwidth_gbs: bw,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    // Resident memory across all timed cases (inputs + outputs + workspaces); growth beyond the
    // arrays the cases allocate would mean per-call allocation.
    rss_before_cases_mib: rssBefore / 2 ** 20,
    rss_after_cases_mib: rssAfter / 2 ** 20,
    call_overhead_us: { lib: Number(us[0]), raw: Number(us[1]) },
    // The gemm / conv2d peer: which BLAS, its configuration, and the environment that steers it.
    blas: {
      library: blasInfo.library ?? null,
      config: blasInfo.config ?? null,
      openblas_coretype_env: process.env.OPENBLAS_CORETYPE ?? null,
      openblas_l2_size_env: process.env.OPENBLAS_L2_SIZE ?? null,
      threading: 'single-threaded OpenBLAS calls on the debora pool (split over rows or columns of C)',
    },
    cases: rows,
    fw_step: fw,
  };
  const where = writeResults(file);

  const fmt = (v: number | null | undefined, d = 2) => (v === null || v === undefined ? '—' : v.toFixed(d));
  process.stdout.write(
    `\npeak ${peak.toFixed(0)} GFLOP/s, bandwidth ${bw.toFixed(1)} GB/s (max of two measurements), RSS ${file.rss_before_cases_mib.toFixed(0)} -> ${file.rss_after_cases_mib.toFixed(0)} MiB over the cases\n`,
  );
  process.stdout.write(
    '| op | shape | median ms | floor ms | × floor | × adjacent floor | GFLOP/s | GB/s | torch ms | speedup | torch × floor |\n|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `| ${r.op} | ${JSON.stringify(r.shape).replace(/"/g, '')} | ${fmt(r.median_ms, 3)} | ${fmt(r.floor_ms, 3)} | ${fmt(r.ratio_to_floor)} | ${fmt(r.ratio_to_floor_adjacent)} | ${fmt(r.gflops, 1)} | ${fmt(r.gbs, 1)} | ${fmt(r.peer?.median_ms, 3)} | ${fmt(r.speedup_vs_peer)} | ${fmt(r.peer ? r.peer.median_ms / r.floor_ms : null)} |${r.note ? ` ${r.note}` : ''}\n`,
    );
  }
  process.stdout.write(
    '× floor: against the larger of the two full roofline measurements (the targets). × adjacent floor: against the mean of two short ones taken right before and right after the case (a diagnostic of the machine drifting during the run). torch × floor: the time of the peer over the floor, the speedup a kernel exactly at the floor would show (no kernel can show more).\n',
  );
  const abRows = rows.filter((r) => r.op === 'gemm' || r.op.startsWith('conv2d_'));
  if (abRows.length > 0) {
    process.stdout.write(
      `\ndense base ops, builtin vs ${peerName} (OPENBLAS_CORETYPE=${coretype}; % peak of ${peak.toFixed(0)} GFLOP/s)\n| op | shape | builtin ms | GFLOP/s | % peak | OpenBLAS ms | GFLOP/s | builtin time / OpenBLAS time |\n|---|---|---|---|---|---|---|---|\n`,
    );
    for (const r of abRows) {
      const pg = r.peer ? r.flops / (r.peer.median_ms * 1e6) : null;
      const shape = { ...r.shape };
      delete shape.what;
      process.stdout.write(
        `| ${r.op} | ${JSON.stringify(shape).replace(/"/g, '')} | ${fmt(r.median_ms, 3)} | ${fmt(r.gflops, 1)} | ${r.gflops === null ? '—' : ((100 * r.gflops) / peak).toFixed(0)} | ${fmt(r.peer?.median_ms, 3)} | ${fmt(pg, 1)} | ${r.speedup_vs_peer ? (1 / r.speedup_vs_peer).toFixed(2) : '—'} |\n`,
      );
    }
  }
  process.stdout.write(`\nwritten: ${where}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
