/**
 * rng.ts — the library's seeded random generator: one small, fast, platform-independent stream
 * (mulberry32) whose whole state is one 32-bit integer, so it can be checkpointed and resumed
 * exactly (`state` / `Rng.fromState`). Used for initialisation, dropout, shuffling and splits.
 * Tested in test/unit/rng.test.ts.
 */
import { int } from './validate';

// Module-scope bindings: hot loops then do no global lookups, which are ~100× slower inside vm
// contexts such as jest's (jestjs/jest#15502), and cost nothing in plain Node.
const { imul, sqrt, log, sin, cos } = Math;

/** A seeded stream of uniform and normal numbers. Same seed → same numbers, on every platform. */
export class Rng {
  private a: number;
  /** A second normal from the last Box–Muller pair, or NaN. Part of the state. */
  private spare = Number.NaN;

  constructor(seed = 0) {
    this.a = int('Rng', 'seed', seed, 0, 0xffffffff) >>> 0;
  }

  /** Uniform on [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform on [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = Number.NaN;
      return v;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const rad = sqrt(-2 * log(u));
    this.spare = rad * sin(2 * Math.PI * v);
    return rad * cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fills `out` with N(0, std²) samples. */
  fillNormal(out: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = std * this.normal();
    return out;
  }

  /** Fills `out` with U[lo, hi) samples. */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** A new independent stream derived from this one (advances this one by one draw). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296) >>> 0);
  }

  /** The complete state, JSON-serialisable, for checkpoints. */
  get state(): { a: number; spare: number | null } {
    return { a: this.a, spare: Number.isNaN(this.spare) ? null : this.spare };
  }

  /** Restores a generator from `state`; it continues exactly where the saved one stopped. */
  static fromState(state: { a: number; spare: number | null }): Rng {
    const r = new Rng(0);
    r.a = int('Rng.fromState', 'state.a', state.a, 0, 0xffffffff) >>> 0;
    r.spare = state.spare ?? Number.NaN;
    return r;
  }
}
