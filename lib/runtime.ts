/**
 * runtime.ts — process-wide settings of the native runtime: the size of the shared CPU thread
 * pool and the SIMD code path. Tested in test/native/runtime.test.ts.
 */
import { addon } from './native';
import { int, oneOf } from './validate';

/** SIMD code paths of the CPU kernels. */
export type SimdLevel = 'scalar' | 'avx2' | 'avx512';
export const SIMD_LEVELS: readonly SimdLevel[] = ['scalar', 'avx2', 'avx512'];

/** Threads in the shared pool (the calling thread included). */
export function getNumThreads(): number {
  return addon().nativeInfo().threads;
}

/**
 * Resizes the shared CPU thread pool (default: $DEBORA_NUM_THREADS, else the number of cores).
 * Do not call while an async op is running.
 */
export function setNumThreads(n: number): void {
  addon().setNumThreads(int('setNumThreads', 'n', n, 1, 1024));
}

/**
 * Selects the SIMD code path of the CPU kernels (default: the best the CPU supports, lowered by
 * $DEBORA_SIMD). Asking for more than the CPU supports throws DEBORA_BACKEND_UNAVAILABLE.
 */
export function setSimd(level: SimdLevel): void {
  addon().setSimd(oneOf('setSimd', 'level', level, SIMD_LEVELS));
}
