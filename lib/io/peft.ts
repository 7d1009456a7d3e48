/**
 * peft.ts — exporting trained adapters for use elsewhere, and reading them back. Matrix (Linear)
 * adapters go to the Hugging Face PEFT LoRA format (adapter_config.json + adapter_model.safetensors,
 * s folded into lora_A / lora_B so that B·A·(alpha/r) = U diag(s) Vᵀ); CP conv adapters, which PEFT
 * cannot represent, go to debora's own documented safetensors format (factors, s, and the merged dense
 * ΔK). Everything is validated and computed before the first byte is written; each file is written
 * atomically. The format is described in docs/interop.md. Tested in test/native/peft.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError } from '../errors';
import { AdaptedLayer } from '../nn/adapted';
import type { CpAdapter } from '../nn/adapter';
import { freezeBase, namedModules } from '../nn/attach';
import { Conv2d } from '../nn/conv2d';
import { Linear } from '../nn/linear';
import type { Module } from '../nn/module';
import { Sequential } from '../nn/sequential';
import { GEOMETRIES, type Geometry } from '../ops/common';
import { cpMaterialize } from '../ops/cp_dense';
import { describe, invalid, num, oneOf } from '../validate';
import { readSafetensors, type SafeTensor, writeSafetensors } from './safetensors';

const { abs, sqrt, max } = Math;

/** File names inside an export directory. */
export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
export const CP_ADAPTERS_FILE = 'debora_cp_adapters.safetensors';
/** Value of the `debora.format` metadata of CP_ADAPTERS_FILE. */
export const CP_FORMAT = 'debora-cp/1';
/** The task types PEFT knows (peft.TaskType); null means a plain PeftModel. */
export const PEFT_TASK_TYPES = [
  'SEQ_CLS',
  'SEQ_2_SEQ_LM',
  'CAUSAL_LM',
  'TOKEN_CLS',
  'QUESTION_ANS',
  'FEATURE_EXTRACTION',
] as const;

/**
 * How debora's layer names (`fc1`, `block.conv`) map to module names in the other framework's model
 * (`model.layers.0.self_attn.q_proj`): a record with one entry per layer, or a function.
 */
export type ModuleNames = Readonly<Record<string, string>> | ((layer: string) => string);

/** Options of exportPeft. */
export interface PeftExportOptions {
  /** Module name of every adapted layer in the target (PyTorch) model. */
  moduleNames: ModuleNames;
  /** `base_model_name_or_path` of the config (e.g. a Hub id); default null. */
  baseModel?: string | null;
  /** `revision` of the base model; default null. */
  revision?: string | null;
  /**
   * `lora_alpha` for every module, so PEFT scales by alpha/r_m. Default: alpha = r_m per module
   * (scale 1). Either way s is folded so that B·A·scale = U diag(s) Vᵀ exactly (up to rounding).
   */
  alpha?: number;
  /** PEFT `task_type` (one of PEFT_TASK_TYPES) or null (default). */
  taskType?: (typeof PEFT_TASK_TYPES)[number] | null;
}

/** One exported (or skipped) adapter. */
export interface ExportedModule {
  layer: string;
  module: string;
  kind: 'linear' | 'conv2d';
  rank: number;
  /** PEFT alpha and scale alpha/r (linear only). */
  alpha?: number;
  scale?: number;
}

/** What exportPeft wrote. */
export interface PeftExportResult {
  /** Paths of the files written, in writing order. */
  files: string[];
  /** Linear adapters written in PEFT format. */
  lora: ExportedModule[];
  /** Conv adapters written in debora's CP format. */
  conv: ExportedModule[];
  /** Linear adapters pruned to rank 0 (Ψ = 0): PEFT has no rank-0 LoRA, so they are left out. */
  skipped: ExportedModule[];
}

/** Options of importPeft. */
export interface PeftImportOptions {
  /** Same mapping as for exportPeft: debora layer name → module name in the files. */
  moduleNames: ModuleNames;
  /** Geometry of the imported matrix adapters (default 'stiefel'); CP conv adapters keep the file's. */
  geometry?: Geometry;
  /** Freeze every non-adapter parameter afterwards, as attachAdapters does (default true). */
  freezeBase?: boolean;
}

const MODULE_RE = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
const LORA_KEY_RE = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

function cfgError(where: string, msg: string): never {
  throw new DeboraError(`${where}: ${msg}`, 'DEBORA_INVALID_CONFIG');
}

/** The model's Linear / Conv2d layers by dotted name (the model itself, named '', when it is one). */
function adaptableLayers(model: Module): Array<[string, AdaptedLayer]> {
  if (model instanceof AdaptedLayer) return [['', model]];
  return namedModules(model).filter((e): e is [string, AdaptedLayer] => e[1] instanceof AdaptedLayer);
}

const quoteList = (xs: readonly string[]): string => (xs.length === 0 ? '(none)' : xs.map((x) => `'${x}'`).join(', '));

/**
 * layer → module for `layers`, validated: with a record, its keys must be exactly `layers` (unknown or
 * missing names are errors naming them); with a function, it is called once per layer. Module names
 * must be dotted identifiers and distinct.
 */
function resolveNames(
  where: string,
  names: unknown,
  layers: readonly string[],
  all: readonly string[],
): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof names === 'function') {
    for (const l of layers) {
      let m: unknown;
      try {
        m = (names as (layer: string) => unknown)(l);
      } catch (e) {
        cfgError(where, `moduleNames('${l}') threw: ${(e as Error).message}`);
      }
      out.set(l, m as string);
    }
  } else if (typeof names === 'object' && names !== null && !Array.isArray(names)) {
    const rec = names as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (!layers.includes(key)) {
        cfgError(
          where,
          all.includes(key)
            ? `moduleNames names layer '${key}', which has no adapter to export. Fix: remove it, or attach an adapter to it`
            : `moduleNames names an unknown layer '${key}'. Fix: use the model's layer names: ${quoteList(layers)}`,
        );
      }
    }
    const missing = layers.filter((l) => !Object.hasOwn(rec, l));
    if (missing.length > 0)
      cfgError(
        where,
        `moduleNames has no entry for the adapted layer(s) ${quoteList(missing)}. Fix: add their module names`,
      );
    for (const l of layers) out.set(l, rec[l] as string);
  } else {
    invalid(
      where,
      'moduleNames',
      "a record { layer: 'module.path' } or a function (layer) => 'module.path'",
      describe(names),
    );
  }
  const seen = new Map<string, string>();
  for (const [l, m] of out) {
    if (typeof m !== 'string' || !MODULE_RE.test(m)) {
      cfgError(
        where,
        `moduleNames gives ${describe(m)} for layer '${l}'; expected a dotted module path such as 'model.layers.0.q_proj' (letters, digits, '_', separated by '.')`,
      );
    }
    const other = seen.get(m);
    if (other !== undefined)
      cfgError(where, `moduleNames maps both '${other}' and '${l}' to module '${m}'; module names must be distinct`);
    seen.set(m, l);
  }
  return out;
}

/** PEFT's lookup of a module in rank_pattern / alpha_pattern: the first key k (in order) with re.match(rf"(.*\.)?({k})$", name). */
function patternKey(where: string, keys: readonly string[], name: string): string | undefined {
  for (const k of keys) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${k})$`);
    } catch {
      cfgError(
        where,
        `pattern '${k}' of rank_pattern / alpha_pattern is not a regular expression this reader understands`,
      );
    }
    if (re.test(name)) return k;
  }
  return undefined;
}

function writeTextAtomic(where: string, file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {}
    throw new DeboraError(`${where}: cannot write ${file}: ${(e as Error).message}`, 'DEBORA_INVALID_ARG');
  }
}

function checkFinite(where: string, what: string, x: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i] as number)) {
      throw new DeboraError(
        `${where}: ${what} holds a non-finite value at index ${i}; nothing was written`,
        'DEBORA_NON_FINITE',
      );
    }
  }
}

/** The most frequent value (ties: the larger). */
function mode(xs: readonly number[]): number {
  const count = new Map<number, number>();
  for (const x of xs) count.set(x, (count.get(x) ?? 0) + 1);
  let best = xs[0] as number;
  for (const [x, c] of count) {
    const cb = count.get(best) as number;
    if (c > cb || (c === cb && x > best)) best = x;
  }
  return best;
}

/**
 * Writes the model's adapters to `dir` (created if needed):
 *
 * - `adapter_config.json` + `adapter_model.safetensors` (PEFT LoRA) for the Linear adapters:
 *   `base_model.model.<module>.lora_A.weight` (r × in) = diag(c) Vᵀ and `…lora_B.weight` (out × r) =
 *   U diag(sign(s)·c) with c_i = √(|s_i| / scale), scale = alpha_m / r_m — so B·A·scale = U diag(s) Vᵀ and
 *   both factors carry the same norm. `r`, `lora_alpha` and per-module `rank_pattern` / `alpha_pattern`
 *   hold the ranks left after pruning; `target_modules` lists the module names.
 * - `debora_cp_adapters.safetensors` for the Conv2d adapters: `<module>.cp.U1…U4` ([n_k, r]),
 *   `<module>.cp.s` ([r]) and the merged `<module>.delta_weight` ([F, C, kh, kw], to add to the conv
 *   weight), described in its `__metadata__`.
 *
 * Each file is written atomically; files of a previous export that this one does not produce are
 * removed, so the directory never mixes two exports. Validates everything (names, values finite,
 * PEFT's pattern lookup resolving every module to its own rank) before writing anything.
 */
export function exportPeft(model: Module, dir: string, options: PeftExportOptions): PeftExportResult {
  const where = 'exportPeft';
  if (typeof dir !== 'string' || dir.length === 0) invalid(where, 'dir', 'a directory path', describe(dir));
  if (typeof options !== 'object' || options === null)
    invalid(where, 'options', '{ moduleNames, baseModel?, alpha?, taskType? }', describe(options));
  const all = adaptableLayers(model);
  const adapted = all.filter(([, l]) => l.adapter !== null);
  if (adapted.length === 0) {
    cfgError(
      where,
      'the model has no attached adapter to export (a merged model carries none: unmergeAdapters first, or save the merged weights with saveWeights)',
    );
  }
  const names = resolveNames(
    where,
    options.moduleNames,
    adapted.map(([n]) => n),
    all.map(([n]) => n),
  );
  const alpha = options.alpha === undefined ? undefined : num(where, 'alpha', options.alpha, { min: 0, minOpen: true });
  const taskType =
    options.taskType === undefined || options.taskType === null
      ? null
      : oneOf(where, 'taskType', options.taskType, PEFT_TASK_TYPES);
  for (const key of ['baseModel', 'revision'] as const) {
    const v = options[key];
    if (v !== undefined && v !== null && typeof v !== 'string') invalid(where, key, 'a string or null', describe(v));
  }

  const lora: ExportedModule[] = [];
  const conv: ExportedModule[] = [];
  const skipped: ExportedModule[] = [];
  const loraTensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const cpTensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const cpLayers: object[] = [];
  for (const [layer, l] of adapted) {
    const a = l.adapter as CpAdapter;
    const module = names.get(layer) as string;
    const r = a.rank;
    for (const p of a.parameters()) checkFinite(where, `the adapter of layer '${layer}' (${p.localName})`, p.data);
    if (l instanceof Linear) {
      if (r === 0) {
        skipped.push({ layer, module, kind: 'linear', rank: 0 });
        continue;
      }
      const [nOut, nIn] = a.modeSizes as [number, number];
      const [U, V] = a.factors.map((f) => f.data) as [Float32Array, Float32Array];
      const alphaM = alpha ?? r;
      const scale = alphaM / r;
      const A = new Float32Array(r * nIn);
      const B = new Float32Array(nOut * r);
      for (let i = 0; i < r; i++) {
        const si = a.s.data[i] as number;
        const c = sqrt(abs(si) / scale);
        const sign = si < 0 ? -c : c;
        for (let j = 0; j < nIn; j++) A[i * nIn + j] = c * (V[j * r + i] as number);
        for (let o = 0; o < nOut; o++) B[o * r + i] = sign * (U[o * r + i] as number);
      }
      checkFinite(where, `lora_A of layer '${layer}'`, A);
      checkFinite(where, `lora_B of layer '${layer}'`, B);
      loraTensors.set(`base_model.model.${module}.lora_A.weight`, { shape: [r, nIn], data: A });
      loraTensors.set(`base_model.model.${module}.lora_B.weight`, { shape: [nOut, r], data: B });
      lora.push({ layer, module, kind: 'linear', rank: r, alpha: alphaM, scale });
    } else {
      const c = l as Conv2d;
      a.factors.forEach((f, k) => {
        cpTensors.set(`${module}.cp.U${k + 1}`, { shape: [a.modeSizes[k] as number, r], data: f.data.slice() });
      });
      cpTensors.set(`${module}.cp.s`, { shape: [r], data: a.s.data.slice() });
      const total = a.modeSizes.reduce((x, y) => x * y, 1);
      const delta =
        r === 0
          ? new Float32Array(total)
          : cpMaterialize(
              a.factors.map((f) => f.data),
              a.s.data,
              a.modeSizes.slice(),
            );
      checkFinite(where, `the merged ΔK of layer '${layer}'`, delta);
      cpTensors.set(`${module}.delta_weight`, { shape: a.modeSizes.slice(), data: delta });
      cpLayers.push({
        module,
        layer,
        rank: r,
        modeSizes: a.modeSizes,
        geometry: a.geometry,
        modeGeometries: a.modeGeometries,
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
      });
      conv.push({ layer, module, kind: 'conv2d', rank: r });
    }
  }

  let config: Record<string, unknown> | null = null;
  if (lora.length > 0) {
    const r = mode(lora.map((m) => m.rank));
    // Longest names first: PEFT takes the first pattern that matches a module as a suffix, so a
    // shorter name must not come before a longer one ending with it.
    const ordered = [...lora].sort((x, y) => y.module.length - x.module.length || (x.module < y.module ? -1 : 1));
    const rankPattern: Record<string, number> = {};
    const alphaPattern: Record<string, number> = {};
    for (const m of ordered) {
      rankPattern[m.module] = m.rank;
      alphaPattern[m.module] = m.alpha as number;
    }
    const keys = ordered.map((m) => m.module);
    for (const m of lora) {
      const k = patternKey(where, keys, m.module) as string;
      if (rankPattern[k] !== m.rank || alphaPattern[k] !== m.alpha) {
        cfgError(
          where,
          `PEFT would give module '${m.module}' the rank/alpha of pattern '${k}' (its rank_pattern keys are regular expressions matched as suffixes). Fix: choose module names where neither is a suffix or wildcard match of the other`,
        );
      }
    }
    // The fields of peft.LoraConfig (sorted, as PEFT's save_pretrained writes them); only fields
    // that PEFT has had since rank_pattern appeared (0.7), so older versions load it as well.
    config = {
      alpha_pattern: alphaPattern,
      auto_mapping: null,
      base_model_name_or_path: options.baseModel ?? null,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: alpha ?? r,
      lora_dropout: 0,
      modules_to_save: null,
      peft_type: 'LORA',
      r,
      rank_pattern: rankPattern,
      revision: options.revision ?? null,
      target_modules: lora.map((m) => m.module),
      task_type: taskType,
      use_rslora: false,
    };
  }

  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new DeboraError(`${where}: cannot create directory ${dir}: ${(e as Error).message}`, 'DEBORA_INVALID_ARG');
  }
  const files: string[] = [];
  if (cpTensors.size > 0) {
    const file = path.join(dir, CP_ADAPTERS_FILE);
    writeSafetensors(file, cpTensors, {
      format: 'pt',
      'debora.format': CP_FORMAT,
      'debora.layers': JSON.stringify(cpLayers),
      'debora.layout':
        '<module>.cp.U{k} [n_k, r] row-major (column i = u_i^(k)); <module>.cp.s [r]; <module>.delta_weight [F, C, kh, kw] = sum_i s_i u_i^(1) x u_i^(2) x u_i^(3) x u_i^(4), to add to the conv weight (PyTorch layout, cross-correlation)',
    });
    files.push(file);
  }
  if (config !== null) {
    const wfile = path.join(dir, PEFT_WEIGHTS_FILE);
    writeSafetensors(wfile, loraTensors, {
      format: 'pt',
      'debora.fold':
        'lora_A = diag(c) V^T, lora_B = U diag(sign(s) c), c_i = sqrt(|s_i| / scale), scale = alpha / r: lora_B @ lora_A * scale = U diag(s) V^T',
    });
    files.push(wfile);
    // The config last: a reader that finds it finds the weights it describes.
    const cfile = path.join(dir, PEFT_CONFIG_FILE);
    writeTextAtomic(where, cfile, `${JSON.stringify(config, null, 2)}\n`);
    files.push(cfile);
  }
  for (const stale of [CP_ADAPTERS_FILE, PEFT_WEIGHTS_FILE, PEFT_CONFIG_FILE]) {
    const p = path.join(dir, stale);
    if (!files.includes(p)) fs.rmSync(p, { force: true });
  }
  return { files, lora, conv, skipped };
}

// ---------------------------------------------------------------------------------------------
// Import: small dense linear algebra in float64 (the matrices are n × r and r × r).

/** Modified Gram-Schmidt with re-orthogonalisation of the columns of M (n × r): M = Q R, Q n × q orthonormal. */
function qr(M: Float64Array, n: number, r: number): { Q: Float64Array[]; R: Float64Array } {
  const Q: Float64Array[] = [];
  const R = new Float64Array(r * r); // rows beyond Q.length stay zero
  for (let j = 0; j < r; j++) {
    const v = new Float64Array(n);
    let n0 = 0;
    for (let i = 0; i < n; i++) {
      v[i] = M[i * r + j] as number;
      n0 += (v[i] as number) ** 2;
    }
    for (let pass = 0; pass < 2; pass++) {
      Q.forEach((q, t) => {
        let c = 0;
        for (let i = 0; i < n; i++) c += (q[i] as number) * (v[i] as number);
        for (let i = 0; i < n; i++) v[i] = (v[i] as number) - c * (q[i] as number);
        R[t * r + j] = (R[t * r + j] as number) + c;
      });
    }
    let nv = 0;
    for (let i = 0; i < n; i++) nv += (v[i] as number) ** 2;
    nv = sqrt(nv);
    // A column (numerically) inside the span of the previous ones adds no direction.
    if (Q.length < n && nv > 1e-13 * sqrt(n0) && nv > 0) {
      R[Q.length * r + j] = nv;
      Q.push(v.map((x) => x / nv));
    }
  }
  return { Q, R };
}

/** One-sided Jacobi SVD of C (m × n, row-major, m ≥ n): C = L diag(σ) Wᵀ; returns columns of L and W. */
function jacobiSvd(C: Float64Array, m: number, n: number): { L: Float64Array[]; W: Float64Array[]; sigma: number[] } {
  const cols = Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => C[i * n + j] as number));
  const W = Array.from({ length: n }, (_, j) => Float64Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 80; sweep++) {
    let off = 0;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const cp = cols[p] as Float64Array;
        const cq = cols[q] as Float64Array;
        let a = 0;
        let b = 0;
        let g = 0;
        for (let i = 0; i < m; i++) {
          a += (cp[i] as number) ** 2;
          b += (cq[i] as number) ** 2;
          g += (cp[i] as number) * (cq[i] as number);
        }
        if (a === 0 || b === 0 || abs(g) <= 1e-15 * sqrt(a * b)) continue;
        off = max(off, abs(g) / sqrt(a * b));
        const zeta = (b - a) / (2 * g);
        const t = (zeta >= 0 ? 1 : -1) / (abs(zeta) + sqrt(1 + zeta * zeta));
        const c = 1 / sqrt(1 + t * t);
        const s = c * t;
        for (const [x, y] of [
          [cp, cq],
          [W[p] as Float64Array, W[q] as Float64Array],
        ] as Array<[Float64Array, Float64Array]>) {
          for (let i = 0; i < x.length; i++) {
            const xi = x[i] as number;
            const yi = y[i] as number;
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
          }
        }
      }
    if (off <= 1e-15) break;
  }
  const sigma = cols.map((c) => sqrt(c.reduce((acc, x) => acc + x * x, 0)));
  const L = cols.map((c, j) => c.map((x) => (sigma[j] === 0 ? 0 : x / (sigma[j] as number))));
  return { L, W, sigma };
}

/**
 * The CP form (U, V, s) of M = scale·B·A with U, V orthonormal columns and s > 0 descending: a thin
 * SVD through QR of B and Aᵀ. The rank is M's numerical rank (σ > 1e-10·σ_max), at most min(r, out, in).
 */
export function loraToCp(
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  nOut: number,
  nIn: number,
  r: number,
  scale: number,
): { U: Float32Array; V: Float32Array; s: Float32Array } {
  const At = new Float64Array(nIn * r);
  for (let i = 0; i < r; i++) for (let j = 0; j < nIn; j++) At[j * r + i] = A[i * nIn + j] as number;
  const qb = qr(Float64Array.from(B), nOut, r);
  const qa = qr(At, nIn, r);
  const mB = qb.Q.length;
  const mA = qa.Q.length;
  let comps: Array<{ sigma: number; u: Float64Array; v: Float64Array }> = [];
  if (mB > 0 && mA > 0) {
    // Core C = scale · R_B R_Aᵀ (mB × mA).
    const C = new Float64Array(mB * mA);
    for (let x = 0; x < mB; x++)
      for (let y = 0; y < mA; y++) {
        let acc = 0;
        for (let i = 0; i < r; i++) acc += (qb.R[x * r + i] as number) * (qa.R[y * r + i] as number);
        C[x * mA + y] = scale * acc;
      }
    let left: Float64Array[];
    let right: Float64Array[];
    let sigma: number[];
    if (mB >= mA) {
      ({ L: left, W: right, sigma } = jacobiSvd(C, mB, mA));
    } else {
      const Ct = new Float64Array(mA * mB);
      for (let x = 0; x < mB; x++) for (let y = 0; y < mA; y++) Ct[y * mB + x] = C[x * mA + y] as number;
      ({ L: right, W: left, sigma } = jacobiSvd(Ct, mA, mB));
    }
    const smax = sigma.reduce((a, b) => max(a, b), 0);
    const lift = (Q: Float64Array[], coef: Float64Array, n: number) => {
      const out = new Float64Array(n);
      Q.forEach((q, t) => {
        const c = coef[t] as number;
        for (let i = 0; i < n; i++) out[i] = (out[i] as number) + c * (q[i] as number);
      });
      return out;
    };
    comps = sigma
      .map((sg, j) => ({ sg, j }))
      .filter(({ sg }) => sg > 1e-10 * smax && sg > 0)
      .sort((x, y) => y.sg - x.sg)
      .map(({ sg, j }) => ({
        sigma: sg,
        u: lift(qb.Q, left[j] as Float64Array, nOut),
        v: lift(qa.Q, right[j] as Float64Array, nIn),
      }));
  }
  const k = comps.length;
  const U = new Float32Array(nOut * k);
  const V = new Float32Array(nIn * k);
  const s = new Float32Array(k);
  comps.forEach((c, i) => {
    s[i] = c.sigma;
    for (let o = 0; o < nOut; o++) U[o * k + i] = c.u[o] as number;
    for (let j = 0; j < nIn; j++) V[j * k + i] = c.v[j] as number;
  });
  return { U, V, s };
}

function readJson(where: string, file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DeboraError(`${where}: cannot read ${file}: ${(e as Error).message}`, 'DEBORA_INVALID_ARG');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DeboraError(`${where}: ${file} is not valid JSON (${(e as Error).message})`, 'DEBORA_INVALID_CONFIG');
  }
}

function floatData(where: string, file: string, name: string, t: SafeTensor): Float32Array | Float64Array {
  if (!(t.data instanceof Float32Array || t.data instanceof Float64Array))
    cfgError(where, `tensor '${name}' in ${file} is ${t.dtype}; expected a float dtype (F32, F64, F16, BF16)`);
  checkFinite(where, `tensor '${name}' in ${file}`, t.data);
  return t.data;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

interface PlannedImport {
  layer: AdaptedLayer;
  name: string;
  geometry: Geometry;
  factors: Float32Array[];
  s: Float32Array;
}

/**
 * Reads adapters written by exportPeft — or any PEFT LoRA adapter of Linear modules (bias 'none',
 * no DoRA, fan_in_fan_out false) — back into CP adapters on the model's layers, which must not carry
 * one yet. A LoRA pair becomes Ψ = scale·B·A in CP form with orthonormal factors (a thin SVD), so its
 * rank is the numerical rank of B·A (≤ r); CP conv adapters are read as stored. All files are read and
 * checked (names, shapes, finite values, config) before any layer changes. Returns the new adapters
 * by layer name.
 */
export function importPeft(model: Module, dir: string, options: PeftImportOptions): Map<string, CpAdapter> {
  const where = 'importPeft';
  if (typeof dir !== 'string' || dir.length === 0) invalid(where, 'dir', 'a directory path', describe(dir));
  if (typeof options !== 'object' || options === null)
    invalid(where, 'options', '{ moduleNames, geometry?, freezeBase? }', describe(options));
  const geometry = oneOf(where, 'geometry', options.geometry ?? 'stiefel', GEOMETRIES);
  const cfgFile = path.join(dir, PEFT_CONFIG_FILE);
  const cpFile = path.join(dir, CP_ADAPTERS_FILE);
  const hasPeft = fs.existsSync(cfgFile);
  const hasCp = fs.existsSync(cpFile);
  if (!hasPeft && !hasCp)
    cfgError(
      where,
      `${dir} holds neither ${PEFT_CONFIG_FILE} nor ${CP_ADAPTERS_FILE}. Fix: pass the directory exportPeft wrote`,
    );

  // What the files hold: module → tensors.
  const lora = new Map<
    string,
    { A?: Float32Array | Float64Array; B?: Float32Array | Float64Array; aShape?: number[]; bShape?: number[] }
  >();
  let cfg: Record<string, unknown> = {};
  const wfile = path.join(dir, PEFT_WEIGHTS_FILE);
  if (hasPeft) {
    const raw = readJson(where, cfgFile);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      cfgError(where, `${cfgFile} is not a JSON object`);
    cfg = raw as Record<string, unknown>;
    if (cfg.peft_type !== 'LORA')
      cfgError(where, `${cfgFile}: expected peft_type "LORA", found ${describe(cfg.peft_type)}`);
    if (cfg.fan_in_fan_out === true)
      cfgError(
        where,
        `${cfgFile}: fan_in_fan_out is true (weights stored in × out); only out × in Linear weights are supported`,
      );
    if (cfg.use_dora === true) cfgError(where, `${cfgFile}: use_dora is true; DoRA adapters are not supported`);
    if (cfg.bias !== undefined && cfg.bias !== 'none')
      cfgError(
        where,
        `${cfgFile}: bias is ${describe(cfg.bias)}; only 'none' is supported (trained biases would be lost)`,
      );
    if (!Number.isInteger(cfg.r) || (cfg.r as number) < 1)
      cfgError(where, `${cfgFile}: r must be an integer >= 1, found ${describe(cfg.r)}`);
    if (typeof cfg.lora_alpha !== 'number' || !Number.isFinite(cfg.lora_alpha))
      cfgError(where, `${cfgFile}: lora_alpha must be a finite number, found ${describe(cfg.lora_alpha)}`);
    for (const k of ['rank_pattern', 'alpha_pattern']) {
      const v = cfg[k] ?? {};
      if (
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        !Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x))
      )
        cfgError(where, `${cfgFile}: ${k} must map module patterns to numbers, found ${JSON.stringify(cfg[k])}`);
    }
    const { tensors } = readSafetensors(wfile);
    for (const [key, t] of tensors) {
      const m = LORA_KEY_RE.exec(key);
      if (m === null)
        cfgError(
          where,
          `${wfile} holds tensor '${key}', which is not a LoRA weight 'base_model.model.<module>.lora_A|lora_B.weight' (embeddings, modules_to_save and DoRA magnitudes are not supported)`,
        );
      const entry = lora.get(m[1] as string) ?? {};
      const data = floatData(where, wfile, key, t);
      if (m[2] === 'A') Object.assign(entry, { A: data, aShape: t.shape });
      else Object.assign(entry, { B: data, bShape: t.shape });
      lora.set(m[1] as string, entry);
    }
  }
  interface CpEntry {
    module: string;
    rank: number;
    modeSizes: number[];
    geometry: Geometry;
    stride: number[];
    padding: number[];
    dilation: number[];
  }
  const cpEntries = new Map<string, CpEntry>();
  let cpTensors = new Map<string, SafeTensor>();
  if (hasCp) {
    const f = readSafetensors(cpFile);
    cpTensors = f.tensors;
    if (f.metadata['debora.format'] !== CP_FORMAT)
      cfgError(
        where,
        `${cpFile}: expected __metadata__ 'debora.format' = '${CP_FORMAT}', found ${describe(f.metadata['debora.format'])}`,
      );
    let layers: unknown;
    try {
      layers = JSON.parse(f.metadata['debora.layers'] ?? '');
    } catch {
      cfgError(where, `${cpFile}: __metadata__ 'debora.layers' is not valid JSON`);
    }
    if (!Array.isArray(layers)) cfgError(where, `${cpFile}: __metadata__ 'debora.layers' is not a list`);
    for (const e of layers as CpEntry[]) {
      const ok =
        typeof e === 'object' &&
        e !== null &&
        typeof e.module === 'string' &&
        Number.isInteger(e.rank) &&
        e.rank >= 0 &&
        Array.isArray(e.modeSizes) &&
        e.modeSizes.length === 4 &&
        (GEOMETRIES as readonly unknown[]).includes(e.geometry);
      if (!ok) cfgError(where, `${cpFile}: an entry of 'debora.layers' is malformed: ${JSON.stringify(e)}`);
      cpEntries.set(e.module, e);
    }
  }

  // Map modules to layers.
  const all = adaptableLayers(model);
  const byName = new Map(all);
  const fileModules = [...lora.keys(), ...cpEntries.keys()];
  let layerOf: Map<string, string>; // module → layer
  const names = options.moduleNames;
  if (typeof names === 'object' && names !== null && !Array.isArray(names)) {
    const rec = names as Record<string, unknown>;
    for (const key of Object.keys(rec))
      if (!byName.has(key))
        cfgError(
          where,
          `moduleNames names an unknown layer '${key}'. Fix: use the model's Linear / Conv2d layer names: ${quoteList(all.map(([n]) => n))}`,
        );
    const fwd = resolveNames(where, names, Object.keys(rec), Object.keys(rec));
    layerOf = new Map([...fwd].map(([l, m]) => [m, l]));
    for (const [l, m] of fwd)
      if (!fileModules.includes(m))
        cfgError(
          where,
          `moduleNames maps layer '${l}' to module '${m}', which ${dir} does not hold (it holds ${quoteList(fileModules)})`,
        );
  } else {
    const fwd = resolveNames(
      where,
      names,
      all.map(([n]) => n),
      all.map(([n]) => n),
    );
    layerOf = new Map<string, string>();
    for (const [l, m] of fwd) if (fileModules.includes(m)) layerOf.set(m, l);
  }
  const unmapped = fileModules.filter((m) => !layerOf.has(m));
  if (unmapped.length > 0)
    cfgError(
      where,
      `${dir} holds module(s) ${quoteList(unmapped)} that moduleNames maps to no layer. Fix: add them to moduleNames`,
    );

  const plan: PlannedImport[] = [];
  const rankKeys = Object.keys((cfg.rank_pattern ?? {}) as object);
  const alphaKeys = Object.keys((cfg.alpha_pattern ?? {}) as object);
  for (const [module, t] of lora) {
    const name = layerOf.get(module) as string;
    const layer = byName.get(name) as AdaptedLayer;
    if (!(layer instanceof Linear))
      cfgError(where, `module '${module}' is a LoRA of a linear module but layer '${name}' is ${layer.describe()}`);
    if (layer.adapter !== null)
      cfgError(where, `layer '${name}' already has an adapter. Fix: detach it first (layer.detachAdapter())`);
    if (t.A === undefined || t.B === undefined)
      cfgError(
        where,
        `${wfile} holds lora_${t.A === undefined ? 'B' : 'A'} but not lora_${t.A === undefined ? 'A' : 'B'} for module '${module}'`,
      );
    const aShape = t.aShape as number[];
    const bShape = t.bShape as number[];
    const r = aShape[0] as number;
    if (!sameShape(aShape, [r, layer.inFeatures]) || !sameShape(bShape, [layer.outFeatures, r]) || r < 1) {
      cfgError(
        where,
        `module '${module}' has lora_A [${aShape.join(', ')}] and lora_B [${bShape.join(', ')}]; layer '${name}' (${layer.inFeatures} → ${layer.outFeatures}) needs [r, ${layer.inFeatures}] and [${layer.outFeatures}, r]`,
      );
    }
    const rk = patternKey(where, rankKeys, module);
    const rCfg = rk === undefined ? (cfg.r as number) : ((cfg.rank_pattern as Record<string, number>)[rk] as number);
    if (rCfg !== r)
      cfgError(where, `module '${module}' has rank ${r} in ${wfile} but ${rCfg} in ${cfgFile} (r / rank_pattern)`);
    const ak = patternKey(where, alphaKeys, module);
    const alpha =
      ak === undefined ? (cfg.lora_alpha as number) : ((cfg.alpha_pattern as Record<string, number>)[ak] as number);
    const scale = cfg.use_rslora === true ? alpha / sqrt(r) : alpha / r;
    const { U, V, s } = loraToCp(t.A, t.B, layer.outFeatures, layer.inFeatures, r, scale);
    plan.push({ layer, name, geometry, factors: [U, V], s });
  }
  for (const [module, e] of cpEntries) {
    const name = layerOf.get(module) as string;
    const layer = byName.get(name) as AdaptedLayer;
    if (!(layer instanceof Conv2d))
      cfgError(where, `module '${module}' is a CP conv adapter but layer '${name}' is ${layer.describe()}`);
    if (layer.adapter !== null)
      cfgError(where, `layer '${name}' already has an adapter. Fix: detach it first (layer.detachAdapter())`);
    const dims = [layer.outChannels, layer.inChannels, layer.kernel[0], layer.kernel[1]];
    if (!sameShape(e.modeSizes, dims))
      cfgError(
        where,
        `module '${module}' has mode sizes [${e.modeSizes.join(', ')}] but layer '${name}' has kernel [${dims.join(', ')}]`,
      );
    for (const k of ['stride', 'padding', 'dilation'] as const) {
      if (!Array.isArray(e[k]) || !sameShape(e[k], layer[k]))
        cfgError(
          where,
          `module '${module}' was trained with ${k} ${JSON.stringify(e[k])} but layer '${name}' has ${JSON.stringify(layer[k])}`,
        );
    }
    const get = (suffix: string, shape: number[]) => {
      const key = `${module}.cp.${suffix}`;
      const t = cpTensors.get(key);
      if (t === undefined) cfgError(where, `${cpFile} lacks tensor '${key}'`);
      if (!sameShape(t.shape, shape))
        cfgError(
          where,
          `tensor '${key}' in ${cpFile} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
        );
      return Float32Array.from(floatData(where, cpFile, key, t));
    };
    const factors = dims.map((n, k) => get(`U${k + 1}`, [n, e.rank]));
    const s = get('s', [e.rank]);
    plan.push({ layer, name, geometry: e.geometry, factors, s });
  }

  // Everything checked: attach.
  const out = new Map<string, CpAdapter>();
  for (const p of plan) {
    const k = p.s.length;
    const a = p.layer.attachAdapter(
      { rank: max(k, 1), geometry: p.geometry, init: p.geometry === 'euclidean' ? 'zero' : 'small', seed: 0 },
      `importPeft (layer '${p.name}')`,
    );
    if (k === 0) a.prune([]);
    else {
      a.factors.forEach((f, i) => {
        f.data.set(p.factors[i] as Float32Array);
      });
      a.s.data.set(p.s);
    }
    out.set(p.name, a);
  }
  if (options.freezeBase ?? true) freezeBase(model);
  if (model instanceof Sequential) model.assignNames();
  return out;
}
