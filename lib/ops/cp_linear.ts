/**
 * cp_linear.ts — op cp_linear: the matrix adapter Ψ = U diag(s) Vᵀ applied to a batch without
 * forming Ψ (ALGORITHM.md section 1), forward and backward, sync and async.
 * Tested in test/native/cp_linear.test.ts (float64 reference, finite differences, errors).
 */
import { backendCode, resolveBackend } from '../backend';
import { DeboraError } from '../errors';
import { addon } from '../native';
import { f32, int } from '../validate';
import type { OpOptions } from './common';

/** Sizes of a matrix adapter on a batch: X is N×nIn, Y is N×nOut, U is nOut×r, V is nIn×r (row-major). */
export interface CpLinearDims {
  N: number;
  nIn: number;
  nOut: number;
  r: number;
}

/** Inputs of the forward pass. */
export interface CpLinearInputs extends CpLinearDims {
  X: Float32Array;
  U: Float32Array;
  V: Float32Array;
  s: Float32Array;
}

/** Options of the forward pass. */
export interface CpLinearForwardOptions extends OpOptions {
  /** Output N×nOut; with `accumulate` it may already hold the base output X·W0ᵀ. Default: new. */
  out?: Float32Array;
  /** Add the adapter term into `out` instead of overwriting it (needs `out`). */
  accumulate?: boolean;
  /** Also return Z = X·V (N×r) for reuse in the backward: `true` allocates, an array is filled. */
  Z?: boolean | Float32Array;
}

/** Options of the backward pass. Preallocated outputs are reused (no allocation per step). */
export interface CpLinearBackwardOptions extends OpOptions {
  /** Z = X·V from the forward pass; recomputed when absent. */
  Z?: Float32Array;
  /** Compute dX (default true). */
  computeDx?: boolean;
  dX?: Float32Array;
  /** Add into `dX` (e.g. onto the base layer's X-gradient dY·W0) instead of overwriting. */
  accumulateDx?: boolean;
  dU?: Float32Array;
  dV?: Float32Array;
  ds?: Float32Array;
  /** Also return dots_i = ⟨U_i, dU_i⟩ + ⟨V_i, dV_i⟩ (the input of cpHypergrad): `true` allocates. */
  dots?: boolean | Float32Array;
}

/** Result of the forward pass. */
export interface CpLinearForwardResult {
  Y: Float32Array;
  Z?: Float32Array;
}

/** Result of the backward pass. */
export interface CpLinearBackwardResult {
  dX?: Float32Array;
  dU: Float32Array;
  dV: Float32Array;
  ds: Float32Array;
  dots?: Float32Array;
}

/** The CUDA twin exists (native/cuda/cp_linear.cu): 'auto' runs this op on a usable GPU. */
const HAS_CUDA_KERNEL = true;

function dims(where: string, d: CpLinearDims): CpLinearDims {
  return {
    N: int(where, 'N', d.N, 0),
    nIn: int(where, 'nIn', d.nIn, 1),
    nOut: int(where, 'nOut', d.nOut, 1),
    r: int(where, 'r', d.r, 1),
  };
}

function optionalOut(
  where: string,
  name: string,
  v: boolean | Float32Array | undefined,
  n: number,
): Float32Array | null {
  if (v === undefined || v === false) return null;
  if (v === true) return new Float32Array(n);
  return f32(where, name, v, n);
}

function forwardArgs(x: CpLinearInputs, opts: CpLinearForwardOptions) {
  const where = 'cpLinearForward';
  const { N, nIn, nOut, r } = dims(where, x);
  f32(where, 'X', x.X, N * nIn);
  f32(where, 'U', x.U, nOut * r);
  f32(where, 'V', x.V, nIn * r);
  f32(where, 's', x.s, r);
  if (opts.accumulate && opts.out === undefined) {
    throw new DeboraError(`${where}: 'accumulate' needs an 'out' array to add into`, 'DEBORA_INVALID_ARG');
  }
  const Y = opts.out === undefined ? new Float32Array(N * nOut) : f32(where, 'out', opts.out, N * nOut);
  const Z = optionalOut(where, 'Z', opts.Z, N * r);
  const args = [
    backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)),
    N,
    nIn,
    nOut,
    r,
    x.X,
    x.U,
    x.V,
    x.s,
    Y,
    !!opts.accumulate,
    Z,
  ] as const;
  const result: CpLinearForwardResult = Z === null ? { Y } : { Y, Z };
  return { args, result };
}

function backwardArgs(x: CpLinearInputs & { dY: Float32Array }, opts: CpLinearBackwardOptions) {
  const where = 'cpLinearBackward';
  const { N, nIn, nOut, r } = dims(where, x);
  f32(where, 'X', x.X, N * nIn);
  f32(where, 'U', x.U, nOut * r);
  f32(where, 'V', x.V, nIn * r);
  f32(where, 's', x.s, r);
  f32(where, 'dY', x.dY, N * nOut);
  const Z = opts.Z === undefined ? null : f32(where, 'Z', opts.Z, N * r);
  const computeDx = opts.computeDx ?? true;
  if (!computeDx && (opts.dX !== undefined || opts.accumulateDx)) {
    throw new DeboraError(`${where}: 'dX'/'accumulateDx' given with computeDx: false`, 'DEBORA_INVALID_ARG');
  }
  if (opts.accumulateDx && opts.dX === undefined)
    throw new DeboraError(`${where}: 'accumulateDx' needs a 'dX' array`, 'DEBORA_INVALID_ARG');
  const dX = !computeDx ? null : opts.dX === undefined ? new Float32Array(N * nIn) : f32(where, 'dX', opts.dX, N * nIn);
  const dU = opts.dU === undefined ? new Float32Array(nOut * r) : f32(where, 'dU', opts.dU, nOut * r);
  const dV = opts.dV === undefined ? new Float32Array(nIn * r) : f32(where, 'dV', opts.dV, nIn * r);
  const ds = opts.ds === undefined ? new Float32Array(r) : f32(where, 'ds', opts.ds, r);
  const dots = optionalOut(where, 'dots', opts.dots, r);
  const args = [
    backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)),
    N,
    nIn,
    nOut,
    r,
    x.X,
    x.U,
    x.V,
    x.s,
    x.dY,
    Z,
    dX,
    !!opts.accumulateDx,
    dU,
    dV,
    ds,
    dots,
  ] as const;
  const result: CpLinearBackwardResult = { dU, dV, ds };
  if (dX !== null) result.dX = dX;
  if (dots !== null) result.dots = dots;
  return { args, result };
}

/**
 * cp_linear forward: `Z = X·V`, `Y (+)= ((Z ⊙ s)·Uᵀ)` — the adapter term of `X·(W0 + U diag(s) Vᵀ)ᵀ`,
 * in one fused pass over the batch. Non-finite `s` is refused; non-finite X propagates.
 */
export function cpLinearForward(x: CpLinearInputs, opts: CpLinearForwardOptions = {}): CpLinearForwardResult {
  const { args, result } = forwardArgs(x, opts);
  addon().cpLinearFwd(...args);
  return result;
}

/**
 * cp_linear backward from `dY = ∂L/∂Y`, with `T = dY·U`: `ds_i = Σ_n Z_ni T_ni`,
 * `dU = dYᵀ(Z ⊙ s)`, `dV = Xᵀ(T ⊙ s)`, `dX (+)= (T ⊙ s)·Vᵀ`, in one fused pass over the batch.
 */
export function cpLinearBackward(
  x: CpLinearInputs & { dY: Float32Array },
  opts: CpLinearBackwardOptions = {},
): CpLinearBackwardResult {
  const { args, result } = backwardArgs(x, opts);
  addon().cpLinearBwd(...args);
  return result;
}

/**
 * cpLinearForward on a worker thread: the event loop stays free. Do not read or write any of the
 * arrays passed in until the promise settles.
 */
export async function cpLinearForwardAsync(
  x: CpLinearInputs,
  opts: CpLinearForwardOptions = {},
): Promise<CpLinearForwardResult> {
  const { args, result } = forwardArgs(x, opts);
  await addon().cpLinearFwdAsync(...args);
  return result;
}

/** cpLinearBackward on a worker thread (same rule: leave the arrays alone until it settles). */
export async function cpLinearBackwardAsync(
  x: CpLinearInputs & { dY: Float32Array },
  opts: CpLinearBackwardOptions = {},
): Promise<CpLinearBackwardResult> {
  const { args, result } = backwardArgs(x, opts);
  await addon().cpLinearBwdAsync(...args);
  return result;
}
