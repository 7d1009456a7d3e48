/**
 * random.ts — seeded random inputs for tests (mulberry32: tiny, fast, reproducible across
 * platforms). Never zeros: ranges are chosen per test so every element matters.
 */

/** A seeded uniform generator on [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi) as a Float32Array. */
export function uniform(seed: number, n: number, lo: number, hi: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** A Float32Array of length n filled with NaN: outputs start poisoned so unwritten elements fail. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(Number.NaN);
}
