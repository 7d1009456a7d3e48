/* cp_dense_simd.h — vector traits for the dense-route kernels (cp_materialize, cp_mttkrp): the kernel bodies in
 * cp_dense_kernels.h are written once against a traits type V (vec, W, zero/load/store/set1/fma/mul/add,
 * load_first/store_first, in_register, and the small-rank MTTKRP's register blocking kQR/kQMR/kQNV with hsum_add
 * and the W x kQR block transposes) and compiled three times: scalar (any CPU), AVX2+FMA and AVX-512, each inside
 * its own GCC target region so one binary runs everywhere and debora_simd_active() picks the variant
 * (native/cpu/simd.h). The driver
 * (test/native/driver_cp_dense.cpp) also instantiates the bodies with a 16-wide emulated vector, so the
 * AVX-512 blocking logic is exercised on machines without AVX-512. */
#ifndef DEBORA_CP_DENSE_SIMD_H
#define DEBORA_CP_DENSE_SIMD_H

#include <cstdint>

#include "simd.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

namespace debora {
namespace dense {

struct ScalarTraits {
  using vec = float;
  static constexpr int64_t W = 1;
  static inline vec zero() { return 0.0f; }
  static inline vec load(const float* p) { return *p; }
  static inline void store(float* p, vec v) { *p = v; }
  static inline vec set1(float x) { return x; }
  static inline vec fma(vec a, vec b, vec c) { return a * b + c; }
  static inline vec mul(vec a, vec b) { return a * b; }
  static inline vec add(vec a, vec b) { return a + b; }
  /* Keeps a loaded vector in a register (an empty asm that claims to change it): GCC otherwise folds the load into
   * every FMA that uses it, one load per FMA instead of one per vector (yq: 27 loads per 24 FMAs, not 11). */
  static inline void in_register(vec&) {}
  /* The first n lanes (1 <= n <= W) of p, the others zero; and the store of the first n lanes. For rows of r floats
   * padded to whole vectors without a memcpy and a memset call per row (GCC turns copy loops into those calls). */
  static inline vec load_first(const float* p, int64_t) { return *p; }
  static inline void store_first(float* p, vec v, int64_t) { *p = v; }
  /* One lane: ranks are never wasted, so the small-rank MTTKRP (vectorised along q) is off (kQR = 0). */
  static constexpr int kQR = 0, kQMR = 1, kQNV = 1;
  static inline void hsum_add(const vec* a, float* out) { out[0] += a[0]; }
  static inline void transpose_in(const float* src, int64_t, float* dst, int64_t) { dst[0] = src[0]; }
  static inline void transpose_add_out(const float* src, int64_t, float* dst, int64_t) { dst[0] += src[0]; }
};

}  // namespace dense
}  // namespace debora

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace debora {
namespace dense {
struct Avx2Traits {
  using vec = __m256;
  static constexpr int64_t W = 8;
  static inline vec zero() { return _mm256_setzero_ps(); }
  static inline vec load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static inline vec set1(float x) { return _mm256_set1_ps(x); }
  static inline vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static inline vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static inline vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static inline void in_register(vec& v) { asm("" : "+x"(v)); }
  static inline __m256i first_mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline vec load_first(const float* p, int64_t n) { return _mm256_maskload_ps(p, first_mask(n)); }
  static inline void store_first(float* p, vec v, int64_t n) { _mm256_maskstore_ps(p, first_mask(n), v); }
  /* Small-rank MTTKRP blocking (cp_dense_kernels.h): ranks per group, rows per Y micro-tile, q-vectors per Z
   * micro-tile; 3 x 4 and 4 x 3 accumulators leave 4 of the 16 registers for operands. */
  static constexpr int kQR = 4, kQMR = 3, kQNV = 3;
  /* out[i] += sum of the lanes of a[i], i < 4: two hadd levels, then the 128-bit halves. */
  static inline void hsum_add(const vec* a, float* out) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    const __m128 sum = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), sum));
  }
  /* dst[i * ldd + l] = src[l * lds + i] for l < 8, i < 4: an 8 x 4 block transposed (two 4 x 4 in-register
   * transposes, one per half of each output row). */
  static inline void transpose_in(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m128 lo[4], hi[4];
    for (int l = 0; l < 4; ++l) lo[l] = _mm_loadu_ps(src + l * lds), hi[l] = _mm_loadu_ps(src + (l + 4) * lds);
    _MM_TRANSPOSE4_PS(lo[0], lo[1], lo[2], lo[3]);
    _MM_TRANSPOSE4_PS(hi[0], hi[1], hi[2], hi[3]);
    for (int i = 0; i < 4; ++i)
      _mm256_storeu_ps(dst + i * ldd, _mm256_insertf128_ps(_mm256_castps128_ps256(lo[i]), hi[i], 1));
  }
  /* dst[l * ldd + i] += src[i * lds + l] for l < 8, i < 4: a 4 x 8 block transposed and added. */
  static inline void transpose_add_out(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m128 lo[4], hi[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 row = _mm256_loadu_ps(src + i * lds);
      lo[i] = _mm256_castps256_ps128(row);
      hi[i] = _mm256_extractf128_ps(row, 1);
    }
    _MM_TRANSPOSE4_PS(lo[0], lo[1], lo[2], lo[3]);
    _MM_TRANSPOSE4_PS(hi[0], hi[1], hi[2], hi[3]);
    for (int l = 0; l < 4; ++l) {
      _mm_storeu_ps(dst + l * ldd, _mm_add_ps(_mm_loadu_ps(dst + l * ldd), lo[l]));
      _mm_storeu_ps(dst + (l + 4) * ldd, _mm_add_ps(_mm_loadu_ps(dst + (l + 4) * ldd), hi[l]));
    }
  }
};
}  // namespace dense
}  // namespace debora
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
namespace debora {
namespace dense {
struct Avx512Traits {
  using vec = __m512;
  static constexpr int64_t W = 16;
  static inline vec zero() { return _mm512_setzero_ps(); }
  static inline vec load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static inline vec set1(float x) { return _mm512_set1_ps(x); }
  static inline vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static inline vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  static inline vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static inline void in_register(vec& v) { asm("" : "+v"(v)); }
  static inline __mmask16 first_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static inline vec load_first(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first_mask(n), p); }
  static inline void store_first(float* p, vec v, int64_t n) { _mm512_mask_storeu_ps(p, first_mask(n), v); }
  /* Small-rank MTTKRP blocking: 3 x 8 and 8 x 3 accumulators leave 8 of the 32 registers for operands. */
  static constexpr int kQR = 8, kQMR = 3, kQNV = 3;
  /* out[i] += sum of the lanes of a[i], i < 8: each vector folded to 256 bits, then the AVX2 tree on each
   * half (Avx2Traits::hsum_add, which the development machines run and test; they have no AVX-512). */
  static inline void hsum_add(const vec* a, float* out) {
    __m256 h[8];
    /* (extractf32x8 for the low half too: GCC 12's cast goes through an "undefined" vector and warns) */
    for (int i = 0; i < 8; ++i) h[i] = _mm256_add_ps(_mm512_extractf32x8_ps(a[i], 0), _mm512_extractf32x8_ps(a[i], 1));
    Avx2Traits::hsum_add(h, out);
    Avx2Traits::hsum_add(h + 4, out + 4);
  }
  /* The 16 x 8 (8 x 16) block transposes, as four 8 x 4 (4 x 8) ones of Avx2Traits. */
  static inline void transpose_in(const float* src, int64_t lds, float* dst, int64_t ldd) {
    for (int rb = 0; rb < 16; rb += 8)
      for (int cb = 0; cb < 8; cb += 4) Avx2Traits::transpose_in(src + rb * lds + cb, lds, dst + cb * ldd + rb, ldd);
  }
  static inline void transpose_add_out(const float* src, int64_t lds, float* dst, int64_t ldd) {
    for (int rb = 0; rb < 8; rb += 4)
      for (int cb = 0; cb < 16; cb += 8)
        Avx2Traits::transpose_add_out(src + rb * lds + cb, lds, dst + cb * ldd + rb, ldd);
  }
};
}  // namespace dense
}  // namespace debora
#pragma GCC pop_options
#endif

#endif
