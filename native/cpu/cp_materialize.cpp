/* cp_materialize.cpp — CPU kernel of op cp_materialize, the dense route of ALGORITHM.md section 1 for order
 * d = 2..6:  out = Psi(B, s) = sum_i s_i u_i^(1) o ... o u_i^(d)  (row-major, mode 1 slowest).
 * A GEMM with inner dimension r between the Khatri-Rao products of the leading and trailing modes
 * (cp_dense_kernels.h; layouts and measurements in docs/kernels-dense.md). Inputs are validated in full
 * before `out` is written. Tested in test/native/cp_dense.test.ts and test/native/driver_cp_dense.cpp. */
#include "cp_dense_common.h"
#include "cp_dense_simd.h"
#include "thread_pool.h"

namespace debora {
namespace dense {

namespace scalar_impl {
using V = ScalarTraits;
#include "cp_dense_kernels.h"
}  // namespace scalar_impl

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2_impl {
using V = Avx2Traits;
#include "cp_dense_kernels.h"
}  // namespace avx2_impl
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
namespace avx512_impl {
using V = Avx512Traits;
#include "cp_dense_kernels.h"
}  // namespace avx512_impl
#pragma GCC pop_options
#endif

}  // namespace dense
}  // namespace debora

extern "C" debora_status debora_cp_materialize_cpu(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                                   const float* s, float* out) {
  static const char* op = "cp_materialize";
  namespace dn = debora::dense;
  return debora::guarded(op, [&] {
    dn::Shape sh;
    debora_status st;
    if ((st = dn::validate_shape(op, d, dims, r, factors, s, &sh)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "out", out)) != DEBORA_OK) return st;
    const int64_t out_bytes = sh.N * static_cast<int64_t>(sizeof(float));
    for (int k = 0; k < d; ++k)
      if ((st = dn::check_no_overlap(op, "out", out, out_bytes, dn::factors_name(k), factors[k], sh.dims[k] * r * 4)) !=
          DEBORA_OK)
        return st;
    if ((st = dn::check_no_overlap(op, "out", out, out_bytes, "s", s, r * 4)) != DEBORA_OK) return st;
#if DEBORA_X86
    debora::simd_dispatch([&] { dn::avx512_impl::run_materialize(sh, factors, s, out); },
                          [&] { dn::avx2_impl::run_materialize(sh, factors, s, out); },
                          [&] { dn::scalar_impl::run_materialize(sh, factors, s, out); });
#else
    dn::scalar_impl::run_materialize(sh, factors, s, out);
#endif
    return DEBORA_OK;
  });
}
