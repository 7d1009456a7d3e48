/**
 * trainer.test.ts — the bilevel trainer end to end on a real transfer task (MNIST 8×8 → UCI
 * digits: the pretrained MLP of data/models/mnist8-mlp.safetensors adapted on 200 UCI digits,
 * scored on the other 1,597), fixed seed: the D2 loss falls, s stays feasible every step, ranks get
 * pruned with factors and optimiser state compacted together, events are well formed (callback
 * and JSONL), and dEBORA's held-out accuracy is within a stated margin of fixed-rank LoRA r = 8
 * with fewer adapter parameters. Baselines (head, full, LoRA) run on the same data.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadUciDigits } from '../../lib/data/csv';
import { complement, stratifiedIndices, subset } from '../../lib/data/dataset';
import { loadWeights } from '../../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../../lib/models/mnist8';
import type { Linear } from '../../lib/nn/linear';
import { Rng } from '../../lib/rng';
import type { TrainerConfig } from '../../lib/trainer/config';
import { Trainer, type TrainerEvent } from '../../lib/trainer/trainer';

const FIXTURE = mnist8MlpWeightsPath();
const uci = loadUciDigits({ scale: true });
const idx = stratifiedIndices(uci, { perClass: 20 }, new Rng(0));
const train = subset(uci, idx);
const heldOut = complement(uci, idx);

function base() {
  const m = mnist8Mlp();
  loadWeights(m, FIXTURE);
  return m;
}

const DEBORA: TrainerConfig = {
  method: 'debora',
  split: 'same',
  adapters: { targets: /^fc/, rank: 8 },
  fw: { tau: 24, epsilon: 1e-3, truncateFrom: 30 },
};

describe('Trainer on MNIST 8×8 → UCI digits (seed 0)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-trainer-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('dEBORA: loss falls, s feasible every step, ranks pruned and compacted, events well formed, accuracy near LoRA r=8 with fewer parameters', () => {
    const events: TrainerEvent[] = [];
    const eventsFile = path.join(dir, 'events.jsonl');
    const model = base();
    let worstFeasibility = 0;
    const trainer = new Trainer(model, train, DEBORA, {
      eventsFile,
      val: heldOut,
      evalEvery: 25,
      onEvent: (e) => {
        events.push(e);
        const fw = trainer.fw;
        if (fw === null) throw new Error('no Frank-Wolfe stepper');
        let mass = 0;
        for (const v of fw.s) {
          worstFeasibility = Math.max(worstFeasibility, 1e-3 - v);
          mass += v - 1e-3;
        }
        worstFeasibility = Math.max(worstFeasibility, mass - 24 * (1 + 1e-12));
        // The adapters hold exactly FW's s (float32-rounded), rank for rank.
        for (const [name, a] of trainer.adapters) {
          const s = fw.sOf(name);
          expect(a.rank).toBe(s.length);
          for (let i = 0; i < a.rank; i++) expect(a.s.data[i]).toBe(Math.fround(s[i] as number));
        }
      },
    });
    const res = trainer.fit(100);
    trainer.close();
    expect(res.status).toBe('completed');
    expect(worstFeasibility).toBeLessThanOrEqual(0);
    // The lower-level loss falls (means over the first and last 10 steps).
    const mean = (a: TrainerEvent[]) => a.reduce((s, e) => s + e.lossD2, 0) / a.length;
    expect(mean(events.slice(-10))).toBeLessThan(0.5 * mean(events.slice(0, 10)));
    // Ranks were pruned, and factors, s and Adam state shrank together.
    const total = Object.values(res.ranks).reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(24);
    expect(events.some((e) => (e.fw?.truncated ?? 0) > 0)).toBe(true);
    const state = trainer.optimizer.stateDict().buffers;
    for (const [name, a] of trainer.adapters) {
      expect(res.ranks[name]).toBe(a.rank);
      for (const f of a.factors) {
        expect(f.shape[1]).toBe(a.rank);
        expect(state[f.name]?.expAvg?.length).toBe(f.size);
      }
    }
    // Events: one per step, JSONL identical to the callback's, fields present.
    const lines = fs
      .readFileSync(eventsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TrainerEvent);
    expect(lines.length).toBe(100);
    expect(lines[99]?.step).toBe(99);
    for (const e of lines) {
      expect(Number.isFinite(e.lossD1) && Number.isFinite(e.lossD2) && e.stepMs > 0).toBe(true);
      expect(e.fw?.l1).toBeLessThanOrEqual((e.fw?.budget as number) * (1 + 1e-12));
      expect(['fw', 'away', 'drop', 'pairwise', 'none', 'mixed']).toContain(e.fw?.type);
    }
    expect(lines.filter((e) => e.val !== undefined).length).toBe(4);
    // Against fixed-rank LoRA r = 8 on the same data and budget. Measured (seeds 0/1/2), with the
    // default 16-step FW warm-up: dEBORA 94.9/93.2/93.2% with 2336/3984/3277 parameters (without
    // it 94.5/92.4/92.8% with 3288/3277/3727), LoRA r=8 95.2/93.7/93.4% with 4712: the margin of
    // 2.5 points is about twice the largest gap seen.
    const lora = new Trainer(
      base(),
      train,
      { method: 'lora', adapters: { targets: /^fc/, rank: 8 } },
      { val: heldOut },
    ).fit(100);
    const acc = res.val?.accuracy as number;
    expect(acc).toBeGreaterThanOrEqual((lora.val?.accuracy as number) - 0.025);
    expect(res.adapterParams).toBeLessThan(lora.adapterParams);
  });

  test('baselines on the same data: head trains only the last layer, full everything; both beat the zero-shot model', () => {
    const zero = base();
    const zeroAcc = new Trainer(zero, train, { method: 'head' }, { val: heldOut }).fit(0).val?.accuracy as number;
    const m = base();
    const before = Float32Array.from(m.get<Linear>('fc1').weight.data);
    const head = new Trainer(m, train, { method: 'head' }, { val: heldOut }).fit(40);
    expect(Array.from(m.get<Linear>('fc1').weight.data)).toEqual(Array.from(before));
    expect(head.trainableParams).toBe(128 * 10 + 10);
    expect(head.val?.accuracy).toBeGreaterThan(zeroAcc + 0.1);
    const full = new Trainer(base(), train, { method: 'full' }, { val: heldOut }).fit(40);
    expect(full.trainableParams).toBe(64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
    expect(full.val?.accuracy).toBeGreaterThan(zeroAcc + 0.1);
  });

  test('an aborted signal ends fit() cleanly and says so', () => {
    const ctrl = new AbortController();
    let n = 0;
    const t = new Trainer(base(), train, DEBORA, {
      onEvent: () => {
        if (++n === 3) ctrl.abort();
      },
    });
    const res = t.fit(50, { signal: ctrl.signal });
    expect(res.status).toBe('interrupted');
    expect(res.steps).toBe(3);
  });
});
