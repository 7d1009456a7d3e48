/**
 * fw-step-rules.test.ts — the measurement behind the default step-size rule (ALGORITHM.md 4.6 left
 * it OPEN): away-step FW on the known-face least-squares problem, exact and noisy gradients, every
 * rule. Asserts the facts the default (open-loop 2/(k+8)) rests on; FW_REPORT=1 prints the table
 * quoted in docs/frank-wolfe.md.
 */

import type { StepSizeSpec } from '../../lib/fw/step-size';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import { bruteForceGap, gaussian, mulberry32, range, report, sparseLeastSquares, supportOf } from './helpers';

const EPS = 1e-3;
const SUPPORT = [3, 11, 17, 30, 44, 59];
const P = sparseLeastSquares({ seed: 7, dim: 60, rows: 120, support: SUPPORT, tau: 1, eps: EPS });
const STEPS = 1000;

interface Row {
  rule: string;
  sigma: number;
  /** First step whose true gap is ≤ 1e-6 (−1: never). */
  toGap1e6: number;
  /** Step after which the support was the optimal one for good (−1: not at the end). */
  identifiedAt: number;
  /** Mean true gap over the last 200 steps. */
  tailGap: number;
  /** Smallest support over the run (1: s collapsed onto a vertex). */
  minSupport: number;
  evaluations: number;
}

const memo = new Map<string, Row>();
function measure(name: string, stepSize: StepSizeSpec, sigma: number): Row {
  const key = `${name}@${sigma}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const row = measureUncached(name, stepSize, sigma);
  memo.set(key, row);
  return row;
}

function measureUncached(name: string, stepSize: StepSizeSpec, sigma: number): Row {
  const fw = new SimplexFrankWolfe({ tau: 1, epsilon: EPS, gapTol: 1e-12, variant: 'away', stepSize }, [
    { name: 's', rank: 60 },
  ]);
  const noise = gaussian(mulberry32(4));
  const key = SUPPORT.join(',');
  const supports: string[] = [];
  let toGap1e6 = -1;
  let tail = 0;
  let evaluations = 0;
  let minSupport = 60;
  for (let n = 0; n < STEPS; n++) {
    const g = P.grad(fw.s);
    const gap = bruteForceGap(fw.s, g, range(60), EPS, 1).gap;
    if (gap <= 1e-6 && toGap1e6 < 0) toGap1e6 = n;
    if (n >= STEPS - 200) tail += gap / 200;
    const ev = fw.step(
      g.map((v) => v + sigma * noise()),
      { f: (s) => P.f(s) },
    );
    evaluations += ev.blocks[0]?.evaluations ?? 0;
    const sup = supportOf(fw.s, EPS);
    minSupport = Math.min(minSupport, sup.length);
    supports.push(sup.join(','));
  }
  let identifiedAt = -1;
  for (let n = supports.length - 1; n >= 0 && supports[n] === key; n--) identifiedAt = n;
  return { rule: name, sigma, toGap1e6, identifiedAt, tailGap: tail, minSupport, evaluations };
}

const rules: [string, StepSizeSpec][] = [
  ['short (exact M)', { rule: 'short', M: P.M }],
  ['short (10·M)', { rule: 'short', M: 10 * P.M }],
  ['adaptive', { rule: 'adaptive' }],
  ['open-loop 2/(k+2)', { rule: 'open-loop' }],
  ['open-loop 2/(k+8)', { rule: 'open-loop', offset: 6 }],
  ['constant 0.05', { rule: 'constant', alpha: 0.05 }],
];

test('exact gradients: the adaptive rule converges fastest, without being told M', () => {
  const rows = rules.map(([name, spec]) => measure(name, spec, 0));
  report('step rules, exact gradients', rows);
  const by = Object.fromEntries(rows.map((r) => [r.rule, r]));
  const adaptive = by.adaptive as Row;
  expect(adaptive.toGap1e6).toBeGreaterThan(0);
  for (const r of rows) if (r !== adaptive && r.toGap1e6 >= 0) expect(adaptive.toGap1e6).toBeLessThan(r.toGap1e6);
  expect(adaptive.identifiedAt).toBeGreaterThanOrEqual(0);
  // the open-loop and constant rules never certify a small gap here
  expect(by['open-loop 2/(k+2)']?.toGap1e6).toBe(-1);
  expect(by['constant 0.05']?.toGap1e6).toBe(-1);
});

test('noisy gradients (σ = 0.01): open-loop, untuned, beats the rules tuned for exact gradients', () => {
  const rows = rules.map(([name, spec]) => measure(name, spec, 0.01));
  report('step rules, noisy gradients', rows);
  const by = Object.fromEntries(rows.map((r) => [r.rule, r]));
  for (const open of [by['open-loop 2/(k+2)'], by['open-loop 2/(k+8)']] as Row[]) {
    for (const name of ['short (exact M)', 'adaptive', 'constant 0.05']) {
      expect(open.tailGap).toBeLessThan((by[name] as Row).tailGap);
    }
    expect(open.identifiedAt).toBeGreaterThanOrEqual(0);
  }
  // a short step with a deliberately pessimistic M (smaller steps average the noise) does better
  // still, but only with M tuned to the noise level
  expect((by['short (10·M)'] as Row).tailGap).toBeLessThan((by['open-loop 2/(k+8)'] as Row).tailGap);
});

test('the default 2/(k+8) prunes down from s0; 2/(k+2) first collapses s onto one vertex', () => {
  const classic = measure('open-loop 2/(k+2)', { rule: 'open-loop' }, 0);
  const offset = measure('open-loop 2/(k+8)', { rule: 'open-loop', offset: 6 }, 0);
  report('open-loop offsets', [classic, offset]);
  expect(classic.minSupport).toBe(1); // step 0 is α = 1: every weight but one at ε
  expect(offset.minSupport).toBe(6); // never below the optimal support: components leave by drops
  expect(offset.identifiedAt).toBeGreaterThanOrEqual(0);
  expect(offset.tailGap).toBeLessThan(1.5 * classic.tailGap);
});
