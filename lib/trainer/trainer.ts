/**
 * trainer.ts — the bilevel trainer (ALGORITHM.md sections 2–4, the paper's Algorithms 1 and 2)
 * and the baselines on identical data and budgets. One `step()` does a whole outer step, so no
 * caller can forget a piece: T_max lower-level steps on D2 minibatches (factors only, s fixed) →
 * one D1 forward/backward → G̃ for every adapter at once (tangent-projected factor gradients,
 * native cp_hypergrad) → one Frank-Wolfe step on s → truncation with physical compaction of
 * factors and optimiser state. Baselines take T_max + 1 gradient steps per outer step on all the
 * training data. Every step emits an event (callback and/or JSONL file).
 * Tested in test/e2e/trainer.test.ts.
 */
import * as fs from 'node:fs';
import { BatchSampler } from '../data/batches';
import { type Dataset, splitHalves } from '../data/dataset';
import { DeboraError } from '../errors';
import { SimplexFrankWolfe } from '../fw/stepper';
import type { StepEvent } from '../fw/types';
import { AdaptedLayer } from '../nn/adapted';
import type { CpAdapter } from '../nn/adapter';
import { attachAdapters, namedModules } from '../nn/attach';
import { Linear } from '../nn/linear';
import { SoftmaxCrossEntropy } from '../nn/loss';
import type { Module } from '../nn/module';
import type { Parameter } from '../nn/parameter';
import { countParameters } from '../nn/summary';
import { evaluate, trainStep } from '../nn/train';
import { cpHypergrad } from '../ops/cp_hypergrad';
import { Adam, AdamW } from '../optim/adam';
import type { Optimizer } from '../optim/optimizer';
import { lrConstant, lrCosine } from '../optim/schedule';
import { SGD } from '../optim/sgd';
import { Rng } from '../rng';
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
  readonly fw: SimplexFrankWolfe | null;
  readonly optimizer: Optimizer;
  private readonly lower: BatchSampler;
  private readonly upper: BatchSampler | null;
  private readonly loss: SoftmaxCrossEntropy;
  private readonly sampleShape: readonly number[];
  private readonly options: TrainerOptions;
  private readonly t0 = performance.now();
  private stepIndex = 0;
  private eventsFd: number | null = null;
  private lastVal: { loss: number; accuracy: number } | null = null;

  /**
   * @param totalSteps planned outer steps (for the cosine schedule; default 1000).
   */
  constructor(model: Module, train: Dataset, config: TrainerConfig, options: TrainerOptions = {}, totalSteps = 1000) {
    this.config = validateTrainerConfig(config);
    const cfg = this.config;
    this.model = model;
    this.options = options;
    this.sampleShape = train.sampleShape;
    this.loss = new SoftmaxCrossEntropy({ labelSmoothing: cfg.labelSmoothing });
    const rng = new Rng(cfg.seed);
    // Parameters: everything frozen, then the method's trainable set.
    for (const p of model.parameters()) p.requiresGrad = false;
    let trainable: Parameter[];
    if (cfg.method === 'debora' || cfg.method === 'lora') {
      const a = cfg.adapters as NonNullable<ResolvedTrainerConfig['adapters']>;
      this.adapters = attachAdapters(model, {
        targets: a.targets,
        rank: a.rank,
        geometry: a.geometry,
        ...(a.init === undefined ? {} : { init: a.init }),
        sInit: a.scale,
        seed: rng.fork().int(0x7fffffff),
      });
      for (const ad of this.adapters.values()) ad.s.requiresGrad = false; // s is FW's (dEBORA) or fixed (LoRA)
      trainable = [...this.adapters.values()].flatMap((ad) => ad.factors);
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
      this.fw = new SimplexFrankWolfe(cfg.fw as NonNullable<ResolvedTrainerConfig['fw']>, specs);
      this.copySFromFw();
    } else {
      this.lower = new BatchSampler(train, {
        batchSize: Math.min(cfg.inner.batchSize, train.n),
        rng: rng.fork(),
        reuse: true,
      });
      this.upper = null;
      this.fw = null;
    }
    if (options.eventsFile !== undefined) this.eventsFd = fs.openSync(options.eventsFile, 'a');
  }

  /** Outer steps taken. */
  get steps(): number {
    return this.stepIndex;
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
    const fw = this.fw as SimplexFrankWolfe;
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
    const params = this.model.parameters();
    for (const p of params) p.zeroGrad();
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
    const fw = this.fw as SimplexFrankWolfe;
    const g = new Float64Array(fw.dim);
    let off = 0;
    for (const a of this.adapters.values()) {
      const dots = new Float32Array(a.rank);
      a.projectGradients(dots);
      const gi = cpHypergrad(a.s.grad, a.s.data, dots);
      for (let i = 0; i < a.rank; i++) g[off + i] = gi[i] as number;
      off += a.rank;
    }
    for (const p of params) p.zeroGrad();
    return { g, loss };
  }

  /** One outer step (see the file header). Returns its event. */
  step(): TrainerEvent {
    const start = performance.now();
    const cfg = this.config;
    const inner = cfg.method === 'debora' ? cfg.inner.steps : cfg.inner.steps + 1;
    let lossSum = 0;
    for (let k = 0; k < inner; k++) lossSum += this.innerStep();
    let fwInfo: TrainerEvent['fw'] = null;
    let lossD1 = Number.NaN;
    if (this.fw !== null) {
      const { g, loss } = this.hypergradient();
      lossD1 = loss;
      const ev: StepEvent = this.fw.step(g);
      let truncated = 0;
      if (ev.truncationDue) {
        const t = this.fw.truncate();
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

  /** Closes the events file. */
  close(): void {
    if (this.eventsFd !== null) {
      fs.closeSync(this.eventsFd);
      this.eventsFd = null;
    }
  }
}
