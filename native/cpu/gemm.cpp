/* gemm.cpp — CPU kernels of op gemm: row-major SGEMM C = alpha op(A) op(B) + beta C for the frozen
 * dense base layers. Two implementations, chosen at run time (debora_gemm_set_impl):
 *  - builtin: the blocked SIMD engine of gemm_kernels.inc (AVX2+FMA 6x16 micro-kernel, or a 4x4
 *    scalar one);
 *  - blas: the system BLAS's cblas_sgemm when the build linked one (DEBORA_HAVE_BLAS).
 * Threads: debora owns them. A product is split over the shared pool by rows or by columns of C
 * (never over K, so no element's roundings depend on the thread count), and each part runs
 * single-threaded, in either implementation. OpenBLAS is set to one thread on first use
 * (openblas_set_num_threads(1), a weak symbol: absent in another BLAS, then nothing is set) and so
 * runs on exactly the pool's threads: setNumThreads(n) governs both, kernels that call gemm from
 * inside the pool (conv2d) nest without oversubscription, and no OpenBLAS worker is left spinning
 * after a call (measured here: an OpenBLAS worker busy-waits for a while after each threaded call
 * and halved the speed of the builtin kernels run right after it).
 * Tested in test/native/gemm.test.ts and test/native/driver_gemm.cpp. */
#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "gemm_engine.h"
#include "internal.h"
#include "simd.h"
#include "thread_pool.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

#ifdef DEBORA_HAVE_BLAS
#include <cblas.h>
/* OpenBLAS extensions, weak so that another cblas provider still links (they are then null). */
extern "C" {
void openblas_set_num_threads(int num_threads) __attribute__((weak));
char* openblas_get_config(void) __attribute__((weak));
char* openblas_get_corename(void) __attribute__((weak));
}
#endif
#ifndef DEBORA_BLAS_LIBRARY
#define DEBORA_BLAS_LIBRARY ""
#endif

namespace {

/* Cache blocking for a core with 32 KiB L1d, 512 KiB L2 (Zen 3 here; Haswell-class cores are
 * similar): a KC x NR micro-panel of B (16 KiB) stays in L1, the MC x KC block of A (144 KiB) in
 * L2, the KC x NC block of B (4 MiB) in L3. KC = 256 amortises loading and storing the C tile over
 * 256 FMA steps. The sizes are balanced (e.g. K = 300 gives two blocks of 150, not 256 + 44). */
constexpr int64_t KC_MAX = 256;
constexpr int64_t MC_MAX = 144;   // multiple of both MR values (6, 4)
constexpr int64_t NC_MAX = 4080;  // multiple of both NR values (16, 4)

struct Blocks {
  int64_t mc, kc, nc;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline Blocks block_sizes(int64_t M, int64_t N, int64_t K, int64_t MR, int64_t NR) {
  Blocks b;
  b.kc = ceil_div(K, ceil_div(K, KC_MAX));
  b.mc = ceil_div(ceil_div(M, ceil_div(M, MC_MAX)), MR) * MR;
  b.nc = ceil_div(ceil_div(N, ceil_div(N, NC_MAX)), NR) * NR;
  return b;
}

/* ---- vector traits: the scalar one is always compiled; the AVX2 one only inside its pragma ---- */
struct ScalarTraits {
  using vec = float;
  static constexpr int64_t W = 1;
  static inline vec zero() { return 0.0f; }
  static inline vec load(const float* p) { return *p; }
  static inline vec load_aligned(const float* p) { return *p; }
  static inline void store(float* p, vec v) { *p = v; }
  static inline vec set1(float x) { return x; }
  static inline vec fma(vec a, vec b, vec c) { return a * b + c; }
  static inline vec mul(vec a, vec b) { return a * b; }
  static inline vec add(vec a, vec b) { return a + b; }
};

namespace scalar_impl {
using V = ScalarTraits;
constexpr int64_t MR = 4, NR = 4;  // 16 accumulators: what 16 scalar/SSE registers hold
/* A full NR-wide panel of op(B) = B^T: Bp[p * NR + c] = B[c * ldb + p]. */
static inline void pack_b_trans_panel(int64_t kc, const float* B, int64_t ldb, float* Bp) {
  for (int64_t c = 0; c < NR; ++c)
    for (int64_t p = 0; p < kc; ++p) Bp[p * NR + c] = B[c * ldb + p];
}
#include "gemm_kernels.inc"
}  // namespace scalar_impl

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
struct Avx2Traits {
  using vec = __m256;
  static constexpr int64_t W = 8;
  static inline vec zero() { return _mm256_setzero_ps(); }
  static inline vec load(const float* p) { return _mm256_loadu_ps(p); }
  static inline vec load_aligned(const float* p) { return _mm256_load_ps(p); }
  static inline void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static inline vec set1(float x) { return _mm256_set1_ps(x); }
  static inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static inline vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static inline vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
};
namespace avx2_impl {
using V = Avx2Traits;
constexpr int64_t MR = 6, NR = 16;
/* In-register transpose of the 8 x 8 block r[0..7] (rows) into its columns. */
static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h + 0], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h + 0], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}
/* A full 16-wide panel of op(B) = B^T, 8 x 8 blocks at a time: the plain strided loop ran the
 * transposed products (X W^T, the Linear forward) about 1.4x slower on two threads, where each
 * thread packs all of B. */
static inline void pack_b_trans_panel(int64_t kc, const float* B, int64_t ldb, float* Bp) {
  int64_t p = 0;
  for (; p + 8 <= kc; p += 8)
    for (int h = 0; h < 2; ++h) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(B + (8 * h + i) * ldb + p);
      transpose8(r);
      for (int i = 0; i < 8; ++i) _mm256_store_ps(Bp + (p + i) * NR + 8 * h, r[i]);
    }
  for (; p < kc; ++p)
    for (int64_t c = 0; c < NR; ++c) Bp[p * NR + c] = B[c * ldb + p];
}
#include "gemm_kernels.inc"
}  // namespace avx2_impl
#pragma GCC pop_options
#endif

/* Grow-only, 64-byte aligned, per-thread packing buffers: a steady loop allocates nothing. */
float* aligned_scratch(std::vector<float>& v, int64_t n) {
  const size_t want = static_cast<size_t>(n) + 16;
  if (v.size() < want) v.resize(want);
  const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

/* One thread's share: the product restricted to rows [m0, m1) and columns [n0, n1) of C. */
void run_serial(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<float> abuf, bbuf;
  const int64_t M = m1 - m0, N = n1 - n0;
  const float* A = p.ta ? p.A + m0 : p.A + m0 * p.lda;
  const float* B = p.tb ? p.B + n0 * p.ldb : p.B + n0;
  float* C = p.C + m0 * p.ldc + n0;
#if DEBORA_X86
  if (debora_simd_active() >= DEBORA_SIMD_AVX2) {
    const Blocks bs = block_sizes(M, N, p.K, avx2_impl::MR, avx2_impl::NR);
    float* Ap = aligned_scratch(abuf, bs.mc * bs.kc);
    float* Bp = aligned_scratch(bbuf, bs.kc * bs.nc);
    avx2_impl::serial(p.ta, p.tb, M, N, p.K, p.alpha, A, p.lda, B, p.ldb, p.beta, C, p.ldc, Ap, Bp);
    return;
  }
#endif
  const Blocks bs = block_sizes(M, N, p.K, scalar_impl::MR, scalar_impl::NR);
  float* Ap = aligned_scratch(abuf, bs.mc * bs.kc);
  float* Bp = aligned_scratch(bbuf, bs.kc * bs.nc);
  scalar_impl::serial(p.ta, p.tb, M, N, p.K, p.alpha, A, p.lda, B, p.ldb, p.beta, C, p.ldc, Ap, Bp);
}

/* C = beta C (the whole product when alpha == 0 or K == 0); beta == 0 writes zeros, reading nothing. */
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f)
      std::fill(c, c + N, 0.0f);
    else if (beta != 1.0f)
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

/* Below this many multiply-adds (4 MFLOP, ~50 us on one core) a product stays on the calling
 * thread: measured, 32 x 196 x 144 (0.9 M) ran no faster on two threads than on one. */
constexpr int64_t kMinParallelMacs = int64_t{1} << 21;

/* The requested implementation (debora_gemm_kind); AUTO resolves at each call. */
std::atomic<int> g_impl{DEBORA_GEMM_AUTO};

#ifdef DEBORA_HAVE_BLAS
constexpr bool kHaveBlas = true;

/* OpenBLAS runs single-threaded inside debora's pool (see the file header). Done once, before the
 * first BLAS call; call_once also makes concurrent first callers wait for it. */
void init_blas_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
  });
}

bool fits_blasint(std::initializer_list<int64_t> v) {
  for (int64_t x : v)
    if (x > INT_MAX) return false;
  return true;
}

void run_blas(const Problem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const float* A = p.ta ? p.A + m0 : p.A + m0 * p.lda;
  const float* B = p.tb ? p.B + n0 * p.ldb : p.B + n0;
  float* C = p.C + m0 * p.ldc + n0;
  cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m1 - m0), static_cast<int>(n1 - n0), static_cast<int>(p.K), p.alpha, A,
              static_cast<int>(p.lda), B, static_cast<int>(p.ldb), p.beta, C, static_cast<int>(p.ldc));
}
#else
constexpr bool kHaveBlas = false;
#endif

int resolved_impl() {
  const int v = g_impl.load(std::memory_order_relaxed);
  if (v == DEBORA_GEMM_AUTO) return kHaveBlas ? DEBORA_GEMM_BLAS : DEBORA_GEMM_BUILTIN;
  return v;
}

/* Rows A occupies (stored), and the columns of each row that must be readable. */
struct Extent {
  int64_t rows, cols;
};

bool extent_fits(Extent e, int64_t ld, int64_t* floats) {
  if (e.rows == 0 || e.cols == 0) {
    *floats = 0;
    return true;
  }
  int64_t t;
  if (__builtin_mul_overflow(e.rows - 1, ld, &t) || __builtin_add_overflow(t, e.cols, &t) || t > (INT64_MAX >> 3))
    return false;
  *floats = t;
  return true;
}

bool overlaps(const float* a, int64_t na, const float* b, int64_t nb) {
  if (na == 0 || nb == 0) return false;
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
  return a0 < b0 + static_cast<uintptr_t>(nb) * sizeof(float) && b0 < a0 + static_cast<uintptr_t>(na) * sizeof(float);
}

debora_status validate(const char* op, const Problem& p, int trans_a, int trans_b) {
  using debora::fail;
  debora_status st;
  if (trans_a != 0 && trans_a != 1)
    return fail(DEBORA_INVALID_ARG, "%s: expected 0 or 1 for argument 'trans_a', received %d", op, trans_a);
  if (trans_b != 0 && trans_b != 1)
    return fail(DEBORA_INVALID_ARG, "%s: expected 0 or 1 for argument 'trans_b', received %d", op, trans_b);
  if ((st = debora::check_size(op, "M", p.M, 0)) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "N", p.N, 0)) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "K", p.K, 0)) != DEBORA_OK) return st;
  const Extent ea = p.ta ? Extent{p.K, p.M} : Extent{p.M, p.K};
  const Extent eb = p.tb ? Extent{p.N, p.K} : Extent{p.K, p.N};
  const Extent ec{p.M, p.N};
  if ((st = debora::check_size(op, "lda", p.lda, std::max<int64_t>(1, ea.cols))) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "ldb", p.ldb, std::max<int64_t>(1, eb.cols))) != DEBORA_OK) return st;
  if ((st = debora::check_size(op, "ldc", p.ldc, std::max<int64_t>(1, ec.cols))) != DEBORA_OK) return st;
  if (!std::isfinite(p.alpha))
    return fail(DEBORA_NON_FINITE, "%s: expected a finite number for argument 'alpha', received %g", op,
                static_cast<double>(p.alpha));
  if (!std::isfinite(p.beta))
    return fail(DEBORA_NON_FINITE, "%s: expected a finite number for argument 'beta', received %g", op,
                static_cast<double>(p.beta));
  int64_t na, nb, nc;
  if (!extent_fits(ea, p.lda, &na) || !extent_fits(eb, p.ldb, &nb) || !extent_fits(ec, p.ldc, &nc))
    return fail(DEBORA_INVALID_ARG,
                "%s: expected sizes and leading dimensions whose extents fit in 64 bits for argument 'M, N, K', "
                "received M=%lld, N=%lld, K=%lld",
                op, static_cast<long long>(p.M), static_cast<long long>(p.N), static_cast<long long>(p.K));
  if (na > 0 && (st = debora::check_ptr(op, "A", p.A)) != DEBORA_OK) return st;
  if (nb > 0 && (st = debora::check_ptr(op, "B", p.B)) != DEBORA_OK) return st;
  if (nc > 0 && (st = debora::check_ptr(op, "C", p.C)) != DEBORA_OK) return st;
  /* The kernel reads A and B while it writes C: an overlap would make the result order-dependent. */
  if (overlaps(p.C, nc, p.A, na))
    return fail(DEBORA_INVALID_ARG, "%s: expected a buffer not overlapping 'A' for argument 'C', received an overlap",
                op);
  if (overlaps(p.C, nc, p.B, nb))
    return fail(DEBORA_INVALID_ARG, "%s: expected a buffer not overlapping 'B' for argument 'C', received an overlap",
                op);
  return DEBORA_OK;
}

}  // namespace

namespace debora {
namespace gemm {

void product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool threaded) {
  if (M <= 0 || N <= 0) return;
  if (alpha == 0.0f || K == 0) {
    /* Handled here for both implementations: BLAS conventions differ on whether beta = 0 still
     * multiplies (NaN * 0) the old C. */
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const Problem p{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  void (*part)(const Problem&, int64_t, int64_t, int64_t, int64_t) = run_serial;
#ifdef DEBORA_HAVE_BLAS
  /* This BLAS takes 32-bit sizes (blasint); larger problems use the builtin engine. */
  if (resolved_impl() == DEBORA_GEMM_BLAS && fits_blasint({M, N, K, lda, ldb, ldc})) {
    init_blas_threads();
    part = run_blas;
  }
#endif
  const int64_t threads = threaded ? pool_size() : 1;
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (threads <= 1 || macs < static_cast<double>(kMinParallelMacs)) {
    part(p, 0, M, 0, N);
    return;
  }
  /* Split the longer side of C into one part per thread, at tile boundaries (multiples of 12 rows
   * or 16 columns: multiples of every MR (6, 4) and NR (16, 4), so the builtin tile grid, and with
   * it each element's arithmetic, is the same as unsplit). Each part packs the other operand for
   * itself: splitting rows repeats the packing of B, so rows are split when B is the smaller one. */
  const bool by_rows = N <= M ? M >= 24 : N < 32;
  const int64_t extent = by_rows ? M : N;
  const int64_t unit = by_rows ? 12 : 16;
  const int64_t units = ceil_div(extent, unit);
  const int64_t parts = std::min<int64_t>(threads, units);
  if (parts <= 1) {
    part(p, 0, M, 0, N);
    return;
  }
  parallel_for(parts, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t lo = std::min(extent, t * units / parts * unit);
      const int64_t hi = std::min(extent, (t + 1) * units / parts * unit);
      if (lo >= hi) continue;
      if (by_rows)
        part(p, lo, hi, 0, N);
      else
        part(p, 0, M, lo, hi);
    }
  });
}

}  // namespace gemm
}  // namespace debora

extern "C" debora_status debora_gemm_cpu(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                                         int64_t ldc) {
  static const char* op = "gemm";
  return debora::guarded(op, [&] {
    const Problem p{trans_a == 1, trans_b == 1, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    debora_status st = validate(op, p, trans_a, trans_b);
    if (st != DEBORA_OK) return st;
    debora::gemm::product(p.ta, p.tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_gemm_set_impl(int impl) {
  return debora::guarded("gemm_set_impl", [&] {
    if (impl < DEBORA_GEMM_AUTO || impl > DEBORA_GEMM_BLAS)
      return debora::fail(DEBORA_INVALID_ARG,
                          "gemm_set_impl: expected 0 (auto), 1 (builtin) or 2 (blas) for argument 'impl', received %d",
                          impl);
    if (impl == DEBORA_GEMM_BLAS && !kHaveBlas)
      return debora::fail(DEBORA_BACKEND_UNAVAILABLE,
                          "gemm_set_impl: expected 'auto' or 'builtin' for argument 'impl', received 'blas' (this build "
                          "has no BLAS: install libopenblas-dev and rebuild with CMake)");
    g_impl.store(impl, std::memory_order_relaxed);
    return DEBORA_OK;
  });
}

extern "C" int debora_gemm_impl(void) { return resolved_impl(); }

extern "C" int debora_blas_compiled(void) { return kHaveBlas ? 1 : 0; }

extern "C" const char* debora_blas_library(void) { return kHaveBlas ? DEBORA_BLAS_LIBRARY : ""; }

extern "C" const char* debora_blas_config(void) {
#ifdef DEBORA_HAVE_BLAS
  /* Built once: OpenBLAS's strings are static, but the core name is chosen at load (DYNAMIC_ARCH,
   * OPENBLAS_CORETYPE). */
  static const std::string text = [] {
    std::string s;
    if (openblas_get_config != nullptr && openblas_get_config() != nullptr) s = openblas_get_config();
    if (openblas_get_corename != nullptr && openblas_get_corename() != nullptr)
      s += std::string(s.empty() ? "" : "; ") + "core " + openblas_get_corename();
    return s;
  }();
  return text.c_str();
#else
  return "";
#endif
}
