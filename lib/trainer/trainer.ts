/**
 * trainer.ts — the bilevel trainer (ALGORITHM.md sections 2–4, the paper's Algorithms 1 and 2)
 * and the baselines on identical data and budgets. One `step()` does a whole outer step, so no
 * caller can forget a piece: T_max lower-level steps on D2 minibatches (factors only, s fixed) →
 * one D1 forward/backward → G̃ for every adapter at once (tangent-projected factor gradients,
 * native cp_hypergrad) → one Frank-Wolfe step on s → truncation with physical compaction of
 * factors and optimiser state. Baselines take T_max + 1 gradient steps per outer step on all the
 * training data; the AdaLoRA-style baseline also updates its importance scores after every
 * gradient step and prunes to its cubic budget schedule at the end of the outer step. Every step
 * emits an event (callback and/or JSONL file). Checkpoints (`save` / `load` / `Trainer.resume`)
 * hold everything the next step reads, so a resumed run continues bit for bit.
 * Tested in test/e2e/trainer.test.ts, test/e2e/trainer-adalora.test.ts and
 * test/e2e/trainer-checkpoint.test.ts.
 */
import * as fs from 'node:fs';
import { BatchSampler, type BatchSamplerState } from '../data/batches';
import { type Dataset, splitHalves } from '../data/dataset';
import { DeboraError } from '../errors';
import { validateFrankWolfeConfig } from '../fw/config';
import { type FrankWolfeState, SimplexFrankWolfe } from '../fw/stepper';
import type { StepEvent } from '../fw/types';
import { readSafetensors, type SafeTensor, writeSafetensors } from '../io/safetensors';
import { Dropout } from '../nn/activation';
import { AdaptedLayer } from '../nn/adapted';
import type { CpAdapter } from '../nn/adapter';
import { attachAdapters, namedModules } from '../nn/attach';
import { Linear } from '../nn/linear';
import { SoftmaxCrossEntropy } from '../nn/loss';
import type { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { countParameters } from '../nn/summary';
import { evaluate, trainStep } from '../nn/train';
import { cpHypergrad } from '../ops/cp_hypergrad';
import { Adam, AdamW } from '../optim/adam';
import type { Optimizer, OptimizerStateMeta } from '../optim/optimizer';
import { lrConstant, lrCosine } from '../optim/schedule';
import { SGD } from '../optim/sgd';
import { Rng } from '../rng';
import {
  type AdaLoraSchedule,
  adaloraBudget,
  chooseComponents,
  type ImportanceState,
  ImportanceTracker,
} from './adalora';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  canonicalJson,
  checkpointError,
  decodeConfig,
  encodeConfig,
  firstDifference,
} from './checkpoint';
import { type ResolvedTrainerConfig, type TrainerConfig, validateTrainerConfig } from './config';

/** One outer step, as reported to callbacks and written to events.jsonl. */
export interface TrainerEvent {
  step: number;
  method: string;
  /** Mean loss of the lower-level (D2, or all data for baselines) minibatches of this step. */
  lossD2: number;
  /** Loss of the D1 minibatch (dEBORA only; NaN otherwise). */
  lossD1: number;
  /** Frank-Wolfe details (dEBORA only). */
  fw: {
    gap: number;
    type: string;
    status: string;
    alpha: number;
    l1: number;
    budget: number;
    identified: boolean;
    truncated: number;
  } | null;
  /**
   * AdaLoRA details (method 'adalora' only): the scheduled budget after this step, the cost now
   * (total rank, or adapter parameters with targetParams) and the components pruned this step.
   */
  adalora?: { budget: number; cost: number; pruned: number };
  /** Active rank per adapter (layer name → rank). */
  ranks: Record<string, number>;
  /** Adapter parameters r·(Σ n_k + 1) summed over adapters (trainable parameters for full / head). */
  adapterParams: number;
  /** Validation metrics when evaluated at this step. */
  val?: { loss: number; accuracy: number };
  /** Milliseconds of this step (evaluation excluded), and seconds since the trainer started. */
  stepMs: number;
  elapsedS: number;
}

/** Options of the Trainer. */
export interface TrainerOptions {
  /** Called after every outer step. */
  onEvent?: (e: TrainerEvent) => void;
  /** Append every event as one JSON line to this file. */
  eventsFile?: string;
  /** Held-out data evaluated every `evalEvery` steps and at the end of fit(). */
  val?: Dataset;
  evalEvery?: number;
}

/**
 * A trainer checkpoint in memory: JSON metadata and named Float32 tensors (see checkpoint.ts for
 * the names). `save` writes it as one safetensors file; `loadStateDict` restores it.
 */
export interface TrainerState {
  readonly meta: TrainerStateMeta;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;
}

/** The JSON half of a checkpoint. */
export interface TrainerStateMeta {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof CHECKPOINT_VERSION;
  /** The configuration (RegExp targets as { regexp, flags }); loading refuses a different one. */
  readonly config: unknown;
  /** The constructor's totalSteps (the cosine schedule and AdaLoRA's default T depend on it). */
  readonly totalSteps: number;
  /** Outer steps completed. */
  readonly step: number;
  readonly elapsedS: number;
  /** Rank per adapter, in adapter order: resuming prunes fresh adapters to these before loading. */
  readonly ranks: Record<string, number>;
  readonly fw: FrankWolfeState | null;
  readonly optimizer: OptimizerStateMeta;
  readonly samplers: { readonly lower: BatchSamplerState; readonly upper: BatchSamplerState | null };
  /** Dropout generators by layer name. */
  readonly rngs: Record<string, { a: number; spare: number | null }>;
  /** AdaLoRA's importance updates so far (its EMAs are tensors). */
  readonly adalora: { readonly updates: number } | null;
}

/** What fit() returns. */
export interface FitResult {
  method: string;
  steps: number;
  ranks: Record<string, number>;
  adapterParams: number;
  trainableParams: number;
  val: { loss: number; accuracy: number } | null;
  wallSeconds: number;
  /** Why the run ended: 'completed', or 'interrupted' when the signal fired. */
  status: 'completed' | 'interrupted';
}

function makeOptimizer(cfg: ResolvedTrainerConfig, params: Parameter[], totalSteps: number): Optimizer {
  const i = cfg.inner;
  const schedule =
    i.schedule === 'cosine'
      ? lrCosine({ totalSteps: Math.max(1, totalSteps), warmupSteps: i.warmupSteps })
      : lrConstant();
  if (i.optimizer === 'sgd')
    return new SGD(params, { lr: i.lr, momentum: i.momentum, weightDecay: i.weightDecay, schedule });
  if (i.optimizer === 'adamw') return new AdamW(params, { lr: i.lr, weightDecay: i.weightDecay, schedule });
  return new Adam(params, { lr: i.lr, weightDecay: i.weightDecay, schedule });
}

/**
 * Trains `model` (a classifier on `train.sampleShape` inputs) with one method. The model is
 * changed in place: adapters are attached by the constructor (dEBORA, LoRA), parameters frozen
 * or unfrozen as the method says.
 */
export class Trainer {
  readonly config: ResolvedTrainerConfig;
  readonly model: Module;
  readonly adapters: Map<string, CpAdapter>;
  readonly optimizer: Optimizer;
  /** The planned outer steps given to the constructor. */
  readonly totalSteps: number;
  private fw_: SimplexFrankWolfe | null;
  private lower: BatchSampler;
  private upper: BatchSampler | null;
  private readonly lowerData: Dataset;
  private readonly upperData: Dataset | null;
  private readonly loss: SoftmaxCrossEntropy;
  private readonly sampleShape: readonly number[];
  private readonly options: TrainerOptions;
  private readonly importance: ImportanceTracker | null = null;
  private readonly adaloraSchedule: AdaLoraSchedule | null = null;
  /** Budget cost of one component per adapter (AdaLoRA: 1, or Σ n_k + 1 with targetParams). */
  private readonly componentCost: Map<string, number> = new Map();
  private t0 = performance.now();
  private stepIndex = 0;
  private eventsFd: number | null = null;
  private lastVal: { loss: number; accuracy: number } | null = null;

  /**
   * @param totalSteps planned outer steps (for the cosine schedule; default 1000).
   */
  constructor(model: Module, train: Dataset, config: TrainerConfig, options: TrainerOptions = {}, totalSteps = 1000) {
    this.config = validateTrainerConfig(config);
    const cfg = this.config;
    if (!Number.isInteger(totalSteps) || totalSteps < 1) {
      throw new DeboraError(
        `Trainer: expected an integer >= 1 for argument 'totalSteps', received ${String(totalSteps)}`,
        'DEBORA_INVALID_ARG',
      );
    }
    this.totalSteps = totalSteps;
    this.model = model;
    this.options = options;
    this.sampleShape = train.sampleShape;
    this.loss = new SoftmaxCrossEntropy({ labelSmoothing: cfg.labelSmoothing });
    const rng = new Rng(cfg.seed);
    // Parameters: everything frozen, then the method's trainable set.
    for (const p of model.parameters()) p.requiresGrad = false;
    let trainable: Parameter[];
    // ‖W0‖_F of every adapted layer before any adapter changes it (budget 'relative').
    const baseNorms = new Map<string, number>();
    if (cfg.method === 'debora' || cfg.method === 'lora' || cfg.method === 'adalora') {
      const a = cfg.adapters as NonNullable<ResolvedTrainerConfig['adapters']>;
      for (const [name, m] of namedModules(model)) {
        if (!(m instanceof AdaptedLayer)) continue;
        let ss = 0;
        for (const v of m.weight.data) ss += v * v;
        baseNorms.set(name, Math.sqrt(ss));
      }
      this.adapters = attachAdapters(model, {
        targets: a.targets,
        rank: a.rank,
        geometry: a.geometry,
        ...(a.init === undefined ? {} : { init: a.init }),
        sInit: a.scale,
        seed: rng.fork().int(0x7fffffff),
      });
      if (cfg.method === 'adalora') {
        // AdaLoRA's SVD form P·Λ·Q starts at Λ = 0 (Ψ = 0: the pretrained function) with P, Q
        // random; here the factors are random on their geometry and s = 0 trains with them. The
        // 'zero' and 'offset' inits already start at the pretrained function and keep s = scale.
        for (const ad of this.adapters.values()) if (ad.init === 'small') ad.s.data.fill(0);
        trainable = [...this.adapters.values()].flatMap((ad) => ad.parameters());
      } else {
        for (const ad of this.adapters.values()) ad.s.requiresGrad = false; // s is FW's (dEBORA) or fixed (LoRA)
        trainable = [...this.adapters.values()].flatMap((ad) => ad.factors);
      }
    } else if (cfg.method === 'full') {
      this.adapters = new Map();
      trainable = model.parameters();
    } else {
      this.adapters = new Map();
      const layers = namedModules(model).filter(([, m]) => m instanceof AdaptedLayer);
      const name = cfg.head ?? layers.filter(([, m]) => m instanceof Linear).pop()?.[0];
      const hit = layers.find(([n]) => n === name);
      if (hit === undefined) {
        throw new DeboraError(
          `TrainerConfig: expected a Linear or Conv2d layer name for field 'head', received ${String(name)}. Fix: use one of ${layers.map(([n]) => `'${n}'`).join(', ')}`,
          'DEBORA_INVALID_CONFIG',
        );
      }
      trainable = hit[1].parameters();
    }
    for (const p of trainable) p.requiresGrad = true;
    const innerPerOuter = cfg.method === 'debora' ? cfg.inner.steps : cfg.inner.steps + 1;
    this.optimizer = makeOptimizer(cfg, trainable, totalSteps * innerPerOuter);
    // Data: dEBORA splits D1/D2 (or uses all data for both); baselines use all of it.
    if (cfg.method === 'debora') {
      const { d1, d2 } = cfg.split === 'halves' ? splitHalves(train, rng.fork()) : { d1: train, d2: train };
      this.lowerData = d2;
      this.upperData = d1;
      this.lower = new BatchSampler(d2, {
        batchSize: Math.min(cfg.inner.batchSize, d2.n),
        rng: rng.fork(),
        reuse: true,
      });
      this.upper = new BatchSampler(d1, {
        batchSize: Math.min(cfg.upperBatchSize, d1.n),
        rng: rng.fork(),
        reuse: true,
      });
      const specs = [...this.adapters.entries()].map(([name, ad]) => ({ name, rank: ad.rank }));
      let fwConfig = cfg.fw as NonNullable<ResolvedTrainerConfig['fw']>;
      if (cfg.budget === 'relative') {
        const tau: Record<string, number> = {};
        for (const [name, norm] of baseNorms) tau[name] = (fwConfig.tau as number) * norm;
        fwConfig = { ...fwConfig, scope: 'adapter', tau };
      }
      this.fw_ = new SimplexFrankWolfe(fwConfig, specs);
      // The adapters were attached (and, with the 'offset' init, their Ψ0 subtracted from W0) at
      // s = scale; Frank-Wolfe starts from its own s0. Re-offset W0 by Ψ(s0) − Ψ(scale) so that the
      // network still starts exactly at the pretrained function.
      const before = new Map([...this.adapters].map(([n, ad]) => [n, ad.materialize()]));
      this.copySFromFw();
      const layers = new Map(namedModules(model));
      for (const [name, ad] of this.adapters) {
        if (ad.init !== 'offset') continue;
        const w = (layers.get(name) as AdaptedLayer).weight.data;
        const old = before.get(name) as Float32Array;
        const now = ad.materialize();
        for (let k = 0; k < w.length; k++) w[k] = (w[k] as number) - ((now[k] as number) - (old[k] as number));
      }
    } else {
      this.lowerData = train;
      this.upperData = null;
      this.lower = new BatchSampler(train, {
        batchSize: Math.min(cfg.inner.batchSize, train.n),
        rng: rng.fork(),
        reuse: true,
      });
      this.upper = null;
      this.fw_ = null;
    }
    if (cfg.adalora !== null) {
      this.adaloraSchedule = this.resolveAdaLora(totalSteps);
      this.importance = new ImportanceTracker(this.adapters, cfg.adalora.beta1, cfg.adalora.beta2);
    }
    if (options.eventsFile !== undefined) this.eventsFd = fs.openSync(options.eventsFile, 'a');
  }

  /** Outer steps taken. */
  get steps(): number {
    return this.stepIndex;
  }

  /** The Frank-Wolfe stepper on s (dEBORA only; replaced by `loadStateDict`). */
  get fw(): SimplexFrankWolfe | null {
    return this.fw_;
  }

  /** AdaLoRA's schedule against T, with its defaults, and the cost of a component per adapter. */
  private resolveAdaLora(totalSteps: number): AdaLoraSchedule {
    const a = this.config.adalora as NonNullable<ResolvedTrainerConfig['adalora']>;
    const bad = (field: string, expected: string, received: unknown, fix: string): never => {
      throw new DeboraError(
        `TrainerConfig: expected ${expected} for field 'adalora.${field}', received ${String(received)}. Fix: ${fix}`,
        'DEBORA_INVALID_CONFIG',
      );
    };
    const T = a.totalSteps ?? totalSteps;
    const tInit = a.tInit ?? Math.round(0.1 * T);
    const tFinal = a.tFinal ?? Math.round(0.3 * T);
    if (tInit + tFinal > T)
      bad(
        'tInit',
        `tInit + tFinal <= totalSteps (${T})`,
        `${tInit} + ${tFinal}`,
        'shorten tInit / tFinal or raise totalSteps',
      );
    let initial = 0;
    let floor = 0;
    for (const [name, ad] of this.adapters) {
      const cost = a.targetParams === null ? 1 : ad.paramCount / ad.rank;
      this.componentCost.set(name, cost);
      initial += cost * ad.rank;
      floor += cost * Math.min(a.minRank, ad.rank);
    }
    const target = a.targetParams ?? Math.round((a.targetRank as number) * this.adapters.size);
    const field = a.targetParams === null ? 'targetRank' : 'targetParams';
    if (target < floor)
      bad(
        field,
        `a budget >= ${floor} (minRank components in every adapter)`,
        target,
        'raise it or lower adalora.minRank',
      );
    if (target > initial) bad(field, `a budget <= the initial ${initial}`, target, `lower it, or raise adapters.rank`);
    return { initial, target, totalSteps: T, tInit, tFinal, deltaT: a.deltaT };
  }

  /** Current rank per adapter. */
  ranks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [n, a] of this.adapters) out[n] = a.rank;
    return out;
  }

  /** Adapter parameters (dEBORA, LoRA) or trainable parameters (full, head). */
  adapterParams(): number {
    if (this.adapters.size > 0) return [...this.adapters.values()].reduce((acc, a) => acc + a.paramCount, 0);
    return countParameters(this.model).trainable;
  }

  /** Writes FW's s (float64) into the adapters' s (float32), in declaration order. */
  private copySFromFw(): void {
    const fw = this.fw_ as SimplexFrankWolfe;
    for (const [name, ad] of this.adapters) {
      const s = fw.sOf(name);
      for (let i = 0; i < ad.rank; i++) ad.s.data[i] = s[i] as number;
    }
  }

  private innerStep(): number {
    const b = this.lower.next();
    const x = { data: b.x, shape: [b.n, ...this.sampleShape] };
    const clip = this.config.inner.clipNorm;
    return trainStep(this.model, this.loss, this.optimizer, x, b.y, Number.isFinite(clip) ? { clipNorm: clip } : {})
      .loss;
  }

  /** G̃ = ∂s f̃1 − (1/s)·Σ_k⟨u^(k), P(g^(k))⟩ on one D1 minibatch, concatenated in adapter order. */
  private hypergradient(): { g: Float64Array; loss: number } {
    const upper = this.upper as BatchSampler;
    const b = upper.next();
    // Only the adapters' gradients are read here (base weights are frozen under dEBORA, and the
    // next trainStep zeroes what it trains), so only they are cleared: zeroing every parameter
    // twice per outer step cost ~0.3 ms on the 784-256-256-10 MLP for nothing.
    for (const a of this.adapters.values()) for (const p of a.parameters()) p.zeroGrad();
    const sFrozen: Parameter[] = [];
    for (const a of this.adapters.values()) {
      a.s.requiresGrad = true; // only for this pass: ∂s f̃1 is needed, no optimiser steps s
      sFrozen.push(a.s);
    }
    this.model.train(true);
    const out = this.model.forward({ data: b.x, shape: [b.n, ...this.sampleShape] });
    const { loss, grad } = this.loss.compute(out, b.y);
    this.model.backward(grad, false);
    for (const s of sFrozen) s.requiresGrad = false;
    const fw = this.fw_ as SimplexFrankWolfe;
    const g = new Float64Array(fw.dim);
    let off = 0;
    for (const a of this.adapters.values()) {
      const dots = new Float32Array(a.rank);
      a.projectGradients(dots);
      const gi = cpHypergrad(a.s.grad, a.s.data, dots);
      for (let i = 0; i < a.rank; i++) g[off + i] = gi[i] as number;
      off += a.rank;
    }
    return { g, loss };
  }

  /** One outer step (see the file header). Returns its event. */
  step(): TrainerEvent {
    const start = performance.now();
    const cfg = this.config;
    const inner = cfg.method === 'debora' ? cfg.inner.steps : cfg.inner.steps + 1;
    let lossSum = 0;
    const importance = this.importance;
    for (let k = 0; k < inner; k++) {
      lossSum += this.innerStep();
      importance?.update();
    }
    let fwInfo: TrainerEvent['fw'] = null;
    let lossD1 = Number.NaN;
    let adaloraInfo: TrainerEvent['adalora'];
    if (importance !== null) adaloraInfo = this.adaloraPrune(importance);
    const fw = this.fw_;
    if (fw !== null) {
      const { g, loss } = this.hypergradient();
      lossD1 = loss;
      const ev: StepEvent = fw.step(g);
      let truncated = 0;
      if (ev.truncationDue) {
        const t = fw.truncate();
        for (const at of t.adapters) {
          if (at.deleted.length === 0) continue;
          (this.adapters.get(at.name) as CpAdapter).prune(at.kept, [this.optimizer]);
          truncated += at.deleted.length;
        }
      }
      this.copySFromFw();
      fwInfo = {
        gap: ev.gap,
        type: ev.type,
        status: ev.status,
        alpha: ev.alpha,
        l1: ev.l1,
        budget: ev.budget,
        identified: ev.identified,
        truncated,
      };
    }
    const stepMs = performance.now() - start;
    this.stepIndex++;
    const event: TrainerEvent = {
      step: this.stepIndex - 1,
      method: cfg.method,
      lossD2: lossSum / inner,
      lossD1,
      fw: fwInfo,
      ...(adaloraInfo === undefined ? {} : { adalora: adaloraInfo }),
      ranks: this.ranks(),
      adapterParams: this.adapterParams(),
      stepMs,
      elapsedS: (performance.now() - this.t0) / 1000,
    };
    const every = this.options.evalEvery ?? 0;
    if (this.options.val !== undefined && every > 0 && this.stepIndex % every === 0)
      event.val = this.evaluate(this.options.val);
    this.emit(event);
    return event;
  }

  /** AdaLoRA: prunes the least important components (globally) down to the scheduled budget. */
  private adaloraPrune(importance: ImportanceTracker): NonNullable<TrainerEvent['adalora']> {
    const sch = this.adaloraSchedule as AdaLoraSchedule;
    const { budget, due } = adaloraBudget(sch, this.stepIndex);
    const names = [...this.adapters.keys()];
    const cost = (): number =>
      names.reduce(
        (acc, n) => acc + (this.componentCost.get(n) as number) * (this.adapters.get(n) as CpAdapter).rank,
        0,
      );
    let pruned = 0;
    if (due) {
      const groups = names.map((n) => ({
        scores: importance.scores(this.adapters.get(n) as CpAdapter),
        cost: this.componentCost.get(n) as number,
      }));
      const keep = chooseComponents(groups, budget, (this.config.adalora as { minRank: number }).minRank);
      if (keep !== null) {
        names.forEach((n, i) => {
          const ad = this.adapters.get(n) as CpAdapter;
          const k = keep[i] as number[];
          if (k.length === ad.rank) return;
          pruned += ad.rank - k.length;
          ad.prune(k, [this.optimizer, importance]);
        });
      }
    }
    return { budget, cost: cost(), pruned };
  }

  /** Loss and accuracy on a data set (eval mode). */
  evaluate(ds: Dataset): { loss: number; accuracy: number } {
    this.lastVal = evaluate(this.model, ds.x, ds.y, ds.sampleShape, { loss: new SoftmaxCrossEntropy() });
    return this.lastVal;
  }

  private emit(e: TrainerEvent): void {
    if (this.eventsFd !== null) fs.writeSync(this.eventsFd, `${JSON.stringify(e)}\n`);
    this.options.onEvent?.(e);
  }

  /** Runs `steps` outer steps (stopping early, cleanly, when `signal` aborts) and evaluates at the end. */
  fit(steps: number, options: { signal?: AbortSignal } = {}): FitResult {
    if (!Number.isInteger(steps) || steps < 0) {
      throw new DeboraError(
        `Trainer.fit: expected a non-negative integer for argument 'steps', received ${String(steps)}`,
        'DEBORA_INVALID_ARG',
      );
    }
    let status: FitResult['status'] = 'completed';
    for (let k = 0; k < steps; k++) {
      if (options.signal?.aborted) {
        status = 'interrupted';
        break;
      }
      this.step();
    }
    const val = this.options.val === undefined ? null : this.evaluate(this.options.val);
    return {
      method: this.config.method,
      steps: this.stepIndex,
      ranks: this.ranks(),
      adapterParams: this.adapterParams(),
      trainableParams: countParameters(this.model).trainable,
      val,
      wallSeconds: (performance.now() - this.t0) / 1000,
      status,
    };
  }

  // ---------------------------------------------------------------- checkpoints

  /**
   * Everything the next step reads, as a checkpoint: every model parameter and buffer (base,
   * factors, s), the ranks, the Frank-Wolfe state, the optimiser state, both samplers' and every
   * Dropout's generator state, AdaLoRA's importance EMAs, the step index and the configuration.
   * Tensors are copies.
   */
  stateDict(): TrainerState {
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, p] of this.model.namedParameters())
      tensors.set(`model.${name}`, { shape: p.shape.slice(), data: p.data.slice() });
    for (const [name, b] of this.model.namedBuffers())
      tensors.set(`model.${name}`, { shape: [b.length], data: b.slice() });
    const opt = this.optimizer.stateDict();
    for (const [pname, bufs] of Object.entries(opt.buffers)) {
      for (const [bname, b] of Object.entries(bufs))
        tensors.set(`optim.${pname}.${bname}`, { shape: [b.length], data: b });
    }
    let adalora: TrainerStateMeta['adalora'] = null;
    if (this.importance !== null) {
      const st = this.importance.state();
      for (const [pname, e] of Object.entries(st.buffers)) {
        tensors.set(`adalora.${pname}.ipt`, { shape: [e.ipt.length], data: e.ipt });
        tensors.set(`adalora.${pname}.unc`, { shape: [e.unc.length], data: e.unc });
      }
      adalora = { updates: st.updates };
    }
    const rngs: Record<string, { a: number; spare: number | null }> = {};
    for (const [name, m] of namedModules(this.model)) if (m instanceof Dropout) rngs[name] = m.rng.state;
    const meta: TrainerStateMeta = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      config: encodeConfig(this.config),
      totalSteps: this.totalSteps,
      step: this.stepIndex,
      elapsedS: (performance.now() - this.t0) / 1000,
      ranks: this.ranks(),
      fw: this.fw_ === null ? null : this.fw_.state(),
      optimizer: opt.meta,
      samplers: { lower: this.lower.state, upper: this.upper === null ? null : this.upper.state },
      rngs,
      adalora,
    };
    return { meta, tensors };
  }

  /**
   * Restores a checkpoint from `stateDict()` (of this configuration, on a model of the same
   * architecture). Adapters are pruned to the saved ranks first, so a checkpoint taken after
   * pruning loads into a fresh Trainer. Everything is validated before anything changes: a
   * corrupted or mismatched checkpoint throws (naming the field) and leaves the trainer as it was.
   */
  loadStateDict(state: TrainerState): void {
    const where = 'Trainer.loadStateDict';
    const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!obj(state) || !obj(state.meta) || !(state.tensors instanceof Map))
      checkpointError(where, 'state', 'an object { meta, tensors: Map } from stateDict()', typeof state);
    const meta = state.meta as unknown as Record<string, unknown>;
    if (meta.format !== CHECKPOINT_FORMAT || meta.version !== CHECKPOINT_VERSION) {
      checkpointError(
        where,
        'meta.format',
        `format '${CHECKPOINT_FORMAT}' version ${CHECKPOINT_VERSION}`,
        `${JSON.stringify(meta.format)} version ${JSON.stringify(meta.version)}`,
      );
    }
    // 1. the configuration must be this trainer's (compared after resolving both)
    let saved: ResolvedTrainerConfig;
    try {
      saved = validateTrainerConfig(decodeConfig(where, meta.config));
    } catch (e) {
      checkpointError(where, 'meta.config', 'a valid trainer configuration', (e as Error).message);
    }
    const mine = normalizedConfig(this.config);
    const theirs = normalizedConfig(saved);
    if (canonicalJson(mine) !== canonicalJson(theirs)) {
      const at = firstDifference(theirs, mine) as string;
      checkpointError(
        where,
        `meta.${at}`,
        `this trainer's configuration (${at} = ${canonicalJson(pick(mine, at))})`,
        canonicalJson(pick(theirs, at)),
        "build the Trainer with the checkpoint's configuration, or use Trainer.resume(file, model, data)",
      );
    }
    if (meta.totalSteps !== this.totalSteps) {
      checkpointError(
        where,
        'meta.totalSteps',
        `this trainer's totalSteps (${this.totalSteps})`,
        JSON.stringify(meta.totalSteps),
        'pass the same totalSteps to the constructor, or use Trainer.resume',
      );
    }
    const count = (field: string, v: unknown): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        checkpointError(where, field, 'an integer >= 0', JSON.stringify(v));
      return v;
    };
    const step = count('meta.step', meta.step);
    const elapsedS = typeof meta.elapsedS === 'number' && Number.isFinite(meta.elapsedS) ? meta.elapsedS : 0;
    // 2. ranks: the adapters in order, each no larger than it is now (pruning cannot be undone)
    const ranks = meta.ranks;
    if (!obj(ranks)) checkpointError(where, 'meta.ranks', 'an object of ranks by adapter name', JSON.stringify(ranks));
    const names = [...this.adapters.keys()];
    if (canonicalJson(Object.keys(ranks)) !== canonicalJson(names))
      checkpointError(
        where,
        'meta.ranks',
        `ranks of the adapters ${JSON.stringify(names)}`,
        JSON.stringify(Object.keys(ranks)),
      );
    const newRank = new Map<CpAdapter, number>();
    for (const [name, ad] of this.adapters) {
      const r = count(`meta.ranks.${name}`, ranks[name]);
      if (r > ad.rank) {
        checkpointError(
          where,
          `meta.ranks.${name}`,
          `a rank <= the adapter's current rank ${ad.rank}`,
          String(r),
          'load it into a fresh Trainer (Trainer.resume): pruned components cannot come back',
        );
      }
      newRank.set(ad, r);
    }
    // The shape every parameter will have after pruning.
    const shapeAfter = new Map<Parameter, number[]>();
    for (const ad of this.adapters.values()) {
      const r = newRank.get(ad) as number;
      ad.factors.forEach((f, k) => {
        shapeAfter.set(f, [ad.modeSizes[k] as number, r]);
      });
      shapeAfter.set(ad.s, [r]);
    }
    const tensors = state.tensors as ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
    const used = new Set<string>();
    const tensor = (name: string, shape: readonly number[]): Float32Array => {
      const t = tensors.get(name);
      if (t === undefined) checkpointError(where, `tensors['${name}']`, 'a tensor', 'nothing (missing)');
      if (!(t.data instanceof Float32Array))
        checkpointError(where, `tensors['${name}']`, 'F32 data', Object.prototype.toString.call(t.data));
      const n = shape.reduce((a, b) => a * b, 1);
      if (
        !Array.isArray(t.shape) ||
        t.shape.length !== shape.length ||
        t.shape.some((d, i) => d !== shape[i]) ||
        t.data.length !== n
      ) {
        checkpointError(where, `tensors['${name}']`, `shape [${shape.join(', ')}]`, `[${String(t.shape)}]`);
      }
      const d = t.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i] as number))
          checkpointError(where, `tensors['${name}']`, 'finite values', `${d[i]} at index ${i}`);
      }
      used.add(name);
      return d;
    };
    // 3. model tensors
    const copies: Array<[Parameter | Float32Array, Float32Array]> = [];
    for (const [name, p] of this.model.namedParameters())
      copies.push([p, tensor(`model.${name}`, shapeAfter.get(p) ?? p.shape)]);
    for (const [name, b] of this.model.namedBuffers()) copies.push([b, tensor(`model.${name}`, [b.length])]);
    // 4. optimiser: validated by loading into a twin over stand-in parameters of the final shapes
    const optMeta = meta.optimizer;
    if (!obj(optMeta))
      checkpointError(where, 'meta.optimizer', 'the optimiser meta of stateDict()', JSON.stringify(optMeta));
    const paramSteps = (optMeta as Record<string, unknown>).paramSteps;
    if (!obj(paramSteps))
      checkpointError(where, 'meta.optimizer.paramSteps', 'an object by parameter name', JSON.stringify(paramSteps));
    const buffers: Record<string, Record<string, Float32Array>> = {};
    for (const pname of Object.keys(paramSteps)) {
      const prefix = `optim.${pname}.`;
      const bufs: Record<string, Float32Array> = {};
      for (const [tname, t] of tensors) {
        if (tname.startsWith(prefix) && !tname.slice(prefix.length).includes('.')) {
          bufs[tname.slice(prefix.length)] = tensor(tname, t.shape);
        }
      }
      buffers[pname] = bufs;
    }
    const trainable = this.model.parameters().filter((p) => p.requiresGrad);
    const stand = trainable.map((p) => {
      const shape = shapeAfter.get(p) ?? p.shape;
      return new Parameter(p.name, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, p.kind);
    });
    const twin = makeOptimizer(this.config, stand, this.totalSteps * this.innerPerOuter());
    const optState = { meta: optMeta as unknown as OptimizerStateMeta, buffers };
    try {
      twin.loadStateDict(optState);
    } catch (e) {
      checkpointError(where, 'meta.optimizer', 'an optimiser state for these parameters', (e as Error).message);
    }
    // 5. Frank-Wolfe: a new stepper from the state, with exactly the saved ranks
    let fw: SimplexFrankWolfe | null = null;
    if (this.fw_ !== null) {
      try {
        fw = SimplexFrankWolfe.fromState(meta.fw);
      } catch (e) {
        checkpointError(where, 'meta.fw', 'a Frank-Wolfe state', (e as Error).message);
      }
      const specs = fw.adapters.map((a) => [a.name, a.rank]);
      const want = names.map((n) => [n, ranks[n]]);
      if (canonicalJson(specs) !== canonicalJson(want))
        checkpointError(
          where,
          'meta.fw.adapters',
          `the adapters and ranks ${JSON.stringify(want)}`,
          JSON.stringify(specs),
        );
    } else if (meta.fw !== null) checkpointError(where, 'meta.fw', 'null (no Frank-Wolfe here)', 'a state');
    // 6. samplers and generators
    const samplers = meta.samplers;
    if (!obj(samplers)) checkpointError(where, 'meta.samplers', 'an object { lower, upper }', JSON.stringify(samplers));
    let lower: BatchSampler;
    let upper: BatchSampler | null = null;
    try {
      lower = BatchSampler.fromState(this.lowerData, samplers.lower as BatchSamplerState, { reuse: true });
      if (this.upperData !== null)
        upper = BatchSampler.fromState(this.upperData, samplers.upper as BatchSamplerState, { reuse: true });
    } catch (e) {
      checkpointError(where, 'meta.samplers', 'the samplers of this training data', (e as Error).message);
    }
    if (lower.batchSize !== this.lower.batchSize || (upper !== null && upper.batchSize !== this.upper?.batchSize))
      checkpointError(where, 'meta.samplers', 'the batch sizes of this configuration', 'other sizes');
    const rngs = meta.rngs;
    if (!obj(rngs)) checkpointError(where, 'meta.rngs', 'an object by layer name', JSON.stringify(rngs));
    const dropouts = namedModules(this.model).filter((e): e is [string, Dropout] => e[1] instanceof Dropout);
    const gens = new Map<Dropout, Rng>();
    for (const [name, m] of dropouts) {
      try {
        gens.set(m, Rng.fromState(rngs[name] as { a: number; spare: number | null }));
      } catch (e) {
        checkpointError(where, `meta.rngs.${name}`, 'a generator state', (e as Error).message);
      }
    }
    // 7. AdaLoRA's EMAs
    let imp: ImportanceState | null = null;
    if (this.importance !== null) {
      const a = meta.adalora;
      if (!obj(a)) checkpointError(where, 'meta.adalora', 'an object { updates }', JSON.stringify(a));
      const bufs: ImportanceState['buffers'] = {};
      for (const p of this.importance.params()) {
        const shape = [(shapeAfter.get(p) ?? p.shape).reduce((x, y) => x * y, 1)];
        bufs[p.name] = { ipt: tensor(`adalora.${p.name}.ipt`, shape), unc: tensor(`adalora.${p.name}.unc`, shape) };
      }
      imp = { updates: count('meta.adalora.updates', a.updates), buffers: bufs };
    } else if (meta.adalora !== null) checkpointError(where, 'meta.adalora', 'null (not an AdaLoRA run)', 'a state');
    for (const name of tensors.keys())
      if (!used.has(name))
        checkpointError(where, `tensors['${name}']`, 'only tensors this trainer has', 'an extra tensor');

    // Everything checked: apply.
    for (const [ad, r] of newRank) {
      if (r < ad.rank) {
        const holders = this.importance === null ? [this.optimizer] : [this.optimizer, this.importance];
        ad.prune(
          Array.from({ length: r }, (_, i) => i),
          holders,
        );
      }
    }
    for (const [dst, src] of copies) (dst instanceof Parameter ? dst.data : dst).set(src);
    this.optimizer.loadStateDict(optState);
    this.fw_ = fw;
    this.lower = lower;
    this.upper = upper;
    for (const [m, g] of gens) m.rng = g;
    if (imp !== null) (this.importance as ImportanceTracker).load(imp);
    this.stepIndex = step;
    this.t0 = performance.now() - elapsedS * 1000;
  }

  /** Writes `stateDict()` to one safetensors file, atomically (temp file + rename). */
  save(file: string): void {
    const st = this.stateDict();
    writeSafetensors(file, st.tensors, {
      format: CHECKPOINT_FORMAT,
      version: String(CHECKPOINT_VERSION),
      state: JSON.stringify(st.meta),
    });
  }

  /** Restores a checkpoint written by `save` (all-or-nothing, as `loadStateDict`). */
  load(file: string): void {
    this.loadStateDict(readCheckpoint(file));
  }

  /**
   * A Trainer that continues the run saved in `file`: built with the checkpoint's configuration and
   * totalSteps on `model` (the base model, freshly loaded, same architecture) and `train` (the same
   * training data), then `load`ed. The model gets its adapters here, as with the constructor.
   */
  static resume(file: string, model: Module, train: Dataset, options: TrainerOptions = {}): Trainer {
    const st = readCheckpoint(file);
    const config = decodeConfig('Trainer.resume', st.meta.config);
    const trainer = new Trainer(model, train, config, options, st.meta.totalSteps);
    trainer.loadStateDict(st);
    return trainer;
  }

  private innerPerOuter(): number {
    return this.config.method === 'debora' ? this.config.inner.steps : this.config.inner.steps + 1;
  }

  /** Closes the events file. */
  close(): void {
    if (this.eventsFd !== null) {
      fs.closeSync(this.eventsFd);
      this.eventsFd = null;
    }
  }
}

/** The configuration as compared between a trainer and a checkpoint (FW config normalised). */
function normalizedConfig(c: ResolvedTrainerConfig): unknown {
  const enc = encodeConfig(c) as Record<string, unknown>;
  if (c.fw !== null) enc.fw = validateFrankWolfeConfig(c.fw);
  return JSON.parse(JSON.stringify(enc));
}

function pick(v: unknown, path: string): unknown {
  let cur = v;
  for (const k of path.split('.').slice(1)) cur = (cur as Record<string, unknown> | undefined)?.[k];
  return cur;
}

/** Reads and checks the envelope of a checkpoint file (the state itself is checked by loadStateDict). */
function readCheckpoint(file: string): TrainerState {
  const where = 'Trainer.load';
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.version !== String(CHECKPOINT_VERSION)) {
    checkpointError(
      where,
      `${file}: __metadata__.format`,
      `'${CHECKPOINT_FORMAT}' version ${CHECKPOINT_VERSION} (a file from Trainer.save)`,
      `${JSON.stringify(metadata.format)} version ${JSON.stringify(metadata.version)}`,
    );
  }
  let meta: TrainerStateMeta;
  try {
    meta = JSON.parse(metadata.state ?? '') as TrainerStateMeta;
  } catch (e) {
    return checkpointError(where, `${file}: __metadata__.state`, 'JSON', (e as Error).message);
  }
  if (typeof meta !== 'object' || meta === null)
    checkpointError(where, `${file}: __metadata__.state`, 'a JSON object', typeof meta);
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (t.dtype !== 'F32' || !(t.data instanceof Float32Array))
      checkpointError(where, `${file}: tensor '${name}'`, 'dtype F32', (t as SafeTensor).dtype);
    out.set(name, { shape: t.shape, data: t.data });
  }
  return { meta, tensors: out };
}
