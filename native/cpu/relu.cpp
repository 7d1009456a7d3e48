/* relu.cpp — CPU kernel of op relu, the rectifier of the model toolkit's ReLU layer:
 *   fwd: y = max(x, 0)                      (NaN -> 0 and -0 -> +0, as the TS layer's `x > 0 ? x : 0`)
 *   bwd: dx (+)= dy * [m > 0]               (m = the forward's input x or its output y: same mask)
 * Element-wise and memory-bound: split over the shared pool in chunks large enough to pay for the
 * wake-up, AVX2 on each chunk (the AVX-512 level runs the AVX2 code: no AVX-512 machine to test a
 * 512-bit copy, and a 256-bit stream already saturates memory). Outputs may be exactly the input
 * (in place); a partial overlap is refused. No CUDA twin yet (see test/unit/build-sources.test.ts).
 * Tested in test/native/relu.test.ts and test/native/driver_relu.cpp. */
#include <cstdint>

#include "internal.h"
#include "simd.h"
#include "thread_pool.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

namespace debora {
namespace relu {
namespace {

/* Elements per pool chunk: 64 KiB of input, a few microseconds of work, above the cost of waking
 * the workers (measured at a few microseconds on the 2-core dev machines). */
constexpr int64_t kMinChunk = 16384;

/* The scalar bodies: no __restrict (in place is allowed); GCC vectorises them behind its own alias
 * check where it can. The comparisons are written as the TS layer wrote them so NaN behaves alike. */
void fwd_scalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

/* dy is loaded whether or not it is selected: a conditional load kept GCC from vectorising the
 * loop, and the data-dependent branch it compiled to ran at ~6 ns per element on random masks. */
void bwd_scalar(const float* m, const float* dy, float* dx, int64_t n, bool acc) {
  if (acc) {
    for (int64_t i = 0; i < n; ++i) {
      const float g = dy[i];
      dx[i] += m[i] > 0.0f ? g : 0.0f;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float g = dy[i];
      dx[i] = m[i] > 0.0f ? g : 0.0f;
    }
  }
}

#if DEBORA_X86
/* _mm256_max_ps(x, 0) returns its second operand when either is NaN and when x is -0 (the
 * comparison is x > 0), so it is exactly `x > 0 ? x : 0`. Each vector is loaded before it is
 * stored: exact aliasing of y and x is safe. */
DEBORA_TARGET_AVX2 void fwd_avx2(const float* x, float* y, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8), c = _mm256_loadu_ps(x + i + 16),
                 d = _mm256_loadu_ps(x + i + 24);
    _mm256_storeu_ps(y + i, _mm256_max_ps(a, zero));
    _mm256_storeu_ps(y + i + 8, _mm256_max_ps(b, zero));
    _mm256_storeu_ps(y + i + 16, _mm256_max_ps(c, zero));
    _mm256_storeu_ps(y + i + 24, _mm256_max_ps(d, zero));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
  fwd_scalar(x + i, y + i, n - i);
}

/* dy AND (m > 0 ordered): all-ones lanes keep dy's bits (NaN and -0 included), the rest are +0,
 * bitwise what the scalar select gives. */
DEBORA_TARGET_AVX2 void bwd_avx2(const float* m, const float* dy, float* dx, int64_t n, bool acc) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  if (acc) {
    for (; i + 8 <= n; i += 8) {
      const __m256 g = _mm256_and_ps(_mm256_loadu_ps(dy + i), _mm256_cmp_ps(_mm256_loadu_ps(m + i), zero, _CMP_GT_OQ));
      _mm256_storeu_ps(dx + i, _mm256_add_ps(_mm256_loadu_ps(dx + i), g));
    }
  } else {
    for (; i + 16 <= n; i += 16) {
      const __m256 k0 = _mm256_cmp_ps(_mm256_loadu_ps(m + i), zero, _CMP_GT_OQ),
                   k1 = _mm256_cmp_ps(_mm256_loadu_ps(m + i + 8), zero, _CMP_GT_OQ);
      const __m256 g0 = _mm256_and_ps(_mm256_loadu_ps(dy + i), k0), g1 = _mm256_and_ps(_mm256_loadu_ps(dy + i + 8), k1);
      _mm256_storeu_ps(dx + i, g0);
      _mm256_storeu_ps(dx + i + 8, g1);
    }
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dx + i,
                       _mm256_and_ps(_mm256_loadu_ps(dy + i), _mm256_cmp_ps(_mm256_loadu_ps(m + i), zero, _CMP_GT_OQ)));
  }
  bwd_scalar(m + i, dy + i, dx + i, n - i, acc);
}
#endif

/* Either the same array or disjoint; anything else would make the result depend on the order. */
bool partial_overlap(const float* a, const float* b, int64_t n) {
  if (a == b) return false;
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  const auto bytes = static_cast<uintptr_t>(n) * sizeof(float);
  return pa < pb + bytes && pb < pa + bytes;
}

debora_status check_alias(const char* op, const char* out_name, const float* out, const char* in_name, const float* in,
                          int64_t n) {
  if (partial_overlap(out, in, n))
    return fail(DEBORA_INVALID_ARG,
                "%s: expected '%s' to be the same array as '%s' (in place) or not to overlap it, received a partial "
                "overlap for argument '%s'",
                op, out_name, in_name, out_name);
  return DEBORA_OK;
}

}  // namespace
}  // namespace relu
}  // namespace debora

extern "C" debora_status debora_relu_fwd_cpu(int64_t n, const float* x, float* y) {
  static const char* op = "relu_fwd";
  return debora::guarded(op, [&] {
    debora_status st;
    if ((st = debora::check_size(op, "n", n, 0)) != DEBORA_OK) return st;
    if (n == 0) return DEBORA_OK;
    if ((st = debora::check_ptr(op, "x", x)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "y", y)) != DEBORA_OK) return st;
    if ((st = debora::relu::check_alias(op, "y", y, "x", x, n)) != DEBORA_OK) return st;
    auto body = debora::simd_dispatch([] { return &debora::relu::fwd_avx2; }, [] { return &debora::relu::fwd_avx2; },
                                      [] { return &debora::relu::fwd_scalar; });
    debora::parallel_for(n, debora::relu::kMinChunk, [&](int64_t b, int64_t e) { body(x + b, y + b, e - b); });
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_relu_bwd_cpu(int64_t n, const float* m, const float* dy, float* dx, int accumulate) {
  static const char* op = "relu_bwd";
  return debora::guarded(op, [&] {
    debora_status st;
    if ((st = debora::check_size(op, "n", n, 0)) != DEBORA_OK) return st;
    if (n == 0) return DEBORA_OK;
    if ((st = debora::check_ptr(op, "m", m)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dy", dy)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dx", dx)) != DEBORA_OK) return st;
    if ((st = debora::relu::check_alias(op, "dx", dx, "dy", dy, n)) != DEBORA_OK) return st;
    if ((st = debora::relu::check_alias(op, "dx", dx, "m", m, n)) != DEBORA_OK) return st;
    const bool acc = accumulate != 0;
    auto body = debora::simd_dispatch([] { return &debora::relu::bwd_avx2; }, [] { return &debora::relu::bwd_avx2; },
                                      [] { return &debora::relu::bwd_scalar; });
    debora::parallel_for(n, debora::relu::kMinChunk,
                         [&](int64_t b, int64_t e) { body(m + b, dy + b, dx + b, e - b, acc); });
    return DEBORA_OK;
  });
}
