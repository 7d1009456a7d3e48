/* cp_dense_simd.h — vector traits for the dense-route kernels (cp_materialize, cp_mttkrp): the kernel bodies in
 * cp_dense_kernels.h are written once against a traits type V (vec, W, zero/load/store/set1/fma/mul/add) and
 * compiled three times: scalar (any CPU), AVX2+FMA and AVX-512, each inside its own GCC target region so one
 * binary runs everywhere and debora_simd_active() picks the variant (native/cpu/simd.h). The driver
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
};
}  // namespace dense
}  // namespace debora
#pragma GCC pop_options
#endif

#endif
