/**
 * fw/types.ts — the public data shapes of the Frank-Wolfe optimiser on the budget simplex
 * (ALGORITHM.md section 4): adapter declarations, per-step events, truncation results and the one
 * result shape every variant returns. Exercised by test/unit/fw-*.test.ts and test/convergence/.
 */

/** One adapter whose weights `s` the optimiser owns: `rank` components, optionally in a named group. */
export interface AdapterSpec {
  /** Unique name (a layer path, for instance). */
  readonly name: string;
  /** Current number of components r (≥ 1). */
  readonly rank: number;
  /** Group name, required when the scope is 'group'. */
  readonly group?: string;
}

/** How the weights are split into simplices: one over everything, one per adapter, one per group. */
export type Scope = 'global' | 'adapter' | 'group';

/** Which Frank-Wolfe variant moves `s`. */
export type Variant = 'away' | 'fw' | 'pairwise';

/**
 * What one block did in a step: a Frank-Wolfe step, an away step that stayed inside the face, an
 * away step of maximal length that removed a vertex (drop), a pairwise step, or nothing.
 */
export type StepType = 'fw' | 'away' | 'drop' | 'pairwise' | 'none';

/** Why `s` did or did not move in a step. */
export type StepStatus = 'updated' | 'converged' | 'frozen' | 'warmup';

/** What happened in one simplex (block) during one step. */
export interface BlockStepInfo {
  /** Block name: 'global', the adapter name or the group name. */
  readonly name: string;
  /** Dimension r of this simplex (sum of its adapters' ranks). */
  readonly rank: number;
  /** Components with s_i > ε (up to `supportTol`) after the step. */
  readonly active: number;
  readonly type: StepType;
  /** True when the step set a vertex weight exactly to zero (away drop or pairwise at α_max). */
  readonly drop: boolean;
  /** FW gap −G̃ᵀ(z − s_n) of this block, at s_n (after any budget rescale, before the update). */
  readonly gap: number;
  /** Away gap G̃ᵀ(y − s_n) of this block (0 for plain FW). */
  readonly awayGap: number;
  /** Step length taken, in [0, alphaMax]. */
  readonly alpha: number;
  /** Largest feasible step along the chosen direction (Infinity never occurs in a taken away step). */
  readonly alphaMax: number;
  /** Budget τ of this block during the step. */
  readonly tau: number;
  /** Σ(s_i − ε) after the step; never above τ beyond rounding. */
  readonly mass: number;
  /** ‖s‖₁ = Σ s_i of this block after the step. */
  readonly l1: number;
  /** τ + r·ε: the bound on ‖s‖₁ of this block. */
  readonly budget: number;
  /** Lipschitz estimate used by the step-size rule (NaN for rules without one). */
  readonly M: number;
  /** Objective evaluations made by the step-size rule (adaptive rule only). */
  readonly evaluations: number;
  /** True once this block's gap fell to gapTol or below (sticky until τ changes). */
  readonly converged: boolean;
}

/** The event emitted by every `step()` call, whether or not `s` moved. */
export interface StepEvent {
  /** Index n of this step (0-based: the paper's n). */
  readonly step: number;
  readonly status: StepStatus;
  /** The block's step type for one block; with several blocks the common type, or 'mixed'. */
  readonly type: StepType | 'mixed';
  /** FW gap at s_n summed over blocks: the FW gap of the product of simplices. */
  readonly gap: number;
  /** Largest α taken by any block (0 when nothing moved). */
  readonly alpha: number;
  /** ‖s‖₁ after the step, over all blocks. */
  readonly l1: number;
  /** Σ_b (τ_b + r_b ε): the bound on ‖s‖₁. */
  readonly budget: number;
  /** Σ_b τ_b during the step. */
  readonly tau: number;
  /** Active components per adapter after the step. */
  readonly ranks: Readonly<Record<string, number>>;
  /** Active components per block after the step. */
  readonly blockRanks: Readonly<Record<string, number>>;
  /** True when the ε-support differs from the one after the previous step. */
  readonly supportChanged: boolean;
  /** Components that became active / inactive in this step. */
  readonly entered: number;
  readonly left: number;
  /** Consecutive counted update steps (see `face.gapBelow`) over which the support has not changed. */
  readonly stableFor: number;
  /** True when the support has been stable for `face.stableSteps` update steps. */
  readonly identified: boolean;
  /** Index of the step after which the current support first held (−1: since s0). */
  readonly supportSince: number;
  /** True when every block has converged (gap ≤ gapTol). */
  readonly converged: boolean;
  /** True when `s` is frozen (by the user, by face identification or by the schedule). */
  readonly frozen: boolean;
  /** True when n ≥ n0 and some component sits at ε: `truncate()` would remove something. */
  readonly truncationDue: boolean;
  readonly blocks: readonly BlockStepInfo[];
}

/** What truncation did to one adapter (indices are local to the adapter, 0-based). */
export interface AdapterTruncation {
  readonly name: string;
  readonly oldRank: number;
  readonly newRank: number;
  /** Old indices removed, ascending. Delete these columns from every factor and optimiser moment. */
  readonly deleted: readonly number[];
  /** Old indices kept, ascending: `kept[newIndex] = oldIndex`. */
  readonly kept: readonly number[];
  /** `map[oldIndex] = newIndex`, or −1 for a deleted component. */
  readonly map: readonly number[];
}

/** The result of `truncate()`. */
export interface TruncationResult {
  /** True when at least one component was removed. */
  readonly applied: boolean;
  /** Step index after which the truncation happened (the last completed step; −1 before any). */
  readonly step: number;
  /** Components removed in total. */
  readonly removed: number;
  /** Why nothing was removed, when `applied` is false. */
  readonly reason?: string;
  /** One entry per adapter, in declaration order (also the ones that lost nothing). */
  readonly adapters: readonly AdapterTruncation[];
}

/** How a run ended (the stepper itself reports 'running' until it converges or is frozen). */
export type RunStatus = 'converged' | 'frozen' | 'max-iterations' | 'stopped' | 'running';

/** The one result shape of every Frank-Wolfe variant, step rule and scope. */
export interface FrankWolfeResult {
  readonly status: RunStatus;
  /** A copy of the final weights, concatenated in adapter order. */
  readonly s: Float64Array;
  /** Adapters with their current ranks (after truncation). */
  readonly adapters: readonly AdapterSpec[];
  /** Steps taken (calls to `step()`). */
  readonly iterations: number;
  /** FW gap of the last step (NaN before any step). */
  readonly gap: number;
  /** Smallest FW gap seen over the steps (NaN before any step). */
  readonly minGap: number;
  /** f(s) at the end when the problem gave an objective, else null. */
  readonly primal: number | null;
  readonly converged: boolean;
  readonly identified: boolean;
  /** Index of the step after which the final support first held (−1: since s0). */
  readonly supportSince: number;
  /** Active components per adapter. */
  readonly ranks: Readonly<Record<string, number>>;
  /** Steps of each type summed over blocks, and the number of vertex drops. */
  readonly counts: Readonly<Record<StepType, number>> & { readonly drops: number };
  readonly truncations: readonly TruncationResult[];
  /** Every step event, when the run was asked to keep them (else empty). */
  readonly trajectory: readonly StepEvent[];
}
