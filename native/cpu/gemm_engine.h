/* gemm_engine.h — the built-in SGEMM engine of op gemm (native/cpu/gemm.cpp), for other kernels of
 * this library that need a product on already validated arguments (conv2d's per-image im2col
 * products). Not part of the public API. Tested through test/native/gemm.test.ts,
 * test/native/conv2d.test.ts and test/native/driver_gemm.cpp / driver_conv2d.cpp. */
#ifndef DEBORA_GEMM_ENGINE_H
#define DEBORA_GEMM_ENGINE_H

#include <cstdint>

namespace debora {
namespace gemm {

/* C = alpha op(A) op(B) + beta C, row-major, on arguments the caller has validated (sizes >= 0,
 * leading dimensions large enough, C not overlapping A or B), with the implementation chosen by
 * debora_gemm_set_impl (builtin at the active SIMD level, or the system BLAS). beta == 0 overwrites
 * C without reading it; alpha == 0 or K == 0 reduces to C = beta C.
 * threaded: may split the work over the shared pool (pass false from inside a pool task, where the
 * pool would run the parts serially and only repeat the packing). With the builtin engine no
 * element's result depends on `threaded` or on the pool size (the split is over rows or columns of
 * C, never over K). */
void product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool threaded);

}  // namespace gemm
}  // namespace debora

#endif
