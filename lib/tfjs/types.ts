/**
 * tfjs/types.ts — the types the tfjs integration borrows from `@tensorflow/tfjs` (type-only: nothing
 * here loads tfjs), and the tensor checks shared by its modules. The caller passes its own `tf`
 * namespace to every entry point, so the tensors, variables and layer classes are always those of the
 * user's tfjs instance. Tested through test/native/tfjs-ops.test.ts.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { describe, invalid } from '../validate';

/**
 * The `@tensorflow/tfjs` namespace (`import * as tf from '@tensorflow/tfjs'`). `@tensorflow/tfjs-node`
 * exports the same namespace and works too.
 */
export type Tf = typeof tfjs;
export type Tensor = tfjs.Tensor;
export type Tensor1D = tfjs.Tensor1D;
export type Tensor2D = tfjs.Tensor2D;
export type Variable = tfjs.Variable;
export type LayerVariable = tfjs.LayerVariable;
export type Optimizer = tfjs.Optimizer;
export type NamedTensorMap = tfjs.NamedTensorMap;
export type Scalar = tfjs.Scalar;

/** `tf.customGrad`'s save callback (not re-exported by name from the tfjs namespace). */
export type GradSaveFunc = (save: Tensor[]) => void;

/** True for a tfjs tensor of this or another tfjs instance (duck-typed: instanceof is realm- and copy-bound). */
export function isTensor(v: unknown): v is Tensor {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as { shape?: unknown }).shape) &&
    typeof (v as { dataSync?: unknown }).dataSync === 'function' &&
    typeof (v as { dtype?: unknown }).dtype === 'string'
  );
}

/** Describes a received value, naming shape and dtype for tensors. */
export function describeTensor(v: unknown): string {
  if (isTensor(v)) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  return describe(v);
}

/** A float32 tensor of rank `rank` (and the given sizes where not null); returns its shape. */
export function checkTensor(
  where: string,
  name: string,
  v: unknown,
  rank: number,
  sizes: readonly (number | null)[] = [],
): number[] {
  const want =
    sizes.length === rank ? `[${sizes.map((s) => (s === null ? '?' : String(s))).join(', ')}]` : `rank ${rank}`;
  if (!isTensor(v) || v.dtype !== 'float32' || v.shape.length !== rank) {
    invalid(where, name, `a float32 tfjs tensor of shape ${want}`, describeTensor(v));
  }
  if (v.isDisposed) invalid(where, name, 'a live tensor', 'a disposed tensor');
  sizes.forEach((s, k) => {
    if (s !== null && v.shape[k] !== s) {
      invalid(where, name, `a float32 tfjs tensor of shape ${want}`, describeTensor(v), 'DEBORA_SHAPE_MISMATCH');
    }
  });
  return v.shape.slice();
}

/**
 * The tensor's values as a Float32Array. On the CPU backend this is the backend's own buffer (no
 * copy): read it, never write it. Other backends download (a copy, and a GPU sync).
 */
export function f32Data(where: string, name: string, t: Tensor): Float32Array {
  const d = t.dataSync();
  if (!(d instanceof Float32Array)) invalid(where, name, 'float32 data', describe(d));
  return d;
}

/** Checks that `tf` looks like the tfjs namespace (the functions this integration calls). */
export function checkTf(where: string, tf: unknown): Tf {
  const t = tf as Partial<Tf> | null;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.customGrad !== 'function' ||
    typeof t.tensor !== 'function' ||
    typeof t.variableGrads !== 'function' ||
    typeof t.layers?.Layer !== 'function'
  ) {
    invalid(
      where,
      'tf',
      "the @tensorflow/tfjs namespace (import * as tf from '@tensorflow/tfjs', then pass tf)",
      describe(tf),
    );
  }
  return t as Tf;
}
