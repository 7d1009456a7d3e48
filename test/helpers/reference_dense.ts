/**
 * reference_dense.ts — plain float64 references for the dense route (cp_materialize, cp_mttkrp) and the
 * tangent projections (cp_tangent), plus manifold helpers and the rounding-error bound the tests use.
 * Written for clarity, not speed: every formula is the textbook one. Used by test/native/cp_dense.test.ts,
 * cp_tangent.test.ts and hypergrad_identities.test.ts.
 */

/** float32 unit roundoff u = 2^-24. */
export const U32 = 2 ** -24;

/**
 * Higham's γ_k = k·u / (1 − k·u): a sum of k products, each computed with rounding, satisfies
 * |fl(Σ) − Σ| ≤ γ_k · Σ|terms| in any summation order (each term carries at most k roundings in total).
 */
export function gamma(k: number, u = U32): number {
  return (k * u) / (1 - k * u);
}

export function prod(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Calls f(flat, idx) for every index of a row-major tensor (last mode fastest). */
export function forEachIndex(dims: readonly number[], f: (flat: number, idx: readonly number[]) => void): void {
  const idx = dims.map(() => 0);
  const n = prod(dims);
  for (let flat = 0; flat < n; flat++) {
    f(flat, idx);
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++(idx[k] as number) < (dims[k] as number)) break;
      idx[k] = 0;
    }
  }
}

/** Element-wise |x| as float64 (the error scale of a reference is the reference on |inputs|). */
export function abs64(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x as ArrayLike<number>, (v) => Math.abs(v));
}

/** Ψ(B, s) = Σ_i s_i u_i^(1) ⊗ … ⊗ u_i^(d), row-major with mode 1 slowest. factors[k]: dims[k] × r row-major. */
export function materialize64(
  factors: readonly ArrayLike<number>[],
  s: ArrayLike<number>,
  dims: readonly number[],
): Float64Array {
  const r = s.length;
  const out = new Float64Array(prod(dims));
  forEachIndex(dims, (flat, idx) => {
    let acc = 0;
    for (let i = 0; i < r; i++) {
      let p = s[i] as number;
      for (let k = 0; k < dims.length; k++)
        p *= (factors[k] as ArrayLike<number>)[(idx[k] as number) * r + i] as number;
      acc += p;
    }
    out[flat] = acc;
  });
  return out;
}

export interface Mttkrp64 {
  grads: Float64Array[];
  ds: Float64Array;
  dots: Float64Array;
}

/**
 * The dense-route backward: grads[k][j,i] = s_i Σ_{idx_k = j} G[idx] Π_{m≠k} U_m[idx_m, i];
 * ds_i = ⟨G, ⊗_m u_i^(m)⟩; dots_i = Σ_k ⟨U_k[:, i], grads[k][:, i]⟩.
 */
export function mttkrp64(
  factors: readonly ArrayLike<number>[],
  s: ArrayLike<number>,
  dims: readonly number[],
  G: ArrayLike<number>,
): Mttkrp64 {
  const r = s.length;
  const d = dims.length;
  const grads = dims.map((n) => new Float64Array(n * r));
  const ds = new Float64Array(r);
  const dots = new Float64Array(r);
  const u = (k: number, j: number, i: number) => (factors[k] as ArrayLike<number>)[j * r + i] as number;
  forEachIndex(dims, (flat, idx) => {
    const g = G[flat] as number;
    for (let i = 0; i < r; i++) {
      let all = g;
      for (let k = 0; k < d; k++) all *= u(k, idx[k] as number, i);
      ds[i] = (ds[i] as number) + all;
      for (let k = 0; k < d; k++) {
        let others = (s[i] as number) * g;
        for (let m = 0; m < d; m++) if (m !== k) others *= u(m, idx[m] as number, i);
        const gk = grads[k] as Float64Array;
        const at = (idx[k] as number) * r + i;
        gk[at] = (gk[at] as number) + others;
      }
    }
  });
  for (let k = 0; k < d; k++)
    for (let j = 0; j < (dims[k] as number); j++)
      for (let i = 0; i < r; i++)
        dots[i] = (dots[i] as number) + u(k, j, i) * ((grads[k] as Float64Array)[j * r + i] as number);
  return { grads, ds, dots };
}

export type GeometryName = 'euclidean' | 'oblique' | 'stiefel';

export interface Tangent64 {
  out: Float64Array;
  /** |G| + |U|·|C|: the error scale of out (C the correction matrix, on |U| and |G|). */
  scale: Float64Array;
  /** ⟨U_i, out_i⟩ */
  dots: Float64Array;
  /** The r × r correction C (diag(⟨U_i,G_i⟩) for oblique, sym(UᵀG) for stiefel, 0 for euclidean). */
  C: Float64Array;
}

/** out = G − U·C with C = 0 (euclidean), diag(⟨U_i, G_i⟩) (oblique) or sym(UᵀG) (stiefel); n × r row-major. */
export function tangent64(
  geometry: GeometryName,
  U: ArrayLike<number>,
  G: ArrayLike<number>,
  n: number,
  r: number,
): Tangent64 {
  const C = new Float64Array(r * r);
  const Cabs = new Float64Array(r * r);
  const at = (X: ArrayLike<number>, j: number, i: number) => X[j * r + i] as number;
  if (geometry !== 'euclidean') {
    for (let a = 0; a < r; a++)
      for (let b = 0; b < r; b++) {
        if (geometry === 'oblique' && a !== b) continue;
        let m = 0;
        let ma = 0;
        for (let j = 0; j < n; j++) {
          m += at(U, j, a) * at(G, j, b) + at(U, j, b) * at(G, j, a);
          ma += Math.abs(at(U, j, a) * at(G, j, b)) + Math.abs(at(U, j, b) * at(G, j, a));
        }
        C[a * r + b] = m / 2;
        Cabs[a * r + b] = ma / 2;
      }
  }
  const out = new Float64Array(n * r);
  const scale = new Float64Array(n * r);
  const dots = new Float64Array(r);
  for (let j = 0; j < n; j++)
    for (let b = 0; b < r; b++) {
      let o = at(G, j, b);
      let sc = Math.abs(o);
      for (let a = 0; a < r; a++) {
        o -= at(U, j, a) * (C[a * r + b] as number);
        sc += Math.abs(at(U, j, a)) * (Cabs[a * r + b] as number);
      }
      out[j * r + b] = o;
      scale[j * r + b] = sc;
      dots[b] = (dots[b] as number) + at(U, j, b) * o;
    }
  return { out, scale, dots, C };
}

/** Columns of U (n × r) scaled to unit norm, in float64, returned as float32. */
export function normalizeColumns(U: ArrayLike<number>, n: number, r: number): Float32Array {
  const out = new Float32Array(n * r);
  for (let i = 0; i < r; i++) {
    let nrm = 0;
    for (let j = 0; j < n; j++) nrm += (U[j * r + i] as number) ** 2;
    nrm = Math.sqrt(nrm);
    for (let j = 0; j < n; j++) out[j * r + i] = (U[j * r + i] as number) / nrm;
  }
  return out;
}

/** Orthonormal columns (n ≥ r) by modified Gram–Schmidt with one re-orthogonalisation, in float64. */
export function orthonormalize(U: ArrayLike<number>, n: number, r: number): Float32Array {
  if (n < r) throw new Error(`orthonormalize: n = ${n} < r = ${r}`);
  const Q = Float64Array.from(U as ArrayLike<number>);
  for (let i = 0; i < r; i++) {
    for (let pass = 0; pass < 2; pass++)
      for (let a = 0; a < i; a++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += (Q[j * r + a] as number) * (Q[j * r + i] as number);
        for (let j = 0; j < n; j++) Q[j * r + i] = (Q[j * r + i] as number) - dot * (Q[j * r + a] as number);
      }
    let nrm = 0;
    for (let j = 0; j < n; j++) nrm += (Q[j * r + i] as number) ** 2;
    nrm = Math.sqrt(nrm);
    for (let j = 0; j < n; j++) Q[j * r + i] = (Q[j * r + i] as number) / nrm;
  }
  return Float32Array.from(Q);
}

/** max_j |got_j − ref_j| / bound_j (NaN counts as infinitely bad): ≤ 1 means within the bound everywhere. */
export function worstRatio(got: ArrayLike<number>, ref: ArrayLike<number>, bound: (j: number) => number): number {
  let worst = 0;
  for (let j = 0; j < ref.length; j++) {
    const e = Math.abs((got[j] as number) - (ref[j] as number)) / (bound(j) + 1e-300);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
