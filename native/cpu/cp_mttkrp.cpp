/* cp_mttkrp.cpp — CPU kernel of op cp_mttkrp, the backward of the dense route (ALGORITHM.md section 1) for
 * order d = 2..6, from the dense gradient G = dL/dW:
 *   grads[k][j, i] = s_i sum_{idx_k = j} G[idx] prod_{m != k} U_m[idx_m, i]   (an MTTKRP, every mode)
 *   ds_i = <G, u_i^(1) o ... o u_i^(d)>,   dots_i = sum_k <U_k[:, i], grads[k][:, i]>  (dots may be null)
 * All modes and ds come from one pass over G: Y = G B and Z = G^T A share each cache tile of G
 * (cp_dense_kernels.h; docs/kernels-dense.md). Nothing is written to grads, ds or dots on error, a
 * non-finite G included. Tested in test/native/cp_dense.test.ts, test/native/hypergrad_identities.test.ts
 * and test/native/driver_cp_dense.cpp. */
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

namespace {

struct Buf {
  const char* name;
  const void* p;
  int64_t bytes;
};

}  // namespace
}  // namespace dense
}  // namespace debora

extern "C" debora_status debora_cp_mttkrp_cpu(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                              const float* s, const float* G, float* const* grads, float* ds,
                                              float* dots) {
  static const char* op = "cp_mttkrp";
  namespace dn = debora::dense;
  return debora::guarded(op, [&] {
    dn::Shape sh;
    debora_status st;
    if ((st = dn::validate_shape(op, d, dims, r, factors, s, &sh)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "G", G)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "grads", grads)) != DEBORA_OK) return st;
    dn::Buf outs[dn::kMaxOrder + 2], ins[dn::kMaxOrder + 2];
    int n_out = 0, n_in = 0;
    for (int k = 0; k < d; ++k) {
      if ((st = debora::check_ptr(op, dn::grads_name(k), grads[k])) != DEBORA_OK) return st;
      outs[n_out++] = {dn::grads_name(k), grads[k], sh.dims[k] * r * 4};
      ins[n_in++] = {dn::factors_name(k), factors[k], sh.dims[k] * r * 4};
    }
    if ((st = debora::check_ptr(op, "ds", ds)) != DEBORA_OK) return st;
    outs[n_out++] = {"ds", ds, r * 4};
    if (dots != nullptr) outs[n_out++] = {"dots", dots, r * 4};
    ins[n_in++] = {"s", s, r * 4};
    ins[n_in++] = {"G", G, sh.N * 4};
    /* Outputs are written after inputs are read only in part (grads are formed from the factors), and
     * outputs must not share memory with each other: refuse any overlap rather than return garbage. */
    for (int a = 0; a < n_out; ++a) {
      for (int b = 0; b < n_in; ++b)
        if ((st = dn::check_no_overlap(op, outs[a].name, outs[a].p, outs[a].bytes, ins[b].name, ins[b].p,
                                       ins[b].bytes)) != DEBORA_OK)
          return st;
      for (int b = a + 1; b < n_out; ++b)
        if ((st = dn::check_no_overlap(op, outs[b].name, outs[b].p, outs[b].bytes, outs[a].name, outs[a].p,
                                       outs[a].bytes)) != DEBORA_OK)
          return st;
    }
#if DEBORA_X86
    return debora::simd_dispatch(
        [&] { return dn::avx512_impl::run_mttkrp(op, sh, factors, s, G, grads, ds, dots); },
        [&] { return dn::avx2_impl::run_mttkrp(op, sh, factors, s, G, grads, ds, dots); },
        [&] { return dn::scalar_impl::run_mttkrp(op, sh, factors, s, G, grads, ds, dots); });
#else
    return dn::scalar_impl::run_mttkrp(op, sh, factors, s, G, grads, ds, dots);
#endif
  });
}
