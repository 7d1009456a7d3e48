import { loadUciDigits } from '../lib/data/csv';
import { complement, stratifiedIndices, subset } from '../lib/data/dataset';
import { loadWeights } from '../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../lib/models/mnist8';
import { evaluate } from '../lib/nn/train';
import { Rng } from '../lib/rng';
import type { TrainerConfig } from '../lib/trainer/config';
import { Trainer } from '../lib/trainer/trainer';

const steps = Number(process.argv[2] ?? 100);
const fixture = mnist8MlpWeightsPath();
const uci = loadUciDigits({ scale: true });
const seeds = (process.env.SEEDS ?? '0').split(',').map(Number);
const defaults: Array<[string, TrainerConfig]> = [
  ['head', { method: 'head', inner: { lr: 1e-2 } }],
  ['full', { method: 'full', inner: { lr: 1e-3 } }],
  ['lora-r2', { method: 'lora', adapters: { targets: /^fc/, rank: 2 } }],
  ['lora-r8', { method: 'lora', adapters: { targets: /^fc/, rank: 8 } }],
  [
    'debora-r8',
    { method: 'debora', adapters: { targets: /^fc/, rank: 8 }, fw: { tau: 3, epsilon: 1e-3, truncateFrom: 30 } },
  ],
];
const configs: Array<[string, TrainerConfig]> = process.argv[3]
  ? Object.entries(JSON.parse(process.argv[3]) as Record<string, TrainerConfig>).map(([k, v]) => {
      const a = v.adapters as { targets: unknown } | undefined;
      if (a && typeof a.targets === 'string' && a.targets.startsWith('/'))
        a.targets = new RegExp(a.targets.slice(1, -1));
      return [k, v];
    })
  : defaults;
for (const seed of seeds) {
  const idx = stratifiedIndices(uci, { perClass: 20 }, new Rng(seed));
  const train = subset(uci, idx);
  const test = complement(uci, idx);
  const zero = mnist8Mlp();
  loadWeights(zero, fixture);
  process.stdout.write(
    `seed ${seed}: zero-shot ${(100 * evaluate(zero, test.x, test.y, [1, 8, 8]).accuracy).toFixed(1)}%\n`,
  );
  for (const [name, cfg] of configs) {
    const m = mnist8Mlp();
    loadWeights(m, fixture);
    const t0 = performance.now();
    const tr = new Trainer(m, train, { ...cfg, seed }, { val: test });
    const res = tr.fit(steps);
    process.stdout.write(
      `${name}: acc ${(100 * (res.val?.accuracy ?? Number.NaN)).toFixed(1)}% params ${res.adapterParams} ranks ${JSON.stringify(res.ranks)} ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
    );
  }
}
