/**
 * fw/schedule.ts — the budget schedule for τ: constant by default; optionally a warm-up with s
 * frozen, a decrease from τ to τ_end, then τ_end (and, if asked, s frozen). Pure functions of the
 * step index; validated in fw/config.ts. Tested in test/unit/fw-schedule.test.ts.
 */

/** Shape of the decrease: linear, or cubic as in AdaLoRA (fast at first, flat at the end). */
export type DecayShape = 'linear' | 'cubic';

/**
 * A budget schedule (absent = constant τ). Phases by step index n:
 * `n < warmup`: s frozen at s0, τ = tau;  `warmup ≤ n < warmup + decaySteps`: τ falls to tauEnd;
 * afterwards τ = tauEnd; from `freezeAt` on (if given) s is frozen again.
 */
export interface BudgetScheduleSpec {
  /** Steps at the start during which s stays at s0 (default 0). */
  readonly warmup?: number;
  /** Steps over which τ falls from `tau` to `tauEnd`; reached at step warmup + decaySteps − 1 (default 0). */
  readonly decaySteps?: number;
  /** Final budget: a number for every block, or one per block name (default: tau, no decrease). */
  readonly tauEnd?: number | Readonly<Record<string, number>>;
  /** Decrease shape (default 'cubic'). */
  readonly shape?: DecayShape;
  /** Step from which s is frozen for good (≥ warmup + decaySteps; default: never). */
  readonly freezeAt?: number | null;
}

/** A schedule with its defaults filled in (what `state()` stores). */
export interface NormalizedSchedule {
  readonly warmup: number;
  readonly decaySteps: number;
  /** Per block, or null when there is no decrease. */
  readonly tauEnd: number | Readonly<Record<string, number>> | null;
  readonly shape: DecayShape;
  readonly freezeAt: number | null;
}

/** Where step n falls in the schedule. */
export type SchedulePhase = 'warmup' | 'active' | 'frozen';

/** The phase of step n. */
export function schedulePhase(sch: NormalizedSchedule, n: number): SchedulePhase {
  if (n < sch.warmup) return 'warmup';
  if (sch.freezeAt !== null && n >= sch.freezeAt) return 'frozen';
  return 'active';
}

/**
 * τ at step n for a block whose starting budget is `tau0` and final budget `tauEnd`.
 * With p = (n − warmup + 1)/decaySteps clipped to [0, 1]:
 * linear τ0 + (τ_end − τ0)·p;  cubic τ_end + (τ0 − τ_end)(1 − p)³ (AdaLoRA, Zhang et al., ICLR 2023).
 */
export function budgetAt(sch: NormalizedSchedule, n: number, tau0: number, tauEnd: number): number {
  if (sch.decaySteps === 0 || tauEnd === tau0) return tau0;
  if (n < sch.warmup) return tau0;
  const done = n - sch.warmup + 1;
  if (done >= sch.decaySteps) return tauEnd;
  const p = done / sch.decaySteps;
  if (sch.shape === 'linear') return tau0 + (tauEnd - tau0) * p;
  const q = 1 - p;
  return tauEnd + (tau0 - tauEnd) * q * q * q;
}
