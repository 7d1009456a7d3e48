/**
 * max_pool2d.ts — op max_pool2d: 2-D max pooling of an NCHW batch (kernel, stride, zero padding of
 * at most half the kernel, floor output size), forward returning the maxima and their argmax
 * (int32 index within each H×W plane; ties to the first maximum in row-major window order) and
 * backward scattering dY back through argmax. Kernel: native/cpu/max_pool2d.cpp (threaded over
 * planes, AVX2 for 2×2 stride 2). Tested in test/native/max-pool2d.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon, type NativeAddon } from '../native';
import { describe, f32, int, intPair, invalid } from '../validate';
import type { OpOptions } from './common';
import type { Conv2dPair } from './cp_conv2d';

const native = (): NativeAddon => addon();

/** No CUDA twin yet: 'auto' runs max_pool2d on the CPU even where a GPU is usable. */
const HAS_CUDA_KERNEL = false;

/** Largest size the native kernel takes in any one field (and H·W: argmax is int32). */
const MAX_DIM = 2 ** 31 - 1;

/**
 * The geometry of a 2-D pooling on an NCHW batch: X is batch×C×H×W, the window kh×kw. stride
 * defaults to the window (as PyTorch), padding (never a maximum) to 0 and is at most half the window.
 */
export interface Pool2dGeometry {
  batch: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  stride?: Conv2dPair;
  padding?: Conv2dPair;
}

/** Options of maxPool2dForward. */
export interface MaxPool2dForwardOptions extends OpOptions {
  /** Output batch×C×Ho×Wo (exact length); default: a new array. */
  out?: Float32Array;
  /** Int32Array of the output's length for the argmax; default: a new array. */
  argmax?: Int32Array;
}

/** What maxPool2dForward returns. */
export interface MaxPool2dForwardResult {
  /** The window maxima, batch×C×Ho×Wo. */
  y: Float32Array;
  /** Per output, the index hi·W + wi of its maximum within its H×W input plane (maxPool2dBackward's input). */
  argmax: Int32Array;
}

/** Options of maxPool2dBackward. */
export interface MaxPool2dBackwardOptions extends OpOptions {
  /** Output batch×C×H×W (exact length); default: a new array. */
  dX?: Float32Array;
  /** Add into `dX` instead of overwriting it (needs `dX`). */
  accumulateDx?: boolean;
}

interface Resolved {
  batch: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  Ho: number;
  Wo: number;
}

function resolve(where: string, geom: Pool2dGeometry): Resolved {
  if (typeof geom !== 'object' || geom === null) invalid(where, 'geom', 'a geometry object', describe(geom));
  const dim = (k: 'batch' | 'C' | 'H' | 'W' | 'kh' | 'kw') => int(where, `geom.${k}`, geom[k], 1, MAX_DIM);
  const g = { batch: dim('batch'), C: dim('C'), H: dim('H'), W: dim('W'), kh: dim('kh'), kw: dim('kw') };
  const [sh, sw] = intPair(where, 'geom.stride', geom.stride, [g.kh, g.kw], 1, MAX_DIM);
  const [ph, pw] = intPair(where, 'geom.padding', geom.padding, [0, 0], 0, MAX_DIM);
  if (2 * ph > g.kh || 2 * pw > g.kw) {
    invalid(
      where,
      'geom.padding',
      'at most half the window on each axis',
      `[${ph}, ${pw}] with kh=${g.kh}, kw=${g.kw}`,
    );
  }
  // Checked before dividing: a negative numerator would floor into a bogus size.
  if (g.kh > g.H + 2 * ph || g.kw > g.W + 2 * pw) {
    invalid(
      where,
      'geom',
      'a window no larger than the padded input (an output of at least 1×1)',
      `kh=${g.kh}, kw=${g.kw}, H=${g.H}, W=${g.W}, padding=[${ph}, ${pw}]`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  if (g.H * g.W > MAX_DIM) {
    invalid(where, 'geom', `H·W <= ${MAX_DIM} (argmax is an int32 index within a plane)`, `H=${g.H}, W=${g.W}`);
  }
  const Ho = Math.floor((g.H + 2 * ph - g.kh) / sh) + 1;
  const Wo = Math.floor((g.W + 2 * pw - g.kw) / sw) + 1;
  if (!Number.isSafeInteger(g.batch * g.C * g.H * g.W)) {
    invalid(
      where,
      'geom',
      'sizes whose product (the length of X) is a safe integer',
      String(g.batch * g.C * g.H * g.W),
    );
  }
  return { ...g, sh, sw, ph, pw, Ho, Wo };
}

const geomArray = (g: Resolved): number[] => [g.batch, g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw];

/** Output height and width of a pooling geometry (validated). */
export function pool2dOutputSize(geom: Pool2dGeometry): { Ho: number; Wo: number } {
  const g = resolve('pool2dOutputSize', geom);
  return { Ho: g.Ho, Wo: g.Wo };
}

function int32(where: string, name: string, value: unknown, length: number): Int32Array {
  if (!(value instanceof Int32Array)) invalid(where, name, `an Int32Array of length ${length}`, describe(value));
  if (value.length !== length) {
    invalid(where, name, `an Int32Array of length ${length}`, describe(value), 'DEBORA_SHAPE_MISMATCH');
  }
  return value;
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Outputs are written while inputs are read in another order: they must not share memory. */
function apart(where: string, outName: string, out: ArrayBufferView, others: [string, ArrayBufferView][]): void {
  for (const [name, v] of others) {
    if (overlaps(out, v)) invalid(where, outName, `an array that does not overlap '${name}'`, 'an overlapping view');
  }
}

/**
 * max_pool2d forward: `y[n,c,i,j]` = the maximum of X over the window at (i·sh − ph, j·sw − pw),
 * cells outside the image excluded; `argmax` = the index hi·W + wi of that maximum within the H×W
 * plane. Among equal maxima the first in row-major window order wins (a cell replaces the best
 * only when strictly greater). Writes into `out` / `argmax` when given, else new arrays.
 */
export function maxPool2dForward(
  geom: Pool2dGeometry,
  X: Float32Array,
  opts: MaxPool2dForwardOptions = {},
): MaxPool2dForwardResult {
  const where = 'maxPool2dForward';
  const g = resolve(where, geom);
  f32(where, 'X', X, g.batch * g.C * g.H * g.W);
  const len = g.batch * g.C * g.Ho * g.Wo;
  const y = opts.out === undefined ? new Float32Array(len) : f32(where, 'out', opts.out, len);
  const argmax = opts.argmax === undefined ? new Int32Array(len) : int32(where, 'argmax', opts.argmax, len);
  apart(where, 'out', y, [['X', X]]);
  apart(where, 'argmax', argmax, [
    ['X', X],
    ['out', y],
  ]);
  native().maxPool2dFwd(backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)), geomArray(g), X, y, argmax);
  return { y, argmax };
}

/**
 * max_pool2d backward from dY = ∂L/∂y: `dX (+)= ` dY scattered to the forward's argmax (where
 * windows overlap, the contributions to one cell add up; cells no window chose get 0). argmax
 * values outside [0, H·W) are refused natively before anything is written. Writes into `dX` when
 * given (overwriting, or adding with `accumulateDx`), else a new array, and returns it.
 */
export function maxPool2dBackward(
  geom: Pool2dGeometry,
  argmax: Int32Array,
  dY: Float32Array,
  opts: MaxPool2dBackwardOptions = {},
): Float32Array {
  const where = 'maxPool2dBackward';
  const g = resolve(where, geom);
  const len = g.batch * g.C * g.Ho * g.Wo;
  int32(where, 'argmax', argmax, len);
  f32(where, 'dY', dY, len);
  let accumulate = false;
  if (opts.accumulateDx !== undefined) {
    if (typeof opts.accumulateDx !== 'boolean')
      invalid(where, 'accumulateDx', 'a boolean', describe(opts.accumulateDx));
    accumulate = opts.accumulateDx;
  }
  if (accumulate && opts.dX === undefined) {
    invalid(where, 'dX', 'a Float32Array to accumulate into when accumulateDx is true', 'undefined');
  }
  const n = g.batch * g.C * g.H * g.W;
  const dX = opts.dX === undefined ? new Float32Array(n) : f32(where, 'dX', opts.dX, n);
  apart(where, 'dX', dX, [
    ['dY', dY],
    ['argmax', argmax],
  ]);
  native().maxPool2dBwd(
    backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)),
    geomArray(g),
    argmax,
    dY,
    dX,
    accumulate,
  );
  return dX;
}
