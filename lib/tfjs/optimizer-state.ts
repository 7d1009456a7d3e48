/**
 * tfjs/optimizer-state.ts — keeps a tfjs optimizer's per-variable state (Adam moments, momentum,
 * RMSProp and Adagrad accumulators) aligned when an adapter factor loses columns at truncation.
 * Tested in test/native/tfjs-train.test.ts (Adam across a truncation).
 *
 * tfjs has no public API for this: its built-in optimizers hold each variable's slots as arrays of
 * `{ originalName: '<variable name>/<slot>', variable }`, indexed by the position of the variable in
 * the gradient map. We find the slots by that name and shape and slice their columns in place, so
 * the positions (and so the pairing with the next gradient map) stay as they were. An optimizer
 * without such slots (SGD) is left alone.
 */
import type { Tf, Variable } from './types';

interface Slot {
  originalName: string;
  variable: Variable;
}

function isSlot(v: unknown): v is Slot {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Slot).originalName === 'string' &&
    typeof (v as Slot).variable === 'object' &&
    (v as Slot).variable !== null &&
    Array.isArray((v as Slot).variable.shape)
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Replaces every slot of `optimizer` that belongs to the variable `oldName` (of shape `oldShape`,
 * components along the last axis) by its columns `kept`, renamed for the variable `newName`.
 * Returns the number of slots remapped.
 */
export function remapOptimizerSlots(
  tf: Tf,
  optimizer: object,
  oldName: string,
  oldShape: readonly number[],
  newName: string,
  kept: readonly number[],
): number {
  const prefix = `${oldName}/`;
  const axis = oldShape.length - 1;
  let count = 0;
  for (const value of Object.values(optimizer)) {
    if (!Array.isArray(value)) continue;
    for (const slot of value) {
      if (!isSlot(slot) || !slot.originalName.startsWith(prefix)) continue;
      if (!sameShape(slot.variable.shape, oldShape)) continue;
      const old = slot.variable;
      const idx = tf.tensor1d(Int32Array.from(kept), 'int32');
      const sliced = tf.gather(old, idx, axis);
      // Same trainable flag as tfjs gives its slots (false: no optimiser ever steps them).
      slot.variable = sliced.variable(false);
      slot.originalName = `${newName}/${slot.originalName.slice(prefix.length)}`;
      idx.dispose();
      sliced.dispose();
      old.dispose();
      count++;
    }
  }
  return count;
}
