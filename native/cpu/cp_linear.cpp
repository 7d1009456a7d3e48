/* cp_linear.cpp — CPU kernels of op cp_linear, the matrix adapter (d = 2) on a batch:
 *   fwd: Z = X V;  Y (+)= (Z . s) U^T
 *   bwd: T = dY U;  ds = colsum(Z . T);  dU = dY^T (Z . s);  dV = X^T (T . s);  dX (+)= (T . s) V^T
 * One pass over the batch in row blocks (MB rows; in a backward from DRAM as many as fit 3/4 of L2):
 * each block of X (and dY) is read from memory once and reused from cache by every product that needs
 * it; the r-wide intermediates live in a per-thread scratch; factor gradients are per-chunk partials
 * reduced in chunk order (deterministic for a given thread count). The rank is padded to a multiple
 * of 8 (1 for scalar code) in cached copies of the factors; AVX-512 runs 16-lane tiles, several-k-per-vector
 * kernels at rp = 8 and 16 and a last 8 columns in the AVX2 tiles (docs/kernels-linear.md).
 * Workspaces are thread-local and grow-only, so a steady training loop allocates nothing.
 * Tested in test/native/cp_linear.test.ts and test/native/driver_cp_linear.cpp. */
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "cp_dense_simd.h"
#include "internal.h"
#include "simd.h"
#if DEBORA_X86
#include <immintrin.h>
#endif
#include "stream.h"
#include "thread_pool.h"

namespace {

/* A companion stream to prefetch while a k1 pass walks its own rows: rows of `len` floats at stride
 * `ld` (the same row indices as k1's A). k1 streams A in row order, which the hardware prefetcher
 * follows; a matrix that is next read in column strips (k3) would stall on DRAM latency instead
 * (measured: k3 over X straight from DRAM took 4x its in-cache time), so its rows are fetched
 * during k1's compute. */
struct Companion {
  const float* p = nullptr;
  int64_t ld = 0;
  int64_t len = 0;
};

/* k per vector in AVX-512's k1 at a padded rank of 8 or 16 (kvec::k1), and the floats of a K x rp factor's
 * interleaved form for it (kvec::interleave). */
constexpr int64_t k1_kv(int64_t rp) { return rp == 8 ? 4 : 2; }
inline int64_t interleaved_size(int64_t K, int64_t rp) { return (K + k1_kv(rp) - 1) / k1_kv(rp) * k1_kv(rp) * rp; }

/* ---- vector traits: the dense route's (cp_dense_simd.h: vec, W, load/store/set1/fma/add/mul) plus
 * masked tails and this op's register-tile shapes. The scalar one is always compiled; the AVX ones
 * only inside their pragmas. ---- */
struct ScalarTraits : debora::dense::ScalarTraits {
  static inline vec load_partial(const float* p, int64_t n) { return n > 0 ? *p : 0.0f; }
  static inline void store_partial(float* p, vec v, int64_t n) {
    if (n > 0) *p = v;
  }
  static constexpr int k1_mr(int cv) { return cv == 4 ? 3 : cv == 2 ? 4 : 8; }
  static constexpr int k2_mr = 4, k2_nv = 3;
  static constexpr int k3_kr(int cv) { return cv == 2 ? 6 : 12; }
};

namespace scalar_impl {
using V = ScalarTraits;
#include "cp_linear_kernels.inc"
}  // namespace scalar_impl

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
struct Avx2Traits : debora::dense::Avx2Traits {
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
  /* Register tiles for 16 registers (see the kernels' comments for how they were chosen). */
  static constexpr int k1_mr(int cv) { return cv == 4 ? 3 : cv == 2 ? 4 : 8; }
  static constexpr int k2_mr = 4, k2_nv = 3;
  static constexpr int k3_kr(int cv) { return cv == 2 ? 6 : 12; }
};
namespace avx2_impl {
using V = Avx2Traits;
#include "cp_linear_kernels.inc"
}  // namespace avx2_impl
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
struct Avx512Traits : debora::dense::Avx512Traits {
  static inline __mmask16 mask(int64_t n) { return static_cast<__mmask16>((1u << std::min<int64_t>(n, 16)) - 1u); }
  static inline vec load_partial(const float* p, int64_t n) {
    if (n >= 16) return _mm512_loadu_ps(p);
    if (n <= 0) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(mask(n), p);
  }
  static inline void store_partial(float* p, vec v, int64_t n) {
    if (n >= 16) _mm512_storeu_ps(p, v);
    else if (n > 0) _mm512_mask_storeu_ps(p, mask(n), v);
  }
  /* A non-temporal store of one whole, aligned cache line (k2_nt). */
  static inline void stream(float* p, vec v) { _mm512_stream_ps(p, v); }
  /* Register tiles for 32 registers. */
  static constexpr int k1_mr(int cv) { return cv == 4 ? 6 : cv == 2 ? 8 : 12; }
  static constexpr int k2_mr = 8, k2_nv = 3;
  static constexpr int k3_kr(int cv) { return cv == 2 ? 12 : 24; }
};
namespace avx512_impl {
using V = Avx512Traits;
#include "cp_linear_kernels.inc"

/* C[M x N] = A[M x rp] * Bt[rp x N] with non-temporal stores from the register tiles: every vector of C a whole
 * 64-byte line (C + j * ldc aligned for every row, N a multiple of 16; Avx512Impl::k2_stream splits off the rest).
 * Only this level has it: an 8-lane vector is half a line. */
inline void k2_nt(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N, float* C,
                  int64_t ldc) {
  k2_acc<false, true>(M, rp, A, Bt, ldb, N, C, ldc);
}

/* ---- several k in one 16-lane vector: k1 and k3 at rp = 8 and 16 (AVX-512) ----
 * Along the rank a 16-lane vector would be half empty at rp = 8 (and the AVX2 copy runs at half of
 * this machine's FMA rate), and at rp = 16 the 16-lane tile needs one broadcast of A per FMA. k1 puts KV
 * consecutive k in one vector instead (KV = 4 at rp = 8, 2 at rp = 16): for each group g of 16 / KV
 * columns, lane KV j + q holds B[k + q, (16 / KV) g + j] (Bi, the factor's rows interleaved, built once per call),
 * A[m, k..k+KV-1] is one 64- or 128-bit broadcast (a plain load, no shuffle) shared by the G = rp KV / 16
 * groups, and each run of KV lanes is added at the end: one broadcast per two FMAs. In cache, TSC ticks
 * per 768-long row: rp = 8, 131-135 against 153-166 with KV = 2; rp = 16, 239 against 274-279 for the
 * 16-lane tile. k3 puts two consecutive output rows in one vector: lanes (2j, 2j+1) accumulate C[k, j]
 * and C[k+1, j] from the 64-bit broadcast of A[m, k..k+1] times B[m, j] duplicated into both lanes (Bd,
 * per block); four rows per vector at rp = 8 was 4% faster in cache but no faster in place (pair 0.99-1.01,
 * paired), so k3 stays at two. */
namespace kvec {

/* vpermps without GCC 12's "undefined" pass-through operand (which -Wmaybe-uninitialized flags);
 * these run once per tile, not in the inner loops. */
inline __m512 permute16(__m512i idx, __m512 a) { return _mm512_permutex2var_ps(a, idx, a); }

inline __m512 bcast2(const float* p) {
  double d;
  std::memcpy(&d, p, sizeof d);
  return _mm512_castpd_ps(_mm512_set1_pd(d));
}

/* B (K x rp, rp = 8 or 16) -> Bi: for each step t of KV = k1_kv(rp) rows and each group g of 16 / KV columns,
 * 16 floats at Bi + 16 (G t + g) with lane KV j + q = B[KV t + q, (16 / KV) g + j]; rows past K are zeros
 * (interleaved_size(K, rp) floats). Once per call, by permutes of whole rows. */
inline void interleave(const float* B, int64_t K, int64_t rp, float* Bi) {
  if (k1_kv(rp) == 2) {
    const __m512i idx = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    for (int64_t k = 0; k < K; k += 2)
      for (int64_t g = 0; g < rp; g += 8) {
        const __m256 lo = _mm256_loadu_ps(B + k * rp + g);
        const __m256 hi = k + 1 < K ? _mm256_loadu_ps(B + (k + 1) * rp + g) : _mm256_setzero_ps();
        _mm512_storeu_ps(Bi + k * rp + 2 * g, permute16(idx, _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1)));
      }
    return;
  }
  /* rp = 8, KV = 4: rows 4t, 4t+1 in v0 and 4t+2, 4t+3 in v1; lane 4j + q of group g takes row q, column 4g + j. */
  __m512i idx[2];
  for (int g = 0; g < 2; ++g) {
    alignas(64) int32_t lanes[16];
    for (int j = 0; j < 4; ++j)
      for (int q = 0; q < 4; ++q) lanes[4 * j + q] = (q < 2 ? 0 : 16) + 8 * (q % 2) + 4 * g + j;
    idx[g] = _mm512_load_si512(lanes);
  }
  for (int64_t k = 0; k < K; k += 4) {
    const int64_t n = std::min<int64_t>(4, K - k); /* rows present */
    const __m512 v0 = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (8 * std::min<int64_t>(n, 2))) - 1), B + 8 * k);
    const __m512 v1 = n > 2 ? _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (8 * (n - 2))) - 1), B + 8 * (k + 2))
                            : _mm512_setzero_ps();
    for (int g = 0; g < 2; ++g) _mm512_storeu_ps(Bi + 8 * k + 16 * g, _mm512_permutex2var_ps(v0, idx[g], v1));
  }
}

/* A[0 .. KV) broadcast to every KV-lane run; n < KV: the first n, zeros after (a masked load, in bounds). The
 * maskz forms with a full mask: the plain broadcasts carry GCC 12's "undefined" operand (see permute16). */
template <int KV>
__attribute__((always_inline)) inline __m512 bcast_k(const float* p, int64_t n = KV) {
  if (n == KV) return KV == 2 ? bcast2(p) : _mm512_maskz_broadcast_f32x4(0xFFFF, _mm_loadu_ps(p));
  const __m128 a = _mm_maskz_loadu_ps(static_cast<__mmask8>((1u << n) - 1), p);
  return KV == 2 ? _mm512_maskz_broadcast_f32x2(0xFFFF, a) : _mm512_maskz_broadcast_f32x4(0xFFFF, a);
}

/* C[MR x rp] = A[MR x K] * B[K x rp] from Bi, rp = 16 G / KV. Rows addressed as in the generic k1_block (one
 * moving base per four rows), so nothing spills. With PF, the companion is prefetched as in k1_block. */
template <int KV, int MR, int G, bool PF>
__attribute__((always_inline)) inline void k1_block(int64_t K, const float* __restrict A, int64_t lda,
                                                    const float* __restrict Bi, float* __restrict C, Companion pf) {
  constexpr int COLS = 16 / KV, RP = COLS * G;
  __m512 acc[MR][G];
  #pragma GCC unroll 32
  for (int m = 0; m < MR; ++m)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) acc[m][g] = _mm512_setzero_ps();
  const float* base[(MR + 3) / 4];
  #pragma GCC unroll 32
  for (int g = 0; g < (MR + 3) / 4; ++g) base[g] = A + 4 * g * lda;
  const int64_t l2 = 2 * lda, l3 = 3 * lda;
  const int64_t KS = K / KV; /* whole steps */
  auto step = [&](int64_t t, int64_t n) __attribute__((always_inline)) {
    __m512 b[G];
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) b[g] = _mm512_loadu_ps(Bi + 16 * (G * t + g));
    #pragma GCC unroll 32
    for (int m = 0; m < MR; ++m) {
      const int64_t off = (m % 4 == 0 ? 0 : m % 4 == 1 ? lda : m % 4 == 2 ? l2 : l3) + KV * t;
      const __m512 a = bcast_k<KV>(base[m / 4] + off, n);
      #pragma GCC unroll 32
      for (int g = 0; g < G; ++g) acc[m][g] = _mm512_fmadd_ps(a, b[g], acc[m][g]);
    }
  };
  if constexpr (!PF) {
    for (int64_t t = 0; t < KS; ++t) step(t, KV);
  } else {
    constexpr int64_t SC = 16 / KV; /* steps per 16 k: one line of each row */
    for (int64_t t0 = 0; t0 < KS; t0 += SC) {
      /* the last chunk's lines reach to K (a last partial step is read after the whole ones) */
      const int64_t k0 = KV * t0, k1e = t0 + SC >= KS ? K : k0 + 16;
      const int64_t lo = (k0 * pf.len / K) & ~int64_t{15}, hi = k1e * pf.len / K;
      #pragma GCC unroll 32
      for (int m = 0; m < MR; ++m)
        for (int64_t q = lo; q < hi; q += 16) __builtin_prefetch(pf.p + m * pf.ld + q, 0, 3);
      const int64_t te = std::min(t0 + SC, KS);
      for (int64_t t = t0; t < te; ++t) step(t, KV);
    }
  }
  if constexpr (PF)
    if (KS == 0) /* K < KV: no whole step, so the companion's rows go here */
      #pragma GCC unroll 32
      for (int m = 0; m < MR; ++m)
        for (int64_t q = 0; q < pf.len; q += 16) __builtin_prefetch(pf.p + m * pf.ld + q, 0, 3);
  if (K % KV != 0) step(KS, K % KV); /* Bi's rows past K are zeros */
  #pragma GCC unroll 32
  for (int m = 0; m < MR; ++m)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) {
      __m512 sum = _mm512_add_ps(acc[m][g], _mm512_shuffle_ps(acc[m][g], acc[m][g], 0xB1)); /* lane 2j + 2j+1 */
      if constexpr (KV == 2) {
        _mm512_mask_storeu_ps(C + RP * m + COLS * g, 0x00FF, _mm512_maskz_compress_ps(0x5555, sum));
      } else {
        sum = _mm512_add_ps(sum, _mm512_shuffle_ps(sum, sum, 0x4E)); /* + lanes 4j+2, 4j+3 */
        _mm512_mask_storeu_ps(C + RP * m + COLS * g, 0x000F, _mm512_maskz_compress_ps(0x1111, sum));
      }
    }
}

/* 8-row tiles (rp = 8 with KV = 2: 12 rows ran faster in isolation, 176 against 167 GFLOP/s, but 0.95x in
 * place; rp = 16: 239 TSC ticks per row against 277-283 with 12 or 10 rows; rp = 8, KV = 4: 131-135 against
 * 147-160 with 12 or 10 rows, in cache). */
template <int KV, int G, bool PF>
inline void k1_rows(int64_t M, int64_t K, const float* A, int64_t lda, const float* Bi, float* C, Companion pf) {
  constexpr int MR = 8, RP = 16 / KV * G;
  int64_t m = 0;
  for (; m + MR <= M; m += MR) {
    k1_block<KV, MR, G, PF>(K, A + m * lda, lda, Bi, C + RP * m, pf);
    if constexpr (PF) pf.p += MR * pf.ld;
  }
  for (; m + 4 <= M; m += 4) {
    k1_block<KV, 4, G, PF>(K, A + m * lda, lda, Bi, C + RP * m, pf);
    if constexpr (PF) pf.p += 4 * pf.ld;
  }
  for (; m < M; ++m) {
    k1_block<KV, 1, G, PF>(K, A + m * lda, lda, Bi, C + RP * m, pf);
    if constexpr (PF) pf.p += pf.ld;
  }
}

/* C[M x rp] = A[M x K] * B[K x rp] from Bi (interleave), rp = 8 or 16. */
inline void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* Bi, int64_t rp, float* C, Companion pf) {
  if (rp == 8)
    pf.p != nullptr ? k1_rows<4, 2, true>(M, K, A, lda, Bi, C, pf) : k1_rows<4, 2, false>(M, K, A, lda, Bi, C, pf);
  else
    pf.p != nullptr ? k1_rows<2, 2, true>(M, K, A, lda, Bi, C, pf) : k1_rows<2, 2, false>(M, K, A, lda, Bi, C, pf);
}

/* C[2 KP x 8G] += A[M x 2 KP]^T * B[M x 8G] (A row stride lda, C row stride 8G) from Bd (B's rows with every
 * element duplicated, M x 16G); KP x G accumulators held over the whole block. ODD: a single last row of C.
 * Each element of C is the same FMA chain over m as in the 16-lane k3_block, so the results are identical. */
template <int KP, int G, bool ODD>
__attribute__((always_inline)) inline void k3_block(int64_t M, const float* __restrict A, int64_t lda,
                                                    const float* __restrict Bd, float* __restrict C) {
  __m512 acc[KP][G];
  #pragma GCC unroll 32
  for (int q = 0; q < KP; ++q)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) acc[q][g] = _mm512_setzero_ps();
  for (int64_t m = 0; m < M; ++m) {
    __m512 b[G];
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) b[g] = _mm512_loadu_ps(Bd + 16 * (G * m + g));
    const float* a = A + m * lda;
    #pragma GCC unroll 32
    for (int q = 0; q < KP; ++q) {
      const __m512 av = ODD ? _mm512_set1_ps(a[0]) : bcast2(a + 2 * q);
      #pragma GCC unroll 32
      for (int g = 0; g < G; ++g) acc[q][g] = _mm512_fmadd_ps(av, b[g], acc[q][g]);
    }
  }
  const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  #pragma GCC unroll 32
  for (int q = 0; q < KP; ++q)
    #pragma GCC unroll 32
    for (int g = 0; g < G; ++g) {
      const __m512 v = permute16(idx, acc[q][g]); /* [C[k, 8g..8g+7], C[k+1, 8g..8g+7]] */
      float* c0 = C + 16 * G * q + 8 * g;
      if (G == 1 && !ODD) {
        _mm512_storeu_ps(c0, _mm512_add_ps(_mm512_loadu_ps(c0), v));
      } else {
        _mm256_storeu_ps(c0, _mm256_add_ps(_mm256_loadu_ps(c0), _mm512_extractf32x8_ps(v, 0)));
        if (!ODD) _mm256_storeu_ps(c0 + 8 * G, _mm256_add_ps(_mm256_loadu_ps(c0 + 8 * G), _mm512_extractf32x8_ps(v, 1)));
      }
    }
}

/* 24 accumulators: 48 rows of C at rp = 8, 24 at rp = 16 (in cache 252-266 TSC ticks per 768-long row against
 * 276-295 for the 16-lane 24 x 1 tile at rp = 16). */
template <int G>
inline void k3_rows(int64_t M, int64_t K, const float* A, int64_t lda, const float* Bd, float* C) {
  constexpr int KP = 24 / G;
  int64_t k = 0;
  for (; k + 2 * KP <= K; k += 2 * KP) k3_block<KP, G, false>(M, A + k, lda, Bd, C + 8 * G * k);
  for (; k + 2 <= K; k += 2) k3_block<1, G, false>(M, A + k, lda, Bd, C + 8 * G * k);
  if (k < K) k3_block<1, G, true>(M, A + k, lda, Bd, C + 8 * G * k);
}

/* C[K x rp] += A[M x K]^T * B[M x rp] from Bd, rp = 8 or 16. */
inline void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* Bd, int64_t rp, float* C) {
  if (rp == 8)
    k3_rows<1>(M, K, A, lda, Bd, C);
  else
    k3_rows<2>(M, K, A, lda, Bd, C);
}

/* B[M x rp] -> Bd[M x 2 rp], every element twice (rp a multiple of 8). */
inline void duplicate(int64_t M, const float* B, int64_t rp, float* Bd) {
  const __m512i idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t j = 0; j < M * rp; j += 8)
    _mm512_storeu_ps(Bd + 2 * j, permute16(idx, _mm512_castps256_ps512(_mm256_loadu_ps(B + j))));
}

}  // namespace kvec
}  // namespace avx512_impl
#pragma GCC pop_options
#endif

constexpr int64_t MB = 64; /* rows per block: X block of 64 x 768 floats = 192 KiB stays in L2 */

/* L2 bytes per core (sysconf where glibc reports it; 512 KiB, the smallest of the machines measured, otherwise). */
int64_t l2_bytes() {
  static const int64_t bytes = [] {
    int64_t n = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    n = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return n >= (int64_t{256} << 10) ? n : int64_t{512} << 10;
  }();
  return bytes;
}

/* Rows per backward block. From DRAM (from_dram), the block's rows of dY and X must stay in L2 from k1 to the
 * last k3: three quarters of L2 for them, at most 2 * MB rows. With 1 MiB that is 128 rows at 768 -> 768: the
 * backward 1.02-1.05x faster than with 64 (1.11-1.14x at r = 32, where each block re-reads its 2 x 768 x rp
 * floats of partial sums), paired; 96 and 160 rows were within the noise of 128 (docs/kernels-linear.md,
 * "Ninth look"). From cache the block is MB rows. */
int64_t bwd_block_rows(int64_t n_in, int64_t n_out, bool from_dram) {
  if (!from_dram) return MB;
  const int64_t row_bytes = (n_in + n_out) * int64_t{sizeof(float)};
  return std::max<int64_t>(8, std::min<int64_t>(2 * MB, l2_bytes() * 3 / 4 / row_bytes / 8 * 8));
}

/* Grow-only thread-local scratch: after the first call of a given size nothing is allocated. */
float* scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[6];
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
  /* Row strides of Upt and Vpt: an odd number of cache lines (internal.h). k2 reads a 16 KiB panel of
   * rp rows of them from L1 per row group; at the dense stride of 768 floats (48 lines) those rows
   * fell into a quarter of the L1 sets and evicted each other (forward 1.04-1.09x, see
   * docs/kernels-linear.md). */
  int64_t ldut, ldvt;
  const float* sp;   /* rp, zeros beyond r */
  /* Up and Vp interleaved (kvec::interleave), for the AVX-512 k1 at rp = 8 and 16; null otherwise. */
  const float* Upi;
  const float* Vpi;
};

/* Which padded forms of the factors a pass reads: the forward k1 reads Vp and its k2 Upt; the
 * backward's k1 reads Up (and Vp when Z is not given) and its k2 Vpt. `interleaved`: the level's k1 reads
 * the interleaved forms at rp = 8 and 16 (Impl::kInterleaved). */
struct Needs {
  bool up, vp, ut, vt, interleaved;
};

/* The rank r padded to a multiple of W: the columns of the padded factors and of the backward's partial sums. */
inline int64_t padded_rank(int64_t r, int64_t W) { return (r + W - 1) / W * W; }

/* Copies of the factors padded to rp columns (zeros), and their transposes, only those the pass reads, in the
 * calling thread's scratch (each thread of a pass pads its own: thread_padded). When r is already a multiple of
 * the padding (r = 8, 16, 32, ...) the row-major factors are used in place. It is kept to the O((n_in + n_out) r)
 * copies actually needed (at N = 512 it was a few percent of the pass: the old version cleared and filled all
 * four forms every call). */
Padded pad_factors(int64_t n_in, int64_t n_out, int64_t r, int64_t W, const float* U, const float* V, const float* s,
                   Needs need) {
  Padded p{};
  p.rp = padded_rank(r, W);
  const int64_t rp = p.rp;
  const bool copy_u = need.up && rp != r, copy_v = need.vp && rp != r;
  p.ldut = debora::odd_line_stride(n_out);
  p.ldvt = debora::odd_line_stride(n_in);
  const bool inter = need.interleaved && (rp == 8 || rp == 16);
  float* buf = scratch(0, static_cast<size_t>((copy_u ? n_out * rp : 0) + (copy_v ? n_in * rp : 0) +
                                              (need.ut ? rp * p.ldut : 0) + (need.vt ? rp * p.ldvt : 0) + rp +
                                              (inter && need.up ? interleaved_size(n_out, rp) : 0) +
                                              (inter && need.vp ? interleaved_size(n_in, rp) : 0)));
  /* rows x r (row-major) -> rows x rp with zero columns r .. rp. */
  auto pad_rows = [&](const float* src, int64_t rows) {
    float* dst = buf;
    buf += rows * rp;
    for (int64_t j = 0; j < rows; ++j) {
      std::memcpy(dst + j * rp, src + j * r, sizeof(float) * static_cast<size_t>(r));
      std::memset(dst + j * rp + r, 0, sizeof(float) * static_cast<size_t>(rp - r));
    }
    return dst;
  };
  /* rows x r (row-major) -> rp x rows with row stride ld, rows r .. rp zero (columns rows .. ld are
   * never read). */
  auto transpose = [&](const float* src, int64_t rows, int64_t ld) {
    float* dst = buf;
    buf += rp * ld;
    int64_t j = 0;
#if DEBORA_X86
    /* 4 x 4 blocks through SSE registers (baseline x86-64): element by element, each store went to a
     * different row of dst, ~30 us per 768 x 32 factor on the caller while the workers waited. */
    for (; j + 4 <= rows; j += 4) {
      int64_t i = 0;
      for (; i + 4 <= r; i += 4) {
        __m128 a0 = _mm_loadu_ps(src + j * r + i), a1 = _mm_loadu_ps(src + (j + 1) * r + i);
        __m128 a2 = _mm_loadu_ps(src + (j + 2) * r + i), a3 = _mm_loadu_ps(src + (j + 3) * r + i);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        _mm_storeu_ps(dst + i * ld + j, a0);
        _mm_storeu_ps(dst + (i + 1) * ld + j, a1);
        _mm_storeu_ps(dst + (i + 2) * ld + j, a2);
        _mm_storeu_ps(dst + (i + 3) * ld + j, a3);
      }
      for (; i < r; ++i)
        for (int64_t jj = j; jj < j + 4; ++jj) dst[i * ld + jj] = src[jj * r + i];
    }
#endif
    for (; j < rows; ++j)
      for (int64_t i = 0; i < r; ++i) dst[i * ld + j] = src[j * r + i];
    std::memset(dst + r * ld, 0, sizeof(float) * static_cast<size_t>((rp - r) * ld));
    return dst;
  };
  if (need.up) p.Up = copy_u ? pad_rows(U, n_out) : U;
  if (need.vp) p.Vp = copy_v ? pad_rows(V, n_in) : V;
  if (need.ut) p.Upt = transpose(U, n_out, p.ldut);
  if (need.vt) p.Vpt = transpose(V, n_in, p.ldvt);
  float* sp = buf;
  std::memcpy(sp, s, sizeof(float) * static_cast<size_t>(r));
  std::memset(sp + r, 0, sizeof(float) * static_cast<size_t>(rp - r));
  p.sp = sp;
  buf += rp;
#if DEBORA_X86
  if (inter && need.up) {
    avx512_impl::kvec::interleave(p.Up, n_out, rp, buf);
    p.Upi = buf;
    buf += interleaved_size(n_out, rp);
  }
  if (inter && need.vp) {
    avx512_impl::kvec::interleave(p.Vp, n_in, rp, buf);
    p.Vpi = buf;
  }
#endif
  return p;
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

/* The columns of a streamed output [head, head + body) that go out straight from k2's register tiles with
 * non-temporal stores (AVX-512: a vector is a line): from the first line boundary of a row, in whole vectors. The
 * head before it and the tail after it (under a vector) take plain stores, so no line is written partly streamed.
 * body = 0 when the rows do not all start at one offset within a line (ldc not a multiple of 16 floats). */
struct NtSplit {
  int64_t head = 0, body = 0;
};
inline NtSplit nt_split(const float* C, int64_t N, int64_t ldc) {
  const uintptr_t off = reinterpret_cast<uintptr_t>(C) & 63;
  if (ldc % 16 != 0 || off % sizeof(float) != 0) return {};
  const int64_t head = std::min<int64_t>(N, static_cast<int64_t>((64 - off) & 63) / int64_t{sizeof(float)});
  return {head, (N - head) / 16 * 16};
}

/* C[M x N] = A[M x rp] * Bt[rp x N] written with streaming stores: MR_STAGE rows at a time into a
 * cache-resident strip, then streamed out (stream.h). Used for a large Y or dX that is overwritten. */
constexpr int64_t MR_STAGE = 8; /* two of k2's 4-row groups */

template <class Impl>
void k2_streamed(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N, float* C,
                 int64_t ldc) {
  float* stage = scratch(3, static_cast<size_t>(MR_STAGE * N));
  for (int64_t m = 0; m < M; m += MR_STAGE) {
    const int64_t mb = std::min(MR_STAGE, M - m);
    Impl::k2(mb, rp, A + m * rp, Bt, ldb, N, stage, N, false);
    for (int64_t j = 0; j < mb; ++j) Impl::stream_copy(C + (m + j) * ldc, stage + j * N, N);
  }
}

template <class Impl>
void fwd_rows(int64_t b, int64_t e, int64_t n_in, int64_t n_out, int64_t r, const float* X, const Padded& p, float* Y,
              bool accumulate, bool stream, float* Z) {
  const int64_t rp = p.rp;
  float* Zb = scratch(1, static_cast<size_t>(2 * MB * rp));
  float* Zs = Zb + MB * rp;
  for (int64_t m0 = b; m0 < e; m0 += MB) {
    const int64_t M = std::min(MB, e - m0);
    Impl::k1(M, n_in, X + m0 * n_in, n_in, p.Vp, p.Vpi, rp, Zb, Companion{});
    if (Z != nullptr)
      for (int64_t m = 0; m < M; ++m)
        std::memcpy(Z + (m0 + m) * r, Zb + m * rp, sizeof(float) * static_cast<size_t>(r));
    Impl::scale_rows(M, rp, Zb, p.sp, Zs);
    /* No prefetch of the next block here: k1 reads X's rows in order, which the hardware prefetcher follows, and
     * prefetching the next block during k2 (a look-ahead, since removed) competed with Y's streamed stores. Without
     * it the forward ran 1.23-1.32x faster at N = 4096, r = 8 (1.31x at N = 2048, 1.10x at r = 16, 1.01x at
     * r = 32; AVX2 level 1.04-1.11x), paired (docs/kernels-linear.md, "Eighth look"). */
    if (stream)
      Impl::k2_stream(M, rp, Zs, p.Upt, p.ldut, n_out, Y + m0 * n_out, n_out);
    else
      Impl::k2(M, rp, Zs, p.Upt, p.ldut, n_out, Y + m0 * n_out, n_out, accumulate);
  }
  if (stream) debora::stream_fence();
}

struct Partials {
  float* dU; /* n_out x rp */
  float* dV; /* n_in x rp */
  float* ds; /* rp */
};

template <class Impl>
void bwd_rows(int64_t b, int64_t e, int64_t n_in, int64_t n_out, int64_t r, const float* X, const Padded& p,
              const float* dY, const float* Z, float* dX, bool accumulate_dx, bool stream, bool from_dram,
              Partials part) {
  const int64_t rp = p.rp;
  const int64_t mb = bwd_block_rows(n_in, n_out, from_dram);
  float* Zb = scratch(1, static_cast<size_t>(4 * mb * rp));
  float* Tb = Zb + mb * rp;
  float* Zs = Tb + mb * rp;
  float* Ts = Zs + mb * rp;
  for (int64_t m0 = b; m0 < e; m0 += mb) {
    const int64_t M = std::min(mb, e - m0);
    const float* Xb = X + m0 * n_in;
    const float* dYb = dY + m0 * n_out;
    /* With Z given, X is first read by k3, in column strips, which the hardware prefetcher does not follow; so the
     * block's rows of X are fetched while k1 walks dY's rows in order (Companion). From DRAM, in every block: this
     * replaced a look-ahead that fetched the next block's dY and X during this block's k3 and k2, 1.09-1.36x on the
     * backward at N = 2048-4096 (docs/kernels-linear.md, "Ninth look"). From cache, in the first block only: the
     * forward left the other blocks' rows in L2 (every block: 0.94-0.97x at N = 512). */
    Companion pf{};
    if (Z != nullptr) {
      std::memset(Zb, 0, sizeof(float) * static_cast<size_t>(M * rp));
      for (int64_t m = 0; m < M; ++m) std::memcpy(Zb + m * rp, Z + (m0 + m) * r, sizeof(float) * static_cast<size_t>(r));
      if (from_dram || m0 == b) pf = Companion{Xb, n_in, n_in};
    } else {
      Impl::k1(M, n_in, Xb, n_in, p.Vp, p.Vpi, rp, Zb, Companion{});
    }
    Impl::k1(M, n_out, dYb, n_out, p.Up, p.Upi, rp, Tb, pf);
    Impl::colsum_product(M, rp, Zb, Tb, part.ds);
    Impl::scale_rows(M, rp, Zb, p.sp, Zs);
    Impl::scale_rows(M, rp, Tb, p.sp, Ts);
    Impl::k3(M, n_out, dYb, n_out, Zs, rp, part.dU);
    Impl::k3(M, n_in, Xb, n_in, Ts, rp, part.dV);
    if (dX != nullptr && stream)
      Impl::k2_stream(M, rp, Ts, p.Vpt, p.ldvt, n_in, dX + m0 * n_in, n_in);
    else if (dX != nullptr)
      Impl::k2(M, rp, Ts, p.Vpt, p.ldvt, n_in, dX + m0 * n_in, n_in, accumulate_dx);
  }
  if (stream) debora::stream_fence();
}

/* Each Impl says what the rank is padded to (kPad: 8 under AVX2 and AVX-512, where AVX-512 runs a last
 * 8 columns in 8-lane tiles rather than padding r = 8 to 16, which would double k2's work; 1 for scalar
 * code) and whether its k1 reads the interleaved factors at rp = 8 and 16 (kInterleaved). The padding comes
 * from the Impl, not from a second reading of the SIMD level, which another thread may change
 * (setSimd) while an async call runs. */
struct ScalarImpl {
  static constexpr int64_t kPad = 1;
  static constexpr bool kInterleaved = false;
  static void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, const float*, int64_t rp, float* C,
                 Companion pf) {
    scalar_impl::k1(M, K, A, lda, B, rp, C, pf, rp);
  }
  static void stream_copy(float* dst, const float* src, int64_t n) { debora::stream_copy<1>(dst, src, n); }
  static void k2_stream(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N, float* C,
                        int64_t ldc) {
    k2_streamed<ScalarImpl>(M, rp, A, Bt, ldb, N, C, ldc);
  }
  static void k2(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N, float* C,
                 int64_t ldc, bool acc) {
    scalar_impl::k2(M, rp, A, Bt, ldb, N, C, ldc, acc);
  }
  static void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp, float* C) {
    scalar_impl::k3(M, K, A, lda, B, rp, C, rp);
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
  static constexpr int64_t kPad = 8;
  static constexpr bool kInterleaved = false;
  DEBORA_TARGET_AVX2 static void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, const float*,
                                    int64_t rp, float* C, Companion pf) {
    avx2_impl::k1(M, K, A, lda, B, rp, C, pf, rp);
  }
  static void stream_copy(float* dst, const float* src, int64_t n) { debora::stream_copy<8>(dst, src, n); }
  /* Through the staging strip: an 8-lane vector is half a line, so streaming the tiles themselves would leave
   * lines half-written between two tiles. */
  static void k2_stream(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N, float* C,
                        int64_t ldc) {
    k2_streamed<Avx2Impl>(M, rp, A, Bt, ldb, N, C, ldc);
  }
  DEBORA_TARGET_AVX2 static void k2(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N,
                                    float* C, int64_t ldc, bool acc) {
    avx2_impl::k2(M, rp, A, Bt, ldb, N, C, ldc, acc);
  }
  DEBORA_TARGET_AVX2 static void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp,
                                    float* C) {
    avx2_impl::k3(M, K, A, lda, B, rp, C, rp);
  }
  DEBORA_TARGET_AVX2 static void scale_rows(int64_t M, int64_t rp, const float* Z, const float* s, float* out) {
    avx2_impl::scale_rows(M, rp, Z, s, out);
  }
  DEBORA_TARGET_AVX2 static void colsum_product(int64_t M, int64_t rp, const float* Z, const float* T, float* acc) {
    avx2_impl::colsum_product(M, rp, Z, T, acc);
  }
};
/* The rank is padded to 8 at both levels. Under AVX-512, k1 and k3 at rp = 8 and 16 take the `kvec`
 * kernels (several k per vector); otherwise the k1 and k3 columns run in 16-lane tiles and a last 8
 * (rp = 24, 40, ...) in the AVX2 copy's 8-lane tiles. k2 vectorises along the output columns, so it needs
 * no split. */
struct Avx512Impl {
  static constexpr int64_t kPad = 8;
  static constexpr bool kInterleaved = true;
  DEBORA_TARGET_AVX512 static void k1(int64_t M, int64_t K, const float* A, int64_t lda, const float* B,
                                      const float* Bi, int64_t rp, float* C, Companion pf) {
    if ((rp == 8 || rp == 16) && Bi != nullptr) return avx512_impl::kvec::k1(M, K, A, lda, Bi, rp, C, pf);
    const int64_t full = rp / 16 * 16;
    if (full > 0) avx512_impl::k1(M, K, A, lda, B, rp, C, pf, full);
    if (full < rp) avx2_impl::k1(M, K, A, lda, B + full, rp, C + full, full > 0 ? Companion{} : pf, rp - full);
  }
  static void stream_copy(float* dst, const float* src, int64_t n) { debora::stream_copy<16>(dst, src, n); }
  /* Straight from k2's register tiles when every row of C starts at the same offset within a line (ldc a
   * multiple of 16): the columns from the first line boundary on, in whole vectors, go out with non-temporal
   * stores (each a whole line); the head (the columns before that boundary) and the tail (less than a vector)
   * with plain stores, so no line is written partly streamed. The staging strip's burst of streamed copies
   * (24 KiB per 8 rows) left the core waiting on the store drain with no arithmetic in flight: at N = 4096 the
   * streamed k2 cost 300 TSC ticks per 768-wide row more than in cache, one core's streaming-store rate
   * (docs/kernels-linear.md, "Eighth look"). Otherwise the staging strip. */
  DEBORA_TARGET_AVX512 static void k2_stream(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb,
                                             int64_t N, float* C, int64_t ldc) {
    const NtSplit sp = nt_split(C, N, ldc);
    if (sp.body == 0) return k2_streamed<Avx512Impl>(M, rp, A, Bt, ldb, N, C, ldc);
    avx512_impl::k2_nt(M, rp, A, Bt + sp.head, ldb, sp.body, C + sp.head, ldc);
    if (sp.head > 0) avx512_impl::k2(M, rp, A, Bt, ldb, sp.head, C, ldc, false);
    const int64_t done = sp.head + sp.body;
    if (done < N) avx512_impl::k2(M, rp, A, Bt + done, ldb, N - done, C + done, ldc, false);
  }
  DEBORA_TARGET_AVX512 static void k2(int64_t M, int64_t rp, const float* A, const float* Bt, int64_t ldb, int64_t N,
                                      float* C, int64_t ldc, bool acc) {
    avx512_impl::k2(M, rp, A, Bt, ldb, N, C, ldc, acc);
  }
  DEBORA_TARGET_AVX512 static void k3(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t rp,
                                      float* C) {
    if (rp == 8 || rp == 16) {
      float* Bd = scratch(4, static_cast<size_t>(2 * rp * M));
      avx512_impl::kvec::duplicate(M, B, rp, Bd);
      return avx512_impl::kvec::k3(M, K, A, lda, Bd, rp, C);
    }
    const int64_t full = rp / 16 * 16;
    if (full > 0) avx512_impl::k3(M, K, A, lda, B, rp, C, full);
    if (full < rp) avx2_impl::k3(M, K, A, lda, B + full, rp, C + full, rp - full);
  }
  DEBORA_TARGET_AVX512 static void scale_rows(int64_t M, int64_t rp, const float* Z, const float* s, float* out) {
    avx512_impl::scale_rows(M, rp, Z, s, out);
  }
  DEBORA_TARGET_AVX512 static void colsum_product(int64_t M, int64_t rp, const float* Z, const float* T, float* acc) {
    avx512_impl::colsum_product(M, rp, Z, T, acc);
  }
};
#else
using Avx2Impl = ScalarImpl;
using Avx512Impl = ScalarImpl;
#endif

/* Rows per parallel chunk: at least a few blocks, so tiny batches stay on one thread. */
constexpr int64_t MIN_ROWS_PER_CHUNK = 2 * MB;

/* Chunks of a pass: one per thread (at most), the same rows in the forward and the backward, so a core finds its
 * rows of X (and Z) in its own caches, and a fixed count, so the backward's partial sums reduce in a fixed order. */
int64_t pass_chunks(int64_t N) {
  return std::max<int64_t>(1, std::min<int64_t>(debora::pool_size(), (N + MIN_ROWS_PER_CHUNK - 1) / MIN_ROWS_PER_CHUNK));
}

/* The padded factors of the current call for the thread that runs a chunk, padded by that thread into its own
 * scratch (once per call: `call` is unique to it). Padded once on the caller and read by the workers, the copies'
 * lines crossed the cores twice per call: the caller's writes invalidated the workers' copies of the previous call,
 * then the workers fetched them back (about 0.3 us per line across these vCPUs): pad_factors took 8-10 us on two
 * threads against 1.2-1.4 us on one at N = 512, r = 8 (rdtsc, docs/kernels-linear.md). */
std::atomic<uint64_t> g_call{0};
const Padded& thread_padded(uint64_t call, int64_t n_in, int64_t n_out, int64_t r, int64_t W, const float* U,
                            const float* V, const float* s, Needs need) {
  thread_local Padded p{};
  thread_local uint64_t padded_for = 0;
  if (padded_for != call) {
    padded_for = 0; /* a pad_factors that throws (allocation) must not leave a stale match */
    p = pad_factors(n_in, n_out, r, W, U, V, s, need);
    padded_for = call;
  }
  return p;
}

template <class Impl>
void forward(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U, const float* V,
             const float* s, float* Y, bool accumulate, float* Z) {
  const Needs need{false, true, true, false, Impl::kInterleaved};
  const uint64_t call = g_call.fetch_add(1, std::memory_order_relaxed) + 1;
  const bool stream = !accumulate && N * n_out * int64_t{sizeof(float)} >= debora::kStreamBytes;
  const int64_t n_chunks = pass_chunks(N), per = (N + n_chunks - 1) / n_chunks;
  debora::parallel_for(n_chunks, 1, [&](int64_t cb, int64_t ce) {
    const Padded& p = thread_padded(call, n_in, n_out, r, Impl::kPad, U, V, s, need);
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t b = c * per, e = std::min(N, (c + 1) * per);
      if (b < e) fwd_rows<Impl>(b, e, n_in, n_out, r, X, p, Y, accumulate, stream, Z);
    }
  });
}

template <class Impl>
void backward(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U, const float* V,
              const float* s, const float* dY, const float* Z, float* dX, bool accumulate_dx, float* dU, float* dV,
              float* ds, float* dots) {
  const Needs need{true, Z == nullptr, false, dX != nullptr, Impl::kInterleaved};
  const uint64_t call = g_call.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t rp = padded_rank(r, Impl::kPad); /* p.rp of every thread's padded factors (thread_padded) */
  const int64_t n_chunks = pass_chunks(N), per = (N + n_chunks - 1) / n_chunks;
  const int64_t part_size = (n_out + n_in + 1) * rp;
  float* parts = scratch(2, static_cast<size_t>(n_chunks * part_size));
  const bool stream = dX != nullptr && !accumulate_dx && N * n_in * int64_t{sizeof(float)} >= debora::kStreamBytes;
  /* Inputs from DRAM (over 4 MiB): X's rows are prefetched in every block and the blocks fill L2. At N = 1024
   * (3 MiB) that measured 0.95-1.00x, so the streaming threshold is the switch. */
  const bool from_dram = N * std::max(n_in, n_out) * int64_t{sizeof(float)} >= debora::kStreamBytes;
  debora::parallel_for(n_chunks, 1, [&](int64_t cb, int64_t ce) {
    const Padded& p = thread_padded(call, n_in, n_out, r, Impl::kPad, U, V, s, need);
    for (int64_t c = cb; c < ce; ++c) {
      /* Cleared by the thread that fills it: cleared on the caller, its lines crossed the cores once more. */
      float* base = parts + c * part_size;
      std::memset(base, 0, sizeof(float) * static_cast<size_t>(part_size));
      Partials part{base, base + n_out * rp, base + (n_out + n_in) * rp};
      const int64_t b = c * per, e = std::min(N, (c + 1) * per);
      if (b < e) bwd_rows<Impl>(b, e, n_in, n_out, r, X, p, dY, Z, dX, accumulate_dx, stream, from_dram, part);
    }
  });
  /* Reduce in chunk order straight into the outputs, dropping the padding columns; rows [j0, j1) of the
   * n_out + n_in + 1 rows of the partials (dU, dV, ds). Two chunks (two threads) are reduced on the caller: on
   * the 2-vCPU Zen 5 machines that took 22-24 K TSC ticks at N = 512, r = 16 against 56-59 K with both threads
   * each taking half the rows (r = 32: 35-40 K against 42-45 K; r = 64: 48-50 K against 74-82 K), so the
   * backward ran 1.07x faster at r = 16, paired (docs/kernels-linear.md, "Tenth look"). More chunks with large
   * partials are reduced by all threads, each a share of the rows (not measurable on two cores; it was the
   * faster way on two in an earlier version, when the partials were cleared on the caller). */
  /* dots_i = <U_i, dU_i> + <V_i, dV_i>, the input of cp_hypergrad, is summed into `dacc` as each row of dU and dV
   * is finished, while the row is in registers (no second pass over the factors and their gradients). */
  auto reduce_rows = [&](int64_t j0, int64_t j1, float* dacc) {
    for (int64_t j = j0; j < j1; ++j) {
      float* out = j < n_out ? dU + j * r : j < n_out + n_in ? dV + (j - n_out) * r : ds;
      const float* src = parts + j * rp;
      for (int64_t i = 0; i < r; ++i) out[i] = src[i];
      for (int64_t c = 1; c < n_chunks; ++c)
        for (int64_t i = 0; i < r; ++i) out[i] += src[c * part_size + i];
      if (dacc != nullptr && j < n_out + n_in) {
        const float* fac = j < n_out ? U + j * r : V + (j - n_out) * r;
        for (int64_t i = 0; i < r; ++i) dacc[i] += fac[i] * out[i];
      }
    }
  };
  const int64_t rows = n_out + n_in + 1;
  if (dots != nullptr) std::fill(dots, dots + r, 0.0f);
  if (n_chunks <= 2 || part_size < (int64_t{1} << 14)) {
    reduce_rows(0, rows, dots); /* two chunks, or small: on the caller */
  } else {
    /* Each share of the rows sums its own dots, added in share order after; the shares' sums are whole cache lines
     * apart (16 floats), so two threads never write the same line. */
    const int64_t rs = (r + 15) / 16 * 16;
    float* dparts = nullptr;
    if (dots != nullptr) {
      float* raw = scratch(5, static_cast<size_t>(n_chunks * rs + 16));
      dparts = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t{63});
    }
    debora::parallel_for(n_chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        float* dacc = dparts != nullptr ? dparts + c * rs : nullptr;
        if (dacc != nullptr) std::fill(dacc, dacc + r, 0.0f);
        reduce_rows(rows * c / n_chunks, rows * (c + 1) / n_chunks, dacc);
      }
    });
    for (int64_t c = 0; dparts != nullptr && c < n_chunks; ++c)
      for (int64_t i = 0; i < r; ++i) dots[i] += dparts[c * rs + i];
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
    debora::simd_dispatch([&] { forward<Avx512Impl>(N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z); },
                          [&] { forward<Avx2Impl>(N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z); },
                          [&] { forward<ScalarImpl>(N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z); });
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
    debora::simd_dispatch(
        [&] { backward<Avx512Impl>(N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots); },
        [&] { backward<Avx2Impl>(N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots); },
        [&] { backward<ScalarImpl>(N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots); });
    return DEBORA_OK;
  });
}
