/**
 * data-dataset.test.ts — lib/data/dataset.ts: validated construction, subsets, seeded splits
 * (disjoint, covering, deterministic), the D1/D2 halves, stratified samples and reshaping.
 * Every toy sample encodes its own index in its features, so a mixed-up row is caught.
 */
import {
  classCounts,
  complement,
  type Dataset,
  makeDataset,
  reshapeDataset,
  shuffled,
  splitDataset,
  splitHalves,
  stratifiedIndices,
  stratifiedSample,
  subset,
} from '../../lib/data/dataset';
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

/** n samples of 3 features [i, -i, i + 0.5] with label i % k. */
function toy(n: number, k = 3): Dataset {
  const x = new Float32Array(n * 3);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x.set([i, -i, i + 0.5], i * 3);
    y[i] = i % k;
  }
  return makeDataset({ name: 'toy', x, y, sampleShape: [3], numClasses: k });
}

/** The original index of every sample, checking its features and label still belong together. */
function ids(ds: Dataset, k = 3): number[] {
  const out: number[] = [];
  for (let i = 0; i < ds.n; i++) {
    const id = ds.x[i * 3]!;
    expect(ds.x[i * 3 + 1]).toBe(-id);
    expect(ds.x[i * 3 + 2]).toBe(id + 0.5);
    expect(ds.y[i]).toBe(id % k);
    out.push(id);
  }
  return out;
}

const sorted = (a: number[]): number[] => a.slice().sort((p, q) => p - q);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('makeDataset', () => {
  test('builds a data set and derives n', () => {
    const ds = toy(10);
    expect(ds.n).toBe(10);
    expect(ds.sampleShape).toEqual([3]);
    expect(ds.numClasses).toBe(3);
    expect(ids(ds)).toEqual(range(10));
  });

  test('refuses inconsistent lengths, out-of-range labels, non-finite features, bad shapes', () => {
    const x = new Float32Array(12);
    const len = thrown(() =>
      makeDataset({ x: new Float32Array(11), y: new Int32Array(3), sampleShape: [2, 2], numClasses: 2 }),
    );
    expect(len.name).toBe('DeboraError');
    expect(len.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(len.message).toBe(
      "makeDataset: expected a Float32Array of length 12 (3 labels × 4 features of shape [2, 2]) for argument 'x', received a Float32Array of length 11",
    );
    const lab = thrown(() => makeDataset({ x, y: Int32Array.from([0, 2, 1]), sampleShape: [4], numClasses: 2 }));
    expect(lab.code).toBe('DEBORA_INVALID_ARG');
    expect(lab.message).toBe("makeDataset: expected labels in [0, 2) for argument 'y', received 2 at index 1");
    const neg = thrown(() => makeDataset({ x, y: Int32Array.from([0, 0, -1]), sampleShape: [4], numClasses: 2 }));
    expect(neg.message).toContain('received -1 at index 2');
    const nan = Float32Array.from({ length: 12 }, (_, i) => (i === 5 ? Number.NaN : 1));
    const fin = thrown(() => makeDataset({ x: nan, y: new Int32Array(3), sampleShape: [4], numClasses: 1 }));
    expect(fin.code).toBe('DEBORA_NON_FINITE');
    expect(fin.message).toContain('NaN at index 5');
    for (const shape of [[], [0, 4], [2.5], 'x'] as unknown[]) {
      const e = thrown(() => makeDataset({ x, y: new Int32Array(3), sampleShape: shape as number[], numClasses: 1 }));
      expect(e.code).toBe('DEBORA_INVALID_ARG');
      expect(e.message).toContain("for argument 'sampleShape'");
    }
    const ty = thrown(() =>
      makeDataset({ x: [1, 2] as unknown as Float32Array, y: new Int32Array(1), sampleShape: [2], numClasses: 1 }),
    );
    expect(ty.message).toBe("makeDataset: expected a Float32Array for argument 'x', received an Array of length 2");
    const cn = thrown(() =>
      makeDataset({ x, y: new Int32Array(3), sampleShape: [4], numClasses: 2, classNames: ['a'] }),
    );
    expect(cn.message).toContain("'classNames'");
  });

  test('a hand-built inconsistent object is refused at the boundary', () => {
    const bad = { ...toy(4), n: 5 };
    const e = thrown(() => subset(bad, [0]));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toMatch(/^subset: expected a consistent Dataset/);
  });
});

describe('subset, complement, shuffled, reshape', () => {
  test('subset copies the given rows in order, repeats allowed', () => {
    const ds = toy(10);
    const s = subset(ds, [7, 2, 2, 9]);
    expect(ids(s)).toEqual([7, 2, 2, 9]);
    s.x[0] = 123;
    expect(ds.x[21]).toBe(7); // a copy
    expect(subset(ds, []).n).toBe(0);
    const e = thrown(() => subset(ds, [0, 10]));
    expect(e.message).toBe("subset: expected integers in [0, 10) for argument 'indices', received 10 at position 1");
    expect(thrown(() => subset(ds, [1.5])).code).toBe('DEBORA_INVALID_ARG');
  });

  test('complement keeps the rest in original order', () => {
    const ds = toy(8);
    expect(ids(complement(ds, Int32Array.from([6, 1, 3])))).toEqual([0, 2, 4, 5, 7]);
  });

  test('shuffled is a seeded permutation that keeps rows and labels together', () => {
    const ds = toy(50);
    const a = shuffled(ds, new Rng(1));
    expect(sorted(ids(a))).toEqual(range(50));
    expect(ids(a)).not.toEqual(range(50));
    expect(ids(shuffled(ds, new Rng(1)))).toEqual(ids(a));
    expect(ids(shuffled(ds, new Rng(2)))).not.toEqual(ids(a));
    const e = thrown(() => shuffled(ds, 3 as unknown as Rng));
    expect(e.message).toBe("shuffled: expected an Rng (lib/rng.ts) for argument 'rng', received 3");
  });

  test('reshapeDataset shares the arrays and checks the size', () => {
    const ds = makeDataset({
      x: new Float32Array(2 * 12).fill(1),
      y: new Int32Array(2),
      sampleShape: [12],
      numClasses: 1,
    });
    const r = reshapeDataset(ds, [3, 2, 2]);
    expect(r.sampleShape).toEqual([3, 2, 2]);
    expect(r.x).toBe(ds.x);
    const e = thrown(() => reshapeDataset(ds, [5, 2]));
    expect(e.code).toBe('DEBORA_SHAPE_MISMATCH');
    expect(e.message).toBe(
      "reshapeDataset: expected a shape of 12 features (like [12]) for argument 'sampleShape', received [5, 2]",
    );
  });
});

describe('splitDataset', () => {
  test('counts: disjoint parts of the asked sizes, deterministic per seed', () => {
    const ds = toy(100);
    const s = splitDataset(ds, { train: 60, val: 15, test: 20 }, new Rng(5));
    expect([s.train.n, s.val.n, s.test.n]).toEqual([60, 15, 20]);
    const all = [...ids(s.train), ...ids(s.val), ...ids(s.test)];
    expect(new Set(all).size).toBe(95); // disjoint
    expect(Array.from(s.indices.val)).toEqual(ids(s.val));
    expect(s.train.name).toBe('toy:train');
    const again = splitDataset(ds, { train: 60, val: 15, test: 20 }, new Rng(5));
    expect(ids(again.test)).toEqual(ids(s.test));
    const other = splitDataset(ds, { train: 60, val: 15, test: 20 }, new Rng(6));
    expect(ids(other.test)).not.toEqual(ids(s.test));
  });

  test('fractions summing to 1 cover every sample exactly once', () => {
    for (const n of [1, 7, 10, 101]) {
      const s = splitDataset(toy(n), { train: 0.7, val: 0.15, test: 0.15 }, new Rng(n));
      expect(s.train.n + s.val.n + s.test.n).toBe(n);
      expect(sorted([...ids(s.train), ...ids(s.val), ...ids(s.test)])).toEqual(range(n));
    }
    const s = splitDataset(toy(10), { train: 0.5, val: 0.25, test: 0.25 }, new Rng(0));
    // 5, 2.5, 2.5 → the leftover sample goes to the first largest remainder (val).
    expect([s.train.n, s.val.n, s.test.n]).toEqual([5, 3, 2]);
  });

  test('train left out takes the rest; other parts left out are empty', () => {
    const s = splitDataset(toy(20), { val: 2, test: 3 }, new Rng(0));
    expect([s.train.n, s.val.n, s.test.n]).toEqual([15, 2, 3]);
    expect(sorted([...ids(s.train), ...ids(s.val), ...ids(s.test)])).toEqual(range(20));
    const f = splitDataset(toy(20), { val: 0.25 }, new Rng(0));
    expect([f.train.n, f.val.n, f.test.n]).toEqual([15, 5, 0]);
    const only = splitDataset(toy(20), { train: 4 }, new Rng(0));
    expect([only.train.n, only.val.n, only.test.n]).toEqual([4, 0, 0]);
  });

  test('bad sizes are refused with the field named', () => {
    const ds = toy(20);
    const mixed = thrown(() => splitDataset(ds, { val: 0.1, test: 5 }, new Rng(0)));
    expect(mixed.code).toBe('DEBORA_INVALID_ARG');
    expect(mixed.message).toBe(
      "splitDataset: expected a fraction in [0, 1] (the other sizes are fractions) for argument 'sizes.test', received 5",
    );
    const over = thrown(() => splitDataset(ds, { train: 15, val: 4, test: 2 }, new Rng(0)));
    expect(over.message).toBe(
      "splitDataset: expected parts totalling at most 20 samples for argument 'sizes', received 15 + 4 + 2 = 21",
    );
    expect(thrown(() => splitDataset(ds, { train: 0.8, val: 0.3 }, new Rng(0))).message).toContain(
      'fractions summing to at most 1',
    );
    expect(thrown(() => splitDataset(ds, { valid: 3 } as never, new Rng(0))).message).toContain("received 'valid'");
    expect(thrown(() => splitDataset(ds, { val: -1 }, new Rng(0))).message).toContain("'sizes.val'");
    expect(thrown(() => splitDataset(ds, { val: 30 }, new Rng(0))).message).toContain('val + test <= 20');
  });
});

describe('splitHalves (D1 / D2 of the bilevel problem)', () => {
  test('two disjoint random halves that cover the data, d1 taking the odd one', () => {
    for (const n of [2, 9, 100]) {
      const { d1, d2 } = splitHalves(toy(n), new Rng(3));
      expect(d1.n).toBe(Math.ceil(n / 2));
      expect(d2.n).toBe(Math.floor(n / 2));
      expect(sorted([...ids(d1), ...ids(d2)])).toEqual(range(n));
      expect(d1.name).toBe('toy:d1');
    }
    const a = splitHalves(toy(100), new Rng(3));
    expect(ids(splitHalves(toy(100), new Rng(3)).d2)).toEqual(ids(a.d2));
    expect(sorted(ids(a.d1))).not.toEqual(range(50)); // random, not the first half
    const e = thrown(() => splitHalves(toy(1), new Rng(0)));
    expect(e.message).toBe("splitHalves: expected a data set of at least 2 samples for argument 'ds', received 1");
  });
});

describe('stratified samples', () => {
  // 10 classes of unequal sizes: class c has 10 + 5c samples.
  function uneven(): Dataset {
    const labels: number[] = [];
    for (let c = 0; c < 10; c++) for (let k = 0; k < 10 + 5 * c; k++) labels.push(c);
    const n = labels.length;
    const x = Float32Array.from({ length: n }, (_, i) => i);
    return makeDataset({ x, y: Int32Array.from(labels), sampleShape: [1], numClasses: 10 });
  }

  test('perClass draws exactly that many of each class, in random order, without repeats', () => {
    const ds = uneven();
    const s = stratifiedSample(ds, { perClass: 7 }, new Rng(1));
    expect(Array.from(classCounts(s))).toEqual(new Array(10).fill(7));
    const rows = Array.from(s.x);
    expect(new Set(rows).size).toBe(70);
    for (let i = 0; i < s.n; i++) expect(ds.y[rows[i]!]).toBe(s.y[i]); // features and labels still paired
    expect(Array.from(s.y)).not.toEqual(Array.from(s.y).sort((a, b) => a - b)); // not class-sorted
    const e = thrown(() => stratifiedSample(ds, { perClass: 11 }, new Rng(1)));
    expect(e.message).toBe(
      "stratifiedSample: expected at most 10 (class 0 has 10 samples) for argument 'spec.perClass', received 11",
    );
  });

  test('total splits over the classes in proportion, and complement gives a disjoint rest', () => {
    const ds = uneven(); // 325 samples
    const idx = stratifiedIndices(ds, { total: 65 }, new Rng(2));
    expect(idx.length).toBe(65);
    const counts = Array.from(classCounts(subset(ds, idx)));
    // 65/325 = 1/5 of each class: exactly (10 + 5c) / 5 = 2 + c.
    expect(counts).toEqual(range(10).map((c) => 2 + c));
    const rest = complement(ds, idx);
    expect(rest.n).toBe(260);
    const taken = new Set(Array.from(idx));
    for (const v of rest.x) expect(taken.has(v)).toBe(false);
    // Rounding: the total is always met exactly.
    const odd = stratifiedIndices(ds, { total: 33 }, new Rng(2));
    expect(odd.length).toBe(33);
    expect(Array.from(stratifiedIndices(ds, { total: 33 }, new Rng(2)))).toEqual(Array.from(odd));
    expect(thrown(() => stratifiedSample(ds, { total: 326 }, new Rng(0))).message).toContain("'spec.total'");
    expect(thrown(() => stratifiedSample(ds, { total: 3, perClass: 1 } as never, new Rng(0))).message).toContain(
      'either { perClass } or { total }',
    );
  });
});
