/* runtime.cu — CUDA runtime queries: device count, properties and versions. The runtime is
 * linked statically, so on a machine without a driver or GPU these calls fail with a status and
 * a reason instead of the addon failing to load. CPU-only builds use unavailable.cpp instead.
 * Tested in test/native/info.test.ts (no GPU here) and test/gpu. */
#include <cstring>

#include "cuda_check.h"

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
