/**
 * cuda.test.ts — GPU tier: every CUDA op against its CPU twin through the Node API (backend 'cuda'
 * = the host-pointer CUDA entries). Without a usable GPU each test is skipped with the reason in its
 * title (and printed once), never passed silently. Tolerance for the multilinear ops: both backends
 * are within γ_k·Σ|terms| of the exact value, so they differ by at most 2γ_k·Σ|terms| (Σ|terms| = the
 * CPU op on |inputs|; k as in test/gpu/parity.cpp, which checks the same ops in C++ with guard regions).
 */
import {
  conv2dOutputSize,
  cpConv2dBackward,
  cpConv2dForward,
  cpHypergrad,
  cpLinearBackward,
  cpLinearForward,
  cpMaterialize,
  cpMttkrp,
  cpTangent,
  info,
} from '../../lib';
import { boundRatio } from '../helpers/compare';
import { poisoned, uniform } from '../helpers/random';

const cuda = info().cuda;
const reason = cuda.available ? '' : ` [SKIPPED: no usable GPU: ${cuda.reason}]`;
const gpuTest = cuda.available ? test : test.skip;
if (!cuda.available) process.stderr.write(`test/gpu: skipping the GPU tier: ${cuda.reason}\n`);

describe(`CUDA vs CPU parity${reason}`, () => {
  gpuTest.each([1, 255, 256, 257, 100003])(`cp_hypergrad r = %i is bitwise equal to the CPU twin${reason}`, (r) => {
    const ds = uniform(1 + r, r, -3, 3);
    const s = uniform(2 + r, r, 1e-3, 4);
    const dots = uniform(3 + r, r, -3, 3);
    const cpu = cpHypergrad(ds, s, dots, { backend: 'cpu', out: poisoned(r) });
    const gpu = cpHypergrad(ds, s, dots, { backend: 'cuda', out: poisoned(r) });
    expect(Array.from(gpu)).toEqual(Array.from(cpu));
  });

  gpuTest(`cp_hypergrad on CUDA rejects s <= 0 without writing${reason}`, () => {
    const out = new Float32Array(3).fill(7);
    const x = new Float32Array([1, 2, 3]);
    expect(() => cpHypergrad(x, new Float32Array([1, -1, 1]), x, { backend: 'cuda', out })).toThrow(/argument 's'/);
    expect(Array.from(out)).toEqual([7, 7, 7]);
  });

  const absF = (x: Float32Array) => Float32Array.from(x, Math.abs);
  /** Largest |cuda − cpu| / (2 γ_k Σ|terms|) over the named outputs. */
  const worst = (
    cuda: Record<string, Float32Array>,
    cpu: Record<string, Float32Array>,
    abs: Record<string, Float32Array>,
    k: number,
  ) =>
    Math.max(
      ...Object.keys(cpu).map((name) =>
        boundRatio(cuda[name] as Float32Array, cpu[name] as Float32Array, abs[name] as Float32Array, 2 * k),
      ),
    );

  gpuTest.each([
    [1, 1, 1, 1],
    [37, 129, 65, 9],
    [64, 2049, 33, 8],
    [33, 513, 17, 33],
  ])(`cp_linear N=%i n_in=%i n_out=%i r=%i: forward and backward match the CPU twin${reason}`, (N, nIn, nOut, r) => {
    const p = {
      N,
      nIn,
      nOut,
      r,
      X: uniform(1, N * nIn, -1, 1),
      U: uniform(2, nOut * r, -1, 1),
      V: uniform(3, nIn * r, -1, 1),
      s: uniform(4, r, 0.05, 2),
    };
    const dY = uniform(5, N * nOut, -1, 1);
    const a = { ...p, X: absF(p.X), U: absF(p.U), V: absF(p.V) };
    const k = nIn + nOut + N + r + 4;
    const run = (q: typeof p, backend: 'cpu' | 'cuda', g: Float32Array) => {
      const f = cpLinearForward(q, { backend, Z: true });
      const b = cpLinearBackward({ ...q, dY: g }, { backend, Z: f.Z, dots: true });
      return {
        Y: f.Y,
        Z: f.Z as Float32Array,
        dX: b.dX as Float32Array,
        dU: b.dU,
        dV: b.dV,
        ds: b.ds,
        dots: b.dots as Float32Array,
      };
    };
    expect(worst(run(p, 'cuda', dY), run(p, 'cpu', dY), run(a, 'cpu', absF(dY)), k)).toBeLessThanOrEqual(1);
  });

  gpuTest.each([
    [{ batch: 2, C: 3, H: 7, W: 5, F: 4, kh: 3, kw: 3, padding: 1 }, 5],
    [{ batch: 2, C: 4, H: 9, W: 11, F: 3, kh: 3, kw: 2, stride: [2, 1], padding: [0, 1], dilation: [2, 1] }, 9],
    [{ batch: 3, C: 8, H: 16, W: 16, F: 8, kh: 3, kw: 3, padding: 1 }, 33],
  ] as const)(`cp_conv2d %j r=%i: forward and backward match the CPU twin${reason}`, (geom, r) => {
    const g = { ...geom } as Parameters<typeof cpConv2dForward>[0];
    const { Ho, Wo } = conv2dOutputSize(g);
    const X = uniform(11, g.batch * g.C * g.H * g.W, -1, 1);
    const f = {
      U1: uniform(12, g.F * r, -1, 1),
      U2: uniform(13, g.C * r, -1, 1),
      U3: uniform(14, g.kh * r, -1, 1),
      U4: uniform(15, g.kw * r, -1, 1),
      s: uniform(16, r, 0.05, 2),
    };
    const dY = uniform(17, g.batch * g.F * Ho * Wo, -1, 1);
    const fa = { U1: absF(f.U1), U2: absF(f.U2), U3: absF(f.U3), U4: absF(f.U4), s: f.s };
    const k = g.batch * (g.H * g.W + Ho * Wo) + g.C + g.F + g.kh + g.kw + r + 8;
    const run = (x: Float32Array, ff: typeof f, d: Float32Array, backend: 'cpu' | 'cuda') => {
      const Y = cpConv2dForward(g, r, x, ff, { backend });
      const b = cpConv2dBackward(g, r, x, ff, d, { backend, wantDots: true });
      return {
        Y,
        dX: b.dX as Float32Array,
        dU1: b.dU1,
        dU2: b.dU2,
        dU3: b.dU3,
        dU4: b.dU4,
        ds: b.ds,
        dots: b.dots as Float32Array,
      };
    };
    expect(
      worst(run(X, f, dY, 'cuda'), run(X, f, dY, 'cpu'), run(absF(X), fa, absF(dY), 'cpu'), k),
    ).toBeLessThanOrEqual(1);
  });

  gpuTest.each([
    [[3, 4, 5], 2],
    [[300, 257], 8],
    [[2, 3, 2, 2, 3, 2], 7],
    [[16, 16, 3, 3], 40],
  ])(`cp_materialize and cp_mttkrp dims=%j r=%i match the CPU twin${reason}`, (dims, r) => {
    const factors = dims.map((n, k) => uniform(20 + k, n * r, -1, 1));
    const fa = factors.map(absF);
    const s = uniform(30, r, 0.05, 2);
    const total = dims.reduce((a, b) => a * b, 1);
    const G = uniform(31, total, -1, 1);
    const mat = (f: Float32Array[], backend: 'cpu' | 'cuda') => ({ out: cpMaterialize(f, s, dims, { backend }) });
    expect(worst(mat(factors, 'cuda'), mat(factors, 'cpu'), mat(fa, 'cpu'), r + dims.length + 2)).toBeLessThanOrEqual(
      1,
    );
    const mtt = (f: Float32Array[], g: Float32Array, backend: 'cpu' | 'cuda') => {
      const res = cpMttkrp(f, s, dims, g, { backend, wantDots: true });
      return Object.fromEntries([
        ...res.grads.map((x, k) => [`g${k}`, x]),
        ['ds', res.ds],
        ['dots', res.dots],
      ]) as Record<string, Float32Array>;
    };
    expect(
      worst(mtt(factors, G, 'cuda'), mtt(factors, G, 'cpu'), mtt(fa, absF(G), 'cpu'), total + dims.length + r + 4),
    ).toBeLessThanOrEqual(1);
  });

  gpuTest.each([
    ['euclidean', 257, 9],
    ['oblique', 300, 33],
    ['stiefel', 300, 33],
  ] as const)(`cp_tangent %s n=%i r=%i matches the CPU twin (double sums, rounded once)${reason}`, (geom, n, r) => {
    const U = uniform(40, n * r, -1, 1);
    const G = uniform(41, n * r, -1, 1);
    const cpu = cpTangent(geom, U, G, n, r, { backend: 'cpu' });
    const cuda = cpTangent(geom, U, G, n, r, { backend: 'cuda' });
    // Both round a double result once; the double sums differ by far less than a float ulp here.
    for (let q = 0; q < cpu.length; q++)
      expect(Math.abs((cuda[q] as number) - (cpu[q] as number))).toBeLessThanOrEqual(
        2 ** -22 * (Math.abs(cpu[q] as number) + 2 ** -10),
      );
  });

  gpuTest(`errors from the CUDA twins match the CPU's (code and message) and leave outputs untouched${reason}`, () => {
    const p = {
      N: 3,
      nIn: 4,
      nOut: 5,
      r: 2,
      X: uniform(1, 12, -1, 1),
      U: uniform(2, 10, -1, 1),
      V: uniform(3, 8, -1, 1),
      s: new Float32Array([1, Number.NaN]),
    };
    const msg = (backend: 'cpu' | 'cuda') => {
      const out = new Float32Array(15).fill(7);
      try {
        cpLinearForward(p, { backend, out });
      } catch (e) {
        expect(Array.from(out)).toEqual(new Array(15).fill(7));
        return `${(e as { code?: string }).code}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(msg('cuda')).toBe(msg('cpu'));
  });
});
