/**
 * bench/fw.bench.ts — times one Frank-Wolfe step on the budget simplex at r = 1e5 (global scope):
 * away-step FW with the short step (the acceptance case: well under 1 ms), plus plain FW, pairwise
 * and the adaptive rule for comparison. Checks feasibility and the gap against a brute-force
 * reference before timing. Run: see docs/frank-wolfe.md ("Speed").
 */

import type { FrankWolfeConfig } from '../lib/fw';
import { SimplexFrankWolfe } from '../lib/fw';

/** One timed case, in the shape of the bench results files (DESIGN.md, "Benchmarks"). */
export interface FwBenchCase {
  readonly op: string;
  readonly shape: { readonly r: number; readonly blocks: number };
  readonly median_ms: number;
  readonly p99_ms: number;
  /**
   * Mean CPU time (user + system) of this process per step over a separate run of 400 steps: on a
   * shared machine wall-clock medians include time the process spent waiting for a core, CPU time
   * does not.
   */
  readonly cpu_ms: number;
  readonly samples: number;
  /** Steps of each type taken while timing (so a case that only converged is visible). */
  readonly counts: Readonly<Record<string, number>>;
}

const R = 100_000;
const EPS = 1e-5;
const TAU = 64;

// mulberry32, inline so the bench does not import from test/
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A rotating set of random gradients (linear objectives that change every step), so the steps keep
 * changing type (FW, away, drop) and the method never converges while timed: a converged step
 * does no update and would flatter the number.
 */
function gradients(count: number): Float64Array[] {
  const u = rng(12345);
  return Array.from({ length: count }, () => Float64Array.from({ length: R }, () => 2 * u() - 1));
}

function check(fw: SimplexFrankWolfe, grad: Float64Array): void {
  const s = fw.s;
  let mass = 0;
  for (let i = 0; i < s.length; i++) {
    const v = s[i] as number;
    if (!(v >= EPS)) throw new Error(`bench check: s[${i}] = ${v} < epsilon`);
    mass += v - EPS;
  }
  const tau = fw.blocks[0]?.tau ?? TAU;
  if (mass > tau * (1 + 1e-9)) throw new Error(`bench check: Σ(s − ε) = ${mass} > tau = ${tau}`);
  // gap by brute force over every vertex, against the step's own gap
  let gs = 0;
  let gmin = 0;
  for (let i = 0; i < s.length; i++) {
    gs += (grad[i] as number) * ((s[i] as number) - EPS);
    gmin = Math.min(gmin, grad[i] as number);
  }
  const ref = gs - tau * gmin;
  const ev = fw.step(grad);
  if (Math.abs(ev.gap - ref) > 1e-9 * Math.max(1, Math.abs(ref))) {
    throw new Error(`bench check: gap ${ev.gap} differs from the brute-force gap ${ref}`);
  }
}

/** Runs the cases; returns them (median and p99 in ms per step). */
export async function fwBench(time = 500): Promise<FwBenchCase[]> {
  const { Bench } = await import('tinybench');
  const grads = gradients(8);
  const cases: { name: string; config: FrankWolfeConfig }[] = [
    {
      name: 'fw_step_away_short',
      config: { tau: TAU, epsilon: EPS, gapTol: 1e-12, variant: 'away', stepSize: { rule: 'short', M: 4 } },
    },
    {
      name: 'fw_step_plain_short',
      config: { tau: TAU, epsilon: EPS, gapTol: 1e-12, variant: 'fw', stepSize: { rule: 'short', M: 4 } },
    },
    {
      name: 'fw_step_pairwise_short',
      config: { tau: TAU, epsilon: EPS, gapTol: 1e-12, variant: 'pairwise', stepSize: { rule: 'short', M: 4 } },
    },
    {
      name: 'fw_step_away_open_loop',
      config: { tau: TAU, epsilon: EPS, gapTol: 1e-12, variant: 'away', stepSize: { rule: 'open-loop' } },
    },
  ];
  const bench = new Bench({ time });
  const steppers = new Map<string, SimplexFrankWolfe>();
  for (const c of cases) {
    const fw = new SimplexFrankWolfe(c.config, [{ name: 'all', rank: R }]);
    // move off the uniform start, then check correctness before timing
    for (let i = 0; i < 200; i++) fw.step(grads[i % grads.length] as Float64Array);
    check(fw, grads[0] as Float64Array);
    steppers.set(c.name, fw);
    let k = 0;
    bench.add(c.name, () => {
      fw.step(grads[k++ % grads.length] as Float64Array);
    });
  }
  await bench.run();
  return bench.tasks.map((task) => {
    const r = task.result as { latency?: { p50?: number; p99?: number; samplesCount?: number } };
    const fw = steppers.get(task.name) as SimplexFrankWolfe;
    const steps = 400;
    const before = process.cpuUsage();
    for (let k = 0; k < steps; k++) fw.step(grads[k % grads.length] as Float64Array);
    const used = process.cpuUsage(before);
    return {
      op: task.name,
      shape: { r: R, blocks: 1 },
      median_ms: r.latency?.p50 ?? Number.NaN,
      p99_ms: r.latency?.p99 ?? Number.NaN,
      cpu_ms: (used.user + used.system) / 1000 / steps,
      samples: r.latency?.samplesCount ?? task.runs,
      counts: fw.result().counts,
    };
  });
}

if (require.main === module) {
  fwBench().then(
    (cases) => {
      console.table(
        cases.map((c) => ({
          op: c.op,
          r: c.shape.r,
          median_ms: c.median_ms.toFixed(4),
          p99_ms: c.p99_ms.toFixed(4),
          cpu_ms: c.cpu_ms.toFixed(4),
          samples: c.samples,
        })),
      );
      const away = cases.find((c) => c.op === 'fw_step_away_short');
      console.log(
        `one away-step FW step (short step) at r = ${R}: median ${away?.median_ms.toFixed(4)} ms, CPU ${away?.cpu_ms.toFixed(4)} ms`,
      );
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
