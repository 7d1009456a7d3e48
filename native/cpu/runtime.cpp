/* runtime.cpp — CPU runtime queries: SIMD level chosen at run time and the thread-pool API.
 * Kernels ask debora_simd_active() which code path to take; the build compiles the AVX2 and
 * AVX-512 paths with per-file target flags so one binary runs on any x86-64 CPU.
 * Tested in test/native/runtime.test.ts. */
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "internal.h"
#include "thread_pool.h"

namespace {

debora_simd detect_simd() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return DEBORA_SIMD_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DEBORA_SIMD_AVX2;
#endif
  return DEBORA_SIMD_SCALAR;
}

debora_simd initial_simd(debora_simd supported) {
  const char* env = std::getenv("DEBORA_SIMD");
  if (env == nullptr) return supported;
  debora_simd wanted = supported;
  if (std::strcmp(env, "scalar") == 0) wanted = DEBORA_SIMD_SCALAR;
  else if (std::strcmp(env, "avx2") == 0) wanted = DEBORA_SIMD_AVX2;
  else if (std::strcmp(env, "avx512") == 0) wanted = DEBORA_SIMD_AVX512;
  /* Never raise above what the CPU has: that would be an illegal instruction, not a slowdown. */
  return wanted < supported ? wanted : supported;
}

std::atomic<int> g_active{-1};

}  // namespace

extern "C" debora_simd debora_simd_supported(void) {
  static const debora_simd s = detect_simd();
  return s;
}

extern "C" debora_simd debora_simd_active(void) {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = initial_simd(debora_simd_supported());
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<debora_simd>(v);
}

extern "C" debora_status debora_set_simd(debora_simd level) {
  return debora::guarded("set_simd", [&] {
    if (level < DEBORA_SIMD_SCALAR || level > DEBORA_SIMD_AVX512)
      return debora::fail(DEBORA_INVALID_ARG, "set_simd: expected one of scalar, avx2, avx512 for argument 'level', received %d",
                          static_cast<int>(level));
    if (level > debora_simd_supported())
      return debora::fail(DEBORA_BACKEND_UNAVAILABLE,
                          "set_simd: this CPU supports at most %s, cannot select %s for argument 'level'",
                          debora_simd_name(debora_simd_supported()), debora_simd_name(level));
    g_active.store(level, std::memory_order_relaxed);
    return DEBORA_OK;
  });
}

extern "C" const char* debora_simd_name(debora_simd level) {
  switch (level) {
    case DEBORA_SIMD_SCALAR: return "scalar";
    case DEBORA_SIMD_AVX2: return "avx2";
    case DEBORA_SIMD_AVX512: return "avx512";
  }
  return "unknown";
}

extern "C" int debora_num_threads(void) {
  int n = 1;
  debora::guarded("num_threads", [&] {
    n = debora::pool_size();
    return DEBORA_OK;
  });
  return n;
}

extern "C" int debora_hardware_threads(void) {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

extern "C" debora_status debora_set_num_threads(int n) {
  return debora::guarded("set_num_threads", [&] {
    if (n < 1 || n > 1024)
      return debora::fail(DEBORA_INVALID_ARG,
                          "set_num_threads: expected an integer in [1, 1024] for argument 'n', received %d", n);
    debora::pool_resize(n);
    return DEBORA_OK;
  });
}
