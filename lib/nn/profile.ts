/**
 * profile.ts — an opt-in step profiler: layers and trainStep add the time they spend per category
 * (base layer kernels, adapter kernels, TypeScript layers, loss, optimiser), so a benchmark can
 * report where a training step goes and how much is glue. Off by default; when off each probe
 * is one branch. Used by bench/train.bench.ts; tested in test/native/nn-sequential.test.ts.
 */

/** Where time goes in a training step. */
export type ProfileCategory = 'base' | 'adapter' | 'layers' | 'loss' | 'optimizer' | 'geometry';
export const PROFILE_CATEGORIES: readonly ProfileCategory[] = [
  'base',
  'adapter',
  'layers',
  'loss',
  'optimizer',
  'geometry',
];

class Profiler {
  enabled = false;
  readonly ms: Record<ProfileCategory, number> = { base: 0, adapter: 0, layers: 0, loss: 0, optimizer: 0, geometry: 0 };

  /** A start stamp (0 when disabled). */
  start(): number {
    return this.enabled ? performance.now() : 0;
  }

  /** Adds the time since `t0` to `cat`. */
  stop(cat: ProfileCategory, t0: number): void {
    if (this.enabled) this.ms[cat] += performance.now() - t0;
  }

  reset(): void {
    for (const c of PROFILE_CATEGORIES) this.ms[c] = 0;
  }
}

/** The process-wide profiler. */
export const profiler = new Profiler();
