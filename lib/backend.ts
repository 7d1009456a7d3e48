/**
 * backend.ts — the one place where the compute backend is chosen: 'auto' | 'cpu' | 'cuda'.
 * 'cuda' without a usable GPU throws DEBORA_BACKEND_UNAVAILABLE with the exact reason; 'auto'
 * falls back to the CPU and says so once. Default: $DEBORA_BACKEND, else 'auto'.
 * Tested in test/native/backend.test.ts.
 */
import { DeboraError } from './errors';
import { addon } from './native';
import { oneOf } from './validate';

/** A backend as the user asks for it. */
export type BackendName = 'auto' | 'cpu' | 'cuda';
/** A backend that ops actually run on. */
export type Backend = 'cpu' | 'cuda';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'cpu', 'cuda'];

let requested: BackendName | undefined;
let warnedFallback = false;

/** Sets the default backend for every op that is not given one explicitly. Validates now. */
export function setBackend(name: BackendName): Backend {
  const b = oneOf('setBackend', 'name', name, BACKEND_NAMES);
  const resolved = resolveBackend(b);
  requested = b;
  return resolved;
}

/** The default backend as requested (before resolution). */
export function getBackend(): BackendName {
  if (requested === undefined) {
    const env = process.env.DEBORA_BACKEND;
    requested =
      env === undefined || env === '' ? 'auto' : oneOf('DEBORA_BACKEND', 'DEBORA_BACKEND', env, BACKEND_NAMES);
  }
  return requested;
}

let cudaReason: { reason: string | undefined } | undefined;

/** Why CUDA cannot be used, or undefined when it can. Asked once per process (it cannot change). */
export function cudaUnavailableReason(): string | undefined {
  if (cudaReason === undefined) {
    const c = addon().nativeInfo().cuda;
    cudaReason = { reason: c.available ? undefined : (c.reason ?? 'CUDA is unavailable') };
  }
  return cudaReason.reason;
}

/**
 * Resolves a requested backend (default: the one set by setBackend / $DEBORA_BACKEND) for an op.
 * `hasCudaKernel` false (an op whose CUDA twin does not exist yet) makes 'auto' pick the CPU
 * without a warning; an explicit 'cuda' is still returned, and the binding refuses it by name.
 */
export function resolveBackend(name?: BackendName, hasCudaKernel = true): Backend {
  const b = name === undefined ? getBackend() : oneOf('resolveBackend', 'backend', name, BACKEND_NAMES);
  if (b === 'cpu' || (b === 'auto' && !hasCudaKernel)) return 'cpu';
  const reason = cudaUnavailableReason();
  if (b === 'cuda') {
    if (reason !== undefined) {
      throw new DeboraError(`backend 'cuda' was requested but is unavailable: ${reason}`, 'DEBORA_BACKEND_UNAVAILABLE');
    }
    return 'cuda';
  }
  if (reason === undefined) return 'cuda';
  if (!warnedFallback) {
    warnedFallback = true;
    process.emitWarning(`debora: using the CPU backend (CUDA unavailable: ${reason})`, { code: 'DEBORA_CPU_FALLBACK' });
  }
  return 'cpu';
}

/** The backend code the bindings take (0 = cpu, 1 = cuda). */
export function backendCode(b: Backend): number {
  return b === 'cuda' ? 1 : 0;
}
