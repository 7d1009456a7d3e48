/**
 * adalora.ts — the pieces of the AdaLoRA-style baseline (Zhang et al., "Adaptive Budget Allocation
 * for Parameter-Efficient Fine-Tuning", ICLR 2023) on CP adapters: smoothed importance scores per
 * component, the cubic budget schedule, and the global choice of the components to keep. The
 * Trainer calls them inside `step()` so no caller can forget the per-step update.
 * Tested in test/unit/trainer-adalora.test.ts and test/e2e/trainer-adalora.test.ts.
 *
 * Scores (the paper's eqs. 8–11): per element w of s and of every factor, the sensitivity
 * I = |w·∂w| is smoothed as Ī ← β1·Ī + (1−β1)·I and its uncertainty as Ū ← β2·Ū + (1−β2)·|I − Ī|
 * (with the updated Ī, as the reference implementation does); the element's score is Ī·Ū and a
 * component's is score(s_i) + Σ_k mean_j score(U^(k)_{j,i}) — AdaLoRA's triplet (λ, P column,
 * Q row) generalised to d factor modes. Differences from AdaLoRA, on purpose: pruning is physical
 * (a pruned component is gone, not masked to λ = 0 and able to come back) so compute really
 * shrinks; and there is no orthogonality regulariser: the default 'euclidean' factors (LoRA's
 * adapters, U = 0 at the start, s = scale) run without one, and adapters.geometry 'stiefel' makes
 * it a hard constraint instead of a penalty (measured slightly worse here: docs/trainer.md).
 */
import type { CpAdapter, ParameterStateHolder } from '../nn/adapter';
import type { Parameter } from '../nn/parameter';

const { abs } = Math;

/** The schedule after the Trainer resolved its defaults against T (all in outer steps). */
export interface AdaLoraSchedule {
  /** Initial and final budget, in cost units (components, or parameters with targetParams). */
  readonly initial: number;
  readonly target: number;
  readonly totalSteps: number;
  readonly tInit: number;
  readonly tFinal: number;
  readonly deltaT: number;
}

/**
 * The budget after outer step t (0-based) and whether to prune to it now. AdaLoRA's cubic schedule:
 * b = b0 while t < tInit; b = bT + (b0 − bT)·(1 − (t − tInit)/(T − tInit − tFinal))³, floored to
 * an integer, pruning every deltaT steps; b = bT (pruning every step) from T − tFinal on.
 */
export function adaloraBudget(sch: AdaLoraSchedule, t: number): { budget: number; due: boolean } {
  if (t < sch.tInit) return { budget: sch.initial, due: false };
  const end = sch.totalSteps - sch.tFinal;
  if (t >= end) return { budget: sch.target, due: true };
  const q = 1 - (t - sch.tInit) / (end - sch.tInit);
  const budget = Math.floor(sch.target + (sch.initial - sch.target) * q * q * q);
  return { budget, due: (t - sch.tInit) % sch.deltaT === 0 };
}

/** One adapter's components as candidates for `chooseComponents`. */
export interface ComponentGroup {
  /** Importance score per component (length = rank). */
  readonly scores: ArrayLike<number>;
  /** Budget cost of one component (1 for a rank budget, Σ n_k + 1 for a parameter budget). */
  readonly cost: number;
}

/**
 * The components to keep under `budget` (per group, ascending): every group keeps its `minRank`
 * best first, then the rest in descending score (ties: earlier group, lower index) while they fit.
 * Returns null when the current cost already fits (nothing to prune). Groups never grow.
 */
export function chooseComponents(
  groups: readonly ComponentGroup[],
  budget: number,
  minRank: number,
): number[][] | null {
  let cost = 0;
  for (const g of groups) cost += g.scores.length * g.cost;
  if (cost <= budget) return null;
  const keep: number[][] = groups.map(() => []);
  const rest: Array<[number, number, number]> = []; // [score, group, index]
  let used = 0;
  groups.forEach((g, gi) => {
    const order = Array.from({ length: g.scores.length }, (_, i) => i).sort(
      (a, b) => (g.scores[b] as number) - (g.scores[a] as number) || a - b,
    );
    order.forEach((i, k) => {
      if (k < minRank) {
        (keep[gi] as number[]).push(i);
        used += g.cost;
      } else rest.push([g.scores[i] as number, gi, i]);
    });
  });
  rest.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  for (const [, gi, i] of rest) {
    const c = (groups[gi] as ComponentGroup).cost;
    if (used + c <= budget) {
      (keep[gi] as number[]).push(i);
      used += c;
    }
  }
  for (const k of keep) k.sort((a, b) => a - b);
  return keep;
}

/** The EMAs of one parameter. */
interface Ema {
  ipt: Float32Array;
  unc: Float32Array;
}

/** The serialisable state of an `ImportanceTracker`: the two EMAs per parameter name, and the update count. */
export interface ImportanceState {
  updates: number;
  buffers: Record<string, { ipt: Float32Array; unc: Float32Array }>;
}

/**
 * Smoothed sensitivities of every factor and s of a set of adapters. It is a ParameterStateHolder:
 * pass it to `CpAdapter.prune` with the optimiser and its EMAs lose the same columns.
 */
export class ImportanceTracker implements ParameterStateHolder {
  private readonly ema = new Map<Parameter, Ema>();
  private updates_ = 0;

  constructor(
    adapters: ReadonlyMap<string, CpAdapter>,
    private readonly beta1: number,
    private readonly beta2: number,
  ) {
    for (const a of adapters.values()) {
      for (const p of a.parameters()) this.ema.set(p, { ipt: new Float32Array(p.size), unc: new Float32Array(p.size) });
    }
  }

  /** Updates made so far. */
  get updates(): number {
    return this.updates_;
  }

  /** Folds in the sensitivities |w·∂w| of the current data and gradients (call after each inner step). */
  update(): void {
    const b1 = this.beta1;
    const b2 = this.beta2;
    for (const [p, e] of this.ema) {
      const w = p.data;
      const g = p.grad;
      const { ipt, unc } = e;
      const n = w.length;
      for (let k = 0; k < n; k++) {
        const sens = abs((w[k] as number) * (g[k] as number));
        const m = b1 * (ipt[k] as number) + (1 - b1) * sens;
        ipt[k] = m;
        unc[k] = b2 * (unc[k] as number) + (1 - b2) * abs(sens - m);
      }
    }
    this.updates_++;
  }

  /** Component scores of one adapter: score(s_i) + Σ_k mean_j score(U^(k)_{j,i}), score = Ī·Ū. */
  scores(a: CpAdapter): Float64Array {
    const r = a.rank;
    const out = new Float64Array(r);
    const se = this.ema.get(a.s) as Ema;
    for (let i = 0; i < r; i++) out[i] = (se.ipt[i] as number) * (se.unc[i] as number);
    a.factors.forEach((f, k) => {
      const e = this.ema.get(f) as Ema;
      const n = a.modeSizes[k] as number;
      const acc = new Float64Array(r);
      for (let j = 0; j < n; j++) {
        const o = j * r;
        for (let i = 0; i < r; i++) acc[i] = (acc[i] as number) + (e.ipt[o + i] as number) * (e.unc[o + i] as number);
      }
      for (let i = 0; i < r; i++) out[i] = (out[i] as number) + (acc[i] as number) / n;
    });
    return out;
  }

  remap(param: Parameter, map: (buf: Float32Array) => Float32Array): void {
    const e = this.ema.get(param);
    if (e === undefined) return;
    e.ipt = map(e.ipt);
    e.unc = map(e.unc);
  }

  /** Copies of the EMAs by parameter name. */
  state(): ImportanceState {
    const buffers: ImportanceState['buffers'] = {};
    for (const [p, e] of this.ema) buffers[p.name] = { ipt: e.ipt.slice(), unc: e.unc.slice() };
    return { updates: this.updates_, buffers };
  }

  /** Replaces the EMAs (already validated by the caller: one pair per parameter, of its size). */
  load(state: ImportanceState): void {
    for (const [p, e] of this.ema) {
      const b = state.buffers[p.name] as { ipt: Float32Array; unc: Float32Array };
      e.ipt = b.ipt.slice();
      e.unc = b.unc.slice();
    }
    this.updates_ = state.updates;
  }

  /** The parameters tracked (names and current sizes), for validating a state. */
  params(): Parameter[] {
    return [...this.ema.keys()];
  }
}
