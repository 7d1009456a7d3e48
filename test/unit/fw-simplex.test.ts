/**
 * fw-simplex.test.ts — the primitives of one simplex ε·1 + τΔ (lib/fw/simplex.ts): oracle and ties,
 * FW gap against brute force, away vertex and barycentric weights, the λ₀ tolerance, the λ_y = 1
 * guard, exact drops, and commitBlock ≡ writeBlock with exact support counts.
 */
import {
  type BlockScan,
  chooseDirection,
  commitBlock,
  type Direction,
  scanBlock,
  writeBlock,
} from '../../lib/fw/simplex';
import { bruteForceGap, mulberry32, range } from '../convergence/helpers';

const EPS = 1e-3;
const TAU = 2;

function whole(n: number): Int32Array {
  return Int32Array.from([0, n]);
}

function randomPoint(rng: () => number, n: number, zeroFrac: number, fill: number): Float64Array {
  const x = Float64Array.from({ length: n }, () => (rng() < zeroFrac ? 0 : rng()));
  const sum = x.reduce((a, b) => a + b, 0);
  return x.map((v) => EPS + (sum > 0 ? (v * TAU * fill) / sum : 0));
}

function dir(s: Float64Array, g: Float64Array, variant: 'away' | 'fw' | 'pairwise'): { scan: BlockScan; d: Direction } {
  const scan = scanBlock(s, g, whole(s.length), EPS);
  return { scan, d: chooseDirection(scan, s, EPS, TAU, 1, variant, s.length * Number.EPSILON) };
}

describe('linear minimisation oracle', () => {
  test('the lowest index wins ties', () => {
    const s = new Float64Array(5).fill(EPS + 0.1);
    const g = Float64Array.from([3, -2, 0.5, -2, 1]);
    expect(dir(s, g, 'fw').d.z).toBe(1);
  });
  test('ε·1 is the vertex when no gradient entry is negative (also at a tie with 0)', () => {
    const s = new Float64Array(4).fill(EPS + 0.1);
    expect(dir(s, Float64Array.from([0.3, 0, 2, 0.1]), 'fw').d.z).toBe(-1);
    expect(dir(s, Float64Array.from([0.3, 1, 2, 0.1]), 'fw').d.z).toBe(-1);
  });
  test('FW gap and vertex agree with brute force over every vertex, and gap ≥ 0', () => {
    const rng = mulberry32(11);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(rng() * 40);
      const s = randomPoint(rng, n, 0.3, rng() < 0.5 ? 1 : 0.6);
      const g = Float64Array.from({ length: n }, () => (rng() < 0.1 ? 0.25 : 2 * rng() - 1.2));
      const { d } = dir(s, g, 'fw');
      const ref = bruteForceGap(s, g, range(n), EPS, TAU);
      expect(d.gap).toBeGreaterThanOrEqual(0);
      expect(Math.abs(d.gap - ref.gap)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(ref.gap)));
      expect(d.z).toBe(ref.vertex);
    }
  });
});

describe('away vertex', () => {
  test('is the active vertex with the largest G̃ᵀv; α_max = λ/(1 − λ)', () => {
    // x = [0.5, 0, 1, 0.25]·… with Σx = 1.75 < τ = 2: ε·1 is active with λ₀ = 0.125
    const s = Float64Array.from([0.5, 0, 1, 0.25]).map((v) => EPS + v);
    const g = Float64Array.from([0.2, 5, -0.1, 0.4]); // index 1 is inactive: never an away vertex
    const { d } = dir(s, g, 'away');
    expect(d.y).toBe(3);
    expect(d.awayGap).toBeCloseTo(TAU * 0.4 - (0.2 * 0.5 - 0.1 * 1 + 0.4 * 0.25), 14);
    const lambda = 0.25 / TAU;
    if (d.kind === 'away') expect(d.alphaMax).toBeCloseTo(lambda / (1 - lambda), 14);
  });
  test('ε·1 is the away vertex when active and every active coordinate has G̃ ≤ 0', () => {
    const s = Float64Array.from([0.5, 0, 0.5]).map((v) => EPS + v); // λ₀ = 0.5
    const g = Float64Array.from([-1, 3, -0.5]);
    const { d } = dir(s, g, 'away');
    expect(d.y).toBe(-1);
  });
  test('on the face Σ(s − ε) = τ, a rounding-level λ₀ does not make ε·1 an away vertex', () => {
    // three thirds of τ: their float sum is τ to within an ulp, so λ₀ is ~1e-16 either way
    const s = new Float64Array(3).fill(EPS + TAU / 3);
    const g = Float64Array.from([-1, -2, -3]);
    const { scan, d } = dir(s, g, 'away');
    expect(Math.abs(1 - scan.mass / TAU)).toBeLessThan(1e-15);
    expect(d.y).toBe(0);
  });
  test('λ_y = 1 (s is the away vertex itself) falls back to a FW step', () => {
    const s = Float64Array.from([0, TAU, 0]).map((v) => EPS + v);
    const g = Float64Array.from([0.5, 1, 0.2]);
    const { d } = dir(s, g, 'away');
    expect(d.kind).toBe('fw');
    expect(d.z).toBe(-1);
  });
  test('pairwise: direction from y to z, α_max = λ_y, slope = FW gap + away gap', () => {
    const s = Float64Array.from([0.5, 0, 1, 0.25]).map((v) => EPS + v);
    const g = Float64Array.from([0.2, -1, -0.1, 0.4]);
    const { d } = dir(s, g, 'pairwise');
    expect(d.kind).toBe('pairwise');
    expect([d.z, d.y]).toEqual([1, 3]);
    expect(d.alphaMax).toBeCloseTo(0.25 / TAU, 15);
    expect(d.slope).toBeCloseTo(d.gap + d.awayGap, 13);
    expect(d.dNorm2).toBeCloseTo(2 * TAU * TAU, 13);
  });
});

describe('updates', () => {
  test('a drop step assigns exactly ε; a FW step of 1 lands exactly on the vertex', () => {
    const s = Float64Array.from([0.3, 0.7, 0.1]).map((v) => EPS + v);
    const g = Float64Array.from([0.1, 0.2, 5]);
    const { d } = dir(s, g, 'away');
    expect(d.kind).toBe('away');
    expect(d.y).toBe(2);
    const out = new Float64Array(3);
    writeBlock(out, s, whole(3), EPS, 1, TAU, d, d.alphaMax, true);
    expect(out[2]).toBe(EPS);
    const fwd: Direction = { ...d, kind: 'fw', z: 1, y: -1, alphaMax: 1 };
    writeBlock(out, s, whole(3), EPS, 1, TAU, fwd, 1, true);
    expect(Array.from(out)).toEqual([EPS, EPS + TAU, EPS]);
  });
  test('commitBlock writes what writeBlock writes and keeps exact support counts', () => {
    const rng = mulberry32(5);
    for (let t = 0; t < 300; t++) {
      const n = 2 + Math.floor(rng() * 30);
      const s = randomPoint(rng, n, 0.4, rng() < 0.5 ? 1 : 0.7);
      const g = Float64Array.from({ length: n }, () => 2 * rng() - 1);
      const variant = (['away', 'fw', 'pairwise'] as const)[t % 3] as 'away' | 'fw' | 'pairwise';
      const kappa = rng() < 0.3 ? 0.5 + 0.5 * rng() : 1;
      const scan = scanBlock(s, g, whole(n), EPS);
      const d = chooseDirection(scan, s, EPS, TAU, kappa, variant, n * Number.EPSILON);
      if (!(d.alphaMax > 0) || !Number.isFinite(d.alphaMax)) continue;
      const drop = rng() < 0.3;
      const alpha = drop ? d.alphaMax : d.alphaMax * rng();
      const tolBefore = rng() < 0.5 ? 0 : 1e-3;
      const tol = rng() < 0.5 ? 0 : 2e-3;
      // two adapters in one block, to exercise the per-member counts
      const cut = 1 + Math.floor(rng() * (n - 1));
      const ranges = Int32Array.from([0, cut, cut, n]);
      const count = (v: Float64Array, lo: number, hi: number, th: number): number => {
        let c = 0;
        for (let i = lo; i < hi; i++) if ((v[i] as number) - EPS > th) c++;
        return c;
      };
      const active = Int32Array.from([count(s, 0, cut, tolBefore), count(s, cut, n, tolBefore)]);
      const expected = new Float64Array(n);
      writeBlock(expected, s, ranges, EPS, kappa, TAU, d, alpha, drop);
      const before = s.slice();
      const stats = commitBlock(s, ranges, [0, 1], EPS, kappa, TAU, d, alpha, drop, tolBefore, tol, active, scan.mass);
      expect(Array.from(s)).toEqual(Array.from(expected));
      expect(Array.from(active)).toEqual([count(s, 0, cut, tol), count(s, cut, n, tol)]);
      let entered = 0;
      let left = 0;
      for (let i = 0; i < n; i++) {
        const a = (before[i] as number) - EPS > tolBefore;
        const b = (s[i] as number) - EPS > tol;
        if (b && !a) entered++;
        if (a && !b) left++;
      }
      expect([stats.entered, stats.left]).toEqual([entered, left]);
      let mass = 0;
      for (const v of s) mass += v - EPS;
      expect(stats.mass).toBeCloseTo(mass, 12);
      for (const v of s) expect(v).toBeGreaterThanOrEqual(EPS);
      expect(mass).toBeLessThanOrEqual(TAU * (1 + 1e-12));
    }
  });
});
