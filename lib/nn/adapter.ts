/**
 * adapter.ts — CP adapters Ψ = Σ_i s_i u_i^(1)⊗…⊗u_i^(d) as trainable objects (ALGORITHM.md
 * section 1): factors and s as Parameters, per-mode geometry, initialisation, tangent projection
 * of gradients, retraction, and rank pruning that keeps optimiser state aligned. The layers that
 * carry them (Linear, Conv2d) call the native ops cp_linear / cp_conv2d.
 * Tested in test/native/nn-adapters.test.ts.
 */
import { DeboraError } from '../errors';
import { GEOMETRIES, type Geometry } from '../ops/common';
import { cpMaterialize } from '../ops/cp_dense';
import { cpTangent } from '../ops/cp_tangent';
import { Rng } from '../rng';
import { int, invalid, num, oneOf } from '../validate';
import { modeGeometry, randomFactor, retract } from './geometry';
import { Parameter, selectColumns } from './parameter';

/** How an adapter starts (ALGORITHM.md section 5: start close to the pretrained model). */
export type AdapterInit = 'zero' | 'small' | 'offset';
export const ADAPTER_INITS: readonly AdapterInit[] = ['zero', 'small', 'offset'];

/** Options of one adapter. */
export interface AdapterOptions {
  /** Initial rank r ≥ 1 (it only shrinks afterwards). */
  rank: number;
  /**
   * Factor geometry (default 'stiefel'; modes shorter than the rank use 'oblique').
   * 'euclidean' leaves factors free, so the budget on s does not bound Ψ.
   */
  geometry?: Geometry;
  /**
   * 'zero' (euclidean only): the output-side factor starts at 0, so Ψ = 0 exactly, as LoRA's B = 0.
   * 'small': random factors on the geometry and s_i = sInit, so ‖Ψ‖₂ ≤ sInit·(orthonormal case).
   * 'offset': like 'small', and the layer subtracts Ψ0 from its frozen base weight, so the network
   * starts exactly at the pretrained function while every factor is non-zero.
   * Default: 'zero' for euclidean, 'small' otherwise (provisional, see docs/model-toolkit.md).
   */
  init?: AdapterInit;
  /** Initial value of every s_i (default 1e-2; must be > 0). */
  sInit?: number;
  /** Seed of the factor initialisation (default 0). */
  seed?: number;
}

/** The fully resolved options (after defaults and validation). */
export interface ResolvedAdapterOptions {
  rank: number;
  geometry: Geometry;
  init: AdapterInit;
  sInit: number;
  seed: number;
}

/** Anything holding per-parameter state that must follow a Parameter.remap (optimisers). */
export interface ParameterStateHolder {
  remap(param: Parameter, map: (buf: Float32Array) => Float32Array): void;
}

/** Validates adapter options; `where` names the config path in messages (e.g. "adapters['fc1']"). */
export function resolveAdapterOptions(where: string, o: AdapterOptions): ResolvedAdapterOptions {
  if (typeof o !== 'object' || o === null) invalid(where, 'options', 'an object', String(o));
  const rank = int(where, 'rank', o.rank, 1, 65536);
  const geometry = oneOf(where, 'geometry', o.geometry ?? 'stiefel', GEOMETRIES);
  const init = oneOf(where, 'init', o.init ?? (geometry === 'euclidean' ? 'zero' : 'small'), ADAPTER_INITS);
  if (init === 'zero' && geometry !== 'euclidean') {
    throw new DeboraError(
      `${where}: init 'zero' needs geometry 'euclidean' (a factor on the '${geometry}' manifold cannot be zero); use init 'small' or 'offset' to start close to the pretrained model`,
      'DEBORA_INVALID_CONFIG',
    );
  }
  const sInit = num(where, 'sInit', o.sInit ?? 1e-2, { min: 0, minOpen: true });
  const seed = int(where, 'seed', o.seed ?? 0, 0, 0xffffffff);
  return { rank, geometry, init, sInit, seed };
}

/**
 * A CP adapter of order d over modes of sizes n_1…n_d. Factor k is an n_k×r row-major Parameter
 * (kind 'adapter-factor'); s is a length-r Parameter (kind 'adapter-scale'). Gradients of the last
 * backward are in each Parameter's grad.
 */
export class CpAdapter {
  readonly modeSizes: readonly number[];
  readonly geometry: Geometry;
  readonly init: AdapterInit;
  /** The geometry each mode uses (chosen at the initial rank, kept when pruning). */
  readonly modeGeometries: readonly Geometry[];
  readonly factors: Parameter[];
  readonly s: Parameter;
  private rank_: number;

  /** `factorNames` are the local names of the factors (e.g. ['adapter.U', 'adapter.V']); s is `${prefix}s`. */
  constructor(
    modeSizes: readonly number[],
    options: ResolvedAdapterOptions,
    factorNames: readonly string[],
    prefix = 'adapter.',
  ) {
    this.modeSizes = modeSizes.slice();
    this.geometry = options.geometry;
    this.init = options.init;
    this.rank_ = options.rank;
    const r = options.rank;
    const rng = new Rng(options.seed);
    this.modeGeometries = modeSizes.map((n) => modeGeometry(options.geometry, n, r));
    this.factors = modeSizes.map((n, k) => {
      const data =
        options.init === 'zero' && k === 0
          ? new Float32Array(n * r)
          : randomFactor(this.modeGeometries[k] as Geometry, n, r, rng);
      return new Parameter(factorNames[k] as string, data, [n, r], 'adapter-factor');
    });
    this.s = new Parameter(`${prefix}s`, new Float32Array(r).fill(options.sInit), [r], 'adapter-scale');
  }

  /** Current rank (number of components). 0 after every component was pruned: the adapter is then inert. */
  get rank(): number {
    return this.rank_;
  }

  get order(): number {
    return this.modeSizes.length;
  }

  /** All parameters: the factors, then s. */
  parameters(): Parameter[] {
    return [...this.factors, this.s];
  }

  /** r·(Σ_k n_k + 1): the adapter's parameter count. */
  get paramCount(): number {
    return this.rank_ * (this.modeSizes.reduce((a, b) => a + b, 0) + 1);
  }

  /** Freezes or unfreezes the factors (s is separate: the Frank-Wolfe step owns it). */
  setFactorsTrainable(on: boolean): void {
    for (const f of this.factors) f.requiresGrad = on;
  }

  /**
   * Replaces each factor's Euclidean gradient by its tangent projection (Riemannian gradient) for
   * the mode's geometry; euclidean modes are unchanged. With `dots` (length r) also accumulates
   * dots[i] += Σ_k ⟨u_i^(k), g_i^(k)⟩ over the projected gradients — the input of cpHypergrad.
   */
  projectGradients(dots?: Float32Array): void {
    const r = this.rank_;
    if (r === 0) return;
    this.factors.forEach((f, k) => {
      const n = this.modeSizes[k] as number;
      const geom = this.modeGeometries[k] as Geometry;
      if (geom === 'euclidean' && dots === undefined) return;
      cpTangent(geom, f.data, f.grad, n, r, dots === undefined ? { out: f.grad } : { out: f.grad, dots });
    });
  }

  /** Puts every factor back on its geometry (after an optimiser step). */
  retract(): void {
    if (this.rank_ === 0) return;
    this.factors.forEach((f, k) => {
      retract(this.modeGeometries[k] as Geometry, f.data, this.modeSizes[k] as number, this.rank_);
    });
  }

  /** The dense Ψ(B, s) in the layout of the layer's weight (mode 1 slowest). */
  materialize(): Float32Array {
    const total = this.modeSizes.reduce((a, b) => a * b, 1);
    if (this.rank_ === 0) return new Float32Array(total);
    return cpMaterialize(
      this.factors.map((f) => f.data),
      this.s.data,
      this.modeSizes.slice(),
    );
  }

  /**
   * Keeps only the components `keep` (distinct indices in [0, r), any order; kept in ascending
   * order): deletes the other columns from every factor, their entries of s, and the matching
   * optimiser state of every holder given (Adam moments etc.), so compute really shrinks.
   * Validates everything before changing anything.
   */
  prune(keep: readonly number[], holders: readonly ParameterStateHolder[] = []): void {
    const r = this.rank_;
    const where = 'CpAdapter.prune';
    if (!Array.isArray(keep)) invalid(where, 'keep', 'an array of component indices', String(keep));
    const sorted = [...keep].sort((a, b) => a - b);
    sorted.forEach((i, j) => {
      int(where, `keep[${j}]`, i, 0, r - 1);
      if (j > 0 && sorted[j - 1] === i) invalid(where, 'keep', 'distinct indices', `index ${i} twice`);
    });
    if (sorted.length === r) return;
    const k = sorted.length;
    for (const [idx, f] of this.factors.entries()) {
      const n = this.modeSizes[idx] as number;
      const map = (buf: Float32Array) => selectColumns(buf, n, r, sorted);
      for (const h of holders) h.remap(f, map);
      f.remap(map, [n, k]);
    }
    const smap = (buf: Float32Array) => selectColumns(buf, 1, r, sorted);
    for (const h of holders) h.remap(this.s, smap);
    this.s.remap(smap, [k]);
    this.rank_ = k;
    // Mode geometries stay as chosen at the initial rank: an oblique mode that could now be Stiefel
    // would need a retraction, which would change Ψ — and pruning must not change the function.
  }

  /** Prunes every component with s_i ≤ threshold; returns the indices removed. */
  pruneBelow(threshold: number, holders: readonly ParameterStateHolder[] = []): number[] {
    num('CpAdapter.pruneBelow', 'threshold', threshold);
    const keep: number[] = [];
    const removed: number[] = [];
    for (let i = 0; i < this.rank_; i++) ((this.s.data[i] as number) > threshold ? keep : removed).push(i);
    if (removed.length > 0) this.prune(keep, holders);
    return removed;
  }
}
