/**
 * pretrain-fashion.ts — regenerates the default job's base checkpoints
 * data/models/fashion-{mlp,cnn}.safetensors: trains lib/models/fashion.ts's MLP and CNN on the
 * 60,000 Fashion-MNIST training images (Debian `dataset-fashion-mnist`, the only step that needs
 * apt) with Adam, seed 0, and reports test accuracy on the 10,000 test images.
 * Run: npx tsc -p bench/tsconfig.json && node build-bench/scripts/pretrain-fashion.js [mlp|cnn ...]
 */
import { batches } from '../lib/data/batches';
import { loadFashionMnist } from '../lib/data/idx';
import { saveWeights } from '../lib/io/weights';
import { FASHION_MODELS, type FashionModelName, fashionModel, fashionWeightsPath } from '../lib/models/fashion';
import { SoftmaxCrossEntropy } from '../lib/nn/loss';
import { evaluate, trainStep } from '../lib/nn/train';
import { Adam } from '../lib/optim/adam';
import { lrCosine } from '../lib/optim/schedule';
import { Rng } from '../lib/rng';

const EPOCHS: Record<FashionModelName, number> = { mlp: 10, cnn: 4 };
const BATCH = 128;

const wanted = process.argv.slice(2);
const names = (wanted.length ? wanted : FASHION_MODELS) as FashionModelName[];
const train = loadFashionMnist({ split: 'train' });
const test = loadFashionMnist({ split: 'test' });
for (const name of names) {
  const model = fashionModel(name);
  const epochs = EPOCHS[name];
  const totalSteps = epochs * Math.ceil(train.n / BATCH);
  const opt = new Adam(model.parameters(), { lr: 2e-3, schedule: lrCosine({ totalSteps, warmupSteps: 50 }) });
  const ce = new SoftmaxCrossEntropy();
  const rng = new Rng(0);
  const t0 = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    let loss = 0;
    let k = 0;
    for (const b of batches(train, BATCH, { rng, reuse: true })) {
      loss += trainStep(model, ce, opt, { data: b.x, shape: [b.n, 1, 28, 28] }, b.y).loss;
      k++;
    }
    const acc = evaluate(model, test.x, test.y, [1, 28, 28]).accuracy;
    process.stdout.write(
      `${name} epoch ${epoch + 1}/${epochs}: train loss ${(loss / k).toFixed(3)}, test accuracy ${(100 * acc).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
    );
  }
  const acc = evaluate(model, test.x, test.y, [1, 28, 28]).accuracy;
  const file = fashionWeightsPath(name);
  saveWeights(model, file, {
    model: `fashion-${name}`,
    data: 'Fashion-MNIST train (60,000 images, Debian dataset-fashion-mnist), values in [0,1]',
    training: `Adam lr 2e-3 cosine (50 warm-up steps), batch ${BATCH}, ${epochs} epochs, seed 0`,
    testAccuracy: (100 * acc).toFixed(2),
    regenerate: 'npx tsc -p bench/tsconfig.json && node build-bench/scripts/pretrain-fashion.js',
  });
  process.stdout.write(`wrote ${file} (Fashion-MNIST test accuracy ${(100 * acc).toFixed(2)}%)\n`);
}
