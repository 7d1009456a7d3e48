/* cp_linear.cpp — CPU kernels of op cp_linear, the matrix adapter (d = 2) on a batch:
 *   fwd: Z = X V;  Y (+)= (Z . s) U^T
 *   bwd: T = dY U;  ds = colsum(Z . T);  dU = dY^T (Z . s);  dV = X^T (T . s);  dX (+)= (T . s) V^T
 * One pass over the batch in row blocks of MB rows: each block of X (and dY) is read from memory
 * once and reused from cache by every product that needs it; the r-wide intermediates live in a
 * per-thread scratch; factor gradients are per-chunk partials reduced in chunk order (deterministic
 * for a given thread count). The rank is padded to the SIMD width in cached copies of the factors.
 * Workspaces are thread-local and grow-only, so a steady training loop allocates nothing.
 * Tested in test/native/cp_linear.test.ts and test/native/driver_cp_linear.cpp. */
#include <algorithm>
#include <cstring>
#include <vector>

#include "internal.h"
#include "simd.h"
#if DEBORA_X86
#include <immintrin.h>
#endif
#include "thread_pool.h"

namespace {

/* ---- vector traits: the scalar one is always compiled; the AVX2 one only inside its pragma ---- */
struct ScalarTraits {
  using vec = float;
  static constexpr int64_t W = 1;
  static inline vec zero() { return 0.0f; }
  static inline vec load(const float* p) { return *p; }
  static inline void store(float* p, vec v) { *p = v; }
  static inline vec set1(float x) { return x; }
  static inline vec fma(vec a, vec b, vec c) { return a * b + c; }
  static inline vec add(vec a, vec b) { return a + b; }
  static inline vec mul(vec a, vec b) { return a * b; }
  static inline vec load_partial(const float* p, int64_t n) { return n > 0 ? *p : 0.0f; }
  static inline void store_partial(float* p, vec v, int64_t n) {
    if (n > 0) *p = v;
  }
};

namespace scalar_impl {
using V = ScalarTraits;
#include "cp_linear_kernels.inc"
}  // namespace scalar_impl

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
struct Avx2Traits {
  using vec = __m256;
  static constexpr int64_t W = 8;
  static inline vec zero() { return _mm256_setzero_ps(); }
  static inline vec load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static inline vec set1(float x) { return _mm256_set1_ps(x); }
  static inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static inline vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static inline vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static inline __m256i mask(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n, 8))), idx);
  }
  static inline vec load_partial(const float* p, int64_t n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    if (n <= 0) return _mm256_setzero_ps();
    return _mm256_maskload_ps(p, mask(n));
  }
  static inline void store_partial(float* p, vec v, int64_t n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else if (n > 0) _mm256_maskstore_ps(p, mask(n), v);
  }
};
namespace avx2_impl {
using V = Avx2Traits;
#include "cp_linear_kernels.inc"
}  // namespace avx2_impl
#pragma GCC pop_options
#endif

constexpr int64_t MB = 64; /* rows per block: X block of 64 x 768 floats = 192 KiB stays in L2 */

/* Grow-only thread-local scratch: after the first call of a given size nothing is allocated. */
float* scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[4];
  std::vector<float>& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

struct Padded {
  int64_t rp;
  const float* Up;   /* n_out x rp */
  const float* Vp;   /* n_in x rp */
  const float* Upt;  /* rp x n_out */
  const float* Vpt;  /* rp x n_in */
  const float* sp;   /* rp, zeros beyond r */
};

/* Caller-thread copies of the factors padded to rp columns (zeros), and their transposes. The
 * O((n_in + n_out) r) cost is small next to the O(N (n_in + n_out) r) products. */
Padded pad_factors(int64_t n_in, int64_t n_out, int64_t r, int64_t W, const float* U, const float* V, const float* s,
                   bool need_vt, bool need_ut) {
  Padded p;
  p.rp = (r + W - 1) / W * W;
  const int64_t rp = p.rp;
  float* buf = scratch(0, static_cast<size_t>(2 * (n_in + n_out) * rp + rp));
  float* Up = buf;
  float* Vp = Up + n_out * rp;
  float* Upt = Vp + n_in * rp;
  float* Vpt = Upt + n_out * rp;
  float* sp = Vpt + n_in * rp;
  std::memset(buf, 0, sizeof(float) * static_cast<size_t>(2 * (n_in + n_out) * rp + rp));
  for (int64_t j = 0; j < n_out; ++j) std::memcpy(Up + j * rp, U + j * r, sizeof(float) * static_cast<size_t>(r));
  for (int64_t k = 0; k < n_in; ++k) std::memcpy(Vp + k * rp, V + k * r, sizeof(float) * static_cast<size_t>(r));
  if (need_ut)
    for (int64_t j = 0; j < n_out; ++j)
      for (int64_t i = 0; i < r; ++i) Upt[i * n_out + j] = U[j * r + i];
  if (need_vt)
    for (int64_t k = 0; k < n_in; ++k)
      for (int64_t i = 0; i < r; ++i) Vpt[i * n_in + k] = V[k * r + i];
  std::memcpy(sp, s, sizeof(float) * static_cast<size_t>(r));
  p.Up = Up;
  p.Vp = Vp;
  p.Upt = Upt;
  p.Vpt = Vpt;
  p.sp = sp;
  return p;
}

int64_t simd_width() {
  return debora::simd_dispatch([] { return int64_t{8}; }, [] { return int64_t{8}; }, [] { return int64_t{1}; });
}

debora_status validate(const char* op, int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                       const float* U, const float* V, const float* s) {
  debora_status st;
  if ((st = debora::check_size(op, "N", N, 0)) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "n_in", n_in, 1)) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "n_out", n_out, 1)) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "r", r, 1)) != DEBORA_OK) return st;
  if ((st = debora::check_ptr(op, "X", N > 0 ? X : U)) != DEBORA_OK) return st;
  if ((st = debora::check_ptr(op, "U", U)) != DEBORA_OK) return st;
  if ((st = debora::check_ptr(op, "V", V)) != DEBORA_OK) return st;
  if ((st = debora::check_ptr(op, "s", s)) != DEBORA_OK) return st;
  return debora::check_finite(op, "s", s, r);
}

template <class Impl>
void fwd_rows(int64_t b, int64_t e, int64_t n_in, int64_t n_out, int64_t r, const float* X, const Padded& p, float* Y,
              bool accumulate, float* Z) {
  const int64_t rp = p.rp;
  float* Zb = scratch(1, static_cast<size_t>(2 * MB * rp));
  float* Zs = Zb + MB * rp;
  for (int64_t m0 = b; m0 < e; m0 += MB) {
    const int64_t M = std::min(MB, e - m0);
    Impl::k1(M, n_in, X + m0 * n_in, n_in, p.Vp, rp, Zb);
    if (Z != nullptr)
      for (int64_t m = 0; m < M; ++m)
        std::memcpy(Z + (m0 + m) * r, Zb + m * rp, sizeof(float) * static_cast<size_t>(r));
    Impl::scale_rows(M, rp, Zb, p.sp, Zs);
    Impl::k2(M, rp, Zs, p.Upt, n_out, Y + m0 * n_out, n_out, accumulate);
  }
}

struct Partials {
  float* dU; /* n_out x rp */
  float* dV; /* n_in x rp */
  float* ds; /* rp */
};

template <class Impl>
void bwd_rows(int64_t b, int64_t e, int64_t n_in, int64_t n_out, int64_t r, const float* X, const Padded& p,
              const float* dY, const float* Z, float* dX, bool accumulate_dx, Partials part) {
  const int64_t rp = p.rp;
  float* Zb = scratch(1, static_cast<size_t>(4 * MB * rp));
  float* Tb = Zb + MB * rp;
  float* Zs = Tb + MB * rp;
  float* Ts = Zs + MB * rp;
  for (int64_t m0 = b; m0 < e; m0 += MB) {
    const int64_t M = std::min(MB, e - m0);
    const float* Xb = X + m0 * n_in;
    const float* dYb = dY + m0 * n_out;
    if (Z != nullptr) {
      std::memset(Zb, 0, sizeof(float) * static_cast<size_t>(M * rp));
      for (int64_t m = 0; m < M; ++m) std::memcpy(Zb + m * rp, Z + (m0 + m) * r, sizeof(float) * static_cast<size_t>(r));
    } else {
      Impl::k1(M, n_in, Xb, n_in, p.Vp, rp, Zb);
    }
    Impl::k1(M, n_out, dYb, n_out, p.Up, rp, Tb);
    Impl::colsum_product(M, rp, Zb, Tb, part.ds);
    Impl::scale_rows(M, rp, Zb, p.sp, Zs);
    Impl::scale_rows(M, rp, Tb, p.sp, Ts);
    Impl::k3(M, n_out, dYb, n_out, Zs, rp, part.dU);
    Impl::k3(M, n_in, Xb, n_in, Ts, rp, part.dV);
    if (dX != nullptr) Impl::k2(M, rp, Ts, p.Vpt, n_in, dX + m0 * n_in, n_in, accumulate_dx);
  }
}

struct ScalarImpl {
  static void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp, float* C) {
    scalar_impl::k1(M, K, A, lda, B, rp, C);
  }
  static void k2(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t N, float* C, int64_t ldc, bool acc) {
    scalar_impl::k2(M, rp, A, Bt, N, C, ldc, acc);
  }
  static void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp, float* C) {
    scalar_impl::k3(M, K, A, lda, B, rp, C);
  }
  static void scale_rows(int64_t M, int64_t rp, const float* Z, const float* s, float* out) {
    scalar_impl::scale_rows(M, rp, Z, s, out);
  }
  static void colsum_product(int64_t M, int64_t rp, const float* Z, const float* T, float* acc) {
    scalar_impl::colsum_product(M, rp, Z, T, acc);
  }
};

#if DEBORA_X86
struct Avx2Impl {
  DEBORA_TARGET_AVX2 static void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp,
                                    float* C) {
    avx2_impl::k1(M, K, A, lda, B, rp, C);
  }
  DEBORA_TARGET_AVX2 static void k2(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t N, float* C,
                                    int64_t ldc, bool acc) {
    avx2_impl::k2(M, rp, A, Bt, N, C, ldc, acc);
  }
  DEBORA_TARGET_AVX2 static void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp,
                                    float* C) {
    avx2_impl::k3(M, K, A, lda, B, rp, C);
  }
  DEBORA_TARGET_AVX2 static void scale_rows(int64_t M, int64_t rp, const float* Z, const float* s, float* out) {
    avx2_impl::scale_rows(M, rp, Z, s, out);
  }
  DEBORA_TARGET_AVX2 static void colsum_product(int64_t M, int64_t rp, const float* Z, const float* T, float* acc) {
    avx2_impl::colsum_product(M, rp, Z, T, acc);
  }
};
#else
using Avx2Impl = ScalarImpl;
#endif

/* Rows per parallel chunk: at least a few blocks, so tiny batches stay on one thread. */
constexpr int64_t MIN_ROWS_PER_CHUNK = 2 * MB;

template <class Impl>
void forward(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U, const float* V,
             const float* s, float* Y, bool accumulate, float* Z, int64_t W) {
  const Padded p = pad_factors(n_in, n_out, r, W, U, V, s, false, true);
  debora::parallel_for(N, MIN_ROWS_PER_CHUNK,
                       [&](int64_t b, int64_t e) { fwd_rows<Impl>(b, e, n_in, n_out, r, X, p, Y, accumulate, Z); });
}

template <class Impl>
void backward(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U, const float* V,
              const float* s, const float* dY, const float* Z, float* dX, bool accumulate_dx, float* dU, float* dV,
              float* ds, float* dots, int64_t W) {
  const Padded p = pad_factors(n_in, n_out, r, W, U, V, s, dX != nullptr, false);
  const int64_t rp = p.rp;
  /* Fixed chunking (independent of scheduling) so partial sums reduce in a deterministic order. */
  const int64_t threads = debora::pool_size();
  const int64_t n_chunks = std::max<int64_t>(1, std::min<int64_t>(threads, (N + MIN_ROWS_PER_CHUNK - 1) / MIN_ROWS_PER_CHUNK));
  const int64_t per = (N + n_chunks - 1) / n_chunks;
  const int64_t part_size = (n_out + n_in + 1) * rp;
  float* parts = scratch(2, static_cast<size_t>(n_chunks * part_size));
  std::memset(parts, 0, sizeof(float) * static_cast<size_t>(n_chunks * part_size));
  debora::parallel_for(n_chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      float* base = parts + c * part_size;
      Partials part{base, base + n_out * rp, base + (n_out + n_in) * rp};
      const int64_t b = c * per, e = std::min(N, (c + 1) * per);
      if (b < e) bwd_rows<Impl>(b, e, n_in, n_out, r, X, p, dY, Z, dX, accumulate_dx, part);
    }
  });
  /* Reduce in chunk order, dropping the padding columns. */
  for (int64_t c = 1; c < n_chunks; ++c) {
    const float* src = parts + c * part_size;
    for (int64_t q = 0; q < part_size; ++q) parts[q] += src[q];
  }
  const float* pU = parts;
  const float* pV = parts + n_out * rp;
  const float* pS = parts + (n_out + n_in) * rp;
  for (int64_t j = 0; j < n_out; ++j) std::memcpy(dU + j * r, pU + j * rp, sizeof(float) * static_cast<size_t>(r));
  for (int64_t k = 0; k < n_in; ++k) std::memcpy(dV + k * r, pV + k * rp, sizeof(float) * static_cast<size_t>(r));
  std::memcpy(ds, pS, sizeof(float) * static_cast<size_t>(r));
  if (dots != nullptr) {
    /* dots_i = <U_i, dU_i> + <V_i, dV_i>: the input of cp_hypergrad, from this pass's outputs. */
    for (int64_t i = 0; i < r; ++i) dots[i] = 0.0f;
    for (int64_t j = 0; j < n_out; ++j)
      for (int64_t i = 0; i < r; ++i) dots[i] += U[j * r + i] * dU[j * r + i];
    for (int64_t k = 0; k < n_in; ++k)
      for (int64_t i = 0; i < r; ++i) dots[i] += V[k * r + i] * dV[k * r + i];
  }
}

}  // namespace

extern "C" debora_status debora_cp_linear_fwd_cpu(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                                                  const float* U, const float* V, const float* s, float* Y,
                                                  int accumulate, float* Z) {
  static const char* op = "cp_linear_fwd";
  return debora::guarded(op, [&] {
    debora_status st = validate(op, N, n_in, n_out, r, X, U, V, s);
    if (st != DEBORA_OK) return st;
    if (N > 0 && (st = debora::check_ptr(op, "Y", Y)) != DEBORA_OK) return st;
    if (N == 0) return DEBORA_OK;
    const int64_t W = simd_width();
    if (W == 8)
      forward<Avx2Impl>(N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z, W);
    else
      forward<ScalarImpl>(N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z, W);
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cp_linear_bwd_cpu(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                                                  const float* U, const float* V, const float* s, const float* dY,
                                                  const float* Z, float* dX, int accumulate_dx, float* dU, float* dV,
                                                  float* ds, float* dots) {
  static const char* op = "cp_linear_bwd";
  return debora::guarded(op, [&] {
    debora_status st = validate(op, N, n_in, n_out, r, X, U, V, s);
    if (st != DEBORA_OK) return st;
    if (N > 0 && (st = debora::check_ptr(op, "dY", dY)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dU", dU)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dV", dV)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "ds", ds)) != DEBORA_OK) return st;
    const int64_t W = simd_width();
    if (W == 8)
      backward<Avx2Impl>(N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots, W);
    else
      backward<ScalarImpl>(N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots, W);
    return DEBORA_OK;
  });
}
