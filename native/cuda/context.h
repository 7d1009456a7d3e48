/* context.h — internal to native/cuda: what a debora_cuda_context holds (device, one stream,
 * grow-only workspaces), resolving a context argument, device-pointer checks, and a bump allocator
 * that lays out an op's scratch in the workspace. Defined in runtime.cu; CUDA sources only.
 * Tested through every CUDA op in test/gpu/parity.cpp (which also checks the error paths). */
#ifndef DEBORA_CUDA_CONTEXT_H
#define DEBORA_CUDA_CONTEXT_H

#include <cstddef>
#include <mutex>

#include "cuda_check.h"

struct debora_cuda_context {
  int device = 0;
  cudaStream_t stream = nullptr;
  int sms = 1;                      // multiprocessors: sizes the grids of the streaming kernels
  size_t max_smem = 48 << 10;       // dynamic shared memory a block may opt in to
  std::mutex mu;                    // one op at a time: they share the workspaces below
  void* ws = nullptr;               // kernel scratch (intermediates, partial sums)
  size_t ws_bytes = 0;
  void* io = nullptr;               // staging of the host-pointer variants' arguments
  size_t io_bytes = 0;
};

namespace debora {
namespace cuda {

using Ctx = debora_cuda_context;

/* ctx, or the default context when null; makes its device current on this thread. */
debora_status resolve(const char* op, debora_cuda_context* ctx, Ctx** out);

/* Makes *buf hold at least `bytes` (grow-only; waits for the stream before freeing the old one). */
debora_status grow(const char* op, Ctx* c, void** buf, size_t* cap, size_t bytes);

/* Fails with DEBORA_INVALID_ARG unless p is device (or managed) memory usable on c's device.
 * A null p fails when `required`, else passes. */
debora_status check_device_ptr(const char* op, const char* name, const Ctx* c, const void* p, bool required = true);

/* Lays out buffers in a workspace: run a layout once with base == nullptr to size it, then again
 * on the real base. Every buffer starts on a 256-byte boundary (16-byte vector copies need 16). */
struct Arena {
  char* base = nullptr;
  size_t used = 0;
  template <class T>
  T* take(size_t n) {
    const size_t off = (used + 255) & ~size_t{255};
    used = off + n * sizeof(T);
    return base == nullptr ? nullptr : reinterpret_cast<T*>(base + off);
  }
};

/* Sizes `layout` (a callable taking Arena&), grows c->ws to fit and lays it out there. */
template <class F>
debora_status with_workspace(const char* op, Ctx* c, F&& layout) {
  Arena sizing;
  layout(sizing);
  debora_status st = grow(op, c, &c->ws, &c->ws_bytes, sizing.used);
  if (st != DEBORA_OK) return st;
  Arena real;
  real.base = static_cast<char*>(c->ws);
  layout(real);
  return DEBORA_OK;
}

/* The same for the host variants' staging buffer (c->io). */
template <class F>
debora_status with_staging(const char* op, Ctx* c, F&& layout) {
  Arena sizing;
  layout(sizing);
  debora_status st = grow(op, c, &c->io, &c->io_bytes, sizing.used);
  if (st != DEBORA_OK) return st;
  Arena real;
  real.base = static_cast<char*>(c->io);
  layout(real);
  return DEBORA_OK;
}

}  // namespace cuda
}  // namespace debora

/* Checks a kernel launch (bad configuration, or an earlier asynchronous failure). */
#define DEBORA_CUDA_LAUNCHED(op) DEBORA_CUDA_TRY(op, cudaGetLastError())

/* Kernel launches and dynamic shared memory go through these two macros so that the CPU emulator of
 * test/gpu/emu (which compiles these sources as C++ to run the parity driver without a GPU) can
 * stand in for nvcc's launch syntax: DEBORA_LAUNCH(kernel, grid, block, smem, stream)(args...). */
#ifdef DEBORA_CUDA_EMU
#define DEBORA_LAUNCH(kernel, grid, block, smem, stream) ::debora_emu::launch(kernel, grid, block, smem, stream)
#define DEBORA_DYNAMIC_SMEM(type, name) type* name = ::debora_emu::dynamic_smem<type>()
#else
#define DEBORA_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#define DEBORA_DYNAMIC_SMEM(type, name) extern __shared__ __align__(16) type name[]
#endif

#endif
