/**
 * transforms.ts — feature transforms on data sets: standardisation whose statistics come from the
 * training part only (so nothing leaks from val/test), and area-averaging image resizing with an
 * optional crop and value rescale (MNIST 28×28 → 8×8 in 0..16 to match the UCI digits).
 * Tested in test/unit/data-transforms.test.ts.
 */

import { describe, int, invalid, num, oneOf } from '../validate';
import { build, checkDataset, type Dataset, sampleSize } from './dataset';

/** Per-feature (one mean/std per feature) or global (one mean/std for all features). */
export type StandardizeMode = 'feature' | 'global';

/** Statistics fitted by `fitStandardize`; plain arrays so they can be saved as JSON. */
export interface StandardizeStats {
  mode: StandardizeMode;
  /** One entry per feature (mode 'feature') or a single entry (mode 'global'). */
  mean: number[];
  /** Same length as `mean`; features constant on train get 1 (they are only centred). */
  std: number[];
}

/** Options of `fitStandardize`. */
export interface StandardizeOptions {
  /** Default 'feature'. */
  mode?: StandardizeMode;
}

/**
 * Mean and standard deviation (population, two-pass in float64) of the training features. A
 * feature that is constant on train keeps std 1, as scikit-learn does, so that a value unseen in
 * training (an MNIST corner pixel that is lit only in the test set) is not blown up by 1/ε.
 */
export function fitStandardize(train: Dataset, options: StandardizeOptions = {}): StandardizeStats {
  const where = 'fitStandardize';
  checkDataset(where, 'train', train);
  const mode = oneOf(where, 'options.mode', options.mode ?? 'feature', ['feature', 'global'] as const);
  if (train.n === 0) invalid(where, 'train', 'a data set with at least one sample', '0 samples');
  const d = sampleSize(train);
  const k = mode === 'feature' ? d : 1;
  const sum = new Float64Array(k);
  const x = train.x;
  for (let i = 0; i < train.n; i++) {
    const o = i * d;
    if (mode === 'feature') for (let j = 0; j < d; j++) sum[j]! += x[o + j]!;
    else for (let j = 0; j < d; j++) sum[0]! += x[o + j]!;
  }
  const count = mode === 'feature' ? train.n : train.n * d;
  const mean = Array.from(sum, (s) => s / count);
  const sq = new Float64Array(k);
  for (let i = 0; i < train.n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const c = mode === 'feature' ? j : 0;
      const t = x[o + j]! - mean[c]!;
      sq[c]! += t * t;
    }
  }
  const std = Array.from(sq, (s, c) => {
    const sd = Math.sqrt(s / count);
    return sd <= 1e-6 * Math.max(1, Math.abs(mean[c]!)) ? 1 : sd;
  });
  return { mode, mean, std };
}

/** A copy of `ds` with `(x - mean) / std` applied (statistics from `fitStandardize`). */
export function applyStandardize(ds: Dataset, stats: StandardizeStats): Dataset {
  const where = 'applyStandardize';
  checkDataset(where, 'ds', ds);
  if (typeof stats !== 'object' || stats === null) invalid(where, 'stats', 'StandardizeStats', describe(stats));
  const mode = oneOf(where, 'stats.mode', stats.mode, ['feature', 'global'] as const);
  const d = sampleSize(ds);
  const k = mode === 'feature' ? d : 1;
  for (const key of ['mean', 'std'] as const) {
    const v = stats[key];
    if (!Array.isArray(v) || v.length !== k) {
      invalid(
        where,
        `stats.${key}`,
        `an array of ${k} numbers (mode '${mode}', ${d} features)`,
        describe(v),
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    for (let j = 0; j < k; j++) num(where, `stats.${key}[${j}]`, v[j], key === 'std' ? { min: 0, minOpen: true } : {});
  }
  const mean = Float64Array.from(stats.mean);
  const inv = Float64Array.from(stats.std, (s) => 1 / s);
  const out = new Float32Array(ds.x.length);
  const x = ds.x;
  for (let i = 0; i < ds.n; i++) {
    const o = i * d;
    if (mode === 'feature') for (let j = 0; j < d; j++) out[o + j] = (x[o + j]! - mean[j]!) * inv[j]!;
    else for (let j = 0; j < d; j++) out[o + j] = (x[o + j]! - mean[0]!) * inv[0]!;
  }
  return build(ds.name, out, ds.y, ds.sampleShape, ds.numClasses, ds.classNames);
}

/**
 * Per-feature standardisation fitted on `train` only and applied to `train` and every one of
 * `others` (copies; the inputs are unchanged). Returns the statistics too, to save with a model.
 * For one global mean/std use `fitStandardize(train, { mode: 'global' })` and `applyStandardize`.
 */
export function standardize(
  train: Dataset,
  ...others: Dataset[]
): { train: Dataset; others: Dataset[]; stats: StandardizeStats } {
  const stats = fitStandardize(train);
  others.forEach((o, i) => {
    checkDataset('standardize', `others[${i}]`, o);
    if (sampleSize(o) !== sampleSize(train)) {
      invalid(
        'standardize',
        `others[${i}]`,
        `samples of ${sampleSize(train)} features like 'train'`,
        `${sampleSize(o)} features`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
  });
  return { train: applyStandardize(train, stats), others: others.map((o) => applyStandardize(o, stats)), stats };
}

/** Options of `resizeImages`. */
export interface ResizeOptions {
  /** Region of the source kept before resizing (e.g. MNIST's central 20×20 box). Default: all. */
  crop?: { top: number; left: number; height: number; width: number };
  /** The value range of the source (default [0, 1]); used only with `range`. */
  inputRange?: readonly [number, number];
  /** Rescale values linearly from `inputRange` to this range (e.g. [0, 16] for UCI digits). */
  range?: readonly [number, number];
  /** Round the results to integers (after rescaling), like the UCI digits' pixel counts. */
  round?: boolean;
}

/**
 * Overlap weights of area averaging from `src` to `dst` pixels along one axis: output pixel `o`
 * covers the source interval [o·s, (o+1)·s) with s = src/dst, and each source pixel counts by the
 * length of its overlap / s. Works for any ratio (28 → 8 is 3.5) and for enlarging.
 */
function areaWeights(src: number, dst: number): { start: Int32Array; w: Float64Array[] } {
  const s = src / dst;
  const start = new Int32Array(dst);
  const w: Float64Array[] = [];
  for (let o = 0; o < dst; o++) {
    const lo = o * s;
    const hi = (o + 1) * s;
    const k0 = Math.floor(lo);
    const k1 = Math.min(src, Math.ceil(hi - 1e-12));
    start[o] = k0;
    const row = new Float64Array(k1 - k0);
    for (let k = k0; k < k1; k++) row[k - k0] = (Math.min(k + 1, hi) - Math.max(k, lo)) / s;
    w.push(row);
  }
  return { start, w };
}

function checkRange(where: string, name: string, r: unknown): [number, number] {
  if (!Array.isArray(r) || r.length !== 2) invalid(where, name, 'a pair [lo, hi]', describe(r));
  const lo = num(where, `${name}[0]`, r[0]);
  const hi = num(where, `${name}[1]`, r[1]);
  if (!(hi > lo)) invalid(where, name, 'a pair [lo, hi] with lo < hi', `[${lo}, ${hi}]`);
  return [lo, hi];
}

/**
 * Resizes every image to `height × width` by area averaging (each output pixel is the mean of the
 * source area it covers, so a downsampled image keeps its mean brightness). Images have sample
 * shape `[H, W]` or `[C, H, W]` (the output keeps the rank); reshape flat samples first.
 */
export function resizeImages(ds: Dataset, height: number, width: number, options: ResizeOptions = {}): Dataset {
  const where = 'resizeImages';
  checkDataset(where, 'ds', ds);
  const shape = ds.sampleShape;
  if (shape.length !== 2 && shape.length !== 3) {
    invalid(
      where,
      'ds',
      'images of sample shape [H, W] or [C, H, W] (see reshapeDataset)',
      `sample shape [${shape.join(', ')}]`,
    );
  }
  const outH = int(where, 'height', height, 1);
  const outW = int(where, 'width', width, 1);
  const C = shape.length === 3 ? shape[0]! : 1;
  const H = shape[shape.length - 2]!;
  const W = shape[shape.length - 1]!;
  const crop = options.crop ?? { top: 0, left: 0, height: H, width: W };
  if (typeof crop !== 'object' || crop === null)
    invalid(where, 'options.crop', '{ top, left, height, width }', describe(crop));
  const top = int(where, 'options.crop.top', crop.top, 0, H - 1);
  const left = int(where, 'options.crop.left', crop.left, 0, W - 1);
  const ch = int(where, 'options.crop.height', crop.height, 1, H - top);
  const cw = int(where, 'options.crop.width', crop.width, 1, W - left);
  let scale = 1;
  let shift = 0;
  if (options.range !== undefined) {
    const [ilo, ihi] = checkRange(where, 'options.inputRange', options.inputRange ?? [0, 1]);
    const [lo, hi] = checkRange(where, 'options.range', options.range);
    scale = (hi - lo) / (ihi - ilo);
    shift = lo - ilo * scale;
  } else if (options.inputRange !== undefined) {
    invalid(where, 'options.range', "a target range when 'inputRange' is given", 'undefined');
  }
  const round = options.round ?? false;
  if (typeof round !== 'boolean') invalid(where, 'options.round', 'a boolean', describe(round));

  const ay = areaWeights(ch, outH);
  const ax = areaWeights(cw, outW);
  const d = C * H * W;
  const outD = C * outH * outW;
  const out = new Float32Array(ds.n * outD);
  const tmp = new Float64Array(ch * outW); // rows of the crop, already resized along x
  for (let i = 0; i < ds.n; i++) {
    for (let c = 0; c < C; c++) {
      const base = i * d + c * H * W;
      for (let r = 0; r < ch; r++) {
        const row = base + (top + r) * W + left;
        for (let ox = 0; ox < outW; ox++) {
          const w = ax.w[ox]!;
          const k0 = row + ax.start[ox]!;
          let acc = 0;
          for (let k = 0; k < w.length; k++) acc += w[k]! * ds.x[k0 + k]!;
          tmp[r * outW + ox] = acc;
        }
      }
      const ob = i * outD + c * outH * outW;
      for (let oy = 0; oy < outH; oy++) {
        const w = ay.w[oy]!;
        const r0 = ay.start[oy]!;
        for (let ox = 0; ox < outW; ox++) {
          let acc = 0;
          for (let k = 0; k < w.length; k++) acc += w[k]! * tmp[(r0 + k) * outW + ox]!;
          let v = acc * scale + shift;
          if (round) v = Math.round(v);
          out[ob + oy * outW + ox] = v;
        }
      }
    }
  }
  const outShape = shape.length === 3 ? [C, outH, outW] : [outH, outW];
  return build(ds.name, out, ds.y, outShape, ds.numClasses, ds.classNames);
}
