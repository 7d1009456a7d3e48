/**
 * data-transforms.test.ts — lib/data/transforms.ts: standardisation fitted on train only (values
 * checked by hand), and area-averaging resize against hand-computed small images (integer and
 * fractional ratios, channels, crop, enlarging, range and rounding) plus mean preservation.
 */
import { type Dataset, makeDataset } from '../../lib/data/dataset';
import { applyStandardize, fitStandardize, resizeImages, standardize } from '../../lib/data/transforms';
import { type DeboraError, isDeboraError } from '../../lib/errors';
import { Rng } from '../../lib/rng';

function thrown(fn: () => unknown): DeboraError {
  try {
    fn();
  } catch (e) {
    if (isDeboraError(e)) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

function ds(values: number[], sampleShape: number[], n = 1): Dataset {
  return makeDataset({ x: Float32Array.from(values), y: new Int32Array(n), sampleShape, numClasses: 1 });
}

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6): void => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs((a[i] as number) - b[i]!)).toBeLessThan(tol);
};

describe('standardize', () => {
  // Three samples of 3 features; feature 2 is constant on train.
  const train = ds([1, 10, 5, 2, 20, 5, 3, 30, 5], [3], 3);
  const held = ds([4, 0, 6], [3], 1);

  test('per-feature statistics come from train and are applied to every set', () => {
    const { train: t, others, stats } = standardize(train, held);
    expect(stats.mode).toBe('feature');
    close(stats.mean, [2, 20, 5]);
    // Population std: sqrt(2/3) and 10·sqrt(2/3); the constant feature keeps std 1.
    const s = Math.sqrt(2 / 3);
    close(stats.std, [s, 10 * s, 1]);
    close(t.x, [-1 / s, -1 / s, 0, 0, 0, 0, 1 / s, 1 / s, 0], 1e-5);
    // The test sample uses train's statistics: (4-2)/s, (0-20)/(10s), (6-5)/1.
    close(others[0]!.x, [2 / s, -2 / s, 1], 1e-5);
    expect(train.x[0]).toBe(1); // inputs untouched
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats); // savable as JSON
  });

  test('global mode uses one mean and std over all features', () => {
    const stats = fitStandardize(train, { mode: 'global' });
    const vals = [1, 10, 5, 2, 20, 5, 3, 30, 5];
    const m = vals.reduce((a, b) => a + b) / 9;
    const sd = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / 9);
    close(stats.mean, [m], 1e-9);
    close(stats.std, [sd], 1e-9);
    close(applyStandardize(held, stats).x, [(4 - m) / sd, (0 - m) / sd, (6 - m) / sd], 1e-5);
  });

  test('mismatched sets and statistics are refused', () => {
    const wide = ds([1, 2, 3, 4], [4]);
    const e = thrown(() => standardize(train, wide));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toBe(
      "standardize: expected samples of 3 features like 'train' for argument 'others[0]', received 4 features",
    );
    const stats = fitStandardize(train);
    expect(thrown(() => applyStandardize(wide, stats)).code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(thrown(() => applyStandardize(held, { ...stats, std: [1, 0, 1] })).message).toContain("'stats.std[1]'");
    expect(thrown(() => fitStandardize(train, { mode: 'row' as never })).message).toContain("'feature', 'global'");
  });
});

describe('resizeImages (area averaging)', () => {
  test('4×4 → 2×2 averages 2×2 blocks', () => {
    const img = ds(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [4, 4],
    );
    const r = resizeImages(img, 2, 2);
    expect(r.sampleShape).toEqual([2, 2]);
    close(r.x, [3.5, 5.5, 11.5, 13.5]);
  });

  test('3×3 → 2×2 weighs pixels by their overlap (ratio 1.5)', () => {
    // Output pixel 0 covers source [0, 1.5): weights 2/3, 1/3; pixel 1 covers [1.5, 3): 1/3, 2/3.
    // For the image 1..9 by rows: (4·1 + 2·2 + 2·4 + 1·5)/9 = 7/3, and so on.
    const r = resizeImages(ds([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]), 2, 2);
    close(r.x, [7 / 3, 11 / 3, 19 / 3, 23 / 3]);
  });

  test('channels are resized separately and the [C, H, W] rank is kept', () => {
    const ch0 = [1, 2, 3, 4, 5, 6, 7, 8];
    const r = resizeImages(ds([...ch0, ...ch0.map((v) => 10 * v)], [2, 2, 4]), 1, 2);
    expect(r.sampleShape).toEqual([2, 1, 2]);
    close(r.x, [3.5, 5.5, 35, 55]);
  });

  test('enlarging repeats pixels; crop, range and round apply', () => {
    close(resizeImages(ds([1, 2], [1, 2]), 1, 4).x, [1, 1, 2, 2]);
    // Crop the central 2×2 of a 4×4 then halve it: the mean of 6, 7, 10, 11.
    const img = ds(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [4, 4],
    );
    close(resizeImages(img, 1, 1, { crop: { top: 1, left: 1, height: 2, width: 2 } }).x, [8.5]);
    // [0, 1] → [0, 16]: 0.3 → 4.8, rounded to 5.
    const v = ds([0.3, 0.3, 0.3, 0.3], [2, 2]);
    close(resizeImages(v, 1, 1, { range: [0, 16] }).x, [4.8], 1e-5);
    close(resizeImages(v, 1, 1, { range: [0, 16], round: true }).x, [5]);
    close(resizeImages(v, 1, 1, { inputRange: [0, 0.5], range: [-1, 1] }).x, [0.2], 1e-6);
  });

  test('28×28 → 8×8 keeps every image mean (ratio 3.5)', () => {
    const rng = new Rng(4);
    const n = 3;
    const x = rng.fillUniform(new Float32Array(n * 784), 0, 1);
    const r = resizeImages(makeDataset({ x, y: new Int32Array(n), sampleShape: [1, 28, 28], numClasses: 1 }), 8, 8);
    expect(r.sampleShape).toEqual([1, 8, 8]);
    for (let i = 0; i < n; i++) {
      const mIn = x.subarray(i * 784, (i + 1) * 784).reduce((a, b) => a + b) / 784;
      const mOut = r.x.subarray(i * 64, (i + 1) * 64).reduce((a, b) => a + b) / 64;
      expect(Math.abs(mIn - mOut)).toBeLessThan(1e-5);
    }
  });

  test('bad arguments are refused', () => {
    const flat = ds([1, 2, 3, 4], [4]);
    expect(thrown(() => resizeImages(flat, 2, 2)).message).toBe(
      "resizeImages: expected images of sample shape [H, W] or [C, H, W] (see reshapeDataset) for argument 'ds', received sample shape [4]",
    );
    const img = ds([1, 2, 3, 4], [2, 2]);
    expect(thrown(() => resizeImages(img, 0, 2)).message).toContain("'height'");
    expect(thrown(() => resizeImages(img, 1, 1, { crop: { top: 1, left: 0, height: 2, width: 2 } })).message).toContain(
      "'options.crop.height'",
    );
    expect(thrown(() => resizeImages(img, 1, 1, { range: [1, 1] })).message).toContain('lo < hi');
  });
});
