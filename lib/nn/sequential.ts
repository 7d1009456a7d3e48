/**
 * sequential.ts — the container of the model toolkit: named layers applied in order, with
 * parameter names `layer.local` (`fc1.weight`, `fc1.adapter.U`), lookup by name, and a backward
 * that skips the input gradient of the first layer (nobody needs ∂L/∂data).
 * Tested in test/native/nn-sequential.test.ts.
 */
import { DeboraError } from '../errors';
import { describe as describeValue } from '../validate';
import { Module } from './module';
import type { Parameter } from './parameter';
import { profiler } from './profile';
import type { Tensor } from './tensor';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Layers in order, each with a unique name. */
export class Sequential extends Module {
  private readonly entries: Array<[string, Module]>;

  /** From `[['fc1', new Linear(…)], ['relu1', new ReLU()], …]` or an object (insertion order). */
  constructor(layers: Array<[string, Module]> | Record<string, Module>) {
    super();
    const list = Array.isArray(layers) ? layers : Object.entries(layers);
    if (list.length === 0) {
      throw new DeboraError(
        "Sequential: expected at least one layer for argument 'layers', received none",
        'DEBORA_INVALID_ARG',
      );
    }
    const seen = new Set<string>();
    list.forEach((entry, i) => {
      const [name, layer] = Array.isArray(entry) ? entry : [undefined, undefined];
      if (typeof name !== 'string' || !NAME_RE.test(name)) {
        throw new DeboraError(
          `Sequential: expected a name matching ${NAME_RE} for argument 'layers[${i}]', received ${describeValue(name)}`,
          'DEBORA_INVALID_ARG',
        );
      }
      if (seen.has(name)) {
        throw new DeboraError(
          `Sequential: expected unique layer names for argument 'layers[${i}]', received '${name}' twice`,
          'DEBORA_INVALID_ARG',
        );
      }
      if (!(layer instanceof Module)) {
        throw new DeboraError(
          `Sequential: expected a layer (Module) for argument 'layers[${i}]' ('${name}'), received ${describeValue(layer)}`,
          'DEBORA_INVALID_ARG',
        );
      }
      seen.add(name);
    });
    this.entries = list.map(([n, l]) => [n, l]);
    this.assignNames();
  }

  override children(): Array<[string, Module]> {
    return this.entries.slice();
  }

  /** Layer names in order. */
  get names(): string[] {
    return this.entries.map(([n]) => n);
  }

  /** The layer called `name`; throws with the list of names when absent. */
  get<T extends Module = Module>(name: string): T {
    const hit = this.entries.find(([n]) => n === name);
    if (hit === undefined) {
      throw new DeboraError(
        `Sequential.get: expected one of ${this.names.map((n) => `'${n}'`).join(', ')} for argument 'name', received '${name}'`,
        'DEBORA_INVALID_ARG',
      );
    }
    return hit[1] as T;
  }

  /** Sets every parameter's `name` to its full dotted name. Called again after adapters attach. */
  assignNames(): void {
    for (const [full, p] of this.namedParameters()) p.name = full;
  }

  /** Parameters in layer order (names assigned). */
  override parameters(): Parameter[] {
    this.assignNames();
    return super.parameters();
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const [, layer] of this.entries) {
      const t0 = layer.selfProfiled ? 0 : profiler.start();
      h = layer.forward(h);
      if (!layer.selfProfiled) profiler.stop('layers', t0);
    }
    return h;
  }

  /** Runs every layer's backward in reverse; returns ∂L/∂x only when `needInputGrad`. */
  backward(dy: Tensor, needInputGrad = false): Tensor | null {
    let g: Tensor | null = dy;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const layer = (this.entries[i] as [string, Module])[1];
      const t0 = layer.selfProfiled ? 0 : profiler.start();
      g = layer.backward(g as Tensor, i > 0 || needInputGrad);
      if (!layer.selfProfiled) profiler.stop('layers', t0);
      if (i > 0 && g === null) {
        throw new DeboraError(
          `Sequential.backward: layer '${(this.entries[i] as [string, Module])[0]}' returned no input gradient`,
          'DEBORA_INTERNAL',
        );
      }
    }
    return g;
  }

  outputShape(inputShape: readonly number[]): number[] {
    let s = inputShape.slice();
    for (const [, layer] of this.entries) s = layer.outputShape(s);
    return s;
  }

  describe(): string {
    return `Sequential(${this.entries.length} layers)`;
  }

  /** Sets every parameter's grad to zero. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
}
