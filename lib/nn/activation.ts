/**
 * activation.ts — element-wise layers: ReLU (the native op relu), GELU (exact erf form, or
 * PyTorch's tanh approximation), Flatten and Dropout (inverted: scaled by 1/(1−p) in training,
 * identity in eval). Tested in test/unit/nn-layers.test.ts (finite differences, reference values);
 * the relu kernel in test/native/relu.test.ts.
 */
import { reluBackward, reluForward } from '../ops/relu';
import { Rng } from '../rng';
import { int, invalid, num, oneOf } from '../validate';
import { checkGradShape, Module, noForward } from './module';
import { reuse, shapeStr, sizeOf, type Tensor } from './tensor';

// Module-scope bindings: hot loops then do no global lookups, which are ~100× slower inside vm
// contexts such as jest's (jestjs/jest#15502), and cost nothing in plain Node.
const { abs, exp, tanh } = Math;

/** Base of the element-wise layers: output shape = input shape, buffers reused. */
abstract class Elementwise extends Module {
  protected x: Tensor | null = null;
  protected y: Float32Array | null = null;
  protected dx: Float32Array | null = null;

  outputShape(inputShape: readonly number[]): number[] {
    return inputShape.slice();
  }

  protected begin(x: Tensor): Float32Array {
    this.x = x;
    this.y = reuse(this.y, x.data.length);
    return this.y;
  }

  protected beginBackward(name: string, dy: Tensor): { x: Tensor; dx: Float32Array } {
    if (this.x === null) noForward(name);
    checkGradShape(name, dy, this.x.shape);
    this.dx = reuse(this.dx, dy.data.length);
    return { x: this.x, dx: this.dx };
  }
}

/** max(0, x) (NaN and −0 give +0); the gradient is dy where x > 0, else 0. Native (op relu). */
export class ReLU extends Elementwise {
  forward(x: Tensor): Tensor {
    const y = this.begin(x);
    reluForward(x.data, { out: y });
    return { data: y, shape: x.shape };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const { x, dx } = this.beginBackward('ReLU', dy);
    if (!needInputGrad) return null;
    reluBackward(x.data, dy.data, { dX: dx });
    return { data: dx, shape: x.shape };
  }

  describe(): string {
    return 'ReLU';
  }
}

/**
 * erf(x) to float32 accuracy: Abramowitz & Stegun 7.1.26 has 1.5e-7 absolute error, about
 * float32's epsilon, so GELU matches PyTorch's exact form to float rounding.
 */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y =
    1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-ax * ax);
  return sign * y;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** GELU: x·Φ(x) ('none', as torch.nn.GELU()) or 0.5x(1+tanh(√(2/π)(x+0.044715x³))) ('tanh'). */
export class GELU extends Elementwise {
  readonly approximate: 'none' | 'tanh';

  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = oneOf('GELU', 'approximate', options.approximate ?? 'none', ['none', 'tanh'] as const);
  }

  forward(x: Tensor): Tensor {
    const y = this.begin(x);
    const a = x.data;
    if (this.approximate === 'none') {
      for (let i = 0; i < a.length; i++) {
        const v = a[i] as number;
        y[i] = 0.5 * v * (1 + erf(v * INV_SQRT2));
      }
    } else {
      for (let i = 0; i < a.length; i++) {
        const v = a[i] as number;
        y[i] = 0.5 * v * (1 + tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
    }
    return { data: y, shape: x.shape };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const { x, dx } = this.beginBackward('GELU', dy);
    if (!needInputGrad) return null;
    const a = x.data;
    const g = dy.data;
    if (this.approximate === 'none') {
      for (let i = 0; i < a.length; i++) {
        const v = a[i] as number;
        const cdf = 0.5 * (1 + erf(v * INV_SQRT2));
        const pdf = INV_SQRT_2PI * exp(-0.5 * v * v);
        dx[i] = (g[i] as number) * (cdf + v * pdf);
      }
    } else {
      for (let i = 0; i < a.length; i++) {
        const v = a[i] as number;
        const u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        const t = tanh(u);
        const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
        dx[i] = (g[i] as number) * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
      }
    }
    return { data: dx, shape: x.shape };
  }

  describe(): string {
    return this.approximate === 'none' ? 'GELU' : 'GELU(tanh)';
  }
}

/** [N, d1, d2, …] → [N, d1·d2·…]; shares the buffer (no copy). */
export class Flatten extends Module {
  private inShape: readonly number[] | null = null;

  forward(x: Tensor): Tensor {
    if (x.shape.length < 1) invalid('Flatten.forward', 'x', 'a batch-first tensor', shapeStr(x.shape));
    this.inShape = x.shape;
    return { data: x.data, shape: this.outputShape(x.shape) };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.inShape === null) noForward('Flatten');
    checkGradShape('Flatten', dy, this.outputShape(this.inShape));
    return needInputGrad ? { data: dy.data, shape: this.inShape } : null;
  }

  outputShape(inputShape: readonly number[]): number[] {
    const n = inputShape[0] ?? 0;
    return [n, sizeOf(inputShape.slice(1))];
  }

  describe(): string {
    return 'Flatten';
  }
}

/** Inverted dropout with its own seeded stream (so runs are reproducible and resumable). */
export class Dropout extends Elementwise {
  readonly p: number;
  rng: Rng;
  private mask: Float32Array | null = null;

  constructor(p = 0.5, options: { seed?: number } = {}) {
    super();
    this.p = num('Dropout', 'p', p, { min: 0, max: 1, maxOpen: true });
    this.rng = new Rng(int('Dropout', 'seed', options.seed ?? 0, 0, 0xffffffff));
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) {
      this.x = x;
      this.mask = null;
      return x;
    }
    const y = this.begin(x);
    this.mask = reuse(this.mask, x.data.length);
    const keep = 1 / (1 - this.p);
    const a = x.data;
    const m = this.mask;
    for (let i = 0; i < a.length; i++) {
      const k = this.rng.next() >= this.p ? keep : 0;
      m[i] = k;
      y[i] = (a[i] as number) * k;
    }
    return { data: y, shape: x.shape };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const { x, dx } = this.beginBackward('Dropout', dy);
    if (!needInputGrad) return null;
    if (this.mask === null) return { data: dy.data, shape: x.shape };
    const g = dy.data;
    const m = this.mask;
    for (let i = 0; i < g.length; i++) dx[i] = (g[i] as number) * (m[i] as number);
    return { data: dx, shape: x.shape };
  }

  describe(): string {
    return `Dropout(p=${this.p})`;
  }
}
