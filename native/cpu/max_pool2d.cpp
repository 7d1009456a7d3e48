/* max_pool2d.cpp — CPU kernel of op max_pool2d, the model toolkit's MaxPool2d layer on NCHW batches:
 *   fwd: y[n,c,i,j] = max of x[n,c] over the window rows i*sh-ph .. +kh-1, columns j*sw-pw .. +kw-1
 *        that lie inside the image (padding never wins), and argmax = the winner's index hi*W + wi
 *        within its H x W plane. Ties go to the first maximum in row-major window order: a cell
 *        replaces the running best only when strictly greater, starting from the first cell inside
 *        the image (so a NaN there stays, a later NaN is passed over: exactly lib/nn/pool.ts's loop).
 *   bwd: dx (+)= dy scattered to argmax (overlapping windows add up), dx zeroed first unless accumulating.
 * padding <= kernel/2 (as PyTorch) so every window holds at least one input cell. Whole planes per
 * pool task: a plane's argmax points inside that plane, so the backward's scatter needs no atomics
 * and its sums run in output order, bitwise repeatable for any thread count. The 2x2 stride-2 window
 * without padding (nearly every CNN) has AVX2 paths: the forward over 8 (or 4) output columns at a
 * time, the non-accumulating backward writing each dx cell once; the rest is scalar. No CUDA twin
 * yet (see test/unit/build-sources.test.ts).
 * Tested in test/native/max-pool2d.test.ts and test/native/driver_max_pool2d.cpp. */
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <initializer_list>

#include "internal.h"
#include "simd.h"
#include "thread_pool.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

namespace debora {
namespace max_pool2d {
namespace {

/* Input elements per pool chunk at least (whole planes): 64 KiB, more than a wake-up costs. */
constexpr int64_t kMinChunkElems = 16384;

struct Plan {
  int64_t N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo;
};

/* Every field, before anything is read or written (internal.h: the messages of conv2d's geometry). */
debora_status check_geometry(const char* op, const debora_pool2d_geom* g, Plan& p) {
  debora_status st;
  if ((st = check_ptr(op, "geom", g)) != DEBORA_OK) return st;
  if ((st = check_fields(op, {{"geom.batch", g->batch, 1},
                              {"geom.C", g->C, 1},
                              {"geom.H", g->H, 1},
                              {"geom.W", g->W, 1},
                              {"geom.kh", g->kh, 1},
                              {"geom.kw", g->kw, 1},
                              {"geom.stride_h", g->stride_h, 1},
                              {"geom.stride_w", g->stride_w, 1},
                              {"geom.pad_h", g->pad_h, 0},
                              {"geom.pad_w", g->pad_w, 0}})) != DEBORA_OK)
    return st;
  if (2 * g->pad_h > g->kh)
    return fail(DEBORA_INVALID_ARG,
                "%s: expected pad_h <= kh/2 for argument 'geom.pad_h', received pad_h=%lld, kh=%lld", op,
                static_cast<long long>(g->pad_h), static_cast<long long>(g->kh));
  if (2 * g->pad_w > g->kw)
    return fail(DEBORA_INVALID_ARG,
                "%s: expected pad_w <= kw/2 for argument 'geom.pad_w', received pad_w=%lld, kw=%lld", op,
                static_cast<long long>(g->pad_w), static_cast<long long>(g->kw));
  /* Checked before dividing: C++ division truncates toward zero and would turn -1/2 into an output. */
  if (g->kh > g->H + 2 * g->pad_h || g->kw > g->W + 2 * g->pad_w)
    return fail(DEBORA_SHAPE_MISMATCH,
                "%s: expected a kernel no larger than the padded input (an output of at least 1 x 1) for argument "
                "'geom', received kh=%lld, kw=%lld, H=%lld, W=%lld, pad_h=%lld, pad_w=%lld",
                op, static_cast<long long>(g->kh), static_cast<long long>(g->kw), static_cast<long long>(g->H),
                static_cast<long long>(g->W), static_cast<long long>(g->pad_h), static_cast<long long>(g->pad_w));
  if (g->H * g->W > INT32_MAX)
    return fail(DEBORA_INVALID_ARG,
                "%s: expected H*W <= %d (argmax is an int32 index within a plane) for argument 'geom', received "
                "H=%lld, W=%lld",
                op, INT32_MAX, static_cast<long long>(g->H), static_cast<long long>(g->W));
  p = Plan{g->batch, g->C, g->H, g->W, g->kh, g->kw, g->stride_h, g->stride_w, g->pad_h, g->pad_w, 0, 0};
  p.Ho = (p.H + 2 * p.ph - p.kh) / p.sh + 1;
  p.Wo = (p.W + 2 * p.pw - p.kw) / p.sw + 1;
  if (!sizes_fit({p.N, p.C, p.H, p.W}) || !sizes_fit({p.N, p.C, p.Ho, p.Wo}))
    return fail(DEBORA_INVALID_ARG,
                "%s: expected sizes whose products fit in 64 bits for argument 'geom', received batch=%lld, C=%lld, "
                "H=%lld, W=%lld",
                op, static_cast<long long>(p.N), static_cast<long long>(p.C), static_cast<long long>(p.H),
                static_cast<long long>(p.W));
  return DEBORA_OK;
}

/* Any window, one plane: the rows and columns inside the image are clipped once per output, then
 * the cells are visited in row-major order with a strict comparison (see the file header). */
void plane_generic(const Plan& p, const float* x, float* y, int32_t* am) {
  for (int64_t i = 0; i < p.Ho; ++i) {
    const int64_t h0 = i * p.sh - p.ph;
    const int64_t a_lo = std::max<int64_t>(0, -h0), a_hi = std::min(p.kh, p.H - h0);
    for (int64_t j = 0; j < p.Wo; ++j) {
      const int64_t w0 = j * p.sw - p.pw;
      const int64_t b_lo = std::max<int64_t>(0, -w0), b_hi = std::min(p.kw, p.W - w0);
      int64_t best_i = (h0 + a_lo) * p.W + w0 + b_lo;
      float best = x[best_i];
      for (int64_t a = a_lo; a < a_hi; ++a) {
        const int64_t row = (h0 + a) * p.W + w0;
        for (int64_t b = b_lo; b < b_hi; ++b) {
          const float v = x[row + b];
          if (v > best) {
            best = v;
            best_i = row + b;
          }
        }
      }
      y[i * p.Wo + j] = best;
      if (am != nullptr) am[i * p.Wo + j] = static_cast<int32_t>(best_i);
    }
  }
}

/* 2x2, stride 2, no padding (every window is inside the image), one output row at the scalar level.
 * Selects, not branches: the maxima of random data are unpredictable. Written for GCC's vectoriser:
 * 32-bit offsets beside 32-bit floats, no per-element test for argmax, no aliasing (y and argmax never
 * overlap x: documented in debora.h, refused by lib/ops). */
template <bool kArgmax>
void row_2x2_scalar(const float* __restrict r0, const float* __restrict r1, int32_t Wo, int32_t base, int32_t W,
                    float* __restrict y, int32_t* __restrict am) {
  for (int32_t j = 0; j < Wo; ++j) {
    const float e0 = r0[2 * j], o0 = r0[2 * j + 1], e1 = r1[2 * j], o1 = r1[2 * j + 1];
    float best = e0;
    int32_t off = 0;
    /* Masks, not `k ? W : off`: GCC if-converts the float selects but branched on the integer ones
     * (9 ns per output on random data, 10x the vectorised loop). */
    int32_t m = -static_cast<int32_t>(o0 > best);
    off = (off & ~m) | (1 & m);
    best = o0 > best ? o0 : best;
    m = -static_cast<int32_t>(e1 > best);
    off = (off & ~m) | (W & m);
    best = e1 > best ? e1 : best;
    m = -static_cast<int32_t>(o1 > best);
    off = (off & ~m) | ((W + 1) & m);
    best = o1 > best ? o1 : best;
    y[j] = best;
    if (kArgmax) am[j] = base + 2 * j + off;
  }
}

void plane_2x2_scalar(const Plan& p, const float* x, float* y, int32_t* am) {
  for (int64_t i = 0; i < p.Ho; ++i) {
    const float* r0 = x + 2 * i * p.W;
    const auto base = static_cast<int32_t>(2 * i * p.W), W = static_cast<int32_t>(p.W),
               Wo = static_cast<int32_t>(p.Wo);
    if (am != nullptr)
      row_2x2_scalar<true>(r0, r0 + p.W, Wo, base, W, y + i * p.Wo, am + i * p.Wo);
    else
      row_2x2_scalar<false>(r0, r0 + p.W, Wo, base, W, y + i * p.Wo, nullptr);
  }
}

#if DEBORA_X86
/* Even and odd lanes of the 16 floats at src, in order: [s0 s2 .. s14] and [s1 s3 .. s15]. */
DEBORA_TARGET_AVX2 inline void deinterleave8(const float* src, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
  /* per 128-bit half: [a0 a2 b0 b2 | a4 a6 b4 b6]; then 64-bit pairs reordered 0, 2, 1, 3 */
  const __m256d ev = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
  const __m256d od = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(ev, _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(od, _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Output columns [j, j+8) of one row: the four cells in row-major order, ordered strict compares
 * (false on NaN), the offset of the winner blended alongside. */
DEBORA_TARGET_AVX2 inline void block8_2x2(const float* r0, const float* r1, int64_t j, int64_t base, int64_t W,
                                          float* y, int32_t* am) {
  __m256 e0, o0, e1, o1;
  deinterleave8(r0 + 2 * j, e0, o0);
  deinterleave8(r1 + 2 * j, e1, o1);
  __m256 best = e0;
  __m256 off = _mm256_setzero_ps();  // int32 offsets carried in float registers (blendv moves bits)
  __m256 k = _mm256_cmp_ps(o0, best, _CMP_GT_OQ);
  best = _mm256_blendv_ps(best, o0, k);
  off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(1)), k);
  k = _mm256_cmp_ps(e1, best, _CMP_GT_OQ);
  best = _mm256_blendv_ps(best, e1, k);
  off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(W))), k);
  k = _mm256_cmp_ps(o1, best, _CMP_GT_OQ);
  best = _mm256_blendv_ps(best, o1, k);
  off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(W + 1))), k);
  _mm256_storeu_ps(y + j, best);
  if (am != nullptr) {
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base + 2 * j)),
                                         _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(am + j), _mm256_add_epi32(idx, _mm256_castps_si256(off)));
  }
}

/* The same over 4 columns (SSE4.1, inside the AVX2 target), for rows of 4..7 outputs. */
DEBORA_TARGET_AVX2 inline void block4_2x2(const float* r0, const float* r1, int64_t j, int64_t base, int64_t W,
                                          float* y, int32_t* am) {
  const __m128 a0 = _mm_loadu_ps(r0 + 2 * j), b0 = _mm_loadu_ps(r0 + 2 * j + 4);
  const __m128 a1 = _mm_loadu_ps(r1 + 2 * j), b1 = _mm_loadu_ps(r1 + 2 * j + 4);
  const __m128 e0 = _mm_shuffle_ps(a0, b0, _MM_SHUFFLE(2, 0, 2, 0));
  const __m128 o0 = _mm_shuffle_ps(a0, b0, _MM_SHUFFLE(3, 1, 3, 1));
  const __m128 e1 = _mm_shuffle_ps(a1, b1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m128 o1 = _mm_shuffle_ps(a1, b1, _MM_SHUFFLE(3, 1, 3, 1));
  __m128 best = e0, off = _mm_setzero_ps();
  __m128 k = _mm_cmpgt_ps(o0, best);
  best = _mm_blendv_ps(best, o0, k);
  off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(1)), k);
  k = _mm_cmpgt_ps(e1, best);
  best = _mm_blendv_ps(best, e1, k);
  off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(static_cast<int>(W))), k);
  k = _mm_cmpgt_ps(o1, best);
  best = _mm_blendv_ps(best, o1, k);
  off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(static_cast<int>(W + 1))), k);
  _mm_storeu_ps(y + j, best);
  if (am != nullptr) {
    const __m128i idx = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(base + 2 * j)), _mm_setr_epi32(0, 2, 4, 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(am + j), _mm_add_epi32(idx, _mm_castps_si128(off)));
  }
}

/* Blocks of 8 (or 4) columns; the last block is moved back to end at Wo and overlaps the one before
 * (it writes the same values again) instead of a scalar tail. Reads stop at column 2*Wo - 1 <= W - 1. */
DEBORA_TARGET_AVX2 void plane_2x2_avx2(const Plan& p, const float* x, float* y, int32_t* am) {
  const int64_t Wo = p.Wo;
  for (int64_t i = 0; i < p.Ho; ++i) {
    const float* r0 = x + 2 * i * p.W;
    const float* r1 = r0 + p.W;
    const int64_t base = 2 * i * p.W;
    float* yr = y + i * Wo;
    int32_t* ar = am != nullptr ? am + i * Wo : nullptr;
    if (Wo >= 8) {
      for (int64_t j = 0; j < Wo; j += 8) block8_2x2(r0, r1, std::min(j, Wo - 8), base, p.W, yr, ar);
    } else if (Wo >= 4) {
      block4_2x2(r0, r1, 0, base, p.W, yr, ar);
      block4_2x2(r0, r1, Wo - 4, base, p.W, yr, ar);
    } else if (ar != nullptr) {
      row_2x2_scalar<true>(r0, r1, static_cast<int32_t>(Wo), static_cast<int32_t>(base), static_cast<int32_t>(p.W), yr,
                           ar);
    } else {
      row_2x2_scalar<false>(r0, r1, static_cast<int32_t>(Wo), static_cast<int32_t>(base), static_cast<int32_t>(p.W), yr,
                            nullptr);
    }
  }
}

/* The backward of 2x2 stride 2 without accumulating, rows of >= 8 outputs: every dx cell is written
 * once, 0 + dy where the window chose it and +0 elsewhere (the values the zero-fill and scatter give,
 * -0 included), instead of a zero-fill of the whole plane and a scattered read-modify-write (measured
 * twice as slow on a 28x28 plane). Returns false, having written part of the plane, as soon as an
 * argmax index lies outside its own window (an argmax from elsewhere): the caller then runs the
 * scatter, which is the op's definition. */
DEBORA_TARGET_AVX2 bool plane_bwd_2x2_avx2(const Plan& p, const int32_t* am, const float* dy, float* dx) {
  const int64_t W = p.W, Wo = p.Wo;
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_set1_epi32(1), cW = _mm256_set1_epi32(static_cast<int>(W)),
                cW1 = _mm256_set1_epi32(static_cast<int>(W + 1));
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < p.Ho; ++i) {
    float* r0 = dx + 2 * i * W;
    float* r1 = r0 + W;
    for (int64_t j0 = 0; j0 < Wo; j0 += 8) {
      const int64_t j = std::min(j0, Wo - 8);
      const __m256i first = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(2 * i * W + 2 * j)), lane2);
      const __m256i off =
          _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(am + i * Wo + j)), first);
      const __m256i k0 = _mm256_cmpeq_epi32(off, c0), k1 = _mm256_cmpeq_epi32(off, c1),
                    k2 = _mm256_cmpeq_epi32(off, cW), k3 = _mm256_cmpeq_epi32(off, cW1);
      if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(k0, k1), _mm256_or_si256(k2, k3))) != -1) return false;
      const __m256 g = _mm256_loadu_ps(dy + i * Wo + j);
      const __m256 a = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k0), g), zero),
                   b = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k1), g), zero),
                   c = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k2), g), zero),
                   d = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k3), g), zero);
      /* interleave: [a0 b0 a1 b1 .. a7 b7] is row 2i, columns 2j .. 2j+15 */
      const __m256 ab_lo = _mm256_unpacklo_ps(a, b), ab_hi = _mm256_unpackhi_ps(a, b);
      const __m256 cd_lo = _mm256_unpacklo_ps(c, d), cd_hi = _mm256_unpackhi_ps(c, d);
      _mm256_storeu_ps(r0 + 2 * j, _mm256_permute2f128_ps(ab_lo, ab_hi, 0x20));
      _mm256_storeu_ps(r0 + 2 * j + 8, _mm256_permute2f128_ps(ab_lo, ab_hi, 0x31));
      _mm256_storeu_ps(r1 + 2 * j, _mm256_permute2f128_ps(cd_lo, cd_hi, 0x20));
      _mm256_storeu_ps(r1 + 2 * j + 8, _mm256_permute2f128_ps(cd_lo, cd_hi, 0x31));
    }
    /* An odd width leaves its last column to no window. */
    for (int64_t w = 2 * Wo; w < W; ++w) r0[w] = r1[w] = 0.0f;
  }
  /* Likewise an odd height's last row. */
  std::fill(dx + 2 * p.Ho * W, dx + p.H * W, 0.0f);
  return true;
}
#endif

using PlaneFn = void (*)(const Plan&, const float*, float*, int32_t*);

PlaneFn choose(const Plan& p) {
  if (p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0) {
#if DEBORA_X86
    if (debora_simd_active() >= DEBORA_SIMD_AVX2) return &plane_2x2_avx2;
#endif
    return &plane_2x2_scalar;
  }
  return &plane_generic;
}

int64_t min_planes(const Plan& p) { return std::max<int64_t>(1, kMinChunkElems / (p.H * p.W)); }

}  // namespace
}  // namespace max_pool2d
}  // namespace debora

using debora::max_pool2d::Plan;

extern "C" debora_status debora_max_pool2d_fwd_cpu(const debora_pool2d_geom* g, const float* x, float* y,
                                                   int32_t* argmax) {
  static const char* op = "max_pool2d_fwd";
  return debora::guarded(op, [&] {
    Plan p;
    debora_status st;
    if ((st = debora::max_pool2d::check_geometry(op, g, p)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "x", x)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "y", y)) != DEBORA_OK) return st;
    const debora::max_pool2d::PlaneFn plane = debora::max_pool2d::choose(p);
    const int64_t in = p.H * p.W, out = p.Ho * p.Wo;
    debora::parallel_for(p.N * p.C, debora::max_pool2d::min_planes(p), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) plane(p, x + k * in, y + k * out, argmax != nullptr ? argmax + k * out : nullptr);
    });
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_max_pool2d_bwd_cpu(const debora_pool2d_geom* g, const int32_t* argmax, const float* dy,
                                                   float* dx, int accumulate) {
  static const char* op = "max_pool2d_bwd";
  return debora::guarded(op, [&] {
    Plan p;
    debora_status st;
    if ((st = debora::max_pool2d::check_geometry(op, g, p)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "argmax", argmax)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dy", dy)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dx", dx)) != DEBORA_OK) return st;
    const int64_t in = p.H * p.W, out = p.Ho * p.Wo, total = p.N * p.C * out;
    /* Every index inside its plane before anything is written (a bad one would write out of bounds);
     * the first offender is named. */
    std::atomic<int64_t> first_bad{total};
    debora::parallel_for(total, debora::max_pool2d::kMinChunkElems, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const int32_t a = argmax[o];
        if (a < 0 || a >= in) {
          int64_t cur = first_bad.load();
          while (o < cur && !first_bad.compare_exchange_weak(cur, o)) {
          }
          return;
        }
      }
    });
    if (const int64_t o = first_bad.load(); o < total)
      return debora::fail(DEBORA_INVALID_ARG,
                          "%s: expected indices in [0, H*W) = [0, %lld) for argument 'argmax', received %d at "
                          "index %lld",
                          op, static_cast<long long>(in), static_cast<int>(argmax[o]), static_cast<long long>(o));
    const bool acc = accumulate != 0;
#if DEBORA_X86
    const bool direct = !acc && p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 &&
                        p.Wo >= 8 && debora_simd_active() >= DEBORA_SIMD_AVX2;
#endif
    debora::parallel_for(p.N * p.C, debora::max_pool2d::min_planes(p), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        float* d = dx + k * in;
        const int32_t* a = argmax + k * out;
        const float* g1 = dy + k * out;
#if DEBORA_X86
        if (direct && debora::max_pool2d::plane_bwd_2x2_avx2(p, a, g1, d)) continue;
#endif
        if (!acc) std::fill(d, d + in, 0.0f);
        for (int64_t o = 0; o < out; ++o) d[a[o]] += g1[o];
      }
    });
    return DEBORA_OK;
  });
}
