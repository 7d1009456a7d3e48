/**
 * hypergrad/study.ts — the validation study of ALGORITHM.md section 3: per (problem, geometry, seed)
 * solve the lower level, compute the exact hypergradient (finite differences and implicit
 * differentiation), the cheap estimates, their dependence on T_max and on the D1 minibatch, and
 * render the markdown tables of docs/hypergradient.md (bench/hypergrad.ts prints them).
 * Tested in test/unit/hypergrad-validation.test.ts.
 */
import { Rng } from '../rng';
import type { FactorGeometry } from './cp';
import { randomPoint } from './cp';
import { type Estimates, estimates, fdHypergrad, implicitHypergrad } from './exact';
import { cosine, fmtStat, fwVertexQuality, relativeError, signAgreement, stat } from './metrics';
import { Bilevel, drawS, leastSquaresProblem, type Problem, tanhNetProblem } from './problem';
import { innerSteps, norm, type SolveResult, solveLower } from './solver';

const { max, abs } = Math;

/** ε of the feasible set S = ε·1 + τ·Δ the study draws s from. */
export const EPS = 1e-3;

/** A named family of validation problems (one instance per seed). */
export interface ProblemSpec {
  readonly key: string;
  /** Upper-level data: 1 = D1 ≠ D2 (default), 2 = D1 = D2. */
  readonly upper?: 1 | 2;
  make(seed: number): Problem;
}

/** The problems of the published table. */
export const PROBLEMS: readonly ProblemSpec[] = [
  {
    key: 'matrix 8×7 r=4',
    make: (seed) =>
      leastSquaresProblem(seed, { dims: [8, 7], r: 4, teacher: [2, 1], noise: 1, n1: 256, n2: 256, tau: 2 }),
  },
  {
    key: 'matrix 8×7 r=4, D1 = D2',
    upper: 2,
    make: (seed) =>
      leastSquaresProblem(seed, { dims: [8, 7], r: 4, teacher: [2, 1], noise: 1, n1: 256, n2: 256, tau: 2 }),
  },
  {
    key: 'matrix 8×7 r=4, τ = 6 (over budget)',
    make: (seed) =>
      leastSquaresProblem(seed, { dims: [8, 7], r: 4, teacher: [2, 1], noise: 1, n1: 256, n2: 256, tau: 6 }),
  },
  {
    key: 'matrix 16×12 r=6',
    make: (seed) =>
      leastSquaresProblem(seed, { dims: [16, 12], r: 6, teacher: [3, 2, 1], noise: 1, n1: 512, n2: 512, tau: 4 }),
  },
  {
    key: 'CP conv 5×4×3×3 r=4',
    make: (seed) =>
      leastSquaresProblem(seed, { dims: [5, 4, 3, 3], r: 4, teacher: [2, 1], noise: 1, n1: 256, n2: 256, tau: 2 }),
  },
  {
    key: 'tanh net 7→8→3 r=4',
    make: (seed) =>
      tanhNetProblem(seed, { nIn: 7, hidden: 8, classes: 3, r: 4, teacher: [2, 1], n1: 256, n2: 256, tau: 2 }),
  },
];

/** One inner-loop configuration of the T_max study. */
export interface InnerStudyConfig {
  readonly label: string;
  readonly start: 'warm' | 'cold';
  readonly optimizer: 'adam' | 'rgd';
}

export const INNER_CONFIGS: readonly InnerStudyConfig[] = [
  { label: 'Adam lr 1e-2, D2 batch 64, warm start (B* + 10 % noise)', start: 'warm', optimizer: 'adam' },
  { label: 'Adam lr 1e-2, D2 batch 64, cold start (random B)', start: 'cold', optimizer: 'adam' },
  { label: 'Riemannian GD + Armijo, full D2, warm start (B* + 10 % noise)', start: 'warm', optimizer: 'rgd' },
];

/** What a study computes besides the main comparison. */
export interface StudyOptions {
  /** Step counts of the T_max study (empty: skip it). */
  tmax?: readonly number[];
  /** Inner configurations of the T_max study. */
  inner?: readonly InnerStudyConfig[];
  /** Perturbation draws per case in the T_max study. */
  tmaxDraws?: number;
  /** D1 minibatch sizes (0 = all of D1; empty: skip the study). */
  batches?: readonly number[];
  /** Minibatch draws per case. */
  batchDraws?: number;
  /** Also compute the hypergradient by implicit differentiation (default true). */
  implicit?: boolean;
  /** Lower-level tolerance (Riemannian gradient norm, default 1e-11). */
  tol?: number;
}

/** Everything measured on one (problem, geometry, seed). */
export interface CaseResult {
  problem: string;
  geometry: FactorGeometry;
  seed: number;
  order: number;
  s: Float64Array;
  /** The budget τ of S = ε·1 + τ·Δ (for the FW metrics). */
  tau: number;
  solve: SolveResult;
  /** The reference: re-solved central finite differences. */
  exact: Float64Array;
  fdWorstGradNorm: number;
  fdAllConverged: boolean;
  implicit: Float64Array | null;
  cgIterations: number;
  est: Estimates;
  /** ‖G̃_E − (1−d)∂s f1‖ / ‖∂s f1‖ and ‖G̃_T − ∂s f1‖ / ‖∂s f1‖ (the latter only on manifolds). */
  identityEuclidean: number;
  identityTangent: number;
  /** tmax[config][k]: mean over draws of cos(G̃_T at B_T, exact) for T = opts.tmax[k]. */
  tmax: number[][];
  /** batch[k]: mean over draws of cos and of the FW vertex quality (see fwVertexQuality) of G̃_T on a D1 minibatch. */
  batchCos: number[];
  batchVertex: number[];
}

/** Runs one case. Data differ per seed; s, the initial B and all draws come from the same seed. */
export function runCase(spec: ProblemSpec, geometry: FactorGeometry, seed: number, o: StudyOptions = {}): CaseResult {
  const problem = spec.make(1000 + seed);
  const obj = new Bilevel(problem, geometry, { upper: spec.upper ?? 1 });
  const rng = new Rng(7919 * seed + 17);
  const s = drawS(rng, problem.r, problem.tau, EPS);
  const tol = o.tol ?? 1e-11;
  const solve = solveLower(obj, s, randomPoint(obj.shape, obj.geoms, rng), { tol });
  const bStar = solve.b;
  const fd = fdHypergrad(obj, s, bStar, 1e-4, { tol });
  const exact = fd.g;
  const imp = o.implicit === false ? null : implicitHypergrad(obj, s, bStar);
  const est = estimates(obj, s, bStar);
  const d = obj.order;
  const r = s.length;
  const eu = new Float64Array(r);
  const ta = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    eu[i] = est.euclidean[i]! - (1 - d) * est.ds[i]!;
    ta[i] = est.tangent[i]! - est.ds[i]!;
  }
  const dsn = norm(est.ds);
  const tmaxSteps = o.tmax ?? [];
  const tmax: number[][] = [];
  for (const cfg of tmaxSteps.length === 0 ? [] : (o.inner ?? INNER_CONFIGS)) {
    const sums = new Array<number>(tmaxSteps.length).fill(0);
    const draws = o.tmaxDraws ?? 3;
    const last = tmaxSteps[tmaxSteps.length - 1]!;
    for (let q = 0; q < draws; q++) {
      const b0 = cfg.start === 'cold' ? randomPoint(obj.shape, obj.geoms, rng) : perturb(obj, bStar, 0.1, rng);
      const record = (t: number, b: Float64Array): void => {
        const k = tmaxSteps.indexOf(t);
        if (k >= 0) sums[k] = sums[k]! + cosine(estimates(obj, s, b).tangent, exact) / draws;
      };
      record(0, b0);
      innerSteps(obj, s, b0, last, { optimizer: cfg.optimizer, rng, batch: 64, onStep: record });
    }
    tmax.push(sums);
  }
  const batchCos: number[] = [];
  const batchVertex: number[] = [];
  const N1 = problem.model.sizes[(spec.upper ?? 1) - 1]!;
  for (const m0 of o.batches ?? []) {
    const m = m0 === 0 ? N1 : Math.min(m0, N1);
    const draws = m === N1 ? 1 : (o.batchDraws ?? 20);
    let c = 0;
    let v = 0;
    for (let q = 0; q < draws; q++) {
      const rows = m === N1 ? undefined : rng.permutation(N1).subarray(0, m);
      const g = estimates(obj, s, bStar, rows).tangent;
      c += cosine(g, exact) / draws;
      v += fwVertexQuality(g, exact) / draws;
    }
    batchCos.push(c);
    batchVertex.push(v);
  }
  return {
    problem: spec.key,
    geometry,
    seed,
    order: d,
    s,
    tau: problem.tau,
    solve,
    exact,
    fdWorstGradNorm: fd.worstGradNorm,
    fdAllConverged: fd.allConverged,
    implicit: imp === null ? null : imp.g,
    cgIterations: imp === null ? 0 : imp.cgIterations,
    est,
    identityEuclidean: norm(eu) / dsn,
    identityTangent: geometry === 'euclidean' ? 0 : norm(ta) / dsn,
    tmax,
    batchCos,
    batchVertex,
  };
}

/** b* + Δ with ‖Δ‖ = σ‖b*‖ (Gaussian direction), then retracted. */
function perturb(obj: Bilevel, b: Float64Array, sigma: number, rng: Rng): Float64Array {
  const z = new Float64Array(b.length);
  for (let i = 0; i < z.length; i++) z[i] = rng.normal();
  const k = (sigma * norm(b)) / norm(z);
  const out = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i]! + k * z[i]!;
  obj.retract(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tables

function groups(results: readonly CaseResult[]): CaseResult[][] {
  const m = new Map<string, CaseResult[]>();
  for (const c of results) {
    const k = `${c.problem}\u0000${c.geometry}`;
    const list = m.get(k) ?? [];
    list.push(c);
    m.set(k, list);
  }
  return [...m.values()];
}

type Variant = 'ds' | 'euclidean' | 'tangent';
const pick = (c: CaseResult, v: Variant): Float64Array => (v === 'ds' ? c.est.ds : c.est[v]);

/** Cosine, relative error, sign agreement and FW vertex quality of the estimates, per problem and geometry. */
export function mainTables(results: readonly CaseResult[]): string {
  const head1 =
    '| problem | geometry | cos(∂s f1, exact) | cos(G̃ Euclidean grads, exact) | cos(G̃ tangent grads, exact) |\n' +
    '|---|---|---|---|---|\n';
  const head2 =
    '| problem | geometry | rel. err ∂s f1 | rel. err G̃ Euclidean | sign agr. ∂s f1 | sign agr. G̃ Euclidean | ' +
    'FW vertex quality, G̃ tangent | FW vertex quality, G̃ Euclidean |\n|---|---|---|---|---|---|---|---|\n';
  let t1 = head1;
  let t2 = head2;
  for (const g of groups(results)) {
    const c0 = g[0]!;
    const col = (f: (c: CaseResult) => number, digits = 2, signed = true): string =>
      fmtStat(stat(g.map(f)), digits, signed);
    t1 +=
      `| ${c0.problem} | ${c0.geometry} | ${col((c) => cosine(c.est.ds, c.exact))} | ` +
      `${col((c) => cosine(c.est.euclidean, c.exact))} | ${col((c) => cosine(c.est.tangent, c.exact))} |\n`;
    const re = (v: Variant) => col((c) => relativeError(pick(c, v), c.exact), 2, false);
    const sa = (v: Variant) => col((c) => signAgreement(pick(c, v), c.exact), 2, false);
    const va = (v: Variant) => col((c) => fwVertexQuality(pick(c, v), c.exact), 2, false);
    t2 +=
      `| ${c0.problem} | ${c0.geometry} | ${re('ds')} | ${re('euclidean')} | ${sa('ds')} | ${sa('euclidean')} | ` +
      `${va('tangent')} | ${va('euclidean')} |\n`;
  }
  return `${t1}\n${t2}`;
}

/** Solver residuals, FD vs implicit agreement, identity residuals, shape of the exact hypergradient. */
export function diagnosticsTable(results: readonly CaseResult[]): string {
  let t =
    '| problem | geometry | seeds | lower-level ‖grad‖ (max) | solves converged | FD vs implicit rel. diff (max, non-flat) | ' +
    'CG iters (mean) | identity G̃_E = (1−d)∂s f1 (max rel.) | identity G̃_T = ∂s f1 (max rel.) | ' +
    '‖exact‖ / ‖∂s f1‖ (mean [min, max]) | flat F | neg. entries of exact (mean of r) | spread of exact (mean) |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n';
  for (const g of groups(results)) {
    const c0 = g[0]!;
    const mx = (f: (c: CaseResult) => number): number => g.reduce((a, c) => max(a, f(c)), 0);
    const mean = (f: (c: CaseResult) => number): number => g.reduce((a, c) => a + f(c), 0) / g.length;
    const conv = g.filter((c) => c.solve.converged && c.fdAllConverged).length;
    // Flat F: the exact hypergradient vanishes (e.g. the adapter reaches the unconstrained optimum, so s
    // does not matter locally); relative comparisons are then meaningless and are left out here.
    const flat = (c: CaseResult): boolean => norm(c.exact) < 1e-4 * norm(c.est.ds);
    const sharp = g.filter((c) => !flat(c) && c.implicit !== null);
    const fdImp =
      sharp.length === 0
        ? '—'
        : sharp.reduce((a, c) => max(a, relativeError(c.implicit as Float64Array, c.exact)), 0).toExponential(1);
    const ratio = fmtStat(stat(g.map((c) => norm(c.exact) / norm(c.est.ds))), 2, false);
    const neg = mean((c) => c.exact.filter((x) => x < 0).length);
    // spread: (max − min) / max |entry| — near 0 when every component gets the same hypergradient.
    const spread = mean((c) => {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      let am = 0;
      for (const x of c.exact) {
        lo = Math.min(lo, x);
        hi = max(hi, x);
        am = max(am, abs(x));
      }
      return (hi - lo) / am;
    });
    t +=
      `| ${c0.problem} | ${c0.geometry} | ${g.length} | ${mx((c) => max(c.solve.gradNorm, c.fdWorstGradNorm)).toExponential(1)} | ` +
      `${conv}/${g.length} | ${fdImp} | ${mean((c) => c.cgIterations).toFixed(0)} | ` +
      `${mx((c) => c.identityEuclidean).toExponential(1)} | ${c0.geometry === 'euclidean' ? 'n/a' : mx((c) => c.identityTangent).toExponential(1)} | ` +
      `${ratio} | ${g.filter(flat).length}/${g.length} | ${neg.toFixed(1)} / ${c0.s.length} | ${spread.toFixed(2)} |\n`;
  }
  return t;
}

/** cos(G̃ tangent at B_T, exact) against the number of inner steps, per inner configuration. */
export function tmaxTable(
  results: readonly CaseResult[],
  steps: readonly number[],
  configs: readonly InnerStudyConfig[],
): string {
  let out = '';
  configs.forEach((cfg, k) => {
    out += `**${cfg.label}** — cos(G̃ tangent grads at B_T, exact), mean [min, max] over seeds:\n\n`;
    out += `| problem | geometry | ${steps.map((t) => `T = ${t}`).join(' | ')} |\n|---|---|${steps.map(() => '---|').join('')}\n`;
    for (const g of groups(results)) {
      if (g[0]!.tmax.length <= k) continue;
      const c0 = g[0]!;
      out += `| ${c0.problem} | ${c0.geometry} | ${steps.map((_, j) => fmtStat(stat(g.map((c) => c.tmax[k]![j]!)))).join(' | ')} |\n`;
    }
    out += '\n';
  });
  return out;
}

/** cos(G̃ tangent on a D1 minibatch, exact) and its FW vertex quality, against the minibatch size. */
export function batchTable(results: readonly CaseResult[], batches: readonly number[]): string {
  const name = (m: number): string => (m === 0 ? 'all of D1' : `m = ${m}`);
  let out =
    `| problem | geometry | ${batches.map((m) => `cos, ${name(m)}`).join(' | ')} | ${batches.map((m) => `FW vertex, ${name(m)}`).join(' | ')} |\n` +
    `|---|---|${batches.map(() => '---|---|').join('')}\n`;
  for (const g of groups(results)) {
    if (g[0]!.batchCos.length === 0) continue;
    const c0 = g[0]!;
    const cos = batches.map((_, j) => fmtStat(stat(g.map((c) => c.batchCos[j]!))));
    const ver = batches.map((_, j) => fmtStat(stat(g.map((c) => c.batchVertex[j]!)), 2, false));
    out += `| ${c0.problem} | ${c0.geometry} | ${cos.join(' | ')} | ${ver.join(' | ')} |\n`;
  }
  return out;
}

/** One seed's s, exact hypergradient and ∂s f1 per problem and geometry (to see what the numbers look like). */
export function examplesTable(results: readonly CaseResult[]): string {
  const f = (a: Float64Array): string => [...a].map((x) => x.toFixed(3)).join(', ');
  let t = '| problem | geometry | s | exact dF/ds | ∂s f1 |\n|---|---|---|---|---|\n';
  for (const g of groups(results)) {
    const c = g[0]!;
    t += `| ${c.problem} | ${c.geometry} | ${f(c.s)} | ${f(c.exact)} | ${f(c.est.ds)} |\n`;
  }
  return t;
}
