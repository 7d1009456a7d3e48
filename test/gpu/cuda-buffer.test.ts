/**
 * cuda-buffer.test.ts — device-resident buffers (lib/cuda-buffer.ts, bindings/cuda_buffer.cpp): without
 * a usable GPU, allocation is refused with the reason (tested everywhere); with one, round trips, the
 * device cp_linear entries against the host-pointer CUDA entries (same kernels: bitwise equal), and the
 * misuse errors. GPU tests are skipped with the reason in their titles when there is no GPU.
 */
import {
  CudaBuffer,
  cpLinearBackward,
  cpLinearBackwardCuda,
  cpLinearForward,
  cpLinearForwardCuda,
  info,
} from '../../lib';
import { uniform } from '../helpers/random';

const cuda = info().cuda;
const reason = cuda.available ? '' : ` [SKIPPED: no usable GPU: ${cuda.reason}]`;
const gpuTest = cuda.available ? test : test.skip;

const code = (f: () => unknown): string => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
};

describe(`CudaBuffer${reason}`, () => {
  (cuda.available ? test.skip : test)('without a usable GPU, alloc is refused with the reason', () => {
    expect(code(() => CudaBuffer.alloc(4))).toBe(
      `DEBORA_BACKEND_UNAVAILABLE: backend 'cuda' was requested but is unavailable: ${cuda.reason}`,
    );
    expect(code(() => CudaBuffer.alloc(-1))).toMatch(/^DEBORA_INVALID_ARG: CudaBuffer.alloc: .*'length'/);
  });

  gpuTest(`upload and download round-trip, at offsets, and free is idempotent${reason}`, () => {
    const src = uniform(1, 1000, -1, 1);
    const b = CudaBuffer.from(src);
    expect(Array.from(b.download())).toEqual(Array.from(src));
    b.upload(new Float32Array([7, 8]), 998);
    expect(Array.from(b.download(new Float32Array(3), 997))).toEqual([src[997] as number, 7, 8]);
    expect(code(() => b.upload(new Float32Array(3), 998))).toMatch(/^DEBORA_SHAPE_MISMATCH/);
    b.free();
    b.free();
    expect(b.freed).toBe(true);
    expect(code(() => b.download())).toMatch(/^DEBORA_INVALID_ARG: CudaBuffer.download: the buffer was freed/);
  });

  gpuTest(`cp_linear on device buffers equals the host-pointer CUDA entries bitwise${reason}`, () => {
    const N = 37;
    const nIn = 129;
    const nOut = 65;
    const r = 9;
    const h = {
      N,
      nIn,
      nOut,
      r,
      X: uniform(1, N * nIn, -1, 1),
      U: uniform(2, nOut * r, -1, 1),
      V: uniform(3, nIn * r, -1, 1),
      s: uniform(4, r, 0.05, 2),
    };
    const dY = uniform(5, N * nOut, -1, 1);
    const f = cpLinearForward(h, { backend: 'cuda', Z: true });
    const b = cpLinearBackward({ ...h, dY }, { backend: 'cuda', Z: f.Z, dots: true });
    const d = {
      N,
      nIn,
      nOut,
      r,
      X: CudaBuffer.from(h.X),
      U: CudaBuffer.from(h.U),
      V: CudaBuffer.from(h.V),
      s: CudaBuffer.from(h.s),
    };
    const out = CudaBuffer.alloc(N * nOut);
    const Z = CudaBuffer.alloc(N * r);
    cpLinearForwardCuda(d, { out, Z });
    const g = {
      dY: CudaBuffer.from(dY),
      Z,
      dX: CudaBuffer.alloc(N * nIn),
      dU: CudaBuffer.alloc(nOut * r),
      dV: CudaBuffer.alloc(nIn * r),
      ds: CudaBuffer.alloc(r),
      dots: CudaBuffer.alloc(r),
    };
    cpLinearBackwardCuda(d, g);
    expect(Array.from(out.download())).toEqual(Array.from(f.Y));
    expect(Array.from(Z.download())).toEqual(Array.from(f.Z as Float32Array));
    expect(Array.from(g.dX.download())).toEqual(Array.from(b.dX as Float32Array));
    expect(Array.from(g.dU.download())).toEqual(Array.from(b.dU));
    expect(Array.from(g.dV.download())).toEqual(Array.from(b.dV));
    expect(Array.from(g.ds.download())).toEqual(Array.from(b.ds));
    expect(Array.from(g.dots.download())).toEqual(Array.from(b.dots as Float32Array));
    expect(code(() => cpLinearForwardCuda({ ...d, N: N + 1 }, { out }))).toMatch(
      /^DEBORA_SHAPE_MISMATCH: cpLinearForwardCuda: expected a CudaBuffer of length 4838 for argument 'X'/,
    );
    for (const x of [...Object.values(d), out, ...Object.values(g)]) if (x instanceof CudaBuffer) x.free();
  });
});
