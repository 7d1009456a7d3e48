/**
 * fw/step-size.ts — the step-size rules of the Frank-Wolfe stepper behind one interface: short step
 * with a given M, adaptive short step (backtracking on an objective the caller supplies), open-loop
 * ℓ/(k+ℓ) and constant. Tested in test/unit/fw-step-size.test.ts and test/convergence/fw-*.test.ts.
 */
import { describe, invalid } from '../validate';

/** Short step with a known curvature bound M (Demyanov–Rubinov; Lacoste-Julien & Jaggi 2015). */
export interface ShortStepSpec {
  readonly rule: 'short';
  /** Lipschitz constant of ∇f (or any upper bound): larger M, shorter steps. */
  readonly M: number;
}

/** Short step with M estimated by backtracking (Pedregosa, Négiar, Askari, Jaggi, AISTATS 2020). */
export interface AdaptiveStepSpec {
  readonly rule: 'adaptive';
  /** First estimate of M (default 1); it is corrected within the first few steps. */
  readonly M0?: number;
  /** Factor in (0, 1] applied to M before each step so M can fall again (default 0.9). */
  readonly eta?: number;
  /** Factor > 1 applied to M after each failed sufficient-decrease test (default 2). */
  readonly growth?: number;
  /** Failed tests allowed per step before giving up with α = 0 (default 40). */
  readonly maxBacktracks?: number;
}

/** Open-loop (agnostic) step ℓ/(k + ℓ), k = number of updates so far (Dunn & Harshbarger 1978). */
export interface OpenLoopStepSpec {
  readonly rule: 'open-loop';
  /** ℓ > 0 (default 2: the classic 2/(k+2)). */
  readonly ell?: number;
  /** k₀ ≥ 0 added to the step count (default 0): ℓ/(k + k₀ + ℓ); k₀ > 0 keeps the first step below 1. */
  readonly offset?: number;
}

/** Constant step α (clipped to the maximal step). */
export interface ConstantStepSpec {
  readonly rule: 'constant';
  /** α in (0, 1]. */
  readonly alpha: number;
}

/** A step-size rule, as configuration data. */
export type StepSizeSpec = ShortStepSpec | AdaptiveStepSpec | OpenLoopStepSpec | ConstantStepSpec;

/** The step-size rule names. */
export const STEP_SIZE_RULES = ['short', 'adaptive', 'open-loop', 'constant'] as const;

/** What a rule may look at to choose α for one block's direction d. */
export interface StepSizeQuery {
  /** −G̃ᵀd ≥ 0: the decrease of the linear model per unit step. */
  readonly slope: number;
  /** ‖d‖². */
  readonly dNorm2: number;
  /** Largest feasible step (1 for FW steps; λ_y/(1 − λ_y) for away steps; λ_y for pairwise). */
  readonly alphaMax: number;
  /** Updates this block has made so far (the k of open-loop rules). */
  readonly k: number;
  /** f(s_n) (adaptive rule only). */
  readonly f0?: number;
  /** α ↦ f(s_n + α d) (adaptive rule only; each call is one objective evaluation). */
  readonly trial?: (alpha: number) => number;
}

/** A rule's answer: the step, the curvature estimate to keep for the next step, and the cost. */
export interface StepSizeChoice {
  readonly alpha: number;
  /** M to use next step (NaN for rules without one). */
  readonly M: number;
  /** Objective evaluations spent. */
  readonly evaluations: number;
}

/** The one interface of the step-size rules. */
export interface StepSizeRule {
  readonly spec: Readonly<StepSizeSpec>;
  /** True when `choose` needs `query.trial` and `query.f0` (the caller's objective). */
  readonly needsObjective: boolean;
  /** M for a block that has not stepped yet (NaN for rules without one). */
  initialM(): number;
  /** α in [0, alphaMax] for one direction, given the block's last M. */
  choose(query: StepSizeQuery, M: number): StepSizeChoice;
}

/** min(αmax, slope/(M‖d‖²)), 0 when there is no descent. */
function shortStep(slope: number, dNorm2: number, M: number, alphaMax: number): number {
  if (!(slope > 0)) return 0;
  // ‖d‖² can round to 0 only when d is (numerically) zero: go as far as allowed, the move is nil.
  if (!(dNorm2 > 0)) return Number.isFinite(alphaMax) ? alphaMax : 0;
  return Math.min(alphaMax, slope / (M * dNorm2));
}

/**
 * Short step with a given M:
 *
 *     α = min(α_max, −G̃ᵀd / (M ‖d‖²))
 *
 * the minimiser of the quadratic upper bound f(s) − α·(−G̃ᵀd) + α²M/2 ‖d‖² when ∇f is M-Lipschitz.
 * Reference: Demyanov & Rubinov (1970); Lacoste-Julien & Jaggi, "On the global linear convergence of
 * Frank-Wolfe optimization variants", NeurIPS 2015 (section 3, step sizes of AFW/PFW).
 */
export class ShortStep implements StepSizeRule {
  readonly needsObjective = false;
  constructor(readonly spec: Readonly<ShortStepSpec>) {}
  initialM(): number {
    return this.spec.M;
  }
  choose(q: StepSizeQuery): StepSizeChoice {
    return { alpha: shortStep(q.slope, q.dNorm2, this.spec.M, q.alphaMax), M: this.spec.M, evaluations: 0 };
  }
}

/**
 * Adaptive short step (backtracking line search on the Lipschitz estimate):
 *
 *     M ← η·M;   repeat  α = min(α_max, −G̃ᵀd / (M‖d‖²)),
 *                 until  f(s + αd) ≤ f(s) − α(−G̃ᵀd) + α²M/2 ‖d‖²   (else M ← growth·M)
 *
 * f is the objective the caller passes to `step()` (for dEBORA: f̃1 at fixed B on the D1
 * minibatch). Reference: Pedregosa, Négiar, Askari & Jaggi, "Linearly convergent Frank-Wolfe with
 * backtracking line-search", AISTATS 2020, Algorithm 2 (η = 0.9 and τ = 2 there). If the test still
 * fails after `maxBacktracks` growths (f not smooth, or rounding near the optimum) the step is 0 and M
 * is left where it was before the step.
 */
export class AdaptiveStep implements StepSizeRule {
  readonly needsObjective = true;
  private readonly M0: number;
  private readonly eta: number;
  private readonly growth: number;
  private readonly maxBacktracks: number;
  constructor(readonly spec: Readonly<AdaptiveStepSpec>) {
    this.M0 = spec.M0 ?? 1;
    this.eta = spec.eta ?? 0.9;
    this.growth = spec.growth ?? 2;
    this.maxBacktracks = spec.maxBacktracks ?? 40;
  }
  initialM(): number {
    return this.M0;
  }
  choose(q: StepSizeQuery, Mprev: number): StepSizeChoice {
    if (!(q.slope > 0) || !(q.dNorm2 > 0)) return { alpha: 0, M: Mprev, evaluations: 0 };
    const trial = q.trial;
    const f0 = q.f0;
    if (trial === undefined || f0 === undefined) {
      invalid('AdaptiveStep.choose', 'query.trial', 'an objective evaluator and f0', describe(trial));
    }
    let M = this.eta * Mprev;
    let evaluations = 0;
    // f is computed in floating point: near the optimum the promised decrease falls below the
    // rounding of f itself and the test would be decided by noise, so 8 ulp of |f0| count as equal.
    const slack = 8 * Number.EPSILON * Math.abs(f0);
    for (let i = 0; i <= this.maxBacktracks; i++) {
      const alpha = Math.min(q.alphaMax, q.slope / (M * q.dNorm2));
      const ft = trial(alpha);
      evaluations++;
      if (ft <= f0 - alpha * q.slope + 0.5 * alpha * alpha * M * q.dNorm2 + slack) return { alpha, M, evaluations };
      M *= this.growth;
    }
    return { alpha: 0, M: Mprev, evaluations };
  }
}

/**
 * Open-loop ("agnostic") step:
 *
 *     α = min(α_max, ℓ / (k + k₀ + ℓ))     k = updates made so far; ℓ = 2, k₀ = 0: the classic 2/(k+2)
 *
 * needs neither M nor f; O(1/k) primal convergence for plain FW, and shrinking steps average out
 * gradient noise. References: Dunn & Harshbarger, "Conditional gradient algorithms with open loop
 * step size rules", J. Math. Anal. Appl. 1978; ℓ/(k+ℓ): Wirth, Kerdreux & Pokutta, "Acceleration of
 * Frank-Wolfe algorithms with open-loop step-sizes", AISTATS 2023; the offset 2/(k+8): Mokhtari,
 * Hassani & Karbasi, "Stochastic conditional gradient methods", JMLR 2020. With k₀ = 0 the first
 * step is α = 1: s jumps onto one vertex (every other weight to ε) and the support is rebuilt one
 * vertex per step; k₀ > 0 keeps the first step below 1, so the support shrinks from s0 by drops
 * instead (the default, k₀ = 6; see docs/frank-wolfe.md for the measurement).
 */
export class OpenLoopStep implements StepSizeRule {
  readonly needsObjective = false;
  private readonly ell: number;
  private readonly offset: number;
  constructor(readonly spec: Readonly<OpenLoopStepSpec>) {
    this.ell = spec.ell ?? 2;
    this.offset = spec.offset ?? 0;
  }
  initialM(): number {
    return Number.NaN;
  }
  choose(q: StepSizeQuery): StepSizeChoice {
    const alpha = q.slope > 0 ? Math.min(q.alphaMax, this.ell / (q.k + this.offset + this.ell)) : 0;
    return { alpha, M: Number.NaN, evaluations: 0 };
  }
}

/**
 * Constant step:
 *
 *     α = min(α_max, c)
 *
 * converges only to a neighbourhood of the optimum; useful as a baseline and for stochastic
 * gradients with a fixed noise floor. Reference: FrankWolfe.jl `FixedStep` (Besançon, Carderera &
 * Pokutta, INFORMS J. Computing 2022).
 */
export class ConstantStep implements StepSizeRule {
  readonly needsObjective = false;
  constructor(readonly spec: Readonly<ConstantStepSpec>) {}
  initialM(): number {
    return Number.NaN;
  }
  choose(q: StepSizeQuery): StepSizeChoice {
    const alpha = q.slope > 0 ? Math.min(q.alphaMax, this.spec.alpha) : 0;
    return { alpha, M: Number.NaN, evaluations: 0 };
  }
}

/** The rule object for a validated spec (see `validateFrankWolfeConfig`). */
export function createStepSizeRule(spec: Readonly<StepSizeSpec>): StepSizeRule {
  switch (spec.rule) {
    case 'short':
      return new ShortStep(spec);
    case 'adaptive':
      return new AdaptiveStep(spec);
    case 'open-loop':
      return new OpenLoopStep(spec);
    case 'constant':
      return new ConstantStep(spec);
  }
}
