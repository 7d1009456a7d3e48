/**
 * module.ts — the layer interface of the model toolkit: forward caches what backward needs;
 * backward adds parameter gradients into Parameter.grad and returns ∂L/∂input when asked.
 * Containers (Sequential) name children so parameters get dotted names (`fc1.weight`).
 * Tested in test/native/nn-layers.test.ts and test/native/nn-sequential.test.ts.
 */
import { DeboraError } from '../errors';
import type { Parameter } from './parameter';
import type { Tensor } from './tensor';

/** A differentiable layer. */
export abstract class Module {
  /** Training mode (dropout active, batch statistics) vs evaluation mode. */
  training = true;
  /** True for layers that report their own time to the profiler (base vs adapter kernels). */
  readonly selfProfiled: boolean = false;

  /** The layer's own parameters (not its children's), with short names ('weight', 'bias'). */
  ownParameters(): Parameter[] {
    return [];
  }

  /** Non-trainable state saved with the model (e.g. BatchNorm running statistics), by short name. */
  ownBuffers(): Array<[string, Float32Array]> {
    return [];
  }

  /** Named children, for containers and for layers that carry an adapter. */
  children(): Array<[string, Module]> {
    return [];
  }

  /**
   * Computes the output and keeps what backward needs. The returned tensor's buffer belongs to the
   * layer and is valid until its next forward call.
   */
  abstract forward(x: Tensor): Tensor;

  /**
   * From dL/d(output) of the last forward, adds dL/d(parameter) into each trainable parameter's
   * grad and returns dL/d(input) when `needInputGrad` (else null, saving the work — the first
   * layer of a network never needs it).
   */
  abstract backward(dy: Tensor, needInputGrad: boolean): Tensor | null;

  /** The output shape for an input shape (batch first), validating the input. */
  abstract outputShape(inputShape: readonly number[]): number[];

  /** A one-line description for summaries, e.g. `Linear(784 → 256)`. */
  abstract describe(): string;

  /** All parameters of this module and its children, with their own (short) names. */
  parameters(): Parameter[] {
    const out = [...this.ownParameters()];
    for (const [, child] of this.children()) out.push(...child.parameters());
    return out;
  }

  /** Every parameter with its full dotted name (`prefix` + child names + local name). */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = this.ownParameters().map((p) => [prefix + p.localName, p]);
    for (const [name, child] of this.children()) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** Every buffer (non-trainable state) with its full dotted name. */
  namedBuffers(prefix = ''): Array<[string, Float32Array]> {
    const out: Array<[string, Float32Array]> = this.ownBuffers().map(([n, b]) => [prefix + n, b]);
    for (const [name, child] of this.children()) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /** Sets training mode on this module and its children. */
  train(on = true): this {
    this.training = on;
    for (const [, c] of this.children()) c.train(on);
    return this;
  }

  /** Sets evaluation mode. */
  eval(): this {
    return this.train(false);
  }
}

/** Throws the error used when backward runs without a matching forward. */
export function noForward(layer: string): never {
  throw new DeboraError(
    `${layer}.backward: called without a preceding forward (or after the batch size changed)`,
    'DEBORA_INVALID_ARG',
  );
}

/** Checks dy has the shape of the last output. */
export function checkGradShape(layer: string, dy: Tensor, expected: readonly number[]): void {
  if (dy.shape.length !== expected.length || dy.shape.some((d, i) => d !== expected[i])) {
    throw new DeboraError(
      `${layer}.backward: expected a gradient of shape [${expected.join(', ')}] for argument 'dy', received [${dy.shape.join(', ')}]`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
}
