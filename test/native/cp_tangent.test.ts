/**
 * cp_tangent.test.ts — op cp_tangent (Riemannian gradient of a factor) against the float64 reference for
 * euclidean, oblique and stiefel on seeded shapes, at every SIMD path this CPU has, outputs poisoned with NaN;
 * the projection lands in the tangent space and is idempotent; out may be G itself; euclidean is a copy;
 * dots accumulates; bad inputs give a clear error naming the argument and leave outputs untouched.
 * Tolerance: the kernel reduces in double and rounds each output once, so |out − ref| ≤ u·|out| plus double
 * rounding far below it: we allow 2u·(|G| + |U|·|C|) (C the correction, on |U| and |G|; u = 2^-24), which also
 * covers cancellation. dots: u·|dots| + 2u·Σ_j |U_ji|·scale_ji (the rounding of out, weighted by |U|).
 */
import { GEOMETRIES, type Geometry, info, isDeboraError, SIMD_LEVELS, setNumThreads, setSimd } from '../../lib';
import { addon } from '../../lib/native';
import { cpTangent } from '../../lib/ops';
import { poisoned, uniform } from '../helpers/random';
import { normalizeColumns, orthonormalize, tangent64, U32, worstRatio } from '../helpers/reference_dense';

const best = info().cpu.simdSupported;
const LEVELS = SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(best) + 1);
const threadsBefore = info().cpu.threads;

afterAll(() => {
  setSimd(best);
  setNumThreads(threadsBefore);
});

/** A point of the geometry's manifold (random entries, then normalised / orthonormalised). */
function point(geometry: Geometry, seed: number, n: number, r: number): Float32Array {
  const U = uniform(seed, n * r, -1, 1);
  if (geometry === 'oblique') return normalizeColumns(U, n, r);
  if (geometry === 'stiefel') return orthonormalize(U, n, r);
  return U;
}

// [n, r]: 1, primes, SIMD width ± 1, n = r (square Stiefel), r = 1.
const SHAPES: [number, number][] = [
  [1, 1],
  [7, 3],
  [17, 8],
  [5, 5],
  [64, 17],
  [300, 32],
  [9, 1],
  [33, 15],
];

function check(
  geometry: Geometry,
  U: Float32Array,
  G: Float32Array,
  n: number,
  r: number,
  out: Float32Array,
  dots: Float32Array,
  dots0: Float32Array,
): number {
  const ref = tangent64(geometry, U, G, n, r);
  let worst = worstRatio(out, ref.out, (j) => 2 * U32 * (ref.scale[j] as number));
  const want = Float64Array.from(ref.dots, (v, i) => v + (dots0[i] as number));
  worst = Math.max(
    worst,
    worstRatio(dots, want, (i) => {
      let su = 0;
      for (let j = 0; j < n; j++) su += Math.abs(U[j * r + i] as number) * (ref.scale[j * r + i] as number);
      return U32 * (Math.abs(want[i] as number) + 2 * su);
    }),
  );
  return worst;
}

describe.each(LEVELS)('simd %s', (level) => {
  beforeAll(() => setSimd(level));
  test.each(GEOMETRIES)('%s matches the float64 reference on every shape (dots accumulates)', (geometry) => {
    let seed = 10;
    for (const [n, r] of SHAPES) {
      const U = point(geometry, seed++, n, r);
      const G = uniform(seed++, n * r, -2, 2);
      const dots0 = uniform(seed++, r, -1, 1);
      const dots = Float32Array.from(dots0);
      const out = poisoned(n * r);
      expect(cpTangent(geometry, U, G, n, r, { out, dots, backend: 'cpu' })).toBe(out);
      expect(check(geometry, U, G, n, r, out, dots, dots0)).toBeLessThanOrEqual(1);
    }
  });
});

test('oblique also accepts n < r (e.g. a 3 x 8 spatial factor of a conv kernel)', () => {
  const [n, r] = [3, 8];
  const U = point('oblique', 3, n, r);
  const G = uniform(4, n * r, -1, 1);
  const dots = new Float32Array(r);
  const out = cpTangent('oblique', U, G, n, r, { dots, backend: 'cpu' });
  expect(check('oblique', U, G, n, r, out, dots, new Float32Array(r))).toBeLessThanOrEqual(1);
});

describe.each(['oblique', 'stiefel'] as const)('%s: geometric properties', (geometry) => {
  const [n, r] = [40, 9];
  const U = point(geometry, 50, n, r);
  const G = uniform(51, n * r, -1, 1);
  const gmax = G.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // Both properties hold exactly for the float64 math on the float32 U; what is left is U's own rounding
  // (|UᵀU − I| ≤ ~2u) and out's rounding (u|out|), summed over n rows and r columns: 8u(n + r)·max|G|.
  const tol = 8 * U32 * (n + r) * gmax;

  test('the projection is tangent: ⟨U_i, out_i⟩ = 0 (oblique), Uᵀout + outᵀU = 0 (stiefel)', () => {
    const out = cpTangent(geometry, U, G, n, r, { backend: 'cpu' });
    let worst = 0;
    let size = 0;
    for (let a = 0; a < r; a++)
      for (let b = 0; b < r; b++) {
        if (geometry === 'oblique' && a !== b) continue;
        let m = 0;
        let g = 0;
        for (let j = 0; j < n; j++) {
          m +=
            (U[j * r + a] as number) * (out[j * r + b] as number) +
            (out[j * r + a] as number) * (U[j * r + b] as number);
          g +=
            (U[j * r + a] as number) * (G[j * r + b] as number) + (G[j * r + a] as number) * (U[j * r + b] as number);
        }
        worst = Math.max(worst, Math.abs(m));
        size = Math.max(size, Math.abs(g));
      }
    expect(worst).toBeLessThanOrEqual(tol);
    expect(size).toBeGreaterThan(100 * tol); // the raw gradient is far from tangent: the check can fail
  });

  test('the projection is idempotent: P(P(G)) = P(G)', () => {
    const once = cpTangent(geometry, U, G, n, r, { backend: 'cpu' });
    const twice = cpTangent(geometry, U, once, n, r, { backend: 'cpu' });
    let worst = 0;
    let moved = 0;
    for (let j = 0; j < once.length; j++) {
      worst = Math.max(worst, Math.abs((twice[j] as number) - (once[j] as number)));
      moved = Math.max(moved, Math.abs((once[j] as number) - (G[j] as number)));
    }
    expect(worst).toBeLessThanOrEqual(tol);
    expect(moved).toBeGreaterThan(100 * tol);
  });

  test('out may be G itself (in place), bitwise equal to a separate output, dots included', () => {
    const dotsA = new Float32Array(r).fill(0.25);
    const dotsB = new Float32Array(r).fill(0.25);
    const separate = cpTangent(geometry, U, G, n, r, { dots: dotsA, backend: 'cpu' });
    const inPlace = Float32Array.from(G);
    expect(cpTangent(geometry, U, inPlace, n, r, { out: inPlace, dots: dotsB, backend: 'cpu' })).toBe(inPlace);
    expect(Array.from(inPlace)).toEqual(Array.from(separate));
    expect(Array.from(dotsB)).toEqual(Array.from(dotsA));
  });
});

test('euclidean is a bitwise copy; its dots are ⟨U_i, G_i⟩', () => {
  const [n, r] = [13, 6];
  const U = uniform(60, n * r, -1, 1);
  const G = uniform(61, n * r, -1, 1);
  const dots = new Float32Array(r);
  const out = cpTangent('euclidean', U, G, n, r, { out: poisoned(n * r), dots, backend: 'cpu' });
  expect(Array.from(out)).toEqual(Array.from(G));
  expect(check('euclidean', U, G, n, r, out, dots, new Float32Array(r))).toBeLessThanOrEqual(1);
  expect(cpTangent('euclidean', U, G, n, r, { out: G, backend: 'cpu' })).toBe(G);
});

test('large shapes run threaded and give bitwise the same result for 1, 2 and 3 threads', () => {
  // Row chunks of at least 2^18 multiply-adds: oblique costs n·r, stiefel n·r² per pass.
  const cases = [
    ['oblique', 20011, 32],
    ['stiefel', 2053, 32],
  ] as const;
  for (const [geometry, n, r] of cases) {
    const U = point(geometry, 70, n, r);
    const G = uniform(71, n * r, -1, 1);
    let first: number[] | undefined;
    for (const threads of [1, 2, 3]) {
      setNumThreads(threads);
      const dots = new Float32Array(r);
      const out = cpTangent(geometry, U, G, n, r, { dots, backend: 'cpu' });
      const all = [...out, ...dots];
      if (first === undefined) {
        first = all;
        expect(check(geometry, U, G, n, r, out, dots, new Float32Array(r))).toBeLessThanOrEqual(1);
      } else {
        expect(all).toEqual(first);
      }
    }
  }
  setNumThreads(threadsBefore);
});

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
  const [n, r] = [6, 4];
  const U = point('stiefel', 80, n, r);
  const G = uniform(81, n * r, -1, 1);
  const S = -31.5;
  const out = new Float32Array(n * r).fill(S);
  const dots = new Float32Array(r).fill(S);
  afterEach(() => {
    expect(out.every((v) => v === S)).toBe(true);
    expect(dots.every((v) => v === S)).toBe(true);
  });

  test('unknown geometry (TypeScript and, through the raw addon, native)', () => {
    expectError(
      () => cpTangent('sphere' as Geometry, U, G, n, r, { out, dots }),
      'DEBORA_INVALID_ARG',
      "'geometry'",
      "'sphere'",
    );
    for (const code of [-1, 3, 7]) {
      expectError(
        () => addon().cpTangent(0, code, n, r, U, G, out, dots),
        'DEBORA_INVALID_ARG',
        "'geometry'",
        `received ${code}`,
      );
    }
  });

  test('stiefel with n < r suggests oblique (TypeScript and native)', () => {
    const [n2, r2] = [3, 8];
    const U2 = uniform(82, n2 * r2, -1, 1);
    const G2 = uniform(83, n2 * r2, -1, 1);
    const out2 = new Float32Array(n2 * r2).fill(S);
    expectError(
      () => cpTangent('stiefel', U2, G2, n2, r2, { out: out2 }),
      'DEBORA_INVALID_ARG',
      "'n'",
      'oblique',
      'n = 3, r = 8',
    );
    expectError(() => addon().cpTangent(0, 2, n2, r2, U2, G2, out2, null), 'DEBORA_INVALID_ARG', "'n'", 'oblique');
    expect(out2.every((v) => v === S)).toBe(true);
  });

  test('wrong lengths and sizes', () => {
    expectError(
      () => cpTangent('oblique', U.subarray(1), G, n, r, { out, dots }),
      'DEBORA_SHAPE_MISMATCH',
      "'U'",
      'length 24',
    );
    expectError(() => cpTangent('oblique', U, G.subarray(0, 20), n, r, { out, dots }), 'DEBORA_SHAPE_MISMATCH', "'G'");
    expectError(
      () => cpTangent('oblique', U, G, n, r, { out: new Float32Array(25), dots }),
      'DEBORA_SHAPE_MISMATCH',
      "'out'",
    );
    expectError(
      () => cpTangent('oblique', U, G, n, r, { out, dots: new Float32Array(3) }),
      'DEBORA_SHAPE_MISMATCH',
      "'dots'",
    );
    expectError(() => cpTangent('oblique', U, G, 0, r, { out, dots }), 'DEBORA_INVALID_ARG', "'n'");
    expectError(() => cpTangent('oblique', U, G, n, 1.5, { out, dots }), 'DEBORA_INVALID_ARG', "'r'");
  });

  test('non-finite U or G: DEBORA_NON_FINITE naming the argument and index', () => {
    const Gbad = Float32Array.from(G);
    Gbad[7] = Number.NaN;
    expectError(() => cpTangent('stiefel', U, Gbad, n, r, { out, dots }), 'DEBORA_NON_FINITE', "'G'", 'NaN at index 7');
    const Ubad = Float32Array.from(U);
    Ubad[0] = Number.POSITIVE_INFINITY;
    expectError(
      () => cpTangent('oblique', Ubad, G, n, r, { out, dots }),
      'DEBORA_NON_FINITE',
      "'U'",
      'Infinity at index 0',
    );
  });

  test('out overlapping U, or partly overlapping G, is refused', () => {
    const buf = new Float32Array(60);
    buf.set(U);
    expectError(
      () => cpTangent('oblique', buf.subarray(0, 24), G, n, r, { out: buf.subarray(10, 34) }),
      'DEBORA_INVALID_ARG',
      "'out'",
      "'U'",
    );
    buf.set(G);
    expectError(
      () => cpTangent('stiefel', U, buf.subarray(0, 24), n, r, { out: buf.subarray(2, 26) }),
      'DEBORA_INVALID_ARG',
      "'out'",
      "'G'",
    );
    expect(Array.from(buf.subarray(0, 24))).toEqual(Array.from(G));
  });
});
