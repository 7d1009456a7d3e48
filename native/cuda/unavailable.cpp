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
extern "C" debora_status debora_cp_hypergrad_cuda_dev(debora_cuda_context*, int64_t, const float*, const float*,
                                                      const float*, float*) {
  return not_compiled("cp_hypergrad");
}

/* Contexts and device buffers: nothing can exist without CUDA, so every call reports why. */
extern "C" debora_status debora_cuda_context_create(int, debora_cuda_context** out) {
  if (out) *out = nullptr;
  return not_compiled("cuda_context_create");
}
extern "C" debora_status debora_cuda_context_destroy(debora_cuda_context* ctx) {
  return ctx == nullptr ? DEBORA_OK : not_compiled("cuda_context_destroy");
}
extern "C" debora_status debora_cuda_context_default(debora_cuda_context** out) {
  if (out) *out = nullptr;
  return not_compiled("cuda_context_default");
}
extern "C" debora_status debora_cuda_context_stream(debora_cuda_context*, void** stream) {
  if (stream) *stream = nullptr;
  return not_compiled("cuda_context_stream");
}
extern "C" debora_status debora_cuda_synchronize(debora_cuda_context*) { return not_compiled("cuda_synchronize"); }
extern "C" debora_status debora_cuda_alloc(debora_cuda_context*, size_t, void** out) {
  if (out) *out = nullptr;
  return not_compiled("cuda_alloc");
}
extern "C" debora_status debora_cuda_free(debora_cuda_context*, void* ptr) {
  return ptr == nullptr ? DEBORA_OK : not_compiled("cuda_free");
}
extern "C" debora_status debora_cuda_upload(debora_cuda_context*, void*, const void*, size_t) {
  return not_compiled("cuda_upload");
}
extern "C" debora_status debora_cuda_download(debora_cuda_context*, void*, const void*, size_t) {
  return not_compiled("cuda_download");
}

/* The adapter ops: host-pointer and device-pointer entries. */
extern "C" debora_status debora_cp_linear_fwd_cuda(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                                   const float*, const float*, float*, int, float*) {
  return not_compiled("cp_linear_fwd");
}
extern "C" debora_status debora_cp_linear_bwd_cuda(int64_t, int64_t, int64_t, int64_t, const float*, const float*,
                                                   const float*, const float*, const float*, const float*, float*, int,
                                                   float*, float*, float*, float*) {
  return not_compiled("cp_linear_bwd");
}
extern "C" debora_status debora_cp_linear_fwd_cuda_dev(debora_cuda_context*, int64_t, int64_t, int64_t, int64_t,
                                                       const float*, const float*, const float*, const float*, float*,
                                                       int, float*) {
  return not_compiled("cp_linear_fwd");
}
extern "C" debora_status debora_cp_linear_bwd_cuda_dev(debora_cuda_context*, int64_t, int64_t, int64_t, int64_t,
                                                       const float*, const float*, const float*, const float*,
                                                       const float*, const float*, float*, int, float*, float*, float*,
                                                       float*) {
  return not_compiled("cp_linear_bwd");
}
extern "C" debora_status debora_cp_conv2d_fwd_cuda(const debora_conv2d_geom*, int64_t, const float*, const float*,
                                                   const float*, const float*, const float*, const float*, float*, int) {
  return not_compiled("cp_conv2d_fwd");
}
extern "C" debora_status debora_cp_conv2d_bwd_cuda(const debora_conv2d_geom*, int64_t, const float*, const float*,
                                                   const float*, const float*, const float*, const float*, const float*,
                                                   float*, int, float*, float*, float*, float*, float*, float*) {
  return not_compiled("cp_conv2d_bwd");
}
extern "C" debora_status debora_cp_conv2d_fwd_cuda_dev(debora_cuda_context*, const debora_conv2d_geom*, int64_t,
                                                       const float*, const float*, const float*, const float*,
                                                       const float*, const float*, float*, int) {
  return not_compiled("cp_conv2d_fwd");
}
extern "C" debora_status debora_cp_conv2d_bwd_cuda_dev(debora_cuda_context*, const debora_conv2d_geom*, int64_t,
                                                       const float*, const float*, const float*, const float*,
                                                       const float*, const float*, const float*, float*, int, float*,
                                                       float*, float*, float*, float*, float*) {
  return not_compiled("cp_conv2d_bwd");
}
extern "C" debora_status debora_cp_materialize_cuda(int, const int64_t*, int64_t, const float* const*, const float*,
                                                    float*) {
  return not_compiled("cp_materialize");
}
extern "C" debora_status debora_cp_materialize_cuda_dev(debora_cuda_context*, int, const int64_t*, int64_t,
                                                        const float* const*, const float*, float*) {
  return not_compiled("cp_materialize");
}
extern "C" debora_status debora_cp_mttkrp_cuda(int, const int64_t*, int64_t, const float* const*, const float*,
                                               const float*, float* const*, float*, float*) {
  return not_compiled("cp_mttkrp");
}
extern "C" debora_status debora_cp_mttkrp_cuda_dev(debora_cuda_context*, int, const int64_t*, int64_t,
                                                   const float* const*, const float*, const float*, float* const*,
                                                   float*, float*) {
  return not_compiled("cp_mttkrp");
}
extern "C" debora_status debora_cp_tangent_cuda(debora_geometry, int64_t, int64_t, const float*, const float*, float*,
                                                float*) {
  return not_compiled("cp_tangent");
}
extern "C" debora_status debora_cp_tangent_cuda_dev(debora_cuda_context*, debora_geometry, int64_t, int64_t,
                                                    const float*, const float*, float*, float*) {
  return not_compiled("cp_tangent");
}
