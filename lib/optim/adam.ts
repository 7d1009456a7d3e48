/**
 * optim/adam.ts — Adam (L2 weight decay in the gradient, as torch.optim.Adam) and AdamW (decoupled
 * weight decay, as torch.optim.AdamW), with bias correction and optional AMSGrad; the update is
 * written out on AdamFamily. Arithmetic is in float64 per element, stored to float32.
 * Tested in test/unit/optim-adam.test.ts.
 */
import type { Parameter } from '../nn/parameter';
import { describe } from '../validate';
import { configBool, configNumber, optimConfigError } from './config';
import { BaseOptimizer, type GroupHyper, type ParamGroup, type ParamState, type ScheduleOption } from './optimizer';

// Module-scope bindings: hot loops then do no global lookups, which are ~100× slower inside vm
// contexts such as jest's (jestjs/jest#15502), and cost nothing in plain Node.
const { max, sqrt } = Math;

/** Settings of Adam and AdamW (each may be overridden per group). */
export interface AdamSettings {
  /** Base learning rate γ > 0 (default 1e-3). */
  readonly lr?: number;
  /** (β1, β2), each in [0, 1): decay of the first and second moment averages (default [0.9, 0.999]). */
  readonly betas?: readonly [number, number];
  /** ε > 0 added to the denominator (default 1e-8). */
  readonly eps?: number;
  /** Weight decay λ ≥ 0 (default 0 for Adam, 1e-2 for AdamW, as torch). */
  readonly weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  readonly amsgrad?: boolean;
}

/** Resolved settings of one Adam/AdamW group. */
export interface AdamHyper extends GroupHyper {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly amsgrad: boolean;
}

/** Options of the Adam/AdamW constructors: default settings and the lr schedule. */
export type AdamOptions = AdamSettings & ScheduleOption;

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'] as const;

/**
 * The shared Adam update. With g = grad, θ the parameter, t its step (1 at its first step), γ the
 * scheduled lr, m, v (and v̂max) zero-initialised:
 *
 *   Adam:  g ← g + λ·θ                (L2: the decay passes through the moments)
 *   AdamW: θ ← θ·(1 − γ·λ)            (decoupled: the decay bypasses the moments)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   v̂ ← max(v̂max, v) and v̂max ← v̂    if amsgrad, else v̂ ← v
 *   θ ← θ − (γ / (1 − β1ᵗ)) · m / (√v̂ / √(1 − β2ᵗ) + ε)
 *
 * which is torch's `_single_tensor_adam` (ε is added after the bias correction of √v, as torch).
 */
abstract class AdamFamily extends BaseOptimizer<AdamHyper, AdamSettings> {
  private readonly decoupled: boolean;

  protected constructor(
    name: string,
    decoupled: boolean,
    params: readonly Parameter[] | readonly ParamGroup<AdamSettings>[],
    options: AdamOptions,
    presets: Partial<AdamSettings>,
  ) {
    super(name, KEYS, params, options, presets);
    this.decoupled = decoupled;
  }

  protected resolveHyper(where: string, prefix: string, raw: Record<string, unknown>): AdamHyper {
    const lr = configNumber(
      where,
      `${prefix}lr`,
      raw.lr ?? 1e-3,
      { min: 0, minOpen: true },
      'give a learning rate > 0, e.g. 1e-3',
    );
    const betasRaw = raw.betas ?? [0.9, 0.999];
    if (!Array.isArray(betasRaw) || betasRaw.length !== 2) {
      optimConfigError(where, `${prefix}betas`, 'a pair [β1, β2]', describe(betasRaw), 'use e.g. [0.9, 0.999]');
    }
    const b1 = configNumber(
      where,
      `${prefix}betas[0]`,
      betasRaw[0],
      { min: 0, max: 1, maxOpen: true },
      'use β1 in [0, 1), e.g. 0.9',
    );
    const b2 = configNumber(
      where,
      `${prefix}betas[1]`,
      betasRaw[1],
      { min: 0, max: 1, maxOpen: true },
      'use β2 in [0, 1), e.g. 0.999',
    );
    const eps = configNumber(
      where,
      `${prefix}eps`,
      raw.eps ?? 1e-8,
      { min: 0, minOpen: true },
      'use ε > 0, e.g. 1e-8 (it keeps m/√v finite where v = 0)',
    );
    const weightDecay = configNumber(
      where,
      `${prefix}weightDecay`,
      raw.weightDecay ?? 0,
      { min: 0 },
      'use a weight decay >= 0',
    );
    const amsgrad = configBool(where, `${prefix}amsgrad`, raw.amsgrad ?? false, 'use true or false');
    return { lr, betas: [b1, b2], eps, weightDecay, amsgrad };
  }

  protected bufferNames(hyper: AdamHyper): readonly string[] {
    return hyper.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
  }

  protected update(param: Parameter, state: ParamState, hyper: AdamHyper, lr: number): void {
    const x = param.data;
    const g = param.grad;
    const n = x.length;
    const m = state.buffers.expAvg as Float32Array;
    const v = state.buffers.expAvgSq as Float32Array;
    const [b1, b2] = hyper.betas;
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const t = state.step;
    // γ/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε) = a·m / (√v + e) with a = γ√(1 − β2ᵗ)/(1 − β1ᵗ) and
    // e = ε√(1 − β2ᵗ): the same value (to float64 rounding) with one division per element instead of two.
    const bc2Sqrt = sqrt(1 - b2 ** t);
    const a = (lr * bc2Sqrt) / (1 - b1 ** t);
    const e = hyper.eps * bc2Sqrt;
    const l2 = this.decoupled ? 0 : hyper.weightDecay;
    const shrink = this.decoupled ? 1 - lr * hyper.weightDecay : 1;
    if (hyper.amsgrad) {
      const vmax = state.buffers.maxExpAvgSq as Float32Array;
      for (let i = 0; i < n; i++) {
        const xi = x[i] as number;
        const gi = l2 === 0 ? (g[i] as number) : (g[i] as number) + l2 * xi;
        const mi = b1 * (m[i] as number) + c1 * gi;
        const vi = b2 * (v[i] as number) + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const vh = max(vmax[i] as number, vi);
        vmax[i] = vh;
        x[i] = xi * shrink - (a * mi) / (sqrt(vh) + e);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number;
      const gi = l2 === 0 ? (g[i] as number) : (g[i] as number) + l2 * xi;
      const mi = b1 * (m[i] as number) + c1 * gi;
      const vi = b2 * (v[i] as number) + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      x[i] = xi * shrink - (a * mi) / (sqrt(vi) + e);
    }
  }
}

/** torch.optim.Adam: weight decay is L2 in the gradient (so it is rescaled by the moments). */
export class Adam extends AdamFamily {
  constructor(params: readonly Parameter[] | readonly ParamGroup<AdamSettings>[], options: AdamOptions = {}) {
    super('Adam', false, params, options, {});
  }
}

/** torch.optim.AdamW: decoupled weight decay θ ← θ·(1 − γλ), default λ = 1e-2 (Loshchilov & Hutter). */
export class AdamW extends AdamFamily {
  constructor(params: readonly Parameter[] | readonly ParamGroup<AdamSettings>[], options: AdamOptions = {}) {
    super('AdamW', true, params, options, { weightDecay: 1e-2 });
  }
}
