/* simd.h — how CPU kernels get SIMD without -march flags: write the kernel body once as a
 * template/inline function with plain loops over __restrict pointers (GCC vectorises at -O3),
 * then instantiate it inside wrappers marked DEBORA_TARGET_AVX2 / DEBORA_TARGET_AVX512, and pick
 * one at run time with debora_simd_active(). One binary runs on any x86-64; AVX-512 machines get
 * 512-bit code. Explicit intrinsics are allowed inside such wrappers (include <immintrin.h>). */
#ifndef DEBORA_SIMD_H
#define DEBORA_SIMD_H

#include "debora/debora.h"

#if defined(__x86_64__) || defined(__i386__)
#define DEBORA_X86 1
#define DEBORA_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define DEBORA_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#else
#define DEBORA_X86 0
#define DEBORA_TARGET_AVX2
#define DEBORA_TARGET_AVX512
#endif

namespace debora {

/* Calls the variant for the active SIMD level: f512(), f2() or f1(). */
template <class F512, class F2, class F1>
inline auto simd_dispatch(F512&& f512, F2&& f2, F1&& f1) {
#if DEBORA_X86
  switch (debora_simd_active()) {
    case DEBORA_SIMD_AVX512: return f512();
    case DEBORA_SIMD_AVX2: return f2();
    default: break;
  }
#else
  (void)f512;
  (void)f2;
#endif
  return f1();
}

}  // namespace debora

#endif
