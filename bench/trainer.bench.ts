/**
 * bench/trainer.bench.ts — the cost of a dEBORA outer step (issue 7): one `Trainer.step()` (T_max
 * = 4 inner steps on D2 minibatches + one D1 forward/backward + G̃ + the Frank-Wolfe step) against
 * one LoRA `step()` (T_max + 1 = 5 gradient steps) at the same ranks on the same model and batch
 * size, target ratio ≤ 1.2; and the dEBORA step time as the total rank falls, the ranks forced
 * down by pruning (a rank-32 trainer's checkpoint cut to 16 / 8 / 4 columns and loaded back, so
 * the adapters, optimiser state and Frank-Wolfe state are compacted by the trainer's own code).
 * Models: MLP 784-256-256-10 on synthetic data (N = 64) and the MNIST 8×8 MLP on UCI digits.
 * Trainers are timed interleaved (one step of each in turn, medians over the repeats) so load
 * from other processes hits all of them alike: read the ratios, not the absolute times.
 * Run: npx tsc -p bench/tsconfig.json && node build-bench/bench/trainer.bench.js [--quick].
 * Results: bench/results/trainer-cpu-<date>.json.
 */
import { loadUciDigits } from '../lib/data/csv';
import { type Dataset, makeDataset, subset } from '../lib/data/dataset';
import { info } from '../lib/info';
import { loadWeights } from '../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../lib/models/mnist8';
import { ReLU } from '../lib/nn/activation';
import { Linear } from '../lib/nn/linear';
import type { Module } from '../lib/nn/module';
import { PROFILE_CATEGORIES, profiler } from '../lib/nn/profile';
import { Sequential } from '../lib/nn/sequential';
import { Rng } from '../lib/rng';
import { getNumThreads } from '../lib/runtime';
import type { TrainerConfig } from '../lib/trainer/config';
import { Trainer, type TrainerState } from '../lib/trainer/trainer';
import { commit, machine, writeResults } from './common';

const quick = process.argv.includes('--quick');
const REPS = quick ? 15 : 40;
const WARMUP = 5;

function mlp784(): Sequential {
  return new Sequential([
    ['fc1', new Linear(784, 256, { seed: 1 })],
    ['relu1', new ReLU()],
    ['fc2', new Linear(256, 256, { seed: 2 })],
    ['relu2', new ReLU()],
    ['fc3', new Linear(256, 10, { seed: 3 })],
  ]);
}

function synthetic(n: number, d: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = rng.fillNormal(new Float32Array(n * d));
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(10);
  return makeDataset({ name: 'synthetic', x, y, sampleShape: [d], numClasses: 10 });
}

interface ModelCase {
  id: string;
  describe: string;
  make: () => Module;
  data: Dataset;
}

const median = (a: number[]): number => {
  const s = a.slice().sort((x, y) => x - y);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** Median ms of one step() of each trainer, timed interleaved. */
function timeInterleaved(trainers: Trainer[], reps = REPS): number[] {
  for (const t of trainers) for (let i = 0; i < WARMUP; i++) t.step();
  const ms: number[][] = trainers.map(() => []);
  for (let r = 0; r < reps; r++) {
    trainers.forEach((t, i) => {
      const t0 = performance.now();
      t.step();
      (ms[i] as number[]).push(performance.now() - t0);
    });
  }
  return ms.map(median);
}

/** Where one step's time goes (profiler categories, the rest is 'other': FW, G̃ assembly, glue). */
function profile(t: Trainer, steps = 10): Record<string, number> {
  profiler.reset();
  profiler.enabled = true;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) t.step();
  const total = (performance.now() - t0) / steps;
  profiler.enabled = false;
  const out: Record<string, number> = { total };
  let sum = 0;
  for (const c of PROFILE_CATEGORIES) {
    out[c] = profiler.ms[c] / steps;
    sum += out[c] as number;
  }
  out.other = total - sum;
  return out;
}

const deboraCfg = (rank: number, upperBatchSize?: number): TrainerConfig => ({
  method: 'debora',
  adapters: { targets: /^fc/, rank },
  ...(upperBatchSize === undefined ? {} : { upperBatchSize }),
  // truncation off: the ranks stay where the case puts them
  fw: { tau: 3 * rank, epsilon: 1e-3 },
});
const loraCfg = (rank: number, geometry: 'euclidean' | 'stiefel' = 'euclidean'): TrainerConfig => ({
  method: 'lora',
  adapters: { targets: /^fc/, rank, geometry },
});

/** Keeps the first r columns of every adapter in a checkpoint (factors, s, optimiser moments, FW's s). */
function cutRanks(st: TrainerState, r: number, modes: Map<string, number[]>): TrainerState {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const ranks: Record<string, number> = {};
  const old = st.meta.ranks;
  for (const name of Object.keys(old)) ranks[name] = r;
  for (const [key, t] of st.tensors) {
    const m = /^(?:model|optim)\.(fc\d)\.adapter\.(U|V|s)(?:\.\w+)?$/.exec(key);
    if (m === null) {
      tensors.set(key, t);
      continue;
    }
    const [, layer, which] = m as unknown as [string, string, string];
    const R = old[layer] as number;
    const rows = which === 's' ? 1 : ((modes.get(layer) as number[])[which === 'U' ? 0 : 1] as number);
    const data = new Float32Array(rows * r);
    for (let j = 0; j < rows; j++) for (let i = 0; i < r; i++) data[j * r + i] = t.data[j * R + i] as number;
    tensors.set(key, { shape: key.startsWith('model.') ? (which === 's' ? [r] : [rows, r]) : [rows * r], data });
  }
  const fw = st.meta.fw as NonNullable<TrainerState['meta']['fw']>;
  let off = 0;
  const s: number[] = [];
  for (const a of fw.adapters) {
    s.push(...fw.s.slice(off, off + r));
    off += a.rank;
  }
  const meta = {
    ...st.meta,
    ranks,
    fw: { ...fw, adapters: fw.adapters.map((a) => ({ ...a, rank: r })), s },
  };
  return { meta, tensors };
}

async function main(): Promise<void> {
  const i = info();
  const uci = loadUciDigits({ scale: true });
  const uciTrain = subset(
    uci,
    Array.from({ length: 200 }, (_, k) => k),
  );
  const models: ModelCase[] = [
    {
      id: 'mlp784',
      describe: 'MLP 784-256-256-10, synthetic data (1,024 samples), N = 64',
      make: mlp784,
      data: synthetic(1024, 784, 7),
    },
    {
      id: 'mnist8',
      describe: 'MNIST 8×8 MLP 64-128-128-10 (pretrained), 200 UCI digits, N = 64',
      make: () => {
        const m = mnist8Mlp();
        loadWeights(m, mnist8MlpWeightsPath());
        return m;
      },
      data: uciTrain,
    },
  ];
  const rows: Record<string, unknown>[] = [];
  const lines: string[] = [];
  // 1. dEBORA outer step against T_max + 1 LoRA steps at the same ranks.
  for (const mc of models) {
    for (const rank of [8, 16]) {
      const deb = new Trainer(mc.make(), mc.data, deboraCfg(rank, 64));
      const deb256 = new Trainer(mc.make(), mc.data, deboraCfg(rank));
      const lora = new Trainer(mc.make(), mc.data, loraCfg(rank));
      const loraSt = new Trainer(mc.make(), mc.data, loraCfg(rank, 'stiefel'));
      const [d, d256, l, ls] = timeInterleaved([deb, deb256, lora, loraSt]) as [number, number, number, number];
      const row = {
        case: 'outer-step-vs-lora',
        model: mc.id,
        describe: mc.describe,
        rank,
        T_max: 4,
        debora_ms: d,
        debora_d1_default_ms: d256,
        d1_default_batch: Math.min(256, mc.data.n),
        lora_5_steps_ms: l,
        lora_stiefel_5_steps_ms: ls,
        ratio: d / l,
        ratio_d1_default: d256 / l,
        ratio_vs_lora_stiefel: d / ls,
        profile_debora: profile(deb),
        profile_lora: profile(lora),
      };
      rows.push(row);
      lines.push(
        `${mc.id.padEnd(7)} r=${String(rank).padEnd(3)} dEBORA ${d.toFixed(2).padStart(7)} ms  LoRA×5 ${l.toFixed(2).padStart(7)} ms  ratio ${(d / l).toFixed(2)}   (D1 batch ${row.d1_default_batch}: ${(d256 / l).toFixed(2)}; vs stiefel LoRA×5 ${(d / ls).toFixed(2)})`,
      );
    }
  }
  // 2. dEBORA step time as the total rank falls (pruned from 32 by loading cut checkpoints).
  const mc = models[0] as ModelCase;
  const modes = new Map([
    ['fc1', [256, 784]],
    ['fc2', [256, 256]],
    ['fc3', [10, 256]],
  ]);
  const big = new Trainer(mc.make(), mc.data, deboraCfg(32, 64));
  for (let k = 0; k < 3; k++) big.step();
  const base = big.stateDict();
  const sweep: Array<{ rank: number; trainer: Trainer }> = [{ rank: 32, trainer: big }];
  for (const r of [16, 8, 4]) {
    const t = new Trainer(mc.make(), mc.data, deboraCfg(32, 64));
    t.loadStateDict(cutRanks(base, r, modes));
    sweep.push({ rank: r, trainer: t });
  }
  const loras = [32, 16, 8, 4].map((r) => new Trainer(mc.make(), mc.data, loraCfg(r)));
  const times = timeInterleaved([...sweep.map((s) => s.trainer), ...loras]);
  lines.push('', `dEBORA step time as the rank falls (${mc.id}, pruned from 32; N = 64, D1 batch 64):`);
  sweep.forEach((s, k) => {
    const d = times[k] as number;
    const l = times[k + 4] as number;
    const ranks = s.trainer.ranks();
    rows.push({
      case: 'rank-sweep',
      model: mc.id,
      rank: s.rank,
      ranks,
      total_rank: 3 * s.rank,
      debora_ms: d,
      lora_5_steps_ms: l,
      ratio: d / l,
    });
    lines.push(
      `  ranks ${JSON.stringify(ranks)} total ${3 * s.rank}: dEBORA ${d.toFixed(2)} ms, LoRA×5 at that rank ${l.toFixed(2)} ms, ratio ${(d / l).toFixed(2)}`,
    );
  });
  const where = writeResults({
    suite: 'trainer',
    backend: 'cpu',
    machine: machine(),
    commit: commit(),
    date: new Date().toISOString(),
    threads: getNumThreads(),
    simd: i.cpu.simd,
    reps: REPS,
    note: 'medians of interleaved single steps; the machine is shared (2 cores): ratios, not absolute times',
    cases: rows,
  });
  process.stdout.write(`${lines.join('\n')}\nresults: ${where}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
