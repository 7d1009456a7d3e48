/**
 * relu.ts — op relu: the rectifier of the ReLU layer, element-wise over a Float32Array (any shape),
 * forward `y = max(x, 0)` (optionally in place) and backward `dX (+)= dY·[m > 0]` with m the
 * forward's input or output. Kernel: native/cpu/relu.cpp (threaded, AVX2).
 * Tested in test/native/relu.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon, type NativeAddon } from '../native';
import { describe, f32, invalid } from '../validate';
import type { OpOptions } from './common';

const native = (): NativeAddon => addon();

/** No CUDA twin yet: 'auto' runs relu on the CPU even where a GPU is usable. */
const HAS_CUDA_KERNEL = false;

/** Options of reluForward. */
export interface ReluForwardOptions extends OpOptions {
  /** Output of x's length; may be `x` itself (in place). Default: a new array. */
  out?: Float32Array;
}

/** Options of reluBackward. */
export interface ReluBackwardOptions extends OpOptions {
  /** Output of dY's length; may be `dY` (or `m`) itself. Default: a new array. */
  dX?: Float32Array;
  /** Add into `dX` instead of overwriting it (needs `dX`). */
  accumulateDx?: boolean;
}

function flag(where: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') invalid(where, name, 'a boolean', describe(value));
  return value;
}

/** An output may be an input itself, or apart from it; a partial overlap has no element-wise meaning. */
function noPartialOverlap(where: string, outName: string, out: Float32Array, inName: string, inp: Float32Array): void {
  if (out.buffer !== inp.buffer || out.length === 0) return;
  if (out.byteOffset === inp.byteOffset) return;
  if (out.byteOffset < inp.byteOffset + inp.byteLength && inp.byteOffset < out.byteOffset + out.byteLength) {
    invalid(where, outName, `the same array as '${inName}' or one that does not overlap it`, 'a partial overlap');
  }
}

/**
 * relu forward: `y = max(x, 0)` element-wise (exactly `x > 0 ? x : 0`: NaN and −0 give +0). Writes
 * into `out` when given (which may be `x`, for in place), else a new array, and returns it.
 */
export function reluForward(x: Float32Array, opts: ReluForwardOptions = {}): Float32Array {
  const where = 'reluForward';
  f32(where, 'x', x);
  const y = opts.out === undefined ? new Float32Array(x.length) : f32(where, 'out', opts.out, x.length);
  noPartialOverlap(where, 'out', y, 'x', x);
  native().reluFwd(backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)), x, y);
  return y;
}

/**
 * relu backward: `dX (+)= dY·[m > 0]`, where `m` is the forward's input x or its output y (the same
 * mask: y > 0 exactly where x > 0). The derivative at 0 is taken as 0 (as PyTorch). Writes into
 * `dX` when given (overwriting, or adding with `accumulateDx`), else a new array, and returns it.
 */
export function reluBackward(m: Float32Array, dY: Float32Array, opts: ReluBackwardOptions = {}): Float32Array {
  const where = 'reluBackward';
  f32(where, 'm', m);
  f32(where, 'dY', dY, m.length);
  const accumulate = flag(where, 'accumulateDx', opts.accumulateDx);
  if (accumulate && opts.dX === undefined) {
    invalid(where, 'dX', 'a Float32Array to accumulate into when accumulateDx is true', 'undefined');
  }
  const dX = opts.dX === undefined ? new Float32Array(m.length) : f32(where, 'dX', opts.dX, m.length);
  noPartialOverlap(where, 'dX', dX, 'dY', dY);
  noPartialOverlap(where, 'dX', dX, 'm', m);
  native().reluBwd(backendCode(resolveBackend(opts.backend, HAS_CUDA_KERNEL)), m, dY, dX, accumulate);
  return dX;
}
