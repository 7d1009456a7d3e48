/**
 * fw/truncate.ts — rank truncation (ALGORITHM.md 4, step 8): which components of each adapter sit at
 * ε and are deleted, the old → new index maps, and the shrunken s. The stepper applies the plan.
 * Tested in test/unit/fw-truncate.test.ts.
 */
import type { Layout } from './blocks';
import type { AdapterSpec, AdapterTruncation } from './types';

/** A truncation worked out but not yet applied. */
export interface TruncationPlan {
  readonly adapters: readonly AdapterTruncation[];
  readonly newAdapters: readonly AdapterSpec[];
  /** Old global indices kept, ascending: new s = old s at these indices. */
  readonly keptGlobal: Int32Array;
  readonly removed: number;
}

/**
 * Plans the removal of every inactive component (s_i − ε ≤ tolAbs of its block), keeping at least
 * `minRank` per adapter: if an adapter would fall below it, its largest inactive weights are kept
 * (ties: lowest index), so the adapter survives with components at (or within rounding of) ε.
 */
export function planTruncation(
  s: Float64Array,
  layout: Layout,
  adapters: readonly AdapterSpec[],
  eps: number,
  tolAbs: ArrayLike<number>,
  minRank: number,
): TruncationPlan {
  const out: AdapterTruncation[] = [];
  const newAdapters: AdapterSpec[] = [];
  const keptGlobal: number[] = [];
  let removed = 0;
  layout.adapters.forEach((slot, ai) => {
    const keep = new Uint8Array(slot.rank);
    let nKeep = 0;
    const tol = tolAbs[slot.block] as number;
    for (let i = 0; i < slot.rank; i++) {
      if ((s[slot.offset + i] as number) - eps > tol) {
        keep[i] = 1;
        nKeep++;
      }
    }
    const floor = Math.min(minRank, slot.rank);
    if (nKeep < floor) {
      const candidates: number[] = [];
      for (let i = 0; i < slot.rank; i++) if (keep[i] === 0) candidates.push(i);
      candidates.sort((a, b) => (s[slot.offset + b] as number) - (s[slot.offset + a] as number) || a - b);
      for (const i of candidates.slice(0, floor - nKeep)) keep[i] = 1;
      nKeep = floor;
    }
    const deleted: number[] = [];
    const kept: number[] = [];
    const map: number[] = new Array<number>(slot.rank);
    for (let i = 0; i < slot.rank; i++) {
      if (keep[i] === 1) {
        map[i] = kept.length;
        kept.push(i);
        keptGlobal.push(slot.offset + i);
      } else {
        map[i] = -1;
        deleted.push(i);
      }
    }
    removed += deleted.length;
    out.push({ name: slot.name, oldRank: slot.rank, newRank: kept.length, deleted, kept, map });
    const spec = adapters[ai] as AdapterSpec;
    newAdapters.push(
      spec.group === undefined
        ? { name: spec.name, rank: kept.length }
        : { name: spec.name, rank: kept.length, group: spec.group },
    );
  });
  return { adapters: out, newAdapters, keptGlobal: Int32Array.from(keptGlobal), removed };
}
