/**
 * validate.test.ts — the boundary validation helpers: one message format naming the argument,
 * what was expected and what was received, with the right error code.
 */
import { DeboraError, isDeboraError } from '../../lib/errors';
import { describe as describeValue, f32, finite, int, num, oneOf } from '../../lib/validate';

function thrown(fn: () => unknown): DeboraError {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

describe('validation message format', () => {
  test('int: names the argument, the range and the received value', () => {
    const e = thrown(() => int('setNumThreads', 'n', -3, 1, 1024));
    expect(e.code).toBe('DEBORA_INVALID_ARG');
    expect(e.message).toBe("setNumThreads: expected an integer in [1, 1024] for argument 'n', received -3");
    expect(thrown(() => int('f', 'r', 2.5)).message).toBe("f: expected an integer >= 0 for argument 'r', received 2.5");
    expect(thrown(() => int('f', 'r', '3')).message).toBe("f: expected an integer >= 0 for argument 'r', received '3'");
    expect(int('f', 'r', 7)).toBe(7);
  });

  test('num: NaN and Infinity are DEBORA_NON_FINITE, out of range is DEBORA_INVALID_ARG', () => {
    const nan = thrown(() => num('fw', 'tau', Number.NaN, { min: 0, minOpen: true }));
    expect(nan.code).toBe('DEBORA_NON_FINITE');
    expect(nan.message).toBe("fw: expected a finite number > 0 for argument 'tau', received NaN");
    expect(thrown(() => num('fw', 'tau', Infinity)).code).toBe('DEBORA_NON_FINITE');
    const neg = thrown(() => num('fw', 'eps', -1, { min: 0, minOpen: true, max: 1 }));
    expect(neg.code).toBe('DEBORA_INVALID_ARG');
    expect(neg.message).toBe("fw: expected a finite number > 0 and <= 1 for argument 'eps', received -1");
    expect(num('fw', 'eps', 0.5, { min: 0, minOpen: true })).toBe(0.5);
  });

  test('f32: wrong type is DEBORA_INVALID_ARG, wrong length DEBORA_SHAPE_MISMATCH', () => {
    const t = thrown(() => f32('op', 'x', [1, 2, 3], 3));
    expect(t.code).toBe('DEBORA_INVALID_ARG');
    expect(t.message).toBe("op: expected a Float32Array of length 3 for argument 'x', received an Array of length 3");
    const l = thrown(() => f32('op', 'x', new Float32Array(2), 3));
    expect(l.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(l.message).toBe(
      "op: expected a Float32Array of length 3 for argument 'x', received a Float32Array of length 2",
    );
    expect(thrown(() => f32('op', 'x', new Float64Array(3))).message).toContain('received a Float64Array of length 3');
  });

  test('finite: names the first offending index', () => {
    const e = thrown(() => finite('op', 'g', [1, 2, Number.POSITIVE_INFINITY, Number.NaN]));
    expect(e.code).toBe('DEBORA_NON_FINITE');
    expect(e.message).toBe("op: expected finite values for argument 'g', received Infinity at index 2");
  });

  test('oneOf lists the allowed values', () => {
    const e = thrown(() => oneOf('setBackend', 'name', 'gpu', ['auto', 'cpu', 'cuda']));
    expect(e.message).toBe("setBackend: expected one of 'auto', 'cpu', 'cuda' for argument 'name', received 'gpu'");
  });

  test('describe summarises values without dumping them', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(new Map())).toBe('a Map');
    expect(describeValue('x'.repeat(100))).toBe('a string of length 100');
  });

  test('DeboraError carries name and code', () => {
    const e = new DeboraError('m', 'DEBORA_INTERNAL');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('DeboraError');
    expect(isDeboraError(e)).toBe(true);
    expect(isDeboraError(new Error('x'))).toBe(false);
    expect(isDeboraError({ name: 'DeboraError', code: 'DEBORA_INTERNAL' })).toBe(true);
  });
});
