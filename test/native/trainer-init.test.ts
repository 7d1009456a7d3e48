/**
 * trainer-init.test.ts — what a Trainer does to the model before its first step: dEBORA's
 * 'offset' init leaves the network exactly at the pretrained function even though Frank-Wolfe's
 * s0 differs from the scale the adapters were attached at (a bug once: the network started
 * perturbed by Ψ(s0) − Ψ(scale)); and the 'relative' budget gives each adapter a simplex of
 * τ_l = c·‖W0_l‖_F. On the shipped MNIST 8×8 MLP with seeded inputs.
 */

import { makeDataset } from '../../lib/data/dataset';
import { loadWeights } from '../../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../../lib/models/mnist8';
import type { Linear } from '../../lib/nn/linear';
import { Rng } from '../../lib/rng';
import { validateTrainerConfig } from '../../lib/trainer/config';
import { Trainer } from '../../lib/trainer/trainer';

function base() {
  const m = mnist8Mlp();
  loadWeights(m, mnist8MlpWeightsPath());
  return m;
}

const rng = new Rng(5);
const N = 37;
const x = new Float32Array(N * 64).map(() => rng.uniform());
const y = new Int32Array(N).map(() => rng.int(10));
const data = makeDataset({ x, y, sampleShape: [1, 8, 8], numClasses: 10 });

function outputOf(m: ReturnType<typeof base>): Float32Array {
  m.train(false);
  return Float32Array.from(m.forward({ data: x, shape: [N, 1, 8, 8] }).data);
}

test.each([
  ['absolute', { tau: 48, epsilon: 1e-3 }],
  ['relative', { tau: 2, epsilon: 1e-3 }],
] as const)('dEBORA (budget %s) starts exactly at the pretrained function although s0 ≠ scale', (budget, fw) => {
  const ref = outputOf(base());
  const model = base();
  const t = new Trainer(model, data, {
    method: 'debora',
    adapters: { targets: /^fc/, rank: 8, init: 'offset' },
    fw,
    budget,
  });
  const s0 = (t.adapters.get('fc1') as { s: { data: Float32Array } }).s.data;
  expect(Math.abs((s0[0] as number) - 1)).toBeGreaterThan(0.1); // s0 is not the attach scale 1
  const out = outputOf(model);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxErr = Math.max(maxErr, Math.abs((out[i] as number) - (ref[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(ref[i] as number));
  }
  expect(maxErr).toBeLessThan(1e-4 * maxRef); // float32 rounding of W0 − Ψ0 + Ψ0
});

test("budget 'relative': one simplex per adapter with τ_l = c·‖W0_l‖_F of the pretrained weight", () => {
  const m = base();
  const norms: Record<string, number> = {};
  for (const name of ['fc1', 'fc2', 'fc3']) {
    const w = (m.children().find(([n]) => n === name) as [string, Linear])[1].weight.data;
    norms[name] = Math.sqrt(w.reduce((a, v) => a + v * v, 0));
  }
  const t = new Trainer(m, data, {
    method: 'debora',
    adapters: { targets: /^fc/, rank: 4 },
    fw: { tau: 1.5, epsilon: 1e-3 },
    budget: 'relative',
  });
  const blocks = t.fw?.blocks ?? [];
  expect(blocks.map((b) => b.adapters)).toEqual([['fc1'], ['fc2'], ['fc3']]);
  for (const b of blocks) expect(b.tau).toBeCloseTo(1.5 * (norms[b.adapters[0] as string] as number), 4);
  // Each adapter's s sums to its own budget (plus the floors).
  for (const [name, ad] of t.adapters) {
    const sum = ad.s.data.reduce((a, v) => a + v, 0);
    expect(sum).toBeCloseTo(1.5 * (norms[name] as number) + 4 * 1e-3, 3);
  }
});

test.each([
  [{ method: 'lora', adapters: { targets: /fc/, rank: 2 }, budget: 'relative' }, "field 'budget'"],
  [
    { method: 'debora', adapters: { targets: /fc/, rank: 2 }, fw: { tau: 1, epsilon: 1e-3 }, budget: 'per-layer' },
    "field 'budget', received 'per-layer'",
  ],
  [
    {
      method: 'debora',
      adapters: { targets: /fc/, rank: 2 },
      fw: { tau: { fc1: 1 }, epsilon: 1e-3 },
      budget: 'relative',
    },
    "field 'fw.tau'",
  ],
  [
    {
      method: 'debora',
      adapters: { targets: /fc/, rank: 2 },
      fw: { tau: 1, epsilon: 1e-3, scope: 'global' },
      budget: 'relative',
    },
    "field 'fw.scope'",
  ],
])('%j is refused naming the field', (config, message) => {
  expect(() => validateTrainerConfig(config)).toThrow(message);
});
