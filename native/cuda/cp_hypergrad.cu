/* cp_hypergrad.cu — CUDA twin of native/cpu/cp_hypergrad.cpp (op cp_hypergrad): the same
 * formula from debora/math.h, one thread per component. The host entry validates on the host
 * (it has the host copies anyway), then copies in, launches and copies out on the default context;
 * the dev entry takes device pointers and enqueues on its context's stream.
 * Tested against the CPU twin in test/gpu (parity driver and Node tests). */
#include "common.cuh"
#include "debora/math.h"

namespace debora {
namespace cuda {
namespace {

__global__ void cp_hypergrad_kernel(int64_t r, const float* __restrict__ ds, const float* __restrict__ s,
                                    const float* __restrict__ dots, float* __restrict__ g) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < r) g[i] = debora::hypergrad_component(ds[i], s[i], dots[i]);
}

debora_status launch(const char* op, Ctx* c, int64_t r, const float* ds, const float* s, const float* dots, float* g) {
  if (r == 0) return DEBORA_OK;
  DEBORA_LAUNCH(cp_hypergrad_kernel, grid_for(r, kThreads), kThreads, 0, c->stream)(r, ds, s, dots, g);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;

extern "C" debora_status debora_cp_hypergrad_cuda_dev(debora_cuda_context* ctx, int64_t r, const float* ds,
                                                      const float* s, const float* dots, float* g) {
  static const char* op = "cp_hypergrad";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(debora::check_size(op, "r", r, 0));
    if (r > (int64_t{1} << 40))
      return debora::fail(DEBORA_INVALID_ARG, "%s: expected an integer <= 2^40 for argument 'r', received %lld", op,
                          static_cast<long long>(r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    if (r == 0) return DEBORA_OK;
    DEBORA_TRY(cu::check_device_ptr(op, "ds", c, ds));
    DEBORA_TRY(cu::check_device_ptr(op, "s", c, s));
    DEBORA_TRY(cu::check_device_ptr(op, "dots", c, dots));
    DEBORA_TRY(cu::check_device_ptr(op, "out", c, g));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::launch(op, c, r, ds, s, dots, g);
  });
}

extern "C" debora_status debora_cp_hypergrad_cuda(int64_t r, const float* ds, const float* s, const float* dots,
                                                  float* g) {
  static const char* op = "cp_hypergrad";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(debora::check_size(op, "r", r, 0));
    if (r == 0) return DEBORA_OK;
    DEBORA_TRY(debora::check_ptr(op, "ds", ds));
    DEBORA_TRY(debora::check_ptr(op, "s", s));
    DEBORA_TRY(debora::check_ptr(op, "dots", dots));
    DEBORA_TRY(debora::check_ptr(op, "out", g));
    DEBORA_TRY(debora::check_positive(op, "s", s, r));
    DEBORA_TRY(debora::check_finite(op, "ds", ds, r));
    DEBORA_TRY(debora::check_finite(op, "dots", dots, r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t bytes = static_cast<size_t>(r) * sizeof(float);
    float* d = nullptr; /* one staging block: ds | s | dots | g */
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) { d = a.take<float>(4 * static_cast<size_t>(r)); }));
    DEBORA_TRY(cu::h2d(op, c, d, ds, bytes));
    DEBORA_TRY(cu::h2d(op, c, d + r, s, bytes));
    DEBORA_TRY(cu::h2d(op, c, d + 2 * r, dots, bytes));
    DEBORA_TRY(cu::launch(op, c, r, d, d + r, d + 2 * r, d + 3 * r));
    DEBORA_TRY(cu::d2h(op, c, g, d + 3 * r, bytes));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
