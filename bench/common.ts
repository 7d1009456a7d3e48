/**
 * common.ts — shared pieces of the benchmark suites: machine description, the roofline measured
 * in the same run, the PyTorch CPU peer (run in its clean two-thread environment, see
 * ../shared/PEERS.md and bench/README.md), and the one JSON result format of DESIGN.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addon, packageRoot } from '../lib/native';

export interface PeerResult {
  name: string;
  median_ms: number;
}

export interface BenchCase {
  op: string;
  shape: Record<string, unknown>;
  median_ms: number | null;
  floor_ms: number;
  ratio_to_floor: number | null;
  gflops: number | null;
  gbs: number | null;
  flops: number;
  bytes: number;
  checked: string;
  peer?: PeerResult | null;
  speedup_vs_peer?: number | null;
  /** A diagnostic, not the target's ratio: the floor from a roofline measured right before and right after
   * this case (mean of the two), since bandwidth drifts by up to 30% over minutes here. */
  floor_adjacent_ms?: number;
  ratio_to_floor_adjacent?: number | null;
  note?: string;
}

export interface BenchFile {
  suite: string;
  backend: string;
  machine: string;
  commit: string;
  date: string;
  threads: number;
  simd: string;
  /** A --quick run (fewer cases, shorter timings); absent in files written before 2026-12-01. */
  quick?: boolean;
  peak_gflops: number;
  bandwidth_gbs: number;
  peak_rss_mib: number;
  rss_before_cases_mib: number;
  rss_after_cases_mib: number;
  call_overhead_us: { lib: number; raw: number };
  cases: BenchCase[];
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
}

export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: packageRoot(), encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Peak FMA rate and bandwidth, measured now with the current thread count. */
export function roofline(seconds = 1.0): { peakGflops: number; bandwidthGbs: number } {
  return addon().roofline(seconds, 64 << 20); // 3 × 64 MiB: far beyond any L3 here
}

export function floorMs(flops: number, bytes: number, peakGflops: number, bandwidthGbs: number): number {
  return Math.max(flops / (peakGflops * 1e6), bytes / (bandwidthGbs * 1e6));
}

/** The clean two-thread PyTorch environment of PEERS.md (never used by tests or CI). */
function peerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  env.OMP_NUM_THREADS = '2';
  env.LD_LIBRARY_PATH = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
  env.GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184';
  return env;
}

let torchProbe: boolean | undefined;

/** Whether the PyTorch peer can run here (probed once; the reason is printed when it cannot). */
export function torchAvailable(): boolean {
  if (torchProbe === undefined) {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env: peerEnv(), encoding: 'utf8' });
    torchProbe = probe.status === 0;
    if (!torchProbe)
      process.stderr.write(
        'bench: PyTorch peer skipped (python3-torch not installed; see bench/README.md: apt-get install python3-torch libopenblas0-openmp)\n',
      );
  }
  return torchProbe;
}

/** Runs bench/peers/torch_peer.py on the cases; null (with the reason printed) if torch is missing. */
export function torchPeer(
  cases: { id: string; op: string; shape: Record<string, unknown> }[],
): Record<string, number> | null {
  if (!torchAvailable()) return null;
  const script = path.join(packageRoot(), 'bench', 'peers', 'torch_peer.py');
  const r = spawnSync('/usr/bin/python3', [script, JSON.stringify(cases)], {
    env: peerEnv(),
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`bench: PyTorch peer failed:\n${r.stderr}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

/** Writes one results file (any suite: the kernels' BenchFile or another suite's rows). */
export function writeResults(file: { suite: string; backend: string; date: string; [key: string]: unknown }): string {
  const dir = path.join(packageRoot(), 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = file.date.replace(/[:]/g, '-').replace(/\..*$/, '');
  const out = path.join(dir, `${file.suite}-${file.backend}-${stamp}.json`);
  const tmp = `${out}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
  fs.renameSync(tmp, out);
  return out;
}
