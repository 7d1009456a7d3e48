/**
 * tfjs/dense.ts — `DeboraDense`, a tfjs layer: a frozen dense kernel W0 (+ bias) plus a CP matrix
 * adapter Ψ = U diag(s) Vᵀ applied by our native kernels (cpLinearTf), y = act(x·W0 + b + ((x V) ⊙ s) Uᵀ).
 * U and V are trainable weights on their geometry (tangent projection and retraction by our code); s
 * is a non-trainable weight that the Frank-Wolfe loop owns. The class must extend the caller's
 * `tf.layers.Layer`, so it is made by a factory per tfjs instance. Tested in
 * test/native/tfjs-layer.test.ts and test/native/tfjs-train.test.ts.
 */
import { DeboraError } from '../errors';
import { type AdapterInit, type ResolvedAdapterOptions, resolveAdapterOptions } from '../nn/adapter';
import { modeGeometry, randomFactor, retract } from '../nn/geometry';
import { selectColumns } from '../nn/parameter';
import type { Geometry } from '../ops/common';
import { cpTangent } from '../ops/cp_tangent';
import { Rng } from '../rng';
import { describe, finite, int, invalid } from '../validate';
import { cpLinearTf } from './cp_linear';
import { remapOptimizerSlots } from './optimizer-state';
import {
  checkTf,
  describeTensor,
  f32Data,
  isTensor,
  type LayerVariable,
  type NamedTensorMap,
  type Optimizer,
  type Tensor,
  type Tensor2D,
  type Tf,
  type Variable,
} from './types';

type TfLayer = InstanceType<Tf['layers']['Layer']>;
type Shape = (number | null)[];

/** The adapter options of a DeboraDense (the same fields and defaults as the native layers' adapters). */
export interface DeboraAdapterArgs {
  /** Initial rank r ≥ 1 (it only shrinks afterwards, when the Frank-Wolfe loop truncates). */
  rank: number;
  /** Factor geometry (default 'stiefel'; a mode shorter than the rank uses 'oblique'). */
  geometry?: Geometry;
  /** 'small' (default on a manifold), 'offset' (W0 ← W0 − Ψ0: starts exactly at the base function), 'zero' (euclidean only). */
  init?: AdapterInit;
  /** Initial value of every s_i (default 1e-2; > 0, and ≥ the Frank-Wolfe ε). */
  sInit?: number;
  /** Seed of the factor initialisation (default 0): same seed, same factors as the native CpAdapter. */
  seed?: number;
}

/** Arguments of `new DeboraDense(...)`. */
export interface DeboraDenseArgs extends DeboraAdapterArgs {
  /** Output size. */
  units: number;
  /**
   * The frozen base kernel W0 in tfjs Dense layout [inputDim, units] (a tensor, copied, or a row-major
   * Float32Array). Default: glorot-uniform with `seed` (an adapter over a random frozen layer).
   */
  kernel?: Tensor | Float32Array;
  /** The frozen bias (length units; tensor or Float32Array). Default zeros when `useBias`. */
  bias?: Tensor | Float32Array | null;
  /** Default true. */
  useBias?: boolean;
  /** A tfjs activation name ('relu', 'softmax', …). Default: none (linear). */
  activation?: string;
  /** Input size, for a first layer (as tf.layers.dense's inputDim). */
  inputDim?: number;
  inputShape?: Shape;
  batchInputShape?: Shape;
  name?: string;
  trainable?: boolean;
}

/** A DeboraDense layer (a `tf.layers.Layer` of the tfjs instance it was made with). */
export interface DeboraDense extends TfLayer {
  readonly units: number;
  /** Current rank r of the adapter. */
  readonly rank: number;
  /** The geometry asked for. */
  readonly geometry: Geometry;
  /** The geometry each factor uses, [U (units×r), V (inputDim×r)] (set at build, kept when pruning). */
  readonly modeGeometries: readonly [Geometry, Geometry];
  /** Input size (after build). */
  readonly inputDim: number;
  /** The adapter weights: U (units×r), V (inputDim×r), s (r); and the frozen base. Replaced by `prune`. */
  readonly U: LayerVariable;
  readonly V: LayerVariable;
  readonly s: LayerVariable;
  readonly kernel: LayerVariable;
  readonly bias: LayerVariable | null;
  /** [U, V] as tf.Variables (the lower-level optimiser's variables). */
  factorVariables(): Variable[];
  /** s as a tf.Variable (not trainable: only the Frank-Wolfe step writes it). */
  sVariable(): Variable;
  /** A copy of s. */
  getS(): Float32Array;
  /** Writes s (length r, finite, > 0). */
  setS(values: ArrayLike<number>): void;
  /**
   * Replaces the gradients of U and V in `grads` (keyed by variable name, as tf.variableGrads returns
   * them) by their tangent projections for the factor geometries; euclidean factors are unchanged.
   * With `dots` (length r) also accumulates dots[i] += Σ_k ⟨u_i^(k), P(g_i^(k))⟩ (the input of cpHypergrad).
   */
  projectGradients(grads: NamedTensorMap, dots?: Float32Array): void;
  /** Puts U and V back on their geometry (after an optimiser step). */
  retract(): void;
  /**
   * Keeps only the components `kept` (distinct indices in [0, r), at least one): rebuilds U, V and s at
   * the new rank and slices the matching state of each optimiser given (Adam moments, …).
   */
  prune(kept: readonly number[], optimizers?: readonly Optimizer[]): void;
  /** Ψ in the kernel's layout [inputDim, units]: V diag(s) Uᵀ (W0 + Ψ is the merged kernel). */
  adapterDelta(): Tensor2D;
}

/** The DeboraDense class of one tfjs instance. */
export interface DeboraDenseClass {
  new (args: DeboraDenseArgs): DeboraDense;
  readonly className: string;
  /**
   * A DeboraDense over a built `tf.layers.dense` layer: its kernel, bias and activation become the
   * frozen base (copied), plus an adapter with `options`. Default name: `<dense name>_debora`.
   */
  fromDense(dense: TfLayer, options: DeboraAdapterArgs & { name?: string }): DeboraDense;
}

const WHERE = 'DeboraDense';
const classes = new WeakMap<Tf, DeboraDenseClass>();

/**
 * The DeboraDense layer class for the tfjs instance `tf` (made once per instance and registered with
 * its serialization map, so models holding it can be saved and loaded by that instance).
 */
export function deboraDenseClass(tf: Tf): DeboraDenseClass {
  checkTf('deboraDenseClass', tf);
  let cls = classes.get(tf);
  if (cls === undefined) {
    cls = makeClass(tf);
    classes.set(tf, cls);
  }
  return cls;
}

/** Shorthand for `new (deboraDenseClass(tf))(args)`. */
export function deboraDense(tf: Tf, args: DeboraDenseArgs): DeboraDense {
  return new (deboraDenseClass(tf))(args);
}

function tensorValues(where: string, name: string, v: unknown, length: number, shapeText: string): Float32Array {
  if (isTensor(v)) {
    if (v.dtype !== 'float32' || v.size !== length) {
      invalid(where, name, `a float32 tensor of shape ${shapeText}`, describeTensor(v), 'DEBORA_SHAPE_MISMATCH');
    }
    return Float32Array.from(v.dataSync() as Float32Array);
  }
  if (v instanceof Float32Array) {
    if (v.length !== length)
      invalid(where, name, `${length} values (${shapeText})`, describe(v), 'DEBORA_SHAPE_MISMATCH');
    return v.slice();
  }
  return invalid(where, name, `a float32 tensor or a Float32Array of shape ${shapeText}`, describe(v));
}

function makeClass(tf: Tf): DeboraDenseClass {
  class DeboraDenseLayer extends tf.layers.Layer implements DeboraDense {
    static className = 'DeboraDense';
    readonly units: number;
    readonly adapter: ResolvedAdapterOptions;
    readonly useBias: boolean;
    readonly activationName: string | null;
    private readonly activationLayer: TfLayer | null;
    private kernelInit: Float32Array | null;
    private readonly kernelRows: number | null;
    private biasInit: Float32Array | null;
    private rank_: number;
    private geoms: [Geometry, Geometry] = ['euclidean', 'euclidean'];
    private nIn = 0;
    private namePrefix = '';
    private vars: {
      U: LayerVariable;
      V: LayerVariable;
      s: LayerVariable;
      kernel: LayerVariable;
      bias: LayerVariable | null;
    } | null = null;

    constructor(args: DeboraDenseArgs) {
      if (typeof args !== 'object' || args === null)
        invalid(WHERE, 'args', 'an object { units, rank, … }', describe(args));
      const units = int(WHERE, 'units', args.units, 1);
      const adapter = resolveAdapterOptions(WHERE, {
        rank: args.rank,
        ...(args.geometry === undefined ? {} : { geometry: args.geometry }),
        ...(args.init === undefined ? {} : { init: args.init }),
        ...(args.sInit === undefined ? {} : { sInit: args.sInit }),
        ...(args.seed === undefined ? {} : { seed: args.seed }),
      });
      const inputDim = args.inputDim === undefined ? undefined : int(WHERE, 'inputDim', args.inputDim, 1);
      const layerArgs: Record<string, unknown> = {};
      if (args.name !== undefined) layerArgs.name = args.name;
      if (args.trainable !== undefined) layerArgs.trainable = args.trainable;
      if (args.batchInputShape !== undefined) layerArgs.batchInputShape = args.batchInputShape;
      else if (args.inputShape !== undefined) layerArgs.inputShape = args.inputShape;
      else if (inputDim !== undefined) layerArgs.inputShape = [inputDim];
      super(layerArgs);
      this.units = units;
      this.adapter = adapter;
      this.rank_ = adapter.rank;
      this.useBias = args.useBias ?? true;
      if (typeof this.useBias !== 'boolean') invalid(WHERE, 'useBias', 'a boolean', describe(args.useBias));
      // Base weights are copied now: the caller may dispose its tensors once the layer exists.
      if (args.kernel === undefined) {
        this.kernelInit = null;
        this.kernelRows = null;
      } else {
        const total = isTensor(args.kernel)
          ? args.kernel.size
          : args.kernel instanceof Float32Array
            ? args.kernel.length
            : -1;
        if (isTensor(args.kernel) && (args.kernel.shape.length !== 2 || args.kernel.shape[1] !== units)) {
          invalid(
            WHERE,
            'kernel',
            `a float32 tensor of shape [inputDim, ${units}]`,
            describeTensor(args.kernel),
            'DEBORA_SHAPE_MISMATCH',
          );
        }
        if (total <= 0 || total % units !== 0) {
          invalid(
            WHERE,
            'kernel',
            `a float32 tensor or Float32Array of shape [inputDim, ${units}]`,
            describeTensor(args.kernel),
            'DEBORA_SHAPE_MISMATCH',
          );
        }
        this.kernelRows = total / units;
        this.kernelInit = tensorValues(WHERE, 'kernel', args.kernel, total, `[inputDim, ${units}]`);
        finite(WHERE, 'kernel', this.kernelInit);
        if (inputDim !== undefined && inputDim !== this.kernelRows) {
          invalid(
            WHERE,
            'inputDim',
            `${this.kernelRows} (the kernel's rows)`,
            describe(inputDim),
            'DEBORA_SHAPE_MISMATCH',
          );
        }
      }
      if (args.bias === undefined || args.bias === null) this.biasInit = null;
      else {
        if (!this.useBias) invalid(WHERE, 'bias', 'no bias when useBias is false', describeTensor(args.bias));
        this.biasInit = tensorValues(WHERE, 'bias', args.bias, units, `[${units}]`);
        finite(WHERE, 'bias', this.biasInit);
      }
      const act = args.activation;
      if (act === undefined || act === 'linear') {
        this.activationName = null;
        this.activationLayer = null;
      } else {
        if (typeof act !== 'string') invalid(WHERE, 'activation', 'a tfjs activation name', describe(act));
        try {
          this.activationLayer = tf.layers.activation({ activation: act as 'relu' });
        } catch (e) {
          throw new DeboraError(
            `${WHERE}: expected a tfjs activation name ('relu', 'tanh', 'softmax', …) for argument 'activation', received '${act}' (${(e as Error).message})`,
            'DEBORA_INVALID_ARG',
          );
        }
        this.activationName = act;
      }
      // Build now when the input size is known, so a standalone layer is usable at once (tfjs would
      // wait for the first call). Weight names then carry the layer name themselves, as tfjs's
      // name scope would give them when building inside apply().
      const nIn = this.batchInputShape?.[this.batchInputShape.length - 1] ?? this.kernelRows;
      if (typeof nIn === 'number') {
        this.namePrefix = `${this.name}/`;
        this.build([null, nIn]);
        this.namePrefix = '';
      }
    }

    private get w() {
      if (this.vars === null) {
        throw new DeboraError(
          `${WHERE} '${this.name}': the layer is not built yet; give it an inputShape/inputDim or call it once (layer.apply, model.predict)`,
          'DEBORA_INVALID_ARG',
        );
      }
      return this.vars;
    }

    get rank(): number {
      return this.rank_;
    }
    get geometry(): Geometry {
      return this.adapter.geometry;
    }
    get modeGeometries(): readonly [Geometry, Geometry] {
      this.w;
      return this.geoms;
    }
    get inputDim(): number {
      this.w;
      return this.nIn;
    }
    get U(): LayerVariable {
      return this.w.U;
    }
    get V(): LayerVariable {
      return this.w.V;
    }
    get s(): LayerVariable {
      return this.w.s;
    }
    get kernel(): LayerVariable {
      return this.w.kernel;
    }
    get bias(): LayerVariable | null {
      return this.w.bias;
    }

    /** A weight created with exact initial values (tfjs initializers cannot take an array). */
    private weightFrom(name: string, shape: number[], values: Float32Array, trainable: boolean): LayerVariable {
      const w = this.addWeight(this.namePrefix + name, shape, 'float32', tf.initializers.zeros(), undefined, trainable);
      const t = tf.tensor(values, shape, 'float32');
      w.write(t);
      t.dispose();
      return w;
    }

    override build(inputShape: Shape | Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      const nIn = shape[shape.length - 1];
      if (typeof nIn !== 'number' || !(nIn >= 1)) {
        invalid(WHERE, 'inputShape', 'a known last dimension (the input size)', `[${shape.join(', ')}]`);
      }
      if (this.kernelRows !== null && this.kernelRows !== nIn) {
        invalid(WHERE, 'kernel', `${nIn} rows (the input size)`, `${this.kernelRows} rows`, 'DEBORA_SHAPE_MISMATCH');
      }
      const nOut = this.units;
      const { rank: r, geometry, init, sInit, seed } = this.adapter;
      this.nIn = nIn;
      this.geoms = [modeGeometry(geometry, nOut, r), modeGeometry(geometry, nIn, r)];
      // Same draws, in the same order, as the native CpAdapter (modes [out, in]) with this seed.
      const rng = new Rng(seed);
      const u = init === 'zero' ? new Float32Array(nOut * r) : randomFactor(this.geoms[0], nOut, r, rng);
      const v = randomFactor(this.geoms[1], nIn, r, rng);
      const s = new Float32Array(r).fill(sInit);
      const U = this.weightFrom('U', [nOut, r], u, true);
      const V = this.weightFrom('V', [nIn, r], v, true);
      // s is a non-trainable weight: no optimiser may step it (only the Frank-Wolfe loop writes it),
      // and `layer.trainable = true` re-enables only the trainable list (U, V).
      const sw = this.weightFrom('s', [r], s, false);
      let kernel: LayerVariable;
      if (this.kernelInit === null) {
        kernel = this.addWeight(
          `${this.namePrefix}kernel`,
          [nIn, nOut],
          'float32',
          tf.initializers.glorotUniform({ seed }),
          undefined,
          false,
        );
      } else {
        kernel = this.weightFrom('kernel', [nIn, nOut], this.kernelInit, false);
      }
      const bias = this.useBias
        ? this.weightFrom('bias', [nOut], this.biasInit ?? new Float32Array(nOut), false)
        : null;
      this.kernelInit = null;
      this.biasInit = null;
      this.vars = { U, V, s: sw, kernel, bias };
      if (init === 'offset') {
        // W0 ← W0 − Ψ0: the layer starts exactly at the base function with non-zero factors.
        const k = tf.tidy(() => tf.sub(kernel.read(), this.adapterDelta()));
        kernel.write(k);
        k.dispose();
      }
      this.built = true;
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      return [...shape.slice(0, -1), this.units];
    }

    override call(inputs: Tensor | Tensor[], _kwargs: Record<string, unknown>): Tensor {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        if (x === undefined || (Array.isArray(inputs) && inputs.length !== 1)) {
          invalid(WHERE, 'inputs', 'one tensor', describe(inputs));
        }
        const { U, V, s, kernel, bias } = this.w;
        const shape = x.shape;
        if (shape[shape.length - 1] !== this.nIn) {
          invalid(
            WHERE,
            'inputs',
            `a tensor whose last dimension is ${this.nIn}`,
            describeTensor(x),
            'DEBORA_SHAPE_MISMATCH',
          );
        }
        const x2 = (shape.length === 2 ? x : tf.reshape(x, [-1, this.nIn])) as Tensor2D;
        let y: Tensor = tf.matMul(x2, kernel.read() as Tensor2D);
        if (bias !== null) y = tf.add(y, bias.read());
        y = tf.add(y, cpLinearTf(tf, x2, U.read(), V.read(), s.read()));
        if (shape.length !== 2) y = tf.reshape(y, [...shape.slice(0, -1), this.units]);
        return this.activationLayer === null ? y : (this.activationLayer.apply(y) as Tensor);
      });
    }

    override getConfig() {
      const { geometry, init, sInit, seed } = this.adapter;
      return {
        units: this.units,
        rank: this.rank_,
        geometry,
        init,
        sInit,
        seed,
        useBias: this.useBias,
        activation: this.activationName ?? 'linear',
        ...super.getConfig(),
      };
    }

    factorVariables(): Variable[] {
      // LayerVariable.read() returns the tf.Variable itself (typed as a Tensor by tfjs).
      return [this.w.U.read() as Variable, this.w.V.read() as Variable];
    }

    sVariable(): Variable {
      return this.w.s.read() as Variable;
    }

    getS(): Float32Array {
      return Float32Array.from(this.w.s.read().dataSync() as Float32Array);
    }

    setS(values: ArrayLike<number>): void {
      const where = `${WHERE}.setS`;
      const r = this.rank_;
      if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
        invalid(where, 'values', `${r} numbers`, describe(values));
      }
      if (values.length !== r)
        invalid(where, 'values', `${r} values (the rank)`, describe(values), 'DEBORA_SHAPE_MISMATCH');
      const v = Float32Array.from(values);
      finite(where, 'values', v);
      for (let i = 0; i < r; i++) {
        if (!((v[i] as number) > 0))
          invalid(where, 'values', 'values > 0 (s lives on ε·1 + τ·Δ)', `${v[i]} at index ${i}`);
      }
      const t = tf.tensor1d(v);
      this.w.s.write(t);
      t.dispose();
    }

    projectGradients(grads: NamedTensorMap, dots?: Float32Array): void {
      const where = `${WHERE}.projectGradients`;
      if (typeof grads !== 'object' || grads === null)
        invalid(where, 'grads', 'a map name → gradient tensor', describe(grads));
      const r = this.rank_;
      if (dots !== undefined && (!(dots instanceof Float32Array) || dots.length !== r)) {
        invalid(where, 'dots', `a Float32Array of length ${r}`, describe(dots), 'DEBORA_SHAPE_MISMATCH');
      }
      const { U, V } = this.w;
      const sizes = [this.units, this.nIn];
      [U, V].forEach((lv, k) => {
        const geom = this.geoms[k] as Geometry;
        if (geom === 'euclidean' && dots === undefined) return;
        const name = lv.name;
        const g = grads[name];
        if (g === undefined || g === null) {
          if (dots === undefined) return;
          invalid(where, 'grads', `a gradient for '${name}' (the hypergradient needs both factors)`, 'none');
        }
        const n = sizes[k] as number;
        const p = cpTangent(
          geom,
          f32Data(where, 'U', lv.read()),
          f32Data(where, name, g),
          n,
          r,
          dots === undefined ? {} : { dots },
        );
        grads[name] = tf.tensor2d(p, [n, r]);
        g.dispose();
      });
    }

    retract(): void {
      const { U, V } = this.w;
      const sizes = [this.units, this.nIn];
      [U, V].forEach((lv, k) => {
        const geom = this.geoms[k] as Geometry;
        if (geom === 'euclidean') return;
        // dataSync may be the backend's own buffer: retract a copy, then assign it.
        const data = Float32Array.from(lv.read().dataSync() as Float32Array);
        retract(geom, data, sizes[k] as number, this.rank_);
        const t = tf.tensor2d(data, [sizes[k] as number, this.rank_]);
        lv.write(t);
        t.dispose();
      });
    }

    prune(kept: readonly number[], optimizers: readonly Optimizer[] = []): void {
      const where = `${WHERE}.prune`;
      const r = this.rank_;
      if (!Array.isArray(kept)) invalid(where, 'kept', 'an array of component indices', describe(kept));
      if (!Array.isArray(optimizers)) invalid(where, 'optimizers', 'an array of tfjs optimizers', describe(optimizers));
      const sorted = [...kept].sort((a, b) => a - b);
      sorted.forEach((i, j) => {
        int(where, `kept[${j}]`, i, 0, r - 1);
        if (j > 0 && sorted[j - 1] === i) invalid(where, 'kept', 'distinct indices', `index ${i} twice`);
      });
      if (sorted.length === 0) {
        invalid(where, 'kept', 'at least one component (the adapter keeps rank >= 1)', 'an empty array');
      }
      if (sorted.length === r) return;
      const k = sorted.length;
      const old = this.w;
      // tfjs declares the non-trainable list private but offers a public setter; its getter mixes in
      // frozen trainable weights, so read the list itself (checked before anything changes).
      const frozen = (this as unknown as { _nonTrainableWeights?: LayerVariable[] })._nonTrainableWeights;
      if (!Array.isArray(frozen) || !frozen.includes(old.s)) {
        throw new DeboraError(
          `${where}: this tfjs version keeps layer weights differently (no _nonTrainableWeights)`,
          'DEBORA_INTERNAL',
        );
      }
      const rebuilt = (lv: LayerVariable, rows: number): LayerVariable => {
        const data = selectColumns(lv.read().dataSync() as Float32Array, rows, r, sorted);
        const t = tf.tensor(data, rows === 1 ? [k] : [rows, k], 'float32');
        const nv = new tf.LayerVariable(t, 'float32', lv.originalName, lv.trainable);
        t.dispose();
        if (rows > 1) {
          for (const opt of optimizers) remapOptimizerSlots(tf, opt, lv.name, lv.shape as number[], nv.name, sorted);
        }
        return nv;
      };
      const U = rebuilt(old.U, this.units);
      const V = rebuilt(old.V, this.nIn);
      const s = rebuilt(old.s, 1);
      this.trainableWeights = this._trainableWeights.map((w) => (w === old.U ? U : w === old.V ? V : w));
      this.nonTrainableWeights = frozen.map((w) => (w === old.s ? s : w));
      old.U.dispose();
      old.V.dispose();
      old.s.dispose();
      this.vars = { ...old, U, V, s };
      this.rank_ = k;
    }

    adapterDelta(): Tensor2D {
      const { U, V, s } = this.w;
      return tf.tidy(() => tf.matMul(tf.mul(V.read(), s.read()) as Tensor2D, U.read() as Tensor2D, false, true));
    }

    static fromDense(dense: TfLayer, options: DeboraAdapterArgs & { name?: string }): DeboraDense {
      const where = `${WHERE}.fromDense`;
      if (typeof dense !== 'object' || dense === null || typeof dense.getClassName !== 'function') {
        invalid(where, 'dense', 'a tf.layers.dense layer', describe(dense));
      }
      if (dense.getClassName() !== 'Dense')
        invalid(where, 'dense', 'a tf.layers.dense layer', `a ${dense.getClassName()} layer`);
      if (!dense.built)
        invalid(where, 'dense', 'a built layer (give it an inputShape or call it once)', 'an unbuilt Dense layer');
      if (typeof options !== 'object' || options === null)
        invalid(where, 'options', 'an object { rank, … }', describe(options));
      const cfg = dense.getConfig() as { units: number; activation?: string; useBias?: boolean };
      const weights = dense.getWeights();
      const args: DeboraDenseArgs = {
        ...options,
        units: cfg.units,
        kernel: weights[0] as Tensor,
        bias: cfg.useBias === false ? null : (weights[1] ?? null),
        useBias: cfg.useBias !== false,
        name: options.name ?? `${dense.name}_debora`,
      };
      if (cfg.activation !== undefined) args.activation = cfg.activation;
      // A first layer of a Sequential model keeps its input shape, so the replacement can be one too.
      const bis = (dense as unknown as { batchInputShape?: Shape }).batchInputShape;
      if (Array.isArray(bis)) args.batchInputShape = bis.slice();
      // getWeights returns the dense layer's own variables (not copies): never dispose them here.
      return new DeboraDenseLayer(args);
    }
  }
  tf.serialization.registerClass(DeboraDenseLayer);
  return DeboraDenseLayer;
}
