/**
 * cp_conv2d.ts — op cp_conv2d: the CP adapter (d = 4) of a conv kernel applied to an NCHW batch as
 * a chain of cheap convolutions (never forming ΔK), forward and backward, with the geometry
 * validated here. Kernel: native/cpu/cp_conv2d.cpp. Tested in test/native/cp_conv2d.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { describe, f32, int, intPair, invalid } from '../validate';
import type { OpOptions } from './common';

/** A value given once for both spatial axes, or as [height, width]. */
export type Conv2dPair = number | readonly [number, number];

/**
 * The geometry of a 2-D convolution on an NCHW batch: X is batch×C×H×W, the kernel F×C×kh×kw.
 * stride and dilation default to 1, padding (zeros on both sides) to 0.
 */
export interface Conv2dGeometry {
  batch: number;
  C: number;
  H: number;
  W: number;
  F: number;
  kh: number;
  kw: number;
  stride?: Conv2dPair;
  padding?: Conv2dPair;
  dilation?: Conv2dPair;
}

/** The CP factors of ΔK and their weights: U1 F×r, U2 C×r, U3 kh×r, U4 kw×r (row-major), s of length r. */
export interface CpConv2dFactors {
  U1: Float32Array;
  U2: Float32Array;
  U3: Float32Array;
  U4: Float32Array;
  s: Float32Array;
}

/** The gradients of the backward pass (see cpConv2dBackward). */
export interface CpConv2dGrads {
  /** ∂L/∂X, batch×C×H×W; absent when computeDx is false. */
  dX?: Float32Array;
  dU1: Float32Array;
  dU2: Float32Array;
  dU3: Float32Array;
  dU4: Float32Array;
  ds: Float32Array;
  /** dots[i] = Σ_k ⟨U_k[:,i], dU_k[:,i]⟩, the input of cpHypergrad; absent when wantDots is false. */
  dots?: Float32Array;
}

/** Largest size the native kernel takes in any one field. */
const MAX_DIM = 2 ** 31 - 1;

/** A validated geometry with every pair resolved and the output size (shared with ./conv2d.ts). @internal */
export interface Resolved {
  batch: number;
  C: number;
  H: number;
  W: number;
  F: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  Ho: number;
  Wo: number;
}

/** Validates a geometry at the boundary (messages name `geom.<field>`). @internal */
export function resolveGeometry(where: string, geom: Conv2dGeometry): Resolved {
  if (typeof geom !== 'object' || geom === null) invalid(where, 'geom', 'a geometry object', describe(geom));
  const dim = (k: 'batch' | 'C' | 'H' | 'W' | 'F' | 'kh' | 'kw') => int(where, `geom.${k}`, geom[k], 1, MAX_DIM);
  const g = {
    batch: dim('batch'),
    C: dim('C'),
    H: dim('H'),
    W: dim('W'),
    F: dim('F'),
    kh: dim('kh'),
    kw: dim('kw'),
  };
  const [sh, sw] = intPair(where, 'geom.stride', geom.stride, [1, 1], 1, MAX_DIM);
  const [ph, pw] = intPair(where, 'geom.padding', geom.padding, [0, 0], 0, MAX_DIM);
  const [dh, dw] = intPair(where, 'geom.dilation', geom.dilation, [1, 1], 1, MAX_DIM);
  const effH = dh * (g.kh - 1) + 1;
  const effW = dw * (g.kw - 1) + 1;
  // Checked before dividing: a negative numerator would truncate toward zero into a bogus size.
  if (effH > g.H + 2 * ph) {
    invalid(
      where,
      'geom',
      'a dilated kernel height dilation*(kh-1)+1 <= H + 2*padding (an output height >= 1)',
      `kh=${g.kh}, dilation=${dh}, H=${g.H}, padding=${ph}`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  if (effW > g.W + 2 * pw) {
    invalid(
      where,
      'geom',
      'a dilated kernel width dilation*(kw-1)+1 <= W + 2*padding (an output width >= 1)',
      `kw=${g.kw}, dilation=${dw}, W=${g.W}, padding=${pw}`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  const Ho = Math.floor((g.H + 2 * ph - effH) / sh) + 1;
  const Wo = Math.floor((g.W + 2 * pw - effW) / sw) + 1;
  for (const [what, n] of [
    ['X', g.batch * g.C * g.H * g.W],
    ['Y', g.batch * g.F * Ho * Wo],
  ] as const) {
    if (!Number.isSafeInteger(n)) {
      invalid(where, 'geom', `sizes whose product (the length of ${what}) is a safe integer`, String(n));
    }
  }
  return { ...g, sh, sw, ph, pw, dh, dw, Ho, Wo };
}

/** The 13 integers the native bindings take as `geom`. @internal */
export function geomArray(g: Resolved): number[] {
  return [g.batch, g.C, g.H, g.W, g.F, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw];
}

function checkFactors(where: string, g: Resolved, r: number, f: CpConv2dFactors): void {
  if (typeof f !== 'object' || f === null) invalid(where, 'factors', 'an object { U1, U2, U3, U4, s }', describe(f));
  f32(where, 'U1', f.U1, g.F * r);
  f32(where, 'U2', f.U2, g.C * r);
  f32(where, 'U3', f.U3, g.kh * r);
  f32(where, 'U4', f.U4, g.kw * r);
  f32(where, 's', f.s, r);
}

/**
 * The output size of a 2-D convolution: Ho = ⌊(H + 2·pad_h − dil_h·(kh−1) − 1) / stride_h⌋ + 1
 * (likewise Wo). Validates the geometry and throws DEBORA_SHAPE_MISMATCH when the dilated kernel
 * does not fit the padded input.
 */
export function conv2dOutputSize(geom: Conv2dGeometry): { Ho: number; Wo: number } {
  const g = resolveGeometry('conv2dOutputSize', geom);
  return { Ho: g.Ho, Wo: g.Wo };
}

/**
 * cp_conv2d forward: the CP adapter of a conv kernel, ΔK[f,c,a,b] = Σ_i s_i U1[f,i] U2[c,i] U3[a,i] U4[b,i],
 * applied to X (batch×C×H×W, NCHW) with the given stride, padding and dilation:
 *
 *     Y (+)= conv2d(X, ΔK)        Y: batch×F×Ho×Wo
 *
 * computed as the chain 1×1 (C→r, U2ᵀ) → kh×1 per channel (U3) → 1×kw per channel (U4) → ·s →
 * 1×1 (r→F, U1), never forming ΔK. Writes into `out` when given (overwriting it, or adding to it
 * with `accumulate`, e.g. onto the frozen layer's output), else into a new array, and returns it.
 * `s` may hold any finite values.
 */
export function cpConv2dForward(
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  opts: CpConv2dForwardOptions = {},
): Float32Array {
  const { args, Y } = forwardArgs('cpConv2dForward', geom, r, X, factors, opts);
  addon().cpConv2dFwd(...args);
  return Y;
}

/** cpConv2dForward on a worker thread: leave the arrays alone until the promise settles. */
export async function cpConv2dForwardAsync(
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  opts: CpConv2dForwardOptions = {},
): Promise<Float32Array> {
  const { args, Y } = forwardArgs('cpConv2dForwardAsync', geom, r, X, factors, opts);
  await addon().cpConv2dFwdAsync(...args);
  return Y;
}

/** Options of cpConv2dForward: the output buffer, and whether to add into it. */
export interface CpConv2dForwardOptions extends OpOptions {
  out?: Float32Array;
  accumulate?: boolean;
}

function forwardArgs(
  where: string,
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  opts: CpConv2dForwardOptions,
) {
  const g = resolveGeometry(where, geom);
  int(where, 'r', r, 1, MAX_DIM);
  f32(where, 'X', X, g.batch * g.C * g.H * g.W);
  checkFactors(where, g, r, factors);
  const yLen = g.batch * g.F * g.Ho * g.Wo;
  const accumulate = flag(where, 'accumulate', opts.accumulate, false);
  const Y = opts.out === undefined ? new Float32Array(yLen) : f32(where, 'out', opts.out, yLen);
  const { U1, U2, U3, U4, s } = factors;
  const args = [
    backendCode(resolveBackend(opts.backend)),
    geomArray(g),
    r,
    X,
    U1,
    U2,
    U3,
    U4,
    s,
    Y,
    accumulate,
  ] as const;
  return { args, Y };
}

/** Options of cpConv2dBackward: preallocated outputs (exact lengths) and what to compute. */
export interface CpConv2dBackwardOptions extends OpOptions {
  /** Compute ∂L/∂X (default true). */
  computeDx?: boolean;
  /** Add ∂L/∂X into `dX` instead of overwriting it (default false; needs `dX`). */
  accumulateDx?: boolean;
  /** Return the per-component dots Σ_k ⟨U_k[:,i], dU_k[:,i]⟩ (default true). */
  wantDots?: boolean;
  dX?: Float32Array;
  dU1?: Float32Array;
  dU2?: Float32Array;
  dU3?: Float32Array;
  dU4?: Float32Array;
  ds?: Float32Array;
  dots?: Float32Array;
}

/**
 * cp_conv2d backward: from dY = ∂L/∂Y (batch×F×Ho×Wo) of cpConv2dForward, with T = U1ᵀ·dY per
 * output pixel and Z3 the r-channel output of the depthwise stages,
 *
 *     ds_i = Σ Z3_i · T_i,   dU1 = s_i · Σ dY ⊗ Z3_i,   dU2, dU3, dU4 through the chain,
 *     dX (+)= conv2dᵀ(dY, ΔK),   dots_i = Σ_k ⟨U_k[:,i], dU_k[:,i]⟩
 *
 * the Euclidean gradients of L with respect to X, each factor and s (with them dots_i = 4·s_i·ds_i,
 * Euler's identity for the 4-linear ΔK). dU1..dU4, ds and dots are overwritten; dX is overwritten,
 * or added to with `accumulateDx`. Outputs go into the given buffers, else new arrays.
 */
export function cpConv2dBackward(
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  dY: Float32Array,
  opts: CpConv2dBackwardOptions = {},
): CpConv2dGrads {
  const { args, grads } = backwardArgs('cpConv2dBackward', geom, r, X, factors, dY, opts);
  addon().cpConv2dBwd(...args);
  return grads;
}

/** cpConv2dBackward on a worker thread (same rule: leave the arrays alone until it settles). */
export async function cpConv2dBackwardAsync(
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  dY: Float32Array,
  opts: CpConv2dBackwardOptions = {},
): Promise<CpConv2dGrads> {
  const { args, grads } = backwardArgs('cpConv2dBackwardAsync', geom, r, X, factors, dY, opts);
  await addon().cpConv2dBwdAsync(...args);
  return grads;
}

function backwardArgs(
  where: string,
  geom: Conv2dGeometry,
  r: number,
  X: Float32Array,
  factors: CpConv2dFactors,
  dY: Float32Array,
  opts: CpConv2dBackwardOptions,
) {
  const g = resolveGeometry(where, geom);
  int(where, 'r', r, 1, MAX_DIM);
  const xLen = g.batch * g.C * g.H * g.W;
  f32(where, 'X', X, xLen);
  checkFactors(where, g, r, factors);
  f32(where, 'dY', dY, g.batch * g.F * g.Ho * g.Wo);
  const computeDx = flag(where, 'computeDx', opts.computeDx, true);
  const accumulateDx = flag(where, 'accumulateDx', opts.accumulateDx, false);
  const wantDots = flag(where, 'wantDots', opts.wantDots, true);
  if (!computeDx && opts.dX !== undefined) invalid(where, 'dX', 'no buffer when computeDx is false', describe(opts.dX));
  if (accumulateDx && opts.dX === undefined) {
    invalid(where, 'dX', 'a Float32Array to accumulate into when accumulateDx is true', 'undefined');
  }
  if (!wantDots && opts.dots !== undefined) {
    invalid(where, 'dots', 'no buffer when wantDots is false', describe(opts.dots));
  }
  const out = (name: 'dU1' | 'dU2' | 'dU3' | 'dU4' | 'ds' | 'dots', len: number): Float32Array => {
    const given = opts[name];
    return given === undefined ? new Float32Array(len) : f32(where, name, given, len);
  };
  const dX = computeDx ? (opts.dX === undefined ? new Float32Array(xLen) : f32(where, 'dX', opts.dX, xLen)) : null;
  const dU1 = out('dU1', g.F * r);
  const dU2 = out('dU2', g.C * r);
  const dU3 = out('dU3', g.kh * r);
  const dU4 = out('dU4', g.kw * r);
  const ds = out('ds', r);
  const dots = wantDots ? out('dots', r) : null;
  const { U1, U2, U3, U4, s } = factors;
  const backend = backendCode(resolveBackend(opts.backend));
  const args = [
    backend,
    geomArray(g),
    r,
    X,
    U1,
    U2,
    U3,
    U4,
    s,
    dY,
    dX,
    accumulateDx,
    dU1,
    dU2,
    dU3,
    dU4,
    ds,
    dots,
  ] as const;
  const grads: CpConv2dGrads = { dU1, dU2, dU3, dU4, ds };
  if (dX !== null) grads.dX = dX;
  if (dots !== null) grads.dots = dots;
  return { args, grads };
}

function flag(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(where, name, 'a boolean', describe(value));
  return value;
}
