/**
 * train.ts — one gradient step of a model with adapters, in the only safe order: zero grads →
 * forward → loss → backward → tangent-project adapter gradients (Riemannian, per geometry) →
 * optional clipping → optimiser step → retract factors onto their manifolds. A caller cannot
 * forget the geometry steps. Also batched evaluation. Tested in test/native/nn-sequential.test.ts.
 */
import { clipGradNorm } from '../optim/clip';
import type { Optimizer } from '../optim/optimizer';
import { num } from '../validate';
import { adaptersOf } from './attach';
import { accuracy, type LossResult } from './loss';
import type { Module } from './module';
import { profiler } from './profile';
import type { Tensor } from './tensor';

/** A loss: `compute(output, target)` → mean loss and ∂loss/∂output. */
export interface Loss<T> {
  compute(output: Tensor, target: T): LossResult;
}

/** Options of trainStep. */
export interface TrainStepOptions {
  /** Clip the global gradient norm of the trainable parameters to this value (default: no clipping). */
  clipNorm?: number;
}

/** Result of one step. */
export interface TrainStepResult {
  loss: number;
  /** The model output of this step (buffer owned by the model: valid until its next forward). */
  output: Tensor;
  /** Gradient norm before clipping (NaN when clipping is off). */
  gradNorm: number;
}

/** One full optimisation step on a batch. */
export function trainStep<T>(
  model: Module,
  loss: Loss<T>,
  optimizer: Optimizer,
  x: Tensor,
  target: T,
  options: TrainStepOptions = {},
): TrainStepResult {
  const clip =
    options.clipNorm === undefined
      ? undefined
      : num('trainStep', 'clipNorm', options.clipNorm, { min: 0, minOpen: true });
  let t0 = profiler.start();
  const params = model.parameters();
  for (const p of params) if (p.requiresGrad) p.zeroGrad();
  profiler.stop('optimizer', t0);
  model.train(true);
  const output = model.forward(x);
  t0 = profiler.start();
  const { loss: value, grad } = loss.compute(output, target);
  profiler.stop('loss', t0);
  model.backward(grad, false);
  t0 = profiler.start();
  const adapters = adaptersOf(model);
  for (const a of adapters.values()) a.projectGradients();
  profiler.stop('geometry', t0);
  t0 = profiler.start();
  const trainable = params.filter((p) => p.requiresGrad);
  const gradNorm = clip === undefined ? Number.NaN : clipGradNorm(trainable, clip);
  optimizer.step();
  profiler.stop('optimizer', t0);
  t0 = profiler.start();
  for (const a of adapters.values()) a.retract();
  profiler.stop('geometry', t0);
  return { loss: value, output, gradNorm };
}

/** Mean loss and accuracy of a classifier over a data set, in batches, in eval mode. */
export function evaluate(
  model: Module,
  x: Float32Array,
  y: Int32Array,
  sampleShape: readonly number[],
  options: { batchSize?: number; loss?: Loss<Int32Array> } = {},
): { loss: number; accuracy: number } {
  const bs = options.batchSize ?? 512;
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const n = y.length;
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < n; start += bs) {
    const m = Math.min(bs, n - start);
    const xb = x.subarray(start * per, (start + m) * per);
    const yb = y.subarray(start, start + m);
    const out = model.forward({ data: xb, shape: [m, ...sampleShape] });
    correct += accuracy(out, yb) * m;
    if (options.loss) lossSum += options.loss.compute(out, yb).loss * m;
  }
  model.train(wasTraining);
  return { loss: options.loss ? lossSum / n : Number.NaN, accuracy: correct / n };
}
