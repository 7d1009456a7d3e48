/**
 * checkpoint.ts — the parts of a trainer checkpoint that do not need the Trainer's internals: the
 * configuration as JSON (RegExp targets encoded, Infinity left out) and back, a canonical JSON for
 * comparing configurations, the file layout constants and the error helper. The Trainer builds and
 * applies the state (Trainer.stateDict / loadStateDict / save / load / resume).
 * Tested in test/e2e/trainer-checkpoint.test.ts.
 *
 * File layout (one safetensors file, written atomically by writeSafetensors):
 *   `model.<name>`            every parameter and buffer of the model (base, factors, s), F32
 *   `optim.<param>.<buffer>`  the optimiser's per-parameter buffers (Adam moments…), F32
 *   `adalora.<param>.ipt|unc` the AdaLoRA importance EMAs, F32
 *   __metadata__: `format` = 'debora.trainer', `version` = '1', `state` = the JSON TrainerStateMeta
 *   (config, step, ranks, Frank-Wolfe state, optimiser meta, sampler and RNG states).
 */
import { DeboraError } from '../errors';
import type { ResolvedTrainerConfig, TrainerConfig } from './config';

export const CHECKPOINT_FORMAT = 'debora.trainer';
export const CHECKPOINT_VERSION = 1;

/** Throws the checkpoint error: what was expected for which field, what was found, and the fix. */
export function checkpointError(where: string, field: string, expected: string, received: string, fix = ''): never {
  throw new DeboraError(
    `${where}: expected ${expected} for '${field}', received ${received}${fix === '' ? '' : `. Fix: ${fix}`}; nothing was changed`,
    'DEBORA_INVALID_ARG',
  );
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function encodeTarget(t: string | RegExp): Json {
  return t instanceof RegExp ? { regexp: t.source, flags: t.flags } : t;
}

function decodeTarget(where: string, v: unknown): string | RegExp {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) {
    const o = v as { regexp?: unknown; flags?: unknown };
    if (typeof o.regexp === 'string' && typeof o.flags === 'string') {
      try {
        return new RegExp(o.regexp, o.flags);
      } catch {}
    }
  }
  return checkpointError(where, 'config.adapters.targets', 'a layer name or { regexp, flags }', JSON.stringify(v));
}

/**
 * A resolved configuration as the TrainerConfig that resolves to it again, JSON-safe: RegExp
 * targets become { regexp, flags }, defaults that are not JSON (clipNorm = ∞) are left out.
 */
export function encodeConfig(c: ResolvedTrainerConfig): Json {
  const out: { [k: string]: Json } = { method: c.method, seed: c.seed };
  if (c.adapters !== null) {
    const a = c.adapters;
    const targets = Array.isArray(a.targets)
      ? (a.targets as ReadonlyArray<string | RegExp>).map(encodeTarget)
      : encodeTarget(a.targets as string | RegExp);
    out.adapters = { targets, rank: a.rank, geometry: a.geometry, scale: a.scale };
    if (a.init !== undefined) out.adapters.init = a.init;
  }
  if (c.head !== null) out.head = c.head;
  const i = c.inner;
  const inner: { [k: string]: Json } = {
    steps: i.steps,
    batchSize: i.batchSize,
    optimizer: i.optimizer,
    lr: i.lr,
    weightDecay: i.weightDecay,
    schedule: i.schedule,
    warmupSteps: i.warmupSteps,
  };
  if (i.optimizer === 'sgd') inner.momentum = i.momentum;
  if (Number.isFinite(i.clipNorm)) inner.clipNorm = i.clipNorm;
  out.inner = inner;
  out.upperBatchSize = c.upperBatchSize;
  out.split = c.split;
  if (c.fw !== null) out.fw = JSON.parse(JSON.stringify(c.fw)) as Json;
  out.labelSmoothing = c.labelSmoothing;
  if (c.adalora !== null) {
    const a: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(c.adalora)) if (v !== null) a[k] = v as number;
    out.adalora = a;
  }
  return out;
}

/** The TrainerConfig a checkpoint's `config` describes (validated by the Trainer that uses it). */
export function decodeConfig(where: string, v: unknown): TrainerConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    checkpointError(where, 'config', 'an object', JSON.stringify(v));
  const c = JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  const a = c.adapters as Record<string, unknown> | undefined;
  if (a !== undefined && a !== null && typeof a === 'object') {
    a.targets = Array.isArray(a.targets)
      ? a.targets.map((t) => decodeTarget(where, t))
      : decodeTarget(where, a.targets);
  }
  return c as unknown as TrainerConfig;
}

/** JSON with object keys sorted at every level: equal configurations give equal strings. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The first path at which two JSON values differ (for an error that names the field), or null. */
export function firstDifference(a: unknown, b: unknown, path = 'config'): string | null {
  if (canonicalJson(a) === canonicalJson(b)) return null;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) {
      const d = firstDifference(ao[k], bo[k], `${path}.${k}`);
      if (d !== null) return d;
    }
  }
  return path;
}
