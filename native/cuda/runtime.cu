/* runtime.cu — CUDA runtime queries (device count, properties, versions), contexts (device +
 * stream + grow-only workspaces) and device buffers. The runtime is linked statically, so on a
 * machine without a driver or GPU these calls fail with a status and a reason instead of the addon
 * failing to load. CPU-only builds use unavailable.cpp instead.
 * Tested in test/native/info.test.ts (no GPU here), test/gpu/parity.cpp and test/gpu. */
#include <cstring>
#include <memory>
#include <mutex>

#include "context.h"

extern "C" int debora_cuda_compiled(void) { return 1; }

extern "C" debora_status debora_cuda_device_count(int* count) {
  return debora::guarded("cuda_device_count", [&] {
    *count = 0;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err == cudaErrorNoDevice || (err == cudaSuccess && n == 0)) {
      cudaGetLastError();
      return debora::fail(DEBORA_BACKEND_UNAVAILABLE, "no CUDA device found (cudaGetDeviceCount: %s)",
                          err == cudaSuccess ? "0 devices" : cudaGetErrorString(err));
    }
    if (err == cudaErrorInsufficientDriver) {
      cudaGetLastError();
      int driver = 0;
      cudaDriverGetVersion(&driver);
      if (driver == 0)
        return debora::fail(DEBORA_BACKEND_UNAVAILABLE,
                            "no CUDA driver is installed (libcuda.so could not be loaded; cudaGetDeviceCount: %s)",
                            cudaGetErrorString(err));
      return debora::fail(DEBORA_BACKEND_UNAVAILABLE,
                          "the CUDA driver (version %d.%d) is older than this build's runtime (%d.%d): %s", driver / 1000,
                          (driver % 1000) / 10, CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, cudaGetErrorString(err));
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      return debora::fail(DEBORA_BACKEND_UNAVAILABLE, "CUDA is unusable: cudaGetDeviceCount failed: %s (%s)",
                          cudaGetErrorName(err), cudaGetErrorString(err));
    }
    *count = n;
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_device_info(int device, debora_cuda_device* out) {
  static const char* op = "cuda_device_info";
  return debora::guarded(op, [&] {
    int n = 0;
    debora_status st = debora_cuda_device_count(&n);
    if (st != DEBORA_OK) return st;
    if (device < 0 || device >= n)
      return debora::fail(DEBORA_INVALID_ARG, "%s: expected a device index in [0, %d) for argument 'device', received %d", op,
                          n, device);
    cudaDeviceProp prop;
    DEBORA_CUDA_TRY(op, cudaGetDeviceProperties(&prop, device));
    std::memset(out, 0, sizeof *out);
    std::strncpy(out->name, prop.name, sizeof out->name - 1);
    out->total_memory = prop.totalGlobalMem;
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->multiprocessors = prop.multiProcessorCount;
    return DEBORA_OK;
  });
}

extern "C" int debora_cuda_runtime_version(void) {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) v = 0;
  return v;
}

extern "C" int debora_cuda_driver_version(void) {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) v = 0;
  return v;
}

/* ---- contexts ------------------------------------------------------------------------------- */

namespace debora {
namespace cuda {
namespace {

debora_status create_context(const char* op, int device, Ctx** out) {
  int n = 0;
  debora_status st = debora_cuda_device_count(&n);
  if (st != DEBORA_OK) return st;
  if (device < 0 || device >= n)
    return fail(DEBORA_INVALID_ARG, "%s: expected a device index in [0, %d) for argument 'device', received %d", op, n,
                device);
  auto c = std::make_unique<Ctx>();
  c->device = device;
  DEBORA_CUDA_TRY(op, cudaSetDevice(device));
  int sms = 0, smem = 0;
  DEBORA_CUDA_TRY(op, cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DEBORA_CUDA_TRY(op, cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  c->sms = sms > 0 ? sms : 1;
  c->max_smem = smem > 0 ? static_cast<size_t>(smem) : (48u << 10);
  /* Non-blocking: debora's work never serialises against the legacy default stream of other code. */
  DEBORA_CUDA_TRY(op, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  *out = c.release();
  return DEBORA_OK;
}

std::mutex g_default_mu;
Ctx* g_default = nullptr;  // lives until the process exits (destroying it at exit races the driver)

}  // namespace

debora_status resolve(const char* op, debora_cuda_context* ctx, Ctx** out) {
  Ctx* c = ctx;
  if (c == nullptr) {
    std::lock_guard<std::mutex> lock(g_default_mu);
    if (g_default == nullptr) {
      debora_status st = create_context(op, 0, &g_default);
      if (st != DEBORA_OK) return st;
    }
    c = g_default;
  }
  DEBORA_CUDA_TRY(op, cudaSetDevice(c->device));
  *out = c;
  return DEBORA_OK;
}

debora_status grow(const char* op, Ctx* c, void** buf, size_t* cap, size_t bytes) {
  if (bytes <= *cap) return DEBORA_OK;
  /* Round up (1 MiB, and 1/8 headroom) so a slowly growing shape does not reallocate every call. */
  const size_t want = ((bytes + bytes / 8) + (size_t{1} << 20) - 1) & ~((size_t{1} << 20) - 1);
  if (*buf != nullptr) {
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));  // kernels in flight may still use it
    DEBORA_CUDA_TRY(op, cudaFree(*buf));
    *buf = nullptr;
    *cap = 0;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, want);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return fail(err == cudaErrorMemoryAllocation ? DEBORA_OUT_OF_MEMORY : DEBORA_CUDA_ERROR,
                "%s: could not allocate %zu bytes of device workspace on device %d: %s (%s) at %s:%d", op, want,
                c->device, cudaGetErrorName(err), cudaGetErrorString(err), __FILE__, __LINE__);
  }
  *buf = p;
  *cap = want;
  return DEBORA_OK;
}

debora_status check_device_ptr(const char* op, const char* name, const Ctx* c, const void* p, bool required) {
  if (p == nullptr) {
    if (!required) return DEBORA_OK;
    return fail(DEBORA_INVALID_ARG, "%s: expected a device pointer for argument '%s', received null", op, name);
  }
  cudaPointerAttributes a;
  std::memset(&a, 0, sizeof a);
  cudaError_t err = cudaPointerGetAttributes(&a, p);
  if (err != cudaSuccess) {
    cudaGetLastError();  // older runtimes report plain host pointers as an error
    return fail(DEBORA_INVALID_ARG,
                "%s: expected a device pointer (debora_cuda_alloc) for argument '%s', received a pointer CUDA does "
                "not know (%s)", op, name, cudaGetErrorString(err));
  }
  if (a.type == cudaMemoryTypeManaged) return DEBORA_OK;
  if (a.type == cudaMemoryTypeDevice) {
    if (a.device == c->device) return DEBORA_OK;
    return fail(DEBORA_INVALID_ARG,
                "%s: expected memory of device %d (the context's) for argument '%s', received memory of device %d", op,
                c->device, name, a.device);
  }
  return fail(DEBORA_INVALID_ARG,
              "%s: expected a device pointer (debora_cuda_alloc) for argument '%s', received %s host memory", op, name,
              a.type == cudaMemoryTypeHost ? "pinned" : "unregistered");
}

}  // namespace cuda
}  // namespace debora

using debora::cuda::Ctx;

extern "C" debora_status debora_cuda_context_create(int device, debora_cuda_context** out) {
  static const char* op = "cuda_context_create";
  return debora::guarded(op, [&] {
    debora_status st = debora::check_ptr(op, "out", out);
    if (st != DEBORA_OK) return st;
    return debora::cuda::create_context(op, device, out);
  });
}

extern "C" debora_status debora_cuda_context_destroy(debora_cuda_context* ctx) {
  static const char* op = "cuda_context_destroy";
  return debora::guarded(op, [&] {
    if (ctx == nullptr) return DEBORA_OK;
    std::unique_ptr<Ctx> c(ctx);
    /* Free everything even when an earlier asynchronous failure surfaces here; report the first. */
    cudaSetDevice(c->device);
    cudaError_t first = cudaStreamSynchronize(c->stream);
    const char* call = "cudaStreamSynchronize(c->stream)";
    auto keep = [&](cudaError_t e, const char* what) {
      if (first == cudaSuccess && e != cudaSuccess) {
        first = e;
        call = what;
      }
    };
    if (c->ws) keep(cudaFree(c->ws), "cudaFree(c->ws)");
    if (c->io) keep(cudaFree(c->io), "cudaFree(c->io)");
    keep(cudaStreamDestroy(c->stream), "cudaStreamDestroy(c->stream)");
    if (first != cudaSuccess) return debora::cuda_fail(first, op, call, __FILE__, __LINE__);
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_context_default(debora_cuda_context** out) {
  static const char* op = "cuda_context_default";
  return debora::guarded(op, [&] {
    debora_status st = debora::check_ptr(op, "out", out);
    if (st != DEBORA_OK) return st;
    Ctx* c = nullptr;
    if ((st = debora::cuda::resolve(op, nullptr, &c)) != DEBORA_OK) return st;
    *out = c;
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_context_stream(debora_cuda_context* ctx, void** stream) {
  static const char* op = "cuda_context_stream";
  return debora::guarded(op, [&] {
    debora_status st = debora::check_ptr(op, "stream", stream);
    if (st != DEBORA_OK) return st;
    Ctx* c = nullptr;
    if ((st = debora::cuda::resolve(op, ctx, &c)) != DEBORA_OK) return st;
    *stream = static_cast<void*>(c->stream);
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_synchronize(debora_cuda_context* ctx) {
  static const char* op = "cuda_synchronize";
  return debora::guarded(op, [&] {
    Ctx* c = nullptr;
    debora_status st = debora::cuda::resolve(op, ctx, &c);
    if (st != DEBORA_OK) return st;
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}

/* ---- device buffers ------------------------------------------------------------------------- */

extern "C" debora_status debora_cuda_alloc(debora_cuda_context* ctx, size_t bytes, void** out) {
  static const char* op = "cuda_alloc";
  return debora::guarded(op, [&] {
    debora_status st = debora::check_ptr(op, "out", out);
    if (st != DEBORA_OK) return st;
    Ctx* c = nullptr;
    if ((st = debora::cuda::resolve(op, ctx, &c)) != DEBORA_OK) return st;
    *out = nullptr;
    if (bytes == 0) return DEBORA_OK;
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      cudaGetLastError();
      return debora::fail(err == cudaErrorMemoryAllocation ? DEBORA_OUT_OF_MEMORY : DEBORA_CUDA_ERROR,
                          "%s: cudaMalloc(%zu bytes) failed on device %d (%zu of %zu bytes free): %s (%s) at %s:%d", op,
                          bytes, c->device, free_b, total_b, cudaGetErrorName(err), cudaGetErrorString(err), __FILE__,
                          __LINE__);
    }
    *out = p;
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_free(debora_cuda_context* ctx, void* ptr) {
  static const char* op = "cuda_free";
  return debora::guarded(op, [&] {
    if (ptr == nullptr) return DEBORA_OK;
    Ctx* c = nullptr;
    debora_status st = debora::cuda::resolve(op, ctx, &c);
    if (st != DEBORA_OK) return st;
    if ((st = debora::cuda::check_device_ptr(op, "ptr", c, ptr)) != DEBORA_OK) return st;
    DEBORA_CUDA_TRY(op, cudaFree(ptr));
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_upload(debora_cuda_context* ctx, void* dst, const void* src, size_t bytes) {
  static const char* op = "cuda_upload";
  return debora::guarded(op, [&] {
    if (bytes == 0) return DEBORA_OK;
    Ctx* c = nullptr;
    debora_status st = debora::cuda::resolve(op, ctx, &c);
    if (st != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "src", src)) != DEBORA_OK) return st;
    if ((st = debora::cuda::check_device_ptr(op, "dst", c, dst)) != DEBORA_OK) return st;
    std::lock_guard<std::mutex> lock(c->mu);
    DEBORA_CUDA_TRY(op, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cuda_download(debora_cuda_context* ctx, void* dst, const void* src, size_t bytes) {
  static const char* op = "cuda_download";
  return debora::guarded(op, [&] {
    if (bytes == 0) return DEBORA_OK;
    Ctx* c = nullptr;
    debora_status st = debora::cuda::resolve(op, ctx, &c);
    if (st != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dst", dst)) != DEBORA_OK) return st;
    if ((st = debora::cuda::check_device_ptr(op, "src", c, src)) != DEBORA_OK) return st;
    std::lock_guard<std::mutex> lock(c->mu);
    DEBORA_CUDA_TRY(op, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
