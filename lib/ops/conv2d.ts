/**
 * conv2d.ts — op conv2d: the dense 2-D convolution of a frozen base layer on an NCHW batch
 * (im2col + gemm per image, parallel over the batch), forward and backward, sync and async. The
 * geometry (Conv2dGeometry) and its validation are shared with op cp_conv2d.
 * Kernel: native/cpu/conv2d.cpp. Tested in test/native/conv2d.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { describe, f32, invalid } from '../validate';
import type { OpOptions } from './common';
import { type Conv2dGeometry, geomArray, type Resolved, resolveGeometry } from './cp_conv2d';

/** Options of conv2dForward. */
export interface Conv2dForwardOptions extends OpOptions {
  /** Per-output-channel bias (length F), added to every pixel. */
  bias?: Float32Array;
  /** Output batch×F×Ho×Wo (exact length); default: a new array. */
  out?: Float32Array;
  /** Add into `out` instead of overwriting it (needs `out`). */
  accumulate?: boolean;
}

/**
 * Options of conv2dBackward: what to compute and where. dX is computed unless `computeDx: false`;
 * dK and dbias only when asked for (a buffer, or `computeDk` / `computeDbias: true`): the base
 * weight is usually frozen.
 */
export interface Conv2dBackwardOptions extends OpOptions {
  computeDx?: boolean;
  dX?: Float32Array;
  /** Add into `dX` (e.g. onto an adapter's dX) instead of overwriting it (needs `dX`). */
  accumulateDx?: boolean;
  computeDk?: boolean;
  dK?: Float32Array;
  /** Add into `dK` (gradient accumulation over micro-batches; needs `dK`). */
  accumulateDk?: boolean;
  computeDbias?: boolean;
  dbias?: Float32Array;
  /** Add into `dbias` (needs `dbias`). */
  accumulateDbias?: boolean;
}

/** The gradients conv2dBackward computed (absent when not asked for). */
export interface Conv2dGrads {
  /** ∂L/∂X, batch×C×H×W. */
  dX?: Float32Array;
  /** ∂L/∂K, F×C×kh×kw. */
  dK?: Float32Array;
  /** ∂L/∂bias, length F. */
  dbias?: Float32Array;
}

function flag(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(where, name, 'a boolean', describe(value));
  return value;
}

const lengths = (g: Resolved) => ({
  x: g.batch * g.C * g.H * g.W,
  k: g.F * g.C * g.kh * g.kw,
  y: g.batch * g.F * g.Ho * g.Wo,
});

function forwardArgs(
  where: string,
  geom: Conv2dGeometry,
  X: Float32Array,
  K: Float32Array,
  opts: Conv2dForwardOptions,
) {
  const g = resolveGeometry(where, geom);
  const n = lengths(g);
  f32(where, 'X', X, n.x);
  f32(where, 'K', K, n.k);
  const bias = opts.bias === undefined ? null : f32(where, 'bias', opts.bias, g.F);
  const accumulate = flag(where, 'accumulate', opts.accumulate, false);
  if (accumulate && opts.out === undefined) {
    invalid(where, 'out', 'a Float32Array to accumulate into when accumulate is true', 'undefined');
  }
  const Y = opts.out === undefined ? new Float32Array(n.y) : f32(where, 'out', opts.out, n.y);
  const args = [backendCode(resolveBackend(opts.backend, false)), geomArray(g), X, K, bias, Y, accumulate] as const;
  return { args, Y };
}

/** One optional gradient: whether it is computed, and its buffer (given, or new). */
function gradOut(
  where: string,
  name: 'dX' | 'dK' | 'dbias',
  compute: boolean,
  accumulate: boolean,
  given: Float32Array | undefined,
  len: number,
): Float32Array | null {
  const flagName = { dX: 'computeDx', dK: 'computeDk', dbias: 'computeDbias' }[name];
  const accName = { dX: 'accumulateDx', dK: 'accumulateDk', dbias: 'accumulateDbias' }[name];
  if (!compute && given !== undefined) invalid(where, name, `no buffer when ${flagName} is false`, describe(given));
  if (!compute && accumulate) invalid(where, accName, `false when ${flagName} is false`, 'true');
  if (accumulate && given === undefined) {
    invalid(where, name, `a Float32Array to accumulate into when ${accName} is true`, 'undefined');
  }
  if (!compute) return null;
  return given === undefined ? new Float32Array(len) : f32(where, name, given, len);
}

function backwardArgs(
  where: string,
  geom: Conv2dGeometry,
  X: Float32Array | null | undefined,
  K: Float32Array | null | undefined,
  dY: Float32Array,
  opts: Conv2dBackwardOptions,
) {
  const g = resolveGeometry(where, geom);
  const n = lengths(g);
  f32(where, 'dY', dY, n.y);
  const computeDx = flag(where, 'computeDx', opts.computeDx, true);
  const computeDk = flag(where, 'computeDk', opts.computeDk, opts.dK !== undefined);
  const computeDbias = flag(where, 'computeDbias', opts.computeDbias, opts.dbias !== undefined);
  const accDx = flag(where, 'accumulateDx', opts.accumulateDx, false);
  const accDk = flag(where, 'accumulateDk', opts.accumulateDk, false);
  const accDb = flag(where, 'accumulateDbias', opts.accumulateDbias, false);
  // X is read only for dK and K only for dX; when not needed they may be null, but a given array
  // must still have the right length (a wrong one is a bug at the call site).
  const Xv = computeDk || (X !== null && X !== undefined) ? f32(where, 'X', X, n.x) : null;
  const Kv = computeDx || (K !== null && K !== undefined) ? f32(where, 'K', K, n.k) : null;
  const dX = gradOut(where, 'dX', computeDx, accDx, opts.dX, n.x);
  const dK = gradOut(where, 'dK', computeDk, accDk, opts.dK, n.k);
  const dbias = gradOut(where, 'dbias', computeDbias, accDb, opts.dbias, g.F);
  const args = [
    backendCode(resolveBackend(opts.backend, false)),
    geomArray(g),
    Xv,
    Kv,
    dY,
    dX,
    accDx,
    dK,
    accDk,
    dbias,
    accDb,
  ] as const;
  const grads: Conv2dGrads = {};
  if (dX !== null) grads.dX = dX;
  if (dK !== null) grads.dK = dK;
  if (dbias !== null) grads.dbias = dbias;
  return { args, grads };
}

/**
 * conv2d forward: `Y (+)= conv2d(X, K) + bias` for X batch×C×H×W (NCHW), K F×C×kh×kw, with the
 * geometry's stride, zero padding and dilation; Y is batch×F×Ho×Wo (see conv2dOutputSize). Writes
 * into `out` when given (overwriting it, or adding with `accumulate`), else into a new array, and
 * returns it. NaN or Inf in the inputs propagates.
 */
export function conv2dForward(
  geom: Conv2dGeometry,
  X: Float32Array,
  K: Float32Array,
  opts: Conv2dForwardOptions = {},
): Float32Array {
  const { args, Y } = forwardArgs('conv2dForward', geom, X, K, opts);
  addon().conv2dFwd(...args);
  return Y;
}

/**
 * conv2d backward from dY = ∂L/∂Y (batch×F×Ho×Wo): `dX (+)= conv2dᵀ(dY, K)` (the transposed
 * convolution), `dK (+)= Σ_n dY_n ⋆ X_n` (the correlation of each image with its output gradient)
 * and `dbias (+)= Σ_{n,pixels} dY`, each computed only as Conv2dBackwardOptions asks. X may be null
 * when dK is not computed, K when dX is not.
 */
export function conv2dBackward(
  geom: Conv2dGeometry,
  X: Float32Array | null,
  K: Float32Array | null,
  dY: Float32Array,
  opts: Conv2dBackwardOptions = {},
): Conv2dGrads {
  const { args, grads } = backwardArgs('conv2dBackward', geom, X, K, dY, opts);
  addon().conv2dBwd(...args);
  return grads;
}

/** conv2dForward on a worker thread: leave the arrays alone until the promise settles. */
export async function conv2dForwardAsync(
  geom: Conv2dGeometry,
  X: Float32Array,
  K: Float32Array,
  opts: Conv2dForwardOptions = {},
): Promise<Float32Array> {
  const { args, Y } = forwardArgs('conv2dForwardAsync', geom, X, K, opts);
  await addon().conv2dFwdAsync(...args);
  return Y;
}

/** conv2dBackward on a worker thread (same rule: leave the arrays alone until it settles). */
export async function conv2dBackwardAsync(
  geom: Conv2dGeometry,
  X: Float32Array | null,
  K: Float32Array | null,
  dY: Float32Array,
  opts: Conv2dBackwardOptions = {},
): Promise<Conv2dGrads> {
  const { args, grads } = backwardArgs('conv2dBackwardAsync', geom, X, K, dY, opts);
  await addon().conv2dBwdAsync(...args);
  return grads;
}
