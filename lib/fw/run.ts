/**
 * fw/run.ts — runFrankWolfe: a FrankWolfe.jl-style loop over SimplexFrankWolfe for problems given
 * as a gradient oracle (and optionally an objective): max iterations, a callback that may stop the
 * run, automatic truncation after n0, and the one result shape. Used by test/convergence/.
 */
import { describe, int, invalid } from '../validate';
import type { FrankWolfeConfig } from './config';
import { SimplexFrankWolfe, type StepContext } from './stepper';
import type { AdapterSpec, FrankWolfeResult, RunStatus, StepEvent, TruncationResult } from './types';
import type { VectorLike } from './vector';

/** A problem on the budget simplex, FrankWolfe.jl style. */
export interface FrankWolfeProblem {
  /**
   * G̃ at s (exact or stochastic), in the order of s; `n` is the step index. The argument is the
   * stepper's live s: read it, do not keep or write it.
   */
  grad(s: Readonly<Float64Array>, n: number): VectorLike;
  /** The objective: needed by the 'adaptive' step rule, and reported as `primal` at the end. */
  f?(s: Readonly<Float64Array>): number;
  /** The adapters (default: one adapter 's' of rank `dim`). */
  readonly adapters?: readonly AdapterSpec[];
  /** Dimension when `adapters` is absent. */
  readonly dim?: number;
  /** Initial point (default: the budget spread evenly). */
  readonly s0?: VectorLike;
  /** Told about each truncation that removed components: grad and f then see the shorter s. */
  onTruncate?(t: TruncationResult): void;
}

/** Options of `runFrankWolfe`. */
export interface RunOptions {
  /** Steps at most (default 1000). */
  readonly maxIterations?: number;
  /** Called after every step; returning false stops the run (status 'stopped'). */
  readonly callback?: (event: StepEvent, fw: SimplexFrankWolfe) => boolean | undefined;
  /** Keep every event in `result.trajectory` (default false). */
  readonly trace?: boolean;
}

/**
 * Runs Frank-Wolfe until the gap test passes (status 'converged'), s is frozen ('frozen'), the
 * callback returns false ('stopped') or `maxIterations` steps ('max-iterations'). Truncates after
 * every step from n0 on when the configuration sets `truncateFrom`.
 */
export function runFrankWolfe(
  problem: FrankWolfeProblem,
  config: FrankWolfeConfig,
  options: RunOptions = {},
): FrankWolfeResult {
  const where = 'runFrankWolfe';
  if (typeof problem !== 'object' || problem === null || typeof problem.grad !== 'function') {
    invalid(where, 'problem', 'an object with grad(s, n)', describe(problem));
  }
  if (problem.f !== undefined && typeof problem.f !== 'function')
    invalid(where, 'problem.f', 'a function', describe(problem.f));
  const maxIterations = int(where, 'options.maxIterations', options.maxIterations ?? 1000, 0);
  const adapters = problem.adapters ?? [{ name: 's', rank: int(where, 'problem.dim', problem.dim, 1) }];
  const fw = new SimplexFrankWolfe(config, adapters, problem.s0 === undefined ? {} : { s0: problem.s0 });
  const f = problem.f?.bind(problem);
  const ctx: StepContext = f === undefined ? {} : { f };
  const trajectory: StepEvent[] = [];
  let status: RunStatus = 'max-iterations';
  for (let it = 0; it < maxIterations; it++) {
    const event = fw.step(problem.grad(fw.s, fw.iteration), ctx);
    if (options.trace === true) trajectory.push(event);
    if (options.callback?.(event, fw) === false) {
      status = 'stopped';
      break;
    }
    if (event.truncationDue) {
      const t = fw.truncate();
      if (t.applied) problem.onTruncate?.(t);
    }
    if (event.converged) {
      status = 'converged';
      break;
    }
    if (event.frozen && event.status !== 'warmup') {
      status = 'frozen';
      break;
    }
  }
  const primal = f === undefined ? null : f(fw.s);
  return fw.result(status, primal, trajectory);
}
