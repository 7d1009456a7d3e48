/**
 * cp_dense.test.ts — ops cp_materialize and cp_mttkrp (the dense route, orders 2…6) against float64
 * references on seeded awkward shapes (1, primes, 7/8/9, 15/16/17) and ranks 1, 3, 8, 17, at every SIMD
 * path this CPU has, outputs poisoned with NaN first; the reference backward against central finite
 * differences of a linear and a nonlinear loss; threaded shapes (reproducible call to call); bad inputs
 * (clear error naming the argument, outputs untouched).
 * Tolerance: each output is a sum of n products of at most d + 1 float32 numbers (materialize: n = r;
 * ds: n = prod(dims); grads[k]: n = prod(dims)/n_k; dots: n = prod(dims) + Σ n_k), so
 * |got − ref| ≤ γ_{n+d+2}·(the same reference on |inputs|), γ_k = k·u/(1 − k·u), u = 2^-24 — Higham's
 * bound for any summation order (the kernels block and reorder sums). A wrong index or a dropped term
 * gives errors of the size of the terms, orders of magnitude above it.
 */
import { info, isDeboraError, SIMD_LEVELS, setNumThreads, setSimd } from '../../lib';
import { addon } from '../../lib/native';
import { type CpMttkrpResult, cpMaterialize, cpMaterializeAsync, cpMttkrp, cpMttkrpAsync } from '../../lib/ops';
import { sameBits } from '../helpers/compare';
import { loopTurnsDuring } from '../helpers/event_loop';
import { poisoned, rng, uniform } from '../helpers/random';
import { abs64, gamma, materialize64, mttkrp64, prod, worstRatio } from '../helpers/reference_dense';

const best = info().cpu.simdSupported;
const LEVELS = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(best) + 1);
const threadsBefore = info().cpu.threads;

afterAll(() => {
  setSimd(best);
  setNumThreads(threadsBefore);
});

interface Problem {
  dims: number[];
  r: number;
  factors: Float32Array[];
  s: Float32Array;
  G: Float32Array;
}

function problem(seed: number, dims: number[], r: number): Problem {
  return {
    dims,
    r,
    factors: dims.map((n, k) => uniform(seed + 17 * k, n * r, -1, 1)),
    s: uniform(seed + 101, r, 0.25, 2),
    G: uniform(seed + 202, prod(dims), -1, 1),
  };
}

interface References {
  out: Float64Array;
  outScale: Float64Array;
  ref: ReturnType<typeof mttkrp64>;
  scale: ReturnType<typeof mttkrp64>;
}

/** The float64 results and their error scales (the same references on |inputs|). */
function references(p: Problem): References {
  const absF = p.factors.map(abs64);
  const absS = abs64(p.s);
  return {
    out: materialize64(p.factors, p.s, p.dims),
    outScale: materialize64(absF, absS, p.dims),
    ref: mttkrp64(p.factors, p.s, p.dims, p.G),
    scale: mttkrp64(absF, absS, p.dims, abs64(p.G)),
  };
}

/** Worst error/bound over materialize (optional), grads, ds and dots (optional); ≤ 1 passes. */
function compareAll(
  p: Problem,
  got: { out?: Float32Array; grads: Float32Array[]; ds: Float32Array; dots?: Float32Array },
  refs: References = references(p),
): number {
  const { dims, r } = p;
  const d = dims.length;
  const N = prod(dims);
  const { ref, scale: sc } = refs;
  let worst = 0;
  if (got.out)
    worst = Math.max(
      worst,
      worstRatio(got.out, refs.out, (j) => gamma(r + d + 2) * (refs.outScale[j] as number)),
    );
  worst = Math.max(
    worst,
    worstRatio(got.ds, ref.ds, (i) => gamma(N + d + 2) * (sc.ds[i] as number)),
  );
  for (let k = 0; k < d; k++) {
    const n = N / (dims[k] as number) + d + 2;
    const scale = sc.grads[k] as Float64Array;
    worst = Math.max(
      worst,
      worstRatio(got.grads[k] as Float32Array, ref.grads[k] as Float64Array, (j) => gamma(n) * (scale[j] as number)),
    );
  }
  if (got.dots) {
    const n = N + dims.reduce((a, b) => a + b, 0) + d + 2;
    worst = Math.max(
      worst,
      worstRatio(got.dots, ref.dots, (i) => gamma(n) * (sc.dots[i] as number)),
    );
  }
  return worst;
}

const SHAPES: number[][] = [
  [1, 5],
  [17, 9],
  [8, 16],
  [1, 1],
  [7, 1, 3],
  [9, 15, 2],
  [5, 3, 3, 2],
  [16, 17, 3, 3],
  [2, 3, 1, 2, 3],
  [2, 2, 3, 1, 2, 2],
  [3, 1, 4, 2, 2, 3],
  // the small-rank MTTKRP path (r ≤ 8, at least 8 vectors of columns): a row tail, two row tiles, two column
  // tiles, a column tail on every SIMD width
  [5, 290],
  [100, 130],
  [2, 3, 100],
  [3, 2100],
];
const RANKS = [1, 3, 8, 17];

describe.each(LEVELS)('simd %s', (level) => {
  beforeAll(() => setSimd(level));

  test.each(SHAPES.map((dims, c) => [JSON.stringify(dims), dims, c] as const))(
    'dims %s, r = 1, 3, 8, 17: materialize and mttkrp (all modes, ds, dots) match float64',
    (_name, dims, c) => {
      for (const r of RANKS) {
        const p = problem(1000 * c + r, dims, r);
        const out = poisoned(prod(dims));
        expect(cpMaterialize(p.factors, p.s, dims, { out, backend: 'cpu' })).toBe(out);
        const grads = dims.map((n) => poisoned(n * r));
        const ds = poisoned(r);
        const dots = poisoned(r);
        const res = cpMttkrp(p.factors, p.s, dims, p.G, { grads, ds, dots, backend: 'cpu' });
        expect(res.grads).toBe(grads);
        expect(res.ds).toBe(ds);
        expect(res.dots).toBe(dots);
        expect(compareAll(p, { out, grads, ds, dots })).toBeLessThanOrEqual(1);
      }
    },
  );
});

test('new output arrays when none are given; wantDots adds dots, otherwise there are none', () => {
  const p = problem(5, [4, 3, 5], 3);
  const out = cpMaterialize(p.factors, p.s, p.dims, { backend: 'cpu' });
  expect(out.length).toBe(60);
  const a = cpMttkrp(p.factors, p.s, p.dims, p.G, { backend: 'cpu' });
  expect(a.dots).toBeUndefined();
  expect(a.grads.map((g) => g.length)).toEqual([12, 9, 15]);
  const b = cpMttkrp(p.factors, p.s, p.dims, p.G, { wantDots: true, backend: 'cpu' });
  expect(compareAll(p, { out, ...b })).toBeLessThanOrEqual(1);
  expect(Array.from(b.ds)).toEqual(Array.from(a.ds));
});

test('async variants: the sync results bit for bit, the event loop free meanwhile, errors reject', async () => {
  // 2.7 M elements of order 3, r = 24: the threaded paths.
  const p = problem(70, [311, 431, 20], 24);
  const mat = () => cpMaterialize(p.factors, p.s, p.dims);
  const mtt = () => cpMttkrp(p.factors, p.s, p.dims, p.G, { wantDots: true });
  const syncW = mat();
  const syncG = mtt();
  // The counter sees no turn during synchronous calls (the JS thread is held)...
  expect(await loopTurnsDuring(() => [mat(), mtt()])).toBe(0);
  // ...and at least one across two async calls awaited in turn (see test/helpers/event_loop.ts).
  let wa: Float32Array | undefined;
  let ga: CpMttkrpResult | undefined;
  const turns = await loopTurnsDuring(async () => {
    wa = await cpMaterializeAsync(p.factors, p.s, p.dims);
    ga = await cpMttkrpAsync(p.factors, p.s, p.dims, p.G, { wantDots: true });
  });
  expect(turns).toBeGreaterThan(0);
  // Both at once: the same bits again.
  const [wc, gc] = await Promise.all([
    cpMaterializeAsync(p.factors, p.s, p.dims),
    cpMttkrpAsync(p.factors, p.s, p.dims, p.G, { wantDots: true }),
  ]);
  for (const w of [wa, wc]) expect(sameBits(w, syncW)).toBe(true);
  for (const g of [ga, gc]) {
    for (const [k, grad] of syncG.grads.entries()) expect(sameBits(g?.grads[k], grad)).toBe(true);
    expect(sameBits(g?.ds, syncG.ds)).toBe(true);
    expect(sameBits(g?.dots, syncG.dots)).toBe(true);
  }
  // A kernel error (NaN in G) and a boundary error (short out) reject with the DeboraError, outputs untouched.
  const q = problem(71, [5, 7, 3], 4);
  const G = Float32Array.from(q.G);
  G[17] = Number.NaN;
  const ds = new Float32Array(4).fill(7);
  await expect(cpMttkrpAsync(q.factors, q.s, q.dims, G, { ds })).rejects.toMatchObject({
    name: 'DeboraError',
    code: 'DEBORA_NON_FINITE',
  });
  expect(Array.from(ds)).toEqual([7, 7, 7, 7]);
  await expect(cpMaterializeAsync(q.factors, q.s, q.dims, { out: new Float32Array(104) })).rejects.toMatchObject({
    name: 'DeboraError',
    code: 'DEBORA_SHAPE_MISMATCH',
  });
});

describe('threaded shapes', () => {
  // Above the threading threshold (prod(dims)·r ≥ 2^20 multiply-adds), split along rows and along columns.
  const BIG: [number[], number][] = [
    [[130, 257], 32],
    [[64, 64, 3, 3], 32],
    [[17, 600, 3], 40],
    [[900, 31], 40],
    // the small-rank path, split by columns and by rows
    [[40, 9001], 5],
    [[3001, 200], 8],
  ];
  test.each(BIG.map(([dims, r]) => [JSON.stringify(dims), r, dims] as const))(
    'dims %s r = %i: correct with 1, 2 and 3 threads, bitwise equal from call to call',
    (_name, r, dims) => {
      const p = problem(77, dims, r);
      const refs = references(p);
      for (const threads of [1, 2, 3]) {
        setNumThreads(threads);
        const out = cpMaterialize(p.factors, p.s, dims, { out: poisoned(prod(dims)), backend: 'cpu' });
        const a = cpMttkrp(p.factors, p.s, dims, p.G, { wantDots: true, backend: 'cpu' });
        const b = cpMttkrp(p.factors, p.s, dims, p.G, { wantDots: true, backend: 'cpu' });
        expect(compareAll(p, { out, ...a }, refs)).toBeLessThanOrEqual(1);
        expect(Array.from(b.ds)).toEqual(Array.from(a.ds));
        for (let k = 0; k < dims.length; k++)
          expect(Array.from(b.grads[k] as Float32Array)).toEqual(Array.from(a.grads[k] as Float32Array));
      }
      setNumThreads(threadsBefore);
    },
  );
});

describe('small G on two threads: one product per thread', () => {
  // prod(dims)·rp in [2^18, 2^20) and G ≤ 2^16 floats: Y and Z on different threads (cp_dense_kernels.h,
  // run_mttkrp_roles). N in [32768, 65536) with r in 8…16 lands there at every SIMD level (rp = r, 8 or 16); the
  // C++ driver checks that each shape here is in range at every padding (case_roles).
  // Each product is tiled as on one thread, and dots are summed mode by mode in the one-thread order, so all
  // outputs must be bitwise those of one thread.
  const ROLES: [number[], number][] = [
    [[64, 64, 3, 3], 8], // the bench shape, small-rank path
    [[64, 64, 3, 3], 13], // rank path
    [[181, 199], 8], // primes: a column tail on every vector width
    [[5, 7, 31, 37], 9],
    [[3, 4, 2, 5, 7, 41], 16], // order 6
  ];
  describe.each(LEVELS)('simd %s', (level) => {
    beforeAll(() => setSimd(level));
    afterAll(() => setNumThreads(threadsBefore));
    test.each(ROLES.map(([dims, r]) => [JSON.stringify(dims), r, dims] as const))(
      'dims %s r = %i: two threads match float64 and are bitwise one thread',
      (_name, r, dims) => {
        const p = problem(31, dims, r);
        setNumThreads(1);
        const one = cpMttkrp(p.factors, p.s, dims, p.G, { wantDots: true, backend: 'cpu' });
        setNumThreads(2);
        const grads = dims.map((n) => poisoned(n * r));
        const two = cpMttkrp(p.factors, p.s, dims, p.G, { grads, ds: poisoned(r), dots: poisoned(r), backend: 'cpu' });
        setNumThreads(threadsBefore);
        expect(compareAll(p, two)).toBeLessThanOrEqual(1);
        expect(Array.from(two.ds)).toEqual(Array.from(one.ds));
        expect(Array.from(two.dots as Float32Array)).toEqual(Array.from(one.dots as Float32Array));
        for (let k = 0; k < dims.length; k++)
          expect(Array.from(two.grads[k] as Float32Array)).toEqual(Array.from(one.grads[k] as Float32Array));
      },
    );
  });

  // A product that overflows on one thread while the other's is finite: the finite one must not write its
  // gradients either. [64, 64, 3, 3] splits as P = 64 (mode 0) x Q = 576: Y = G·KR(U1, U2, U3), Z = Gᵀ·U0.
  test.each([
    ['Y', 1e-20, 1], // U0 tiny: Z finite, Y = Σ G·B overflows
    ['Z', 1, 1e-8], // trailing factors tiny: Y finite, Z = Σ G·U0 overflows
  ] as const)('only %s overflows: DEBORA_NON_FINITE, nothing written, with 1 and 2 threads', (_which, a, b) => {
    const dims = [64, 64, 3, 3];
    const r = 8;
    const p = problem(32, dims, r);
    const factors = p.factors.map((f, k) => f.map((v) => v * (k === 0 ? a : b)));
    const G = new Float32Array(prod(dims)).fill(3e38);
    try {
      for (const threads of [1, 2]) {
        setNumThreads(threads);
        const out = {
          grads: dims.map((n) => new Float32Array(n * r).fill(4242.5)),
          ds: new Float32Array(r).fill(4242.5),
          dots: new Float32Array(r).fill(4242.5),
        };
        expectError(() => cpMttkrp(factors, p.s, dims, G, out), 'DEBORA_NON_FINITE', "'G'", 'overflow');
        expect([...out.grads, out.ds, out.dots].every((x) => x.every((v) => v === 4242.5))).toBe(true);
        const G2 = Float32Array.from(p.G);
        G2[40000 % prod(dims)] = Number.NaN;
        expectError(() => cpMttkrp(p.factors, p.s, dims, G2, out), 'DEBORA_NON_FINITE', "'G'", 'NaN at index 3136');
        expect([...out.grads, out.ds, out.dots].every((x) => x.every((v) => v === 4242.5))).toBe(true);
      }
    } finally {
      setNumThreads(threadsBefore);
    }
  });
});

describe('the float64 reference backward equals central finite differences', () => {
  // Parameters in float64; L is evaluated with materialize64. Linear loss L = ⟨G, Ψ⟩: Ψ is multilinear, so the
  // central difference is exact up to rounding (error ~ 1e-16·Σ|terms|/h). Nonlinear L = ½‖Ψ − T‖²: its gradient
  // is the backward at G = Ψ − T; the central difference has O(h²) error (h = 1e-5 → ~1e-10 relative).
  const CASES: [number[], number][] = [
    [[3, 4], 2],
    [[2, 3, 2], 3],
    [[2, 2, 3, 2], 2],
    [[2, 1, 2, 2, 1, 2], 2],
  ];
  function params(seed: number, dims: number[], r: number) {
    const next = rng(seed);
    const factors = dims.map((n) => Float64Array.from({ length: n * r }, () => 2 * next() - 1));
    const s = Float64Array.from({ length: r }, () => 0.5 + next());
    return { factors, s };
  }
  function checkFd(
    dims: number[],
    r: number,
    loss: (f: Float64Array[], s: Float64Array) => number,
    grad: { grads: Float64Array[]; ds: Float64Array },
    f: Float64Array[],
    s: Float64Array,
    h: number,
    tol: number,
  ) {
    let worst = 0;
    const bump = (x: Float64Array, j: number) => {
      const x0 = x[j] as number;
      x[j] = x0 + h;
      const lp = loss(f, s);
      x[j] = x0 - h;
      const lm = loss(f, s);
      x[j] = x0;
      return (lp - lm) / (2 * h);
    };
    for (let k = 0; k < dims.length; k++)
      for (let j = 0; j < (dims[k] as number) * r; j++) {
        const fd = bump(f[k] as Float64Array, j);
        worst = Math.max(worst, Math.abs(fd - ((grad.grads[k] as Float64Array)[j] as number)) / (1 + Math.abs(fd)));
      }
    for (let i = 0; i < r; i++) {
      const fd = bump(s, i);
      worst = Math.max(worst, Math.abs(fd - (grad.ds[i] as number)) / (1 + Math.abs(fd)));
    }
    expect(worst).toBeLessThan(tol);
  }

  test.each(CASES.map(([dims, r]) => [JSON.stringify(dims), r, dims] as const))('dims %s r = %i', (_n, r, dims) => {
    const { factors, s } = params(31 + r, dims, r);
    const G = Float64Array.from(uniform(41, prod(dims), -1, 1));
    const linear = (f: Float64Array[], sv: Float64Array) => {
      const psi = materialize64(f, sv, dims);
      let l = 0;
      for (let j = 0; j < psi.length; j++) l += (G[j] as number) * (psi[j] as number);
      return l;
    };
    checkFd(dims, r, linear, mttkrp64(factors, s, dims, G), factors, s, 1e-4, 1e-9);

    const T = Float64Array.from(uniform(43, prod(dims), -1, 1));
    const quad = (f: Float64Array[], sv: Float64Array) => {
      const psi = materialize64(f, sv, dims);
      let l = 0;
      for (let j = 0; j < psi.length; j++) l += 0.5 * ((psi[j] as number) - (T[j] as number)) ** 2;
      return l;
    };
    const psi = materialize64(factors, s, dims);
    const Gq = psi.map((v, j) => v - (T[j] as number));
    checkFd(dims, r, quad, mttkrp64(factors, s, dims, Gq), factors, s, 1e-5, 1e-8);

    // The native kernel on the nonlinear loss's gradient (inputs rounded to float32) matches the reference.
    const p: Problem = {
      dims,
      r,
      factors: factors.map((x) => Float32Array.from(x)),
      s: Float32Array.from(s),
      G: Float32Array.from(Gq),
    };
    const got = cpMttkrp(p.factors, p.s, dims, p.G, { wantDots: true, backend: 'cpu' });
    expect(compareAll(p, got)).toBeLessThanOrEqual(1);
  });
});

/** Runs f, which must throw a DeboraError with this code and a message containing every `parts`. */
function expectError(f: () => unknown, code: string, ...parts: string[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isDeboraError(err)).toBe(true);
  if (!isDeboraError(err)) return;
  expect(err.code).toBe(code);
  for (const part of parts) expect(err.message).toContain(part);
}

describe('bad inputs: a clear error naming the argument, outputs untouched', () => {
  const SENTINEL = 4242.5;
  const dims = [4, 3, 5];
  const r = 3;
  const p = problem(9, dims, r);
  const fresh = () => ({
    out: new Float32Array(60).fill(SENTINEL),
    grads: dims.map((n) => new Float32Array(n * r).fill(SENTINEL)),
    ds: new Float32Array(r).fill(SENTINEL),
    dots: new Float32Array(r).fill(SENTINEL),
  });
  const untouched = (o: ReturnType<typeof fresh>) =>
    [o.out, ...o.grads, o.ds, o.dots].every((a) => a.every((v) => v === SENTINEL));

  test('wrong order d: dims of length 1 or 7', () => {
    for (const bad of [[60], [1, 2, 1, 3, 1, 2, 5]]) {
      const o = fresh();
      expectError(
        () => cpMaterialize(p.factors, p.s, bad, { out: o.out }),
        'DEBORA_INVALID_ARG',
        "'dims'",
        'an array of 2 to 6 integers',
      );
      expectError(() => cpMttkrp(p.factors, p.s, bad, p.G, o), 'DEBORA_INVALID_ARG', "'dims'");
      expect(untouched(o)).toBe(true);
    }
  });

  test('dims entries must be integers >= 1', () => {
    expectError(() => cpMaterialize(p.factors, p.s, [4, 0, 5]), 'DEBORA_INVALID_ARG', "'dims[1]'", 'received 0');
    expectError(() => cpMttkrp(p.factors, p.s, [4, 3, 2.5], p.G), 'DEBORA_INVALID_ARG', "'dims[2]'", 'received 2.5');
  });

  test('wrong lengths are DEBORA_SHAPE_MISMATCH naming the argument', () => {
    const o = fresh();
    const short = [
      p.factors[0] as Float32Array,
      (p.factors[1] as Float32Array).subarray(1),
      p.factors[2] as Float32Array,
    ];
    expectError(
      () => cpMaterialize(short, p.s, dims, { out: o.out }),
      'DEBORA_SHAPE_MISMATCH',
      "'factors[1]'",
      'length 9',
    );
    expectError(() => cpMttkrp(short, p.s, dims, p.G, o), 'DEBORA_SHAPE_MISMATCH', "'factors[1]'");
    expectError(() => cpMttkrp(p.factors.slice(0, 2), p.s, dims, p.G, o), 'DEBORA_SHAPE_MISMATCH', "'factors'");
    expectError(() => cpMttkrp(p.factors, p.s, dims, p.G.subarray(1), o), 'DEBORA_SHAPE_MISMATCH', "'G'", 'length 60');
    expectError(
      () => cpMaterialize(p.factors, p.s, dims, { out: new Float32Array(59) }),
      'DEBORA_SHAPE_MISMATCH',
      "'out'",
    );
    expectError(
      () =>
        cpMttkrp(p.factors, p.s, dims, p.G, {
          ...o,
          grads: [o.grads[0] as Float32Array, new Float32Array(8), o.grads[2] as Float32Array],
        }),
      'DEBORA_SHAPE_MISMATCH',
      "'grads[1]'",
    );
    expectError(
      () => cpMttkrp(p.factors, p.s, dims, p.G, { ...o, grads: o.grads.slice(1) }),
      'DEBORA_SHAPE_MISMATCH',
      "'grads'",
    );
    expectError(
      () => cpMttkrp(p.factors, p.s, dims, p.G, { ...o, ds: new Float32Array(2) }),
      'DEBORA_SHAPE_MISMATCH',
      "'ds'",
    );
    expectError(
      () => cpMttkrp(p.factors, p.s, dims, p.G, { ...o, dots: new Float32Array(4) }),
      'DEBORA_SHAPE_MISMATCH',
      "'dots'",
    );
    expectError(() => cpMttkrp(p.factors, new Float32Array(0), dims, p.G, o), 'DEBORA_INVALID_ARG', "'s'");
    expect(untouched(o)).toBe(true);
  });

  test('non-finite s, factors or G: DEBORA_NON_FINITE naming the argument and index, nothing written', () => {
    const o = fresh();
    const s = Float32Array.from(p.s);
    s[2] = Number.NaN;
    expectError(() => cpMaterialize(p.factors, s, dims, { out: o.out }), 'DEBORA_NON_FINITE', "'s'", 'NaN at index 2');
    expectError(() => cpMttkrp(p.factors, s, dims, p.G, o), 'DEBORA_NON_FINITE', "'s'");
    const f1 = Float32Array.from(p.factors[1] as Float32Array);
    f1[4] = Number.POSITIVE_INFINITY;
    const factors = [p.factors[0] as Float32Array, f1, p.factors[2] as Float32Array];
    expectError(
      () => cpMaterialize(factors, p.s, dims, { out: o.out }),
      'DEBORA_NON_FINITE',
      "'factors[1]'",
      'Infinity at index 4',
    );
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const G = Float32Array.from(p.G);
      G[37] = bad;
      expectError(() => cpMttkrp(p.factors, p.s, dims, G, o), 'DEBORA_NON_FINITE', "'G'", 'at index 37');
    }
    expect(untouched(o)).toBe(true);
  });

  test('outputs overlapping inputs or each other are refused', () => {
    const o = fresh();
    const buf = new Float32Array(64);
    buf.set(p.factors[1] as Float32Array, 0); // factors[1] = buf[0..9); grads[0] = buf[6..18) overlaps it
    const factors = [p.factors[0] as Float32Array, buf.subarray(0, 9), p.factors[2] as Float32Array];
    const grads = [buf.subarray(6, 18), o.grads[1] as Float32Array, o.grads[2] as Float32Array];
    expectError(
      () => cpMttkrp(factors, p.s, dims, p.G, { ...o, grads }),
      'DEBORA_INVALID_ARG',
      "'grads[0]'",
      "'factors[1]'",
    );
    expect(Array.from(buf.subarray(0, 9))).toEqual(Array.from(p.factors[1] as Float32Array));
    expectError(
      () => cpMttkrp(p.factors, p.s, dims, p.G, { ...o, dots: o.ds }),
      'DEBORA_INVALID_ARG',
      "'dots'",
      "'ds'",
    );
    const big = new Float32Array(80);
    expectError(
      () =>
        cpMaterialize([p.factors[0] as Float32Array, big.subarray(50, 59), p.factors[2] as Float32Array], p.s, dims, {
          out: big.subarray(0, 60),
        }),
      'DEBORA_INVALID_ARG',
      "'out'",
      "'factors[1]'",
    );
    expect(untouched(o)).toBe(true);
  });

  test('the raw addon, bypassing the wrapper, still refuses a short G and a bad order', () => {
    const o = fresh();
    expectError(
      () => addon().cpMttkrp(0, dims, r, p.factors, p.s, p.G.subarray(3), o.grads, o.ds, null),
      'DEBORA_SHAPE_MISMATCH',
      "'G'",
    );
    expectError(
      () => addon().cpMaterialize(0, [60], r, [p.factors[0] as Float32Array], p.s, o.out),
      'DEBORA_INVALID_ARG',
    );
    expect(untouched(o)).toBe(true);
  });
});
