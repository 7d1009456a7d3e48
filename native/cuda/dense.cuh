/* dense.cuh — shared by cp_materialize.cu and cp_mttkrp.cu (the dense route, order d = 2..6): the
 * tensor seen as a P x Q row-major matrix (the split of cpu/cp_dense_common.h: leading modes index
 * rows, trailing modes columns), rank tiles of the Khatri-Rao rows of each side, the per-mode
 * gradients of a side from its contraction (Y = G B or Z = G^T A), and the checks of the dev entries.
 * Included by those two files only (internal linkage); tested through test/gpu/parity.cpp. */
#ifndef DEBORA_CUDA_DENSE_CUH
#define DEBORA_CUDA_DENSE_CUH

#include "../cpu/cp_dense_common.h"
#include "common.cuh"

namespace debora {
namespace cuda {
namespace {

namespace dn = debora::dense;

/* The factors by value (kernel argument): row-major dims[k] x r. */
struct Factors {
  const float* p[dn::kMaxOrder] = {nullptr};
  int64_t dims[dn::kMaxOrder] = {0};
  int d = 0;
  int64_t r = 0;
};

inline Factors make_factors(const dn::Shape& sh, const float* const* factors) {
  Factors f;
  f.d = sh.d;
  f.r = sh.r;
  for (int k = 0; k < sh.d; ++k) f.p[k] = factors[k], f.dims[k] = sh.dims[k];
  return f;
}

/* out[row * width + i] = (s[i0 + i] *) U_{k0}[idx, i0 + i] * (U_{k0+1}[..] * (... * U_{k1-1}[..])), i < nr,
 * and 0 in the padding: the rows of the Khatri-Rao product of modes [k0, k1) (last mode fastest), in
 * the CPU's order of multiplication (cp_dense_kernels.h build_kr, then s times it). */
__global__ void __launch_bounds__(kThreads) kr_rows_kernel(const Factors f, int k0, int k1, int64_t rows, int i0, int nr,
                                                           int width, const float* s, float* out) {
  const int64_t total = rows * width;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = e / width;
    const int i = static_cast<int>(e % width);
    float v = 0.0f;
    if (i < nr) {
      const int64_t col = i0 + i;
      int64_t rem = row;
      const int64_t il = rem % f.dims[k1 - 1];
      rem /= f.dims[k1 - 1];
      v = f.p[k1 - 1][il * f.r + col];
      for (int m = k1 - 2; m >= k0; --m) {
        const int64_t im = rem % f.dims[m];
        rem /= f.dims[m];
        v = f.p[m][im * f.r + col] * v;
      }
      if (s != nullptr) v = s[col] * v;
    }
    out[e] = v;
  }
}

inline debora_status run_kr_rows(const char* op, Ctx* c, const Factors& f, int k0, int k1, int64_t rows, int i0, int nr,
                                 int width, const float* s, float* out) {
  DEBORA_LAUNCH(kr_rows_kernel, grid_for(rows * width, kThreads), kThreads, 0, c->stream)(f, k0, k1, rows, i0, nr, width, s, out);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* Gradients of the modes [k0, k1) of one side from its contraction M (rows x width, rows = product of
 * those modes, last fastest), for the ranks [i0, i0 + nr):
 *   grads[k][l, i0 + i] = s[i0 + i] * sum_{rows with idx_k = l} M[row, i] prod_{m in side, m != k} U_m[idx_m, i0 + i]
 * One block per (mode, index l); its threads split the rows (double sums, fixed order). */
struct SideGrads {
  Factors f;
  int k0 = 0, k1 = 0;
  const float* M = nullptr;
  int width = 0, nr = 0, i0 = 0;
  const float* s = nullptr;
  float* grads[dn::kMaxOrder] = {nullptr};
};

__global__ void __launch_bounds__(kThreads) side_grads_kernel(const SideGrads a) {
  __shared__ double sh[kThreads];
  int64_t b = blockIdx.x;
  int k = a.k0;
  while (b >= a.f.dims[k]) b -= a.f.dims[k++];
  const int64_t l = b;
  int64_t stride[dn::kMaxOrder];  // row stride of each mode of the side
  int64_t rows = 1;
  for (int m = a.k1 - 1; m >= a.k0; --m) stride[m] = rows, rows *= a.f.dims[m];
  const int64_t rest = rows / a.f.dims[k];
  const int t = threadIdx.x, ipb = a.width, rpi = kThreads / ipb, i = t % ipb, sub = t / ipb;
  double acc = 0.0;
  if (sub < rpi && i < a.nr) {
    const int64_t col = a.i0 + i;
    for (int64_t q = sub; q < rest; q += rpi) {
      /* q enumerates the other modes' indices (last fastest); mode k is fixed at l. */
      int64_t rem = q, row = l * stride[k];
      float prod = 1.0f;
      for (int m = a.k1 - 1; m >= a.k0; --m) {
        if (m == k) continue;
        const int64_t im = rem % a.f.dims[m];
        rem /= a.f.dims[m];
        row += im * stride[m];
        prod *= a.f.p[m][im * a.f.r + col];
      }
      acc += static_cast<double>(a.M[row * a.width + i]) * static_cast<double>(prod);
    }
  }
  sh[t] = acc;
  __syncthreads();
  if (t < ipb && t < a.nr) {
    double sum = 0.0;
    for (int j = 0; j < rpi; ++j) sum += sh[j * ipb + t];
    a.grads[k][l * a.f.r + a.i0 + t] = static_cast<float>(sum * a.s[a.i0 + t]);
  }
}

inline debora_status run_side_grads(const char* op, Ctx* c, const SideGrads& a) {
  int64_t blocks = 0;
  for (int k = a.k0; k < a.k1; ++k) blocks += a.f.dims[k];
  DEBORA_LAUNCH(side_grads_kernel, static_cast<unsigned>(blocks), kThreads, 0, c->stream)(a);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* The dev entries' checks: validate_shape's size checks without reading factor values, then the
 * pointers (non-null and device memory of the context). */
inline debora_status check_shape_dev(const char* op, int d, const int64_t* dims, int64_t r, const float* const* factors,
                                     const float* s, dn::Shape* sh) {
  if (d < dn::kMinOrder || d > dn::kMaxOrder)
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer in [%d, %d] for argument 'd', received %d", op,
                dn::kMinOrder, dn::kMaxOrder, d);
  DEBORA_TRY(check_ptr(op, "dims", dims));
  sh->d = d;
  sh->N = 1;
  for (int k = 0; k < d; ++k) {
    DEBORA_TRY(check_size(op, dn::dims_name(k), dims[k], 1));
    sh->dims[k] = dims[k];
    if (__builtin_mul_overflow(sh->N, dims[k], &sh->N) || sh->N > (int64_t{1} << 48))
      return fail(DEBORA_INVALID_ARG, "%s: expected dims whose product is at most 2^48 for argument 'dims', received "
                  "a product above it at dims[%d] = %lld", op, k, static_cast<long long>(dims[k]));
  }
  DEBORA_TRY(check_size(op, "r", r, 1));
  if (r > (int64_t{1} << 24))
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer <= 16777216 for argument 'r', received %lld", op,
                static_cast<long long>(r));
  int64_t nr = 0;
  if (__builtin_mul_overflow(sh->N, r, &nr) || nr > (int64_t{1} << 56))
    return fail(DEBORA_INVALID_ARG, "%s: expected prod(dims) * r <= 2^56 for argument 'r', received r = %lld", op,
                static_cast<long long>(r));
  sh->r = r;
  DEBORA_TRY(check_ptr(op, "factors", factors));
  for (int k = 0; k < d; ++k) DEBORA_TRY(check_ptr(op, dn::factors_name(k), factors[k]));
  DEBORA_TRY(check_ptr(op, "s", s));
  dn::choose_split(sh);
  return DEBORA_OK;
}

inline debora_status check_factors_dev(const char* op, const Ctx* c, const dn::Shape& sh, const float* const* factors,
                                       const float* s) {
  for (int k = 0; k < sh.d; ++k) DEBORA_TRY(check_device_ptr(op, dn::factors_name(k), c, factors[k]));
  return check_device_ptr(op, "s", c, s);
}

/* Host variants: uploads the factors and s into staging taken from `a` (on the sizing run too). */
struct StagedFactors {
  const float* p[dn::kMaxOrder] = {nullptr};
  float* dev[dn::kMaxOrder] = {nullptr};
  float* s = nullptr;
};
inline void take_factors(Arena& a, const dn::Shape& sh, StagedFactors* st) {
  for (int k = 0; k < sh.d; ++k) st->dev[k] = a.take<float>(static_cast<size_t>(sh.dims[k] * sh.r)), st->p[k] = st->dev[k];
  st->s = a.take<float>(static_cast<size_t>(sh.r));
}
inline debora_status upload_factors(const char* op, Ctx* c, const dn::Shape& sh, const float* const* factors,
                                    const float* s, const StagedFactors& st) {
  for (int k = 0; k < sh.d; ++k) DEBORA_TRY(h2d(op, c, st.dev[k], factors[k], sizeof(float) * sh.dims[k] * sh.r));
  return h2d(op, c, st.s, s, sizeof(float) * sh.r);
}

}  // namespace
}  // namespace cuda
}  // namespace debora

#endif
