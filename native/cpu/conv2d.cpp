/* conv2d.cpp — CPU kernel of op conv2d: the dense 2-D convolution of a frozen base layer on an NCHW
 * batch, forward (Y (+)= conv(X, K) + bias) and backward (dX, dK, dbias, each optional), by
 * im2col + gemm per image:
 *   Y_n = K · col(X_n)            K: F x Q (Q = C kh kw), col: Q x P (P = Ho Wo)
 *   dK^T += col(X_n) · dY_n^T     (N = F columns: F is usually a multiple of the 16-wide tile)
 *   dX_n = col2im(K^T · dY_n)
 * The batch is the parallel dimension: each pool thread takes whole images (or groups of images)
 * and runs the products single-threaded (gemm_engine.h, with the implementation gemm is set to),
 * so the threading is owned here and no product pays a pool wake-up. The im2col workspace is per thread and covers a block of output
 * rows sized to stay within kColBudget, so it is bounded by the layer, not by the batch or the
 * image. A 1x1 kernel with stride 1 and no padding needs no im2col (col(X_n) is X_n).
 * dK and dbias are summed per fixed group of images (the grouping depends only on the shape) and the
 * groups are reduced in order in double: with the builtin gemm the result is the same whatever the
 * thread count.
 * Tested in test/native/conv2d.test.ts and test/native/driver_conv2d.cpp. */
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "debora/math.h"
#include "gemm_engine.h"
#include "internal.h"
#include "simd.h"
#include "thread_pool.h"
#if DEBORA_X86
#include <immintrin.h>
#endif

namespace debora {
namespace dense_conv2d {
namespace {

/* Per-thread im2col block (and as much again for its gradient in the backward): 1 MiB, about two
 * of these fit in a 512 KiB-L2 core's L2 + L3 share while the gemm packs them. */
constexpr int64_t kColBudget = int64_t{1} << 20;
/* Floats past the end of an im2col block that copy_row_avx2 may write (one vector). */
constexpr int64_t kColSlack = 8;
/* Groups of images for the dK / dbias partial sums: at most kMaxGroups (enough to balance any pool
 * size we run), and at most kPartialBudget bytes of partials in all. */
constexpr int64_t kMaxGroups = 32;
constexpr int64_t kPartialBudget = int64_t{32} << 20;

struct Plan {
  int64_t N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t Ho, Wo, P, Q;
  bool direct;  // 1x1, stride 1, no padding: col(X_n) = X_n
  int64_t rows; // output rows per block
};

/* Every size and geometry field, before anything is read or written (internal.h: the checks and
 * messages shared with cp_conv2d, which takes the same geometry struct). */
debora_status check_geometry(const char* op, const debora_conv2d_geom* g, Plan& p) {
  debora_status st;
  if ((st = check_conv2d_geom(op, g, {})) != DEBORA_OK) return st;
  p = Plan{};
  p.N = g->batch, p.C = g->C, p.H = g->H, p.W = g->W, p.F = g->F, p.kh = g->kh, p.kw = g->kw;
  p.sh = g->stride_h, p.sw = g->stride_w, p.ph = g->pad_h, p.pw = g->pad_w, p.dh = g->dil_h, p.dw = g->dil_w;
  p.Ho = debora::conv_out_size(p.H, p.kh, p.sh, p.ph, p.dh);
  p.Wo = debora::conv_out_size(p.W, p.kw, p.sw, p.pw, p.dw);
  if (!sizes_fit({p.N, p.C, p.H, p.W}) || !sizes_fit({p.N, p.F, p.Ho, p.Wo}) ||
      !sizes_fit({p.C, p.kh, p.kw, p.F, kMaxGroups}) || !sizes_fit({p.C, p.kh, p.kw, p.Ho, p.Wo}))
    return fail_conv2d_overflow(op, g);
  p.P = p.Ho * p.Wo;
  p.Q = p.C * p.kh * p.kw;
  p.direct = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0;
  const int64_t row_bytes = p.Q * p.Wo * static_cast<int64_t>(sizeof(float));
  p.rows = std::max<int64_t>(1, std::min(p.Ho, kColBudget / row_bytes));
  return DEBORA_OK;
}

/* Output columns ow whose input column ow*sw + off lies in [0, W): [lo, hi). */
inline void valid_cols(int64_t off, int64_t sw, int64_t W, int64_t Wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  hi = W - 1 - off < 0 ? 0 : std::min(Wo, (W - 1 - off) / sw + 1);
  lo = std::min(lo, Wo);
  hi = std::max(hi, lo);
}

#if DEBORA_X86
/* The stride-1 planes of im2col and col2im with AVX2, one (c, a, b) tap over output rows
 * [oh0, oh1): dst row = src[ow] on [lo, hi), 0 elsewhere; and dX row += src on [lo, hi). The rows
 * are short (Wo floats: 14 or 28 in a small CNN) and per-row overhead dominated: memcpy / memset
 * calls, or a vector loop's prologue and scalar tail per row, took a third of a 16 -> 32 channel
 * 14 x 14 layer's forward. Here the lane masks are computed once per plane; masked loads never touch
 * the lanes outside [lo, hi) (no fault, no read past the image). No masked stores (microcoded on AMD
 * Zen, measured at half the copy's time): whole vectors are written, the last one of a row into the
 * next row's place (written after it) or into the kColSlack floats at the end of the buffer. */
DEBORA_TARGET_AVX2 inline __m256i lane_mask(int64_t ow, int64_t lo, int64_t hi) {
  const __m256i i = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(ow)));
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lo)), i),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), i));
}

/* Xc is channel c of the image, row_off = a*dh - ph, off = b*dw - pw. */
DEBORA_TARGET_AVX2 void im2col_plane_avx2(const Plan& p, const float* Xc, int64_t oh0, int64_t oh1, int64_t row_off,
                                          int64_t off, int64_t lo, int64_t hi, float* dst) {
  constexpr int64_t kMaxVec = 8;  // masks kept in registers / stack for Wo <= 64
  const int64_t nv = (p.Wo + 7) / 8;
  __m256i masks[kMaxVec];
  for (int64_t v = 0; v < std::min(nv, kMaxVec); ++v) masks[v] = lane_mask(8 * v, lo, hi);
  for (int64_t oh = oh0; oh < oh1; ++oh, dst += p.Wo) {
    const int64_t ih = oh * p.sh + row_off;
    if (ih < 0 || ih >= p.H) {
      for (int64_t v = 0; v < nv; ++v) _mm256_storeu_ps(dst + 8 * v, _mm256_setzero_ps());
      continue;
    }
    const float* src = Xc + ih * p.W + off;
    for (int64_t v = 0; v < nv; ++v) {
      const __m256i m = v < kMaxVec ? masks[v] : lane_mask(8 * v, lo, hi);
      _mm256_storeu_ps(dst + 8 * v, _mm256_maskload_ps(src + 8 * v, m));
    }
  }
}

DEBORA_TARGET_AVX2 void col2im_plane_avx2(const Plan& p, const float* src, int64_t oh0, int64_t oh1, int64_t row_off,
                                          int64_t off, int64_t lo, int64_t hi, float* dXc) {
  for (int64_t oh = oh0; oh < oh1; ++oh, src += p.Wo) {
    const int64_t ih = oh * p.sh + row_off;
    if (ih < 0 || ih >= p.H) continue;
    float* dst = dXc + ih * p.W + off;
    int64_t ow = lo;
    for (; ow + 8 <= hi; ow += 8)
      _mm256_storeu_ps(dst + ow, _mm256_add_ps(_mm256_loadu_ps(dst + ow), _mm256_loadu_ps(src + ow)));
    for (; ow < hi; ++ow) dst[ow] += src[ow];
  }
}
#endif

/* col[q][(oh - oh0) * Wo + ow] = X_n[c][oh*sh - ph + a*dh][ow*sw - pw + b*dw] (0 outside), q = (c, a, b),
 * for output rows [oh0, oh1). The scalar path uses plain loops: GCC would turn them into memcpy /
 * memset calls, too costly for rows this short (see im2col_plane_avx2). */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void im2col(const Plan& p, const float* Xn,
                                                                           int64_t oh0, int64_t oh1, float* col) {
  const int64_t ld = (oh1 - oh0) * p.Wo;
#if DEBORA_X86
  const bool avx2 = p.sw == 1 && debora_simd_active() >= DEBORA_SIMD_AVX2;
#endif
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t a = 0; a < p.kh; ++a)
      for (int64_t b = 0; b < p.kw; ++b) {
        float* dst = col + ((c * p.kh + a) * p.kw + b) * ld;
        const int64_t off = b * p.dw - p.pw, row_off = a * p.dh - p.ph;
        int64_t lo, hi;
        valid_cols(off, p.sw, p.W, p.Wo, lo, hi);
#if DEBORA_X86
        if (avx2) {
          im2col_plane_avx2(p, Xn + c * p.H * p.W, oh0, oh1, row_off, off, lo, hi, dst);
          continue;
        }
#endif
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += p.Wo) {
          const int64_t ih = oh * p.sh + row_off;
          if (ih < 0 || ih >= p.H) {
            for (int64_t ow = 0; ow < p.Wo; ++ow) dst[ow] = 0.0f;
            continue;
          }
          const float* src = Xn + (c * p.H + ih) * p.W + off;
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = 0.0f;
          if (p.sw == 1)
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * p.sw];
          for (int64_t ow = hi; ow < p.Wo; ++ow) dst[ow] = 0.0f;
        }
      }
}

/* The adjoint of im2col: dX_n[c][ih][iw] += cg[q][...] for every window position that reads it. */
void col2im_add(const Plan& p, const float* cg, int64_t oh0, int64_t oh1, float* dXn) {
  const int64_t ld = (oh1 - oh0) * p.Wo;
#if DEBORA_X86
  const bool avx2 = p.sw == 1 && debora_simd_active() >= DEBORA_SIMD_AVX2;
#endif
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t a = 0; a < p.kh; ++a)
      for (int64_t b = 0; b < p.kw; ++b) {
        const float* src = cg + ((c * p.kh + a) * p.kw + b) * ld;
        const int64_t off = b * p.dw - p.pw, row_off = a * p.dh - p.ph;
        int64_t lo, hi;
        valid_cols(off, p.sw, p.W, p.Wo, lo, hi);
#if DEBORA_X86
        if (avx2) {
          col2im_plane_avx2(p, src, oh0, oh1, row_off, off, lo, hi, dXn + c * p.H * p.W);
          continue;
        }
#endif
        for (int64_t oh = oh0; oh < oh1; ++oh, src += p.Wo) {
          const int64_t ih = oh * p.sh + row_off;
          if (ih < 0 || ih >= p.H) continue;
          float* dst = dXn + (c * p.H + ih) * p.W + off;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.sw] += src[ow];
        }
      }
}

/* Sum of n floats, in 8 independent float lanes (vectorisable without reassociation flags), then
 * in double. */
double row_sum(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  double s = 0;
  for (int j = 0; j < 8; ++j) s += acc[j];
  for (; i < n; ++i) s += x[i];
  return s;
}

/* Grow-only per-thread buffers (a steady training loop allocates nothing after its first step). */
float* thread_buffer(int slot, int64_t n) {
  thread_local std::vector<float> bufs[2];
  std::vector<float>& b = bufs[slot];
  if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
  return b.data();
}

struct Fwd {
  const Plan* p;
  const float *X, *K, *bias;
  float* Y;
  bool acc;
  /* With a bias and im2col: K with the bias as an extra column (F x (Q + 1)), multiplied by a row of
   * ones under col, so the bias rides in the product instead of a second pass over Y (measured: that
   * pass was 12% of the forward of a 1 -> 16 channel layer, whose Y is 16x larger than X). */
  const float* Kb;
};

void fwd_image(const Fwd& a, int64_t n, bool threaded) {
  const Plan& p = *a.p;
  const float* Xn = a.X + n * p.C * p.H * p.W;
  float* Yn = a.Y + n * p.F * p.P;
  const bool fold = a.Kb != nullptr;
  float* col = p.direct ? nullptr : thread_buffer(0, (p.Q + 1) * p.rows * p.Wo + kColSlack);
  for (int64_t oh0 = 0; oh0 < p.Ho; oh0 += p.rows) {
    const int64_t oh1 = std::min(p.Ho, oh0 + p.rows), pb = (oh1 - oh0) * p.Wo;
    const float* B = Xn + oh0 * p.Wo;
    int64_t ldb = p.P;
    if (!p.direct) {
      im2col(p, Xn, oh0, oh1, col);
      if (fold) std::fill(col + p.Q * pb, col + (p.Q + 1) * pb, 1.0f);
      B = col;
      ldb = pb;
    }
    if (fold)
      gemm::product(false, false, p.F, pb, p.Q + 1, 1.0f, a.Kb, p.Q + 1, B, ldb, a.acc ? 1.0f : 0.0f, Yn + oh0 * p.Wo,
                    p.P, threaded);
    else
      gemm::product(false, false, p.F, pb, p.Q, 1.0f, a.K, p.Q, B, ldb, a.acc ? 1.0f : 0.0f, Yn + oh0 * p.Wo, p.P,
                    threaded);
    if (a.bias != nullptr && !fold)
      for (int64_t f = 0; f < p.F; ++f) {
        float* y = Yn + f * p.P + oh0 * p.Wo;
        const float bf = a.bias[f];
        for (int64_t j = 0; j < pb; ++j) y[j] += bf;
      }
  }
}

struct Bwd {
  const Plan* p;
  const float *X, *K, *dY;
  float* dX;
  bool acc_dx;
  bool want_dk, want_db;
};

/* One image's contributions: dX_n (written), dK^T into dkt (Q x F, accumulated), dbias into db. */
void bwd_image(const Bwd& a, int64_t n, float* dkt, double* db, bool threaded) {
  const Plan& p = *a.p;
  const float* dYn = a.dY + n * p.F * p.P;
  const float* Xn = a.want_dk ? a.X + n * p.C * p.H * p.W : nullptr;
  float* dXn = a.dX != nullptr ? a.dX + n * p.C * p.H * p.W : nullptr;
  float* col = (a.want_dk && !p.direct) ? thread_buffer(0, p.Q * p.rows * p.Wo + kColSlack) : nullptr;
  float* cg = (dXn != nullptr && !p.direct) ? thread_buffer(1, p.Q * p.rows * p.Wo) : nullptr;
  if (dXn != nullptr && !p.direct && !a.acc_dx) std::fill(dXn, dXn + p.C * p.H * p.W, 0.0f);
  for (int64_t oh0 = 0; oh0 < p.Ho; oh0 += p.rows) {
    const int64_t oh1 = std::min(p.Ho, oh0 + p.rows), pb = (oh1 - oh0) * p.Wo;
    const float* dYb = dYn + oh0 * p.Wo;
    if (a.want_dk) {
      const float* B = Xn + oh0 * p.Wo;
      int64_t ldb = p.P;
      if (!p.direct) {
        im2col(p, Xn, oh0, oh1, col);
        B = col;
        ldb = pb;
      }
      gemm::product(false, true, p.Q, p.F, pb, 1.0f, B, ldb, dYb, p.P, 1.0f, dkt, p.F, threaded);
    }
    if (dXn != nullptr) {
      if (p.direct) {
        gemm::product(true, false, p.Q, pb, p.F, 1.0f, a.K, p.Q, dYb, p.P, a.acc_dx ? 1.0f : 0.0f, dXn + oh0 * p.Wo,
                      p.P, threaded);
      } else {
        gemm::product(true, false, p.Q, pb, p.F, 1.0f, a.K, p.Q, dYb, p.P, 0.0f, cg, pb, threaded);
        col2im_add(p, cg, oh0, oh1, dXn);
      }
    }
    if (a.want_db)
      for (int64_t f = 0; f < p.F; ++f) db[f] += row_sum(dYb + f * p.P, pb);
  }
}

}  // namespace
}  // namespace dense_conv2d
}  // namespace debora

using debora::dense_conv2d::Plan;

extern "C" debora_status debora_conv2d_fwd_cpu(const debora_conv2d_geom* g, const float* X, const float* K,
                                               const float* bias, float* Y, int accumulate) {
  static const char* op = "conv2d_fwd";
  return debora::guarded(op, [&] {
    Plan p;
    debora_status st;
    if ((st = debora::dense_conv2d::check_geometry(op, g, p)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "X", X)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "K", K)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "Y", Y)) != DEBORA_OK) return st;
    const float* Kb = nullptr;
    if (bias != nullptr && !p.direct) {
      thread_local std::vector<float> kb;
      kb.resize(static_cast<size_t>(p.F * (p.Q + 1)));
      for (int64_t f = 0; f < p.F; ++f) {
        std::memcpy(kb.data() + f * (p.Q + 1), K + f * p.Q, sizeof(float) * static_cast<size_t>(p.Q));
        kb[static_cast<size_t>(f * (p.Q + 1) + p.Q)] = bias[f];
      }
      Kb = kb.data();
    }
    const debora::dense_conv2d::Fwd a{&p, X, K, bias, Y, accumulate != 0, Kb};
    /* Whole images per thread when there are enough of them; else one image at a time with the
     * products split over the pool. */
    if (p.N >= debora::pool_size()) {
      debora::parallel_for(p.N, 1, [&](int64_t b, int64_t e) {
        for (int64_t n = b; n < e; ++n) debora::dense_conv2d::fwd_image(a, n, false);
      });
    } else {
      for (int64_t n = 0; n < p.N; ++n) debora::dense_conv2d::fwd_image(a, n, true);
    }
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_conv2d_bwd_cpu(const debora_conv2d_geom* g, const float* X, const float* K,
                                               const float* dY, float* dX, int accumulate_dx, float* dK,
                                               int accumulate_dk, float* dbias, int accumulate_dbias) {
  static const char* op = "conv2d_bwd";
  return debora::guarded(op, [&] {
    Plan p;
    debora_status st;
    if ((st = debora::dense_conv2d::check_geometry(op, g, p)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dY", dY)) != DEBORA_OK) return st;
    /* X is read only for dK, K only for dX. */
    if (dK != nullptr && (st = debora::check_ptr(op, "X", X)) != DEBORA_OK) return st;
    if (dX != nullptr && (st = debora::check_ptr(op, "K", K)) != DEBORA_OK) return st;
    const bool want_dk = dK != nullptr, want_db = dbias != nullptr;
    if (dX == nullptr && !want_dk && !want_db) return DEBORA_OK;
    const debora::dense_conv2d::Bwd a{&p, X, K, dY, dX, accumulate_dx != 0, want_dk, want_db};

    /* Partial sums per group of images, the grouping fixed by the shape (see the file header). */
    using debora::dense_conv2d::kMaxGroups;
    using debora::dense_conv2d::kPartialBudget;
    const int64_t part_bytes = (want_dk ? p.Q * p.F * 4 : 0) + (want_db ? p.F * 8 : 0);
    const int64_t groups = (want_dk || want_db)
                               ? std::max<int64_t>(1, std::min({p.N, kMaxGroups, kPartialBudget / part_bytes}))
                               : p.N;
    thread_local std::vector<float> dkt_parts;
    thread_local std::vector<double> db_parts;
    float* dkt = nullptr;
    double* db = nullptr;
    if (want_dk) {
      dkt_parts.assign(static_cast<size_t>(groups * p.Q * p.F), 0.0f);
      dkt = dkt_parts.data();
    }
    if (want_db) {
      db_parts.assign(static_cast<size_t>(groups * p.F), 0.0);
      db = db_parts.data();
    }
    auto run_group = [&](int64_t k, bool threaded) {
      float* pk = dkt != nullptr ? dkt + k * p.Q * p.F : nullptr;
      double* pb = db != nullptr ? db + k * p.F : nullptr;
      for (int64_t n = k * p.N / groups; n < (k + 1) * p.N / groups; ++n)
        debora::dense_conv2d::bwd_image(a, n, pk, pb, threaded);
    };
    if (groups >= debora::pool_size()) {
      debora::parallel_for(groups, 1, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) run_group(k, false);
      });
    } else {
      for (int64_t k = 0; k < groups; ++k) run_group(k, true);
    }

    if (want_dk) {
      /* dK[f][q] (+)= sum over groups, in group order, of dK^T partials [q][f]. */
      for (int64_t f = 0; f < p.F; ++f)
        for (int64_t q = 0; q < p.Q; ++q) {
          double s = accumulate_dk != 0 ? static_cast<double>(dK[f * p.Q + q]) : 0.0;
          for (int64_t k = 0; k < groups; ++k) s += static_cast<double>(dkt[(k * p.Q + q) * p.F + f]);
          dK[f * p.Q + q] = static_cast<float>(s);
        }
    }
    if (want_db) {
      for (int64_t f = 0; f < p.F; ++f) {
        double s = accumulate_dbias != 0 ? static_cast<double>(dbias[f]) : 0.0;
        for (int64_t k = 0; k < groups; ++k) s += db[k * p.F + f];
        dbias[f] = static_cast<float>(s);
      }
    }
    return DEBORA_OK;
  });
}
