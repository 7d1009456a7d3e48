/**
 * loss.ts — training losses and metrics: softmax cross-entropy (numerically stable, optional label
 * smoothing as torch.nn.CrossEntropyLoss(label_smoothing)), mean squared error, accuracy, argmax
 * and the confusion matrix. Each loss returns the mean loss and its gradient w.r.t. the input.
 * Tested in test/native/nn-layers.test.ts (reference values, finite differences).
 */
import { DeboraError } from '../errors';
import { f32, invalid, num } from '../validate';
import { reuse, shapeStr, type Tensor } from './tensor';

// Module-scope bindings: hot loops then do no global lookups, which are ~100× slower inside vm
// contexts such as jest's (jestjs/jest#15502), and cost nothing in plain Node.
const { exp, log, max } = Math;

/** Loss value and ∂loss/∂input (same shape as the input; the buffer is reused across calls). */
export interface LossResult {
  loss: number;
  grad: Tensor;
}

function checkLogits(where: string, logits: Tensor, labels: Int32Array): [number, number] {
  if (logits.shape.length !== 2) invalid(where, 'logits', 'a [N, classes] tensor', shapeStr(logits.shape));
  const [n, k] = logits.shape as [number, number];
  if (!(labels instanceof Int32Array) || labels.length !== n) {
    invalid(
      where,
      'labels',
      `an Int32Array of length ${n}`,
      labels instanceof Int32Array ? `length ${labels.length}` : String(labels),
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    if (y < 0 || y >= k) invalid(where, `labels[${i}]`, `a class in [0, ${k - 1}]`, String(y));
  }
  return [n, k];
}

/** Mean softmax cross-entropy over a batch of logits [N, K] and integer labels. */
export class SoftmaxCrossEntropy {
  readonly labelSmoothing: number;
  private g: Float32Array | null = null;

  constructor(options: { labelSmoothing?: number } = {}) {
    this.labelSmoothing = num('SoftmaxCrossEntropy', 'labelSmoothing', options.labelSmoothing ?? 0, {
      min: 0,
      max: 1,
      maxOpen: true,
    });
  }

  /** The mean loss and its gradient (p − q)/N, with q the (smoothed) one-hot target. */
  compute(logits: Tensor, labels: Int32Array): LossResult {
    const [n, k] = checkLogits('SoftmaxCrossEntropy', logits, labels);
    const z = logits.data;
    this.g = reuse(this.g, z.length);
    const g = this.g;
    const eps = this.labelSmoothing;
    const off = eps / k;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const o = i * k;
      let zmax = -Infinity;
      for (let j = 0; j < k; j++) zmax = max(zmax, z[o + j] as number);
      if (!Number.isFinite(zmax)) {
        throw new DeboraError(
          `SoftmaxCrossEntropy: expected finite values for argument 'logits', received a non-finite value in row ${i}`,
          'DEBORA_NON_FINITE',
        );
      }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += exp((z[o + j] as number) - zmax);
      const lse = zmax + log(sum);
      const y = labels[i] as number;
      let rowLoss = 0;
      for (let j = 0; j < k; j++) {
        const logp = (z[o + j] as number) - lse;
        const q = (j === y ? 1 - eps : 0) + off;
        if (q > 0) rowLoss -= q * logp;
        g[o + j] = (exp(logp) - q) / n;
      }
      total += rowLoss;
    }
    return { loss: total / n, grad: { data: g, shape: logits.shape } };
  }
}

/** Mean squared error over all elements: mean((pred − target)²). */
export class MSELoss {
  private g: Float32Array | null = null;

  compute(pred: Tensor, target: Float32Array): LossResult {
    const p = pred.data;
    f32('MSELoss', 'target', target, p.length);
    this.g = reuse(this.g, p.length);
    const g = this.g;
    const m = p.length;
    let total = 0;
    for (let i = 0; i < m; i++) {
      const d = (p[i] as number) - (target[i] as number);
      total += d * d;
      g[i] = (2 * d) / m;
    }
    return { loss: total / m, grad: { data: g, shape: pred.shape } };
  }
}

/** Index of the largest logit per row (first on ties). */
export function argmax(logits: Tensor): Int32Array {
  if (logits.shape.length !== 2) invalid('argmax', 'logits', 'a [N, classes] tensor', shapeStr(logits.shape));
  const [n, k] = logits.shape as [number, number];
  const out = new Int32Array(n);
  const z = logits.data;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if ((z[i * k + j] as number) > (z[i * k + best] as number)) best = j;
    out[i] = best;
  }
  return out;
}

/** Fraction of rows whose argmax equals the label. */
export function accuracy(logits: Tensor, labels: Int32Array): number {
  const [n] = checkLogits('accuracy', logits, labels);
  if (n === 0) return Number.NaN;
  const pred = argmax(logits);
  let ok = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) ok++;
  return ok / n;
}

/** Counts [true class][predicted class] as a row-major K×K Int32Array. */
export function confusionMatrix(logits: Tensor, labels: Int32Array): Int32Array {
  const [n, k] = checkLogits('confusionMatrix', logits, labels);
  const pred = argmax(logits);
  const m = new Int32Array(k * k);
  for (let i = 0; i < n; i++) {
    const idx = (labels[i] as number) * k + (pred[i] as number);
    m[idx] = (m[idx] as number) + 1;
  }
  return m;
}
