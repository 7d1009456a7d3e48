/**
 * info.ts — `info()`: what this installation of debora can do (version, backends, SIMD level,
 * threads, CUDA availability or the exact reason not). Also printed by `debora info`.
 * Tested in test/native/info.test.ts and test/e2e/cli.test.ts.
 */
import { type Backend, type BackendName, getBackend } from './backend';
import { addon, addonPath, type NativeInfo, packageVersion } from './native';

/** A CUDA device as reported by the runtime. */
export interface CudaDeviceInfo {
  index: number;
  name: string;
  totalMemoryBytes: number;
  /** e.g. "9.0" for an H100/H200. */
  computeCapability: string;
  multiprocessors: number;
}

/** The result of `info()`. */
export interface DeboraInfo {
  version: string;
  /** Backends that can run ops now ('cpu' always). */
  backends: Backend[];
  /** The default backend as requested ('auto' unless set) and what it resolves to (null: unavailable). */
  defaultBackend: { requested: BackendName; resolved: Backend | null };
  cpu: {
    /** SIMD code path the kernels use now. */
    simd: 'avx512' | 'avx2' | 'scalar';
    /** Best SIMD level this CPU supports. */
    simdSupported: 'avx512' | 'avx2' | 'scalar';
    /** Threads in debora's pool. */
    threads: number;
    hardwareThreads: number;
    /**
     * The system BLAS op gemm can use (linked at build time; never in the node-gyp build): its
     * library file and, for OpenBLAS, its configuration and core. `gemm` is the implementation gemm
     * runs now (setGemmImpl).
     */
    blas: { compiled: boolean; library?: string; config?: string; gemm: 'builtin' | 'blas' };
  };
  cuda: {
    /** Whether this build contains CUDA kernels. */
    compiled: boolean;
    available: boolean;
    /** Why CUDA is unavailable (absent when available). */
    reason?: string;
    /** e.g. "13.0"; absent when unknown. */
    runtimeVersion?: string;
    driverVersion?: string;
    devices: CudaDeviceInfo[];
  };
  build: { tool: string; addonPath: string };
  node: string;
  platform: string;
}

function cudaVersion(v: number): string | undefined {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : undefined;
}

/** Same rule as resolveBackend, without its warning or throw: info() only describes. */
function resolvedFor(requested: BackendName, cudaAvailable: boolean): Backend | null {
  if (requested === 'cpu') return 'cpu';
  if (cudaAvailable) return 'cuda';
  return requested === 'auto' ? 'cpu' : null;
}

function blasInfo(b: NativeInfo['blas'] | undefined): DeboraInfo['cpu']['blas'] {
  // An addon built before op gemm existed reports no blas entry: describe it as builtin-only.
  if (b === undefined) return { compiled: false, gemm: 'builtin' };
  const out: DeboraInfo['cpu']['blas'] = { compiled: b.compiled, gemm: b.gemm };
  if (b.library) out.library = b.library;
  if (b.config) out.config = b.config;
  return out;
}

/** Reports the installation: version, backends, CPU SIMD level and threads, CUDA status. */
export function info(): DeboraInfo {
  const n = addon().nativeInfo();
  const cuda: DeboraInfo['cuda'] = {
    compiled: n.cuda.compiled,
    available: n.cuda.available,
    devices: n.cuda.devices,
  };
  if (n.cuda.reason !== undefined) cuda.reason = n.cuda.reason;
  const rt = cudaVersion(n.cuda.runtimeVersion);
  if (rt !== undefined) cuda.runtimeVersion = rt;
  const drv = cudaVersion(n.cuda.driverVersion);
  if (drv !== undefined) cuda.driverVersion = drv;
  const requested = getBackend();
  return {
    version: packageVersion(),
    backends: n.cuda.available ? ['cpu', 'cuda'] : ['cpu'],
    defaultBackend: { requested, resolved: resolvedFor(requested, n.cuda.available) },
    cpu: {
      simd: n.simdActive as DeboraInfo['cpu']['simd'],
      simdSupported: n.simdSupported as DeboraInfo['cpu']['simd'],
      threads: n.threads,
      hardwareThreads: n.hardwareThreads,
      blas: blasInfo(n.blas),
    },
    cuda,
    build: { tool: n.buildTool, addonPath: addonPath() },
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Human-readable lines of `info()` (what `debora info` prints). */
export function formatInfo(i: DeboraInfo): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const lines = [
    `debora ${i.version} (${i.platform}, Node ${i.node})`,
    `backends:     ${i.backends.join(', ')} (default: ${i.defaultBackend.requested} -> ${i.defaultBackend.resolved ?? 'unavailable'})`,
    `cpu:          simd ${i.cpu.simd} (best supported: ${i.cpu.simdSupported}), ${i.cpu.threads} threads (${i.cpu.hardwareThreads} hardware)`,
    `gemm:         ${i.cpu.blas.gemm}${i.cpu.blas.compiled ? ` (system BLAS ${i.cpu.blas.library}${i.cpu.blas.config ? `: ${i.cpu.blas.config}` : ''})` : ' (no system BLAS compiled in)'}`,
  ];
  if (i.cuda.available) {
    lines.push(
      `cuda:         available, runtime ${i.cuda.runtimeVersion ?? '?'}, driver ${i.cuda.driverVersion ?? '?'}`,
    );
    for (const d of i.cuda.devices) {
      lines.push(
        `  device ${d.index}:   ${d.name}, ${gib(d.totalMemoryBytes)}, compute capability ${d.computeCapability}, ${d.multiprocessors} SMs`,
      );
    }
  } else {
    lines.push(
      `cuda:         unavailable${i.cuda.compiled ? ' (kernels compiled in)' : ' (not compiled in)'}: ${i.cuda.reason}`,
    );
  }
  lines.push(`addon:        ${i.build.addonPath} (built by ${i.build.tool})`);
  return lines.join('\n');
}
