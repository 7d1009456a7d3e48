/**
 * fw-step-size.test.ts — each step-size rule against its formula (lib/fw/step-size.ts): short step,
 * adaptive backtracking (sufficient decrease, M growth and decay, give-up), open-loop, constant.
 */
import {
  AdaptiveStep,
  ConstantStep,
  createStepSizeRule,
  OpenLoopStep,
  ShortStep,
  type StepSizeQuery,
} from '../../lib/fw/step-size';

const q = (over: Partial<StepSizeQuery> = {}): StepSizeQuery => ({ slope: 0.6, dNorm2: 2, alphaMax: 1, k: 0, ...over });

describe('short step', () => {
  const rule = new ShortStep({ rule: 'short', M: 3 });
  test('α = min(α_max, slope/(M‖d‖²))', () => {
    expect(rule.choose(q()).alpha).toBeCloseTo(0.6 / (3 * 2), 15);
    expect(rule.choose(q({ alphaMax: 0.05 })).alpha).toBe(0.05);
    expect(rule.choose(q({ slope: 30 })).alpha).toBe(1);
  });
  test('no descent, no step', () => {
    expect(rule.choose(q({ slope: 0 })).alpha).toBe(0);
  });
});

describe('open-loop and constant', () => {
  test('ℓ/(k + k₀ + ℓ), clipped to α_max', () => {
    const two = new OpenLoopStep({ rule: 'open-loop' });
    expect([0, 1, 2, 8].map((k) => two.choose(q({ k })).alpha)).toEqual([1, 2 / 3, 0.5, 0.2]);
    const three = new OpenLoopStep({ rule: 'open-loop', ell: 3 });
    expect(three.choose(q({ k: 3 })).alpha).toBe(0.5);
    const shifted = new OpenLoopStep({ rule: 'open-loop', offset: 6 }); // 2/(k + 8)
    expect([0, 2].map((k) => shifted.choose(q({ k })).alpha)).toEqual([0.25, 0.2]);
    expect(two.choose(q({ k: 0, alphaMax: 0.3 })).alpha).toBe(0.3);
  });
  test('constant: min(α_max, c)', () => {
    const c = new ConstantStep({ rule: 'constant', alpha: 0.25 });
    expect(c.choose(q()).alpha).toBe(0.25);
    expect(c.choose(q({ alphaMax: 0.1 })).alpha).toBe(0.1);
    expect(c.choose(q({ slope: 0 })).alpha).toBe(0);
  });
});

describe('adaptive step (Pedregosa et al. 2020)', () => {
  // along the direction, φ(α) = f0 − slope·α + (L/2)‖d‖²α²: the curvature constant is exactly L
  const L = 5;
  const f0 = 3;
  const slope = 0.8;
  const dNorm2 = 1.5;
  const phi = (a: number): number => f0 - slope * a + 0.5 * L * dNorm2 * a * a;
  const query = (calls: number[]): StepSizeQuery => ({
    slope,
    dNorm2,
    alphaMax: 1,
    k: 0,
    f0,
    trial: (a: number) => {
      calls.push(a);
      return phi(a);
    },
  });

  test('an M below the curvature grows (×2) until the sufficient-decrease test passes', () => {
    const rule = new AdaptiveStep({ rule: 'adaptive', M0: 0.1 });
    const calls: number[] = [];
    const out = rule.choose(query(calls), 0.1);
    // M: 0.09, 0.18, …, ×2 until M ≥ L (for a quadratic the test passes exactly when M ≥ L)
    expect(out.M).toBeGreaterThanOrEqual(L);
    expect(out.M).toBeLessThan(2 * L);
    expect(out.evaluations).toBe(calls.length);
    expect(out.evaluations).toBeGreaterThan(1);
    expect(out.alpha).toBeCloseTo(Math.min(1, slope / (out.M * dNorm2)), 15);
    expect(phi(out.alpha)).toBeLessThanOrEqual(f0 - out.alpha * slope + 0.5 * out.alpha ** 2 * out.M * dNorm2);
  });
  test('an M above the curvature shrinks by η each step, one evaluation per step', () => {
    const rule = new AdaptiveStep({ rule: 'adaptive', eta: 0.5 });
    let M = 40;
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const calls: number[] = [];
      const out = rule.choose(query(calls), M);
      expect(calls).toHaveLength(1);
      M = out.M;
      seen.push(M);
    }
    expect(seen).toEqual([20, 10, 5]);
  });
  test('gives up with α = 0 and the previous M after maxBacktracks failures', () => {
    const rule = new AdaptiveStep({ rule: 'adaptive', maxBacktracks: 5 });
    const calls: number[] = [];
    const out = rule.choose(
      {
        ...query(calls),
        trial: (a) => {
          calls.push(a);
          return f0 + 1;
        },
      },
      2,
    );
    expect(out).toEqual({ alpha: 0, M: 2, evaluations: 6 });
  });
  test('needs the objective', () => {
    const rule = createStepSizeRule({ rule: 'adaptive' });
    expect(rule.needsObjective).toBe(true);
    expect(() => rule.choose({ slope, dNorm2, alphaMax: 1, k: 0 }, 1)).toThrow(/query.trial/);
  });
});

test('createStepSizeRule builds the rule named by the spec', () => {
  expect(createStepSizeRule({ rule: 'short', M: 1 })).toBeInstanceOf(ShortStep);
  expect(createStepSizeRule({ rule: 'adaptive' })).toBeInstanceOf(AdaptiveStep);
  expect(createStepSizeRule({ rule: 'open-loop' })).toBeInstanceOf(OpenLoopStep);
  expect(createStepSizeRule({ rule: 'constant', alpha: 0.1 })).toBeInstanceOf(ConstantStep);
});
