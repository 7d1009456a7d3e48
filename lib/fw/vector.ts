/**
 * fw/vector.ts — vectors at the boundary of the Frank-Wolfe API: Float32Array, Float64Array or
 * number[] in, float64 inside (s is small and float64 keeps the simplex constraints exact enough).
 * Tested in test/unit/fw-stepper.test.ts (bad gradients) and test/unit/fw-config.test.ts (bad s0).
 */
import { describe, finite, invalid } from '../validate';

/** The vector types the Frank-Wolfe API accepts. */
export type VectorLike = Float64Array | Float32Array | readonly number[];

function isVectorLike(v: unknown): v is VectorLike {
  return v instanceof Float64Array || v instanceof Float32Array || Array.isArray(v);
}

/**
 * Copies `v` into `out` (length `out.length`, scratch), checking type and length, and finiteness
 * unless `checkTypedFinite` is false for a typed array (the caller then checks the copy itself, as
 * the Frank-Wolfe scan does for free). number[] entries are always checked (they may not be numbers).
 */
export function readVector(where: string, name: string, v: unknown, out: Float64Array, checkTypedFinite = true): void {
  const n = out.length;
  if (!isVectorLike(v)) invalid(where, name, `a Float64Array, Float32Array or number[] of length ${n}`, describe(v));
  if (v.length !== n) invalid(where, name, `a vector of length ${n}`, describe(v), 'DEBORA_SHAPE_MISMATCH');
  if (!Array.isArray(v)) {
    // typed arrays: a native copy, then one monomorphic scan of the float64 copy
    out.set(v as Float64Array | Float32Array);
    if (checkTypedFinite) for (let i = 0; i < n; i++) if (!Number.isFinite(out[i] as number)) finite(where, name, v);
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = v[i] as number;
    if (!Number.isFinite(x)) {
      if (typeof x !== 'number') invalid(where, name, 'a vector of numbers', `${describe(x)} at index ${i}`);
      finite(where, name, v);
    }
    out[i] = x;
  }
}

/** A new Float64Array copy of a checked vector of the given length. */
export function toFloat64(where: string, name: string, v: unknown, length: number): Float64Array {
  const out = new Float64Array(length);
  readVector(where, name, v, out);
  return out;
}
