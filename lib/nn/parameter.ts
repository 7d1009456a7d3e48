/**
 * parameter.ts — a named trainable (or frozen) tensor with its gradient: the unit that layers,
 * adapters and optimisers share. Row-major data; `shape` says how to read it. Shrinking an
 * adapter's rank replaces `data` and `grad` with smaller arrays via `remap`, and every optimiser
 * holding state for the parameter is told to apply the same map (Optimizer.remap).
 * Tested in test/unit/nn-parameter.test.ts.
 */
import { DeboraError } from '../errors';

/** What a parameter is, for parameter counts and for per-kind optimiser settings. */
export type ParameterKind = 'weight' | 'bias' | 'norm' | 'adapter-factor' | 'adapter-scale';

export class Parameter {
  /** Full dotted name, e.g. `fc1.weight` or `fc1.adapter.U`; set by the container (Sequential). */
  name: string;
  /** The name within its layer (`weight`, `adapter.U`), fixed at construction. */
  readonly localName: string;
  data: Float32Array;
  /** Accumulated gradient, same length as data. Layers add into it; `zeroGrad` clears it. */
  grad: Float32Array;
  shape: number[];
  /** Frozen parameters get no gradient computed and are skipped by optimisers. */
  requiresGrad: boolean;
  readonly kind: ParameterKind;

  constructor(name: string, data: Float32Array, shape: number[], kind: ParameterKind, requiresGrad = true) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new DeboraError(
        `Parameter: expected data of length ${size} (shape [${shape.join(', ')}]) for argument '${name}', received length ${data.length}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    this.name = name;
    this.localName = name;
    this.data = data;
    this.grad = new Float32Array(data.length);
    this.shape = shape.slice();
    this.kind = kind;
    this.requiresGrad = requiresGrad;
  }

  get size(): number {
    return this.data.length;
  }

  zeroGrad(): void {
    this.grad.fill(0);
  }

  /**
   * Replaces data and grad by `map(data)` and `map(grad)` (e.g. keep some columns) and sets the
   * new shape. `map` must be pure and give `newShape`'s size; optimisers holding state for this
   * parameter must be given the same map (Optimizer.remap) so their state stays aligned.
   */
  remap(map: (buf: Float32Array) => Float32Array, newShape: number[]): void {
    const size = newShape.reduce((a, b) => a * b, 1);
    const data = map(this.data);
    const grad = map(this.grad);
    if (data.length !== size || grad.length !== size) {
      throw new DeboraError(
        `Parameter.remap: expected a map giving ${size} elements for argument '${this.name}', received ${data.length}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    this.data = data;
    this.grad = grad;
    this.shape = newShape.slice();
  }
}

/** Keeps the columns `keep` (ascending indices) of a rows×cols row-major matrix. */
export function selectColumns(buf: Float32Array, rows: number, cols: number, keep: readonly number[]): Float32Array {
  const k = keep.length;
  const out = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const src = i * cols;
    const dst = i * k;
    for (let j = 0; j < k; j++) out[dst + j] = buf[src + (keep[j] as number)] as number;
  }
  return out;
}
