/**
 * compare.ts — float32-vs-float64 comparison with an error bound from the standard analysis of
 * summation: |fl(Σ) − Σ| ≤ γ_k · Σ|terms|, γ_k ≈ k·2⁻²⁴ for k sequential roundings. Callers pass
 * Σ|terms| per element (the float64 reference run on |inputs|) and k for that output. Also sameBits, for
 * results that must be bit-identical (the same kernel called two ways).
 */

/** Largest |got − ref| / (k·2⁻²⁴·absRef + tiny): ≤ 1 means within the bound. NaN counts as ∞. */
export function boundRatio(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  absRef: ArrayLike<number>,
  k: number,
): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let worst = 0;
  const u = 2 ** -24;
  for (let q = 0; q < ref.length; q++) {
    const err = Math.abs((got[q] as number) - (ref[q] as number));
    const ratio = err / (k * u * (absRef[q] as number) + 1e-30);
    if (!(ratio <= worst)) worst = Number.isNaN(ratio) ? Infinity : ratio;
  }
  return worst;
}

export const abs = (x: ArrayLike<number>): Float64Array => Float64Array.from(x as ArrayLike<number>, Math.abs);

/** Whether two float32 arrays hold the same bits (NaNs included): fast on millions of elements, where jest's
 * toEqual walks them one by one. */
export function sameBits(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return bytes(a).equals(bytes(b));
}
