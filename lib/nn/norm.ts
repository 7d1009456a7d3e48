/**
 * norm.ts — LayerNorm over the last dimension and BatchNorm2d over the channels of NCHW batches
 * (batch statistics and running averages in training, running statistics in eval, as PyTorch:
 * momentum 0.1, unbiased running variance). Affine weight/bias are Parameters of kind 'norm'.
 * Tested in test/native/nn-layers.test.ts (finite differences, reference values).
 */
import { DeboraError } from '../errors';
import { int, num } from '../validate';
import { checkGradShape, Module, noForward } from './module';
import { Parameter } from './parameter';
import { reuse, shapeStr, type Tensor } from './tensor';

/** Options of the normalisation layers. */
export interface NormOptions {
  eps?: number;
  /** Learnable scale and shift (default true). */
  affine?: boolean;
  /** Whether the affine parameters train (default true). */
  trainable?: boolean;
}

/**
 * Shared backward of a normalisation over groups: with xn the normalised input, g = dy·γ, and
 * m the group size, dx = (g − mean(g) − xn·mean(g·xn)) / σ.
 */
function normBackwardGroup(
  g: Float64Array,
  xhat: Float64Array,
  invStd: number,
  out: Float32Array,
  idx: Int32Array | null,
  base: number,
  stride: number,
): void {
  const m = g.length;
  let mg = 0;
  let mgx = 0;
  for (let k = 0; k < m; k++) {
    mg += g[k] as number;
    mgx += (g[k] as number) * (xhat[k] as number);
  }
  mg /= m;
  mgx /= m;
  for (let k = 0; k < m; k++) {
    const pos = idx === null ? base + k * stride : (idx[k] as number);
    out[pos] = ((g[k] as number) - mg - (xhat[k] as number) * mgx) * invStd;
  }
}

/** y = γ·(x − mean)/√(var + eps) + β over the last dimension of each sample (biased variance). */
export class LayerNorm extends Module {
  readonly size: number;
  readonly eps: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  private x: Tensor | null = null;
  private mean: Float64Array = new Float64Array(0);
  private invStd: Float64Array = new Float64Array(0);
  private y: Float32Array | null = null;
  private dx: Float32Array | null = null;

  constructor(size: number, options: NormOptions = {}) {
    super();
    this.size = int('LayerNorm', 'size', size, 1);
    this.eps = num('LayerNorm', 'eps', options.eps ?? 1e-5, { min: 0, minOpen: true });
    const trainable = options.trainable ?? true;
    if (options.affine ?? true) {
      this.weight = new Parameter('weight', new Float32Array(size).fill(1), [size], 'norm', trainable);
      this.bias = new Parameter('bias', new Float32Array(size), [size], 'norm', trainable);
    } else {
      this.weight = null;
      this.bias = null;
    }
  }

  override ownParameters(): Parameter[] {
    return this.weight === null || this.bias === null ? [] : [this.weight, this.bias];
  }

  outputShape(s: readonly number[]): number[] {
    if (s.length < 2 || s[s.length - 1] !== this.size) {
      throw new DeboraError(
        `LayerNorm: expected an input whose last dimension is ${this.size} for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    return s.slice();
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    const d = this.size;
    const rows = x.data.length / d;
    if (this.mean.length !== rows) {
      this.mean = new Float64Array(rows);
      this.invStd = new Float64Array(rows);
    }
    this.y = reuse(this.y, x.data.length);
    const a = x.data;
    const y = this.y;
    const w = this.weight?.data;
    const b = this.bias?.data;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let mu = 0;
      for (let k = 0; k < d; k++) mu += a[o + k] as number;
      mu /= d;
      let v = 0;
      for (let k = 0; k < d; k++) {
        const t = (a[o + k] as number) - mu;
        v += t * t;
      }
      const inv = 1 / Math.sqrt(v / d + this.eps);
      this.mean[r] = mu;
      this.invStd[r] = inv;
      for (let k = 0; k < d; k++) {
        const xh = ((a[o + k] as number) - mu) * inv;
        y[o + k] = w === undefined || b === undefined ? xh : xh * (w[k] as number) + (b[k] as number);
      }
    }
    this.x = x;
    return { data: y, shape: x.shape };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.x === null) noForward('LayerNorm');
    checkGradShape('LayerNorm', dy, this.x.shape);
    const d = this.size;
    const rows = dy.data.length / d;
    const a = this.x.data;
    const gy = dy.data;
    const w = this.weight;
    const b = this.bias;
    if (needInputGrad) this.dx = reuse(this.dx, a.length);
    const g = new Float64Array(d);
    const xh = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const mu = this.mean[r] as number;
      const inv = this.invStd[r] as number;
      for (let k = 0; k < d; k++) {
        xh[k] = ((a[o + k] as number) - mu) * inv;
        const gk = gy[o + k] as number;
        g[k] = w === null ? gk : gk * (w.data[k] as number);
        if (w?.requiresGrad) w.grad[k] = (w.grad[k] as number) + gk * (xh[k] as number);
        if (b?.requiresGrad) b.grad[k] = (b.grad[k] as number) + gk;
      }
      if (needInputGrad) normBackwardGroup(g, xh, inv, this.dx as Float32Array, null, o, 1);
    }
    return needInputGrad ? { data: this.dx as Float32Array, shape: this.x.shape } : null;
  }

  describe(): string {
    return `LayerNorm(${this.size})`;
  }
}

/** Batch normalisation of the C channels of an NCHW batch. */
export class BatchNorm2d extends Module {
  readonly channels: number;
  readonly eps: number;
  readonly momentum: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  runningMean: Float32Array;
  runningVar: Float32Array;
  private x: Tensor | null = null;
  private usedBatchStats = true;
  private mean = new Float64Array(0);
  private invStd = new Float64Array(0);
  private y: Float32Array | null = null;
  private dx: Float32Array | null = null;

  constructor(channels: number, options: NormOptions & { momentum?: number } = {}) {
    super();
    this.channels = int('BatchNorm2d', 'channels', channels, 1);
    this.eps = num('BatchNorm2d', 'eps', options.eps ?? 1e-5, { min: 0, minOpen: true });
    this.momentum = num('BatchNorm2d', 'momentum', options.momentum ?? 0.1, { min: 0, max: 1 });
    const trainable = options.trainable ?? true;
    if (options.affine ?? true) {
      this.weight = new Parameter('weight', new Float32Array(channels).fill(1), [channels], 'norm', trainable);
      this.bias = new Parameter('bias', new Float32Array(channels), [channels], 'norm', trainable);
    } else {
      this.weight = null;
      this.bias = null;
    }
    this.runningMean = new Float32Array(channels);
    this.runningVar = new Float32Array(channels).fill(1);
  }

  override ownParameters(): Parameter[] {
    return this.weight === null || this.bias === null ? [] : [this.weight, this.bias];
  }

  override ownBuffers(): Array<[string, Float32Array]> {
    return [
      ['runningMean', this.runningMean],
      ['runningVar', this.runningVar],
    ];
  }

  outputShape(s: readonly number[]): number[] {
    if (s.length !== 4 || s[1] !== this.channels) {
      throw new DeboraError(
        `BatchNorm2d: expected an NCHW input with ${this.channels} channels for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    return s.slice();
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const hw = h * w;
    const m = n * hw;
    if (this.training && m < 2) {
      throw new DeboraError(
        `BatchNorm2d: expected more than one value per channel in training for argument 'x', received ${shapeStr(x.shape)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    this.mean = new Float64Array(c);
    this.invStd = new Float64Array(c);
    const a = x.data;
    this.y = reuse(this.y, a.length);
    const y = this.y;
    this.usedBatchStats = this.training;
    for (let ch = 0; ch < c; ch++) {
      let mu: number;
      let v: number;
      if (this.training) {
        mu = 0;
        for (let b = 0; b < n; b++) {
          const o = (b * c + ch) * hw;
          for (let k = 0; k < hw; k++) mu += a[o + k] as number;
        }
        mu /= m;
        v = 0;
        for (let b = 0; b < n; b++) {
          const o = (b * c + ch) * hw;
          for (let k = 0; k < hw; k++) {
            const t = (a[o + k] as number) - mu;
            v += t * t;
          }
        }
        v /= m;
        const mom = this.momentum;
        this.runningMean[ch] = (1 - mom) * (this.runningMean[ch] as number) + mom * mu;
        this.runningVar[ch] = (1 - mom) * (this.runningVar[ch] as number) + (mom * v * m) / (m - 1);
      } else {
        mu = this.runningMean[ch] as number;
        v = this.runningVar[ch] as number;
      }
      const inv = 1 / Math.sqrt(v + this.eps);
      this.mean[ch] = mu;
      this.invStd[ch] = inv;
      const gamma = this.weight === null ? 1 : (this.weight.data[ch] as number);
      const beta = this.bias === null ? 0 : (this.bias.data[ch] as number);
      for (let b = 0; b < n; b++) {
        const o = (b * c + ch) * hw;
        for (let k = 0; k < hw; k++) y[o + k] = ((a[o + k] as number) - mu) * inv * gamma + beta;
      }
    }
    this.x = x;
    return { data: y, shape: x.shape };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    if (this.x === null) noForward('BatchNorm2d');
    checkGradShape('BatchNorm2d', dy, this.x.shape);
    const [n, c, h, w] = this.x.shape as [number, number, number, number];
    const hw = h * w;
    const m = n * hw;
    const a = this.x.data;
    const gy = dy.data;
    if (needInputGrad) this.dx = reuse(this.dx, a.length);
    const dx = this.dx as Float32Array;
    const g = new Float64Array(m);
    const xh = new Float64Array(m);
    const idx = new Int32Array(m);
    for (let ch = 0; ch < c; ch++) {
      const mu = this.mean[ch] as number;
      const inv = this.invStd[ch] as number;
      const gamma = this.weight === null ? 1 : (this.weight.data[ch] as number);
      let dg = 0;
      let db = 0;
      let t = 0;
      for (let b = 0; b < n; b++) {
        const o = (b * c + ch) * hw;
        for (let k = 0; k < hw; k++, t++) {
          const xn = ((a[o + k] as number) - mu) * inv;
          const gk = gy[o + k] as number;
          dg += gk * xn;
          db += gk;
          xh[t] = xn;
          g[t] = gk * gamma;
          idx[t] = o + k;
        }
      }
      if (this.weight?.requiresGrad) this.weight.grad[ch] = (this.weight.grad[ch] as number) + dg;
      if (this.bias?.requiresGrad) this.bias.grad[ch] = (this.bias.grad[ch] as number) + db;
      if (!needInputGrad) continue;
      if (this.usedBatchStats) normBackwardGroup(g, xh, inv, dx, idx, 0, 0);
      else for (let k = 0; k < m; k++) dx[idx[k] as number] = (g[k] as number) * inv;
    }
    return needInputGrad ? { data: dx, shape: this.x.shape } : null;
  }

  describe(): string {
    return `BatchNorm2d(${this.channels})`;
  }
}
