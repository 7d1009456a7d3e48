/**
 * cuda-buffer.ts — float32 arrays that live in GPU memory (the default CUDA context's device), so a
 * training step can keep weights and activations on the device instead of copying them host↔device
 * on every op, and cp_linear's device entries that take them. Memory is freed by `free()` or, failing
 * that, when the buffer is garbage-collected (a native finalizer). Work on the device is ordered on one
 * stream; `download()` waits for it. Tested in test/gpu/cuda-buffer.test.ts.
 */
import { resolveBackend } from './backend';
import { DeboraError } from './errors';
import { addon } from './native';
import { f32, int } from './validate';

/** The native handle behind a CudaBuffer (a type-tagged external; opaque to JS). */
type Handle = unknown;

/** A float32 array in device memory. Create with `CudaBuffer.alloc(n)` or `CudaBuffer.from(array)`. */
export class CudaBuffer {
  /** Number of float32 elements. */
  readonly length: number;
  #handle: Handle | null;

  private constructor(handle: Handle, length: number) {
    this.#handle = handle;
    this.length = length;
  }

  /** Allocates `length` floats on the GPU (contents undefined). Throws DEBORA_BACKEND_UNAVAILABLE without one. */
  static alloc(length: number): CudaBuffer {
    const n = int('CudaBuffer.alloc', 'length', length, 0);
    resolveBackend('cuda'); // the one clear "no GPU" error, with the reason
    return new CudaBuffer(addon().cudaBufferAlloc(n) as Handle, n);
  }

  /** A device copy of `src`. */
  static from(src: Float32Array): CudaBuffer {
    const b = CudaBuffer.alloc(f32('CudaBuffer.from', 'src', src).length);
    return b.upload(src);
  }

  /** True once `free()` has run. */
  get freed(): boolean {
    return this.#handle === null;
  }

  /** Copies `src` into elements [offset, offset + src.length). Returns this. */
  upload(src: Float32Array, offset = 0): this {
    f32('CudaBuffer.upload', 'src', src);
    const o = int('CudaBuffer.upload', 'offset', offset, 0, this.length);
    addon().cudaBufferUpload(this.handle('upload'), src, o);
    return this;
  }

  /**
   * Copies elements [offset, offset + dst.length) into `dst` (default: a new array of the whole
   * buffer) after the work already enqueued on the device has finished; returns `dst`.
   */
  download(dst?: Float32Array, offset = 0): Float32Array {
    const out = dst === undefined ? new Float32Array(this.length) : f32('CudaBuffer.download', 'dst', dst);
    const o = int('CudaBuffer.download', 'offset', offset, 0, this.length);
    addon().cudaBufferDownload(this.handle('download'), out, o);
    return out;
  }

  /** Frees the device memory now (idempotent). Using the buffer afterwards throws. */
  free(): void {
    if (this.#handle === null) return;
    const h = this.#handle;
    this.#handle = null;
    addon().cudaBufferFree(h);
  }

  /** @internal The native handle, for the device-op wrappers. */
  handle(where: string): Handle {
    if (this.#handle === null) {
      throw new DeboraError(`CudaBuffer.${where}: the buffer was freed`, 'DEBORA_INVALID_ARG');
    }
    return this.#handle;
  }
}

/** Waits for all work enqueued on the default CUDA context; reports an asynchronous kernel failure. */
export function cudaSynchronize(): void {
  addon().cudaSynchronize();
}

/** Sizes and device operands of cp_linear on device buffers (row-major, as cpLinearForward). */
export interface CpLinearDeviceInputs {
  N: number;
  nIn: number;
  nOut: number;
  r: number;
  X: CudaBuffer;
  U: CudaBuffer;
  V: CudaBuffer;
  s: CudaBuffer;
}

function dims(where: string, x: CpLinearDeviceInputs) {
  return {
    N: int(where, 'N', x.N, 0),
    nIn: int(where, 'nIn', x.nIn, 1),
    nOut: int(where, 'nOut', x.nOut, 1),
    r: int(where, 'r', x.r, 1),
  };
}

function buf(where: string, name: string, b: CudaBuffer | undefined, n: number): Handle {
  if (!(b instanceof CudaBuffer)) {
    throw new DeboraError(`${where}: expected a CudaBuffer for argument '${name}'`, 'DEBORA_INVALID_ARG');
  }
  if (b.length !== n) {
    throw new DeboraError(
      `${where}: expected a CudaBuffer of length ${n} for argument '${name}', received length ${b.length}`,
      'DEBORA_SHAPE_MISMATCH',
    );
  }
  return b.handle(where);
}

/**
 * cp_linear forward on the GPU with device-resident operands: `Z = X·V`, `out (+)= (Z ⊙ s)·Uᵀ`
 * (the math of cpLinearForward). Enqueued on the device and returned before it finishes; values are
 * not validated (a non-finite s propagates). `Z` (N×r), when given, receives X·V for the backward.
 */
export function cpLinearForwardCuda(
  x: CpLinearDeviceInputs,
  opts: { out: CudaBuffer; accumulate?: boolean; Z?: CudaBuffer },
): void {
  const where = 'cpLinearForwardCuda';
  const { N, nIn, nOut, r } = dims(where, x);
  addon().cpLinearFwdDev(
    N,
    nIn,
    nOut,
    r,
    buf(where, 'X', x.X, N * nIn),
    buf(where, 'U', x.U, nOut * r),
    buf(where, 'V', x.V, nIn * r),
    buf(where, 's', x.s, r),
    buf(where, 'out', opts.out, N * nOut),
    !!opts.accumulate,
    opts.Z === undefined ? null : buf(where, 'Z', opts.Z, N * r),
  );
}

/** Device buffers of the backward pass (dX and dots optional; Z from the forward saves a read of X). */
export interface CpLinearDeviceGrads {
  dY: CudaBuffer;
  Z?: CudaBuffer;
  dX?: CudaBuffer;
  accumulateDx?: boolean;
  dU: CudaBuffer;
  dV: CudaBuffer;
  ds: CudaBuffer;
  dots?: CudaBuffer;
}

/** cp_linear backward on the GPU (the math of cpLinearBackward), into the given device buffers. */
export function cpLinearBackwardCuda(x: CpLinearDeviceInputs, g: CpLinearDeviceGrads): void {
  const where = 'cpLinearBackwardCuda';
  const { N, nIn, nOut, r } = dims(where, x);
  if (g.accumulateDx && g.dX === undefined) {
    throw new DeboraError(`${where}: 'accumulateDx' needs a 'dX' buffer`, 'DEBORA_INVALID_ARG');
  }
  addon().cpLinearBwdDev(
    N,
    nIn,
    nOut,
    r,
    buf(where, 'X', x.X, N * nIn),
    buf(where, 'U', x.U, nOut * r),
    buf(where, 'V', x.V, nIn * r),
    buf(where, 's', x.s, r),
    buf(where, 'dY', g.dY, N * nOut),
    g.Z === undefined ? null : buf(where, 'Z', g.Z, N * r),
    g.dX === undefined ? null : buf(where, 'dX', g.dX, N * nIn),
    !!g.accumulateDx,
    buf(where, 'dU', g.dU, nOut * r),
    buf(where, 'dV', g.dV, nIn * r),
    buf(where, 'ds', g.ds, r),
    g.dots === undefined ? null : buf(where, 'dots', g.dots, r),
  );
}
