/**
 * linear.ts — the fully connected layer Y = X·Wᵀ + b on [N, in] batches, base weight frozen or
 * trainable, optionally carrying a CP matrix adapter Ψ = U diag(s) Vᵀ (W_eff = W + Ψ) applied
 * with the fused native op cp_linear. The base product is the native gemm (system BLAS when
 * built with one). Tested in test/native/nn-layers.test.ts and test/native/nn-adapters.test.ts.
 */
import { DeboraError } from '../errors';
import { cpLinearBackward, cpLinearForward } from '../ops/cp_linear';
import { gemm } from '../ops/gemm';
import { Rng } from '../rng';
import { int } from '../validate';
import { AdaptedLayer, addInto } from './adapted';
import type { AdapterOptions, CpAdapter } from './adapter';
import { checkGradShape, noForward } from './module';
import { Parameter } from './parameter';
import { profiler } from './profile';
import { reuse, shapeStr, type Tensor } from './tensor';

/** Options of Linear. */
export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Whether the base weight and bias train (default true; false = frozen, as under an adapter). */
  trainable?: boolean;
  /** Seed of the default initialisation U(−1/√in, 1/√in), as PyTorch's (default 0). */
  seed?: number;
}

/** Fully connected layer with an optional CP adapter. */
export class Linear extends AdaptedLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private x: Tensor | null = null;
  private y: Float32Array | null = null;
  private z: Float32Array | null = null;
  private dx: Float32Array | null = null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = int('Linear', 'inFeatures', inFeatures, 1);
    this.outFeatures = int('Linear', 'outFeatures', outFeatures, 1);
    const trainable = options.trainable ?? true;
    const rng = new Rng(int('Linear', 'seed', options.seed ?? 0, 0, 0xffffffff));
    const bound = 1 / Math.sqrt(inFeatures);
    const w = rng.fillUniform(new Float32Array(outFeatures * inFeatures), -bound, bound);
    this.weight = new Parameter('weight', w, [outFeatures, inFeatures], 'weight', trainable);
    this.bias =
      (options.bias ?? true)
        ? new Parameter(
            'bias',
            rng.fillUniform(new Float32Array(outFeatures), -bound, bound),
            [outFeatures],
            'bias',
            trainable,
          )
        : null;
  }

  /**
   * Attaches a CP matrix adapter (U: out×r, V: in×r, s: r) and returns it. With init 'offset' the
   * base weight becomes W − Ψ0 so the layer's function is unchanged.
   */
  attachAdapter(options: AdapterOptions, where = 'Linear.attachAdapter'): CpAdapter {
    return this.attach(where, options, [this.outFeatures, this.inFeatures], ['adapter.U', 'adapter.V']);
  }

  outputShape(s: readonly number[]): number[] {
    if (s.length !== 2 || s[1] !== this.inFeatures) {
      throw new DeboraError(
        `Linear: expected an input of shape [N, ${this.inFeatures}] for argument 'x', received ${shapeStr(s)}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    return [s[0] as number, this.outFeatures];
  }

  forward(x: Tensor): Tensor {
    const [n, nOut] = this.outputShape(x.shape) as [number, number];
    const nIn = this.inFeatures;
    const y = reuse(this.y, n * nOut);
    this.y = y;
    if (n > 0) {
      let t0 = profiler.start();
      gemm({
        transA: false,
        transB: true,
        M: n,
        N: nOut,
        K: nIn,
        alpha: 1,
        A: x.data,
        B: this.weight.data,
        beta: 0,
        C: y,
      });
      if (this.bias !== null) {
        const b = this.bias.data;
        for (let i = 0; i < n; i++) {
          const o = i * nOut;
          for (let j = 0; j < nOut; j++) y[o + j] = (y[o + j] as number) + (b[j] as number);
        }
      }
      profiler.stop('base', t0);
      const a = this.adapter;
      if (a !== null && a.rank > 0) {
        t0 = profiler.start();
        const [U, V] = a.factors as [Parameter, Parameter];
        this.z = reuse(this.z, n * a.rank);
        cpLinearForward(
          { N: n, nIn, nOut, r: a.rank, X: x.data, U: U.data, V: V.data, s: a.s.data },
          { out: y, accumulate: true, Z: this.z },
        );
        profiler.stop('adapter', t0);
      }
    }
    this.x = x;
    return { data: y, shape: [n, nOut] };
  }

  backward(dy: Tensor, needInputGrad: boolean): Tensor | null {
    const x = this.x;
    if (x === null) noForward('Linear');
    const n = x.shape[0] as number;
    const nIn = this.inFeatures;
    const nOut = this.outFeatures;
    checkGradShape('Linear', dy, [n, nOut]);
    let t0 = profiler.start();
    let dx: Float32Array | null = null;
    if (needInputGrad) {
      dx = reuse(this.dx, n * nIn);
      this.dx = dx;
      if (n > 0)
        gemm({
          transA: false,
          transB: false,
          M: n,
          N: nIn,
          K: nOut,
          alpha: 1,
          A: dy.data,
          B: this.weight.data,
          beta: 0,
          C: dx,
        });
    }
    if (n > 0 && this.weight.requiresGrad) {
      gemm({
        transA: true,
        transB: false,
        M: nOut,
        N: nIn,
        K: n,
        alpha: 1,
        A: dy.data,
        B: x.data,
        beta: 1,
        C: this.weight.grad,
      });
    }
    if (n > 0 && this.bias?.requiresGrad) {
      const gb = this.bias.grad;
      const g = dy.data;
      for (let i = 0; i < n; i++) {
        const o = i * nOut;
        for (let j = 0; j < nOut; j++) gb[j] = (gb[j] as number) + (g[o + j] as number);
      }
    }
    profiler.stop('base', t0);
    const a = this.adapter;
    if (n > 0 && a !== null && a.rank > 0) {
      t0 = profiler.start();
      const r = a.rank;
      const [U, V] = a.factors as [Parameter, Parameter];
      const [dU, dV, ds] = this.scratchFor([nOut * r, nIn * r, r]) as [Float32Array, Float32Array, Float32Array];
      const z = this.z !== null && this.z.length === n * r ? this.z : undefined;
      cpLinearBackward(
        { N: n, nIn, nOut, r, X: x.data, U: U.data, V: V.data, s: a.s.data, dY: dy.data },
        dx === null ? { Z: z, computeDx: false, dU, dV, ds } : { Z: z, dX: dx, accumulateDx: true, dU, dV, ds },
      );
      addInto(U, dU);
      addInto(V, dV);
      addInto(a.s, ds);
      profiler.stop('adapter', t0);
    }
    return dx === null ? null : { data: dx, shape: x.shape };
  }

  describe(): string {
    const ad = this.adapter === null ? '' : ` + CP adapter r=${this.adapter.rank} (${this.adapter.geometry})`;
    return `Linear(${this.inFeatures} → ${this.outFeatures}${this.bias === null ? ', no bias' : ''})${ad}`;
  }
}
