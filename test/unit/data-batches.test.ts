/**
 * data-batches.test.ts — lib/data/batches.ts: every sample once per epoch (shuffled or not, with
 * and without dropLast), reshuffling per epoch, buffer reuse, and a BatchSampler whose saved state
 * (through JSON) resumes on exactly the same batches, mid-epoch and across epoch boundaries.
 */
import { type Batch, BatchSampler, type BatchSamplerState, batches } from '../../lib/data/batches';
import { type Dataset, makeDataset } from '../../lib/data/dataset';
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

/** n samples of d features; sample i holds i·1000 + j in feature j and label i % 5. */
function toy(n: number, d = 3): Dataset {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = i * 1000 + j;
  const y = Int32Array.from({ length: n }, (_, i) => i % 5);
  return makeDataset({ name: 'toy', x, y, sampleShape: [d], numClasses: 5 });
}

/** Checks a batch against the data set it came from and returns its sample indices. */
function check(b: Batch, d: number): number[] {
  expect(b.x.length).toBe(b.n * d);
  expect(b.y.length).toBe(b.n);
  expect(b.indices.length).toBe(b.n);
  const out: number[] = [];
  for (let i = 0; i < b.n; i++) {
    const s = b.indices[i]!;
    for (let j = 0; j < d; j++) expect(b.x[i * d + j]).toBe(s * 1000 + j);
    expect(b.y[i]).toBe(s % 5);
    out.push(s);
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sorted = (a: number[]): number[] => a.slice().sort((p, q) => p - q);

describe('batches', () => {
  test('one epoch covers every sample exactly once, in order without rng', () => {
    for (const [n, bs] of [
      [10, 3],
      [10, 5],
      [1, 4],
      [7, 7],
      [100, 1],
    ] as const) {
      for (const d of [3, 40]) {
        const seen: number[] = [];
        const sizes: number[] = [];
        for (const b of batches(toy(n, d), bs)) {
          seen.push(...check(b, d));
          sizes.push(b.n);
        }
        expect(seen).toEqual(range(n));
        expect(sizes.every((s, i) => s === (i < sizes.length - 1 ? bs : n - bs * (sizes.length - 1)))).toBe(true);
      }
    }
    expect([...batches(toy(0), 4)]).toEqual([]);
  });

  test('dropLast skips only the short tail', () => {
    const got = [...batches(toy(10), 4, { dropLast: true })].map((b) => check(b, 3));
    expect(got).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  test('with rng every call is a fresh permutation covering every sample once', () => {
    const ds = toy(23);
    const rng = new Rng(9);
    const e1 = [...batches(ds, 5, { rng })].flatMap((b) => check(b, 3));
    const e2 = [...batches(ds, 5, { rng })].flatMap((b) => check(b, 3));
    expect(sorted(e1)).toEqual(range(23));
    expect(sorted(e2)).toEqual(range(23));
    expect(e1).not.toEqual(e2);
    expect([...batches(ds, 5, { rng: new Rng(9) })].flatMap((b) => Array.from(b.indices))).toEqual(e1);
  });

  test('reuse writes into the same buffers (a full and a tail view), contents stay right', () => {
    const ds = toy(11, 40);
    const it = batches(ds, 4, { reuse: true });
    const seen: number[] = [];
    let first: Batch | undefined;
    let buffer: ArrayBufferLike | undefined;
    for (const b of it) {
      seen.push(...check(b, 40)); // checked before the next batch overwrites it
      first ??= b;
      buffer ??= b.x.buffer;
      expect(b.x.buffer).toBe(buffer);
      if (b.n === 4) expect(b).toBe(first);
    }
    expect(seen).toEqual(range(11));
    // Without reuse, batches are independent arrays.
    const [a, b] = [...batches(ds, 4)];
    expect(a!.x.buffer).not.toBe(b!.x.buffer);
  });

  test('arguments are validated', () => {
    expect(thrown(() => batches(toy(4), 0)).message).toBe(
      "batches: expected an integer >= 1 for argument 'batchSize', received 0",
    );
    expect(thrown(() => batches(toy(4), 2, { rng: 3 as never })).message).toContain("'options.rng'");
    expect(thrown(() => batches(toy(4), 2, { reuse: 'yes' as never })).message).toContain("'options.reuse'");
  });
});

describe('BatchSampler', () => {
  test('each epoch is a new permutation covering every sample once; epochs count up', () => {
    const s = new BatchSampler(toy(17), { batchSize: 4, seed: 1 });
    expect(s.batchesPerEpoch).toBe(5);
    expect(s.shuffle).toBe(true);
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      expect(s.epoch).toBe(e === 0 ? 0 : e - 1); // the roll-over happens on the first batch of the next epoch
      const seen: number[] = [];
      for (const b of s.epochBatches()) seen.push(...check(b, 3));
      expect(s.epoch).toBe(e);
      expect(sorted(seen)).toEqual(range(17));
      epochs.push(seen);
    }
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[1]).not.toEqual(epochs[2]);
  });

  test('next() crosses epochs by itself; dropLast epochs are full batches only', () => {
    const s = new BatchSampler(toy(10), { batchSize: 4, seed: 3, dropLast: true });
    expect(s.batchesPerEpoch).toBe(2);
    const sizes = range(6).map(() => s.next().n);
    expect(sizes).toEqual([4, 4, 4, 4, 4, 4]);
    expect(s.epoch).toBe(2);
    const plain = new BatchSampler(toy(5), { batchSize: 2 });
    expect(plain.shuffle).toBe(false);
    expect(range(5).map(() => Array.from(plain.next().indices))).toEqual([[0, 1], [2, 3], [4], [0, 1], [2, 3]]);
  });

  test('a saved state resumes exactly, mid-epoch and at an epoch boundary, through JSON', () => {
    const ds = toy(23, 5);
    const seq = (s: BatchSampler, k: number): number[][] => range(k).map(() => check(s.next(), 5));
    for (const stopAfter of [0, 1, 3, 5, 6, 11]) {
      // 23 samples / 4 → 6 batches per epoch; 6 and 11 sit at / near an epoch boundary.
      const a = new BatchSampler(ds, { batchSize: 4, seed: 77 });
      seq(a, stopAfter);
      const state: BatchSamplerState = JSON.parse(JSON.stringify(a.state));
      const b = BatchSampler.fromState(ds, state, { reuse: true });
      expect(b.epoch).toBe(a.epoch);
      expect(b.position).toBe(a.position);
      expect(seq(b, 20)).toEqual(seq(a, 20));
    }
    const plain = new BatchSampler(ds, { batchSize: 5 });
    plain.next();
    const r = BatchSampler.fromState(ds, plain.state);
    expect(check(r.next(), 5)).toEqual(check(plain.next(), 5));
  });

  test('an rng is forked, so the sampler owns its stream', () => {
    const rng = new Rng(5);
    const a = new BatchSampler(toy(30), { batchSize: 8, rng });
    const afterA = rng.state;
    const b = new BatchSampler(toy(30), { batchSize: 8, rng: new Rng(5) });
    expect(Array.from(a.next().indices)).toEqual(Array.from(b.next().indices));
    a.next();
    expect(rng.state).toEqual(afterA); // sampling does not advance the caller's generator
  });

  test('bad options and foreign states are refused', () => {
    const ds = toy(10);
    expect(thrown(() => new BatchSampler(ds, { batchSize: 11, dropLast: true })).message).toBe(
      "BatchSampler: expected at least one full batch (11 samples) for argument 'ds', received 10 samples",
    );
    expect(thrown(() => new BatchSampler(ds, { batchSize: 2, seed: 1, rng: new Rng(1) })).message).toContain(
      'either seed or rng',
    );
    const state = new BatchSampler(ds, { batchSize: 4, seed: 2 }).state;
    const other = thrown(() => BatchSampler.fromState(toy(11), state));
    expect(other.code).toBe('DEBORA_INVALID_CONFIG');
    expect(other.message).toBe(
      "BatchSampler.fromState: expected a state saved for a data set of 11 samples for argument 'state.n', received 10",
    );
    expect(thrown(() => BatchSampler.fromState(ds, { ...state, position: 3 })).message).toContain("'state.position'");
    expect(thrown(() => BatchSampler.fromState(ds, { ...state, position: 12 })).message).toContain("'state.position'");
    expect(thrown(() => BatchSampler.fromState(ds, { ...state, rng: null })).message).toContain("'state.rng'");
    expect(thrown(() => BatchSampler.fromState(ds, { ...state, version: 2 as never })).message).toContain(
      "'state.version'",
    );
  });
});
