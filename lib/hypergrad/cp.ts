/**
 * hypergrad/cp.ts — a float64 CP adapter for the hypergradient oracle (ALGORITHM.md sections 1–3):
 * the dense Ψ(B, s), its backward (MTTKRP), and the factor geometries (tangent projection,
 * retraction, random points). Pure TypeScript on purpose: it checks the native kernels, it does not
 * use them. Tested in test/unit/hypergrad-validation.test.ts.
 */
import type { Rng } from '../rng';

// Module-scope bindings: jest's vm contexts make global lookups ~100× slower (jestjs/jest#15502).
const { sqrt } = Math;

/** A factor geometry of ALGORITHM.md section 2. */
export type FactorGeometry = 'euclidean' | 'oblique' | 'stiefel';
export const FACTOR_GEOMETRIES: readonly FactorGeometry[] = ['euclidean', 'oblique', 'stiefel'];

/**
 * The layout of a CP adapter of order d = dims.length with rank r. All factors live in ONE flat
 * Float64Array `b` (mode k at offsets[k], n_k × r row-major), so solvers treat B as a vector.
 * Ψ is stored as the matrix n_1 × (n_2·…·n_d) (modes 2..d flattened C-order), i.e. the weight of
 * a linear map, or a conv kernel (F, C, kh, kw) reshaped to F × (C·kh·kw).
 */
export interface CpShape {
  readonly dims: readonly number[];
  readonly r: number;
  readonly offsets: readonly number[];
  /** Σ n_k·r: the length of b. */
  readonly size: number;
  readonly nOut: number;
  readonly nIn: number;
  /** idx[m][p]: index along mode m+1 of flat input column p (m = 0..d-2). */
  readonly idx: readonly Int32Array[];
}

/** Builds the layout for mode sizes `dims` (d ≥ 2) and rank r. */
export function cpShape(dims: readonly number[], r: number): CpShape {
  if (dims.length < 2) throw new RangeError(`cpShape: expected at least 2 modes for 'dims', received ${dims.length}`);
  const offsets: number[] = [];
  let size = 0;
  for (const n of dims) {
    offsets.push(size);
    size += n * r;
  }
  const nOut = dims[0]!;
  let nIn = 1;
  for (let k = 1; k < dims.length; k++) nIn *= dims[k]!;
  const idx: Int32Array[] = [];
  for (let k = 1; k < dims.length; k++) {
    let stride = 1;
    for (let m = k + 1; m < dims.length; m++) stride *= dims[m]!;
    const a = new Int32Array(nIn);
    for (let p = 0; p < nIn; p++) a[p] = Math.floor(p / stride) % dims[k]!;
    idx.push(a);
  }
  return { dims: [...dims], r, offsets, size, nOut, nIn, idx };
}

/** The Khatri–Rao product of modes 2..d: K (nIn × r), K[p,i] = Π_m u_i^(m)[idx_m(p)]. */
function khatriRao(sh: CpShape, b: Float64Array, K: Float64Array): void {
  const { r, nIn, dims, offsets, idx } = sh;
  K.fill(1);
  for (let m = 1; m < dims.length; m++) {
    const off = offsets[m]!;
    const im = idx[m - 1]!;
    for (let p = 0; p < nIn; p++) {
      const row = off + im[p]! * r;
      for (let i = 0; i < r; i++) K[p * r + i] = K[p * r + i]! * b[row + i]!;
    }
  }
}

/** Ψ(B, s) as the nOut × nIn matrix; adds W0 when given (W = W0 + Ψ). */
export function cpDense(sh: CpShape, b: Float64Array, s: Float64Array, out: Float64Array, W0?: Float64Array): void {
  const { r, nOut, nIn } = sh;
  const K = new Float64Array(nIn * r);
  khatriRao(sh, b, K);
  const su = new Float64Array(r);
  for (let a = 0; a < nOut; a++) {
    for (let i = 0; i < r; i++) su[i] = b[a * r + i]! * s[i]!;
    for (let p = 0; p < nIn; p++) {
      let v = W0 === undefined ? 0 : W0[a * nIn + p]!;
      for (let i = 0; i < r; i++) v += su[i]! * K[p * r + i]!;
      out[a * nIn + p] = v;
    }
  }
}

/**
 * The dense-route backward (ALGORITHM.md section 1): from G = ∂L/∂W (nOut × nIn) to
 * ∂L/∂u_i^(k) = s_i · G ×_{m≠k} u_i^(m) (into gb, same layout as b) and ∂L/∂s_i = ⟨G, ⊗_m u_i^(m)⟩.
 */
export function cpBackward(
  sh: CpShape,
  b: Float64Array,
  s: Float64Array,
  G: Float64Array,
  gb: Float64Array | null,
  gs: Float64Array | null,
): void {
  const { r, nOut, nIn, dims, offsets, idx } = sh;
  const d = dims.length;
  const K = new Float64Array(nIn * r);
  khatriRao(sh, b, K);
  // GK = G K (nOut × r), Z = Gᵀ U1 (nIn × r).
  const GK = new Float64Array(nOut * r);
  const Z = new Float64Array(nIn * r);
  for (let a = 0; a < nOut; a++) {
    for (let p = 0; p < nIn; p++) {
      const g = G[a * nIn + p]!;
      if (g === 0) continue;
      for (let i = 0; i < r; i++) {
        GK[a * r + i] = GK[a * r + i]! + g * K[p * r + i]!;
        Z[p * r + i] = Z[p * r + i]! + g * b[a * r + i]!;
      }
    }
  }
  if (gs !== null) {
    for (let i = 0; i < r; i++) {
      let v = 0;
      for (let a = 0; a < nOut; a++) v += b[a * r + i]! * GK[a * r + i]!;
      gs[i] = v;
    }
  }
  if (gb === null) return;
  for (let a = 0; a < nOut; a++) for (let i = 0; i < r; i++) gb[a * r + i] = s[i]! * GK[a * r + i]!;
  for (let m = 1; m < d; m++) {
    const off = offsets[m]!;
    gb.fill(0, off, off + dims[m]! * r);
    const im = idx[m - 1]!;
    for (let p = 0; p < nIn; p++) {
      const row = off + im[p]! * r;
      for (let i = 0; i < r; i++) {
        let prod = Z[p * r + i]! * s[i]!;
        for (let q = 1; q < d; q++) if (q !== m) prod *= b[offsets[q]! + idx[q - 1]![p]! * r + i]!;
        gb[row + i] = gb[row + i]! + prod;
      }
    }
  }
}

/** The geometry each mode uses: stiefel needs n_k ≥ r, shorter modes fall back to oblique. */
export function modeGeometries(geometry: FactorGeometry, sh: CpShape): FactorGeometry[] {
  return sh.dims.map((n) => (geometry === 'stiefel' && n < sh.r ? 'oblique' : geometry));
}

/**
 * Tangent projection of g at b, per mode (written into out; out may be g). The formulas are also
 * evaluated off the manifold, which makes P_b(∇f(b)) a smooth extension of the Riemannian gradient —
 * what the finite-difference Riemannian Hessian needs (Hess f[ξ] = P_b D(ext. grad)[ξ]).
 *   oblique: g_i − u_i⟨u_i, g_i⟩          stiefel: G − U sym(UᵀG)
 */
export function projectTangent(
  sh: CpShape,
  geoms: readonly FactorGeometry[],
  b: Float64Array,
  g: Float64Array,
  out: Float64Array,
): void {
  const { r, dims, offsets } = sh;
  if (out !== g) out.set(g);
  const A = new Float64Array(r * r);
  for (let k = 0; k < dims.length; k++) {
    const n = dims[k]!;
    const off = offsets[k]!;
    const geom = geoms[k]!;
    if (geom === 'euclidean') continue;
    if (geom === 'oblique') {
      for (let i = 0; i < r; i++) {
        let ug = 0;
        for (let a = 0; a < n; a++) ug += b[off + a * r + i]! * g[off + a * r + i]!;
        for (let a = 0; a < n; a++) out[off + a * r + i] = g[off + a * r + i]! - b[off + a * r + i]! * ug;
      }
    } else {
      A.fill(0);
      for (let a = 0; a < n; a++) {
        for (let i = 0; i < r; i++) {
          const u = b[off + a * r + i]!;
          for (let j = 0; j < r; j++) A[i * r + j] = A[i * r + j]! + u * g[off + a * r + j]!;
        }
      }
      for (let i = 0; i < r; i++)
        for (let j = 0; j < i; j++) {
          const m = 0.5 * (A[i * r + j]! + A[j * r + i]!);
          A[i * r + j] = m;
          A[j * r + i] = m;
        }
      for (let a = 0; a < n; a++) {
        for (let j = 0; j < r; j++) {
          let v = 0;
          for (let i = 0; i < r; i++) v += b[off + a * r + i]! * A[i * r + j]!;
          out[off + a * r + j] = g[off + a * r + j]! - v;
        }
      }
    }
  }
}

/**
 * Subtracts the curvature (Weingarten) term of the Riemannian Hessian from out, per mode: for tangent v
 * and Euclidean gradient g at b, oblique: out_i −= v_i⟨u_i, g_i⟩; stiefel: out −= v·sym(Uᵀg). The
 * caller projects afterwards: Hess f[v] = P(∇²f[v] − this term).
 */
export function subtractCurvature(
  sh: CpShape,
  geoms: readonly FactorGeometry[],
  b: Float64Array,
  g: Float64Array,
  v: Float64Array,
  out: Float64Array,
): void {
  const { r, dims, offsets } = sh;
  const A = new Float64Array(r * r);
  for (let k = 0; k < dims.length; k++) {
    const n = dims[k]!;
    const off = offsets[k]!;
    const geom = geoms[k]!;
    if (geom === 'euclidean') continue;
    A.fill(0);
    for (let a = 0; a < n; a++) {
      for (let i = 0; i < r; i++) {
        const u = b[off + a * r + i]!;
        for (let j = 0; j < r; j++) A[i * r + j] = A[i * r + j]! + u * g[off + a * r + j]!;
      }
    }
    if (geom === 'oblique') {
      // Only the diagonal ⟨u_i, g_i⟩ matters.
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) if (i !== j) A[i * r + j] = 0;
    } else {
      for (let i = 0; i < r; i++)
        for (let j = 0; j < i; j++) {
          const m = 0.5 * (A[i * r + j]! + A[j * r + i]!);
          A[i * r + j] = m;
          A[j * r + i] = m;
        }
    }
    for (let a = 0; a < n; a++) {
      for (let j = 0; j < r; j++) {
        let w = 0;
        for (let i = 0; i < r; i++) w += v[off + a * r + i]! * A[i * r + j]!;
        out[off + a * r + j] = out[off + a * r + j]! - w;
      }
    }
  }
}

/** Retraction in place: normalise columns (oblique), QR with positive diagonal by MGS twice (stiefel). */
export function retract(sh: CpShape, geoms: readonly FactorGeometry[], b: Float64Array): void {
  const { r, dims, offsets } = sh;
  for (let k = 0; k < dims.length; k++) {
    const n = dims[k]!;
    const off = offsets[k]!;
    const geom = geoms[k]!;
    if (geom === 'euclidean') continue;
    for (let j = 0; j < r; j++) {
      if (geom === 'stiefel') {
        for (let pass = 0; pass < 2; pass++) {
          for (let q = 0; q < j; q++) {
            let p = 0;
            for (let a = 0; a < n; a++) p += b[off + a * r + q]! * b[off + a * r + j]!;
            for (let a = 0; a < n; a++) b[off + a * r + j] = b[off + a * r + j]! - p * b[off + a * r + q]!;
          }
        }
      }
      let ss = 0;
      for (let a = 0; a < n; a++) ss += b[off + a * r + j]! ** 2;
      if (!(ss > 1e-300)) throw new RangeError(`retract: column ${j} of mode ${k} vanished (rank-deficient factor)`);
      const inv = 1 / sqrt(ss);
      for (let a = 0; a < n; a++) b[off + a * r + j] = b[off + a * r + j]! * inv;
    }
  }
}

/** A random point: Gaussian factors with std 1/√n_k (columns of norm ≈ 1), then retracted. */
export function randomPoint(sh: CpShape, geoms: readonly FactorGeometry[], rng: Rng): Float64Array {
  const b = new Float64Array(sh.size);
  for (let k = 0; k < sh.dims.length; k++) {
    const n = sh.dims[k]!;
    const off = sh.offsets[k]!;
    for (let q = 0; q < n * sh.r; q++) b[off + q] = rng.normal() / sqrt(n);
  }
  retract(sh, geoms, b);
  return b;
}

/** Σ_k ⟨u_i^(k), g_i^(k)⟩ per component i: the factor term of G̃ (ALGORITHM.md section 3). */
export function factorDots(sh: CpShape, b: Float64Array, g: Float64Array, out: Float64Array): Float64Array {
  const { r, dims, offsets } = sh;
  out.fill(0);
  for (let k = 0; k < dims.length; k++) {
    const off = offsets[k]!;
    for (let a = 0; a < dims[k]!; a++)
      for (let i = 0; i < r; i++) out[i] = out[i]! + b[off + a * r + i]! * g[off + a * r + i]!;
  }
  return out;
}
