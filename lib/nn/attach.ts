/**
 * attach.ts — attaching CP adapters to the Linear and Conv2d layers of a model by name or
 * pattern (a validated config, PEFT-style: errors name the field and the fix), listing them,
 * and freezing base weights. All options are resolved before any layer changes, so a bad config
 * leaves the model untouched. Tested in test/native/nn-adapters.test.ts.
 */
import { DeboraError } from '../errors';
import { int } from '../validate';
import { type AdapterOptions, type CpAdapter, resolveAdapterOptions } from './adapter';
import { Conv2d } from './conv2d';
import { Linear } from './linear';
import type { Module } from './module';
import { Sequential } from './sequential';

/** Which layers get adapters, and with what options. */
export interface AttachConfig extends Omit<AdapterOptions, 'rank' | 'seed'> {
  /** Layer names (dotted for nested containers) or patterns matched against the full name. */
  targets: string | RegExp | ReadonlyArray<string | RegExp>;
  /** Initial rank of every adapter (overridable per layer). */
  rank: number;
  /** Per-layer options by layer name (each key must be a targeted layer). */
  overrides?: Readonly<Record<string, Partial<AdapterOptions>>>;
  /** Seed of the factor initialisation; layer k (in model order) uses seed + k (default 0). */
  seed?: number;
  /** Freeze every non-adapter parameter of the model (default true: the usual adapter setup). */
  freezeBase?: boolean;
}

/** Every module with its full dotted name, depth first, in model order. */
export function namedModules(model: Module, prefix = ''): Array<[string, Module]> {
  const out: Array<[string, Module]> = [];
  for (const [name, child] of model.children()) {
    const full = prefix + name;
    out.push([full, child], ...namedModules(child, `${full}.`));
  }
  return out;
}

function fail(field: string, expected: string, received: string, fix: string): never {
  throw new DeboraError(
    `attachAdapters: field '${field}' expected ${expected}, received ${received}. Fix: ${fix}`,
    'DEBORA_INVALID_CONFIG',
  );
}

/**
 * Attaches a CP adapter to every Linear / Conv2d layer whose name matches `targets` and returns
 * them by layer name. Throws DEBORA_INVALID_CONFIG (before changing anything) when a target
 * matches nothing, names a layer that cannot carry an adapter, or an option is invalid.
 */
export function attachAdapters(model: Module, config: AttachConfig): Map<string, CpAdapter> {
  if (typeof config !== 'object' || config === null)
    fail('config', 'an object', String(config), 'pass { targets, rank, ... }');
  const modules = namedModules(model);
  const adaptable = modules.filter(([, m]) => m instanceof Linear || m instanceof Conv2d) as Array<
    [string, Linear | Conv2d]
  >;
  const rawTargets = config.targets;
  const targets = Array.isArray(rawTargets) ? rawTargets : [rawTargets];
  if (targets.length === 0)
    fail(
      'targets',
      'at least one layer name or pattern',
      'an empty list',
      `use e.g. ${JSON.stringify(adaptable.map(([n]) => n))}`,
    );
  const chosen = new Set<string>();
  targets.forEach((t, i) => {
    if (typeof t === 'string') {
      const hit = modules.find(([n]) => n === t);
      if (hit === undefined) {
        fail(
          `targets[${i}]`,
          'the name of a layer',
          `'${t}'`,
          `adaptable layers are ${adaptable.map(([n]) => `'${n}'`).join(', ') || '(none)'}`,
        );
      }
      if (!(hit[1] instanceof Linear || hit[1] instanceof Conv2d)) {
        fail(
          `targets[${i}]`,
          'a Linear or Conv2d layer',
          `'${t}' (${hit[1].describe()})`,
          'target only Linear and Conv2d layers',
        );
      }
      chosen.add(t);
    } else if (t instanceof RegExp) {
      const hits = adaptable.filter(([n]) => t.test(n));
      if (hits.length === 0)
        fail(
          `targets[${i}]`,
          'a pattern matching at least one Linear or Conv2d layer',
          String(t),
          `adaptable layers are ${adaptable.map(([n]) => `'${n}'`).join(', ')}`,
        );
      for (const [n] of hits) chosen.add(n);
    } else {
      fail(`targets[${i}]`, 'a layer name or a RegExp', String(t), 'use a string or a RegExp');
    }
  });
  const overrides = config.overrides ?? {};
  for (const key of Object.keys(overrides)) {
    if (!chosen.has(key))
      fail(`overrides.${key}`, 'a targeted layer', `'${key}'`, `add '${key}' to targets or remove the override`);
  }
  const seed = int('attachAdapters', 'seed', config.seed ?? 0, 0, 0xffffffff);
  // Resolve every adapter's options first: nothing is attached if any is invalid.
  const plan: Array<[string, Linear | Conv2d, AdapterOptions]> = [];
  adaptable.forEach(([name, layer], k) => {
    if (!chosen.has(name)) return;
    if (layer.adapter !== null)
      fail(
        'targets',
        'layers without an adapter',
        `'${name}' already has one`,
        'detach it first or leave it out of targets',
      );
    const { targets: _t, overrides: _o, freezeBase: _f, ...common } = config;
    const opts: AdapterOptions = { ...common, seed: (seed + k) >>> 0, ...(overrides[name] ?? {}) };
    try {
      resolveAdapterOptions(`attachAdapters (layer '${name}')`, opts);
    } catch (e) {
      if (e instanceof DeboraError) throw new DeboraError(e.message, 'DEBORA_INVALID_CONFIG');
      throw e;
    }
    plan.push([name, layer, opts]);
  });
  const out = new Map<string, CpAdapter>();
  for (const [name, layer, opts] of plan) out.set(name, layer.attachAdapter(opts, `attachAdapters (layer '${name}')`));
  if (config.freezeBase ?? true) freezeBase(model);
  if (model instanceof Sequential) model.assignNames();
  return out;
}

/** Every adapter of the model by layer name, in model order. */
export function adaptersOf(model: Module): Map<string, CpAdapter> {
  const out = new Map<string, CpAdapter>();
  for (const [name, m] of namedModules(model)) {
    if ((m instanceof Linear || m instanceof Conv2d) && m.adapter !== null) out.set(name, m.adapter);
  }
  return out;
}

/** Freezes every parameter that is not part of an adapter. */
export function freezeBase(model: Module): void {
  for (const p of model.parameters())
    if (p.kind !== 'adapter-factor' && p.kind !== 'adapter-scale') p.requiresGrad = false;
}

/** Sets requiresGrad on every parameter whose full name matches `pattern` (names as in namedParameters). */
export function setTrainable(model: Module, pattern: string | RegExp, on: boolean): number {
  let n = 0;
  for (const [name, p] of model.namedParameters()) {
    const hit = typeof pattern === 'string' ? name === pattern || name.startsWith(`${pattern}.`) : pattern.test(name);
    if (hit) {
      p.requiresGrad = on;
      n++;
    }
  }
  if (n === 0) {
    throw new DeboraError(
      `setTrainable: expected a pattern matching at least one parameter for argument 'pattern', received ${String(pattern)}`,
      'DEBORA_INVALID_ARG',
    );
  }
  return n;
}
