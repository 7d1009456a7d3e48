/**
 * standing.ts — where issue 3's CPU speed targets stand across recorded runs (`npm run bench:standing`).
 * Reads bench/results/kernels-cpu-*.json (written by kernels.bench.ts) and prints, per run and target
 * case, the ratio to the floor and the speedup over PyTorch, each against its target, plus the
 * peer's own ratio to the floor. That last number bounds what any kernel can show: a kernel running
 * exactly at the floor is only (peer ms / floor ms) times faster than the peer, so a "≥ k× PyTorch"
 * target with the peer below k× the floor would need a kernel faster than the floor in that run.
 * --quick runs are left out. Options: --last K (default 8 runs), --all, --since YYYY-MM-DD, --min-peak G (runs whose measured
 * peak is ≥ G GFLOP/s: separates the machine kinds, ~190 AVX2, ~234 Zen 4, ~430 Zen 5).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchCase, BenchFile } from './common';

/** Issue 3's targets, on the shapes it names (the bench's cp_linear, cp_conv2d and cp_mttkrp cases). */
const TARGETS: Record<string, { floor: number; peer?: number }> = {
  cp_linear_fwd_bwd: { floor: 1.5, peer: 3 },
  cp_conv2d_fwd_bwd: { floor: 2, peer: 5 },
  cp_mttkrp: { floor: 2 },
};
const CALL_OVERHEAD_US = 5;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`standing: ${name} needs a value`);
  return v;
}

/** A --quick run: flagged since 2026-12-01; older files are recognised by their two cp_linear shapes (of six). */
function isQuick(d: BenchFile): boolean {
  if (d.quick !== undefined) return d.quick;
  return d.cases.filter((c) => c.op === 'cp_linear_fwd_bwd').length < 6;
}

function label(c: BenchCase): string {
  const s = c.shape;
  if (c.op === 'cp_linear_fwd_bwd') return `linear N=${s.N} r=${s.r}`;
  if (c.op === 'cp_conv2d_fwd_bwd') return `conv r=${s.r}`;
  const dims = Array.isArray(s.dims) ? (s.dims as number[]).join('x') : JSON.stringify(s);
  return `mttkrp ${dims} r=${s.r}`;
}

function main(): void {
  const dir = path.join(__dirname, '..', '..', 'bench', 'results');
  const since = arg('--since');
  const minPeak = Number(arg('--min-peak') ?? 0);
  if (!Number.isFinite(minPeak)) throw new Error('standing: --min-peak must be a number (GFLOP/s)');
  const last = process.argv.includes('--all') ? Number.POSITIVE_INFINITY : Number(arg('--last') ?? 8);
  if (!(last >= 1)) throw new Error('standing: --last must be a positive integer');
  let files = fs
    .readdirSync(dir)
    .filter((f) => /^kernels-cpu-.*\.json$/.test(f))
    .sort();
  if (since) files = files.filter((f) => f.slice('kernels-cpu-'.length) >= since);
  const runs = files
    .map((f) => ({ f, d: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as BenchFile }))
    .filter((x) => !isQuick(x.d) && x.d.peak_gflops >= minPeak)
    .slice(-last);
  if (runs.length === 0) throw new Error(`standing: no kernels-cpu-*.json in ${dir} matches the options`);

  /** Per case over the runs: measured, floor target met, peer measured, peer target met, peer below its target × floor. */
  const tally = new Map<string, { n: number; floor: number; peerN: number; peer: number; out: number }>();
  const fmt = (x: number | null | undefined, d = 2) => (x == null ? '—' : x.toFixed(d));
  for (const { f, d } of runs) {
    const over = d.call_overhead_us?.lib;
    console.log(
      `\n${f}  commit ${d.commit}, ${d.peak_gflops.toFixed(0)} GFLOP/s, ${d.bandwidth_gbs.toFixed(1)} GB/s, ` +
        `call overhead ${fmt(over)} µs (target ≤ ${CALL_OVERHEAD_US})`,
    );
    console.log('  case                      × floor (target)   × torch (target)   torch × floor');
    for (const c of d.cases) {
      const t = TARGETS[c.op];
      if (!t) continue;
      if (c.ratio_to_floor == null) {
        // Not timed (the case failed its check or was skipped): a miss, not a gap in the count.
        const row = tally.get(label(c)) ?? { n: 0, floor: 0, peerN: 0, peer: 0, out: 0 };
        row.n += 1;
        tally.set(label(c), row);
        console.log(`  ${label(c).padEnd(26)}not timed: ${c.note ?? 'no median'}`);
        continue;
      }
      const name = label(c);
      const row = tally.get(name) ?? { n: 0, floor: 0, peerN: 0, peer: 0, out: 0 };
      row.n += 1;
      const floorOk = c.ratio_to_floor <= t.floor;
      if (floorOk) row.floor += 1;
      let peerCol = '—';
      let peerFloor = '—';
      if (t.peer !== undefined && c.speedup_vs_peer != null && c.peer) {
        const ok = c.speedup_vs_peer >= t.peer;
        const peerX = c.peer.median_ms / c.floor_ms;
        row.peerN += 1;
        if (ok) row.peer += 1;
        if (peerX < t.peer) row.out += 1;
        peerCol = `${fmt(c.speedup_vs_peer)} (≥ ${t.peer}) ${ok ? 'ok' : 'MISS'}`;
        peerFloor = `${fmt(peerX)}${peerX < t.peer ? ' < target' : ''}`;
      }
      tally.set(name, row);
      const floorCol = `${fmt(c.ratio_to_floor)} (≤ ${t.floor}) ${floorOk ? 'ok' : 'MISS'}`;
      console.log(`  ${name.padEnd(26)}${floorCol.padEnd(19)}${peerCol.padEnd(19)}${peerFloor}`);
    }
  }
  console.log(
    `\nOver ${runs.length} run(s): floor target met / torch target met / torch × floor below the torch target`,
  );
  for (const [name, t] of tally) {
    const peer = t.peerN ? `${t.peer}/${t.peerN}` : '—';
    console.log(
      `  ${name.padEnd(26)}${`${t.floor}/${t.n}`.padEnd(8)}${peer.padEnd(8)}${t.peerN ? `${t.out}/${t.peerN}` : '—'}`,
    );
  }
}

main();
