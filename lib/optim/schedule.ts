/**
 * optim/schedule.ts — learning-rate schedules as multipliers: a schedule maps the 0-based step
 * index to a factor that every parameter group applies to its own base lr (so groups with
 * different lrs share one shape, as with torch's LambdaLR). Named `lr…` to stay apart from the
 * Frank-Wolfe budget schedule in lib/fw. Tested in test/unit/optim-schedule.test.ts.
 */
import { describe, int } from '../validate';
import { checkKeys, configInt, configNumber, optimConfigError } from './config';

/**
 * A learning-rate schedule: `step` is the number of optimiser steps already taken (the first
 * `step()` uses `schedule(0)`); the result is a factor ≥ 0 on each group's base lr.
 */
export type LrSchedule = (step: number) => number;

/** Options of {@link lrCosine}. */
export interface LrCosineOptions {
  /** Step T at which the factor reaches `minFactor` (and stays there). Integer ≥ 1. */
  readonly totalSteps: number;
  /** Linear warm-up steps before the decay, as in {@link lrLinearWarmup} (default 0; < totalSteps). */
  readonly warmupSteps?: number;
  /**
   * Final factor in [0, 1] (default 0). A fraction of each group's base lr rather than an absolute
   * lr, so that groups with different base lrs keep their ratio through the decay.
   */
  readonly minFactor?: number;
}

/** The factor 1 at every step. */
export function lrConstant(): LrSchedule {
  return (step) => {
    int('lrConstant', 'step', step);
    return 1;
  };
}

/**
 * Linear warm-up: factor (step + 1)/warmupSteps for step < warmupSteps, then 1. Counting from
 * step + 1 (rather than step, as some libraries do) means the first update is not wasted with a
 * zero lr and step warmupSteps − 1 is the first at the full rate. warmupSteps = 0 is constant.
 */
export function lrLinearWarmup(warmupSteps: number): LrSchedule {
  const w = configInt('lrLinearWarmup', 'warmupSteps', warmupSteps, 0, 'give the number of warm-up steps, e.g. 100');
  return (step) => {
    int('lrLinearWarmup', 'step', step);
    return step < w ? (step + 1) / w : 1;
  };
}

/**
 * Cosine decay with optional linear warm-up (as torch's CosineAnnealingLR / the usual
 * "cosine with warmup"): with w = warmupSteps, T = totalSteps, m = minFactor,
 *   step < w:      (step + 1)/w
 *   w ≤ step ≤ T:  m + (1 − m)·½·(1 + cos(π·(step − w)/(T − w)))
 *   step > T:      m
 * so the factor is 1 at the first decay step and m at step T (the steps 0…T−1 of a T-step run all
 * use a positive lr even when m = 0).
 */
export function lrCosine(options: LrCosineOptions): LrSchedule {
  const where = 'lrCosine';
  if (typeof options !== 'object' || options === null) {
    optimConfigError(where, 'options', 'an object', describe(options), 'pass { totalSteps, warmupSteps?, minFactor? }');
  }
  checkKeys(where, '', options, ['totalSteps', 'warmupSteps', 'minFactor']);
  const T = configInt(where, 'totalSteps', options.totalSteps, 1, 'give the length of the run in steps');
  const w =
    options.warmupSteps === undefined
      ? 0
      : configInt(where, 'warmupSteps', options.warmupSteps, 0, 'give the number of warm-up steps (default 0)');
  if (w >= T) {
    configNumber(
      where,
      'warmupSteps',
      w,
      { min: 0, max: T, maxOpen: true },
      `warm-up must end before totalSteps (${T}); lower warmupSteps or raise totalSteps`,
    );
  }
  const m =
    options.minFactor === undefined
      ? 0
      : configNumber(
          where,
          'minFactor',
          options.minFactor,
          { min: 0, max: 1 },
          'give the final lr as a fraction of the base lr, e.g. 0.1',
        );
  const span = T - w;
  return (step) => {
    int(where, 'step', step);
    if (step < w) return (step + 1) / w;
    if (step >= T) return m;
    return m + (1 - m) * 0.5 * (1 + Math.cos((Math.PI * (step - w)) / span));
  };
}
