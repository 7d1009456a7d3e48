/**
 * optim/optimizer.ts — the small `Optimizer` interface and the base class the gradient optimisers
 * (SGD, Adam, AdamW) share: parameter groups with per-group settings, an lr schedule, all-or-nothing
 * steps (every gradient is checked before any parameter moves), per-parameter state keyed by the
 * Parameter object (so it survives `Parameter.remap` through `remap`), and checkpointable state.
 * Tested in test/unit/optim-base.test.ts (and through optim-sgd / optim-adam).
 */
import { DeboraError } from '../errors';
import { Parameter } from '../nn/parameter';
import { describe, f32, finite, int, invalid } from '../validate';
import { checkKeys, optimConfigError } from './config';
import { type LrSchedule, lrConstant } from './schedule';

/** A pure function giving the new buffer of a parameter from the old (e.g. keep some columns). */
export type BufferMap = (buf: Float32Array) => Float32Array;

/** Settings every optimiser has in each group. */
export interface GroupHyper {
  /** Base learning rate (> 0); the schedule multiplies it. */
  readonly lr: number;
  /** Weight decay (≥ 0); coupled (L2 in the gradient) or decoupled depending on the optimiser. */
  readonly weightDecay: number;
}

/** Parameters sharing settings; any setting given here overrides the optimiser's default. */
export type ParamGroup<O extends object> = { readonly params: readonly Parameter[] } & Partial<O>;

/** What an optimiser holds for one parameter. */
export interface ParamState {
  /** Steps this parameter has taken (counted only when it was trainable; Adam's bias correction uses it). */
  step: number;
  /** Named buffers (momentum, moments…), each as long as the parameter. */
  readonly buffers: Record<string, Float32Array>;
}

/** The JSON-friendly half of a state dict. */
export interface OptimizerStateMeta {
  /** Version of this layout. */
  readonly format: 1;
  /** The optimiser class ('SGD', 'Adam', 'AdamW'); loading into another class is refused. */
  readonly optimizer: string;
  /**
   * Steps taken: the schedule's position. The schedule itself is code, not state: build the
   * optimiser with the same schedule before loading, and it resumes where it was.
   */
  readonly stepCount: number;
  /** Each group's parameter names and resolved settings, in group order. */
  readonly groups: ReadonlyArray<{
    readonly params: readonly string[];
    readonly hyper: Readonly<Record<string, unknown>>;
  }>;
  /** Per-parameter step counts by parameter name, for the parameters that have state. */
  readonly paramSteps: Readonly<Record<string, number>>;
}

/**
 * An optimiser's state for a checkpoint: JSON metadata plus Float32Array buffers keyed by parameter
 * name, then buffer name (e.g. `buffers['fc1.weight'].expAvg`). Buffers are copies.
 */
export interface OptimizerStateDict {
  readonly meta: OptimizerStateMeta;
  readonly buffers: Readonly<Record<string, Readonly<Record<string, Float32Array>>>>;
}

/**
 * The one interface of the gradient optimisers. `step` reads each trainable parameter's `grad`
 * and updates its `data` in place; it is all-or-nothing.
 */
export interface Optimizer<O extends object = object> {
  /** Successful `step()` calls so far (the schedule's step index for the next step). */
  readonly stepCount: number;
  /** Number of parameter groups. */
  readonly groupCount: number;
  /**
   * One update of every parameter with `requiresGrad`. Throws DEBORA_NON_FINITE naming the
   * parameter if any gradient holds NaN/±Inf, and DEBORA_SHAPE_MISMATCH if a gradient or state
   * buffer no longer matches its parameter — in both cases before anything is changed.
   */
  step(): void;
  /** Sets every gradient of every group to zero. */
  zeroGrad(): void;
  /** The lr the next step will use in group `group`: base lr × schedule(stepCount). */
  lr(group?: number): number;
  /**
   * Applies `map` to every state buffer held for `param` (e.g. Adam's m and v), so the state stays
   * aligned when `param.remap(map, …)` deletes entries; call it just before or just after that.
   * A parameter without state here (never stepped, or not held) is left alone, so one call can go
   * to every state holder. Nothing changes when a mapped buffer has the wrong length.
   */
  remap(param: Parameter, map: BufferMap): void;
  /** Adds a group of new parameters (with optional setting overrides); returns its index. */
  addParams(group: readonly Parameter[] | ParamGroup<O>): number;
  /** Forgets a parameter and its state; false when it was not held. */
  removeParam(param: Parameter): boolean;
  /** A snapshot of the state, for checkpoints. */
  stateDict(): OptimizerStateDict;
  /** Restores a snapshot; validated completely before anything changes. */
  loadStateDict(state: OptimizerStateDict): void;
}

/** Options every optimiser constructor accepts besides its settings. */
export interface ScheduleOption {
  /** Learning-rate multiplier by step (default: constant 1). */
  readonly schedule?: LrSchedule;
}

interface Group<H> {
  readonly params: Parameter[];
  hyper: H;
}

/** Sums in float64: a float32 array's sum cannot overflow there, so it is finite iff every element is. */
function firstNonFinite(a: Float32Array): number {
  let s = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) s += a[i] as number;
  if (Number.isFinite(s)) return -1;
  const finite = Number.isFinite; // a local binding: no global lookup per element (slow under jest, jestjs/jest#15502)
  for (let i = 0; i < n; i++) if (!finite(a[i] as number)) return i;
  return -1;
}

/**
 * Base of the gradient optimisers. Subclasses give their setting keys, validate a group's settings
 * (`resolveHyper`), name the state buffers a group needs (`bufferNames`) and update one parameter
 * (`update`), which runs only after every parameter passed the checks.
 */
export abstract class BaseOptimizer<H extends GroupHyper, O extends object> implements Optimizer<O> {
  /** The class name used in messages and state dicts. */
  readonly name: string;
  /** Learning-rate multiplier by step. */
  readonly schedule: LrSchedule;
  private readonly groups: Group<H>[] = [];
  private readonly defaults: H;
  private readonly keys: readonly string[];
  private readonly owner = new Map<Parameter, Group<H>>();
  private readonly state = new Map<Parameter, ParamState>();
  private steps = 0;

  protected constructor(
    name: string,
    keys: readonly string[],
    params: readonly Parameter[] | readonly ParamGroup<O>[],
    options: object | undefined,
    presets: object = {},
  ) {
    this.name = name;
    this.keys = keys;
    const opts = (options ?? {}) as Record<string, unknown>;
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
      optimConfigError(
        name,
        'options',
        'an object of settings',
        describe(options),
        `e.g. new ${name}(params, { lr: 1e-3 })`,
      );
    }
    checkKeys(name, '', opts, [...keys, 'schedule']);
    const schedule = opts.schedule === undefined ? lrConstant() : opts.schedule;
    if (typeof schedule !== 'function') {
      optimConfigError(
        name,
        'schedule',
        'a function step ↦ factor',
        describe(schedule),
        'use lrConstant(), lrLinearWarmup(n) or lrCosine({...})',
      );
    }
    this.schedule = schedule as LrSchedule;
    // Presets are a subclass's own defaults (AdamW's weight decay), applied before the user's.
    const settings: Record<string, unknown> = { ...presets };
    for (const k of keys) if (opts[k] !== undefined) settings[k] = opts[k];
    this.defaults = this.resolveHyper(name, '', settings);

    if (!Array.isArray(params) || params.length === 0) {
      invalid(name, 'params', 'a non-empty array of Parameters or of groups { params, ... }', describe(params));
    }
    const groups: Group<H>[] = [];
    if (params.every((p) => p instanceof Parameter)) {
      groups.push(this.makeGroup(name, 'params', params as readonly Parameter[], {}));
    } else {
      params.forEach((g, i) => {
        if (g instanceof Parameter) {
          invalid(name, `params[${i}]`, 'a group { params, ... } like the other entries', `Parameter '${g.name}'`);
        }
        groups.push(this.parseGroup(name, `paramGroups[${i}]`, g));
      });
    }
    this.adopt(name, groups);
  }

  /** Validates a group's merged settings (defaults overridden by the group); `prefix` is the field path. */
  protected abstract resolveHyper(where: string, prefix: string, raw: Record<string, unknown>): H;
  /** The state buffers a parameter of a group with these settings needs (zeros before its first step). */
  protected abstract bufferNames(hyper: H): readonly string[];
  /** Updates one parameter in place; `state.step` already counts this step. Must not throw. */
  protected abstract update(param: Parameter, state: ParamState, hyper: H, lr: number): void;

  get stepCount(): number {
    return this.steps;
  }

  get groupCount(): number {
    return this.groups.length;
  }

  /** Group `group`'s parameters and resolved settings (read-only views; do not mutate). */
  paramGroup(group = 0): { readonly params: readonly Parameter[]; readonly hyper: Readonly<H> } {
    return this.groups[int(`${this.name}.paramGroup`, 'group', group, 0, this.groups.length - 1)] as Group<H>;
  }

  /** The state held for `param` (undefined before its first step); for inspection and tests. */
  stateOf(param: Parameter): Readonly<ParamState> | undefined {
    return this.state.get(param);
  }

  lr(group = 0): number {
    const g = this.groups[int(`${this.name}.lr`, 'group', group, 0, this.groups.length - 1)] as Group<H>;
    return g.hyper.lr * this.factor(`${this.name}.lr`);
  }

  step(): void {
    const where = `${this.name}.step`;
    const factor = this.factor(where);
    const groups = this.groups;
    // Check everything first: a step that fails must leave every parameter and buffer untouched.
    for (let gi = 0; gi < groups.length; gi++) {
      const params = (groups[gi] as Group<H>).params;
      for (let pi = 0; pi < params.length; pi++) {
        const p = params[pi] as Parameter;
        if (p.requiresGrad) this.check(where, p);
      }
    }
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi] as Group<H>;
      const lr = g.hyper.lr * factor;
      const params = g.params;
      for (let pi = 0; pi < params.length; pi++) {
        const p = params[pi] as Parameter;
        if (!p.requiresGrad) continue;
        let st = this.state.get(p);
        if (st === undefined) {
          st = { step: 0, buffers: {} };
          for (const b of this.bufferNames(g.hyper)) st.buffers[b] = new Float32Array(p.data.length);
          this.state.set(p, st);
        }
        st.step++;
        this.update(p, st, g.hyper, lr);
      }
    }
    this.steps++;
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad.fill(0);
  }

  remap(param: Parameter, map: BufferMap): void {
    const where = `${this.name}.remap`;
    if (!(param instanceof Parameter)) invalid(where, 'param', 'a Parameter', describe(param));
    if (typeof map !== 'function') invalid(where, 'map', 'a function Float32Array ↦ Float32Array', describe(map));
    const st = this.state.get(param);
    if (st === undefined) return;
    const names = Object.keys(st.buffers);
    if (names.length === 0) return;
    // Either order works. State still as long as the parameter: `param.remap` has not run yet, and
    // the buffers must come out as long as the map makes the parameter's data. Otherwise it has
    // run, and they must come out as long as the parameter now is.
    const n = param.data.length;
    const pending = (st.buffers[names[0] as string] as Float32Array).length === n;
    const want = pending ? map(param.data).length : n;
    const mapped: Float32Array[] = [];
    for (const k of names) {
      const out = map(st.buffers[k] as Float32Array);
      if (!(out instanceof Float32Array) || out.length !== want) {
        throw new DeboraError(
          `${where}: expected a map giving a Float32Array of length ${want} (the parameter's ${pending ? 'mapped ' : ''}size) for argument '${param.name}', received ${describe(out)} for state buffer '${k}'`,
          'DEBORA_SHAPE_MISMATCH',
        );
      }
      mapped.push(out);
    }
    names.forEach((k, i) => {
      st.buffers[k] = mapped[i] as Float32Array;
    });
  }

  addParams(group: readonly Parameter[] | ParamGroup<O>): number {
    const where = `${this.name}.addParams`;
    const g = Array.isArray(group)
      ? this.makeGroup(where, 'params', group as readonly Parameter[], {})
      : this.parseGroup(where, 'group', group);
    this.adopt(where, [g]);
    return this.groups.length - 1;
  }

  removeParam(param: Parameter): boolean {
    const g = this.owner.get(param);
    if (g === undefined) return false;
    g.params.splice(g.params.indexOf(param), 1);
    this.owner.delete(param);
    this.state.delete(param);
    return true;
  }

  stateDict(): OptimizerStateDict {
    this.namesByParam(`${this.name}.stateDict`);
    const paramSteps: Record<string, number> = {};
    const buffers: Record<string, Record<string, Float32Array>> = {};
    for (const [p, st] of this.state) {
      paramSteps[p.name] = st.step;
      const copy: Record<string, Float32Array> = {};
      for (const [k, b] of Object.entries(st.buffers)) copy[k] = b.slice();
      buffers[p.name] = copy;
    }
    return {
      meta: {
        format: 1,
        optimizer: this.name,
        stepCount: this.steps,
        groups: this.groups.map((g) => ({
          params: g.params.map((p) => p.name),
          hyper: JSON.parse(JSON.stringify(g.hyper)) as Record<string, unknown>,
        })),
        paramSteps,
      },
      buffers,
    };
  }

  loadStateDict(state: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    const byName = this.namesByParam(where);
    const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!obj(state) || !obj(state.meta) || !obj(state.buffers)) {
      invalid(where, 'state', 'an object { meta, buffers } from stateDict()', describe(state));
    }
    const meta = state.meta as unknown as Record<string, unknown>;
    if (meta.format !== 1) invalid(where, 'meta.format', '1', describe(meta.format));
    if (meta.optimizer !== this.name) invalid(where, 'meta.optimizer', `'${this.name}'`, describe(meta.optimizer));
    const stepCount = int(where, 'meta.stepCount', meta.stepCount);
    const groups = meta.groups;
    if (!Array.isArray(groups) || groups.length !== this.groups.length) {
      invalid(
        where,
        'meta.groups',
        `an array of ${this.groups.length} groups (as this optimiser has)`,
        describe(groups),
      );
    }
    const hypers: H[] = [];
    groups.forEach((raw: unknown, i) => {
      const field = `meta.groups[${i}]`;
      if (!obj(raw) || !Array.isArray(raw.params) || !obj(raw.hyper)) {
        invalid(where, field, 'an object { params: string[], hyper }', describe(raw));
      }
      const mine = (this.groups[i] as Group<H>).params.map((p) => p.name);
      const theirs = raw.params as unknown[];
      const missing = mine.find((n) => !theirs.includes(n));
      if (missing !== undefined) {
        invalid(
          where,
          `${field}.params`,
          `a list naming '${missing}' (a parameter of group ${i})`,
          'a list without it',
        );
      }
      const extra = theirs.find((n) => !mine.includes(n as string));
      if (extra !== undefined || theirs.length !== mine.length) {
        invalid(
          where,
          `${field}.params`,
          `exactly the ${mine.length} parameter names of group ${i}`,
          extra !== undefined ? `also ${describe(extra)}` : `${theirs.length} names`,
        );
      }
      checkKeys(where, `${field}.hyper.`, raw.hyper as object, this.keys);
      // Every setting must be there: a missing one would silently take a default, not the saved value.
      for (const k of this.keys) {
        if ((raw.hyper as Record<string, unknown>)[k] === undefined) {
          invalid(where, `${field}.hyper.${k}`, 'the saved setting', 'nothing', 'DEBORA_INVALID_CONFIG');
        }
      }
      hypers.push(this.resolveHyper(where, `${field}.hyper.`, raw.hyper as Record<string, unknown>));
    });
    const steps = meta.paramSteps;
    if (!obj(steps)) invalid(where, 'meta.paramSteps', 'an object of step counts by parameter name', describe(steps));
    const buffers = state.buffers as Record<string, unknown>;
    for (const name of Object.keys(buffers)) {
      if (steps[name] === undefined)
        invalid(where, `buffers['${name}']`, 'buffers only for parameters in meta.paramSteps', 'an extra entry');
    }
    const restored = new Map<Parameter, ParamState>();
    for (const [name, s] of Object.entries(steps)) {
      const p = byName.get(name);
      if (p === undefined)
        invalid(where, `meta.paramSteps['${name}']`, 'the name of a parameter of this optimiser', `'${name}'`);
      const step = int(where, `meta.paramSteps['${name}']`, s, 1);
      const bufs = buffers[name];
      if (!obj(bufs)) invalid(where, `buffers['${name}']`, 'an object of Float32Arrays by buffer name', describe(bufs));
      const want = this.bufferNames(hypers[this.groups.indexOf(this.owner.get(p) as Group<H>)] as H);
      const copy: Record<string, Float32Array> = {};
      for (const k of Object.keys(bufs)) {
        if (!want.includes(k))
          invalid(where, `buffers['${name}'].${k}`, `one of the buffers [${want.join(', ')}]`, `'${k}'`);
      }
      for (const k of want) {
        const field = `buffers['${name}'].${k}`;
        const b = f32(where, field, bufs[k], p.data.length);
        finite(where, field, b);
        copy[k] = b.slice();
      }
      restored.set(p, { step, buffers: copy });
    }
    // Everything checked: apply.
    this.groups.forEach((g, i) => {
      g.hyper = hypers[i] as H;
    });
    this.state.clear();
    for (const [p, st] of restored) this.state.set(p, st);
    this.steps = stepCount;
  }

  private factor(where: string): number {
    const f = this.schedule(this.steps);
    if (typeof f !== 'number' || !Number.isFinite(f) || f < 0) {
      invalid(
        where,
        `schedule(${this.steps})`,
        'a finite factor >= 0',
        describe(f),
        Number.isNaN(f) || f === Infinity || f === -Infinity ? 'DEBORA_NON_FINITE' : 'DEBORA_INVALID_CONFIG',
      );
    }
    return f;
  }

  private check(where: string, p: Parameter): void {
    const n = p.data.length;
    if (p.grad.length !== n) {
      invalid(
        where,
        `${p.name}.grad`,
        `a gradient of length ${n} (the parameter's size)`,
        `length ${p.grad.length}`,
        'DEBORA_SHAPE_MISMATCH',
      );
    }
    const st = this.state.get(p);
    if (st !== undefined) {
      for (const k in st.buffers) {
        const len = (st.buffers[k] as Float32Array).length;
        if (len !== n) {
          throw new DeboraError(
            `${where}: expected state buffer '${k}' of length ${n} for argument '${p.name}', received length ${len}. The parameter was remapped without the optimiser: call optimizer.remap(param, map) together with param.remap(map, newShape)`,
            'DEBORA_SHAPE_MISMATCH',
          );
        }
      }
    }
    const bad = firstNonFinite(p.grad);
    if (bad >= 0) {
      throw new DeboraError(
        `${where}: expected finite values for argument '${p.name}.grad', received ${describe(p.grad[bad])} at index ${bad}; no parameter was updated`,
        'DEBORA_NON_FINITE',
      );
    }
  }

  private parseGroup(where: string, field: string, g: unknown): Group<H> {
    if (typeof g !== 'object' || g === null || Array.isArray(g)) {
      invalid(where, field, 'a group { params, ...settings }', describe(g));
    }
    const raw = g as Record<string, unknown>;
    checkKeys(where, `${field}.`, raw, ['params', ...this.keys]);
    const params = raw.params;
    if (!Array.isArray(params)) invalid(where, `${field}.params`, 'an array of Parameters', describe(params));
    const overrides: Record<string, unknown> = {};
    for (const k of this.keys) if (raw[k] !== undefined) overrides[k] = raw[k];
    return this.makeGroup(where, `${field}.params`, params, overrides, `${field}.`);
  }

  private makeGroup(
    where: string,
    field: string,
    params: readonly unknown[],
    overrides: Record<string, unknown>,
    prefix = '',
  ): Group<H> {
    params.forEach((p, i) => {
      if (!(p instanceof Parameter)) invalid(where, `${field}[${i}]`, 'a Parameter', describe(p));
    });
    const hyper = this.resolveHyper(where, prefix, { ...this.defaults, ...overrides });
    return { params: (params as Parameter[]).slice(), hyper };
  }

  /** Registers new groups, refusing a parameter held twice (its updates would be applied twice). */
  private adopt(where: string, groups: Group<H>[]): void {
    const seen = new Set<Parameter>();
    for (const g of groups) {
      for (const p of g.params) {
        if (this.owner.has(p) || seen.has(p)) {
          invalid(where, 'params', 'each parameter in at most one group', `'${p.name}' twice`);
        }
        seen.add(p);
      }
    }
    for (const g of groups) {
      this.groups.push(g);
      for (const p of g.params) this.owner.set(p, g);
    }
  }

  /** Parameter names must be non-empty and unique for a state dict keyed by name. */
  private namesByParam(where: string): Map<string, Parameter> {
    const byName = new Map<string, Parameter>();
    for (const p of this.owner.keys()) {
      if (typeof p.name !== 'string' || p.name === '') invalid(where, 'params', 'named parameters', 'an empty name');
      if (byName.has(p.name)) {
        invalid(where, 'params', 'unique parameter names (the state dict is keyed by name)', `'${p.name}' twice`);
      }
      byName.set(p.name, p);
    }
    return byName;
  }
}
