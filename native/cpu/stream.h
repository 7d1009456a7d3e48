/* stream.h — non-temporal (streaming) stores for large outputs that are overwritten, shared by the
 * fused kernels (cp_linear, cp_conv2d). Streaming a row avoids the read-for-ownership of lines that
 * are about to be replaced (a third less DRAM traffic for that output; measured here: one core
 * writes 9 GB/s with plain stores and 17-18 GB/s with streaming stores) and keeps the output from
 * evicting inputs still to be read. Where a kernel cannot stream its register tiles directly
 * (cp_conv2d does when the output plane is a multiple of the vector width, cp_linear at the AVX-512
 * level when its rows are a multiple of 16 floats, both from a row's first line boundary), rows are
 * computed into a small cache-resident staging strip, then copied out with stream_copy; the partial
 * vectors at the ends of a row use plain stores, so any alignment works. Call stream_fence() once at
 * the end of a task that streamed. */
#ifndef DEBORA_STREAM_H
#define DEBORA_STREAM_H

#include <cstdint>
#include <cstring>

#include "simd.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

namespace debora {

/* Outputs at least this large (bytes) are streamed: smaller ones are left in cache for the next op. */
constexpr int64_t kStreamBytes = int64_t{4} << 20;

#if DEBORA_X86
DEBORA_TARGET_AVX512 inline void stream_copy_avx512(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}
DEBORA_TARGET_AVX2 inline void stream_copy_avx2(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 31) != 0; ++i) dst[i] = src[i];
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}
inline void stream_copy_sse(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = src[i];
  for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}
/* Orders the streamed stores before the pool reports the task done. */
inline void stream_fence() { _mm_sfence(); }
#else
inline void stream_copy_sse(float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
inline void stream_fence() {}
#endif

/* Copies n floats with streaming stores at vector width VW (16: AVX-512, 8: AVX2, else SSE). */
template <int VW>
inline void stream_copy(float* dst, const float* src, int64_t n) {
#if DEBORA_X86
  if constexpr (VW == 16) return stream_copy_avx512(dst, src, n);
  if constexpr (VW == 8) return stream_copy_avx2(dst, src, n);
#endif
  stream_copy_sse(dst, src, n);
}

}  // namespace debora

#endif
