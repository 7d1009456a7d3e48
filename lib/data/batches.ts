/**
 * batches.ts — minibatches over a data set: a one-epoch generator (`batches`) and an epoch-aware
 * `BatchSampler` whose whole state (epoch, position, rng state at the start of the epoch) is a
 * small JSON object, so an interrupted training run resumes on exactly the same batches.
 * Tested in test/unit/data-batches.test.ts.
 */
import { Rng } from '../rng';
import { describe, int, invalid } from '../validate';
import { checkDataset, type Dataset, sampleSize } from './dataset';

/**
 * One minibatch: `n` samples, features `x` (n · d, row-major) and labels `y`, gathered from the
 * data set rows `indices`. With `reuse`, the object and its arrays are overwritten by the next batch.
 */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  n: number;
  indices: Int32Array;
}

/** Options of `batches`. */
export interface BatchOptions {
  /** Shuffle with this generator (it advances, so each call is a fresh epoch order). Default: in order. */
  rng?: Rng;
  /** Skip the last batch when it is smaller than `batchSize`. Default false. */
  dropLast?: boolean;
  /**
   * Gather into buffers allocated once (a full-size and a tail-size batch) instead of new arrays
   * per batch. The consumer must be done with a batch before asking for the next. Default false.
   */
  reuse?: boolean;
}

/** Below this many features per sample an element loop beats creating a subarray view. */
const VIEW_COPY_MIN = 32;

/** Copies rows into batches; with `reuse` it owns the only buffers it will ever write. */
class Gatherer {
  private readonly d: number;
  private full: Batch | null = null;
  private tail: Batch | null = null;

  constructor(
    private readonly ds: Dataset,
    private readonly batchSize: number,
    private readonly reuse: boolean,
  ) {
    this.d = sampleSize(ds);
  }

  private buffers(count: number): Batch {
    if (!this.reuse) {
      return {
        x: new Float32Array(count * this.d),
        y: new Int32Array(count),
        n: count,
        indices: new Int32Array(count),
      };
    }
    if (!this.full) {
      const bs = this.batchSize;
      this.full = { x: new Float32Array(bs * this.d), y: new Int32Array(bs), n: bs, indices: new Int32Array(bs) };
    }
    if (count === this.batchSize) return this.full;
    // The tail shares the full buffers through views made once per distinct tail size (one per data set).
    if (!this.tail || this.tail.n !== count) {
      const f = this.full;
      this.tail = {
        x: f.x.subarray(0, count * this.d),
        y: f.y.subarray(0, count),
        n: count,
        indices: f.indices.subarray(0, count),
      };
    }
    return this.tail;
  }

  /** The batch of rows order[start, start + count). */
  fill(order: Int32Array, start: number, count: number): Batch {
    const b = this.buffers(count);
    const { d } = this;
    const src = this.ds.x;
    const labels = this.ds.y;
    for (let i = 0; i < count; i++) {
      const s = order[start + i]!;
      b.indices[i] = s;
      b.y[i] = labels[s]!;
      const so = s * d;
      const to = i * d;
      // set() is a memcpy: about 4× faster than an element loop for MNIST rows, even counting the view.
      if (d >= VIEW_COPY_MIN) b.x.set(src.subarray(so, so + d), to);
      else for (let j = 0; j < d; j++) b.x[to + j] = src[so + j]!;
    }
    return b;
  }
}

function identity(n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

function checkBool(where: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') invalid(where, name, 'a boolean', describe(v));
  return v;
}

/**
 * One epoch of minibatches of `batchSize` samples (the last one smaller unless `dropLast`). Every
 * sample appears exactly once per epoch; with `rng` the order is a fresh permutation each call.
 */
export function batches(ds: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  // Checked here, outside the generator, so a bad call fails where it is made, not at the first batch.
  const where = 'batches';
  checkDataset(where, 'ds', ds);
  const bs = int(where, 'batchSize', batchSize, 1);
  const dropLast = checkBool(where, 'options.dropLast', options.dropLast, false);
  const reuse = checkBool(where, 'options.reuse', options.reuse, false);
  if (options.rng !== undefined && !(options.rng instanceof Rng))
    invalid(where, 'options.rng', 'an Rng', describe(options.rng));
  const order = options.rng ? options.rng.permutation(ds.n) : identity(ds.n);
  const end = dropLast ? ds.n - (ds.n % bs) : ds.n;
  return epoch(new Gatherer(ds, bs, reuse), order, end, bs);
}

function* epoch(g: Gatherer, order: Int32Array, end: number, bs: number): Generator<Batch, void, undefined> {
  for (let p = 0; p < end; p += bs) yield g.fill(order, p, Math.min(bs, end - p));
}

/** Options of `BatchSampler`. */
export interface BatchSamplerOptions {
  batchSize: number;
  /** Shuffle every epoch with a generator seeded by this. */
  seed?: number;
  /** Shuffle every epoch with a stream forked from this generator (which advances by one draw). */
  rng?: Rng;
  /** Skip each epoch's last, smaller batch. Default false. */
  dropLast?: boolean;
  /** Reuse the batch buffers (see `BatchOptions.reuse`). Default false. */
  reuse?: boolean;
}

/** The serialisable state of a `BatchSampler` (JSON-safe). */
export interface BatchSamplerState {
  version: 1;
  /** Size of the data set it was saved for (checked on restore). */
  n: number;
  batchSize: number;
  dropLast: boolean;
  shuffle: boolean;
  /** Current epoch, from 0. */
  epoch: number;
  /** Samples of the current epoch already handed out. */
  position: number;
  /** The generator as it was before this epoch's permutation was drawn; null without shuffling. */
  rng: { a: number; spare: number | null } | null;
}

/**
 * An endless, epoch-aware minibatch stream. Each epoch is a fresh permutation (when seeded) of
 * which every sample appears exactly once; `state` captures where it stands and
 * `BatchSampler.fromState` continues with the very same batches, in this or a later process.
 * The permutation is not stored: it is redrawn from the generator state saved at the epoch start.
 */
export class BatchSampler {
  readonly batchSize: number;
  readonly dropLast: boolean;
  private readonly ds: Dataset;
  private rng: Rng | null;
  private readonly order: Int32Array;
  private readonly gatherer: Gatherer;
  private readonly end: number;
  private epochStartRng: { a: number; spare: number | null } | null = null;
  private _epoch = 0;
  private _position = 0;

  constructor(ds: Dataset, options: BatchSamplerOptions) {
    const where = 'BatchSampler';
    checkDataset(where, 'ds', ds);
    if (typeof options !== 'object' || options === null)
      invalid(where, 'options', 'an object { batchSize, ... }', describe(options));
    this.ds = ds;
    this.batchSize = int(where, 'options.batchSize', options.batchSize, 1);
    this.dropLast = checkBool(where, 'options.dropLast', options.dropLast, false);
    const reuse = checkBool(where, 'options.reuse', options.reuse, false);
    if (options.seed !== undefined && options.rng !== undefined) {
      invalid(where, 'options', 'either seed or rng, not both', 'both');
    }
    if (options.rng !== undefined && !(options.rng instanceof Rng))
      invalid(where, 'options.rng', 'an Rng', describe(options.rng));
    this.rng = options.rng ? options.rng.fork() : options.seed !== undefined ? new Rng(options.seed) : null;
    this.end = this.dropLast ? ds.n - (ds.n % this.batchSize) : ds.n;
    if (this.end === 0) {
      invalid(
        where,
        'ds',
        `at least ${this.dropLast ? `one full batch (${this.batchSize} samples)` : 'one sample'}`,
        `${ds.n} samples`,
      );
    }
    this.order = new Int32Array(ds.n);
    this.gatherer = new Gatherer(ds, this.batchSize, reuse);
    this.startEpoch();
  }

  /** Draws the order of the current epoch, remembering the generator state it was drawn from. */
  private startEpoch(): void {
    const o = this.order;
    for (let i = 0; i < o.length; i++) o[i] = i;
    if (this.rng) {
      this.epochStartRng = this.rng.state;
      this.rng.shuffle(o);
    }
  }

  /** Whether every epoch has its own random order. */
  get shuffle(): boolean {
    return this.rng !== null;
  }

  /** The current epoch (from 0). */
  get epoch(): number {
    return this._epoch;
  }

  /** Samples of the current epoch already handed out. */
  get position(): number {
    return this._position;
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.end / this.batchSize);
  }

  /** The next batch; moves on to a new epoch (new order) when the current one is used up. */
  next(): Batch {
    if (this._position >= this.end) {
      this._epoch++;
      this._position = 0;
      this.startEpoch();
    }
    const count = Math.min(this.batchSize, this.end - this._position);
    const b = this.gatherer.fill(this.order, this._position, count);
    this._position += count;
    return b;
  }

  /**
   * The batches left in the current epoch, or all of the next one if the current is used up.
   * Loop `for (e…) for (const b of sampler.epochBatches())`; after a restore mid-epoch the first
   * call finishes that epoch.
   */
  *epochBatches(): Generator<Batch, void, undefined> {
    if (this._position >= this.end) yield this.next();
    while (this._position < this.end) yield this.next();
  }

  /** Where the sampler stands, as a JSON-safe object for checkpoints. */
  get state(): BatchSamplerState {
    return {
      version: 1,
      n: this.ds.n,
      batchSize: this.batchSize,
      dropLast: this.dropLast,
      shuffle: this.shuffle,
      epoch: this._epoch,
      position: this._position,
      rng: this.epochStartRng ? { ...this.epochStartRng } : null,
    };
  }

  /** A sampler over `ds` that continues exactly where the one that saved `state` stopped. */
  static fromState(ds: Dataset, state: BatchSamplerState, options: { reuse?: boolean } = {}): BatchSampler {
    const where = 'BatchSampler.fromState';
    checkDataset(where, 'ds', ds);
    if (typeof state !== 'object' || state === null) invalid(where, 'state', 'a BatchSamplerState', describe(state));
    if (state.version !== 1) invalid(where, 'state.version', '1', describe(state.version));
    if (state.n !== ds.n) {
      invalid(
        where,
        'state.n',
        `a state saved for a data set of ${ds.n} samples`,
        describe(state.n),
        'DEBORA_INVALID_CONFIG',
      );
    }
    const shuffle = checkBool(where, 'state.shuffle', state.shuffle, false);
    const rngState = state.rng;
    if (shuffle) {
      if (typeof rngState !== 'object' || rngState === null)
        invalid(where, 'state.rng', 'a generator state', describe(rngState));
      const sp = rngState.spare;
      if (sp !== null && (typeof sp !== 'number' || !Number.isFinite(sp))) {
        invalid(where, 'state.rng.spare', 'null or a finite number', describe(sp));
      }
    } else if (rngState !== null) {
      invalid(where, 'state.rng', 'null (the state is not shuffled)', describe(rngState));
    }
    const s = new BatchSampler(ds, {
      batchSize: int(where, 'state.batchSize', state.batchSize, 1),
      dropLast: checkBool(where, 'state.dropLast', state.dropLast, false),
      reuse: options.reuse ?? false,
    });
    const epoch = int(where, 'state.epoch', state.epoch, 0);
    const position = int(where, 'state.position', state.position, 0, s.end);
    if (position % s.batchSize !== 0 && position !== s.end) {
      invalid(where, 'state.position', `a multiple of the batch size ${s.batchSize} or ${s.end}`, `${position}`);
    }
    if (shuffle && rngState) {
      // Redraw this epoch's permutation from the saved generator: the stream then stands where it stood.
      s.rng = Rng.fromState(rngState);
      s.startEpoch();
    }
    s._epoch = epoch;
    s._position = position;
    return s;
  }
}
