/**
 * fw-face.test.ts — face identification (lib/fw/face.ts and the stepper's use of it): the stability
 * counter, which steps count, the identification step, freeze on identification, and `gapBelow`.
 */
import { FaceDetector } from '../../lib/fw/face';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import { sparseLeastSquares } from '../convergence/helpers';

describe('FaceDetector', () => {
  test('counts consecutive counted steps without a change; a change resets', () => {
    const d = new FaceDetector(3);
    const trace: [number, boolean, number][] = [];
    const feed: [boolean, boolean][] = [
      [true, true], // step 0: change
      [false, true],
      [false, false], // no move: neither counts nor resets
      [false, true],
      [false, true], // third counted stable step: identified at step 4
      [true, true], // change at 5: lost again
      [false, true],
    ];
    feed.forEach(([changed, counts], step) => {
      d.observe(step, changed, counts);
      trace.push([d.stableFor, d.identified, d.supportSince]);
    });
    expect(trace).toEqual([
      [0, false, 0],
      [1, false, 0],
      [1, false, 0],
      [2, false, 0],
      [3, true, 0],
      [0, false, 5],
      [1, false, 5],
    ]);
  });
  test('observe reports the step at which identification happens, once', () => {
    const d = new FaceDetector(2);
    expect([d.observe(0, false, true), d.observe(1, false, true), d.observe(2, false, true)]).toEqual([
      false,
      true,
      false,
    ]);
    expect(d.identifiedAt).toBe(1);
    expect(d.supportSince).toBe(-1);
  });
});

describe('in the stepper', () => {
  const P = sparseLeastSquares({ seed: 4, dim: 30, rows: 60, support: [1, 8, 20, 29], tau: 1, eps: 1e-3 });
  const base = { tau: 1, epsilon: 1e-3, gapTol: 1e-12, stepSize: { rule: 'short' as const, M: P.M } };

  test('freezeOnIdentify freezes s on the optimal support once it has held k steps', () => {
    const fw = new SimplexFrankWolfe({ ...base, face: { stableSteps: 15, freezeOnIdentify: true } }, [
      { name: 's', rank: 30 },
    ]);
    let frozenAt = -1;
    for (let n = 0; n < 400 && frozenAt < 0; n++) {
      const ev = fw.step(P.grad(fw.s));
      if (ev.frozen) {
        frozenAt = n;
        expect(ev.identified).toBe(true);
        expect(ev.stableFor).toBe(15);
        expect(ev.supportSince + 15).toBe(n);
      }
    }
    expect(frozenAt).toBeGreaterThan(0);
    expect(fw.support('s')).toEqual([1, 8, 20, 29]);
    const s = fw.s.slice();
    const ev = fw.step(P.grad(fw.s));
    expect(ev.status).toBe('frozen');
    expect(Array.from(fw.s)).toEqual(Array.from(s));
  });

  test('gapBelow: a support that merely has not changed yet, far from stationarity, is not reported', () => {
    // plain FW from the uniform start never shrinks the support: all 30 stay active, unchanged
    const plain = { ...base, variant: 'fw' as const, face: { stableSteps: 5 } };
    const a = new SimplexFrankWolfe(plain, [{ name: 's', rank: 30 }]);
    const b = new SimplexFrankWolfe({ ...plain, face: { stableSteps: 5, gapBelow: 1e-6 } }, [{ name: 's', rank: 30 }]);
    for (let n = 0; n < 50; n++) {
      a.step(P.grad(a.s));
      b.step(P.grad(b.s));
    }
    expect(a.identified).toBe(true);
    expect(a.support('s')).toHaveLength(30);
    expect(b.identified).toBe(false);
    expect(b.result().minGap).toBeGreaterThan(1e-6);
  });
});
