/**
 * fw-schedule.test.ts — the budget schedule for τ (lib/fw/schedule.ts and its use by the stepper):
 * values and phases, warm-up with s frozen, decrease with s kept feasible, freeze, and incoherent
 * schedules rejected with the fields named.
 */
import { validateFrankWolfeConfig } from '../../lib/fw/config';
import { budgetAt, schedulePhase } from '../../lib/fw/schedule';
import { SimplexFrankWolfe } from '../../lib/fw/stepper';
import { excess, mulberry32, range } from '../convergence/helpers';

test('linear and cubic decrease: τ(n) reaches τ_end at warmup + decaySteps − 1', () => {
  const lin = validateFrankWolfeConfig({
    tau: 8,
    epsilon: 1e-3,
    schedule: { warmup: 2, decaySteps: 4, tauEnd: 4, shape: 'linear' },
  });
  expect(range(8).map((n) => budgetAt(lin.schedule, n, 8, 4))).toEqual([8, 8, 7, 6, 5, 4, 4, 4]);
  const cub = validateFrankWolfeConfig({ tau: 8, epsilon: 1e-3, schedule: { warmup: 0, decaySteps: 2, tauEnd: 4 } });
  // τ_end + (τ0 − τ_end)(1 − p)³ with p = 1/2, then 1
  expect([0, 1, 2].map((n) => budgetAt(cub.schedule, n, 8, 4))).toEqual([4 + 4 / 8, 4, 4]);
  const none = validateFrankWolfeConfig({ tau: 8, epsilon: 1e-3 });
  expect(budgetAt(none.schedule, 100, 8, 8)).toBe(8);
});

test('phases: warm-up, active, frozen', () => {
  const c = validateFrankWolfeConfig({
    tau: 8,
    epsilon: 1e-3,
    schedule: { warmup: 2, decaySteps: 3, tauEnd: 5, freezeAt: 6 },
  });
  expect(range(8).map((n) => schedulePhase(c.schedule, n))).toEqual([
    'warmup',
    'warmup',
    'active',
    'active',
    'active',
    'active',
    'frozen',
    'frozen',
  ]);
});

test('the stepper follows the schedule: s frozen in warm-up, feasible while τ falls, frozen at the end', () => {
  const r = 20;
  const rng = mulberry32(3);
  const fw = new SimplexFrankWolfe(
    {
      tau: 4,
      epsilon: 1e-3,
      stepSize: { rule: 'short', M: 2 },
      schedule: { warmup: 3, decaySteps: 10, tauEnd: 1, shape: 'linear', freezeAt: 20 },
    },
    [{ name: 'a', rank: r }],
  );
  const s0 = fw.s.slice();
  const seen: string[] = [];
  for (let n = 0; n < 25; n++) {
    const before = fw.s.slice();
    const g = Float64Array.from({ length: r }, () => 2 * rng() - 1);
    const ev = fw.step(g);
    seen.push(ev.status);
    const tau = ev.tau;
    expect(tau).toBe(budgetAt(fw.config.schedule, n, 4, 1));
    for (const v of fw.s) expect(v).toBeGreaterThanOrEqual(1e-3);
    expect(excess(fw.s, range(r), 1e-3)).toBeLessThanOrEqual(tau * (1 + 1e-12));
    expect(ev.l1).toBeLessThanOrEqual(ev.budget * (1 + 1e-12));
    if (ev.status === 'warmup') expect(Array.from(fw.s)).toEqual(Array.from(s0));
    if (ev.status === 'frozen') expect(Array.from(fw.s)).toEqual(Array.from(before));
  }
  expect(seen.slice(0, 3)).toEqual(['warmup', 'warmup', 'warmup']);
  expect(seen.slice(3, 20).every((x) => x === 'updated')).toBe(true);
  expect(seen.slice(20)).toEqual(['frozen', 'frozen', 'frozen', 'frozen', 'frozen']);
});

test('when τ falls below the mass, s is scaled radially toward ε·1 (support and ratios kept)', () => {
  // s0 on the face Σ(s − ε) = 4; τ drops to 2 at the first step; the scan-time rescale halves x
  const fw = new SimplexFrankWolfe(
    { tau: 4, epsilon: 1e-3, stepSize: { rule: 'short', M: 1 }, schedule: { decaySteps: 1, tauEnd: 2 } },
    [{ name: 'a', rank: 4 }],
    { s0: [1e-3 + 2, 1e-3 + 1, 1e-3 + 1, 1e-3] },
  );
  fw.freeze(); // no FW update: only the rescale acts
  const ev = fw.step([0.1, 0.2, 0.3, 0.4]);
  expect(ev.status).toBe('frozen');
  const x = Array.from(fw.s).map((v) => v - 1e-3);
  [1, 0.5, 0.5].forEach((v, i) => {
    expect(x[i]).toBeCloseTo(v, 14);
  });
  expect(fw.s[3]).toBe(1e-3);
  expect(ev.ranks).toEqual({ a: 3 });
});

test('convergence is sticky while τ holds, and re-examined when τ changes', () => {
  const specs = [{ name: 'a', rank: 3 }];
  const s0 = [1e-3 + 0.5, 1e-3 + 0.5, 1e-3];
  const cfg = { tau: 4, epsilon: 1e-3, gapTol: 1e-9, stepSize: { rule: 'open-loop' as const } };
  // constant τ: converged at step 0 (zero gradient), then a gradient with a large gap moves nothing
  const still = new SimplexFrankWolfe(cfg, specs, { s0 });
  expect(still.step([0, 0, 0]).converged).toBe(true);
  const ev = still.step([-1, 1, 1]);
  expect([ev.status, ev.gap > 1]).toEqual(['converged', true]);
  expect(Array.from(still.s)).toEqual(s0);
  // τ falls at step 1 (4 → 2.25 → 0.5): the flag is dropped and the block moves again
  const moving = new SimplexFrankWolfe({ ...cfg, schedule: { decaySteps: 2, tauEnd: 0.5, shape: 'linear' } }, specs, {
    s0,
  });
  const ev0 = moving.step([0, 0, 0]);
  expect([ev0.tau, ev0.converged]).toEqual([2.25, true]);
  const ev1 = moving.step([-1, 1, 1]);
  expect([ev1.tau, ev1.status, ev1.converged]).toEqual([0.5, 'updated', false]);
  expect(moving.s[0]).toBeGreaterThan(moving.s[1] as number);
});

describe('incoherent schedules are rejected with the fields named', () => {
  const bad: [unknown, string, RegExp][] = [
    [{ decaySteps: 5, tauEnd: 6 }, 'schedule.tauEnd', /only decreases/],
    [{ decaySteps: 0, tauEnd: 2 }, 'schedule.decaySteps', /set schedule.decaySteps/],
    [{ decaySteps: 5 }, 'schedule.tauEnd', /give schedule.tauEnd/],
    [{ warmup: 5, decaySteps: 5, tauEnd: 2, freezeAt: 8 }, 'schedule.freezeAt', /set schedule.freezeAt to 10 or later/],
    [{ warmup: -1 }, 'schedule.warmup', /Fix/],
    [{ decaySteps: 3, tauEnd: 2, shape: 'exp' }, 'schedule.shape', /cubic/],
    [{ decaySteps: 3, tauEnd: 4 }, 'schedule.tauEnd', /below tau in at least one block/],
    [{ decaySteps: 3, tauEnd: { global: 2 } }, 'schedule.tauEnd', /same shape as tau/],
    [{ decaySteps: 3, tauEnd: 0.01 }, 'epsilon', /at the end of the schedule/],
    [{ warmup: 2, cooldown: 3 }, 'schedule.cooldown', /no such field/],
  ];
  test.each(bad)('%j → %s', (schedule, field, msg) => {
    let err: { code?: string; message?: string } = {};
    try {
      new SimplexFrankWolfe({ tau: 4, epsilon: 1e-3, schedule } as never, [{ name: 'a', rank: 20 }]);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('DEBORA_INVALID_CONFIG');
    expect(err.message).toContain(`argument '${field}'`);
    expect(err.message).toMatch(msg);
  });
});
