/**
 * conv2d.ts — the 2-D convolution layer on NCHW batches (stride, padding, dilation), base kernel
 * frozen or trainable, optionally carrying a CP conv adapter ΔK = Σ s_i U1_i⊗U2_i⊗U3_i⊗U4_i applied
 * as the native chain cp_conv2d. The base convolution is the native conv2d (im2col + gemm).
 * Tested in test/native/nn-layers.test.ts and test/native/nn-adapters.test.ts.
 */
import { DeboraError } from '../errors';
import { conv2dBackward, conv2dForward } from '../ops/conv2d';
import {
  type Conv2dGeometry,
  type Conv2dPair,
  conv2dOutputSize,
  cpConv2dBackward,
  cpConv2dForward,
} from '../ops/cp_conv2d';
import { Rng } from '../rng';
import { int } from '../validate';
import { AdaptedLayer, addInto } from './adapted';
import type { AdapterOptions, CpAdapter } from './adapter';
import { checkGradShape, noForward } from './module';
import { Parameter } from './parameter';
import { profiler } from './profile';
import { reuse, shapeStr, type Tensor } from './tensor';

/** Options of Conv2d. */
export interface Conv2dOptions {
  stride?: Conv2dPair;
  padding?: Conv2dPair;
  dilation?: Conv2dPair;
  bias?: boolean;
  /** Whether the base kernel and bias train (default true). */
  trainable?: boolean;
  /** Seed of the default initialisation U(−1/√fanIn, 1/√fanIn), fanIn = C·kh·kw (default 0). */
  seed?: number;
}

function pairOf(v: Conv2dPair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** 2-D convolution with an optional CP conv adapter. */
export class Conv2d extends AdaptedLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private x: Tensor | null = null;
  private geom: Conv2dGeometry | null = null;
  private y: Float32Array | null = null;
  private dx: Float32Array | null = null;

  constructor(inChannels: number, outChannels: number, kernelSize: Conv2dPair, options: Conv2dOptions = {}) {
    super();
    const where = 'Conv2d';
    this.inChannels = int(where, 'inChannels', inChannels, 1);
    this.outChannels = int(where, 'outChannels', outChannels, 1);
    const k = pairOf(kernelSize);
    this.kernel = [int(where, 'kernelSize[0]', k[0], 1), int(where, 'kernelSize[1]', k[1], 1)];
    const st = pairOf(options.stride ?? 1);
    const pd = pairOf(options.padding ?? 0);
    const dl = pairOf(options.dilation ?? 1);
    this.stride = [int(where, 'stride[0]', st[0], 1), int(where, 'stride[1]', st[1], 1)];
    this.padding = [int(where, 'padding[0]', pd[0], 0), int(where, 'padding[1]', pd[1], 0)];
    this.dilation = [int(where, 'dilation[0]', dl[0], 1), int(where, 'dilation[1]', dl[1], 1)];
    const trainable = options.trainable ?? true;
    const rng = new Rng(int(where, 'seed', options.seed ?? 0, 0, 0xffffffff));
    const fanIn = inChannels * this.kernel[0] * this.kernel[1];
    const bound = 1 / Math.sqrt(fanIn);
    const w = rng.fillUniform(new Float32Array(outChannels * fanIn), -bound, bound);
    this.weight = new Parameter(
      'weight',
      w,
      [outChannels, inChannels, this.kernel[0], this.kernel[1]],
      'weight',
      trainable,
    );
    this.bias =
      (options.bias ?? true)
        ? new Parameter(
            'bias',
            rng.fillUniform(new Float32Array(outChannels), -bound, bound),
            [outChannels],
            'bias',
            trainable,
          )
        : null;
  }

  /**
   * Attaches a CP conv adapter (U1: F×r, U2: C×r, U3: kh×r, U4: kw×r, s: r) and returns it. Under
   * 'stiefel', the spatial modes shorter than the rank use 'oblique'.
   */
  attachAdapter(options: AdapterOptions, where = 'Conv2d.attachAdapter'): CpAdapter {
    return this.attach(
      where,
      options,
      [this.outChannels, this.inChannels, this.kernel[0], this.kernel[1]],
      ['adapter.U1', 'adapter.U2', 'adapter.U3', 'adapter.U4'],
    );
  }

  private geometryFor(s: readonly number[]): Conv2dGeometry {
    if (s.length !== 4 || s[1] !== this.inChannels) {
      throw new DeboraError(
        `Conv2d: expected an NCHW input with ${this.inChannels} channels for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    return {
      batch: s[0] as number,
      C: this.inChannels,
      H: s[2] as number,
      W: s[3] as number,
      F: this.outChannels,
      kh: this.kernel[0],
      kw: this.kernel[1],
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
    };
  }

  outputShape(s: readonly number[]): number[] {
    const g = this.geometryFor(s);
    const { Ho, Wo } = conv2dOutputSize(g);
    return [g.batch, this.outChannels, Ho, Wo];
  }

  forward(x: Tensor): Tensor {
    const g = this.geometryFor(x.shape);
    const os = this.outputShape(x.shape);
    const len = os.reduce((a, b) => a * b, 1);
    const y = reuse(this.y, len);
    this.y = y;
    if (g.batch > 0) {
      let t0 = profiler.start();
      conv2dForward(g, x.data, this.weight.data, this.bias === null ? { out: y } : { out: y, bias: this.bias.data });
      profiler.stop('base', t0);
      const a = this.adapter;
      if (a !== null && a.rank > 0) {
        t0 = profiler.start();
        const [U1, U2, U3, U4] = a.factors as [Parameter, Parameter, Parameter, Parameter];
        cpConv2dForward(
          g,
          a.rank,
          x.data,
          { U1: U1.data, U2: U2.data, U3: U3.data, U4: U4.data, s: a.s.data },
          { out: y, accumulate: true },
        );
        profiler.stop('adapter', t0);
      }
    }
    this.x = x;
    this.geom = g;
    return { data: y, shape: os };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const x = this.x;
    const g = this.geom;
    if (x === null || g === null) noForward('Conv2d');
    checkGradShape('Conv2d', dy, this.outputShape(x.shape));
    let t0 = profiler.start();
    let dx: Float32Array | null = null;
    if (needInputGrad) {
      dx = reuse(this.dx, x.data.length);
      this.dx = dx;
    }
    const wantDk = this.weight.requiresGrad;
    const wantDb = this.bias?.requiresGrad;
    if (g.batch > 0 && (dx !== null || wantDk || wantDb)) {
      conv2dBackward(g, x.data, this.weight.data, dy.data, {
        computeDx: dx !== null,
        ...(dx === null ? {} : { dX: dx }),
        ...(wantDk ? { dK: this.weight.grad, accumulateDk: true } : {}),
        ...(wantDb && this.bias !== null ? { dbias: this.bias.grad, accumulateDbias: true } : {}),
      });
    }
    profiler.stop('base', t0);
    const a = this.adapter;
    if (g.batch > 0 && a !== null && a.rank > 0) {
      t0 = profiler.start();
      const r = a.rank;
      const [U1, U2, U3, U4] = a.factors as [Parameter, Parameter, Parameter, Parameter];
      const [dU1, dU2, dU3, dU4, ds] = this.scratchFor([
        this.outChannels * r,
        this.inChannels * r,
        this.kernel[0] * r,
        this.kernel[1] * r,
        r,
      ]) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
      cpConv2dBackward(
        g,
        r,
        x.data,
        { U1: U1.data, U2: U2.data, U3: U3.data, U4: U4.data, s: a.s.data },
        dy.data,
        dx === null
          ? { computeDx: false, wantDots: false, dU1, dU2, dU3, dU4, ds }
          : { dX: dx, accumulateDx: true, wantDots: false, dU1, dU2, dU3, dU4, ds },
      );
      addInto(U1, dU1);
      addInto(U2, dU2);
      addInto(U3, dU3);
      addInto(U4, dU4);
      addInto(a.s, ds);
      profiler.stop('adapter', t0);
    }
    return dx === null ? null : { data: dx, shape: x.shape };
  }

  describe(): string {
    const ad = this.adapter === null ? '' : ` + CP conv adapter r=${this.adapter.rank} (${this.adapter.geometry})`;
    return `Conv2d(${this.inChannels} → ${this.outChannels}, ${this.kernel.join('×')}, stride ${this.stride.join('×')}, pad ${this.padding.join('×')})${ad}`;
  }
}
