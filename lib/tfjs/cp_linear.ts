/**
 * tfjs/cp_linear.ts — the native op cp_linear as a differentiable tfjs op: the adapter term
 * ((X V) ⊙ s) Uᵀ of a matrix adapter Ψ = U diag(s) Vᵀ, forward and backward by our kernels inside
 * `tf.customGrad`. Tested in test/native/tfjs-ops.test.ts (pure-tfjs reference, finite differences).
 */
import { cpLinearBackward, cpLinearForward } from '../ops/cp_linear';
import { invalid } from '../validate';
import {
  checkTensor,
  checkTf,
  describeTensor,
  f32Data,
  type GradSaveFunc,
  type Tensor,
  type Tensor2D,
  type Tf,
} from './types';

type CpLinearOp = (x: Tensor, U: Tensor, V: Tensor, s: Tensor) => Tensor2D;

// One customGrad wrapper per tfjs instance: tf.customGrad builds a closure, and each tfjs copy has
// its own engine, so a wrapper made with another copy would record on the wrong tape.
const ops = new WeakMap<Tf, CpLinearOp>();

function makeOp(tf: Tf): CpLinearOp {
  const where = 'cpLinearTf';
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [x, U, V, s] = args as Tensor[];
    const save = args[4] as GradSaveFunc;
    const [N, nIn] = (x as Tensor).shape as [number, number];
    const [nOut, r] = (U as Tensor).shape as [number, number];
    const dims = { N, nIn, nOut, r };
    const inputs = {
      ...dims,
      X: f32Data(where, 'x', x as Tensor),
      U: f32Data(where, 'U', U as Tensor),
      V: f32Data(where, 'V', V as Tensor),
      s: f32Data(where, 's', s as Tensor),
    };
    // Z = X·V is kept for the backward (it saves one N×nIn×r product there).
    const fwd = cpLinearForward(inputs, { Z: true });
    const Z = tf.tensor2d(fwd.Z as Float32Array, [N, r]);
    // save() clones (when a tape is recording) and keeps the clones; our own Z can go now, so
    // nothing leaks when the op runs outside tf.tidy.
    save([x as Tensor, U as Tensor, V as Tensor, s as Tensor, Z]);
    Z.dispose();
    return {
      value: tf.tensor2d(fwd.Y, [N, nOut]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sU, sV, ss, sZ] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
        const g = cpLinearBackward(
          {
            ...dims,
            X: f32Data(where, 'x', sx),
            U: f32Data(where, 'U', sU),
            V: f32Data(where, 'V', sV),
            s: f32Data(where, 's', ss),
            dY: f32Data(where, 'dy', dy),
          },
          { Z: f32Data(where, 'Z', sZ) },
        );
        return [
          tf.tensor2d(g.dX as Float32Array, [N, nIn]),
          tf.tensor2d(g.dU, [nOut, r]),
          tf.tensor2d(g.dV, [nIn, r]),
          tf.tensor1d(g.ds),
        ];
      },
    };
  });
  return op as CpLinearOp;
}

/**
 * The adapter term `Y = ((x V) ⊙ s) Uᵀ` (N×nOut) of a matrix adapter, on x (N×nIn), U (nOut×r),
 * V (nIn×r), s (r), all float32 — differentiable in all four: the gradient is our native backward
 * (dX, dU, dV, ds in one fused pass). `tf` is the caller's tfjs namespace. Runs on any tfjs backend;
 * tensor data moves through `dataSync()` (no copy on the CPU backend; a download on GPU backends).
 */
export function cpLinearTf(tf: Tf, x: Tensor, U: Tensor, V: Tensor, s: Tensor): Tensor2D {
  const where = 'cpLinearTf';
  checkTf(where, tf);
  const [, nIn] = checkTensor(where, 'x', x, 2, [null, null]) as [number, number];
  const [nOut, r] = checkTensor(where, 'U', U, 2, [null, null]) as [number, number];
  if (nIn < 1) invalid(where, 'x', 'at least one column (nIn >= 1)', describeTensor(x), 'DEBORA_SHAPE_MISMATCH');
  if (nOut < 1 || r < 1) {
    invalid(
      where,
      'U',
      'at least one row and one column (nOut >= 1, r >= 1)',
      describeTensor(U),
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  checkTensor(where, 'V', V, 2, [nIn, r]);
  checkTensor(where, 's', s, 1, [r]);
  let op = ops.get(tf);
  if (op === undefined) {
    op = makeOp(tf);
    ops.set(tf, op);
  }
  return op(x, U, V, s);
}
