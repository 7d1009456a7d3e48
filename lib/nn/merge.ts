/**
 * merge.ts — folding CP adapters into their layers' base weights (W ← W0 + Ψ(B, s), linear and conv
 * alike, since Ψ is materialised in the weight's own layout) and taking them out again. A merged
 * layer carries no adapter (it is detached and kept here), so forward, backward, parameters() and
 * saveWeights see a plain layer and nothing can add Ψ twice. All-or-nothing: every new weight is
 * computed and checked finite before any layer changes. Tested in test/native/merge.test.ts.
 */
import { DeboraError, isDeboraError } from '../errors';
import { cpMaterialize } from '../ops/cp_dense';
import { AdaptedLayer } from './adapted';
import type { CpAdapter } from './adapter';
import { namedModules } from './attach';
import type { Module } from './module';
import { Sequential } from './sequential';

/** What a merged layer remembers: its adapter (re-attached on unmerge) and a copy of B and s at merge time. */
interface MergedState {
  adapter: CpAdapter;
  factors: Float32Array[];
  s: Float32Array;
}

// Keyed by layer, so the state lives exactly as long as the layer and needs no field on it.
const merged = new WeakMap<AdaptedLayer, MergedState>();

/** The model's Linear / Conv2d layers with their dotted names (the model itself when it is one, named ''). */
function adaptedLayers(model: Module): Array<[string, AdaptedLayer]> {
  if (model instanceof AdaptedLayer) return [['', model]];
  return namedModules(model).filter((e): e is [string, AdaptedLayer] => e[1] instanceof AdaptedLayer);
}

function label(name: string): string {
  return name === '' ? 'the model itself' : `layer '${name}'`;
}

/** W ± Ψ into a new array; throws DEBORA_NON_FINITE naming the layer and element when a result overflows. */
function combine(where: string, name: string, w: Float32Array, psi: Float32Array, sign: 1 | -1): Float32Array {
  const out = new Float32Array(w.length);
  for (let k = 0; k < w.length; k++) {
    const v = (w[k] as number) + sign * (psi[k] as number);
    out[k] = v;
    if (!Number.isFinite(out[k] as number)) {
      throw new DeboraError(
        `${where}: ${label(name)} would get a non-finite weight at index ${k} (${w[k]} ${sign > 0 ? '+' : '−'} ${psi[k]}); nothing was changed. Fix: check the adapter's s and factors (and the base weight) for overflow`,
        'DEBORA_NON_FINITE',
      );
    }
  }
  return out;
}

/** Ψ of the adapter, with the layer named when the adapter holds non-finite values. */
function psiOf(where: string, name: string, factors: Float32Array[], s: Float32Array, dims: number[]): Float32Array {
  if (s.length === 0) return new Float32Array(dims.reduce((a, b) => a * b, 1));
  try {
    return cpMaterialize(factors, s, dims);
  } catch (e) {
    if (isDeboraError(e)) {
      throw new DeboraError(
        `${where}: the adapter of ${label(name)} cannot be materialised (${e.message}); nothing was changed`,
        e.code,
      );
    }
    throw e;
  }
}

/**
 * Folds every attached adapter into its layer's base weight (Linear: W0 + U diag(s) Vᵀ; Conv2d:
 * K0 + ΔK with ΔK = Ψ(B, s) materialised) and detaches it, so the model computes the same function
 * with plain layers (for inference or for saving merged weights with saveWeights). Returns the merged
 * adapters by layer name; `unmergeAdapters` puts them back. Throws (changing nothing) when the model
 * is already merged, has no adapter, or a merged weight would be non-finite.
 */
export function mergeAdapters(model: Module): Map<string, CpAdapter> {
  const where = 'mergeAdapters';
  const layers = adaptedLayers(model);
  const already = layers.filter(([, l]) => merged.has(l)).map(([n]) => n);
  if (already.length > 0) {
    throw new DeboraError(
      `${where}: the model is already merged (${already.map(label).join(', ')} hold a merged adapter); call unmergeAdapters(model) first`,
      'DEBORA_INVALID_ARG',
    );
  }
  const todo = layers.filter(([, l]) => l.adapter !== null);
  if (todo.length === 0) {
    throw new DeboraError(
      `${where}: the model has no attached adapter, so there is nothing to merge. Fix: attachAdapters(model, …) first`,
      'DEBORA_INVALID_ARG',
    );
  }
  const plan: Array<[AdaptedLayer, Float32Array, MergedState]> = [];
  for (const [name, layer] of todo) {
    const a = layer.adapter as CpAdapter;
    const factors = a.factors.map((f) => f.data.slice());
    const s = a.s.data.slice();
    const psi = psiOf(where, name, factors, s, a.modeSizes.slice());
    plan.push([layer, combine(where, name, layer.weight.data, psi, 1), { adapter: a, factors, s }]);
  }
  const out = new Map<string, CpAdapter>();
  plan.forEach(([layer, w, state], i) => {
    layer.weight.data.set(w);
    layer.detachAdapter();
    merged.set(layer, state);
    out.set((todo[i] as [string, AdaptedLayer])[0], state.adapter);
  });
  if (model instanceof Sequential) model.assignNames();
  return out;
}

/**
 * Undoes mergeAdapters: subtracts each merged Ψ (as it was at merge time) from the base weight and
 * re-attaches the adapter. The weights come back to W0 up to one float32 rounding of W0 + Ψ per element.
 * Throws (changing nothing) when nothing is merged, a merged layer got a new adapter meanwhile, a merged
 * adapter was changed after merging, or a result would be non-finite.
 */
export function unmergeAdapters(model: Module): Map<string, CpAdapter> {
  const where = 'unmergeAdapters';
  const todo = adaptedLayers(model).filter(([, l]) => merged.has(l));
  if (todo.length === 0) {
    throw new DeboraError(
      `${where}: the model has no merged adapter, so there is nothing to unmerge. Fix: call mergeAdapters(model) first`,
      'DEBORA_INVALID_ARG',
    );
  }
  const plan: Array<[AdaptedLayer, Float32Array, MergedState]> = [];
  for (const [name, layer] of todo) {
    const state = merged.get(layer) as MergedState;
    if (layer.adapter !== null) {
      throw new DeboraError(
        `${where}: ${label(name)} got a new adapter after merging; nothing was changed. Fix: detach it (layer.detachAdapter()) before unmerging`,
        'DEBORA_INVALID_ARG',
      );
    }
    const a = state.adapter;
    const same =
      a.rank === state.s.length &&
      a.s.data.every((v, i) => Object.is(v, state.s[i])) &&
      a.factors.every((f, k) => f.data.every((v, i) => Object.is(v, (state.factors[k] as Float32Array)[i])));
    if (!same) {
      // Re-attaching a changed adapter would not give back the function the merged model computed.
      throw new DeboraError(
        `${where}: the adapter merged into ${label(name)} was changed after merging (rank, factors or s); nothing was changed. Fix: leave merged adapters alone until unmerged`,
        'DEBORA_INVALID_ARG',
      );
    }
    const psi = psiOf(where, name, state.factors, state.s, a.modeSizes.slice());
    plan.push([layer, combine(where, name, layer.weight.data, psi, -1), state]);
  }
  const out = new Map<string, CpAdapter>();
  plan.forEach(([layer, w, state], i) => {
    layer.weight.data.set(w);
    layer.adapter = state.adapter;
    merged.delete(layer);
    out.set((todo[i] as [string, AdaptedLayer])[0], state.adapter);
  });
  if (model instanceof Sequential) model.assignNames();
  return out;
}

/** The adapters currently merged into the model's layers, by layer name (empty when none). */
export function mergedAdapters(model: Module): Map<string, CpAdapter> {
  const out = new Map<string, CpAdapter>();
  for (const [name, layer] of adaptedLayers(model)) {
    const st = merged.get(layer);
    if (st !== undefined) out.set(name, st.adapter);
  }
  return out;
}
