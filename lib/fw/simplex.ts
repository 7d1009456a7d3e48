/**
 * fw/simplex.ts — one simplex S = ε·1 + τ·Δ of the product: its linear minimisation oracle, FW and
 * away gaps, the away vertex of the minimal face (barycentric weights read off s), the direction
 * choice of each variant, and the in-place update. Tested in test/unit/fw-simplex.test.ts.
 *
 * Every update is written as s_i = ε + (non-negative excess), so s_i ≥ ε holds exactly.
 */
import type { Variant } from './types';

/** One pass over a block: what the oracle, the gaps and the away vertex need. */
export interface BlockScan {
  /** Lowest index of min G̃ over the block, and that minimum. */
  readonly iMin: number;
  readonly gMin: number;
  /** Lowest index of max G̃ over the active coordinates (s_i > ε), −1 when none. */
  readonly jMax: number;
  readonly gMax: number;
  /** Σ G̃_i (s_i − ε), Σ (s_i − ε), Σ (s_i − ε)². */
  readonly gx: number;
  readonly mass: number;
  readonly sq: number;
}

/**
 * Scans one block (ranges of indices into s and g). Hot loop (once per step over all of s): kept
 * branch-light, since inactive coordinates interleave with active ones at random after drops and a
 * data-dependent branch on s_i > ε mispredicts half the time. Inactive coordinates have
 * s_i − ε = 0 exactly, so the sums need no branch. A non-finite G̃_i makes `gx` NaN (∞·0 = NaN),
 * which is how the caller detects bad gradients without a separate pass.
 */
export function scanBlock(s: Float64Array, g: Float64Array, ranges: Int32Array, eps: number): BlockScan {
  let iMin = -1;
  let gMin = Number.POSITIVE_INFINITY;
  let jMax = -1;
  let gMax = Number.NEGATIVE_INFINITY;
  let gx = 0;
  let mass = 0;
  let sq = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    const end = ranges[r + 1] as number;
    for (let i = ranges[r] as number; i < end; i++) {
      const gi = g[i] as number;
      const x = (s[i] as number) - eps;
      gx += gi * x;
      mass += x;
      sq += x * x;
      // strict comparisons: the first (lowest) index wins ties; the rare branch comes first
      if (gi < gMin) {
        gMin = gi;
        iMin = i;
      }
      if (gi > gMax && x > 0) {
        gMax = gi;
        jMax = i;
      }
    }
  }
  return { iMin, gMin, jMax, gMax, gx, mass, sq };
}

/** A direction for one block at the (rescaled) point s' = ε + κ(s − ε). */
export interface Direction {
  readonly kind: 'fw' | 'away' | 'pairwise';
  /** FW vertex: index k of ε·1 + τ·e_k, or −1 for ε·1. */
  readonly z: number;
  /** Away vertex (same encoding), −1 also when there is none (plain FW). */
  readonly y: number;
  /** FW gap −G̃ᵀ(z − s') ≥ 0. */
  readonly gap: number;
  /** Away gap G̃ᵀ(y − s') ≥ 0 (0 for plain FW). */
  readonly awayGap: number;
  /** −G̃ᵀd ≥ 0 along the chosen direction. */
  readonly slope: number;
  /** ‖d‖². */
  readonly dNorm2: number;
  /** Largest feasible step along d. */
  readonly alphaMax: number;
}

/**
 * Chooses the direction (ALGORITHM.md 4, steps 2–5).
 *
 * Barycentric weights of s' are λ_i = (s'_i − ε)/τ for vertex ε·1 + τe_i and λ_0 = 1 − Σλ_i for
 * ε·1. λ_0 comes from a sum of r rounded terms, so ε·1 counts as active only when
 * λ_0 > `lambda0Tol` (callers pass r·2⁻⁵², the relative error bound of that sum): a point on the
 * face Σ(s_i − ε) = τ must not offer ε·1 as an away vertex because of rounding, since the away step
 * that follows would be a pointless drop of length ~1e-16.
 *
 * Ties: the FW vertex is the lowest index; among away candidates ε·1 comes first, then the lowest
 * index. An away step is taken only when its gap beats the FW gap strictly and λ_y < 1 (λ_y = 1
 * means s' = y: the away direction is zero and α_max = λ_y/(1 − λ_y) would divide by zero).
 */
export function chooseDirection(
  scan: BlockScan,
  s: Float64Array,
  eps: number,
  tau: number,
  kappa: number,
  variant: Variant,
  lambda0Tol: number,
): Direction {
  const gx = kappa * scan.gx;
  const mass = kappa * scan.mass;
  const sq = kappa * kappa * scan.sq;
  const z = scan.gMin < 0 ? scan.iMin : -1;
  const zValue = z >= 0 ? tau * scan.gMin : 0; // G̃ᵀ(z − ε·1)
  const gap = Math.max(0, gx - zValue);
  const xz = z >= 0 ? kappa * ((s[z] as number) - eps) : 0;
  const fwNorm2 = z >= 0 ? Math.max(0, sq - xz * xz) + (tau - xz) * (tau - xz) : sq;
  const fw: Direction = { kind: 'fw', z, y: -1, gap, awayGap: 0, slope: gap, dNorm2: fwNorm2, alphaMax: 1 };
  if (variant === 'fw') return fw;

  const lambda0 = 1 - mass / tau;
  const zeroActive = lambda0 > lambda0Tol;
  const y = zeroActive && (scan.jMax < 0 || scan.gMax <= 0) ? -1 : scan.jMax >= 0 ? scan.jMax : -1;
  const yValue = y >= 0 ? tau * scan.gMax : 0;
  const awayGap = Math.max(0, yValue - gx);
  const xy = y >= 0 ? kappa * ((s[y] as number) - eps) : 0;
  const lambdaY = y >= 0 ? xy / tau : lambda0;

  if (variant === 'pairwise') {
    if (z === y || !(lambdaY > 0)) return { ...fw, kind: 'pairwise', y, awayGap, slope: 0, dNorm2: 0, alphaMax: 0 };
    const slope = Math.max(0, yValue - zValue);
    const dNorm2 = z >= 0 && y >= 0 ? 2 * tau * tau : tau * tau;
    return { kind: 'pairwise', z, y, gap, awayGap, slope, dNorm2, alphaMax: lambdaY };
  }

  if (awayGap <= gap || !(lambdaY < 1) || !(lambdaY > 0)) return { ...fw, y, awayGap };
  const awNorm2 = y >= 0 ? Math.max(0, sq - xy * xy) + (xy - tau) * (xy - tau) : sq;
  return { kind: 'away', z, y, gap, awayGap, slope: awayGap, dNorm2: awNorm2, alphaMax: lambdaY / (1 - lambdaY) };
}

/**
 * Writes block coordinates of dst from src: dst = s' + α d, with s' = ε + κ(src − ε) (κ < 1 only
 * when the budget just fell). `drop` means α = α_max: the dropped vertex weight is assigned, not
 * computed (the away coordinate becomes exactly ε; a FW step of 1 lands exactly on z). dst may be src.
 * `dir === null` writes s' itself.
 */
export function writeBlock(
  dst: Float64Array,
  src: Float64Array,
  ranges: Int32Array,
  eps: number,
  kappa: number,
  tau: number,
  dir: Direction | null,
  alpha: number,
  drop: boolean,
): void {
  if (dir === null || alpha === 0) {
    if (dst === src && kappa === 1) return;
    scaleRanges(dst, src, ranges, eps, kappa);
    return;
  }
  if (dir.kind === 'fw') {
    const z = dir.z;
    if (drop) {
      fillRanges(dst, ranges, eps);
      if (z >= 0) dst[z] = eps + tau;
      return;
    }
    const xz = z >= 0 ? (src[z] as number) - eps : 0;
    const c = (1 - alpha) * kappa;
    scaleRanges(dst, src, ranges, eps, c);
    if (z >= 0) dst[z] = eps + (c * xz + alpha * tau);
    return;
  }
  const y = dir.y;
  if (dir.kind === 'away') {
    const xy = y >= 0 ? (src[y] as number) - eps : 0;
    const c = (1 + alpha) * kappa;
    scaleRanges(dst, src, ranges, eps, c);
    if (y >= 0) dst[y] = drop ? eps : eps + Math.max(0, c * xy - alpha * tau);
    return;
  }
  // pairwise: mass α·τ moves from y to z; only two coordinates change when nothing is rescaled
  const z = dir.z;
  const xy = y >= 0 ? kappa * ((src[y] as number) - eps) : 0;
  const xz = z >= 0 ? kappa * ((src[z] as number) - eps) : 0;
  if (!(dst === src && kappa === 1)) scaleRanges(dst, src, ranges, eps, kappa);
  if (y >= 0) dst[y] = drop ? eps : eps + Math.max(0, xy - alpha * tau);
  if (z >= 0) dst[z] = eps + (xz + alpha * tau);
}

function scaleRanges(dst: Float64Array, src: Float64Array, ranges: Int32Array, eps: number, c: number): void {
  for (let r = 0; r < ranges.length; r += 2) {
    const end = ranges[r + 1] as number;
    if (c === 1) {
      for (let i = ranges[r] as number; i < end; i++) dst[i] = src[i] as number;
    } else {
      for (let i = ranges[r] as number; i < end; i++) dst[i] = eps + c * ((src[i] as number) - eps);
    }
  }
}

function fillRanges(dst: Float64Array, ranges: Int32Array, v: number): void {
  for (let r = 0; r < ranges.length; r += 2) dst.fill(v, ranges[r] as number, ranges[r + 1] as number);
}

/** What committing a block changed: its new mass Σ(s_i − ε) and the support transitions. */
export interface CommitStats {
  readonly mass: number;
  readonly entered: number;
  readonly left: number;
}

/**
 * Commits a step in place and keeps the support bookkeeping in the same pass (the second and last
 * O(r) pass of a step): s = s' + α d exactly as `writeBlock` computes it, the mass, and the active
 * count per adapter (`members[k]` owns `ranges[2k..2k+1]`; component i is active when
 * s_i − ε > tol, and was active before when s_i − ε > `tolBefore`).
 *
 * No per-component flags are needed to know how many components entered or left: the bulk of the
 * block is scaled by one factor, and x ↦ (ε + c·x) − ε is monotone in floating point too, so
 * against a single threshold all bulk changes go the same way and the change of the count is the
 * number of changes. Only the FW vertex z and the away vertex y are set individually; they are
 * compared one by one. With κ = 1 and an unchanged tolerance a pairwise step touches those two
 * coordinates only: O(1).
 * `massBefore` is the block's mass from the scan (used only by that O(1) path).
 */
export function commitBlock(
  s: Float64Array,
  ranges: Int32Array,
  members: readonly number[],
  eps: number,
  kappa: number,
  tau: number,
  dir: Direction | null,
  alpha: number,
  drop: boolean,
  tolBefore: number,
  tol: number,
  adapterActive: Int32Array,
  massBefore: number,
): CommitStats {
  const moving = dir !== null && alpha > 0;
  const kind = moving ? (dir as Direction).kind : 'none';
  const z = moving && kind !== 'away' ? (dir as Direction).z : -1;
  const y = moving && kind !== 'fw' ? (dir as Direction).y : -1;
  const xz = z >= 0 ? (s[z] as number) - eps : 0;
  const xy = y >= 0 ? (s[y] as number) - eps : 0;
  const oldFz = xz > tolBefore ? 1 : 0;
  const oldFy = xy > tolBefore ? 1 : 0;
  const mz = z >= 0 ? memberOf(z, ranges) : -1;
  const my = y >= 0 ? memberOf(y, ranges) : -1;
  // coefficient of the excess in the bulk of the block
  const c = kind === 'fw' ? (drop ? 0 : (1 - alpha) * kappa) : kind === 'away' ? (1 + alpha) * kappa : kappa;
  let mass = massBefore;
  let entered = 0;
  let left = 0;
  if (!(kind === 'pairwise' && kappa === 1 && tol === tolBefore)) {
    // counts before, without the special coordinates (they are compared one by one below)
    let before = 0;
    for (const m of members) before += adapterActive[m] as number;
    before -= oldFz + oldFy;
    mass = commitBulk(s, ranges, members, eps, c, tol, adapterActive);
    let after = 0;
    for (const m of members) after += adapterActive[m] as number;
    // the bulk pass counted z and y with their bulk values; take those out
    if (mz >= 0) {
      const f = (s[z] as number) - eps > tol ? 1 : 0;
      after -= f;
      adapterActive[members[mz] as number] = (adapterActive[members[mz] as number] as number) - f + oldFz;
    }
    if (my >= 0) {
      const f = (s[y] as number) - eps > tol ? 1 : 0;
      after -= f;
      adapterActive[members[my] as number] = (adapterActive[members[my] as number] as number) - f + oldFy;
    }
    if (after > before) entered += after - before;
    else left += before - after;
  }
  // the special coordinates: the FW vertex gains α·τ, the away vertex of a pairwise step loses it,
  // the away vertex of an away step is (1 + α)κ·x − α·τ; a drop assigns ε outright
  if (y >= 0) {
    const base = kind === 'away' ? (1 + alpha) * kappa * xy : kappa * xy;
    const v = drop ? eps : eps + Math.max(0, base - alpha * tau);
    mass += v - eps - ((s[y] as number) - eps);
    s[y] = v;
    const f = v - eps > tol ? 1 : 0;
    const m = members[my] as number;
    adapterActive[m] = (adapterActive[m] as number) + f - oldFy;
    if (f > oldFy) entered++;
    else if (f < oldFy) left++;
  }
  if (z >= 0) {
    const base = kind === 'fw' ? (drop ? 0 : (1 - alpha) * kappa * xz) : kappa * xz;
    const v = eps + (base + alpha * tau);
    mass += v - eps - ((s[z] as number) - eps);
    s[z] = v;
    const f = v - eps > tol ? 1 : 0;
    const m = members[mz] as number;
    adapterActive[m] = (adapterActive[m] as number) + f - oldFz;
    if (f > oldFz) entered++;
    else if (f < oldFz) left++;
  }
  return { mass, entered, left };
}

/** Index k of the member range holding global index i. */
function memberOf(i: number, ranges: Int32Array): number {
  for (let k = 0; 2 * k < ranges.length; k++) {
    if (i >= (ranges[2 * k] as number) && i < (ranges[2 * k + 1] as number)) return k;
  }
  return -1;
}

/**
 * The O(r) pass of a commit: s_i ← ε + c(s_i − ε) (no write when c = 1), per-adapter active counts
 * and the mass. Kept apart from the string-typed orchestration above and free of rarely taken
 * branches: V8 otherwise deoptimises it over and over for want of type feedback on a cold compare.
 */
function commitBulk(
  s: Float64Array,
  ranges: Int32Array,
  members: readonly number[],
  eps: number,
  c: number,
  tol: number,
  adapterActive: Int32Array,
): number {
  let mass = 0;
  for (let k = 0; k < members.length; k++) {
    const end = ranges[2 * k + 1] as number;
    let active = 0;
    if (c === 1) {
      // nothing moves (τ changed, so the tolerance did): recount only
      for (let i = ranges[2 * k] as number; i < end; i++) {
        const xs = (s[i] as number) - eps;
        mass += xs;
        active += xs > tol ? 1 : 0;
      }
    } else {
      for (let i = ranges[2 * k] as number; i < end; i++) {
        const si = eps + c * ((s[i] as number) - eps);
        s[i] = si;
        const xs = si - eps; // what the next scan will read
        mass += xs;
        active += xs > tol ? 1 : 0;
      }
    }
    adapterActive[members[k] as number] = active;
  }
  return mass;
}
