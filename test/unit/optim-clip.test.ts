/**
 * optim-clip.test.ts — gradient clipping (lib/optim/clip.ts): the global L2 norm against a float64
 * reference, the torch scaling rule, frozen parameters ignored, non-finite gradients refused with
 * nothing changed; clipping by value.
 */
import { Parameter } from '../../lib/nn/parameter';
import { clipGradNorm, clipGradValue } from '../../lib/optim/clip';
import { Rng } from '../../lib/rng';

function randomParams(seed: number): Parameter[] {
  const rng = new Rng(seed);
  return [[3, 7], [1], [13]].map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const p = new Parameter(`p${k}`, rng.fillNormal(new Float32Array(n)), shape, 'weight');
    rng.fillNormal(p.grad, 2);
    return p;
  });
}

function norm64(ps: Parameter[]): number {
  let s = 0;
  for (const p of ps) for (const g of p.grad) s += g * g;
  return Math.sqrt(s);
}

function caught(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe('clipGradNorm', () => {
  test('returns the pre-clip norm and scales every gradient by maxNorm/(norm + 1e-6)', () => {
    const ps = randomParams(1);
    const before = ps.map((p) => Float64Array.from(p.grad));
    const norm = norm64(ps);
    expect(norm).toBeGreaterThan(2);
    // same float64 sum on both sides, up to summation order
    expect(clipGradNorm(ps, 1)).toBeCloseTo(norm, 10);
    const coef = 1 / (norm + 1e-6);
    ps.forEach((p, k) => {
      p.grad.forEach((g, i) => {
        expect(g).toBeCloseTo(((before[k] as Float64Array)[i] as number) * coef, 6);
      });
    });
    // the clipped norm is maxNorm (to float32 rounding)
    expect(norm64(ps)).toBeCloseTo(1, 6);
  });

  test('leaves gradients whose norm is within maxNorm unchanged', () => {
    const ps = randomParams(2);
    const before = ps.map((p) => Array.from(p.grad));
    const norm = norm64(ps);
    expect(clipGradNorm(ps, norm * 2)).toBeCloseTo(norm, 10);
    expect(ps.map((p) => Array.from(p.grad))).toEqual(before);
  });

  test('ignores frozen parameters (their gradients neither count nor change)', () => {
    const ps = randomParams(3);
    const frozen = ps[2] as Parameter;
    frozen.requiresGrad = false;
    frozen.grad.fill(1e6);
    const kept = Array.from(frozen.grad);
    const norm = norm64(ps.slice(0, 2));
    expect(clipGradNorm(ps, 0.5)).toBeCloseTo(norm, 10);
    expect(Array.from(frozen.grad)).toEqual(kept);
    expect(norm64(ps.slice(0, 2))).toBeCloseTo(0.5, 6);
  });

  test.each([Number.NaN, Number.POSITIVE_INFINITY])(
    'a %p gradient throws DEBORA_NON_FINITE, nothing changed',
    (bad) => {
      const ps = randomParams(4);
      (ps[1] as Parameter).grad[0] = bad;
      const before = ps.map((p) => Array.from(p.grad));
      const err = caught(() => clipGradNorm(ps, 1));
      expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_NON_FINITE' });
      expect(err.message).toContain("for argument 'p1.grad'");
      expect(ps.map((p) => Array.from(p.grad))).toEqual(before);
    },
  );

  test('a large but finite gradient does not overflow the norm', () => {
    const p = new Parameter('big', new Float32Array(4), [4], 'weight');
    p.grad.fill(3e38); // squares overflow float32 but not float64
    expect(clipGradNorm([p], 1) / (2 * Math.fround(3e38))).toBeCloseTo(1, 12); // √(4·g²) = 2g
    expect(p.grad[0]).toBeCloseTo(0.5, 6);
  });

  test('bad arguments name the argument', () => {
    expect(caught(() => clipGradNorm(randomParams(5), 0))).toMatchObject({
      code: 'DEBORA_INVALID_ARG',
      message: "clipGradNorm: expected a finite number > 0 for argument 'maxNorm', received 0",
    });
    expect(caught(() => clipGradNorm([1 as never], 1)).message).toContain("argument 'params[0]'");
  });
});

describe('clipGradValue', () => {
  test('clamps to [−c, c], returns the largest |g| before clipping', () => {
    const p = new Parameter('w', new Float32Array(5), [5], 'weight');
    p.grad.set([-3, -0.5, 0.25, 2, 0.75]);
    expect(clipGradValue([p], 1)).toBe(3);
    expect(Array.from(p.grad)).toEqual([-1, -0.5, 0.25, 1, 0.75]);
  });

  test('frozen parameters are ignored; a NaN gradient is refused with nothing changed', () => {
    const a = new Parameter('a', new Float32Array(2), [2], 'weight');
    const f = new Parameter('f', new Float32Array(1), [1], 'weight', false);
    a.grad.set([5, -5]);
    f.grad.set([9]);
    expect(clipGradValue([a, f], 2)).toBe(5);
    expect(Array.from(f.grad)).toEqual([9]);
    a.grad.set([5, Number.NaN]);
    const err = caught(() => clipGradValue([a], 1));
    expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_NON_FINITE' });
    expect(err.message).toContain("'a.grad'");
    expect(a.grad[0]).toBe(5);
    expect(caught(() => clipGradValue([a], -1)).message).toContain("argument 'clipValue'");
  });
});
