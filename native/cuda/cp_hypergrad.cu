/* cp_hypergrad.cu — CUDA twin of native/cpu/cp_hypergrad.cpp (op cp_hypergrad): the same
 * formula from debora/math.h, one thread per component. The host entry validates on the host
 * (it has the host copies anyway), then copies in, launches and copies out.
 * Tested against the CPU twin in test/gpu (parity driver and Node tests). */
#include "cuda_check.h"
#include "debora/math.h"

namespace {

__global__ void cp_hypergrad_kernel(int64_t r, const float* __restrict__ ds, const float* __restrict__ s,
                                    const float* __restrict__ dots, float* __restrict__ g) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < r) g[i] = debora::hypergrad_component(ds[i], s[i], dots[i]);
}

}  // namespace

extern "C" debora_status debora_cp_hypergrad_cuda(int64_t r, const float* ds, const float* s, const float* dots,
                                                  float* g) {
  static const char* op = "cp_hypergrad";
  return debora::guarded(op, [&]() -> debora_status {
    debora_status st;
    if ((st = debora::check_size(op, "r", r, 0)) != DEBORA_OK) return st;
    if (r == 0) return DEBORA_OK;
    if ((st = debora::check_ptr(op, "ds", ds)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "s", s)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dots", dots)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "out", g)) != DEBORA_OK) return st;
    if ((st = debora::check_positive(op, "s", s, r)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "ds", ds, r)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "dots", dots, r)) != DEBORA_OK) return st;
    int n_dev = 0;
    if ((st = debora_cuda_device_count(&n_dev)) != DEBORA_OK) return st;

    const size_t bytes = static_cast<size_t>(r) * sizeof(float);
    float* d = nullptr; /* one allocation: ds | s | dots | g */
    DEBORA_CUDA_TRY(op, cudaMalloc(&d, 4 * bytes));
    struct Free {
      float* p;
      ~Free() { cudaFree(p); }
    } guard{d};
    DEBORA_CUDA_TRY(op, cudaMemcpy(d, ds, bytes, cudaMemcpyHostToDevice));
    DEBORA_CUDA_TRY(op, cudaMemcpy(d + r, s, bytes, cudaMemcpyHostToDevice));
    DEBORA_CUDA_TRY(op, cudaMemcpy(d + 2 * r, dots, bytes, cudaMemcpyHostToDevice));
    const int block = 256;
    const unsigned grid = static_cast<unsigned>((r + block - 1) / block);
    cp_hypergrad_kernel<<<grid, block>>>(r, d, d + r, d + 2 * r, d + 3 * r);
    DEBORA_CUDA_TRY(op, cudaGetLastError());
    DEBORA_CUDA_TRY(op, cudaMemcpy(g, d + 3 * r, bytes, cudaMemcpyDeviceToHost));
    return DEBORA_OK;
  });
}
