/**
 * tensor.ts — the activation type passed between layers: a row-major Float32Array with its shape
 * (batch first: [N, features] or [N, C, H, W]). Deliberately minimal: layers own the math.
 * Tested through the layer tests in test/native/nn-*.test.ts.
 */
import { DeboraError } from '../errors';
import { describe } from '../validate';

/** A batch of activations or gradients. */
export interface Tensor {
  data: Float32Array;
  shape: readonly number[];
}

/** Product of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Wraps data and shape, checking they agree. */
export function tensor(data: Float32Array, shape: readonly number[]): Tensor {
  if (!(data instanceof Float32Array)) {
    throw new DeboraError(
      `tensor: expected a Float32Array for argument 'data', received ${describe(data)}`,
      'DEBORA_INVALID_ARG',
    );
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new DeboraError(
        `tensor: expected non-negative integer sizes for argument 'shape', received [${shape.join(', ')}]`,
        'DEBORA_INVALID_ARG',
      );
    }
  }
  if (sizeOf(shape) !== data.length) {
    throw new DeboraError(
      `tensor: expected data of length ${sizeOf(shape)} (shape [${shape.join(', ')}]) for argument 'data', received length ${data.length}`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  return { data, shape: shape.slice() };
}

/** Formats a shape for messages: [N, 784]. */
export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A reusable output buffer: returns `buf` when it already has length n, else a new array. Layers
 * keep their outputs between calls so a training step allocates nothing once warm; an output is
 * valid until the next forward (or backward) call of the same layer.
 */
export function reuse(buf: Float32Array | null, n: number): Float32Array {
  return buf !== null && buf.length === n ? buf : new Float32Array(n);
}
