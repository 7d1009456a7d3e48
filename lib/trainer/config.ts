/**
 * config.ts — the validated configuration of the bilevel trainer (ALGORITHM.md sections 2–5) and
 * of the baselines it runs on identical data and budgets. Errors are DEBORA_INVALID_CONFIG and
 * name the field and the fix (PEFT-style); unknown fields are rejected so a typo never passes.
 * Tested in test/unit/trainer-config.test.ts.
 */
import { DeboraError } from '../errors';
import type { FrankWolfeConfig } from '../fw/config';
import { validateFrankWolfeConfig } from '../fw/config';
import { ADAPTER_INITS, type AdapterInit } from '../nn/adapter';
import { GEOMETRIES, type Geometry } from '../ops/common';
import { describe } from '../validate';

/** The training methods: dEBORA and the baselines it is compared with. */
export type TrainMethod = 'debora' | 'lora' | 'full' | 'head' | 'adalora';
export const TRAIN_METHODS: readonly TrainMethod[] = ['debora', 'lora', 'full', 'head', 'adalora'];

/** The lower-level (factor) optimiser. */
export interface InnerConfig {
  /** T_max: lower-level steps per outer step (default 4). Baselines take T_max + 1 steps per outer step. */
  steps?: number;
  /** D2 minibatch size (default 64). */
  batchSize?: number;
  optimizer?: 'adam' | 'adamw' | 'sgd';
  /** Learning rate (default 1e-2 for adapters, 1e-3 for full / head). */
  lr?: number;
  weightDecay?: number;
  /** SGD momentum (default 0.9 with 'sgd'). */
  momentum?: number;
  /** Clip the global gradient norm (default: off). */
  clipNorm?: number;
  /** Learning-rate schedule over the run: 'constant' (default) or 'cosine' with linear warm-up. */
  schedule?: 'constant' | 'cosine';
  /** Warm-up steps of the cosine schedule (default 0). */
  warmupSteps?: number;
}

/** Adapters (dEBORA and LoRA). */
export interface TrainerAdapterConfig {
  /** Layer names or patterns (see attachAdapters). */
  targets: string | RegExp | ReadonlyArray<string | RegExp>;
  /** Initial rank (dEBORA prunes from here; LoRA keeps it). */
  rank: number;
  /** Factor geometry (default: 'stiefel' for dEBORA, 'euclidean' for LoRA). */
  geometry?: Geometry;
  /** Initialisation (default: 'small' on a manifold, 'zero' for euclidean). */
  init?: AdapterInit;
  /** LoRA's fixed scale s_i (α/r; default 1). dEBORA's s starts from the Frank-Wolfe s0 instead. */
  scale?: number;
}

/** The whole trainer configuration. */
export interface TrainerConfig {
  method: TrainMethod;
  /** Seed of the split, the batch order and the adapter initialisation (default 0). */
  seed?: number;
  adapters?: TrainerAdapterConfig;
  /** The layer trained by 'head' (default: the last Linear layer). */
  head?: string;
  inner?: InnerConfig;
  /** D1 minibatch size of the hypergradient estimate (default 256). */
  upperBatchSize?: number;
  /** 'same' (default, from the measurements in docs/trainer.md): D1 = D2 = all the training data; 'halves': a random equal split. */
  split?: 'halves' | 'same';
  /** The Frank-Wolfe configuration of the outer loop (dEBORA only; see docs/frank-wolfe.md). */
  fw?: FrankWolfeConfig;
  /** Label smoothing of the cross-entropy (default 0). */
  labelSmoothing?: number;
}

/** Everything resolved, defaults filled in. */
export interface ResolvedTrainerConfig {
  method: TrainMethod;
  seed: number;
  adapters: (Required<Omit<TrainerAdapterConfig, 'init'>> & { init: AdapterInit | undefined }) | null;
  head: string | null;
  inner: Required<Omit<InnerConfig, 'momentum'>> & { momentum: number };
  upperBatchSize: number;
  split: 'halves' | 'same';
  fw: FrankWolfeConfig | null;
  labelSmoothing: number;
}

function fail(field: string, expected: string, received: unknown, fix: string): never {
  throw new DeboraError(
    `TrainerConfig: expected ${expected} for field '${field}', received ${describe(received)}. Fix: ${fix}`,
    'DEBORA_INVALID_CONFIG',
  );
}

function keys(field: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k))
      fail(`${field}${field ? '.' : ''}${k}`, `one of the fields ${allowed.join(', ')}`, k, `remove or rename '${k}'`);
  }
}

function intIn(field: string, v: unknown, min: number, max: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `an integer in [${min}, ${max}]`, v, fix);
  return v;
}

function numIn(field: string, v: unknown, min: number, max: number, fix: string, minOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (minOpen ? v <= min : v < min) || v > max) {
    fail(field, `a finite number ${minOpen ? '>' : '>='} ${min}${max === Infinity ? '' : ` and <= ${max}`}`, v, fix);
  }
  return v;
}

function choice<T extends string>(field: string, v: unknown, allowed: readonly T[], fix: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    fail(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v, fix);
  return v as T;
}

/** Validates a trainer configuration and fills in the defaults. */
export function validateTrainerConfig(config: unknown): ResolvedTrainerConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    fail(
      '',
      'an object { method, ... }',
      config,
      "pass e.g. { method: 'debora', adapters: { targets: /fc/, rank: 8 }, fw: { tau: 4, epsilon: 1e-3 } }",
    );
  }
  const c = config as TrainerConfig;
  keys('', c, ['method', 'seed', 'adapters', 'head', 'inner', 'upperBatchSize', 'split', 'fw', 'labelSmoothing']);
  const method = choice('method', c.method, TRAIN_METHODS, `use one of ${TRAIN_METHODS.join(', ')}`);
  if (method === 'adalora') {
    throw new DeboraError(
      "TrainerConfig: method 'adalora' (importance-score pruning with a cubic budget schedule) is not implemented yet; use 'debora', 'lora', 'full' or 'head'",
      'DEBORA_NOT_IMPLEMENTED',
    );
  }
  const seed = intIn('seed', c.seed ?? 0, 0, 0xffffffff, 'use a non-negative 32-bit integer');
  const usesAdapters = method === 'debora' || method === 'lora';
  let adapters: ResolvedTrainerConfig['adapters'] = null;
  if (usesAdapters) {
    const a = c.adapters;
    if (typeof a !== 'object' || a === null)
      fail(
        'adapters',
        'an object { targets, rank, ... }',
        a,
        `method '${method}' needs adapters, e.g. { targets: /^fc/, rank: 8 }`,
      );
    keys('adapters', a, ['targets', 'rank', 'geometry', 'init', 'scale']);
    if (a.targets === undefined)
      fail('adapters.targets', 'layer names or patterns', a.targets, 'e.g. /^fc/ or ["fc1", "fc2"]');
    const rank = intIn('adapters.rank', a.rank, 1, 4096, 'use an initial rank such as 8 or 16');
    const geometry = choice(
      'adapters.geometry',
      a.geometry ?? (method === 'debora' ? 'stiefel' : 'euclidean'),
      GEOMETRIES,
      "use 'stiefel' (dEBORA's default), 'oblique' or 'euclidean'",
    );
    const init =
      a.init === undefined
        ? undefined
        : choice('adapters.init', a.init, ADAPTER_INITS, "use 'zero' (euclidean only), 'small' or 'offset'");
    const scale = numIn('adapters.scale', a.scale ?? 1, 0, Infinity, 'use a positive scale (LoRA α/r)', true);
    adapters = { targets: a.targets, rank, geometry, init, scale };
  } else if (c.adapters !== undefined) {
    fail('adapters', `nothing for method '${method}'`, c.adapters, `remove 'adapters' or use method 'debora' / 'lora'`);
  }
  const head = method === 'head' ? (c.head ?? null) : null;
  if (c.head !== undefined && (typeof c.head !== 'string' || method !== 'head')) {
    fail(
      'head',
      method === 'head' ? 'a layer name' : `nothing for method '${method}'`,
      c.head,
      method === 'head' ? 'name the layer to train' : "remove 'head'",
    );
  }
  const i = c.inner ?? {};
  if (typeof i !== 'object' || i === null) fail('inner', 'an object', i, 'e.g. { steps: 4, lr: 1e-2 }');
  keys('inner', i, [
    'steps',
    'batchSize',
    'optimizer',
    'lr',
    'weightDecay',
    'momentum',
    'clipNorm',
    'schedule',
    'warmupSteps',
  ]);
  const optimizer = choice(
    'inner.optimizer',
    i.optimizer ?? 'adam',
    ['adam', 'adamw', 'sgd'] as const,
    "use 'adam', 'adamw' or 'sgd'",
  );
  const inner = {
    steps: intIn('inner.steps', i.steps ?? 4, 1, 10000, 'use T_max ≥ 1 (e.g. 4)'),
    batchSize: intIn('inner.batchSize', i.batchSize ?? 64, 1, 1 << 20, 'use a minibatch size such as 64'),
    optimizer,
    lr: numIn('inner.lr', i.lr ?? (usesAdapters ? 1e-2 : 1e-3), 0, 10, 'use a learning rate > 0', true),
    weightDecay: numIn('inner.weightDecay', i.weightDecay ?? 0, 0, 10, 'use a weight decay ≥ 0'),
    momentum: numIn(
      'inner.momentum',
      i.momentum ?? (optimizer === 'sgd' ? 0.9 : 0),
      0,
      0.999999,
      'use a momentum in [0, 1)',
    ),
    clipNorm:
      i.clipNorm === undefined
        ? Number.POSITIVE_INFINITY
        : numIn('inner.clipNorm', i.clipNorm, 0, Infinity, 'use a positive norm', true),
    schedule: choice(
      'inner.schedule',
      i.schedule ?? 'constant',
      ['constant', 'cosine'] as const,
      "use 'constant' or 'cosine'",
    ),
    warmupSteps: intIn('inner.warmupSteps', i.warmupSteps ?? 0, 0, 1e9, 'use a non-negative step count'),
  };
  if (optimizer !== 'sgd' && i.momentum !== undefined)
    fail('inner.momentum', `nothing for optimizer '${optimizer}'`, i.momentum, "remove it or use optimizer 'sgd'");
  const upperBatchSize = intIn(
    'upperBatchSize',
    c.upperBatchSize ?? 256,
    1,
    1 << 20,
    'use a D1 minibatch size such as 256',
  );
  const split = choice(
    'split',
    c.split ?? 'same',
    ['halves', 'same'] as const,
    "use 'halves' (D1, D2 a random equal split) or 'same' (D1 = D2)",
  );
  let fw: FrankWolfeConfig | null = null;
  if (method === 'debora') {
    if (c.fw === undefined)
      fail(
        'fw',
        'the Frank-Wolfe configuration { tau, epsilon, ... }',
        c.fw,
        'e.g. fw: { tau: 4, epsilon: 1e-3, truncateFrom: 20 }',
      );
    try {
      validateFrankWolfeConfig(c.fw);
    } catch (e) {
      const msg = (e as Error).message;
      throw new DeboraError(`TrainerConfig.fw: ${msg}`, 'DEBORA_INVALID_CONFIG');
    }
    fw = c.fw;
  } else if (c.fw !== undefined) {
    fail('fw', `nothing for method '${method}'`, c.fw, "remove 'fw' (only dEBORA runs Frank-Wolfe)");
  }
  const labelSmoothing = numIn('labelSmoothing', c.labelSmoothing ?? 0, 0, 0.999, 'use a value in [0, 1)');
  return { method, seed, adapters, head, inner, upperBatchSize, split, fw, labelSmoothing };
}
