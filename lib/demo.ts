/**
 * demo.ts — the default job of `debora demo` / `npm start` (a first, small version of issue 8's
 * job): transfer learning on real data shipped with the package — the MLP pretrained on MNIST
 * 8×8 (data/models/mnist8-mlp.safetensors) adapted to UCI digits with 20 labels per class —
 * comparing dEBORA with fixed-rank LoRA at two ranks, head-only and full fine-tuning on the same
 * data, seed and budget. Prints progress and a results table; a few seconds on 2 cores.
 * Tested in test/e2e/cli.test.ts.
 */
import { loadUciDigits } from './data/csv';
import { complement, stratifiedIndices, subset } from './data/dataset';
import { loadWeights } from './io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from './models/mnist8';
import { evaluate } from './nn/train';
import { Rng } from './rng';
import type { TrainerConfig } from './trainer/config';
import { Trainer } from './trainer/trainer';

/** One row of the results table (issue 8's results.json fields). */
export interface DemoResult {
  model: string;
  method: string;
  seed: number;
  heldOutAccuracy: number;
  adapterParams: number;
  ranks: Record<string, number>;
  wallSeconds: number;
}

/** The runs of the demo, in table order. */
export const DEMO_RUNS: ReadonlyArray<[string, TrainerConfig]> = [
  [
    'debora',
    { method: 'debora', adapters: { targets: /^fc/, rank: 8 }, fw: { tau: 24, epsilon: 1e-3, truncateFrom: 30 } },
  ],
  ['lora-r2', { method: 'lora', adapters: { targets: /^fc/, rank: 2 } }],
  ['lora-r8', { method: 'lora', adapters: { targets: /^fc/, rank: 8 } }],
  ['head', { method: 'head', inner: { lr: 1e-2 } }],
  ['full', { method: 'full', inner: { lr: 1e-3 } }],
];

/** Runs the demo; `log` receives progress lines. */
export function runDemo(
  options: { steps?: number; seed?: number; perClass?: number; log?: (line: string) => void } = {},
): {
  zeroShot: number;
  results: DemoResult[];
} {
  const steps = options.steps ?? 100;
  const seed = options.seed ?? 0;
  const log = options.log ?? (() => {});
  const uci = loadUciDigits({ scale: true });
  const idx = stratifiedIndices(uci, { perClass: options.perClass ?? 20 }, new Rng(seed));
  const train = subset(uci, idx);
  const test = complement(uci, idx);
  const weights = mnist8MlpWeightsPath();
  const zero = mnist8Mlp();
  loadWeights(zero, weights);
  const zeroShot = evaluate(zero, test.x, test.y, [1, 8, 8]).accuracy;
  log(`MNIST 8×8 → UCI digits: ${train.n} labels, ${test.n} held out; zero-shot ${(100 * zeroShot).toFixed(1)}%`);
  const results: DemoResult[] = [];
  for (const [name, cfg] of DEMO_RUNS) {
    const model = mnist8Mlp();
    loadWeights(model, weights);
    const every = Math.max(1, Math.floor(steps / 4));
    const trainer = new Trainer(
      model,
      train,
      { ...cfg, seed },
      {
        onEvent: (e) => {
          if ((e.step + 1) % every === 0) {
            const ranks = Object.keys(e.ranks).length ? ` ranks ${Object.values(e.ranks).join('/')}` : '';
            log(`  ${name}: step ${e.step + 1}/${steps} loss ${e.lossD2.toFixed(3)}${ranks}`);
          }
        },
      },
    );
    const r = trainer.fit(steps);
    const acc = trainer.evaluate(test).accuracy;
    results.push({
      model: 'mnist8-mlp',
      method: name,
      seed,
      heldOutAccuracy: acc,
      adapterParams: r.adapterParams,
      ranks: r.ranks,
      wallSeconds: r.wallSeconds,
    });
  }
  return { zeroShot, results };
}

/** The results as a plain-text table. */
export function formatDemo(results: readonly DemoResult[]): string {
  const rows = [['method', 'held-out acc', 'adapter params', 'ranks', 'wall s']];
  for (const r of results) {
    rows.push([
      r.method,
      `${(100 * r.heldOutAccuracy).toFixed(1)}%`,
      String(r.adapterParams),
      Object.keys(r.ranks).length
        ? Object.entries(r.ranks)
            .map(([k, v]) => `${k}:${v}`)
            .join(' ')
        : '—',
      r.wallSeconds.toFixed(2),
    ]);
  }
  const w = rows[0]?.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((v, j) => v.padEnd(w[j] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
