/**
 * gradcheck.ts — finite-difference checks of a layer's backward. The scalar probe is
 * L(x, θ) = Σ_k w_k · layer(x)_k with fixed random w (so dL/dy = w), accumulated in float64.
 * Central differences on the float32 layer: for layers linear or multilinear in the perturbed
 * value the difference is exact up to rounding, |err| ≲ ε₃₂·Σ|w y| / h; smooth non-linear layers
 * add O(h²) truncation. Callers pick h and the tolerance for their layer and say why.
 */
import type { Module } from '../../lib/nn/module';
import type { Tensor } from '../../lib/nn/tensor';
import { uniform } from './random';

export interface GradCheckResult {
  /** Largest |analytic − numeric| / (atol + rtol·|numeric|) over the checked coordinates: ≤ 1 passes. */
  worst: number;
  where: string;
}

function probe(layer: Module, x: Tensor, w: Float32Array): number {
  const y = layer.forward(x).data;
  let s = 0;
  for (let k = 0; k < y.length; k++) s += (w[k] as number) * (y[k] as number);
  return s;
}

/** Up to `count` indices spread over [0, n), deterministic. */
function sampleIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(Math.floor(((k + 0.5) * n) / count));
  return out;
}

/**
 * Checks ∂L/∂x and ∂L/∂θ for every trainable parameter of `layer` at `x`. `resetRng` is called
 * before every forward so stochastic layers (dropout) see the same mask.
 */
export function gradCheck(
  layer: Module,
  x: Tensor,
  opts: {
    h: number;
    atol: number;
    rtol: number;
    seed?: number;
    count?: number;
    resetRng?: () => void;
    checkInput?: boolean;
  },
): GradCheckResult {
  const reset = opts.resetRng ?? (() => {});
  reset();
  const y0 = layer.forward(x);
  const w = uniform(opts.seed ?? 99, y0.data.length, -1, 1);
  for (const p of layer.parameters()) p.zeroGrad();
  const dx = layer.backward({ data: w, shape: y0.shape }, opts.checkInput ?? true);
  const analytic: Array<[string, Float32Array, Float32Array]> = [];
  if (opts.checkInput ?? true) {
    if (dx === null) throw new Error('backward returned no input gradient');
    analytic.push(['x', x.data, Float32Array.from(dx.data)]);
  }
  for (const p of layer.parameters())
    if (p.requiresGrad) analytic.push([p.localName, p.data, Float32Array.from(p.grad)]);
  let worst = 0;
  let where = '';
  for (const [name, data, grad] of analytic) {
    for (const i of sampleIndices(data.length, opts.count ?? 24)) {
      const orig = data[i] as number;
      data[i] = orig + opts.h;
      const hp = (data[i] as number) - orig;
      reset();
      const lp = probe(layer, x, w);
      data[i] = orig - opts.h;
      const hm = orig - (data[i] as number);
      reset();
      const lm = probe(layer, x, w);
      data[i] = orig;
      const numeric = (lp - lm) / (hp + hm);
      const ratio = Math.abs((grad[i] as number) - numeric) / (opts.atol + opts.rtol * Math.abs(numeric));
      if (!(ratio <= worst)) {
        worst = Number.isNaN(ratio) ? Infinity : ratio;
        where = `${name}[${i}]: analytic ${grad[i]}, numeric ${numeric}`;
      }
    }
  }
  return { worst, where };
}
