/**
 * optim-schedule.test.ts — the learning-rate multipliers of lib/optim/schedule.ts: values at the key
 * steps (first, end of warm-up, middle and end of the decay, beyond), and configuration errors that
 * name the field and the fix.
 */
import { lrConstant, lrCosine, lrLinearWarmup } from '../../lib/optim/schedule';

function caught(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

test('lrConstant is 1 at every step', () => {
  const s = lrConstant();
  expect([0, 1, 1000].map(s)).toEqual([1, 1, 1]);
});

test('lrLinearWarmup: (step + 1)/w, reaching 1 at step w − 1, then 1', () => {
  const s = lrLinearWarmup(4);
  expect([0, 1, 2, 3, 4, 100].map(s)).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
  expect([0, 5].map(lrLinearWarmup(0))).toEqual([1, 1]);
  expect(lrLinearWarmup(1)(0)).toBe(1);
});

test('lrCosine without warm-up: 1 at step 0, ½(1 + m) halfway, m at totalSteps and after', () => {
  const s = lrCosine({ totalSteps: 10 });
  expect(s(0)).toBe(1);
  expect(s(5)).toBeCloseTo(0.5, 15);
  expect(s(10)).toBe(0);
  expect(s(11)).toBe(0);
  // cos(π/10) for one step in
  expect(s(1)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 10)), 15);
  const m = lrCosine({ totalSteps: 10, minFactor: 0.1 });
  expect(m(5)).toBeCloseTo(0.55, 15);
  expect(m(10)).toBeCloseTo(0.1, 15);
  expect(m(50)).toBeCloseTo(0.1, 15);
  // monotone non-increasing over the decay
  for (let k = 1; k <= 10; k++) expect(m(k)).toBeLessThanOrEqual(m(k - 1));
});

test('lrCosine with warm-up: linear ramp, 1 at the first decay step, then the cosine over T − w', () => {
  const s = lrCosine({ totalSteps: 12, warmupSteps: 4, minFactor: 0.2 });
  expect([0, 1, 2, 3].map(s)).toEqual([0.25, 0.5, 0.75, 1]);
  expect(s(4)).toBe(1);
  expect(s(8)).toBeCloseTo(0.2 + 0.8 * 0.5, 15); // halfway through the 8 decay steps
  expect(s(12)).toBeCloseTo(0.2, 15);
});

test.each([
  ['lrLinearWarmup(-1)', () => lrLinearWarmup(-1), 'lrLinearWarmup', 'warmupSteps'],
  ['lrLinearWarmup(1.5)', () => lrLinearWarmup(1.5), 'lrLinearWarmup', 'warmupSteps'],
  ['lrCosine({ totalSteps: 0 })', () => lrCosine({ totalSteps: 0 }), 'lrCosine', 'totalSteps'],
  ['lrCosine({})', () => lrCosine({} as never), 'lrCosine', 'totalSteps'],
  ['warm-up as long as the run', () => lrCosine({ totalSteps: 5, warmupSteps: 5 }), 'lrCosine', 'warmupSteps'],
  ['minFactor > 1', () => lrCosine({ totalSteps: 5, minFactor: 1.5 }), 'lrCosine', 'minFactor'],
  ['minFactor < 0', () => lrCosine({ totalSteps: 5, minFactor: -0.1 }), 'lrCosine', 'minFactor'],
  ['a misspelt field', () => lrCosine({ totalSteps: 5, minLr: 0.1 } as never), 'lrCosine', 'minLr'],
  ['no options', () => lrCosine(undefined as never), 'lrCosine', 'options'],
])('%s → DEBORA_INVALID_CONFIG naming %s.%s', (_, make, where, field) => {
  const err = caught(make);
  expect(err).toMatchObject({ name: 'DeboraError', code: 'DEBORA_INVALID_CONFIG' });
  expect(err.message.startsWith(`${where}: expected `)).toBe(true);
  expect(err.message).toContain(`for argument '${field}'`);
  expect(err.message).toContain('Fix: ');
});

test('a schedule refuses a step that is not a non-negative integer', () => {
  for (const s of [lrConstant(), lrLinearWarmup(3), lrCosine({ totalSteps: 3 })]) {
    expect(caught(() => s(-1))).toMatchObject({ name: 'DeboraError', code: 'DEBORA_INVALID_ARG' });
    expect(caught(() => s(0.5)).message).toContain("for argument 'step'");
  }
});
