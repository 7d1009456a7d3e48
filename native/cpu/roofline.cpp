/* roofline.cpp — measures this machine's limits in the same run as the kernel benchmarks
 * (bench/kernels.bench.ts): the peak FP32 FMA rate (independent accumulators, the widest SIMD
 * the CPU has, every pool thread) and the memory bandwidth (STREAM triad over arrays far larger
 * than the caches). Ratios of kernel time to these floors are what the benchmarks report.
 * Not an op: no CUDA twin. Tested (sanity only: positive, finite) in test/native/runtime.test.ts. */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "internal.h"
#include "simd.h"
#if DEBORA_X86
#include <immintrin.h>
#endif
#include "thread_pool.h"

namespace {

/* 12 independent FMA chains per thread: enough to cover the FMA latency on current cores. Each
 * SIMD level is its own function under its own target pragma (lambdas would not inherit it). */
#define DEBORA_FMA_CHAINS(VEC, SET1, FMA, LANES)                         \
  VEC a[12];                                                             \
  for (int i = 0; i < 12; ++i) a[i] = SET1(0.001f * static_cast<float>(i + 1)); \
  const VEC b = SET1(0.999999f), c = SET1(1e-7f);                        \
  for (int64_t it = 0; it < iters; ++it)                                 \
    for (int i = 0; i < 12; ++i) a[i] = FMA(a[i], b, c);                 \
  float sink = 0;                                                        \
  for (int i = 0; i < 12; ++i) {                                         \
    float tmp[LANES];                                                    \
    std::memcpy(tmp, &a[i], sizeof tmp);                                 \
    sink += tmp[0];                                                      \
  }                                                                      \
  return sink;

inline float scalar_set1(float v) { return v; }
inline float scalar_fma(float x, float y, float z) { return x * y + z; }
float fma1(int64_t iters) { DEBORA_FMA_CHAINS(float, scalar_set1, scalar_fma, 1) }

#if DEBORA_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
float fma512(int64_t iters) { DEBORA_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16) }
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
float fma256(int64_t iters) { DEBORA_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8) }
#pragma GCC pop_options
#else
float fma512(int64_t iters) { return fma1(iters); }
float fma256(int64_t iters) { return fma1(iters); }
#endif

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

extern "C" debora_status debora_roofline_peak_gflops(double seconds, double* gflops) {
  return debora::guarded("roofline_peak_gflops", [&] {
    if (!(seconds > 0 && seconds < 60))
      return debora::fail(DEBORA_INVALID_ARG, "roofline_peak_gflops: expected a number in (0, 60) for argument 'seconds'");
    const int64_t lanes = debora::simd_dispatch([] { return int64_t{16}; }, [] { return int64_t{8}; }, [] { return int64_t{1}; });
    const int64_t threads = debora::pool_size();
    std::atomic<float> sink{0};
    auto run = [&](int64_t iters) {
      debora::parallel_for(threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          float v = debora::simd_dispatch([&] { return fma512(iters); }, [&] { return fma256(iters); },
                                          [&] { return fma1(iters); });
          sink.store(sink.load() + v);
        }
      });
    };
    /* Calibrate to ~seconds/20 per trial, keep the best of 5 trials (the others saw noise). */
    int64_t iters = 1 << 16;
    for (;;) {
      auto t0 = std::chrono::steady_clock::now();
      run(iters);
      if (seconds_since(t0) > seconds / 20 || iters > (int64_t{1} << 34)) break;
      iters *= 2;
    }
    double best = 0;
    for (int trial = 0; trial < 5; ++trial) {
      auto t0 = std::chrono::steady_clock::now();
      run(iters);
      const double s = seconds_since(t0);
      best = std::max(best, 2.0 * 12 * lanes * static_cast<double>(iters) * threads / s / 1e9);
    }
    *gflops = best + 0.0f * sink.load();
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_roofline_bandwidth_gbs(int64_t bytes_per_array, double* gbs) {
  return debora::guarded("roofline_bandwidth_gbs", [&] {
    if (bytes_per_array < (1 << 20))
      return debora::fail(DEBORA_INVALID_ARG,
                          "roofline_bandwidth_gbs: expected at least 1 MiB for argument 'bytesPerArray', received %lld",
                          static_cast<long long>(bytes_per_array));
    const int64_t n = bytes_per_array / 4;
    std::vector<float> a(n), b(n), c(n);
    /* First touch in parallel, in the same chunks as the triad, so pages are faulted before timing. */
    debora::parallel_for(n, 1 << 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        a[i] = 0.f;
        b[i] = 1.f;
        c[i] = 2.f;
      }
    });
    double best = 0;
    for (int trial = 0; trial < 6; ++trial) {
      auto t0 = std::chrono::steady_clock::now();
      debora::parallel_for(n, 1 << 16, [&](int64_t lo, int64_t hi) {
        float* __restrict pa = a.data();
        const float* __restrict pb = b.data();
        const float* __restrict pc = c.data();
        for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0f * pc[i];
      });
      const double s = seconds_since(t0);
      best = std::max(best, 3.0 * static_cast<double>(n) * 4 / s / 1e9);
    }
    *gbs = best;
    return DEBORA_OK;
  });
}
