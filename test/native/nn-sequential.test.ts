/**
 * nn-sequential.test.ts — Sequential (naming, lookup, errors, backward through a stack checked by
 * finite differences), parameter counts and the summary, and end-to-end training on a real data
 * set (UCI digits, vendored) with a fixed seed: an MLP trained from scratch, and adapters on a
 * frozen network, each reaching a stated held-out accuracy.
 */
import { batches } from '../../lib/data/batches';
import { loadUciDigits } from '../../lib/data/csv';
import { splitDataset } from '../../lib/data/dataset';
import { Flatten, GELU, ReLU } from '../../lib/nn/activation';
import { attachAdapters } from '../../lib/nn/attach';
import { Conv2d } from '../../lib/nn/conv2d';
import { Linear } from '../../lib/nn/linear';
import { SoftmaxCrossEntropy } from '../../lib/nn/loss';
import { LayerNorm } from '../../lib/nn/norm';
import { AvgPool2d, MaxPool2d } from '../../lib/nn/pool';
import { Sequential } from '../../lib/nn/sequential';
import { countParameters, summary } from '../../lib/nn/summary';
import { evaluate, trainStep } from '../../lib/nn/train';
import { Adam } from '../../lib/optim/adam';
import { Rng } from '../../lib/rng';
import { expectErr } from '../helpers/errors';
import { gradCheck } from '../helpers/gradcheck';
import { uniform } from '../helpers/random';

function cnn(): Sequential {
  return new Sequential([
    ['conv1', new Conv2d(1, 6, 3, { padding: 1, seed: 1 })],
    ['relu1', new ReLU()],
    ['pool1', new MaxPool2d(2)],
    ['flat', new Flatten()],
    ['fc1', new Linear(6 * 4 * 4, 10, { seed: 2 })],
  ]);
}

describe('Sequential', () => {
  test('names, lookup, output shapes, and errors naming the problem', () => {
    const m = cnn();
    expect(m.names).toEqual(['conv1', 'relu1', 'pool1', 'flat', 'fc1']);
    expect(m.get<Linear>('fc1').outFeatures).toBe(10);
    expect(m.outputShape([7, 1, 8, 8])).toEqual([7, 10]);
    expect(m.parameters().map((p) => p.name)).toEqual(['conv1.weight', 'conv1.bias', 'fc1.weight', 'fc1.bias']);
    expectErr(() => m.get('fc2'), 'DEBORA_INVALID_ARG', /'conv1', 'relu1'.*received 'fc2'/);
    expectErr(() => new Sequential([]), 'DEBORA_INVALID_ARG', /at least one layer/);
    expectErr(
      () =>
        new Sequential([
          ['a', new ReLU()],
          ['a', new ReLU()],
        ]),
      'DEBORA_INVALID_ARG',
      /'a' twice/,
    );
    expectErr(() => new Sequential([['bad name', new ReLU()]]), 'DEBORA_INVALID_ARG', /layers\[0\]/);
    expectErr(() => m.outputShape([7, 2, 8, 8]), 'DEBORA_SHAPE_MISMATCH', /1 channels/);
  });

  test('backward through conv → GELU → avg pool → flatten → layer norm → linear, with adapters, passes finite differences', () => {
    // A smooth stack: with ReLU/max pool a weight perturbation moves hundreds of pre-activations and
    // some cross a kink within any usable step (each of those layers is checked alone elsewhere).
    const m = new Sequential([
      ['conv1', new Conv2d(1, 4, 3, { padding: 1, seed: 1 })],
      ['act', new GELU()],
      ['pool', new AvgPool2d(2)],
      ['flat', new Flatten()],
      ['norm', new LayerNorm(64)],
      ['fc1', new Linear(64, 5, { seed: 2 })],
    ]);
    attachAdapters(m, { targets: ['conv1', 'fc1'], rank: 3, geometry: 'oblique', sInit: 0.3, freezeBase: false });
    const x = { data: uniform(3, 2 * 64, -1, 1), shape: [2, 1, 8, 8] };
    const r = gradCheck(m, x, { h: 1e-2, atol: 5e-4, rtol: 5e-3, count: 12 });
    expect(r.worst).toBeLessThanOrEqual(1);
  });

  test('parameter counts and the summary table', () => {
    const m = cnn();
    const base = 6 * 9 + 6 + 96 * 10 + 10;
    expect(countParameters(m)).toEqual({ total: base, base, adapter: 0, trainable: base, frozen: 0 });
    attachAdapters(m, { targets: ['conv1', 'fc1'], rank: 2, geometry: 'oblique' });
    const adapter = 2 * (6 + 1 + 3 + 3 + 1) + 2 * (10 + 96 + 1);
    expect(countParameters(m)).toEqual({ total: base + adapter, base, adapter, trainable: adapter, frozen: base });
    const text = summary(m, [1, 1, 8, 8]);
    expect(text).toMatch(/conv1\s+Conv2d\(1 → 6, 3×3.*CP conv adapter r=2/);
    expect(text).toMatch(/fc1\s+Linear\(96 → 10\) \+ CP adapter r=2.*\[1, 10\]/);
    expect(text).toContain(
      `parameters: ${base + adapter} total, ${adapter} trainable, ${base} frozen; base ${base}, adapter ${adapter}`,
    );
  });
});

describe('training on UCI digits (real data, fixed seed)', () => {
  const ds = loadUciDigits({ scale: true });
  const split = splitDataset(ds, { train: 1000, val: 0, test: 797 }, new Rng(0));

  function trainEpochs(model: Sequential, opt: Adam, epochs: number, shape: number[]): number {
    const rng = new Rng(1);
    const ce = new SoftmaxCrossEntropy();
    let last = Number.NaN;
    for (let e = 0; e < epochs; e++) {
      for (const b of batches(split.train, 50, { rng })) {
        last = trainStep(model, ce, opt, { data: b.x, shape: [b.n, ...shape] }, b.y).loss;
      }
    }
    return last;
  }

  test('an MLP 64-64-10 trained from scratch reaches ≥ 93% held-out accuracy (measured 96.0%)', () => {
    const m = new Sequential([
      ['flat', new Flatten()],
      ['fc1', new Linear(64, 64, { seed: 1 })],
      ['relu', new ReLU()],
      ['fc2', new Linear(64, 10, { seed: 2 })],
    ]);
    const before = evaluate(m, split.test.x, split.test.y, [1, 8, 8]).accuracy;
    trainEpochs(m, new Adam(m.parameters(), { lr: 3e-3 }), 15, [1, 8, 8]);
    const after = evaluate(m, split.test.x, split.test.y, [1, 8, 8]).accuracy;
    expect(before).toBeLessThan(0.3);
    expect(after).toBeGreaterThanOrEqual(0.93);
  });

  test('stiefel CP adapters (s fixed at 5) on a frozen random CNN lift held-out accuracy from chance to ≥ 75% (measured 82.6%)', () => {
    const m = cnn();
    // s is fixed here (the Frank-Wolfe step owns it in dEBORA); on the Stiefel manifold it alone sets Ψ's scale.
    const ads = attachAdapters(m, { targets: ['conv1', 'fc1'], rank: 4, geometry: 'stiefel', init: 'small', sInit: 5 });
    const frozen = evaluate(m, split.test.x, split.test.y, [1, 8, 8]).accuracy;
    const trainable = m.parameters().filter((p) => p.requiresGrad && p.kind === 'adapter-factor');
    trainEpochs(m, new Adam(trainable, { lr: 1e-2 }), 10, [1, 8, 8]);
    const after = evaluate(m, split.test.x, split.test.y, [1, 8, 8]).accuracy;
    expect(frozen).toBeLessThan(0.5);
    expect(after).toBeGreaterThanOrEqual(0.75);
    // Factors stayed on their manifold through training (retraction after every step).
    const U = ads.get('fc1')?.factors[1];
    if (U === undefined) throw new Error('no factor');
    let worst = 0;
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++) {
        let d = 0;
        for (let i = 0; i < 96; i++) d += (U.data[i * 4 + a] as number) * (U.data[i * 4 + b] as number);
        worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-5);
  });
});
