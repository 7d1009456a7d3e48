/**
 * adapted.ts — what Linear and Conv2d share as layers that can carry a CP adapter: the adapter
 * slot, parameters (base, then adapter), freezing the base, attaching (with the 'offset' init
 * folded into the base weight) and detaching, and per-layer scratch for the adapter gradients.
 * Tested through test/native/nn-layers.test.ts and test/native/nn-adapters.test.ts.
 */
import { DeboraError } from '../errors';
import { type AdapterOptions, CpAdapter, resolveAdapterOptions } from './adapter';
import { Module } from './module';
import type { Parameter } from './parameter';
import { reuse } from './tensor';

/** A layer with a frozen-or-trainable base weight that can carry one CP adapter. */
export abstract class AdaptedLayer extends Module {
  abstract readonly weight: Parameter;
  abstract readonly bias: Parameter | null;
  adapter: CpAdapter | null = null;
  override readonly selfProfiled = true;
  private scratch: Float32Array[] = [];

  override ownParameters(): Parameter[] {
    const own = this.bias === null ? [this.weight] : [this.weight, this.bias];
    return this.adapter === null ? own : [...own, ...this.adapter.parameters()];
  }

  /** Freezes or unfreezes the base weight and bias. */
  setBaseTrainable(on: boolean): void {
    this.weight.requiresGrad = on;
    if (this.bias !== null) this.bias.requiresGrad = on;
  }

  /** Attaches a CP adapter over `modeSizes` (the weight's layout); see the subclasses. */
  abstract attachAdapter(options: AdapterOptions, where?: string): CpAdapter;

  /**
   * Creates and installs the adapter. With init 'offset' the base weight becomes W − Ψ0 (Ψ0 in
   * the weight's own layout), so the layer's function is unchanged.
   */
  protected attach(where: string, options: AdapterOptions, modeSizes: number[], factorNames: string[]): CpAdapter {
    if (this.adapter !== null) {
      throw new DeboraError(`${where}: this layer already has an adapter; detach it first`, 'DEBORA_INVALID_CONFIG');
    }
    const resolved = resolveAdapterOptions(where, options);
    const adapter = new CpAdapter(modeSizes, resolved, factorNames);
    if (resolved.init === 'offset') {
      const psi = adapter.materialize();
      const w = this.weight.data;
      for (let k = 0; k < w.length; k++) w[k] = (w[k] as number) - (psi[k] as number);
    }
    this.adapter = adapter;
    return adapter;
  }

  /** Removes the adapter (without merging it) and returns it. */
  detachAdapter(): CpAdapter | null {
    const a = this.adapter;
    this.adapter = null;
    return a;
  }

  /** Buffers of the given lengths, kept across steps (reallocated only when a length changes). */
  protected scratchFor(lengths: number[]): Float32Array[] {
    this.scratch = lengths.map((len, i) => reuse(this.scratch[i] ?? null, len));
    return this.scratch;
  }
}

/** p.grad += g when p trains. */
export function addInto(p: Parameter, g: Float32Array): void {
  if (!p.requiresGrad) return;
  const d = p.grad;
  for (let k = 0; k < d.length; k++) d[k] = (d[k] as number) + (g[k] as number);
}
