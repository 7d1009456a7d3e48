/**
 * pool.ts — 2-D max and average pooling on NCHW batches (kernel, stride, zero padding; average
 * counts padded cells like PyTorch's default count_include_pad=True; max ignores them). Max
 * pooling runs the native op max_pool2d; average pooling is TypeScript.
 * Tested in test/unit/nn-layers.test.ts against direct loops and finite differences; the
 * max_pool2d kernel in test/native/max-pool2d.test.ts.
 */
import { DeboraError } from '../errors';
import { maxPool2dBackward, maxPool2dForward, type Pool2dGeometry } from '../ops/max_pool2d';
import { int } from '../validate';
import { checkGradShape, Module, noForward } from './module';
import { reuse, shapeStr, type Tensor } from './tensor';

/** A value for both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];

function pair(where: string, name: string, v: Pair, min: number): [number, number] {
  if (typeof v === 'number') {
    const x = int(where, name, v, min);
    return [x, x];
  }
  if (!Array.isArray(v) || v.length !== 2) {
    throw new DeboraError(
      `${where}: expected an integer or a pair [h, w] for argument '${name}', received ${String(v)}`,
      'DEBORA_INVALID_ARG',
    );
  }
  return [int(where, `${name}[0]`, v[0], min), int(where, `${name}[1]`, v[1], min)];
}

/** Options of the pooling layers. */
export interface PoolOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  /** Zero padding on both sides (default 0; at most half the kernel, as in PyTorch). */
  padding?: Pair;
}

abstract class Pool2d extends Module {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  protected inShape: readonly number[] | null = null;
  protected y: Float32Array | null = null;
  protected dx: Float32Array | null = null;

  constructor(name: string, kernel: Pair, options: PoolOptions) {
    super();
    this.kernel = pair(name, 'kernel', kernel, 1);
    this.stride = pair(name, 'stride', options.stride ?? this.kernel, 1);
    this.padding = pair(name, 'padding', options.padding ?? 0, 0);
    if (this.padding[0] * 2 > this.kernel[0] || this.padding[1] * 2 > this.kernel[1]) {
      throw new DeboraError(
        `${name}: expected padding at most half the kernel for argument 'padding', received [${this.padding.join(', ')}] with kernel [${this.kernel.join(', ')}]`,
        'DEBORA_INVALID_ARG',
      );
    }
  }

  outputShape(s: readonly number[]): number[] {
    if (s.length !== 4) {
      throw new DeboraError(
        `${this.describe()}: expected an NCHW input of rank 4 for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    const [n, c, h, w] = s as [number, number, number, number];
    const ho = Math.floor((h + 2 * this.padding[0] - this.kernel[0]) / this.stride[0]) + 1;
    const wo = Math.floor((w + 2 * this.padding[1] - this.kernel[1]) / this.stride[1]) + 1;
    if (ho < 1 || wo < 1) {
      throw new DeboraError(
        `${this.describe()}: expected an input at least as large as the kernel for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    return [n, c, ho, wo];
  }
}

/**
 * Max pooling (native op max_pool2d); ties go to the first maximum (row-major), gradients flow to
 * it only.
 */
export class MaxPool2d extends Pool2d {
  private argmax: Int32Array | null = null;
  private geom: Pool2dGeometry | null = null;

  constructor(kernel: Pair, options: PoolOptions = {}) {
    super('MaxPool2d', kernel, options);
  }

  forward(x: Tensor): Tensor {
    const os = this.outputShape(x.shape);
    const [n, c, ho, wo] = os as [number, number, number, number];
    const len = n * c * ho * wo;
    this.y = reuse(this.y, len);
    if (this.argmax === null || this.argmax.length !== len) this.argmax = new Int32Array(len);
    const [h, w] = [x.shape[2] as number, x.shape[3] as number];
    // The op refuses empty batches; an empty input has an empty output and nothing to compute.
    this.geom =
      len === 0
        ? null
        : {
            batch: n,
            C: c,
            H: h,
            W: w,
            kh: this.kernel[0],
            kw: this.kernel[1],
            stride: this.stride,
            padding: this.padding,
          };
    if (this.geom !== null) maxPool2dForward(this.geom, x.data, { out: this.y, argmax: this.argmax });
    this.inShape = x.shape;
    return { data: this.y, shape: os };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.inShape === null || this.argmax === null) noForward('MaxPool2d');
    checkGradShape('MaxPool2d', dy, this.outputShape(this.inShape));
    if (!needInputGrad) return null;
    const len = this.inShape.reduce((a, b) => a * b, 1);
    this.dx = reuse(this.dx, len);
    if (this.geom !== null) maxPool2dBackward(this.geom, this.argmax, dy.data, { dX: this.dx });
    else this.dx.fill(0);
    return { data: this.dx, shape: this.inShape };
  }

  describe(): string {
    return `MaxPool2d(${this.kernel.join('×')}, stride ${this.stride.join('×')})`;
  }
}

/** Average pooling (padded cells count as zeros in the divisor kh·kw, as PyTorch's default). */
export class AvgPool2d extends Pool2d {
  constructor(kernel: Pair, options: PoolOptions = {}) {
    super('AvgPool2d', kernel, options);
  }

  private sweep(a: Float32Array, out: Float32Array, shape: readonly number[], backward: boolean): void {
    const [n, c, h, w] = shape as [number, number, number, number];
    const [, , ho, wo] = this.outputShape(shape) as [number, number, number, number];
    const [kh, kw] = this.kernel;
    const [sh, sw] = this.stride;
    const [ph, pw] = this.padding;
    const inv = 1 / (kh * kw);
    let o = 0;
    for (let plane = 0; plane < n * c; plane++) {
      const base = plane * h * w;
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++, o++) {
          let acc = 0;
          const go = backward ? (a[o] as number) * inv : 0;
          for (let p = 0; p < kh; p++) {
            const hi = i * sh - ph + p;
            if (hi < 0 || hi >= h) continue;
            for (let q = 0; q < kw; q++) {
              const wi = j * sw - pw + q;
              if (wi < 0 || wi >= w) continue;
              const idx = base + hi * w + wi;
              if (backward) out[idx] = (out[idx] as number) + go;
              else acc += a[idx] as number;
            }
          }
          if (!backward) out[o] = acc * inv;
        }
      }
    }
  }

  forward(x: Tensor): Tensor {
    const os = this.outputShape(x.shape);
    this.y = reuse(
      this.y,
      os.reduce((a, b) => a * b, 1),
    );
    this.sweep(x.data, this.y, x.shape, false);
    this.inShape = x.shape;
    return { data: this.y, shape: os };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.inShape === null) noForward('AvgPool2d');
    checkGradShape('AvgPool2d', dy, this.outputShape(this.inShape));
    if (!needInputGrad) return null;
    this.dx = reuse(
      this.dx,
      this.inShape.reduce((a, b) => a * b, 1),
    );
    this.dx.fill(0);
    this.sweep(dy.data, this.dx, this.inShape, true);
    return { data: this.dx, shape: this.inShape };
  }

  describe(): string {
    return `AvgPool2d(${this.kernel.join('×')}, stride ${this.stride.join('×')})`;
  }
}
