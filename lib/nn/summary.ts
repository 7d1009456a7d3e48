/**
 * summary.ts — parameter counts (base, trainable, adapter) and a printable model summary with
 * output shapes, parameters and adapter ranks per layer. Tested in test/native/nn-sequential.test.ts.
 */
import { namedModules } from './attach';
import { Conv2d } from './conv2d';
import { Linear } from './linear';
import type { Module } from './module';

/** Parameter counts of a model. */
export interface ParameterCounts {
  /** Everything. */
  total: number;
  /** Non-adapter parameters (weights, biases, norms), frozen or not. */
  base: number;
  /** Adapter factors and s. */
  adapter: number;
  /** Parameters with requiresGrad (the ones an optimiser updates; s counts when it trains). */
  trainable: number;
  /** Parameters without requiresGrad. */
  frozen: number;
}

export function countParameters(model: Module): ParameterCounts {
  const c: ParameterCounts = { total: 0, base: 0, adapter: 0, trainable: 0, frozen: 0 };
  for (const p of model.parameters()) {
    c.total += p.size;
    if (p.kind === 'adapter-factor' || p.kind === 'adapter-scale') c.adapter += p.size;
    else c.base += p.size;
    if (p.requiresGrad) c.trainable += p.size;
    else c.frozen += p.size;
  }
  return c;
}

/** A plain-text table: layer, description, output shape (for `inputShape`), parameters, trainable. */
export function summary(model: Module, inputShape: readonly number[]): string {
  const rows: string[][] = [['layer', 'type', 'output', 'params', 'trainable']];
  let shape = inputShape.slice();
  for (const [name, m] of namedModules(model)) {
    if (m.children().length > 0 && !(m instanceof Linear || m instanceof Conv2d)) continue;
    shape = m.outputShape(shape);
    const ps = m.parameters();
    const params = ps.reduce((a, p) => a + p.size, 0);
    const trainable = ps.reduce((a, p) => a + (p.requiresGrad ? p.size : 0), 0);
    rows.push([name, m.describe(), `[${shape.join(', ')}]`, String(params), String(trainable)]);
  }
  const c = countParameters(model);
  const widths = rows[0]?.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    r.map((v, j) => (j >= 3 ? v.padStart(widths[j] ?? 0) : v.padEnd(widths[j] ?? 0))).join('  ');
  const out = rows.map(line);
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  out.push(
    '',
    `parameters: ${c.total} total, ${c.trainable} trainable, ${c.frozen} frozen; base ${c.base}, adapter ${c.adapter}`,
  );
  return out.join('\n');
}
