/**
 * cp_hypergrad.ts — op cp_hypergrad: the cheap hypergradient estimate G̃ from ∂s and the
 * per-component factor·gradient dot products. Tested in test/native/cp_hypergrad.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { f32 } from '../validate';
import type { OpOptions } from './common';

/**
 * cp_hypergrad — the cheap hypergradient estimate of dEBORA (ALGORITHM.md section 3), per
 * adapter component i (concatenate many adapters' components to do them all in one call):
 *
 *     G[i] = ds[i] − dots[i] / s[i],     dots[i] = Σ_k ⟨u_i^(k), g_i^(k)⟩
 *
 * `ds` is ∂f/∂s on the upper-level minibatch, `dots` the per-column dot products of each factor
 * with its gradient (from the backward pass). `s` must be finite and > 0. Writes into `out`
 * when given (same length), else into a new array, and returns it.
 */
export function cpHypergrad(
  ds: Float32Array,
  s: Float32Array,
  dots: Float32Array,
  opts: OpOptions & { out?: Float32Array } = {},
): Float32Array {
  const where = 'cpHypergrad';
  const r = f32(where, 'ds', ds).length;
  f32(where, 's', s, r);
  f32(where, 'dots', dots, r);
  const out = opts.out === undefined ? new Float32Array(r) : f32(where, 'out', opts.out, r);
  return addon().cpHypergrad(backendCode(resolveBackend(opts.backend)), ds, s, dots, out);
}
