/**
 * fw-identification.test.ts — face identification on a least-squares problem whose optimal face is
 * known (6 of 60 components, strict complementarity): away-step and pairwise FW reach that support
 * in finitely many steps and never leave it; plain FW only approaches it (all 60 components stay
 * above ε). The step counts and gaps asserted here are the ones quoted in docs/frank-wolfe.md.
 */

import type { StepSizeSpec } from '../../lib/fw/step-size';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import type { Variant } from '../../lib/fw/types';
import { maxAbsDiff, report, sparseLeastSquares, supportOf } from './helpers';

const EPS = 1e-3;
const SUPPORT = [3, 11, 17, 30, 44, 59];
const P = sparseLeastSquares({ seed: 7, dim: 60, rows: 120, support: SUPPORT, tau: 1, eps: EPS });

interface Trace {
  /** First step after which the support was the optimal one for good (−1: never). */
  identifiedAt: number;
  /** Steps whose support was the optimal one. */
  onFace: number;
  /** First step whose support was the optimal one (−1: never). */
  firstOnFace: number;
  /** Smallest support over the run. */
  minSupport: number;
  gapAt: Map<number, number>;
  convergedAt: number;
  detectorAt: number;
  fw: SimplexFrankWolfe;
}

function trace(variant: Variant, stepSize: StepSizeSpec, steps: number): Trace {
  const fw = new SimplexFrankWolfe(
    { tau: 1, epsilon: EPS, gapTol: 1e-10, variant, stepSize, face: { stableSteps: 10 } },
    [{ name: 's', rank: 60 }],
  );
  const key = SUPPORT.join(',');
  const supports: string[] = [];
  const gapAt = new Map<number, number>();
  let convergedAt = -1;
  let detectorAt = -1;
  let minSupport = 60;
  for (let n = 0; n < steps; n++) {
    const ev = fw.step(P.grad(fw.s), { f: (s) => P.f(s) });
    // exact support (s_i > ε), independent of the stepper's own bookkeeping
    const sup = supportOf(fw.s, EPS);
    minSupport = Math.min(minSupport, sup.length);
    supports.push(sup.join(','));
    gapAt.set(n + 1, ev.gap);
    if (ev.converged && convergedAt < 0) convergedAt = n;
    if (ev.identified && detectorAt < 0) detectorAt = n;
  }
  let identifiedAt = -1;
  for (let n = supports.length - 1; n >= 0 && supports[n] === key; n--) identifiedAt = n;
  const firstOnFace = supports.indexOf(key);
  report(`identification ${variant} ${stepSize.rule}`, {
    identifiedAt,
    firstOnFace,
    detectorAt,
    convergedAt,
    minSupport,
    finalSupport: supportOf(fw.s, EPS).length,
    gap: [10, 50, 100, 300, 1000, 2000].filter((k) => k <= steps).map((k) => [k, gapAt.get(k)]),
    counts: fw.result().counts,
  });
  return {
    identifiedAt,
    onFace: supports.filter((s) => s === key).length,
    firstOnFace,
    minSupport,
    gapAt,
    convergedAt,
    detectorAt,
    fw,
  };
}

const short: StepSizeSpec = { rule: 'short', M: P.M };

test('the problem: s* has the stated support, zero FW gap, and is optimal', () => {
  expect(supportOf(P.sStar, EPS)).toEqual(SUPPORT);
  const g = P.grad(P.sStar);
  const fw = new SimplexFrankWolfe({ tau: 1, epsilon: EPS, stepSize: short }, [{ name: 's', rank: 60 }], {
    s0: P.sStar,
  });
  expect(fw.step(g).gap).toBeLessThanOrEqual(1e-12);
});

describe('away-step FW identifies the optimal face in finitely many steps and stays on it', () => {
  test('short step', () => {
    const t = trace('away', short, 400);
    expect(t.identifiedAt).toBeGreaterThan(0);
    expect(t.identifiedAt).toBeLessThanOrEqual(60); // measured: 57
    expect(t.firstOnFace).toBe(t.identifiedAt); // reached once, never left afterwards (to step 400)
    expect(t.detectorAt).toBe(t.identifiedAt + 10); // the detector (k = 10) reports it 10 steps later
    expect(t.convergedAt).toBeGreaterThan(0);
    expect(t.convergedAt).toBeLessThanOrEqual(310); // measured: step 301
    expect(maxAbsDiff(t.fw.s, P.sStar)).toBeLessThanOrEqual(1e-9);
    expect(t.fw.result().counts.drops).toBe(54); // every one of the 54 off-face components dropped once
  });
  test('adaptive step (no M given)', () => {
    const t = trace('away', { rule: 'adaptive' }, 400);
    expect(t.identifiedAt).toBeGreaterThan(0);
    expect(t.identifiedAt).toBeLessThanOrEqual(60); // measured: 56
    expect(t.firstOnFace).toBe(t.identifiedAt);
    expect(t.gapAt.get(300)).toBeLessThanOrEqual(1e-7); // measured: 1.0e-8 (linear rate, like the short step)
  });
  test('pairwise steps', () => {
    const t = trace('pairwise', short, 400);
    expect(t.identifiedAt).toBeGreaterThan(0);
    expect(t.identifiedAt).toBeLessThanOrEqual(60); // measured: 53
    expect(t.firstOnFace).toBe(t.identifiedAt);
    expect(t.convergedAt).toBeGreaterThan(0);
    expect(t.convergedAt).toBeLessThanOrEqual(200); // measured: step 184
  });
});

test('plain FW only approaches the face: all 60 components stay above ε, the gap stays large', () => {
  const t = trace('fw', short, 2000);
  expect(t.onFace).toBe(0);
  expect(t.minSupport).toBe(60);
  expect(t.convergedAt).toBe(-1);
  expect(t.gapAt.get(300)).toBeGreaterThan(1e-4); // away-step FW has converged (1e-10) by then
  expect(t.gapAt.get(2000)).toBeGreaterThan(1e-4);
  // it does approach s*: the off-face weights shrink but never reach ε
  const off = Array.from(t.fw.s).filter((_, i) => !SUPPORT.includes(i));
  expect(Math.max(...off) - EPS).toBeLessThan(1e-2);
  expect(Math.min(...off) - EPS).toBeGreaterThan(0);
  // the support detector sees a support that never changes: stability alone is not identification
  expect(t.detectorAt).toBe(9);
});
