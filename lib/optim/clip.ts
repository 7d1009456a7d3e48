/**
 * optim/clip.ts — gradient clipping before an optimiser step: by the global L2 norm over all
 * trainable parameters (torch.nn.utils.clip_grad_norm_) and by value (clip_grad_value_). Both check
 * every gradient first and change nothing when one is non-finite. Frozen parameters are ignored, as
 * the optimisers ignore them. Tested in test/unit/optim-clip.test.ts.
 */
import { DeboraError } from '../errors';
import { Parameter } from '../nn/parameter';
import { describe, invalid, num } from '../validate';

// Module-scope bindings: hot loops then do no global lookups, which are ~100× slower inside vm
// contexts such as jest's (jestjs/jest#15502), and cost nothing in plain Node.
const { abs, sqrt } = Math;
const finite = Number.isFinite;

function trainable(where: string, params: readonly Parameter[]): Parameter[] {
  if (!Array.isArray(params)) invalid(where, 'params', 'an array of Parameters', describe(params));
  const out: Parameter[] = [];
  params.forEach((p, i) => {
    if (!(p instanceof Parameter)) invalid(where, `params[${i}]`, 'a Parameter', describe(p));
    if (p.requiresGrad) out.push(p);
  });
  return out;
}

function nonFinite(where: string, p: Parameter): never {
  const g = p.grad;
  let i = 0;
  while (i < g.length && finite(g[i] as number)) i++;
  throw new DeboraError(
    `${where}: expected finite values for argument '${p.name}.grad', received ${describe(g[i])} at index ${i}; no gradient was changed`,
    'DEBORA_NON_FINITE',
  );
}

/**
 * Scales every trainable gradient by min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm of all
 * gradients together (the 1e-6 is torch's, so a norm just at maxNorm is left alone), and returns
 * ‖g‖ before clipping. A non-finite norm throws DEBORA_NON_FINITE naming the first offending
 * parameter, with no gradient changed.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  const where = 'clipGradNorm';
  num(where, 'maxNorm', maxNorm, { min: 0, minOpen: true });
  const ps = trainable(where, params);
  // float64 accumulation: squares of float32 values cannot overflow it, so a non-finite sum means
  // a non-finite element.
  let sq = 0;
  for (const p of ps) {
    const g = p.grad;
    let s = 0;
    for (let i = 0; i < g.length; i++) {
      const v = g[i] as number;
      s += v * v;
    }
    if (!finite(s)) nonFinite(where, p);
    sq += s;
  }
  const norm = sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of ps) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) g[i] = (g[i] as number) * coef;
    }
  }
  return norm;
}

/**
 * Clamps every trainable gradient element to [−clipValue, clipValue] and returns the largest |g|
 * before clipping. A NaN or ±Inf gradient throws DEBORA_NON_FINITE (clamping would hide an Inf and
 * keep a NaN), with no gradient changed.
 */
export function clipGradValue(params: readonly Parameter[], clipValue: number): number {
  const where = 'clipGradValue';
  num(where, 'clipValue', clipValue, { min: 0, minOpen: true });
  const ps = trainable(where, params);
  let maxAbs = 0;
  for (const p of ps) {
    const g = p.grad;
    let s = 0;
    for (let i = 0; i < g.length; i++) {
      const a = abs(g[i] as number);
      s += a;
      if (a > maxAbs) maxAbs = a;
    }
    if (!finite(s)) nonFinite(where, p);
  }
  if (maxAbs > clipValue) {
    for (const p of ps) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) {
        const v = g[i] as number;
        if (v > clipValue) g[i] = clipValue;
        else if (v < -clipValue) g[i] = -clipValue;
      }
    }
  }
  return maxAbs;
}
