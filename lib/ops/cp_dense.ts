/**
 * cp_dense.ts — ops cp_materialize and cp_mttkrp: the dense route of ALGORITHM.md section 1 for a CP adapter
 * of any order d = 2…6 (the way a foreign trainer uses the library: materialise ΔW, get G = ∂L/∂W back,
 * turn it into factor and weight gradients). Tested in test/native/cp_dense.test.ts and
 * test/native/hypergrad_identities.test.ts.
 */
import { backendCode, resolveBackend } from '../backend';
import { addon } from '../native';
import { describe, f32, int, invalid } from '../validate';
import type { OpOptions } from './common';

/** Orders the dense route supports. */
export const CP_DENSE_MIN_ORDER = 2;
export const CP_DENSE_MAX_ORDER = 6;

/** Checks dims, s and factors; returns r (= s.length) and the element count of the dense tensor. */
function checkShapes(where: string, factors: unknown, s: unknown, dims: unknown): { r: number; total: number } {
  if (!Array.isArray(dims) || dims.length < CP_DENSE_MIN_ORDER || dims.length > CP_DENSE_MAX_ORDER) {
    invalid(where, 'dims', `an array of ${CP_DENSE_MIN_ORDER} to ${CP_DENSE_MAX_ORDER} integers >= 1`, describe(dims));
  }
  let total = 1;
  for (let k = 0; k < dims.length; k++) total *= int(where, `dims[${k}]`, dims[k], 1);
  if (!Number.isSafeInteger(total)) invalid(where, 'dims', 'dims whose product is a safe integer', String(total));
  const sv = f32(where, 's', s);
  if (sv.length < 1) invalid(where, 's', 'a Float32Array of length >= 1 (the rank r)', describe(s));
  const r = sv.length;
  if (!Array.isArray(factors) || factors.length !== dims.length) {
    invalid(
      where,
      'factors',
      `an array of ${dims.length} Float32Array (one per entry of dims)`,
      describe(factors),
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  for (let k = 0; k < dims.length; k++) f32(where, `factors[${k}]`, factors[k], (dims[k] as number) * r);
  return { r, total };
}

/**
 * cp_materialize — the dense CP tensor of order d = dims.length (2…6):
 *
 *     out = Ψ(B, s) = Σ_i s_i · u_i^(1) ⊗ u_i^(2) ⊗ … ⊗ u_i^(d)
 *
 * `factors[k]` is U^(k), dims[k] × r row-major (column i is u_i^(k)); `s` has length r. The result is
 * row-major with mode 1 slowest, i.e. element (j_1, …, j_d) is at ((j_1·n_2 + j_2)·n_3 + …)·n_d + j_d,
 * prod(dims) elements. Written into `opts.out` when given (reuse it in a training loop: a fresh large
 * array costs page faults), else into a new array; returns it. Factors and s must be finite
 * (DEBORA_NON_FINITE otherwise, `out` untouched).
 */
export function cpMaterialize(
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  opts: OpOptions & { out?: Float32Array } = {},
): Float32Array {
  const { args, out } = materializeArgs('cpMaterialize', factors, s, dims, opts);
  addon().cpMaterialize(...args);
  return out;
}

/** cpMaterialize on a worker thread: leave the arrays alone until the promise settles. */
export async function cpMaterializeAsync(
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  opts: OpOptions & { out?: Float32Array } = {},
): Promise<Float32Array> {
  const { args, out } = materializeArgs('cpMaterializeAsync', factors, s, dims, opts);
  await addon().cpMaterializeAsync(...args);
  return out;
}

function materializeArgs(
  where: string,
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  opts: OpOptions & { out?: Float32Array },
) {
  const { r, total } = checkShapes(where, factors, s, dims);
  const out = opts.out === undefined ? new Float32Array(total) : f32(where, 'out', opts.out, total);
  const args = [backendCode(resolveBackend(opts.backend)), dims, r, factors, s, out] as const;
  return { args, out };
}

/** What cpMttkrp returns (the arrays passed in `opts`, when given). */
export interface CpMttkrpResult {
  /** grads[k] = ∂L/∂U^(k), dims[k] × r row-major. */
  grads: Float32Array[];
  /** ds = ∂L/∂s, length r. */
  ds: Float32Array;
  /** dots[i] = Σ_k ⟨U^(k)[:, i], grads[k][:, i]⟩ (the input of cpHypergrad), when asked for. */
  dots?: Float32Array;
}

/**
 * cp_mttkrp — the backward of cpMaterialize from the dense gradient G = ∂L/∂W (same layout as its output):
 *
 *     grads[k][j, i] = s_i · Σ_{all indices but the k-th, which is j} G · Π_{m≠k} U^(m)[j_m, i]   (MTTKRP)
 *     ds_i           = ⟨G, u_i^(1) ⊗ … ⊗ u_i^(d)⟩
 *     dots_i         = Σ_k ⟨U^(k)[:, i], grads[k][:, i]⟩        (with wantDots or opts.dots)
 *
 * All modes and ds come from one pass over G. Outputs go into `opts.grads` / `opts.ds` / `opts.dots` when
 * given (exact lengths; they must not overlap the inputs or each other), else into new arrays. G must be
 * finite: a NaN or infinity is reported as DEBORA_NON_FINITE naming its index, with every output untouched.
 */
export function cpMttkrp(
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  G: Float32Array,
  opts: CpMttkrpOptions = {},
): CpMttkrpResult {
  const { args, result } = mttkrpArgs('cpMttkrp', factors, s, dims, G, opts);
  addon().cpMttkrp(...args);
  return result;
}

/** cpMttkrp on a worker thread (same rule: leave the arrays alone until it settles). */
export async function cpMttkrpAsync(
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  G: Float32Array,
  opts: CpMttkrpOptions = {},
): Promise<CpMttkrpResult> {
  const { args, result } = mttkrpArgs('cpMttkrpAsync', factors, s, dims, G, opts);
  await addon().cpMttkrpAsync(...args);
  return result;
}

/** Options of cpMttkrp: preallocated outputs (exact lengths) and whether to return the dots. */
export interface CpMttkrpOptions extends OpOptions {
  grads?: Float32Array[];
  ds?: Float32Array;
  wantDots?: boolean;
  dots?: Float32Array;
}

function mttkrpArgs(
  where: string,
  factors: Float32Array[],
  s: Float32Array,
  dims: number[],
  G: Float32Array,
  opts: CpMttkrpOptions,
) {
  const { r, total } = checkShapes(where, factors, s, dims);
  f32(where, 'G', G, total);
  let grads: Float32Array[];
  if (opts.grads === undefined) {
    grads = dims.map((n) => new Float32Array(n * r));
  } else {
    if (!Array.isArray(opts.grads) || opts.grads.length !== dims.length) {
      invalid(
        where,
        'grads',
        `an array of ${dims.length} Float32Array (one per entry of dims)`,
        describe(opts.grads),
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    for (let k = 0; k < dims.length; k++) f32(where, `grads[${k}]`, opts.grads[k], (dims[k] as number) * r);
    grads = opts.grads;
  }
  const ds = opts.ds === undefined ? new Float32Array(r) : f32(where, 'ds', opts.ds, r);
  let dots: Float32Array | undefined;
  if (opts.dots !== undefined) dots = f32(where, 'dots', opts.dots, r);
  else if (opts.wantDots === true) dots = new Float32Array(r);
  const args = [backendCode(resolveBackend(opts.backend)), dims, r, factors, s, G, grads, ds, dots ?? null] as const;
  const result: CpMttkrpResult = dots === undefined ? { grads, ds } : { grads, ds, dots };
  return { args, result };
}
