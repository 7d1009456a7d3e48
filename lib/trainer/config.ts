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

/** Outer steps during which dEBORA's s stays at s0 when `fw.schedule` is not given (measured: docs/trainer.md). */
export const DEFAULT_FW_WARMUP = 16;

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
  /** Factor geometry (default: 'stiefel' for dEBORA, 'euclidean' for LoRA and AdaLoRA: measured in docs/trainer.md). */
  geometry?: Geometry;
  /** Initialisation (default: 'small' on a manifold, 'zero' for euclidean). */
  init?: AdapterInit;
  /**
   * LoRA's fixed scale s_i (α/r; default 1), AdaLoRA's initial s with init 'zero' / 'offset' (with
   * 'small' AdaLoRA starts at s = 0). dEBORA's s starts from the Frank-Wolfe s0 instead.
   */
  scale?: number;
}

/**
 * The AdaLoRA-style baseline (Zhang et al., ICLR 2023): importance scores per component, smoothed
 * (EMA of the sensitivity |w·∂w| times an EMA of its uncertainty), and a cubic schedule of the
 * total budget from the initial total rank down to the target; the least important components
 * (globally, across adapters) are pruned physically. Steps are outer steps of the trainer.
 */
export interface AdaLoraConfig {
  /** Final average rank per adapter (the total is round(targetRank × adapters)). Exactly one of targetRank / targetParams. */
  targetRank?: number;
  /** Final adapter parameter count Σ r·(Σ n_k + 1) (components chosen by score until the budget is full). */
  targetParams?: number;
  /** T: the planned outer steps the schedule spans (default: the Trainer's totalSteps argument). */
  totalSteps?: number;
  /** Outer steps at the initial budget before pruning starts (default 10% of T). */
  tInit?: number;
  /** Last outer steps at the target budget (default 30% of T). */
  tFinal?: number;
  /** Prune every deltaT outer steps while the budget falls (default 1). */
  deltaT?: number;
  /** EMA factor of the sensitivity (default 0.85, as AdaLoRA). */
  beta1?: number;
  /** EMA factor of the uncertainty (default 0.85, as AdaLoRA). */
  beta2?: number;
  /** Components every adapter keeps (default 1; 0 lets an adapter vanish, as AdaLoRA allows). */
  minRank?: number;
}

/** The AdaLoRA settings after validation; null fields are resolved by the Trainer from T. */
export interface ResolvedAdaLoraConfig {
  targetRank: number | null;
  targetParams: number | null;
  totalSteps: number | null;
  tInit: number | null;
  tFinal: number | null;
  deltaT: number;
  beta1: number;
  beta2: number;
  minRank: number;
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
  /**
   * The Frank-Wolfe configuration of the outer loop (dEBORA only; see docs/frank-wolfe.md). Without
   * `schedule` the trainer uses { warmup: 16 } (s frozen at s0 for 16 outer steps); `null` for none.
   */
  fw?: FrankWolfeConfig;
  /**
   * How `fw.tau` is read (dEBORA only). 'absolute' (default): as given. 'relative': `fw.tau` is a
   * number c and every adapter gets its own simplex (scope 'adapter') with budget
   * τ_l = c·‖W0_l‖_F, the Frobenius norm of its layer's pretrained weight — so a Frank-Wolfe step
   * moves each layer by an amount on the scale of that layer (docs/trainer.md: a global budget let
   * one step put more weight on a conv component than the whole conv kernel had).
   */
  budget?: 'absolute' | 'relative';
  /** Label smoothing of the cross-entropy (default 0). */
  labelSmoothing?: number;
  /** The AdaLoRA-style baseline's schedule and scores (method 'adalora' only; required there). */
  adalora?: AdaLoraConfig;
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
  budget: 'absolute' | 'relative';
  labelSmoothing: number;
  adalora: ResolvedAdaLoraConfig | null;
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
  keys('', c, [
    'method',
    'seed',
    'adapters',
    'head',
    'inner',
    'upperBatchSize',
    'split',
    'budget',
    'fw',
    'labelSmoothing',
    'adalora',
  ]);
  const method = choice('method', c.method, TRAIN_METHODS, `use one of ${TRAIN_METHODS.join(', ')}`);
  const seed = intIn('seed', c.seed ?? 0, 0, 0xffffffff, 'use a non-negative 32-bit integer');
  const usesAdapters = method === 'debora' || method === 'lora' || method === 'adalora';
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
      "use 'stiefel' (dEBORA's default), 'oblique' or 'euclidean' (LoRA's and AdaLoRA's default)",
    );
    const init =
      a.init === undefined
        ? undefined
        : choice('adapters.init', a.init, ADAPTER_INITS, "use 'zero' (euclidean only), 'small' or 'offset'");
    const scale = numIn('adapters.scale', a.scale ?? 1, 0, Infinity, 'use a positive scale (LoRA α/r)', true);
    adapters = { targets: a.targets, rank, geometry, init, scale };
  } else if (c.adapters !== undefined) {
    fail(
      'adapters',
      `nothing for method '${method}'`,
      c.adapters,
      `remove 'adapters' or use method 'debora' / 'lora' / 'adalora'`,
    );
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
    // Without a schedule of its own, Frank-Wolfe keeps s at s0 for the first outer steps: the
    // cold-start G̃ is anti-aligned with the exact hypergradient (docs/hypergradient.md), and a
    // 16-step warm-up was better on 6 of 6 seeds of the UCI transfer (docs/trainer.md).
    // `schedule: null` asks for none.
    fw = c.fw.schedule === undefined ? { ...c.fw, schedule: { warmup: DEFAULT_FW_WARMUP } } : c.fw;
  } else if (c.fw !== undefined) {
    fail('fw', `nothing for method '${method}'`, c.fw, "remove 'fw' (only dEBORA runs Frank-Wolfe)");
  }
  let budget: ResolvedTrainerConfig['budget'] = 'absolute';
  if (c.budget !== undefined) {
    if (method !== 'debora') fail('budget', `nothing for method '${method}'`, c.budget, "remove 'budget'");
    budget = choice('budget', c.budget, ['absolute', 'relative'] as const, "use 'absolute' or 'relative'");
    const f = fw as FrankWolfeConfig;
    if (budget === 'relative' && typeof f.tau !== 'number')
      fail('fw.tau', "one number c (with budget 'relative', τ_l = c·‖W0_l‖_F)", f.tau, 'e.g. fw: { tau: 2, ... }');
    if (budget === 'relative' && f.scope !== undefined && f.scope !== 'adapter')
      fail(
        'fw.scope',
        "'adapter' or nothing (budget 'relative' gives every adapter its own simplex)",
        f.scope,
        "remove 'fw.scope'",
      );
  }
  const labelSmoothing = numIn('labelSmoothing', c.labelSmoothing ?? 0, 0, 0.999, 'use a value in [0, 1)');
  let adalora: ResolvedAdaLoraConfig | null = null;
  if (method === 'adalora') {
    adalora = validateAdaLora(c.adalora, (adapters as NonNullable<ResolvedTrainerConfig['adapters']>).rank);
  } else if (c.adalora !== undefined) {
    fail('adalora', `nothing for method '${method}'`, c.adalora, "remove 'adalora' or use method 'adalora'");
  }
  return { method, seed, adapters, head, inner, upperBatchSize, split, fw, budget, labelSmoothing, adalora };
}

function validateAdaLora(v: unknown, rank: number): ResolvedAdaLoraConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(
      'adalora',
      'an object { targetRank | targetParams, ... }',
      v,
      "method 'adalora' needs e.g. adalora: { targetRank: 4 }",
    );
  const a = v as AdaLoraConfig;
  keys('adalora', a, [
    'targetRank',
    'targetParams',
    'totalSteps',
    'tInit',
    'tFinal',
    'deltaT',
    'beta1',
    'beta2',
    'minRank',
  ]);
  if ((a.targetRank === undefined) === (a.targetParams === undefined)) {
    fail(
      'adalora.targetRank',
      'exactly one of targetRank and targetParams',
      a.targetRank === undefined ? 'neither' : 'both',
      'give the final average rank per adapter (targetRank) or the final adapter parameter count (targetParams)',
    );
  }
  const targetRank =
    a.targetRank === undefined
      ? null
      : numIn('adalora.targetRank', a.targetRank, 0, rank, `use an average rank in (0, ${rank}] (adapters.rank)`, true);
  const targetParams =
    a.targetParams === undefined
      ? null
      : intIn('adalora.targetParams', a.targetParams, 1, 2 ** 52, 'use a positive parameter count');
  const opt = (field: string, x: unknown, min: number, fix: string): number | null =>
    x === undefined ? null : intIn(`adalora.${field}`, x, min, 1e9, fix);
  const minRank = intIn('adalora.minRank', a.minRank ?? 1, 0, rank, `use a rank in [0, ${rank}]`);
  if (targetRank !== null && targetRank < minRank)
    fail(
      'adalora.targetRank',
      `a rank >= adalora.minRank (${minRank})`,
      targetRank,
      'raise targetRank or lower minRank',
    );
  return {
    targetRank,
    targetParams,
    totalSteps: opt('totalSteps', a.totalSteps, 1, 'use the planned number of outer steps'),
    tInit: opt('tInit', a.tInit, 0, 'use a non-negative step count'),
    tFinal: opt('tFinal', a.tFinal, 0, 'use a non-negative step count'),
    deltaT: intIn('adalora.deltaT', a.deltaT ?? 1, 1, 1e9, 'use a positive step interval'),
    beta1: numIn('adalora.beta1', a.beta1 ?? 0.85, 0, 0.999999, 'use an EMA factor in [0, 1)'),
    beta2: numIn('adalora.beta2', a.beta2 ?? 0.85, 0, 0.999999, 'use an EMA factor in [0, 1)'),
    minRank,
  };
}
