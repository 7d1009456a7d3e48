/**
 * job-config.test.ts — validateJobConfig: defaults, per-model steps, and errors that name the
 * field (including trainer errors, prefixed with the method's place in the job).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../../lib/errors';
import { DEFAULT_METHODS, trainerConfig, validateJobConfig } from '../../lib/job/config';

test('the default job: every model of the task, the five methods, seed 0, all other digits held out', () => {
  const c = validateJobConfig({});
  expect(c.task).toBe('fashion-mnist-to-mnist');
  expect(c.models).toEqual(['mlp', 'cnn']);
  expect(c.methods.map((m) => m.label)).toEqual(DEFAULT_METHODS.map((m) => m.label));
  expect(c.seeds).toEqual([0]);
  expect(c.perClass).toBe(100);
  expect(c.heldOut).toBe('rest');
  expect(Object.keys(c.steps)).toEqual(['mlp', 'cnn']);
  for (const v of Object.values(c.steps)) expect(v).toBeGreaterThan(0);
});

test('steps: one number for all models, or per model with defaults for the rest', () => {
  expect(validateJobConfig({ steps: 7 }).steps).toEqual({ mlp: 7, cnn: 7 });
  const c = validateJobConfig({ steps: { cnn: 3 } });
  expect(c.steps.cnn).toBe(3);
  expect(c.steps.mlp).toBe(validateJobConfig({}).steps.mlp);
});

test('trainerConfig puts the method on the model’s layers with the run’s seed', () => {
  const m = { label: 'x', method: 'lora' as const, rank: 4, trainer: { inner: { lr: 5e-3 }, adapters: { scale: 2 } } };
  const t = trainerConfig('fashion-mnist-to-mnist', 'cnn', m, 3);
  expect(t.method).toBe('lora');
  expect(t.seed).toBe(3);
  expect(t.adapters?.rank).toBe(4);
  expect(t.adapters?.scale).toBe(2);
  expect((t.adapters as { targets: RegExp }).targets.test('conv1')).toBe(true);
  expect(t.inner?.lr).toBe(5e-3);
  expect(trainerConfig('fashion-mnist-to-mnist', 'mlp', { label: 'h', method: 'head' }, 0).head).toBe('fc3');
});

test.each([
  [{ task: 'imagenet' }, "field 'task', received 'imagenet'"],
  [{ models: [] }, "field 'models'"],
  [{ models: ['mlp', 'mlp'] }, 'distinct names'],
  [{ models: ['mnist8-mlp'] }, "field 'models[0]', received 'mnist8-mlp'"],
  [{ seeds: [0, -1] }, "field 'seeds[1]', received -1"],
  [{ seeds: [1, 1] }, 'distinct seeds'],
  [{ steps: 0 }, "field 'steps', received 0"],
  [{ steps: { resnet: 4 } }, "field 'steps.resnet'"],
  [{ perClass: 0 }, "field 'perClass', received 0"],
  [{ heldOut: 'most' }, "field 'heldOut', received 'most'"],
  [{ evalEvery: -1 }, "field 'evalEvery'"],
  [{ sedes: [0] }, "field 'sedes'"],
  [{ methods: [] }, "field 'methods'"],
  [{ methods: [{ label: 'bad label!', method: 'lora', rank: 4 }] }, "field 'methods[0].label'"],
  [
    {
      methods: [
        { label: 'a', method: 'lora', rank: 4 },
        { label: 'a', method: 'full' },
      ],
    },
    "'methods[1].label'",
  ],
  [{ methods: [{ label: 'a', method: 'dora', rank: 4 }] }, "field 'methods[0].method', received 'dora'"],
  [{ methods: [{ label: 'a', method: 'lora' }] }, "field 'methods[0].rank'"],
  [{ methods: [{ label: 'a', method: 'full', rank: 4 }] }, "field 'methods[0].rank'"],
  [
    { methods: [{ label: 'a', method: 'debora', rank: 4, trainer: { fw: { tau: 4 } } }] },
    'JobConfig methods[0] (model mlp): ',
  ],
  [{ methods: [{ label: 'a', method: 'lora', rank: 4, trainer: { inner: { lr: -1 } } }] }, "'inner.lr'"],
])('%j is refused with a message naming the field', (config, message) => {
  let err: unknown;
  try {
    validateJobConfig(config);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DeboraError);
  expect((err as DeboraError).code).toBe('DEBORA_INVALID_CONFIG');
  expect((err as Error).message).toContain(message);
  expect((err as Error).message).toMatch(/Fix: /);
});

test('the worked example of docs/cli.md is a valid job', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/cli.md'), 'utf8');
  const block = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
  expect(block).toBeDefined();
  const c = validateJobConfig(JSON.parse(block as string));
  expect(c.methods.map((m) => m.label)).toEqual(['debora-c1', 'debora-pairwise', 'lora-r16']);
  expect(c.seeds).toEqual([0, 1, 2]);
});
