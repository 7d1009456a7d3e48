/**
 * errors.test.ts — native failures become DeboraError with a stable code and a message naming
 * the argument; bad arguments change nothing; a stray C++ exception never aborts the process.
 */

import { cpHypergrad, DeboraError, isDeboraError, NATIVE_ERROR_CODES, setNumThreads } from '../../lib';
import { addon } from '../../lib/native';
import { uniform } from '../helpers/random';

function thrown(fn: () => unknown): DeboraError {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

test('the native status table matches the TypeScript codes', () => {
  expect(addon().statusCodes()).toEqual(['DEBORA_OK', ...NATIVE_ERROR_CODES]);
});

test('errors thrown by the addon are DeboraError instances with .code', () => {
  const s = uniform(1, 5, 0.5, 2);
  s[3] = -1;
  let caught: unknown;
  try {
    cpHypergrad(uniform(2, 5, -1, 1), s, uniform(3, 5, -1, 1), { backend: 'cpu' });
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DeboraError);
  expect((caught as DeboraError).code).toBe('DEBORA_INVALID_ARG');
  expect((caught as DeboraError).message).toBe(
    "cp_hypergrad: expected values > 0 for argument 's', received -1 at index 3",
  );
});

test('a C++ exception that is not a Napi::Error becomes a JS error (no abort)', () => {
  expect(() => addon().throwNativeException()).toThrow('deliberate test exception');
  // Still alive and working afterwards.
  expect(addon().nativeInfo().version).toMatch(/^\d+\./);
});

describe('bad arguments: clear error naming the argument, output untouched', () => {
  const r = 6;
  const ds = uniform(10, r, -1, 1);
  const s = uniform(11, r, 0.2, 2);
  const dots = uniform(12, r, -1, 1);

  test('wrong type', () => {
    const e = thrown(() => cpHypergrad(Array.from(ds) as unknown as Float32Array, s, dots));
    expect(e.code).toBe('DEBORA_INVALID_ARG');
    expect(e.message).toMatch(/argument 'ds', received an Array of length 6/);
  });

  test('wrong length', () => {
    const out = new Float32Array(r).fill(7);
    const e = thrown(() => cpHypergrad(ds, s, dots.subarray(1), { out }));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toMatch(/argument 'dots', received a Float32Array of length 5/);
    const e2 = thrown(() => cpHypergrad(ds, s, dots, { out: new Float32Array(r + 1) }));
    expect(e2.message).toMatch(/argument 'out'/);
    expect(out.every((v) => v === 7)).toBe(true);
  });

  test('NaN where not allowed', () => {
    const bad = dots.slice();
    bad[4] = Number.NaN;
    const out = new Float32Array(r).fill(7);
    const e = thrown(() => cpHypergrad(ds, s, bad, { out, backend: 'cpu' }));
    expect(e.code).toBe('DEBORA_NON_FINITE');
    expect(e.message).toBe("cp_hypergrad: expected finite values for argument 'dots', received NaN at index 4");
    expect(out.every((v) => v === 7)).toBe(true);
    const sInf = s.slice();
    sInf[0] = Number.POSITIVE_INFINITY;
    expect(thrown(() => cpHypergrad(ds, sInf, dots, { out, backend: 'cpu' })).code).toBe('DEBORA_NON_FINITE');
    expect(out.every((v) => v === 7)).toBe(true);
  });

  test('s_i <= 0, where G divides by it: DEBORA_INVALID_ARG naming the index, out untouched', () => {
    for (const [i, v, shown] of [
      [0, 0, '0'],
      [5, -0.5, '-0.5'],
      [2, -0, '-0'],
    ] as const) {
      const bad = s.slice();
      bad[i] = v;
      const out = new Float32Array(r).fill(7);
      const e = thrown(() => cpHypergrad(ds, bad, dots, { out, backend: 'cpu' }));
      expect(e.code).toBe('DEBORA_INVALID_ARG');
      expect(e.message).toBe(`cp_hypergrad: expected values > 0 for argument 's', received ${shown} at index ${i}`);
      expect(out.every((x) => x === 7)).toBe(true);
    }
  });

  test('negative and non-integer sizes', () => {
    for (const n of [-1, 0, 1.5, Number.NaN, 5000]) {
      const e = thrown(() => setNumThreads(n));
      expect(e.code).toBe('DEBORA_INVALID_ARG');
      expect(e.message).toMatch(/^setNumThreads: expected an integer in \[1, 1024\] for argument 'n', received /);
    }
    // The raw binding defends itself too (for callers that bypass lib/).
    expect(thrown(() => addon().setNumThreads(-2)).message).toMatch(/argument 'n', received -2/);
    expect(
      thrown(() => addon().cpHypergrad(0, ds, s, dots, new Float64Array(r) as unknown as Float32Array)).message,
    ).toMatch(/expected a Float32Array for argument 'out'/);
  });

  test('the raw binding names the bad typed-array argument, list elements included', () => {
    // Each typed array is read with one napi_get_typedarray_info call (bindings/errors.cpp): anything that is not
    // a Float32Array (another typed array, a DataView, a number, null) must still be refused by name.
    const dims = [2, 3];
    const rr = 2;
    const f = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.25 + i / 8);
    const args = () => ({ factors: [f(4), f(6)], s: f(rr), G: f(6), grads: [f(4), f(6)], ds: f(rr) });
    const call = (a: ReturnType<typeof args>) => () =>
      addon().cpMttkrp(0, dims, rr, a.factors, a.s, a.G, a.grads, a.ds, null);
    expect(() => call(args())()).not.toThrow();
    const notF32: unknown[] = [new Float64Array(6), new DataView(new ArrayBuffer(24)), 3, null, [1, 2]];
    for (const bad of notF32) {
      const a = args();
      a.factors[1] = bad as Float32Array;
      expect(thrown(call(a)).message).toBe("cp_mttkrp: expected a Float32Array for argument 'factors[1]'");
      const b = args();
      b.G = bad as Float32Array;
      expect(thrown(call(b)).message).toBe("cp_mttkrp: expected a Float32Array for argument 'G'");
    }
    const short = args();
    short.grads[1] = f(5);
    const e = thrown(call(short));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toBe("cp_mttkrp: expected a Float32Array of length 6 for argument 'grads[1]', received length 5");
  });
});
