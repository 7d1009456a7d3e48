/**
 * native.ts — finds and loads the native addon (lazily, on first use), checks it matches this
 * package's version, and hands it the DeboraError class. One clear error when it is missing or
 * broken: what was tried and how to rebuild. Tested in test/native/loader.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeboraError, type DeboraErrorCode } from './errors';

/** The raw addon surface (bindings/*.cpp). Use the typed wrappers in lib/ instead. */
export interface NativeAddon {
  setErrorClass(cls: new (message: string, code: DeboraErrorCode) => Error): void;
  statusCodes(): string[];
  throwNativeException(): never;
  nativeInfo(): NativeInfo;
  setNumThreads(n: number): void;
  setSimd(level: string): void;
  /** Measures peak FMA GFLOP/s and triad GB/s now (takes about `seconds` + a bandwidth pass). */
  roofline(seconds: number, bytesPerArray: number): { peakGflops: number; bandwidthGbs: number };
  cpHypergrad(backend: number, ds: Float32Array, s: Float32Array, dots: Float32Array, out: Float32Array): Float32Array;
  cpLinearFwd(
    backend: number,
    N: number,
    nIn: number,
    nOut: number,
    r: number,
    X: Float32Array,
    U: Float32Array,
    V: Float32Array,
    s: Float32Array,
    Y: Float32Array,
    accumulate: boolean,
    Z: Float32Array | null,
  ): void;
  cpLinearBwd(
    backend: number,
    N: number,
    nIn: number,
    nOut: number,
    r: number,
    X: Float32Array,
    U: Float32Array,
    V: Float32Array,
    s: Float32Array,
    dY: Float32Array,
    Z: Float32Array | null,
    dX: Float32Array | null,
    accumulateDx: boolean,
    dU: Float32Array,
    dV: Float32Array,
    ds: Float32Array,
    dots: Float32Array | null,
  ): void;
  cpLinearFwdAsync(...args: Parameters<NativeAddon['cpLinearFwd']>): Promise<void>;
  cpLinearBwdAsync(...args: Parameters<NativeAddon['cpLinearBwd']>): Promise<void>;
  /** geom = [batch, C, H, W, F, kh, kw, strideH, strideW, padH, padW, dilH, dilW] */
  cpConv2dFwd(
    backend: number,
    geom: number[],
    r: number,
    X: Float32Array,
    U1: Float32Array,
    U2: Float32Array,
    U3: Float32Array,
    U4: Float32Array,
    s: Float32Array,
    Y: Float32Array,
    accumulate: boolean,
  ): void;
  cpConv2dBwd(
    backend: number,
    geom: number[],
    r: number,
    X: Float32Array,
    U1: Float32Array,
    U2: Float32Array,
    U3: Float32Array,
    U4: Float32Array,
    s: Float32Array,
    dY: Float32Array,
    dX: Float32Array | null,
    accumulateDx: boolean,
    dU1: Float32Array,
    dU2: Float32Array,
    dU3: Float32Array,
    dU4: Float32Array,
    ds: Float32Array,
    dots: Float32Array | null,
  ): void;
  cpConv2dFwdAsync(...args: Parameters<NativeAddon['cpConv2dFwd']>): Promise<void>;
  cpConv2dBwdAsync(...args: Parameters<NativeAddon['cpConv2dBwd']>): Promise<void>;
  cpMaterialize(
    backend: number,
    dims: number[],
    r: number,
    factors: Float32Array[],
    s: Float32Array,
    out: Float32Array,
  ): void;
  cpMttkrp(
    backend: number,
    dims: number[],
    r: number,
    factors: Float32Array[],
    s: Float32Array,
    G: Float32Array,
    grads: Float32Array[],
    ds: Float32Array,
    dots: Float32Array | null,
  ): void;
  cpMaterializeAsync(...args: Parameters<NativeAddon['cpMaterialize']>): Promise<void>;
  cpMttkrpAsync(...args: Parameters<NativeAddon['cpMttkrp']>): Promise<void>;
  /** geometry: 0 euclidean, 1 oblique, 2 stiefel */
  cpTangent(
    backend: number,
    geometry: number,
    n: number,
    r: number,
    U: Float32Array,
    G: Float32Array,
    out: Float32Array,
    dots: Float32Array | null,
  ): void;
  /** Device buffers and cp_linear's device entries (bindings/cuda_buffer.cpp; lib/cuda-buffer.ts). */
  cudaBufferAlloc(length: number): unknown;
  cudaBufferFree(handle: unknown): void;
  cudaBufferUpload(handle: unknown, src: Float32Array, offset: number): void;
  cudaBufferDownload(handle: unknown, dst: Float32Array, offset: number): void;
  cudaSynchronize(): void;
  cpLinearFwdDev(
    N: number,
    nIn: number,
    nOut: number,
    r: number,
    X: unknown,
    U: unknown,
    V: unknown,
    s: unknown,
    Y: unknown,
    accumulate: boolean,
    Z: unknown | null,
  ): void;
  cpLinearBwdDev(
    N: number,
    nIn: number,
    nOut: number,
    r: number,
    X: unknown,
    U: unknown,
    V: unknown,
    s: unknown,
    dY: unknown,
    Z: unknown | null,
    dX: unknown | null,
    accumulateDx: boolean,
    dU: unknown,
    dV: unknown,
    ds: unknown,
    dots: unknown | null,
  ): void;
  /** Row-major SGEMM: C = alpha·op(A)·op(B) + beta·C (bindings/gemm.cpp). */
  gemm(
    backend: number,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    lda: number,
    B: Float32Array,
    ldb: number,
    beta: number,
    C: Float32Array,
    ldc: number,
  ): void;
  gemmAsync(...args: Parameters<NativeAddon['gemm']>): Promise<void>;
  /** 0 auto, 1 builtin, 2 blas */
  gemmSetImpl(impl: number): void;
  /** The implementation gemm runs now: 1 builtin, 2 blas. */
  gemmImpl(): number;
  /** geom = [batch, C, H, W, F, kh, kw, strideH, strideW, padH, padW, dilH, dilW] */
  conv2dFwd(
    backend: number,
    geom: number[],
    X: Float32Array,
    K: Float32Array,
    bias: Float32Array | null,
    Y: Float32Array,
    accumulate: boolean,
  ): void;
  conv2dBwd(
    backend: number,
    geom: number[],
    X: Float32Array | null,
    K: Float32Array | null,
    dY: Float32Array,
    dX: Float32Array | null,
    accumulateDx: boolean,
    dK: Float32Array | null,
    accumulateDk: boolean,
    dbias: Float32Array | null,
    accumulateDbias: boolean,
  ): void;
  conv2dFwdAsync(...args: Parameters<NativeAddon['conv2dFwd']>): Promise<void>;
  conv2dBwdAsync(...args: Parameters<NativeAddon['conv2dBwd']>): Promise<void>;
  /** y = max(x, 0) element-wise, y may be x (bindings/relu.cpp). */
  reluFwd(backend: number, x: Float32Array, y: Float32Array): void;
  /** dX (+)= dY·[m > 0], m the forward's input or output. */
  reluBwd(backend: number, m: Float32Array, dY: Float32Array, dX: Float32Array, accumulate: boolean): void;
  /** 2-D max pooling, NCHW; argmax (per H×W plane) for the backward when given (bindings/max_pool2d.cpp). */
  maxPool2dFwd(backend: number, geom: number[], x: Float32Array, y: Float32Array, argmax: Int32Array | null): void;
  /** Scatters dY into dX through argmax. */
  maxPool2dBwd(
    backend: number,
    geom: number[],
    argmax: Int32Array,
    dY: Float32Array,
    dX: Float32Array,
    accumulate: boolean,
  ): void;
}

/** What the addon reports about itself (shaped into `info()` by lib/info.ts). */
export interface NativeInfo {
  version: string;
  buildTool: string;
  simdSupported: string;
  simdActive: string;
  threads: number;
  hardwareThreads: number;
  /** gemm's system BLAS: linked or not, library file, OpenBLAS config and core ('' when absent). */
  blas: { compiled: boolean; library: string; config: string; gemm: 'builtin' | 'blas' };
  cuda: {
    compiled: boolean;
    runtimeVersion: number;
    driverVersion: number;
    available: boolean;
    reason?: string;
    devices: {
      index: number;
      name: string;
      totalMemoryBytes: number;
      computeCapability: string;
      multiprocessors: number;
    }[];
  };
}

/** The package root: the nearest folder above this file whose package.json is named debora. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'debora') return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new DeboraError(`cannot find debora's package.json above ${__dirname}`, 'DEBORA_INTERNAL');
    dir = up;
  }
}

/** The package version from package.json. */
export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}

/** Where the addon may be, in the order tried: $DEBORA_ADDON_PATH, the cmake-js build, the node-gyp build. */
export function addonCandidates(): string[] {
  const env = process.env.DEBORA_ADDON_PATH;
  if (env) return [path.resolve(env)];
  const root = packageRoot();
  const out: string[] = [];
  for (const dir of ['build-cmake', 'build']) {
    for (const cfg of ['Release', 'RelWithDebInfo', 'Debug']) out.push(path.join(root, dir, cfg, 'debora.node'));
  }
  return out;
}

const REBUILD_HINT =
  'Rebuild it with `npm run build:native` in the debora package folder (needs a C++17 compiler and CMake; ' +
  'without CMake, `npm run build:gyp`). npm >= 11 skips the install scripts of dependencies unless approved: ' +
  'run `npm install-scripts approve debora && npm rebuild debora` (or install with --allow-scripts=debora).';

let loaded: { addon: NativeAddon; path: string } | undefined;

/** Loads the addon at `file` (not cached): for tests that compare the two builds. */
export function loadAddonFrom(file: string): NativeAddon {
  let addon: NativeAddon;
  try {
    addon = require(file) as NativeAddon;
  } catch (e) {
    throw new DeboraError(
      `the debora native addon at ${file} exists but failed to load: ${(e as Error).message}. ${REBUILD_HINT}`,
      'DEBORA_ADDON_LOAD_FAILED',
    );
  }
  const want = packageVersion();
  const have = typeof addon.nativeInfo === 'function' ? addon.nativeInfo().version : 'unknown';
  if (have !== want) {
    throw new DeboraError(
      `the debora native addon at ${file} is version ${have} but the package is ${want} (a stale build). ${REBUILD_HINT}`,
      'DEBORA_ADDON_LOAD_FAILED',
    );
  }
  addon.setErrorClass(DeboraError);
  return addon;
}

/** The loaded addon (loaded on first call). Throws DEBORA_ADDON_LOAD_FAILED with what was tried. */
export function addon(): NativeAddon {
  if (loaded) return loaded.addon;
  const tried = addonCandidates();
  const file = tried.find((f) => fs.existsSync(f));
  if (file === undefined) {
    throw new DeboraError(
      `the debora native addon is not built. Looked for:\n  ${tried.join('\n  ')}\n${REBUILD_HINT}`,
      'DEBORA_ADDON_LOAD_FAILED',
    );
  }
  warnBadThreadEnv();
  loaded = { addon: loadAddonFrom(file), path: file };
  return loaded.addon;
}

/** Path of the loaded addon (loads it if needed). */
export function addonPath(): string {
  addon();
  return (loaded as { path: string }).path;
}

function warnBadThreadEnv(): void {
  const v = process.env.DEBORA_NUM_THREADS;
  if (v !== undefined && !/^\d+$/.test(v)) {
    process.emitWarning(`DEBORA_NUM_THREADS='${v}' is not a positive integer; using the number of cores`, {
      code: 'DEBORA_BAD_ENV',
    });
  } else if (v !== undefined && (Number(v) < 1 || Number(v) > 1024)) {
    process.emitWarning(`DEBORA_NUM_THREADS=${v} is outside [1, 1024]; using the number of cores`, {
      code: 'DEBORA_BAD_ENV',
    });
  }
}
