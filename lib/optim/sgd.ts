/**
 * optim/sgd.ts — stochastic gradient descent with momentum, dampening, Nesterov momentum and L2
 * weight decay, with exactly torch.optim.SGD's update (written out on the class). Arithmetic is in
 * float64 per element, stored to float32. Tested in test/unit/optim-sgd.test.ts.
 */
import type { Parameter } from '../nn/parameter';
import { configBool, configNumber } from './config';
import { BaseOptimizer, type GroupHyper, type ParamGroup, type ParamState, type ScheduleOption } from './optimizer';

/** Settings of SGD (each may be overridden per group). */
export interface SGDSettings {
  /** Base learning rate γ > 0 (default 1e-3, as torch). */
  readonly lr?: number;
  /** Momentum μ in [0, 1) (default 0: plain SGD). */
  readonly momentum?: number;
  /** Dampening τ in [0, 1] of the gradient added to the momentum buffer (default 0). */
  readonly dampening?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening = 0. */
  readonly nesterov?: boolean;
  /** L2 weight decay λ ≥ 0 added to the gradient (default 0). */
  readonly weightDecay?: number;
}

/** SGD's resolved settings of one group. */
export interface SGDHyper extends GroupHyper {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
}

/** Options of the SGD constructor: default settings and the lr schedule. */
export type SGDOptions = SGDSettings & ScheduleOption;

const KEYS = ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay'] as const;

/**
 * torch.optim.SGD. With g = grad, θ the parameter, t the parameter's step (1 at its first step),
 * γ the scheduled lr:
 *
 *   g ← g + λ·θ                                   (if λ ≠ 0)
 *   if μ ≠ 0:
 *     b ← g                     if t = 1          (the buffer starts as the first gradient, undamped)
 *     b ← μ·b + (1 − τ)·g       otherwise
 *     g ← g + μ·b               if nesterov
 *     g ← b                     otherwise
 *   θ ← θ − γ·g
 */
export class SGD extends BaseOptimizer<SGDHyper, SGDSettings> {
  constructor(params: readonly Parameter[] | readonly ParamGroup<SGDSettings>[], options: SGDOptions = {}) {
    super('SGD', KEYS, params, options);
  }

  protected resolveHyper(where: string, prefix: string, raw: Record<string, unknown>): SGDHyper {
    const lr = configNumber(
      where,
      `${prefix}lr`,
      raw.lr ?? 1e-3,
      { min: 0, minOpen: true },
      'give a learning rate > 0, e.g. 1e-2',
    );
    const momentum = configNumber(
      where,
      `${prefix}momentum`,
      raw.momentum ?? 0,
      { min: 0, max: 1, maxOpen: true },
      'use a momentum in [0, 1), e.g. 0.9, or 0 for plain SGD',
    );
    const dampening = configNumber(
      where,
      `${prefix}dampening`,
      raw.dampening ?? 0,
      { min: 0, max: 1 },
      'use a dampening in [0, 1] (default 0)',
    );
    const nesterov = configBool(where, `${prefix}nesterov`, raw.nesterov ?? false, 'use true or false');
    const weightDecay = configNumber(
      where,
      `${prefix}weightDecay`,
      raw.weightDecay ?? 0,
      { min: 0 },
      'use a weight decay >= 0 (default 0)',
    );
    if (nesterov && momentum === 0) {
      configNumber(
        where,
        `${prefix}momentum`,
        momentum,
        { min: 0, minOpen: true },
        'Nesterov momentum needs momentum > 0 (e.g. 0.9), or set nesterov: false',
      );
    }
    if (nesterov && dampening !== 0) {
      configNumber(
        where,
        `${prefix}dampening`,
        dampening,
        { min: 0, max: 0 },
        'Nesterov momentum needs dampening = 0, or set nesterov: false',
      );
    }
    return { lr, momentum, dampening, nesterov, weightDecay };
  }

  protected bufferNames(hyper: SGDHyper): readonly string[] {
    return hyper.momentum === 0 ? [] : ['momentumBuffer'];
  }

  protected update(param: Parameter, state: ParamState, hyper: SGDHyper, lr: number): void {
    const x = param.data;
    const g = param.grad;
    const n = x.length;
    const wd = hyper.weightDecay;
    const mu = hyper.momentum;
    if (mu === 0) {
      if (wd === 0) for (let i = 0; i < n; i++) x[i] = (x[i] as number) - lr * (g[i] as number);
      else
        for (let i = 0; i < n; i++) {
          const xi = x[i] as number;
          x[i] = xi - lr * ((g[i] as number) + wd * xi);
        }
      return;
    }
    const b = state.buffers.momentumBuffer as Float32Array;
    const first = state.step === 1;
    const damp = 1 - hyper.dampening;
    const nesterov = hyper.nesterov;
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number;
      const d = wd === 0 ? (g[i] as number) : (g[i] as number) + wd * xi;
      const bi = first ? d : mu * (b[i] as number) + damp * d;
      b[i] = bi;
      x[i] = xi - lr * (nesterov ? d + mu * bi : bi);
    }
  }
}
