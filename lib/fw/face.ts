/**
 * fw/face.ts — face identification: the ε-support of s after each step (which components sit above
 * the floor), whether it changed, and a detector that reports the support stable for k consecutive
 * update steps. Tested in test/unit/fw-face.test.ts and test/convergence/fw-identification.test.ts.
 */
import type { Layout } from './blocks';

/**
 * The active count per adapter (component i active when s_i − ε > tolAbs of its block). A step
 * keeps the counts up to date while it writes s (`commitBlock` in fw/simplex.ts); `reset`
 * recomputes them (construction, truncation, checkpoint restore).
 */
export class SupportTracker {
  adapterActive: Int32Array;

  constructor(adapters: number) {
    this.adapterActive = new Int32Array(adapters);
  }

  /** Recomputes the counts from s. */
  reset(s: Float64Array, layout: Layout, eps: number, tolAbs: ArrayLike<number>): void {
    if (this.adapterActive.length !== layout.adapters.length)
      this.adapterActive = new Int32Array(layout.adapters.length);
    layout.adapters.forEach((a, ai) => {
      const tol = tolAbs[a.block] as number;
      let active = 0;
      for (let i = a.offset; i < a.offset + a.rank; i++) active += (s[i] as number) - eps > tol ? 1 : 0;
      this.adapterActive[ai] = active;
    });
  }

  /** Active count of one block (sum over its member adapters). */
  blockActive(layout: Layout, block: number): number {
    let n = 0;
    for (const m of (layout.blocks[block] as { members: readonly number[] }).members)
      n += this.adapterActive[m] as number;
    return n;
  }
}

/** Serialisable state of the detector. */
export interface FaceDetectorState {
  readonly stableFor: number;
  readonly supportSince: number;
  readonly identifiedAt: number | null;
}

/**
 * Reports the support as identified once it has not changed for `stableSteps` consecutive counted
 * steps (steps in which s moved, and whose gap met `face.gapBelow` when set). Other steps say
 * nothing about identification, so they neither count nor reset; a change at any step resets.
 */
export class FaceDetector {
  stableFor: number;
  supportSince: number;
  /** First step at which the face counted as identified (null: not yet, or lost again). */
  identifiedAt: number | null;

  constructor(
    readonly stableSteps: number,
    state?: FaceDetectorState,
  ) {
    this.stableFor = state?.stableFor ?? 0;
    this.supportSince = state?.supportSince ?? -1;
    this.identifiedAt = state?.identifiedAt ?? null;
  }

  get identified(): boolean {
    return this.stableFor >= this.stableSteps;
  }

  /** Records step `step`; returns true when the face became identified at this step. */
  observe(step: number, changed: boolean, counts: boolean): boolean {
    const before = this.identified;
    if (changed) {
      this.stableFor = 0;
      this.supportSince = step;
      this.identifiedAt = null;
    } else if (counts) {
      this.stableFor++;
    }
    const now = this.identified;
    if (now && !before) this.identifiedAt = step;
    return now && !before;
  }

  state(): FaceDetectorState {
    return { stableFor: this.stableFor, supportSince: this.supportSince, identifiedAt: this.identifiedAt };
  }
}
