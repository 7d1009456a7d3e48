/**
 * bench/train.bench.ts — one training step of the model toolkit (issue 6): an MLP 784-256-256-10
 * on a batch of 256 with rank-16 CP adapters on every linear layer, the same as full fine-tuning,
 * and a small CNN on 28×28 inputs with CP conv adapters. Reports the step time (tinybench median)
 * and, from a separate profiled run, the share of the step spent in base-layer kernels, adapter
 * kernels, TypeScript layers, loss, optimiser, geometry, and the rest ("glue": wrappers,
 * validation, allocation — the TypeScript overhead, target < 10%).
 * Run: npm run bench:train (add --quick for fewer samples). Results: bench/results/train-cpu-*.json.
 */

import { info } from '../lib/info';
import { Flatten, ReLU } from '../lib/nn/activation';
import { attachAdapters } from '../lib/nn/attach';
import { Conv2d } from '../lib/nn/conv2d';
import { Linear } from '../lib/nn/linear';
import { SoftmaxCrossEntropy } from '../lib/nn/loss';
import type { Module } from '../lib/nn/module';
import { MaxPool2d } from '../lib/nn/pool';
import { PROFILE_CATEGORIES, type ProfileCategory, profiler } from '../lib/nn/profile';
import { Sequential } from '../lib/nn/sequential';
import { countParameters } from '../lib/nn/summary';
import type { Tensor } from '../lib/nn/tensor';
import { trainStep } from '../lib/nn/train';
import { Adam } from '../lib/optim/adam';
import { Rng } from '../lib/rng';
import { getNumThreads } from '../lib/runtime';
import { commit, machine, writeResults } from './common';

const quick = process.argv.includes('--quick');

interface StepCase {
  id: string;
  describe: string;
  model: Module;
  x: Tensor;
  y: Int32Array;
}

function mlp(): Sequential {
  return new Sequential([
    ['fc1', new Linear(784, 256, { seed: 1 })],
    ['relu1', new ReLU()],
    ['fc2', new Linear(256, 256, { seed: 2 })],
    ['relu2', new ReLU()],
    ['fc3', new Linear(256, 10, { seed: 3 })],
  ]);
}

function cnn(): Sequential {
  return new Sequential([
    ['conv1', new Conv2d(1, 16, 3, { padding: 1, seed: 1 })],
    ['relu1', new ReLU()],
    ['pool1', new MaxPool2d(2)],
    ['conv2', new Conv2d(16, 32, 3, { padding: 1, seed: 2 })],
    ['relu2', new ReLU()],
    ['pool2', new MaxPool2d(2)],
    ['flat', new Flatten()],
    ['fc1', new Linear(32 * 7 * 7, 10, { seed: 3 })],
  ]);
}

function batch(shape: number[], seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = rng.fillUniform(new Float32Array(n), 0, 1);
  const y = Int32Array.from({ length: shape[0] as number }, () => rng.int(10));
  return { x: { data: x, shape }, y };
}

function cases(): StepCase[] {
  const out: StepCase[] = [];
  const b = batch([256, 784], 1);
  const m1 = mlp();
  attachAdapters(m1, { targets: /^fc/, rank: 16, geometry: 'stiefel', init: 'small' });
  out.push({
    id: 'mlp-cp16-stiefel',
    describe: 'MLP 784-256-256-10, N=256, CP adapters r=16 (stiefel) on fc1-3, Adam',
    model: m1,
    ...b,
  });
  const m2 = mlp();
  attachAdapters(m2, { targets: /^fc/, rank: 16, geometry: 'euclidean' });
  out.push({
    id: 'mlp-cp16-euclidean',
    describe: 'same, euclidean factors (LoRA-like, no projection/retraction)',
    model: m2,
    ...b,
  });
  out.push({ id: 'mlp-full', describe: 'same MLP, full fine-tuning (every weight trains), Adam', model: mlp(), ...b });
  const c = batch([128, 1, 28, 28], 2);
  const m3 = cnn();
  attachAdapters(m3, { targets: ['conv1', 'conv2', 'fc1'], rank: 8, geometry: 'stiefel', init: 'small' });
  out.push({
    id: 'cnn-cp8',
    describe: 'CNN 28×28 (conv16-pool-conv32-pool-fc), N=128, CP conv adapters r=8 + linear adapter, Adam',
    model: m3,
    ...c,
  });
  return out;
}

async function main(): Promise<void> {
  const { Bench } = await import('tinybench');
  const i = info();
  process.stdout.write(
    `debora train-step bench: ${machine()}, ${getNumThreads()} threads, simd ${i.cpu.simd}, blas ${JSON.stringify(i.cpu.blas)}\n`,
  );
  const ce = new SoftmaxCrossEntropy();
  const rows = [];
  for (const c of cases()) {
    const opt = new Adam(
      c.model.parameters().filter((p) => p.requiresGrad && p.kind !== 'adapter-scale'),
      { lr: 1e-3 },
    );
    const step = () => trainStep(c.model, ce, opt, c.x, c.y);
    const loss0 = step().loss;
    if (!Number.isFinite(loss0)) throw new Error(`${c.id}: non-finite loss`);
    const bench = new Bench({ time: quick ? 1000 : 3000, warmupTime: 300, iterations: 10, warmupIterations: 3 });
    bench.add(c.id, step);
    await bench.run();
    const task = bench.tasks[0];
    if (task === undefined) throw new Error(`${c.id}: no task`);
    const median = (task.result as unknown as { latency: { p50: number } }).latency.p50;
    // Profiled run: the probes cost ~0.1 µs each, a few dozen per step.
    const steps = quick ? 10 : 30;
    profiler.reset();
    profiler.enabled = true;
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) step();
    const total = (performance.now() - t0) / steps;
    profiler.enabled = false;
    const share: Record<string, number> = {};
    let accounted = 0;
    for (const cat of PROFILE_CATEGORIES) {
      const ms = profiler.ms[cat as ProfileCategory] / steps;
      share[cat] = ms / total;
      accounted += ms;
    }
    share.glue = Math.max(0, total - accounted) / total;
    const counts = countParameters(c.model);
    rows.push({ id: c.id, describe: c.describe, median_ms: median, profiled_step_ms: total, share, params: counts });
    process.stdout.write(
      `${c.id}: ${median.toFixed(2)} ms/step | ${Object.entries(share)
        .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)
        .join(', ')}\n`,
    );
  }
  const where = writeResults({
    suite: 'train',
    backend: 'cpu',
    machine: machine(),
    commit: commit(),
    date: new Date().toISOString(),
    threads: getNumThreads(),
    simd: i.cpu.simd,
    openblas_coretype: process.env.OPENBLAS_CORETYPE ?? null,
    cases: rows,
  });
  process.stdout.write(`results: ${where}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
