/* unavailable.cpp — the CUDA entry points of a CPU-only build (DEBORA_CUDA=OFF, no nvcc, or
 * the node-gyp build): every one reports DEBORA_BACKEND_UNAVAILABLE with the reason, so callers
 * and the TS loader see one consistent answer. Compiled instead of the .cu files, never with them. */
#include "../cpu/internal.h"

namespace {
debora_status not_compiled(const char* op) {
  return debora::fail(DEBORA_BACKEND_UNAVAILABLE,
                      "%s: this build of debora has no CUDA support (built with DEBORA_CUDA=OFF, without nvcc, or by "
                      "node-gyp); rebuild with the CUDA toolkit installed: DEBORA_CUDA=ON npm run build:native",
                      op);
}
}  // namespace

extern "C" int debora_cuda_compiled(void) { return 0; }
extern "C" debora_status debora_cuda_device_count(int* count) {
  if (count) *count = 0;
  return not_compiled("cuda_device_count");
}
extern "C" debora_status debora_cuda_device_info(int, debora_cuda_device*) { return not_compiled("cuda_device_info"); }
extern "C" int debora_cuda_runtime_version(void) { return 0; }
extern "C" int debora_cuda_driver_version(void) { return 0; }
extern "C" debora_status debora_cp_hypergrad_cuda(int64_t, const float*, const float*, const float*, float*) {
  return not_compiled("cp_hypergrad");
}
