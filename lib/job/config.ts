/**
 * config.ts — the validated configuration of a training job (`debora train`, `debora demo`): a
 * task, its base models, the methods compared (each a labelled trainer configuration), seeds,
 * outer steps and data sizes. Plain JSON (a config file is this object), checked field by field
 * with errors that name the field and the fix, before any file is written. The built-in default
 * is the issue-8 job. Tested in test/unit/job-config.test.ts.
 */
import { DeboraError } from '../errors';
import { TRAIN_METHODS, type TrainerConfig, type TrainMethod, validateTrainerConfig } from '../trainer/config';
import { TASKS } from './tasks';

/** One method of a job: a label for tables and plots, the method, its rank, trainer settings. */
export interface JobMethod {
  /** Name in tables, plots and run ids, e.g. 'lora-r4'. Letters, digits, '-', '_', '.'. */
  label: string;
  method: TrainMethod;
  /** Initial rank (dEBORA, AdaLoRA) or fixed rank (LoRA) of every adapter. */
  rank?: number;
  /** Further trainer settings (inner, fw, adalora, split, upperBatchSize, labelSmoothing, adapters.{geometry,init,scale}). */
  trainer?: Omit<TrainerConfig, 'method' | 'seed' | 'head' | 'adapters'> & {
    adapters?: { geometry?: string; init?: string; scale?: number };
  };
}

/** A job as written in a config file; every field but `task` has a default. */
export interface JobConfig {
  /** Transfer task (default 'fashion-mnist-to-mnist'). */
  task?: string;
  /** Base models of the task to run (default: all of them). */
  models?: string[];
  /** Methods compared on identical data (default: the task's comparison). */
  methods?: JobMethod[];
  /** Seeds: label draw, batches, initialisation (default [0]). */
  seeds?: number[];
  /** Outer steps per run, one number or per model (default per model). */
  steps?: number | Record<string, number>;
  /** Labelled training examples per class (default 100). */
  perClass?: number;
  /** Held-out examples scored (default 'rest': every example not used for training). */
  heldOut?: number | 'rest';
  /** Evaluate on the held-out set every this many outer steps (0: only at the end; default 0). */
  evalEvery?: number;
}

/** A validated job with every default filled in. */
export interface ResolvedJobConfig {
  task: string;
  models: string[];
  methods: JobMethod[];
  seeds: number[];
  steps: Record<string, number>;
  perClass: number;
  heldOut: number | 'rest';
  evalEvery: number;
}

/** The comparison of issue 8: dEBORA against LoRA at two ranks, head only and full fine-tuning. */
export const DEFAULT_METHODS: readonly JobMethod[] = [
  // Budget relative to each layer's pretrained weight (τ_l = 2·‖W0_l‖_F) and D1 batch 128: the
  // best of the settings measured on this task (docs/trainer.md, "Fashion-MNIST → MNIST").
  {
    label: 'debora',
    method: 'debora',
    rank: 16,
    trainer: { fw: { tau: 2, epsilon: 1e-3, truncateFrom: 30 }, budget: 'relative', upperBatchSize: 128 },
  },
  { label: 'lora-r4', method: 'lora', rank: 4 },
  { label: 'lora-r16', method: 'lora', rank: 16 },
  { label: 'head', method: 'head', trainer: { inner: { lr: 1e-2 } } },
  { label: 'full', method: 'full', trainer: { inner: { lr: 1e-3 } } },
];

/** Default outer steps per model of each task. */
const DEFAULT_STEPS: Record<string, Record<string, number>> = {
  'fashion-mnist-to-mnist': { mlp: 300, cnn: 100 },
  'mnist8-to-uci-digits': { 'mnist8-mlp': 100 },
};

/** The built-in default job (`npm start`, `debora demo`). */
export const DEFAULT_JOB: JobConfig = { task: 'fashion-mnist-to-mnist' };

function fail(field: string, expected: string, got: unknown, fix: string): never {
  let shown: string;
  try {
    shown = typeof got === 'string' ? `'${got}'` : (JSON.stringify(got) ?? String(got));
  } catch {
    shown = String(got);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  throw new DeboraError(
    `JobConfig: expected ${expected} for field '${field}', received ${shown}. Fix: ${fix}`,
    'DEBORA_INVALID_CONFIG',
  );
}

function int(field: string, v: unknown, min: number, max: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `an integer in [${min}, ${max}]`, v, fix);
  return v;
}

const LABEL = /^[A-Za-z0-9._-]{1,40}$/;
const JOB_KEYS = [
  'task',
  'models',
  'methods',
  'seeds',
  'steps',
  'perClass',
  'heldOut',
  'evalEvery',
  '$schema',
  'comment',
];

/** Validates a job configuration and fills in the defaults; throws DeboraError naming the field. */
export function validateJobConfig(config: unknown): ResolvedJobConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    fail('', 'an object', config, 'pass e.g. { "task": "fashion-mnist-to-mnist", "seeds": [0, 1, 2] }');
  const c = config as JobConfig & Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!JOB_KEYS.includes(k))
      fail(k, 'a known field', k, `remove it; known fields: ${JOB_KEYS.slice(0, 8).join(', ')}`);
  const taskName = c.task ?? 'fashion-mnist-to-mnist';
  const task = typeof taskName === 'string' ? TASKS[taskName] : undefined;
  if (task === undefined)
    fail(
      'task',
      `one of ${Object.keys(TASKS)
        .map((t) => `'${t}'`)
        .join(', ')}`,
      taskName,
      'pick a built-in task',
    );
  const known = Object.keys(task.models);
  const models = c.models ?? known;
  if (!Array.isArray(models) || models.length === 0)
    fail('models', 'a non-empty array of model names', models, `use some of ${known.join(', ')}`);
  models.forEach((m, i) => {
    if (typeof m !== 'string' || !known.includes(m))
      fail(`models[${i}]`, `one of ${known.join(', ')}`, m, `task '${task.name}' has models ${known.join(', ')}`);
  });
  if (new Set(models).size !== models.length) fail('models', 'distinct names', models, 'remove the duplicate');
  const seeds = c.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0)
    fail('seeds', 'a non-empty array of integers', seeds, 'e.g. [0, 1, 2]');
  for (const [i, s] of seeds.entries()) int(`seeds[${i}]`, s, 0, 0x7fffffff, 'use non-negative integers');
  if (new Set(seeds).size !== seeds.length) fail('seeds', 'distinct seeds', seeds, 'remove the duplicate');
  const defaults = DEFAULT_STEPS[task.name] ?? {};
  const steps: Record<string, number> = {};
  for (const m of models) {
    const v = typeof c.steps === 'object' && c.steps !== null ? (c.steps[m] ?? defaults[m]) : (c.steps ?? defaults[m]);
    steps[m] = int(typeof c.steps === 'object' ? `steps.${m}` : 'steps', v, 1, 1_000_000, 'use a positive step count');
  }
  if (typeof c.steps === 'object' && c.steps !== null) {
    if (Array.isArray(c.steps)) fail('steps', 'a number or { model: steps }', c.steps, 'e.g. 200 or { "mlp": 200 }');
    for (const k of Object.keys(c.steps))
      if (!models.includes(k)) fail(`steps.${k}`, 'a model of this job', k, `use ${models.join(', ')}`);
  }
  const perClass = int('perClass', c.perClass ?? 100, 1, 100000, 'use labelled examples per class, e.g. 100');
  const heldOut = c.heldOut ?? 'rest';
  if (heldOut !== 'rest') int('heldOut', heldOut, 10, 10_000_000, "use a count such as 2000, or 'rest'");
  const evalEvery = int('evalEvery', c.evalEvery ?? 0, 0, 1_000_000, 'use 0 (end only) or a step interval');
  const methods = c.methods ?? DEFAULT_METHODS.map((m) => ({ ...m }));
  if (!Array.isArray(methods) || methods.length === 0)
    fail(
      'methods',
      'a non-empty array of { label, method, rank?, trainer? }',
      methods,
      'or leave it out for the default comparison',
    );
  const labels = new Set<string>();
  methods.forEach((m, i) => {
    const f = `methods[${i}]`;
    if (typeof m !== 'object' || m === null)
      fail(
        f,
        'an object { label, method, rank?, trainer? }',
        m,
        'e.g. { "label": "lora-r4", "method": "lora", "rank": 4 }',
      );
    for (const k of Object.keys(m))
      if (!['label', 'method', 'rank', 'trainer'].includes(k))
        fail(`${f}.${k}`, 'label, method, rank or trainer', k, 'remove it');
    if (typeof m.label !== 'string' || !LABEL.test(m.label))
      fail(`${f}.label`, "a name of letters, digits, '-', '_', '.'", m.label, "e.g. 'lora-r4'");
    if (labels.has(m.label)) fail(`${f}.label`, 'a unique label', m.label, 'rename one of the two methods');
    labels.add(m.label);
    if (!(TRAIN_METHODS as readonly string[]).includes(m.method as string))
      fail(`${f}.method`, `one of ${TRAIN_METHODS.join(', ')}`, m.method, 'pick a method');
    const adapters = m.method === 'debora' || m.method === 'lora' || m.method === 'adalora';
    if (adapters) int(`${f}.rank`, m.rank, 1, 4096, 'give the adapters an initial rank, e.g. 8');
    else if (m.rank !== undefined) fail(`${f}.rank`, `nothing for method '${m.method}'`, m.rank, "remove 'rank'");
    // The trainer validates the rest; prefix its errors with where the method sits in the job.
    for (const model of models) {
      try {
        validateTrainerConfig(trainerConfig(task.name, model, m, seeds[0] as number));
      } catch (e) {
        if (e instanceof DeboraError) throw new DeboraError(`JobConfig ${f} (model ${model}): ${e.message}`, e.code);
        throw e;
      }
    }
  });
  return {
    task: task.name,
    models: [...models],
    methods: methods.map((m) => ({ ...m })),
    seeds: [...seeds],
    steps,
    perClass,
    heldOut,
    evalEvery,
  };
}

/** The Trainer configuration of one run: the method's settings on the model's layers and seed. */
export function trainerConfig(taskName: string, modelName: string, m: JobMethod, seed: number): TrainerConfig {
  const model = (TASKS[taskName] as NonNullable<(typeof TASKS)[string]>).models[modelName];
  if (model === undefined) throw new DeboraError(`trainerConfig: unknown model '${modelName}'`, 'DEBORA_INVALID_ARG');
  const { adapters: a, ...rest } = (m.trainer ?? {}) as NonNullable<JobMethod['trainer']>;
  const cfg: Record<string, unknown> = { ...rest, method: m.method, seed };
  if (m.method === 'head') cfg.head = model.head;
  if (m.rank !== undefined) cfg.adapters = { ...(a ?? {}), targets: model.targets, rank: m.rank };
  else if (a !== undefined) cfg.adapters = a;
  return cfg as unknown as TrainerConfig;
}
