/**
 * dataset.ts — the in-memory labelled data set (row-major Float32Array features, Int32Array labels)
 * with validated construction, subsets and seeded splits: train/val/test, the random halves D1/D2
 * of the bilevel problem (ALGORITHM.md section 2) and stratified samples ("2,000 MNIST digits").
 * Tested in test/unit/data-dataset.test.ts.
 */
import { Rng } from '../rng';
import { describe, finite, int, invalid } from '../validate';

/**
 * A labelled data set held in memory. Sample `i` is `x[i·d, (i+1)·d)` with `d` the product of
 * `sampleShape` (e.g. `[784]` for flat features or `[1, 28, 28]` for one-channel images, NCHW
 * without the batch axis) and its class is `y[i]` in `[0, numClasses)`.
 */
export interface Dataset {
  /** A label for logs and error messages, e.g. `'fashion-mnist:train'`. */
  readonly name: string;
  /** `n · d` features, row-major. */
  readonly x: Float32Array;
  /** `n` class labels in `[0, numClasses)`. */
  readonly y: Int32Array;
  /** Number of samples. */
  readonly n: number;
  /** Shape of one sample (without the batch axis). */
  readonly sampleShape: readonly number[];
  /** Number of classes (a subset keeps the parent's count even when a class is absent). */
  readonly numClasses: number;
  /** Optional human-readable class names, `numClasses` of them. */
  readonly classNames?: readonly string[];
}

/** What `makeDataset` needs; `n` is taken from `y.length`. */
export interface DatasetInit {
  name?: string;
  x: Float32Array;
  y: Int32Array;
  sampleShape: readonly number[];
  numClasses: number;
  classNames?: readonly string[];
}

/** Number of features in one sample (the product of `sampleShape`). */
export function sampleSize(ds: Pick<Dataset, 'sampleShape'>): number {
  let d = 1;
  for (const s of ds.sampleShape) d *= s;
  return d;
}

/** Validates a sample shape: a non-empty array of positive integers. */
export function checkSampleShape(where: string, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0) {
    invalid(where, name, 'a non-empty array of positive integers', describe(shape));
  }
  for (const s of shape) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) {
      invalid(where, name, 'a non-empty array of positive integers', `[${shape.map(describe).join(', ')}]`);
    }
  }
  return shape.slice() as number[];
}

/**
 * Builds a data set after checking everything once: types, `x.length = n · d`, every label in
 * `[0, numClasses)` and every feature finite. The arrays are taken over, not copied.
 */
export function makeDataset(init: DatasetInit): Dataset {
  const where = 'makeDataset';
  if (typeof init !== 'object' || init === null) invalid(where, 'init', 'an object', describe(init));
  const name = init.name ?? 'dataset';
  if (typeof name !== 'string') invalid(where, 'name', 'a string', describe(name));
  const { x, y } = init;
  if (!(x instanceof Float32Array)) invalid(where, 'x', 'a Float32Array', describe(x));
  if (!(y instanceof Int32Array)) invalid(where, 'y', 'an Int32Array', describe(y));
  const sampleShape = checkSampleShape(where, 'sampleShape', init.sampleShape);
  const numClasses = int(where, 'numClasses', init.numClasses, 1, 0x7fffffff);
  const n = y.length;
  const d = sampleSize({ sampleShape });
  if (x.length !== n * d) {
    invalid(
      where,
      'x',
      `a Float32Array of length ${n * d} (${n} labels × ${d} features of shape [${sampleShape.join(', ')}])`,
      describe(x),
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  checkLabels(where, 'y', y, numClasses);
  finite(where, 'x', x);
  let classNames: readonly string[] | undefined;
  if (init.classNames !== undefined) {
    const cn = init.classNames;
    if (!Array.isArray(cn) || cn.length !== numClasses || cn.some((c) => typeof c !== 'string')) {
      invalid(where, 'classNames', `an array of ${numClasses} strings`, describe(cn));
    }
    classNames = cn.slice();
  }
  return build(name, x, y, sampleShape, numClasses, classNames);
}

/** Every label in [0, numClasses); the first offender is named by index. */
function checkLabels(where: string, name: string, y: Int32Array, numClasses: number): void {
  for (let i = 0; i < y.length; i++) {
    const c = y[i] as number;
    if (c < 0 || c >= numClasses) invalid(where, name, `labels in [0, ${numClasses})`, `${c} at index ${i}`);
  }
}

/** Assembles a data set from parts already known to be consistent (internal; no checks). */
export function build(
  name: string,
  x: Float32Array,
  y: Int32Array,
  sampleShape: readonly number[],
  numClasses: number,
  classNames?: readonly string[],
): Dataset {
  const ds: Dataset = {
    name,
    x,
    y,
    n: y.length,
    sampleShape: Object.freeze(sampleShape.slice()),
    numClasses,
    ...(classNames ? { classNames: Object.freeze(classNames.slice()) } : {}),
  };
  return ds;
}

/**
 * The O(1) checks every function taking a data set makes, so that a hand-built object fails at the
 * boundary instead of reading out of bounds later. Labels are checked by `makeDataset` only.
 */
export function checkDataset(where: string, name: string, ds: unknown): Dataset {
  if (typeof ds !== 'object' || ds === null) invalid(where, name, 'a Dataset', describe(ds));
  const d = ds as Partial<Dataset>;
  if (!(d.x instanceof Float32Array) || !(d.y instanceof Int32Array) || !Array.isArray(d.sampleShape)) {
    invalid(where, name, 'a Dataset (x: Float32Array, y: Int32Array, sampleShape: number[])', describe(ds));
  }
  if (d.n !== d.y.length || d.x.length !== d.y.length * sampleSize(d as Dataset)) {
    invalid(
      where,
      name,
      'a consistent Dataset (n = y.length, x.length = n × prod(sampleShape))',
      `n = ${describe(d.n)}, y.length = ${d.y.length}, x.length = ${d.x.length}, sampleShape [${d.sampleShape.join(', ')}]`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  if (typeof d.numClasses !== 'number' || !Number.isInteger(d.numClasses) || d.numClasses < 1) {
    invalid(where, `${name}.numClasses`, 'an integer >= 1', describe(d.numClasses));
  }
  return ds as Dataset;
}

function checkRng(where: string, rng: unknown): Rng {
  if (!(rng instanceof Rng)) invalid(where, 'rng', 'an Rng (lib/rng.ts)', describe(rng));
  return rng;
}

/** Copies the samples `indices` (in that order; repeats allowed) into a new data set. */
export function gather(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const d = sampleSize(ds);
  const m = indices.length;
  const x = new Float32Array(m * d);
  const y = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const s = indices[i] as number;
    y[i] = ds.y[s] as number;
    x.set(ds.x.subarray(s * d, s * d + d), i * d);
  }
  return build(name, x, y, ds.sampleShape, ds.numClasses, ds.classNames);
}

function checkIndices(where: string, indices: unknown, n: number): ArrayLike<number> {
  if (!Array.isArray(indices) && !(ArrayBuffer.isView(indices) && !(indices instanceof DataView))) {
    invalid(where, 'indices', 'an array of sample indices', describe(indices));
  }
  const idx = indices as ArrayLike<number>;
  for (let i = 0; i < idx.length; i++) {
    const s = idx[i];
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= n) {
      invalid(where, 'indices', `integers in [0, ${n})`, `${describe(s)} at position ${i}`);
    }
  }
  return idx;
}

/** A copy of the samples `indices` (in that order; repeats allowed, e.g. for a bootstrap). */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  checkDataset('subset', 'ds', ds);
  return gather(ds, checkIndices('subset', indices, ds.n));
}

/** A copy of the samples NOT in `indices`, in their original order (e.g. the held-out rest). */
export function complement(ds: Dataset, indices: ArrayLike<number>): Dataset {
  checkDataset('complement', 'ds', ds);
  const idx = checkIndices('complement', indices, ds.n);
  const taken = new Uint8Array(ds.n);
  for (let i = 0; i < idx.length; i++) taken[idx[i] as number] = 1;
  const rest: number[] = [];
  for (let i = 0; i < ds.n; i++) if (!taken[i]) rest.push(i);
  return gather(ds, rest);
}

/** A copy in a random order drawn from `rng` (which advances). */
export function shuffled(ds: Dataset, rng: Rng): Dataset {
  checkDataset('shuffled', 'ds', ds);
  return gather(ds, checkRng('shuffled', rng).permutation(ds.n));
}

/** Sizes for `splitDataset`: all counts (integers) or all fractions of `n`. */
export interface SplitSizes {
  /** Left out: the samples the other parts do not take. */
  train?: number;
  /** Left out: none. */
  val?: number;
  /** Left out: none. */
  test?: number;
}

/** The three disjoint parts of `splitDataset` and the parent indices each was drawn from. */
export interface DatasetSplit {
  train: Dataset;
  val: Dataset;
  test: Dataset;
  indices: { train: Int32Array; val: Int32Array; test: Int32Array };
}

const PARTS = ['train', 'val', 'test'] as const;

/** Turns SplitSizes into counts (largest remainders when fractions sum to 1, so nothing is lost). */
function splitCounts(where: string, sizes: SplitSizes, n: number): [number, number, number] {
  if (typeof sizes !== 'object' || sizes === null)
    invalid(where, 'sizes', 'an object { train?, val?, test? }', describe(sizes));
  for (const key of Object.keys(sizes)) {
    if (!(PARTS as readonly string[]).includes(key))
      invalid(where, 'sizes', "only the keys 'train', 'val', 'test'", `'${key}'`);
  }
  const given = PARTS.map((p) => sizes[p]);
  for (let k = 0; k < 3; k++) {
    const v = given[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      invalid(where, `sizes.${PARTS[k]}`, 'a count (integer >= 0) or a fraction in [0, 1]', describe(v));
    }
  }
  const vals = given.filter((v): v is number => v !== undefined);
  const counts = vals.every((v) => Number.isInteger(v));
  let out: number[];
  if (counts) {
    // Integers are counts, so { train: 1 } means one sample, not everything.
    out = given.map((v) => v ?? 0);
  } else {
    for (let k = 0; k < 3; k++) {
      const v = given[k];
      if (v !== undefined && v > 1) {
        invalid(where, `sizes.${PARTS[k]}`, 'a fraction in [0, 1] (the other sizes are fractions)', describe(v));
      }
    }
    const f = given.map((v) => v ?? 0);
    const sum = f[0]! + f[1]! + f[2]!;
    if (sum > 1 + 1e-9) invalid(where, 'sizes', 'fractions summing to at most 1', `a sum of ${sum}`);
    const raw = f.map((v) => v * n);
    out = raw.map((r) => Math.floor(r + 1e-9));
    if (Math.abs(sum - 1) <= 1e-9) {
      let left = n - out.reduce((a, b) => a + b, 0);
      const order = [0, 1, 2].sort((a, b) => raw[b]! - out[b]! - (raw[a]! - out[a]!) || a - b);
      for (const k of order) {
        if (left <= 0) break;
        out[k]!++;
        left--;
      }
    }
  }
  if (given[0] === undefined) {
    const other = out[1]! + out[2]!;
    if (other > n) invalid(where, 'sizes', `val + test <= ${n} samples`, `${other}`);
    out[0] = n - other;
  }
  const total = out[0]! + out[1]! + out[2]!;
  if (total > n) {
    invalid(where, 'sizes', `parts totalling at most ${n} samples`, `${out.join(' + ')} = ${total}`);
  }
  return out as [number, number, number];
}

/**
 * Splits at random into disjoint train / val / test parts. `sizes` holds counts (all integers) or
 * fractions of `n` (any non-integer makes them all fractions; fractions summing to 1 cover every
 * sample). A part left out gets nothing, except `train`, which then gets the rest.
 * Same data, sizes and rng state → same split.
 */
export function splitDataset(ds: Dataset, sizes: SplitSizes, rng: Rng): DatasetSplit {
  const where = 'splitDataset';
  checkDataset(where, 'ds', ds);
  checkRng(where, rng);
  const [a, b, c] = splitCounts(where, sizes, ds.n);
  const p = rng.permutation(ds.n);
  const indices = { train: p.slice(0, a), val: p.slice(a, a + b), test: p.slice(a + b, a + b + c) };
  return {
    train: gather(ds, indices.train, `${ds.name}:train`),
    val: gather(ds, indices.val, `${ds.name}:val`),
    test: gather(ds, indices.test, `${ds.name}:test`),
    indices,
  };
}

/**
 * The random equal split of the training data into the upper-level half `d1` and the lower-level
 * half `d2` of the bilevel problem (ALGORITHM.md section 2). With odd `n`, `d1` gets the extra one.
 */
export function splitHalves(ds: Dataset, rng: Rng): { d1: Dataset; d2: Dataset } {
  checkDataset('splitHalves', 'ds', ds);
  checkRng('splitHalves', rng);
  if (ds.n < 2) invalid('splitHalves', 'ds', 'a data set of at least 2 samples', `${ds.n}`);
  const p = rng.permutation(ds.n);
  const h = Math.ceil(ds.n / 2);
  return { d1: gather(ds, p.subarray(0, h), `${ds.name}:d1`), d2: gather(ds, p.subarray(h), `${ds.name}:d2`) };
}

/** Number of samples of each class. */
export function classCounts(ds: Dataset): Int32Array {
  checkDataset('classCounts', 'ds', ds);
  const counts = new Int32Array(ds.numClasses);
  for (let i = 0; i < ds.n; i++) counts[ds.y[i] as number]!++;
  return counts;
}

/** How many samples `stratifiedSample` draws: the same number from every class, or a total. */
export type StratifiedSpec = { perClass: number } | { total: number };

/**
 * The parent indices of a stratified random sample: `perClass` from every class, or `total` split
 * over the classes in proportion to their frequency (largest remainders). The result is in random
 * order, so it is never class-sorted. Pair with `complement` for a disjoint held-out set.
 */
export function stratifiedIndices(ds: Dataset, spec: StratifiedSpec, rng: Rng): Int32Array {
  const where = 'stratifiedSample';
  checkDataset(where, 'ds', ds);
  checkRng(where, rng);
  const hasPer = typeof spec === 'object' && spec !== null && 'perClass' in spec;
  const hasTotal = typeof spec === 'object' && spec !== null && 'total' in spec;
  if (hasPer === hasTotal) invalid(where, 'spec', 'either { perClass } or { total }', describe(spec));
  const counts = classCounts(ds);
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.y[i] as number]!.push(i);
  const take = new Array<number>(ds.numClasses).fill(0);
  if (hasPer) {
    const per = int(where, 'spec.perClass', (spec as { perClass: number }).perClass, 0);
    for (let c = 0; c < ds.numClasses; c++) {
      if (counts[c]! < per) {
        invalid(where, 'spec.perClass', `at most ${counts[c]} (class ${c} has ${counts[c]} samples)`, `${per}`);
      }
      take[c] = per;
    }
  } else {
    const total = int(where, 'spec.total', (spec as { total: number }).total, 0, ds.n);
    const raw = Array.from(counts, (k) => (total * k) / Math.max(ds.n, 1));
    let left = total;
    for (let c = 0; c < ds.numClasses; c++) {
      take[c] = Math.floor(raw[c]!);
      left -= take[c]!;
    }
    const order = raw.map((_, c) => c).sort((a, b) => raw[b]! - take[b]! - (raw[a]! - take[a]!) || a - b);
    for (const c of order) {
      if (left <= 0) break;
      if (take[c]! < counts[c]!) {
        take[c]!++;
        left--;
      }
    }
  }
  const out: number[] = [];
  for (let c = 0; c < ds.numClasses; c++) {
    // Partial Fisher–Yates: the first take[c] entries become a uniform random subset.
    const list = byClass[c]!;
    for (let i = 0; i < take[c]!; i++) {
      const j = i + rng.int(list.length - i);
      const t = list[i]!;
      list[i] = list[j]!;
      list[j] = t;
      out.push(list[i]!);
    }
  }
  return rng.shuffle(Int32Array.from(out));
}

/** A stratified random sample (see `stratifiedIndices`), e.g. `{ total: 2000 }` MNIST digits. */
export function stratifiedSample(ds: Dataset, spec: StratifiedSpec, rng: Rng): Dataset {
  return gather(ds, stratifiedIndices(ds, spec, rng));
}

/** The same samples viewed with another sample shape of the same size (the arrays are shared). */
export function reshapeDataset(ds: Dataset, sampleShape: readonly number[]): Dataset {
  checkDataset('reshapeDataset', 'ds', ds);
  const shape = checkSampleShape('reshapeDataset', 'sampleShape', sampleShape);
  const d = sampleSize(ds);
  if (sampleSize({ sampleShape: shape }) !== d) {
    invalid(
      'reshapeDataset',
      'sampleShape',
      `a shape of ${d} features (like [${ds.sampleShape.join(', ')}])`,
      `[${shape.join(', ')}]`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  return build(ds.name, ds.x, ds.y, shape, ds.numClasses, ds.classNames);
}
