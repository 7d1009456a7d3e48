/**
 * fw/stepper.ts — SimplexFrankWolfe: the stateful stepper the trainer calls once per outer step with
 * G̃ (ALGORITHM.md section 4). It owns s, the budgets, the step-size state, face identification,
 * truncation and a JSON-able checkpoint state. Tested in test/unit/fw-stepper.test.ts and
 * test/convergence/fw-*.test.ts.
 */
import { DeboraError } from '../errors';
import { describe, finite, invalid } from '../validate';
import { buildLayout, type Layout, validateAdapters } from './blocks';
import {
  checkConfigForLayout,
  type FrankWolfeConfig,
  type NormalizedFrankWolfeConfig,
  validateFrankWolfeConfig,
} from './config';
import { FaceDetector, type FaceDetectorState, SupportTracker } from './face';
import { budgetAt, schedulePhase } from './schedule';
import { type BlockScan, chooseDirection, commitBlock, type Direction, scanBlock, writeBlock } from './simplex';
import { createStepSizeRule, type StepSizeRule } from './step-size';
import { planTruncation } from './truncate';
import type {
  AdapterSpec,
  BlockStepInfo,
  FrankWolfeResult,
  RunStatus,
  StepEvent,
  StepStatus,
  StepType,
  TruncationResult,
} from './types';
import { readVector, toFloat64, type VectorLike } from './vector';

/** Per-call extras for `step()`. */
export interface StepContext {
  /**
   * The objective at a point, for the 'adaptive' step rule (dEBORA: f̃1 at fixed B on the D1
   * minibatch). Its argument is a scratch buffer, valid only during the call: copy it to keep it.
   */
  readonly f?: (s: Float64Array) => number;
  /** f(s_n) when the caller already has it (saves one evaluation; ignored when τ just fell). */
  readonly f0?: number;
}

/** Options of the stepper that are not configuration data. */
export interface StepperOptions {
  /** Initial weights, in S (default: s_i = ε + τ/r in each block: the budget spread evenly). */
  readonly s0?: VectorLike;
  /** Called with every step's event, after the step is committed. */
  readonly onStep?: (event: StepEvent) => void;
}

/** Options of `truncate()`. */
export interface TruncateOptions {
  /** Truncate even before step n0 (or when truncateFrom is null). */
  readonly force?: boolean;
}

/** A checkpoint of the stepper: plain JSON (NaN is stored as null). */
export interface FrankWolfeState {
  readonly format: 'debora.frank-wolfe';
  readonly version: 1;
  readonly config: NormalizedFrankWolfeConfig;
  readonly adapters: readonly AdapterSpec[];
  readonly s: readonly number[];
  /** Steps completed. */
  readonly iteration: number;
  /** τ per block as of the last step. */
  readonly tau: readonly number[];
  readonly blocks: readonly {
    readonly converged: boolean;
    readonly convergedAt: number | null;
    readonly updates: number;
    readonly M: number | null;
  }[];
  readonly face: FaceDetectorState;
  readonly frozenByUser: boolean;
  readonly frozenByFace: boolean;
  readonly lastGap: number | null;
  readonly minGap: number | null;
  readonly counts: Readonly<Record<StepType, number>> & { readonly drops: number };
}

interface BlockState {
  converged: boolean;
  convergedAt: number | null;
  updates: number;
  M: number;
}

interface BlockPlan {
  readonly tau: number;
  readonly tauChanged: boolean;
  readonly kappa: number;
  readonly dir: Direction;
  readonly moves: boolean;
  readonly newlyConverged: boolean;
  alpha: number;
  drop: boolean;
  M: number;
  evaluations: number;
}

const WHERE = 'SimplexFrankWolfe';
// A step within this relative distance of α_max is a drop: assign the vertex weight instead of
// leaving a rounding residue of ~1e-16·τ that would keep the component alive.
const DROP_RTOL = 1e-12;

function isDrop(alpha: number, alphaMax: number): boolean {
  return Number.isFinite(alphaMax) && alpha >= alphaMax * (1 - DROP_RTOL);
}

/**
 * Stochastic (away-step) Frank-Wolfe on the product of budget simplices S = ε·1 + τ·Δ, one step per
 * call (ALGORITHM.md section 4). The caller owns the loop: each outer step it computes G̃ and calls
 * `step(G̃)`; after step n ≥ n0 it may call `truncate()` and delete the returned columns.
 *
 * Invariants (checked by the convergence tests): s_i ≥ ε exactly; Σ_block (s_i − ε) ≤ τ up to
 * rounding; bad input throws and changes nothing; a converged or frozen stepper keeps answering
 * `step()` (so B can keep training) without moving s.
 */
export class SimplexFrankWolfe {
  private cfg: NormalizedFrankWolfeConfig;
  private rule: StepSizeRule;
  private specs: AdapterSpec[];
  private layout: Layout;
  private x: Float64Array; // s itself (the name keeps "s" free for the getter)
  private g: Float64Array | null = null; // scratch for gradients that are not a Float64Array
  private trialBuf: Float64Array | null = null;
  private tau0: number[];
  private tauEnd: number[];
  private tauNow: number[];
  private bs: BlockState[];
  private tracker: SupportTracker;
  private face: FaceDetector;
  private n = 0;
  private frozenByUser = false;
  private frozenByFace = false;
  private lastGap = Number.NaN;
  private minGap = Number.NaN;
  private counts: Record<StepType, number> & { drops: number } = {
    fw: 0,
    away: 0,
    drop: 0,
    pairwise: 0,
    none: 0,
    drops: 0,
  };
  private readonly truncations: TruncationResult[] = [];
  private readonly onStep: ((event: StepEvent) => void) | undefined;

  /**
   * @param config validated here (DEBORA_INVALID_CONFIG names the field and the fix)
   * @param adapters the adapters whose weights form s, concatenated in this order
   * @param options initial s and the per-step callback
   */
  constructor(config: FrankWolfeConfig, adapters: readonly AdapterSpec[], options: StepperOptions = {}) {
    this.cfg = validateFrankWolfeConfig(config);
    this.specs = validateAdapters(WHERE, adapters, this.cfg.scope);
    this.layout = buildLayout(this.specs, this.cfg.scope);
    const { tau0, tauEnd } = checkConfigForLayout(this.cfg, this.layout);
    this.tau0 = tau0;
    this.tauEnd = tauEnd;
    this.tauNow = tau0.slice();
    this.rule = createStepSizeRule(this.cfg.stepSize);
    if (options.onStep !== undefined && typeof options.onStep !== 'function') {
      invalid(WHERE, 'options.onStep', 'a function or undefined', describe(options.onStep));
    }
    this.onStep = options.onStep;
    this.x = options.s0 === undefined ? this.uniform() : this.checkedS0(options.s0);
    this.bs = this.layout.blocks.map(() => ({
      converged: false,
      convergedAt: null,
      updates: 0,
      M: this.rule.initialM(),
    }));
    this.tracker = new SupportTracker(this.layout.adapters.length);
    this.tracker.reset(this.x, this.layout, this.cfg.epsilon, this.tolAbs());
    this.face = new FaceDetector(this.cfg.face.stableSteps);
  }

  // ---------------------------------------------------------------- read-only views

  /** The weights, concatenated in adapter order. A live view: do not write; replaced by `truncate()`. */
  get s(): Readonly<Float64Array> {
    return this.x;
  }

  /** The configuration with defaults filled in. */
  get config(): NormalizedFrankWolfeConfig {
    return this.cfg;
  }

  /** The adapters with their current ranks. */
  get adapters(): readonly AdapterSpec[] {
    return this.specs;
  }

  /** Length of s (Σ ranks). */
  get dim(): number {
    return this.layout.dim;
  }

  /** Steps completed (the n of the next step). */
  get iteration(): number {
    return this.n;
  }

  /** The simplices: name, dimension, current τ, converged. */
  get blocks(): readonly { name: string; rank: number; tau: number; converged: boolean; adapters: string[] }[] {
    return this.layout.blocks.map((b, i) => ({
      name: b.name,
      rank: b.rank,
      tau: this.tauNow[i] as number,
      converged: (this.bs[i] as BlockState).converged,
      adapters: b.members.map((m) => (this.layout.adapters[m] as { name: string }).name),
    }));
  }

  /** True when every block's gap has fallen to gapTol (until τ changes). */
  get converged(): boolean {
    return this.bs.every((b) => b.converged);
  }

  /** True when s will not move at the next step (user, face identification or schedule). */
  get frozen(): boolean {
    return this.frozenByUser || this.frozenByFace || schedulePhase(this.cfg.schedule, this.n) === 'frozen';
  }

  /** True when the support has been stable for `face.stableSteps` update steps. */
  get identified(): boolean {
    return this.face.identified;
  }

  /** A live view of one adapter's weights (do not write). */
  sOf(name: string): Readonly<Float64Array> {
    const a = this.layout.adapters.find((x) => x.name === name);
    if (a === undefined) {
      invalid(
        `${WHERE}.sOf`,
        'name',
        `an adapter name (${this.specs.map((x) => `'${x.name}'`).join(', ')})`,
        describe(name),
      );
    }
    return this.x.subarray(a.offset, a.offset + a.rank);
  }

  /** Active (above-ε) component indices of one adapter, local and ascending. */
  support(name: string): number[] {
    const a = this.layout.adapters.find((x) => x.name === name);
    if (a === undefined) {
      invalid(
        `${WHERE}.support`,
        'name',
        `an adapter name (${this.specs.map((x) => `'${x.name}'`).join(', ')})`,
        describe(name),
      );
    }
    const out: number[] = [];
    const tol = this.cfg.supportTol * (this.tauNow[a.block] as number);
    const eps = this.cfg.epsilon;
    for (let i = 0; i < a.rank; i++) if ((this.x[a.offset + i] as number) - eps > tol) out.push(i);
    return out;
  }

  // ---------------------------------------------------------------- control

  /** Stops moving s (steps keep answering with status 'frozen'). */
  freeze(): void {
    this.frozenByUser = true;
  }

  /** Lets s move again (clears a user freeze and a freeze by face identification). */
  unfreeze(): void {
    this.frozenByUser = false;
    this.frozenByFace = false;
  }

  // ---------------------------------------------------------------- the step

  /**
   * One Frank-Wolfe step with the gradient estimate G̃ at the current s (same length and order).
   * Validates `grad` (and `ctx`) before touching any state. Always returns an event; s moves only in
   * blocks that are neither converged nor frozen, outside the schedule's warm-up.
   */
  step(grad: VectorLike, ctx: StepContext = {}): StepEvent {
    const where = `${WHERE}.step`;
    // A Float64Array of the right length is read in place (the step only reads it, and only before
    // it returns); other types are copied. Finiteness is checked by the scan below, not by a pass.
    let g: Float64Array;
    if (grad instanceof Float64Array && grad.length === this.x.length) g = grad;
    else {
      if (this.g === null || this.g.length !== this.x.length) this.g = new Float64Array(this.x.length);
      g = this.g;
      readVector(where, 'grad', grad, g, false);
    }
    if (typeof ctx !== 'object' || ctx === null) invalid(where, 'ctx', 'an object { f?, f0? }', describe(ctx));
    if (ctx.f !== undefined && typeof ctx.f !== 'function')
      invalid(where, 'ctx.f', 'a function (s) => number', describe(ctx.f));
    if (ctx.f0 !== undefined && (typeof ctx.f0 !== 'number' || !Number.isFinite(ctx.f0))) {
      invalid(where, 'ctx.f0', 'a finite number', describe(ctx.f0), 'DEBORA_NON_FINITE');
    }

    const cfg = this.cfg;
    const eps = cfg.epsilon;
    const n = this.n;
    const phase = schedulePhase(cfg.schedule, n);
    const movable = phase === 'active' && !this.frozenByUser && !this.frozenByFace;
    const blocks = this.layout.blocks;

    // 1. scan (one pass over s and G̃) and plan every block, touching no state
    const scans: BlockScan[] = blocks.map((b) => scanBlock(this.x, g, b.ranges, eps));
    if (!scans.every((sc) => Number.isFinite(sc.gx))) {
      finite(where, 'grad', grad);
      invalid(
        where,
        'grad',
        'gradient entries small enough for Σ G̃_i (s_i − ε) to be finite',
        'an overflow',
        'DEBORA_NON_FINITE',
      );
    }
    const plans: BlockPlan[] = blocks.map((b, i) => {
      const scan = scans[i] as BlockScan;
      const tau = budgetAt(cfg.schedule, n, this.tau0[i] as number, this.tauEnd[i] as number);
      const tauChanged = tau !== this.tauNow[i];
      // When τ falls, s may leave S: scale the excess (s − ε) radially toward ε·1 just enough to fit
      // (keeps the support and the ratios between weights; an s that still fits is left alone).
      const kappa = tauChanged && scan.mass > tau ? tau / scan.mass : 1;
      const dir = chooseDirection(scan, this.x, eps, tau, kappa, cfg.variant, b.rank * Number.EPSILON);
      const st = this.bs[i] as BlockState;
      const open = movable && !(st.converged && !tauChanged);
      return {
        tau,
        tauChanged,
        kappa,
        dir,
        moves: open && dir.gap > cfg.gapTol,
        newlyConverged: open && dir.gap <= cfg.gapTol,
        alpha: 0,
        drop: false,
        M: st.M,
        evaluations: 0,
      };
    });

    // 2. step sizes (the adaptive rule evaluates f on a scratch copy; may throw: nothing changed yet)
    const needF = this.rule.needsObjective && plans.some((p) => p.moves && p.dir.slope > 0);
    if (needF && ctx.f === undefined) {
      invalid(
        where,
        'ctx.f',
        "the objective (s) => number (the 'adaptive' step-size rule evaluates it; or configure another stepSize rule)",
        'undefined',
      );
    }
    let f0 = Number.NaN;
    let trial: Float64Array | null = null;
    const fn = needF ? (ctx.f as (s: Float64Array) => number) : null;
    if (fn !== null) {
      if (this.trialBuf === null || this.trialBuf.length !== this.x.length)
        this.trialBuf = new Float64Array(this.x.length);
      trial = this.trialBuf;
      trial.set(this.x);
      const rescaled = plans.some((p) => p.kappa !== 1);
      blocks.forEach((b, i) => {
        const p = plans[i] as BlockPlan;
        if (p.kappa !== 1) writeBlock(trial as Float64Array, this.x, b.ranges, eps, p.kappa, p.tau, null, 0, false);
      });
      f0 = ctx.f0 !== undefined && !rescaled ? ctx.f0 : this.evalF(fn, trial, n, 'the current point');
    }
    blocks.forEach((b, i) => {
      const p = plans[i] as BlockPlan;
      if (!p.moves) return;
      const st = this.bs[i] as BlockState;
      const d = p.dir;
      const query =
        trial === null || fn === null
          ? { slope: d.slope, dNorm2: d.dNorm2, alphaMax: d.alphaMax, k: st.updates }
          : {
              slope: d.slope,
              dNorm2: d.dNorm2,
              alphaMax: d.alphaMax,
              k: st.updates,
              f0,
              // Jacobi trials: only this block moves, from s_n; separable objectives then see each
              // block exactly as an independent run would
              trial: (alpha: number): number => {
                const buf = trial as Float64Array;
                writeBlock(buf, this.x, b.ranges, eps, p.kappa, p.tau, d, alpha, isDrop(alpha, d.alphaMax));
                const v = this.evalF(fn, buf, n, `a trial step of ${alpha}`);
                writeBlock(buf, this.x, b.ranges, eps, p.kappa, p.tau, null, 0, false);
                return v;
              },
            };
      const choice = this.rule.choose(query, st.M);
      let alpha = Math.min(Math.max(choice.alpha, 0), d.alphaMax);
      if (!Number.isFinite(alpha)) alpha = 0;
      const drop = alpha > 0 && isDrop(alpha, d.alphaMax);
      if (drop) alpha = d.alphaMax;
      p.alpha = alpha;
      p.drop = drop;
      p.M = choice.M;
      p.evaluations = choice.evaluations;
    });

    // 3. commit: write s and update the support in one pass per block that changes
    const active = this.tracker.adapterActive;
    let entered = 0;
    let left = 0;
    let anyMoved = false;
    const masses = blocks.map((b, i) => {
      const p = plans[i] as BlockPlan;
      const st = this.bs[i] as BlockState;
      const scan = scans[i] as BlockScan;
      if (p.tauChanged) {
        st.converged = false;
        st.convergedAt = null;
      }
      if (p.moves) {
        st.updates++;
        st.M = p.M;
        if (p.alpha > 0) anyMoved = true;
      }
      if (p.newlyConverged) {
        st.converged = true;
        st.convergedAt = n;
      }
      const tolBefore = cfg.supportTol * (this.tauNow[i] as number);
      const tol = cfg.supportTol * p.tau;
      this.tauNow[i] = p.tau;
      let mass = scan.mass;
      // untouched blocks keep their support, unless τ (and with it the support tolerance) changed
      if ((p.moves && p.alpha > 0) || p.kappa !== 1 || p.tauChanged) {
        const dir = p.moves ? p.dir : null;
        const c = commitBlock(
          this.x,
          b.ranges,
          b.members,
          eps,
          p.kappa,
          p.tau,
          dir,
          p.alpha,
          p.drop,
          tolBefore,
          tol,
          active,
          mass,
        );
        mass = c.mass;
        entered += c.entered;
        left += c.left;
      }
      // Σ(s_i − ε) ≤ τ can only break beyond rounding after a long away step from an almost
      // saturated point; the radial rescale is the smallest fix that keeps the support
      if (mass > p.tau * (1 + 4 * b.rank * Number.EPSILON)) {
        const c = commitBlock(
          this.x,
          b.ranges,
          b.members,
          eps,
          p.tau / mass,
          p.tau,
          null,
          0,
          false,
          tol,
          tol,
          active,
          mass,
        );
        mass = c.mass;
        entered += c.entered;
        left += c.left;
      }
      return mass;
    });
    const changed = entered + left > 0;
    const gap = plans.reduce((acc, p) => acc + p.dir.gap, 0);
    const countsToward = anyMoved && (cfg.face.gapBelow === null || gap <= cfg.face.gapBelow);
    const identifiedNow = this.face.observe(n, changed, countsToward);
    if (identifiedNow && cfg.face.freezeOnIdentify) this.frozenByFace = true;
    this.n = n + 1;
    this.lastGap = gap;
    this.minGap = Number.isNaN(this.minGap) ? gap : Math.min(this.minGap, gap);

    // 4. the event
    const infos: BlockStepInfo[] = [];
    const types = new Set<StepType>();
    let alphaTop = 0;
    let budget = 0;
    let l1 = 0;
    let tauSum = 0;
    const blockRanks: Record<string, number> = {};
    blocks.forEach((b, i) => {
      const p = plans[i] as BlockPlan;
      const st = this.bs[i] as BlockState;
      const mass = masses[i] as number;
      const type: StepType =
        !p.moves || p.alpha === 0
          ? 'none'
          : p.dir.kind === 'fw'
            ? 'fw'
            : p.dir.kind === 'pairwise'
              ? 'pairwise'
              : p.drop
                ? 'drop'
                : 'away';
      this.counts[type]++;
      const dropped = type !== 'none' && p.drop && p.dir.kind !== 'fw';
      if (dropped) this.counts.drops++;
      types.add(type);
      alphaTop = Math.max(alphaTop, p.alpha);
      const blockBudget = p.tau + b.rank * eps;
      const blockL1 = mass + b.rank * eps;
      const blockActive = this.tracker.blockActive(this.layout, i);
      blockRanks[b.name] = blockActive;
      budget += blockBudget;
      l1 += blockL1;
      tauSum += p.tau;
      infos.push({
        name: b.name,
        rank: b.rank,
        active: blockActive,
        type,
        drop: dropped,
        gap: p.dir.gap,
        awayGap: p.dir.awayGap,
        alpha: p.alpha,
        alphaMax: p.dir.alphaMax,
        tau: p.tau,
        mass,
        l1: blockL1,
        budget: blockBudget,
        M: st.M,
        evaluations: p.evaluations,
        converged: st.converged,
      });
    });
    const converged = this.converged;
    const status: StepStatus =
      phase === 'warmup' ? 'warmup' : !movable ? 'frozen' : converged ? 'converged' : 'updated';
    const event: StepEvent = {
      step: n,
      status,
      type: types.size === 1 ? (types.values().next().value as StepType) : 'mixed',
      gap,
      alpha: alphaTop,
      l1,
      budget,
      tau: tauSum,
      ranks: this.ranks(),
      blockRanks,
      supportChanged: changed,
      entered,
      left,
      stableFor: this.face.stableFor,
      identified: this.face.identified,
      supportSince: this.face.supportSince,
      converged,
      frozen: this.frozenByUser || this.frozenByFace || phase === 'frozen',
      truncationDue: cfg.truncateFrom !== null && n >= cfg.truncateFrom && this.wouldTruncate(),
      blocks: infos,
    };
    this.onStep?.(event);
    return event;
  }

  // ---------------------------------------------------------------- truncation

  /**
   * Removes every component at ε (within `supportTol`) once step n0 has been completed, keeping at
   * least `minRank` per adapter. Returns per adapter the deleted indices and the old → new index
   * map, so the caller deletes the same columns from every factor and optimiser moment. The kept
   * weights are unchanged; each simplex is rebuilt with the smaller r and the same τ, so
   * Σ(s_i − ε) ≤ τ still holds. Before n0 (or with truncateFrom null) nothing happens unless `force`.
   */
  truncate(options: TruncateOptions = {}): TruncationResult {
    const last = this.n - 1;
    const n0 = this.cfg.truncateFrom;
    const none = (reason: string): TruncationResult => ({
      applied: false,
      step: last,
      removed: 0,
      reason,
      adapters: this.specs.map((a) => {
        const idx = Array.from({ length: a.rank }, (_, i) => i);
        return { name: a.name, oldRank: a.rank, newRank: a.rank, deleted: [], kept: idx, map: idx.slice() };
      }),
    });
    if (options.force !== true) {
      if (n0 === null)
        return none('truncation is disabled (truncateFrom is null); set truncateFrom or pass { force: true }');
      if (last < n0) return none(`the last completed step (${last}) is before truncateFrom (${n0})`);
    }
    const plan = planTruncation(this.x, this.layout, this.specs, this.cfg.epsilon, this.tolAbs(), this.cfg.minRank);
    if (plan.removed === 0) {
      return { applied: false, step: last, removed: 0, reason: 'no component to remove', adapters: plan.adapters };
    }
    const kept = plan.keptGlobal;
    const s = new Float64Array(kept.length);
    for (let i = 0; i < kept.length; i++) s[i] = this.x[kept[i] as number] as number;
    this.specs = plan.newAdapters.slice();
    this.layout = buildLayout(this.specs, this.cfg.scope);
    this.x = s;
    this.g = null;
    this.trialBuf = null;
    this.tracker.reset(this.x, this.layout, this.cfg.epsilon, this.tolAbs());
    const result: TruncationResult = { applied: true, step: last, removed: plan.removed, adapters: plan.adapters };
    this.truncations.push(result);
    return result;
  }

  // ---------------------------------------------------------------- results and checkpoints

  /** The one result shape (also returned by `runFrankWolfe`). `primal`: f(s) if the caller has it. */
  result(status?: RunStatus, primal: number | null = null, trajectory: readonly StepEvent[] = []): FrankWolfeResult {
    const ranks = this.ranks();
    return {
      status: status ?? (this.converged ? 'converged' : this.frozen ? 'frozen' : 'running'),
      s: this.x.slice(),
      adapters: this.specs.map((a) => ({ ...a })),
      iterations: this.n,
      gap: this.lastGap,
      minGap: this.minGap,
      primal,
      converged: this.converged,
      identified: this.face.identified,
      supportSince: this.face.supportSince,
      ranks,
      counts: { ...this.counts },
      truncations: this.truncations.slice(),
      trajectory,
    };
  }

  /** A plain-JSON checkpoint (the truncation history is not part of it). */
  state(): FrankWolfeState {
    const nn = (v: number): number | null => (Number.isFinite(v) ? v : null);
    return {
      format: 'debora.frank-wolfe',
      version: 1,
      config: JSON.parse(JSON.stringify(this.cfg)) as NormalizedFrankWolfeConfig,
      adapters: this.specs.map((a) => ({ ...a })),
      s: Array.from(this.x),
      iteration: this.n,
      tau: this.tauNow.slice(),
      blocks: this.bs.map((b) => ({
        converged: b.converged,
        convergedAt: b.convergedAt,
        updates: b.updates,
        M: nn(b.M),
      })),
      face: this.face.state(),
      frozenByUser: this.frozenByUser,
      frozenByFace: this.frozenByFace,
      lastGap: nn(this.lastGap),
      minGap: nn(this.minGap),
      counts: { ...this.counts },
    };
  }

  /** Rebuilds a stepper from `state()` (validated like a fresh one; a stepper that continues identically). */
  static fromState(state: unknown, options: Pick<StepperOptions, 'onStep'> = {}): SimplexFrankWolfe {
    const where = `${WHERE}.fromState`;
    if (typeof state !== 'object' || state === null) invalid(where, 'state', 'an object from state()', describe(state));
    const st = state as Partial<Record<keyof FrankWolfeState, unknown>>;
    if (st.format !== 'debora.frank-wolfe' || st.version !== 1) {
      invalid(
        where,
        'state.format',
        "format 'debora.frank-wolfe', version 1",
        `${describe(st.format)}, version ${describe(st.version)}`,
      );
    }
    const fw = new SimplexFrankWolfe(st.config as FrankWolfeConfig, st.adapters as AdapterSpec[], {
      s0: st.s as number[],
      ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
    });
    const count = (name: string, v: unknown): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) invalid(where, name, 'an integer >= 0', describe(v));
      return v;
    };
    const nb = fw.layout.blocks.length;
    const tau = st.tau;
    if (
      !Array.isArray(tau) ||
      tau.length !== nb ||
      !tau.every((t) => typeof t === 'number' && t > 0 && Number.isFinite(t))
    ) {
      invalid(where, 'state.tau', `${nb} finite budgets > 0`, describe(tau));
    }
    const blocks = st.blocks;
    if (!Array.isArray(blocks) || blocks.length !== nb)
      invalid(where, 'state.blocks', `an array of ${nb} block states`, describe(blocks));
    fw.n = count('state.iteration', st.iteration);
    fw.tauNow = (tau as number[]).slice();
    fw.bs = (blocks as Record<string, unknown>[]).map((b, i) => ({
      converged: b.converged === true,
      convergedAt: typeof b.convergedAt === 'number' ? b.convergedAt : null,
      updates: count(`state.blocks[${i}].updates`, b.updates),
      M: typeof b.M === 'number' ? b.M : Number.NaN,
    }));
    const face = (st.face ?? {}) as Partial<FaceDetectorState>;
    fw.face = new FaceDetector(fw.cfg.face.stableSteps, {
      stableFor: count('state.face.stableFor', face.stableFor),
      supportSince: typeof face.supportSince === 'number' ? face.supportSince : -1,
      identifiedAt: typeof face.identifiedAt === 'number' ? face.identifiedAt : null,
    });
    fw.frozenByUser = st.frozenByUser === true;
    fw.frozenByFace = st.frozenByFace === true;
    fw.lastGap = typeof st.lastGap === 'number' ? st.lastGap : Number.NaN;
    fw.minGap = typeof st.minGap === 'number' ? st.minGap : Number.NaN;
    const c = (st.counts ?? {}) as Partial<Record<StepType | 'drops', unknown>>;
    for (const k of ['fw', 'away', 'drop', 'pairwise', 'none', 'drops'] as const)
      fw.counts[k] = count(`state.counts.${k}`, c[k] ?? 0);
    // the support depends on τ through supportTol·τ: recompute it with the restored τ
    fw.tracker.reset(fw.x, fw.layout, fw.cfg.epsilon, fw.tolAbs());
    return fw;
  }

  // ---------------------------------------------------------------- internals

  private tolAbs(): Float64Array {
    return Float64Array.from(this.tauNow, (t) => this.cfg.supportTol * t);
  }

  private uniform(): Float64Array {
    const s = new Float64Array(this.layout.dim);
    const eps = this.cfg.epsilon;
    for (const a of this.layout.adapters) {
      const b = this.layout.blocks[a.block] as { rank: number };
      s.fill(eps + (this.tau0[a.block] as number) / b.rank, a.offset, a.offset + a.rank);
    }
    return s;
  }

  private checkedS0(v: VectorLike): Float64Array {
    const where = WHERE;
    const s = toFloat64(where, 'options.s0', v, this.layout.dim);
    const eps = this.cfg.epsilon;
    for (let i = 0; i < s.length; i++) {
      if ((s[i] as number) < eps) invalid(where, 'options.s0', `values >= epsilon (${eps})`, `${s[i]} at index ${i}`);
    }
    this.layout.blocks.forEach((b, i) => {
      const tau = this.tau0[i] as number;
      let mass = 0;
      for (let r = 0; r < b.ranges.length; r += 2) {
        for (let k = b.ranges[r] as number; k < (b.ranges[r + 1] as number); k++) mass += (s[k] as number) - eps;
      }
      // a checkpoint written on the face Σ = τ may exceed it by rounding: allow 1e-9 relative
      if (mass > tau * (1 + 1e-9)) {
        invalid(where, 'options.s0', `Σ(s_i − ε) <= tau (= ${tau}) in block '${b.name}'`, `Σ(s_i − ε) = ${mass}`);
      }
    });
    return s;
  }

  private ranks(): Record<string, number> {
    const ranks: Record<string, number> = {};
    const active = this.tracker.adapterActive;
    this.layout.adapters.forEach((a, i) => {
      ranks[a.name] = active[i] as number;
    });
    return ranks;
  }

  private wouldTruncate(): boolean {
    const min = this.cfg.minRank;
    const active = this.tracker.adapterActive;
    return this.specs.some((a, i) => a.rank > min && (active[i] as number) < a.rank);
  }

  private evalF(f: (s: Float64Array) => number, at: Float64Array, n: number, what: string): number {
    const v = f(at);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new DeboraError(
        `${WHERE}.step: expected a finite objective value from ctx.f at ${what} (step ${n}), received ${describe(v)}; s was not changed`,
        'DEBORA_NON_FINITE',
      );
    }
    return v;
  }
}
