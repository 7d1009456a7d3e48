/**
 * weights.ts — saving and loading a model's named parameters and buffers as safetensors (F32),
 * by their dotted names (`fc1.weight`, `bn.runningMean`). Loading checks every name, shape and
 * value first and only then copies, so a wrong file leaves the model untouched.
 * Tested in test/unit/safetensors.test.ts and test/native/nn-weights.test.ts.
 */
import { DeboraError } from '../errors';
import type { Module } from '../nn/module';
import { readSafetensors, type SafeTensor, writeSafetensors } from './safetensors';

/** Writes every parameter (and buffer) of `model` to `file`, atomically. */
export function saveWeights(model: Module, file: string, metadata: Record<string, string> = {}): void {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, p] of model.namedParameters()) tensors.set(name, { shape: p.shape, data: p.data });
  for (const [name, b] of model.namedBuffers()) tensors.set(name, { shape: [b.length], data: b });
  writeSafetensors(file, tensors, metadata);
}

/** Options of loadWeights. */
export interface LoadWeightsOptions {
  /**
   * Only load the model's names that match (default: all). With `strict` every selected model
   * name must be in the file; extra names in the file are ignored unless `strict` too.
   */
  filter?: (name: string) => boolean;
  /** Refuse missing and unexpected names (default true). */
  strict?: boolean;
}

/**
 * Loads the tensors of `file` into the model's parameters and buffers of the same names; returns
 * the file's metadata. All-or-nothing: any missing name, shape mismatch, wrong dtype or
 * non-finite value throws before anything is copied.
 */
export function loadWeights(model: Module, file: string, options: LoadWeightsOptions = {}): Record<string, string> {
  const { tensors, metadata } = readSafetensors(file);
  const filter = options.filter ?? (() => true);
  const strict = options.strict ?? true;
  const targets: Array<[string, Float32Array, readonly number[]]> = [
    ...model.namedParameters().map(([n, p]): [string, Float32Array, readonly number[]] => [n, p.data, p.shape]),
    ...model.namedBuffers().map(([n, b]): [string, Float32Array, readonly number[]] => [n, b, [b.length]]),
  ].filter(([n]) => filter(n));
  const plan: Array<[Float32Array, Float32Array]> = [];
  const used = new Set<string>();
  for (const [name, dst, shape] of targets) {
    const t: SafeTensor | undefined = tensors.get(name);
    if (t === undefined) {
      if (strict)
        throw new DeboraError(
          `loadWeights: ${file} has no tensor '${name}' (the model needs it; pass strict: false to skip)`,
          'DEBORA_SHAPE_MISMATCH',
        );
      continue;
    }
    used.add(name);
    if (!(t.data instanceof Float32Array) || t.dtype !== 'F32') {
      throw new DeboraError(
        `loadWeights: tensor '${name}' in ${file} is ${t.dtype}, expected F32`,
        'DEBORA_INVALID_ARG',
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new DeboraError(
        `loadWeights: tensor '${name}' in ${file} has shape [${t.shape.join(', ')}], the model's is [${shape.join(', ')}]`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i] as number)) {
        throw new DeboraError(
          `loadWeights: tensor '${name}' in ${file} holds a non-finite value at index ${i}`,
          'DEBORA_NON_FINITE',
        );
      }
    }
    plan.push([dst, t.data]);
  }
  if (strict) {
    for (const name of tensors.keys()) {
      if (!used.has(name) && filter(name)) {
        throw new DeboraError(
          `loadWeights: ${file} has a tensor '${name}' the model does not have (pass strict: false to ignore it)`,
          'DEBORA_SHAPE_MISMATCH',
        );
      }
    }
  }
  for (const [dst, src] of plan) dst.set(src);
  return metadata;
}
