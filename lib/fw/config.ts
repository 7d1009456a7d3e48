/**
 * fw/config.ts — the Frank-Wolfe configuration as validated data: defaults, and errors
 * (DEBORA_INVALID_CONFIG) that name the field and the fix. Checks that need the adapters (τ per
 * block, ε·r against τ) run once the layout is known. Tested in test/unit/fw-config.test.ts.
 */
import { DeboraError } from '../errors';
import { describe } from '../validate';
import type { Layout } from './blocks';
import type { BudgetScheduleSpec, DecayShape, NormalizedSchedule } from './schedule';
import { STEP_SIZE_RULES, type StepSizeSpec } from './step-size';
import type { Scope, Variant } from './types';

/** Face identification options. */
export interface FaceConfig {
  /** Consecutive update steps with an unchanged support after which the face counts as identified (default 10). */
  readonly stableSteps?: number;
  /** Freeze s as soon as the face is identified (default false). */
  readonly freezeOnIdentify?: boolean;
  /**
   * Only update steps whose FW gap is at most this count toward stability (default null: all do).
   * A support that merely has not changed yet, far from stationarity, is then not reported.
   */
  readonly gapBelow?: number | null;
}

/**
 * Configuration of the Frank-Wolfe optimiser on S = ε·1 + τ·Δ (ALGORITHM.md section 4).
 * Only `tau` and `epsilon` are required.
 */
export interface FrankWolfeConfig {
  /**
   * Budget τ > 0 of each simplex: the mass Σ(s_i − ε) its weights may hold. Scope 'global': the
   * budget shared by all adapters; 'adapter': each adapter's own budget; 'group': each group's.
   * A number gives every block the same τ; a record gives one per block name.
   */
  readonly tau: number | Readonly<Record<string, number>>;
  /** Floor ε > 0 of every weight (keeps 1/s finite); must satisfy ε·r < τ in every block. */
  readonly epsilon: number;
  /** Gap precision p̃ > 0: a block whose FW gap falls to p̃ stops moving (default 1e-6). */
  readonly gapTol?: number;
  /** Simplex scope (default 'global'). */
  readonly scope?: Scope;
  /** Frank-Wolfe variant (default 'away'). */
  readonly variant?: Variant;
  /**
   * Step-size rule (default { rule: 'open-loop', ell: 2, offset: 6 }, i.e. α = 2/(k + 8): measured in
   * test/convergence/fw-step-rules.test.ts, see docs/frank-wolfe.md).
   */
  readonly stepSize?: StepSizeSpec;
  /** First step n0 after which truncation may remove components (default null: never). */
  readonly truncateFrom?: number | null;
  /** Truncation keeps at least this many components per adapter (default 1). */
  readonly minRank?: number;
  /**
   * A component counts as active when s_i − ε > supportTol·τ (default 1e-12): the rounding
   * allowance of the support, of face identification and of truncation.
   */
  readonly supportTol?: number;
  readonly face?: FaceConfig;
  /** Budget schedule (default: constant τ). */
  readonly schedule?: BudgetScheduleSpec | null;
}

/** A configuration with every default filled in; JSON-serialisable. */
export interface NormalizedFrankWolfeConfig {
  readonly tau: number | Readonly<Record<string, number>>;
  readonly epsilon: number;
  readonly gapTol: number;
  readonly scope: Scope;
  readonly variant: Variant;
  readonly stepSize: StepSizeSpec;
  readonly truncateFrom: number | null;
  readonly minRank: number;
  readonly supportTol: number;
  readonly face: { readonly stableSteps: number; readonly freezeOnIdentify: boolean; readonly gapBelow: number | null };
  readonly schedule: NormalizedSchedule;
}

const WHERE = 'FrankWolfeConfig';
const CONFIG_KEYS = [
  'tau',
  'epsilon',
  'gapTol',
  'scope',
  'variant',
  'stepSize',
  'truncateFrom',
  'minRank',
  'supportTol',
  'face',
  'schedule',
] as const;

/** Throws DEBORA_INVALID_CONFIG in the boundary message format, followed by the fix. */
export function configError(field: string, expected: string, received: string, fix: string): never {
  throw new DeboraError(
    `${WHERE}: expected ${expected} for argument '${field}', received ${received}. Fix: ${fix}`,
    'DEBORA_INVALID_CONFIG',
  );
}

function checkKeys(field: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      configError(
        field === '' ? k : `${field}.${k}`,
        'no such field',
        describe((obj as Record<string, unknown>)[k]),
        `remove it; the known fields${field === '' ? '' : ` of ${field}`} are ${allowed.join(', ')}`,
      );
    }
  }
}

function positive(field: string, v: unknown, fix: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    configError(field, 'a finite number > 0', describe(v), fix);
  return v;
}

function integer(field: string, v: unknown, min: number, fix: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    configError(field, `an integer >= ${min}`, describe(v), fix);
  return v;
}

function choice<T extends string>(field: string, v: unknown, allowed: readonly T[], fix: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    configError(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, describe(v), fix);
  }
  return v as T;
}

function budget(field: string, v: unknown, fix: string): number | Readonly<Record<string, number>> {
  if (typeof v === 'number') return positive(field, v, fix);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    configError(field, 'a finite number > 0 or a record of them by block name', describe(v), fix);
  }
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) out[k] = positive(`${field}.${k}`, x, fix);
  return out;
}

function validateStepSize(v: unknown): StepSizeSpec {
  const field = 'stepSize';
  if (typeof v !== 'object' || v === null) {
    configError(field, 'an object { rule, ... }', describe(v), "e.g. stepSize: { rule: 'adaptive' }");
  }
  const o = v as Record<string, unknown>;
  const rule = choice(`${field}.rule`, o.rule, STEP_SIZE_RULES, 'pick one of the step-size rules');
  switch (rule) {
    case 'short':
      checkKeys(field, o, ['rule', 'M']);
      return {
        rule,
        M: positive(
          `${field}.M`,
          o.M,
          "give the Lipschitz constant of the gradient (or an upper bound), or use { rule: 'adaptive' } to estimate it",
        ),
      };
    case 'adaptive': {
      checkKeys(field, o, ['rule', 'M0', 'eta', 'growth', 'maxBacktracks']);
      const out: { rule: 'adaptive'; M0?: number; eta?: number; growth?: number; maxBacktracks?: number } = {
        rule,
        M0: o.M0 === undefined ? 1 : positive(`${field}.M0`, o.M0, 'give a first guess of M > 0 (default 1)'),
        eta: 0.9,
        growth: 2,
        maxBacktracks: 40,
      };
      if (o.eta !== undefined) {
        const eta = o.eta;
        if (typeof eta !== 'number' || !Number.isFinite(eta) || eta <= 0 || eta > 1) {
          configError(`${field}.eta`, 'a finite number > 0 and <= 1', describe(eta), 'use 0.9 (Pedregosa et al.)');
        }
        out.eta = eta;
      }
      if (o.growth !== undefined) {
        const g = o.growth;
        if (typeof g !== 'number' || !Number.isFinite(g) || g <= 1) {
          configError(`${field}.growth`, 'a finite number > 1', describe(g), 'use 2 (Pedregosa et al.)');
        }
        out.growth = g;
      }
      if (o.maxBacktracks !== undefined) {
        out.maxBacktracks = integer(`${field}.maxBacktracks`, o.maxBacktracks, 1, 'use e.g. 40');
      }
      return out;
    }
    case 'open-loop':
      checkKeys(field, o, ['rule', 'ell', 'offset']);
      return {
        rule,
        ell: o.ell === undefined ? 2 : positive(`${field}.ell`, o.ell, 'use 2 for the classic 2/(k+2)'),
        offset:
          o.offset === undefined
            ? 0
            : integer(`${field}.offset`, o.offset, 0, 'give k₀ ≥ 0 (the first step is ℓ/(k₀ + ℓ))'),
      };
    case 'constant': {
      checkKeys(field, o, ['rule', 'alpha']);
      const a = o.alpha;
      if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0 || a > 1) {
        configError(`${field}.alpha`, 'a finite number > 0 and <= 1', describe(a), 'give the constant step, e.g. 0.1');
      }
      return { rule, alpha: a };
    }
  }
}

function validateSchedule(v: unknown, tau: number | Readonly<Record<string, number>>): NormalizedSchedule {
  const none: NormalizedSchedule = { warmup: 0, decaySteps: 0, tauEnd: null, shape: 'cubic', freezeAt: null };
  if (v === undefined || v === null) return none;
  if (typeof v !== 'object' || Array.isArray(v)) {
    configError(
      'schedule',
      'an object { warmup?, decaySteps?, tauEnd?, shape?, freezeAt? } or null',
      describe(v),
      'omit it for a constant budget',
    );
  }
  const o = v as Record<string, unknown>;
  checkKeys('schedule', o, ['warmup', 'decaySteps', 'tauEnd', 'shape', 'freezeAt']);
  const warmup =
    o.warmup === undefined ? 0 : integer('schedule.warmup', o.warmup, 0, 'give the number of steps s stays at s0');
  const decaySteps =
    o.decaySteps === undefined
      ? 0
      : integer('schedule.decaySteps', o.decaySteps, 0, 'give the number of steps over which tau falls to tauEnd');
  const shape: DecayShape =
    o.shape === undefined
      ? 'cubic'
      : choice('schedule.shape', o.shape, ['linear', 'cubic'] as const, "use 'cubic' (AdaLoRA) or 'linear'");
  const tauEnd =
    o.tauEnd === undefined || o.tauEnd === null
      ? null
      : budget('schedule.tauEnd', o.tauEnd, 'give the final budget, at most tau, in the shape of tau');
  const freezeAt =
    o.freezeAt === undefined || o.freezeAt === null
      ? null
      : integer('schedule.freezeAt', o.freezeAt, 0, 'give the step from which s is frozen, or null');
  if (tauEnd !== null) {
    if (typeof tau === 'number' && typeof tauEnd === 'number') {
      if (tauEnd > tau) {
        configError(
          'schedule.tauEnd',
          `a budget <= tau (= ${tau}); the schedule only decreases the budget`,
          String(tauEnd),
          'lower schedule.tauEnd, or start from a larger tau',
        );
      }
    } else if (typeof tau !== typeof tauEnd) {
      configError(
        'schedule.tauEnd',
        `the same shape as tau (${typeof tau === 'number' ? 'a number' : 'a record by block name'})`,
        describe(tauEnd),
        'give tauEnd as a number when tau is a number, and as a record with the same keys when tau is a record',
      );
    }
    const differs = typeof tauEnd === 'number' ? tauEnd !== tau : true;
    if (decaySteps === 0 && differs) {
      configError(
        'schedule.decaySteps',
        'an integer >= 1 when schedule.tauEnd differs from tau',
        '0',
        'set schedule.decaySteps to the length of the decrease, or drop schedule.tauEnd',
      );
    }
  } else if (decaySteps > 0) {
    configError(
      'schedule.tauEnd',
      `a final budget (schedule.decaySteps is ${decaySteps})`,
      'undefined',
      'give schedule.tauEnd (< tau), or set schedule.decaySteps to 0',
    );
  }
  if (freezeAt !== null && freezeAt < warmup + decaySteps) {
    configError(
      'schedule.freezeAt',
      `a step >= schedule.warmup + schedule.decaySteps (= ${warmup + decaySteps}): s cannot freeze before the budget stops falling`,
      String(freezeAt),
      `set schedule.freezeAt to ${warmup + decaySteps} or later, or to null`,
    );
  }
  return { warmup, decaySteps, tauEnd, shape, freezeAt };
}

/**
 * Validates a configuration and fills in the defaults. Throws DeboraError 'DEBORA_INVALID_CONFIG'
 * naming the field and the fix. Does not know the adapters yet: see `checkConfigForLayout`.
 */
export function validateFrankWolfeConfig(config: unknown): NormalizedFrankWolfeConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    configError('config', 'an object { tau, epsilon, ... }', describe(config), 'pass at least { tau, epsilon }');
  }
  const c = config as Record<string, unknown>;
  checkKeys('', c, CONFIG_KEYS);
  const tau = budget(
    'tau',
    c.tau,
    'set tau to the budget of each simplex, the mass Σ(s_i − ε) its weights may hold (e.g. the target total rank)',
  );
  const epsilon = positive('epsilon', c.epsilon, 'set epsilon to a small floor for every weight, e.g. 1e-4');
  const gapTol =
    c.gapTol === undefined
      ? 1e-6
      : positive('gapTol', c.gapTol, 'set gapTol (the paper’s p̃) to the FW gap at which s stops moving, e.g. 1e-6');
  const scope =
    c.scope === undefined
      ? 'global'
      : choice(
          'scope',
          c.scope,
          ['global', 'adapter', 'group'] as const,
          "use 'global' (the budget flows between layers)",
        );
  const variant =
    c.variant === undefined
      ? 'away'
      : choice('variant', c.variant, ['away', 'fw', 'pairwise'] as const, "use 'away' (the paper's method)");
  const stepSize: StepSizeSpec =
    c.stepSize === undefined ? { rule: 'open-loop', ell: 2, offset: 6 } : validateStepSize(c.stepSize);
  const truncateFrom =
    c.truncateFrom === undefined || c.truncateFrom === null
      ? null
      : integer(
          'truncateFrom',
          c.truncateFrom,
          0,
          'set truncateFrom (the paper’s n0) to the first step after which components at ε may be removed, or null',
        );
  const minRank =
    c.minRank === undefined ? 1 : integer('minRank', c.minRank, 1, 'keep at least one component per adapter');
  let supportTol = 1e-12;
  if (c.supportTol !== undefined) {
    const t = c.supportTol;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1e-3) {
      configError(
        'supportTol',
        'a finite number >= 0 and <= 0.001',
        describe(t),
        'use the default 1e-12 (rounding only)',
      );
    }
    supportTol = t;
  }
  let stableSteps = 10;
  let freezeOnIdentify = false;
  let gapBelow: number | null = null;
  if (c.face !== undefined) {
    if (typeof c.face !== 'object' || c.face === null) {
      configError(
        'face',
        'an object { stableSteps?, freezeOnIdentify? }',
        describe(c.face),
        'omit it for the defaults',
      );
    }
    const f = c.face as Record<string, unknown>;
    checkKeys('face', f, ['stableSteps', 'freezeOnIdentify', 'gapBelow']);
    if (f.stableSteps !== undefined) {
      stableSteps = integer(
        'face.stableSteps',
        f.stableSteps,
        1,
        'give the number of steps the support must hold, e.g. 10',
      );
    }
    if (f.freezeOnIdentify !== undefined) {
      if (typeof f.freezeOnIdentify !== 'boolean') {
        configError('face.freezeOnIdentify', 'a boolean', describe(f.freezeOnIdentify), 'use true or false');
      }
      freezeOnIdentify = f.freezeOnIdentify;
    }
    if (f.gapBelow !== undefined && f.gapBelow !== null) {
      gapBelow = positive('face.gapBelow', f.gapBelow, 'give the FW gap below which stable steps count, or null');
    }
  }
  const schedule = validateSchedule(c.schedule, tau);
  return {
    tau,
    epsilon,
    gapTol,
    scope,
    variant,
    stepSize,
    truncateFrom,
    minRank,
    supportTol,
    face: { stableSteps, freezeOnIdentify, gapBelow },
    schedule,
  };
}

/** A per-block budget (number or record) resolved to one value per block, checking the keys. */
function perBlock(field: string, v: number | Readonly<Record<string, number>>, layout: Layout): number[] {
  const names = layout.blocks.map((b) => b.name);
  if (typeof v === 'number') return names.map(() => v);
  for (const k of Object.keys(v)) {
    if (!names.includes(k)) {
      configError(
        `${field}.${k}`,
        `a block name (blocks under scope '${layout.scope}': ${names.join(', ')})`,
        `'${k}'`,
        `remove ${field}.${k} or rename it to a block`,
      );
    }
  }
  return names.map((name) => {
    const x = v[name];
    if (x === undefined) {
      configError(
        `${field}.${name}`,
        'a finite number > 0 for every block',
        'undefined',
        `add ${field}.${name}, or give ${field} as one number for all blocks`,
      );
    }
    return x;
  });
}

/**
 * Resolves τ (start and end of the schedule) per block and checks what needs the layout:
 * every block has a budget, tauEnd ≤ tau per block, and ε·r < τ_end (the floor ε·1 must not hold
 * more mass than the budget; beyond that the budget no longer constrains anything that matters).
 */
export function checkConfigForLayout(
  cfg: NormalizedFrankWolfeConfig,
  layout: Layout,
): { tau0: number[]; tauEnd: number[] } {
  const tau0 = perBlock('tau', cfg.tau, layout);
  const tauEnd = cfg.schedule.tauEnd === null ? tau0.slice() : perBlock('schedule.tauEnd', cfg.schedule.tauEnd, layout);
  layout.blocks.forEach((b, i) => {
    const t0 = tau0[i] as number;
    const t1 = tauEnd[i] as number;
    if (t1 > t0) {
      configError(
        `schedule.tauEnd.${b.name}`,
        `a budget <= tau for block '${b.name}' (= ${t0})`,
        String(t1),
        'lower schedule.tauEnd, or raise tau',
      );
    }
    const floor = cfg.epsilon * b.rank;
    if (floor >= t1) {
      configError(
        'epsilon',
        `epsilon·r < tau for block '${b.name}' (r = ${b.rank}, tau = ${t1}${t1 !== t0 ? ' at the end of the schedule' : ''})`,
        `epsilon = ${cfg.epsilon} (epsilon·r = ${floor})`,
        `lower epsilon below ${t1 / b.rank} (e.g. ${(t1 / b.rank / 100).toPrecision(2)}), or raise tau`,
      );
    }
  });
  if (cfg.schedule.decaySteps > 0 && tauEnd.every((t, i) => t === tau0[i])) {
    configError(
      'schedule.tauEnd',
      'a budget below tau in at least one block (schedule.decaySteps > 0)',
      'tauEnd equal to tau everywhere',
      'lower schedule.tauEnd, or set schedule.decaySteps to 0',
    );
  }
  return { tau0, tauEnd };
}
