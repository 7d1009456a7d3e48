/**
 * trainer-checkpoint.test.ts — checkpoint and resume of the Trainer (issue 9) on the real transfer
 * task (MNIST 8×8 MLP → 200 UCI digits): 2k outer steps straight against k, save, a fresh model
 * and Trainer.resume (as a new process would), k more — the same s, ranks, weights, optimiser
 * state and losses bit for bit, for dEBORA (pruned before the save) and AdaLoRA (saved mid-
 * schedule). Corrupted and mismatched checkpoints give clear errors and change nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadUciDigits } from '../../lib/data/csv';
import { stratifiedIndices, subset } from '../../lib/data/dataset';
import { loadWeights } from '../../lib/io/weights';
import { mnist8Mlp, mnist8MlpWeightsPath } from '../../lib/models/mnist8';
import { Rng } from '../../lib/rng';
import type { TrainerConfig } from '../../lib/trainer/config';
import { Trainer, type TrainerEvent, type TrainerState } from '../../lib/trainer/trainer';

const uci = loadUciDigits({ scale: true });
const train = subset(uci, stratifiedIndices(uci, { perClass: 20 }, new Rng(0)));

function base() {
  const m = mnist8Mlp();
  loadWeights(m, mnist8MlpWeightsPath());
  return m;
}

const DEBORA: TrainerConfig = {
  method: 'debora',
  adapters: { targets: /^fc/, rank: 8 },
  // halves: both samplers (D1 and D2) and the split itself must come back
  split: 'halves',
  inner: { schedule: 'cosine', warmupSteps: 5 },
  fw: { tau: 24, epsilon: 1e-3, truncateFrom: 10 },
};
const ADALORA: TrainerConfig = {
  method: 'adalora',
  adapters: { targets: ['fc1', 'fc2', 'fc3'], rank: 8 },
  adalora: { targetRank: 3, totalSteps: 40, tInit: 4, tFinal: 10, deltaT: 2 },
};

/** Every tensor and the JSON state, for bitwise comparison (timing fields dropped). */
function snapshot(st: TrainerState): { meta: string; tensors: Record<string, number[]> } {
  const { elapsedS: _e, ...meta } = st.meta;
  const tensors: Record<string, number[]> = {};
  for (const [k, t] of st.tensors)
    tensors[k] = Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
  return { meta: JSON.stringify(meta), tensors };
}

const strip = (e: TrainerEvent) => ({ ...e, stepMs: 0, elapsedS: 0 });

describe('Trainer checkpoints (MNIST 8×8 → UCI digits)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debora-ckpt-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['dEBORA (pruned before the save)', DEBORA, 20],
    ['AdaLoRA (saved mid-schedule)', ADALORA, 12],
  ])('%s: 2k steps straight = k + save + resume in a fresh Trainer + k, bit for bit', (_name, cfg, k) => {
    const straightEvents: TrainerEvent[] = [];
    const straight = new Trainer(base(), train, cfg, { onEvent: (e) => straightEvents.push(e) }, 40);
    for (let i = 0; i < 2 * k; i++) straight.step();

    const first = new Trainer(base(), train, cfg, {}, 40);
    for (let i = 0; i < k; i++) first.step();
    const file = path.join(dir, `ckpt-${cfg.method}.safetensors`);
    first.save(file);
    const ranksAtSave = first.ranks();
    expect(Object.values(ranksAtSave).reduce((a, b) => a + b, 0)).toBeLessThan(24); // pruned before the save
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]); // atomic write left no temp file

    const resumedEvents: TrainerEvent[] = [];
    const resumed = Trainer.resume(file, base(), train, { onEvent: (e) => resumedEvents.push(e) });
    expect(resumed.steps).toBe(k);
    expect(resumed.ranks()).toEqual(ranksAtSave);
    for (let i = 0; i < k; i++) resumed.step();

    expect(resumedEvents.map(strip)).toEqual(straightEvents.slice(k).map(strip));
    expect(resumed.ranks()).toEqual(straight.ranks());
    const a = snapshot(straight.stateDict());
    const b = snapshot(resumed.stateDict());
    expect(b.meta).toBe(a.meta);
    expect(Object.keys(b.tensors).sort()).toEqual(Object.keys(a.tensors).sort());
    for (const key of Object.keys(a.tensors))
      expect({ key, bits: b.tensors[key] }).toEqual({ key, bits: a.tensors[key] });
    if (cfg.method === 'debora') expect(Array.from(resumed.fw?.s ?? [])).toEqual(Array.from(straight.fw?.s ?? []));
  });

  test('corrupted and mismatched checkpoints: clear errors, the trainer unchanged', () => {
    const t = new Trainer(base(), train, DEBORA, {}, 40);
    for (let i = 0; i < 12; i++) t.step();
    const file = path.join(dir, 'good.safetensors');
    t.save(file);
    const before = snapshot(t.stateDict());
    const unchanged = () => expect(snapshot(t.stateDict())).toEqual(before);
    const err = (f: () => void): { code: string; message: string } => {
      try {
        f();
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('expected an error');
    };

    // truncated file
    const bytes = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    expect(err(() => t.load(cut)).message).toMatch(/not a valid safetensors file/);
    unchanged();
    // a weights file is not a checkpoint
    const weights = mnist8MlpWeightsPath();
    expect(err(() => t.load(weights)).message).toMatch(/Trainer\.save.*__metadata__\.format/);
    unchanged();

    const good = t.stateDict();
    const edit = (
      patch: (
        meta: Record<string, unknown>,
        tensors: Map<string, { shape: readonly number[]; data: Float32Array }>,
      ) => void,
    ) => {
      const meta = JSON.parse(JSON.stringify(good.meta)) as Record<string, unknown>;
      const tensors = new Map([...good.tensors].map(([k, v]) => [k, { shape: v.shape.slice(), data: v.data.slice() }]));
      patch(meta, tensors);
      return { meta, tensors } as unknown as TrainerState;
    };
    const cases: Array<[string, TrainerState, RegExp]> = [
      [
        'other config',
        edit((m) => ((m.config as { inner: { lr: number } }).inner.lr = 0.5)),
        /meta\.config\.inner\.lr/,
      ],
      ['other totalSteps', edit((m) => (m.totalSteps = 41)), /meta\.totalSteps/],
      [
        'factor of the wrong shape',
        edit((_m, ts) => {
          const k = [...ts.keys()].find((n) => n.startsWith('model.') && n.endsWith('adapter.U')) as string;
          const u = ts.get(k) as { shape: number[]; data: Float32Array };
          ts.set(k, {
            shape: [u.shape[0] as number, (u.shape[1] as number) - 1],
            data: u.data.subarray(0, u.data.length - (u.shape[0] as number)),
          });
        }),
        /expected shape \[128, \d\] for 'tensors\['model\.fc1\.adapter\.U'\]'/,
      ],
      [
        'non-finite weight',
        edit((_m, ts) => ((ts.get('model.fc2.weight') as { data: Float32Array }).data[7] = Number.NaN)),
        /finite values for 'tensors\['model\.fc2\.weight'\]', received NaN at index 7/,
      ],
      ['missing Adam moment', edit((_m, ts) => ts.delete('optim.fc1.adapter.V.expAvgSq')), /optimiser/],
      [
        'extra tensor',
        edit((_m, ts) => ts.set('model.fc9.weight', { shape: [1], data: new Float32Array(1) })),
        /'tensors\['model\.fc9\.weight'\]', received an extra tensor/,
      ],
      ['bad FW state', edit((m) => ((m.fw as { s: number[] }).s[0] = -1)), /meta\.fw/],
      [
        'bad sampler state',
        edit((m) => ((m.samplers as { lower: { position: number } }).lower.position = 1e6)),
        /meta\.samplers/,
      ],
    ];
    for (const [what, st, re] of cases) {
      const e = err(() => t.loadStateDict(st));
      expect({ what, code: e.code }).toEqual({ what, code: 'DEBORA_INVALID_ARG' });
      expect({ what, message: e.message }).toEqual({ what, message: expect.stringMatching(re) });
      expect(e.message).toMatch(/nothing was changed/);
      unchanged();
    }

    // the good one still loads, and the trainer is back at step 12
    t.load(file);
    expect(t.steps).toBe(12);
    expect(snapshot(t.stateDict())).toEqual(before);
    // a checkpoint of another method
    const lora = new Trainer(base(), train, { method: 'lora', adapters: { targets: /^fc/, rank: 8 } }, {}, 40);
    expect(err(() => lora.load(file)).message).toMatch(/meta\.config\.(adapters|fw|method|split)/);
    // an earlier checkpoint (higher ranks) cannot load into a trainer that pruned since
    const early = new Trainer(base(), train, DEBORA, {}, 40);
    for (let i = 0; i < 12; i++) early.step();
    for (let i = 0; i < 20; i++) t.step();
    const pruned = snapshot(t.stateDict());
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    expect(total(t.ranks())).toBeLessThan(total(early.ranks()));
    expect(err(() => t.loadStateDict(early.stateDict())).message).toMatch(/meta\.ranks\..*Trainer\.resume/);
    expect(snapshot(t.stateDict())).toEqual(pruned);
  });
});
