/**
 * cp_hypergrad.test.ts — op cp_hypergrad against a float64 reference on seeded inputs of awkward
 * lengths (1, primes, SIMD width ± 1, large), output poisoned with NaN first.
 * Tolerance: the kernel does one float32 division and one subtraction, each correctly rounded,
 * so |g − ref| ≤ ~2 ulp of the operands: we allow 4·2^-24·(|ds| + |dots/s|).
 */
import { cpHypergrad } from '../../lib';
import { poisoned, uniform } from '../helpers/random';

function reference(ds: Float32Array, s: Float32Array, dots: Float32Array): Float64Array {
  const g = new Float64Array(ds.length);
  for (let i = 0; i < ds.length; i++) g[i] = (ds[i] as number) - (dots[i] as number) / (s[i] as number);
  return g;
}

const LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 127, 1009, 100003];

test.each(LENGTHS)('r = %i matches the float64 reference', (r) => {
  const ds = uniform(100 + r, r, -3, 3);
  const s = uniform(200 + r, r, 1e-3, 4); // includes small s: the 1/s term dominates there
  const dots = uniform(300 + r, r, -3, 3);
  const out = poisoned(r);
  const got = cpHypergrad(ds, s, dots, { out, backend: 'cpu' });
  expect(got).toBe(out);
  const ref = reference(ds, s, dots);
  let worst = 0;
  for (let i = 0; i < r; i++) {
    const scale = Math.abs(ds[i] as number) + Math.abs((dots[i] as number) / (s[i] as number));
    const err = Math.abs((got[i] as number) - (ref[i] as number)) / (4 * 2 ** -24 * scale);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  expect(worst).toBeLessThanOrEqual(1);
});

test('r = 0 is a valid empty call', () => {
  const e = new Float32Array(0);
  expect(cpHypergrad(e, e, e, { backend: 'cpu' }).length).toBe(0);
});

test('many adapters at once equals one call per adapter (components are independent)', () => {
  const ranks = [3, 1, 8];
  const total = ranks.reduce((a, b) => a + b, 0);
  const ds = uniform(1, total, -1, 1);
  const s = uniform(2, total, 0.1, 1);
  const dots = uniform(3, total, -1, 1);
  const all = cpHypergrad(ds, s, dots, { backend: 'cpu' });
  let off = 0;
  for (const r of ranks) {
    const part = cpHypergrad(ds.subarray(off, off + r), s.subarray(off, off + r), dots.subarray(off, off + r), {
      backend: 'cpu',
    });
    expect(Array.from(part)).toEqual(Array.from(all.subarray(off, off + r)));
    off += r;
  }
});
