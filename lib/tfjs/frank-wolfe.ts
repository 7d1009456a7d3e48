/**
 * tfjs/frank-wolfe.ts — `TfFrankWolfe`, the dEBORA loop for tfjs models with DeboraDense layers
 * (ALGORITHM.md sections 3–4): lower-level steps on the factors with a tfjs optimiser (tangent-
 * projected gradients, retraction), and the Frank-Wolfe step on s from the cheap hypergradient
 * G̃ = ∂s f̃1 − (1/s)·Σ_k⟨u^(k), P(g^(k))⟩ (native cp_tangent and cp_hypergrad), with truncation that
 * rebuilds the layers' variables and the optimisers' state at the new rank.
 * Tested in test/native/tfjs-train.test.ts.
 */
import { DeboraError } from '../errors';
import { type FrankWolfeConfig, validateFrankWolfeConfig } from '../fw/config';
import { SimplexFrankWolfe } from '../fw/stepper';
import type { StepEvent, TruncationResult } from '../fw/types';
import { cpHypergrad } from '../ops/cp_hypergrad';
import { describe, invalid } from '../validate';
import type { DeboraDense } from './dense';
import { checkTf, f32Data, type NamedTensorMap, type Optimizer, type Scalar, type Tf, type Variable } from './types';

const WHERE = 'TfFrankWolfe';

/** Options of the driver. */
export interface TfFrankWolfeOptions {
  /**
   * Optimisers whose per-variable state must follow truncation. Those passed to `innerStep` are
   * added automatically; list here any other optimiser that steps the layers' factors.
   */
  optimizers?: readonly Optimizer[];
}

/** What `outerStep` did. */
export interface TfOuterStep {
  /** Upper-level loss f̃1 at s_n (before the step). */
  loss: number;
  /** G̃ at s_n, concatenated in layer order (the gradient the Frank-Wolfe step used). */
  hypergradient: Float64Array;
  /** The Frank-Wolfe event: gap, step type, α, active ranks, … */
  event: StepEvent;
  /** The truncation made after the step, or null when none was due. */
  truncation: TruncationResult | null;
  /** Rank of each layer after the step (by layer name). */
  ranks: Record<string, number>;
}

function isDeboraDense(v: unknown): v is DeboraDense {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as DeboraDense).sVariable === 'function' &&
    typeof (v as DeboraDense).projectGradients === 'function' &&
    typeof (v as DeboraDense).prune === 'function'
  );
}

/** tfjs's own assertion when the loss does not use the variables, turned into our error; others pass. */
function noConnection(where: string, e: unknown): unknown {
  if (!(e instanceof Error) || !/Cannot find a connection/.test(e.message)) return e;
  return new DeboraError(
    `${where}: expected a loss that depends on the layers' adapters for argument 'lossFn', received one that uses none of their variables. Fix: compute the loss with the model holding the DeboraDense layers (model.apply(x, { training: true })) inside lossFn`,
    'DEBORA_INVALID_ARG',
  );
}

function disposeGrads(tf: Tf, grads: NamedTensorMap): void {
  tf.dispose(Object.values(grads).filter((g) => g !== null && g !== undefined));
}

/**
 * The dEBORA loop over DeboraDense layers of a tfjs model. One simplex over the concatenation of
 * all layers' s by default (the budget flows between layers; `config.scope` changes that); adapter
 * names are the layer names. It starts from the layers' current s, which must lie in the simplex
 * (s_i ≥ ε, Σ(s_i − ε) ≤ τ), and writes s back into the layers after every step.
 *
 * A training loop calls `innerStep` T times on lower-level batches (D2), then `outerStep` once on an
 * upper-level batch (D1). Loss functions return a scalar tensor computed by the model (with
 * `model.apply(x, { training: true })`), and must read the layers' variables afresh on every call:
 * truncation replaces them.
 */
export class TfFrankWolfe {
  /** The Frank-Wolfe optimiser on s (freeze, state, result, …). */
  readonly fw: SimplexFrankWolfe;
  readonly layers: readonly DeboraDense[];
  private readonly tf: Tf;
  private readonly optimizers: Set<Optimizer>;

  constructor(tf: Tf, layers: readonly DeboraDense[], config: FrankWolfeConfig, options: TfFrankWolfeOptions = {}) {
    this.tf = checkTf(WHERE, tf);
    if (!Array.isArray(layers) || layers.length === 0) {
      invalid(WHERE, 'layers', 'a non-empty array of DeboraDense layers', describe(layers));
    }
    layers.forEach((l, i) => {
      if (!isDeboraDense(l)) invalid(WHERE, `layers[${i}]`, 'a DeboraDense layer', describe(l));
      if (!l.built) {
        invalid(
          WHERE,
          `layers[${i}]`,
          'a built layer (give it an inputShape/inputDim, or run the model once, before creating the loop)',
          `the unbuilt layer '${l.name}'`,
        );
      }
    });
    if (typeof options !== 'object' || options === null) invalid(WHERE, 'options', 'an object', describe(options));
    const opts = options.optimizers ?? [];
    if (!Array.isArray(opts)) invalid(WHERE, 'options.optimizers', 'an array of tfjs optimizers', describe(opts));
    this.layers = layers.slice();
    this.optimizers = new Set(opts);
    const cfg = validateFrankWolfeConfig(config);
    const eps = cfg.epsilon;
    const s0 = new Float64Array(layers.reduce((a, l) => a + l.rank, 0));
    let off = 0;
    for (const l of layers) {
      const s = l.getS();
      for (let i = 0; i < s.length; i++) {
        let v = s[i] as number;
        // s went through float32: a value written as exactly ε may read back one ulp below it.
        if (v < eps && v >= eps * (1 - 1e-6)) v = eps;
        if (!(v >= eps)) {
          throw new DeboraError(
            `${WHERE}: expected s_i >= epsilon (${eps}) in layer '${l.name}', received s[${i}] = ${v}. Fix: give the layers an sInit above epsilon, or lower epsilon`,
            'DEBORA_INVALID_CONFIG',
          );
        }
        s0[off + i] = v;
      }
      off += s.length;
    }
    if (cfg.scope === 'global' && typeof cfg.tau === 'number') {
      // Σ(s_i − ε) ≤ τ; a start on the face Σ = τ may exceed it by float32 rounding: pull it back.
      let mass = 0;
      for (const v of s0) mass += v - eps;
      if (mass > cfg.tau) {
        if (mass > cfg.tau * (1 + 1e-5)) {
          throw new DeboraError(
            `${WHERE}: expected Σ(s_i − ε) <= tau (${cfg.tau}) over the layers' s, received ${mass}. Fix: lower the layers' sInit (each s_i = sInit at the start) or raise tau`,
            'DEBORA_INVALID_CONFIG',
          );
        }
        const k = cfg.tau / mass;
        for (let i = 0; i < s0.length; i++) s0[i] = eps + ((s0[i] as number) - eps) * k;
      }
    }
    this.fw = new SimplexFrankWolfe(
      config,
      layers.map((l) => ({ name: l.name, rank: l.rank })),
      { s0 },
    );
    this.writeS();
  }

  /** Current rank of each layer, by layer name. */
  ranks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.layers) out[l.name] = l.rank;
    return out;
  }

  /**
   * One lower-level step: gradients of `lossFn` w.r.t. the layers' factors (and `extraVariables`,
   * e.g. a trainable head, which get plain gradients), tangent projection of the factors' gradients,
   * `optimizer.applyGradients`, retraction. s is held fixed. Returns the loss.
   */
  innerStep(optimizer: Optimizer, lossFn: () => Scalar, extraVariables: readonly Variable[] = []): number {
    const where = `${WHERE}.innerStep`;
    const tf = this.tf;
    if (typeof optimizer !== 'object' || optimizer === null || typeof optimizer.applyGradients !== 'function') {
      invalid(where, 'optimizer', 'a tfjs optimizer (tf.train.adam(…), …)', describe(optimizer));
    }
    if (typeof lossFn !== 'function')
      invalid(where, 'lossFn', 'a function returning a scalar loss tensor', describe(lossFn));
    if (!Array.isArray(extraVariables))
      invalid(where, 'extraVariables', 'an array of tf.Variables', describe(extraVariables));
    this.optimizers.add(optimizer);
    const vars = [...this.layers.flatMap((l) => l.factorVariables()), ...extraVariables];
    let value: Scalar;
    let grads: NamedTensorMap;
    try {
      ({ value, grads } = tf.variableGrads(lossFn, vars));
    } catch (e) {
      throw noConnection(where, e);
    }
    let loss: number;
    try {
      for (const l of this.layers) l.projectGradients(grads);
      optimizer.applyGradients(grads);
      loss = (value.dataSync() as Float32Array)[0] as number;
    } finally {
      value.dispose();
      disposeGrads(tf, grads);
    }
    for (const l of this.layers) l.retract();
    return loss;
  }

  /**
   * G̃ on one upper-level loss: one forward/backward for ∂s and the factors' gradients (factors and s
   * are made differentiable for this pass only; nothing is stepped), tangent projection, cpHypergrad.
   * Returns G̃ concatenated in layer order and the loss.
   */
  hypergradient(lossFn: () => Scalar): { g: Float64Array; loss: number } {
    const where = `${WHERE}.hypergradient`;
    const tf = this.tf;
    if (typeof lossFn !== 'function')
      invalid(where, 'lossFn', 'a function returning a scalar loss tensor', describe(lossFn));
    const vars = this.layers.flatMap((l) => [...l.factorVariables(), l.sVariable()]);
    const was = vars.map((v) => v.trainable);
    // tf.variableGrads ignores non-trainable variables; s (and frozen factors) are made
    // trainable for this one call, never for an optimiser.
    for (const v of vars) v.trainable = true;
    let res: { value: Scalar; grads: NamedTensorMap };
    try {
      res = tf.variableGrads(lossFn, vars);
    } catch (e) {
      throw noConnection(where, e);
    } finally {
      vars.forEach((v, i) => {
        v.trainable = was[i] as boolean;
      });
    }
    const g = new Float64Array(this.fw.dim);
    let loss: number;
    try {
      let off = 0;
      for (const l of this.layers) {
        const ds = res.grads[l.s.name];
        if (ds === undefined || ds === null) {
          invalid(where, 'lossFn', `a loss that depends on layer '${l.name}'`, 'no gradient reaching its s');
        }
        const dots = new Float32Array(l.rank);
        l.projectGradients(res.grads, dots);
        const gi = cpHypergrad(f32Data(where, 'ds', ds), f32Data(where, 's', l.sVariable()), dots);
        for (let i = 0; i < gi.length; i++) g[off + i] = gi[i] as number;
        off += l.rank;
      }
      loss = (res.value.dataSync() as Float32Array)[0] as number;
    } finally {
      res.value.dispose();
      disposeGrads(tf, res.grads);
    }
    return { g, loss };
  }

  /**
   * One outer step: G̃ on `lossFn` (an upper-level batch), the Frank-Wolfe step, truncation when due
   * (components at ε are deleted from the layers and from every known optimiser's state), and s
   * written back into the layers.
   */
  outerStep(lossFn: () => Scalar): TfOuterStep {
    const { g, loss } = this.hypergradient(lossFn);
    const event = this.fw.step(g);
    let truncation: TruncationResult | null = null;
    if (event.truncationDue) {
      truncation = this.fw.truncate();
      if (truncation.applied) {
        for (const at of truncation.adapters) {
          if (at.deleted.length === 0) continue;
          const layer = this.layers.find((l) => l.name === at.name) as DeboraDense;
          layer.prune(at.kept, [...this.optimizers]);
        }
      }
    }
    this.writeS();
    return { loss, hypergradient: g, event, truncation, ranks: this.ranks() };
  }

  /** Writes the optimiser's s (float64) into the layers' s (float32). */
  private writeS(): void {
    for (const l of this.layers) l.setS(this.fw.sOf(l.name));
  }
}
