/* cp_conv2d.cpp — CPU kernel of op cp_conv2d (ALGORITHM.md section 1, d = 4): the CP adapter of a
 * conv kernel applied to an NCHW batch as the chain 1x1 (U2^T) -> kh x 1 (U3) -> 1 x kw (U4) -> *s ->
 * 1x1 (U1), never forming dK. Fused per tile of output rows of one image: the r-channel
 * intermediates live in a per-thread workspace sized by the tile (L2), so X, Y, dY and dX cross
 * memory once per call. Layout, algorithm and numbers: docs/kernels-conv2d.md.
 * Tested in test/native/cp_conv2d.test.ts (float64 references, finite differences) and
 * test/native/driver_cp_conv2d.cpp (ASan/UBSan, TSan). */
#include <algorithm>
#include <cstdint>
#include <climits>
#include <cstring>
#include <initializer_list>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "cp_conv2d_kernels.h"
#include "debora/math.h"
#include "internal.h"
#include "simd.h"
#include "stream.h"
#include "thread_pool.h"

namespace debora {
namespace conv2d {
namespace {

/* Tiles per call this kernel aims at (independent of the thread count, so the tiling, and with
 * it every rounding, is the same whatever the pool size), the fewest output rows worth a tile (each
 * tile recomputes a halo of dil_h*(kh-1) input rows), the per-thread workspace a tile may take (the
 * r-channel intermediates, and below AVX-512 the packed X and dY tiles), and the number of
 * partial-sum groups of the backward (fixed, for the same reason as the tiling). The budget was
 * measured at the bench shape (32x64x32x32, r = 8) on a 512 KiB-L2 Zen 3 (with the packed X and dY
 * tiles, see Ctx::packed): 1 MiB (16-row tiles) ran the backward 1.5x faster than 384 KiB (8-row
 * tiles: more halo, more per-tile overhead) and 2x faster than 192 KiB; 2 MiB and more (whole images)
 * were no faster. In place (AVX-512) a whole image of the bench shape takes 0.3 MiB. */
constexpr int64_t kTargetTasks = 16;
constexpr int64_t kMinTileRows = 4;
constexpr int64_t kWorkspaceBudget = int64_t{1} << 20;
constexpr int64_t kMaxGroups = 32;
constexpr int64_t kMaxGroupBytes = int64_t{32} << 20;

struct Ctx {
  int64_t N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, r;
  int64_t Wp;                      // W + 2 pw: a row of the vertical stage, padded for the horizontal one
  int64_t R, tiles;                // output rows per tile, tiles per image
  int64_t in_max, t_max, own_max;  // largest per-tile row counts (workspace sizing)
  /* Channel strides of the per-thread tiles (floats): packed X and dY (0 when read in place), Z1, Z3,
   * T, G1. */
  int64_t ldx, ldy, ldz1, ldz3, ldt, ldg1;
  int64_t ws_floats;  // per-thread workspace of this plan
  const float *X, *U1, *U2, *U3, *U4, *s, *dY;
  const float* U1sT;  // r x F: U1^T with row i scaled by s_i (forward's last 1x1)
  const float* U2T;   // r x C: U2^T (dX's 1x1)
  float *Y, *dX;
  bool acc;
  bool stream;  // write Y / dX through write_output's staging strip (see kStreamBytes)
  bool vec;     // backward: dU1 and dU2 partial sums kept as vectors (see dots)
  /* X and dY read through packed copies of each tile's rows (below AVX-512) or in place (AVX-512).
   * In place, the 1x1 contractions read C (or F) channel rows a plane apart side by side: at a 4 KiB
   * plane they all fall in one L1 set. With 16-lane vectors each input line is loaded once per
   * block of 8 outputs, the hardware prefetchers follow the rows, and skipping the copy gained
   * 1.19x on the bench pair (forward 1.29x); at 8 lanes (4 outputs per block, so every line loaded
   * twice at r = 8) in place was 0.93x, so the pack stays there (docs/kernels-conv2d.md). */
  bool packed;
  int64_t lds;  // stride of that strip
};

/* One task: output rows [oh0, oh1) of image n. Forward and the Z-chain read input rows [ilo, ihi).
 * The backward also owns input rows [own_lo, own_hi) (a partition of [0, H) over the tiles of an
 * image, so dX rows have one writer) and needs output rows [ohs, oh1) for them. Input rows
 * [plo, phi) cover both ranges (what the backward packs, when it packs). */
struct Tile {
  int64_t n, oh0, oh1, ilo, ihi, ohs, own_lo, own_hi, plo, phi;
};

inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

Tile tile_of(const Ctx& c, int64_t task) {
  Tile t;
  t.n = task / c.tiles;
  const int64_t k = task % c.tiles;
  t.oh0 = k * c.R;
  t.oh1 = std::min(c.Ho, t.oh0 + c.R);
  auto win_lo = [&](int64_t oh) { return oh * c.sh - c.ph; };
  auto win_hi = [&](int64_t oh) { return oh * c.sh - c.ph + (c.kh - 1) * c.dh + 1; };
  t.ilo = clamp64(win_lo(t.oh0), 0, c.H);
  t.ihi = clamp64(win_hi(t.oh1 - 1), 0, c.H);
  t.own_lo = k == 0 ? 0 : t.ilo;
  t.own_hi = k == c.tiles - 1 ? c.H : clamp64(win_lo(t.oh1), 0, c.H);
  /* Earlier output rows whose window reaches into the owned rows (windows start and end in order). */
  t.ohs = t.oh0;
  while (t.ohs > 0 && win_hi(t.ohs - 1) > t.own_lo) --t.ohs;
  t.plo = std::min(t.ilo, t.own_lo);
  t.phi = std::max(t.ihi, t.own_hi);
  return t;
}

/* The backward's per-tile partial sums: dU1 / s and dU2 (VW-lane vectors when c.vec, sized for the
 * widest VW), then dU3, dU4, ds. */
constexpr int64_t kMaxVW = 16;
inline int64_t part_floats(const Ctx& c) {
  return c.r * (c.F + c.C) * (c.vec ? kMaxVW : 1) + c.r * (c.kh + c.kw + 1);
}

/* Workspace floats per thread for a tile plan (forward only or forward + backward), and the strides. */
/* Channel strides of the tiles: odd_line_stride (internal.h), so the rows of a tile spread over all L1
 * sets (a stride of 4 KiB, e.g. a 32x32 plane, would put them all in one). */
int64_t workspace_floats(Ctx& c, bool bwd) {
  int64_t pack_max = 0;
  for (int64_t k = 0; k < c.tiles; ++k) {
    const Tile t = tile_of(c, k);
    pack_max = std::max(pack_max, bwd ? t.phi - t.plo : t.ihi - t.ilo);
  }
  c.ldx = c.packed ? odd_line_stride(pack_max * c.W) : 0;
  c.ldy = c.packed && bwd ? odd_line_stride(c.t_max * c.Wo) : 0;
  c.ldz1 = odd_line_stride(c.in_max * c.W);
  c.ldz3 = odd_line_stride(c.R * c.Wo);
  c.ldt = odd_line_stride(c.t_max * c.Wo);
  c.ldg1 = odd_line_stride(c.own_max * c.W);
  int64_t n = c.C * c.ldx + c.r * (c.ldz1 + c.R * c.Wp + c.ldz3);
  if (bwd) n += c.F * c.ldy + c.r * (c.ldt + c.t_max * c.Wp + c.ldg1) + part_floats(c);
  c.lds = odd_line_stride(std::max(c.R * c.Wo, c.own_max * c.W));
  n += 8 * c.lds;  // the staging strip: one row block of mix_wide (at most 8 rows)
  if (bwd) n += (c.t_max + 1) * (c.Wo + (c.kw - 1) * c.dw);  // the margin rows of the transposed 1 x kw stage
  return n + 16;    // room to align the base to a cache line
}

void plan_tiles(Ctx& c, bool bwd) {
  c.packed = debora_simd_active() != DEBORA_SIMD_AVX512;  // the level pick_fwd / pick_bwd dispatch to
  int64_t per_image = std::min(c.Ho, (kTargetTasks + c.N - 1) / c.N);
  c.R = std::max<int64_t>(std::min(c.Ho, kMinTileRows), (c.Ho + per_image - 1) / per_image);
  for (;;) {
    c.tiles = (c.Ho + c.R - 1) / c.R;
    c.in_max = c.t_max = c.own_max = 0;
    for (int64_t k = 0; k < c.tiles; ++k) {
      const Tile t = tile_of(c, k);
      c.in_max = std::max(c.in_max, t.ihi - t.ilo);
      c.t_max = std::max(c.t_max, t.oh1 - t.ohs);
      c.own_max = std::max(c.own_max, t.own_hi - t.own_lo);
    }
    c.ws_floats = workspace_floats(c, bwd);
    if (c.R <= kMinTileRows || c.ws_floats * int64_t{sizeof(float)} <= kWorkspaceBudget) break;
    c.R = std::max(kMinTileRows, (c.R + 1) / 2);
  }
}

/* The per-thread workspace, 64-byte aligned: grows to the largest tile seen, never shrinks, so
 * steady-state calls allocate nothing (the pool's workers live as long as the process). */
float* thread_workspace(int64_t floats) {
  thread_local std::vector<float> ws;
  if (static_cast<int64_t>(ws.size()) < floats) ws.resize(static_cast<size_t>(floats));
  const uintptr_t base = reinterpret_cast<uintptr_t>(ws.data());
  return ws.data() + ((64 - base % 64) % 64) / sizeof(float);
}

/* Copies rows x len floats (source stride lds) into a tile with stride ldd (Ctx::packed): each channel
 * row is read sequentially once (the hardware prefetcher follows it), instead of C strided streams in
 * the compute loops. (Software prefetch, of the next row here or of the next tile spread over the
 * compute, made no difference or was slower, so there is none.) */
DEBORA_INLINE void pack(int64_t rows, int64_t len, const float* src, int64_t lds, float* dst, int64_t ldd) {
  const size_t bytes = static_cast<size_t>(len) * sizeof(float);
  for (int64_t k = 0; k < rows; ++k) std::memcpy(dst + k * ldd, src + k * lds, bytes);
}

/* ---- writing Y and dX ------------------------------------------------------------------------
 * A large output that is overwritten (>= kStreamBytes) goes through an L1 staging strip and out with
 * streaming stores (stream.h). */
using debora::kStreamBytes;
using debora::stream_copy;
using debora::stream_fence;

/* out (+)= the r -> M 1x1 convolution of `in` (K = r rows of P pixels): mix_wide, or, when `stage`
 * is given (overwrite of a large output), through a staging strip of lds floats per row. */
template <int VW>
DEBORA_INLINE void write_output(int64_t M, int64_t K, int64_t P, const float* A, int64_t lda, const float* in,
                                int64_t ldi, float* out, int64_t ldo, bool acc, float* stage, int64_t lds) {
  if (stage == nullptr) return mix_wide<VW>(M, K, P, A, lda, in, ldi, out, ldo, acc);
  if (mix_wide_nt<VW>(M, K, P, A, lda, in, ldi, out, ldo)) return;
  constexpr int64_t MB = VW >= 16 ? 8 : 4;
  for (int64_t m = 0; m < M; m += MB) {
    const int64_t mb = std::min(MB, M - m);
    mix_wide<VW>(mb, K, P, A + m, lda, in, ldi, stage, lds, false);
    for (int64_t j = 0; j < mb; ++j) stream_copy<VW>(out + (m + j) * ldo, stage + j * lds, P);
  }
}

/* ---- the chain, per tile -------------------------------------------------------------------- */

/* The rows t < n of a depthwise stage whose taps all fall inside [0, H): tap a of row t reads source row
 * base + t step + a dh (step >= 1, span = (taps - 1) dh), so they form one range [lo, hi), empty
 * (lo = hi) when none. Those rows go through comb_rows / tap_dots in one call per channel; the rows
 * outside, near the borders, one at a time with their taps cut. */
inline void full_rows(int64_t n, int64_t base, int64_t step, int64_t span, int64_t H, int64_t& lo, int64_t& hi) {
  lo = 0;
  while (lo < n && base + lo * step < 0) ++lo;
  hi = lo;
  while (hi < n && base + hi * step + span < H) ++hi;
}

/* Z1 = U2^T X on input rows [ilo, ihi) (from Xs, channel stride ldx, whose first row is input row
 * xrow0: the packed tile or the image in place); Z2p = the kh x 1 stage, each row padded by pw zeros
 * on both sides; Z3 = the 1 x kw stage. */
template <int VW>
DEBORA_INLINE void chain(const Ctx& c, const Tile& t, const float* Xs, int64_t ldx, int64_t xrow0, float* Z1,
                         float* Z2p, float* Z3) {
  const int64_t nIn = t.ihi - t.ilo, nR = t.oh1 - t.oh0, r = c.r, W = c.W, Wp = c.Wp, Wo = c.Wo;
  if (nIn > 0) mix<VW>(r, c.C, nIn * W, c.U2, r, Xs + (t.ilo - xrow0) * W, ldx, Z1, c.ldz1, false);
  /* Output row tt reads input rows ih0(tt) + a dh, ih0(tt) = (oh0 + tt) sh - ph. */
  const int64_t base = t.oh0 * c.sh - c.ph;
  int64_t lo, hi;
  full_rows(nR, base, c.sh, (c.kh - 1) * c.dh, c.H, lo, hi);
  for (int64_t i = 0; i < r; ++i) {
    float* Z2i = Z2p + i * nR * Wp;
    for (int64_t tt = 0; tt < nR; ++tt) {
      float* row = Z2i + tt * Wp;
      for (int64_t j = 0; j < c.pw; ++j) row[j] = row[c.pw + W + j] = 0.0f;
    }
    if (hi > lo)
      comb_rows<VW>(hi - lo, W, c.kh, Z1 + i * c.ldz1 + (base + lo * c.sh - t.ilo) * W, c.sh * W, c.dh * W, c.U3 + i, r,
                    1.0f, Z2i + lo * Wp + c.pw, Wp);
    /* The border rows: the taps a whose input row lies in [0, H), a contiguous range. */
    auto border_row = [&](int64_t tt) {
      const int64_t ih0 = base + tt * c.sh;
      int64_t a0 = 0, a1;
      while (a0 < c.kh && ih0 + a0 * c.dh < 0) ++a0;
      for (a1 = a0; a1 < c.kh && ih0 + a1 * c.dh < c.H;) ++a1;
      comb<VW>(W, a1 - a0, Z1 + i * c.ldz1 + (ih0 + a0 * c.dh - t.ilo) * W, c.dh * W, c.U3 + a0 * r + i, r, 1.0f,
               Z2i + tt * Wp + c.pw);
    };
    for (int64_t tt = 0; tt < lo; ++tt) border_row(tt);
    for (int64_t tt = hi; tt < nR; ++tt) border_row(tt);
  }
  for (int64_t i = 0; i < r; ++i) {
    if (c.sw == 1) {
      comb_rows<VW>(nR, Wo, c.kw, Z2p + i * nR * Wp, Wp, c.dw, c.U4 + i, r, 1.0f, Z3 + i * c.ldz3, Wo);
      continue;
    }
    for (int64_t tt = 0; tt < nR; ++tt) {
      const float* z2 = Z2p + (i * nR + tt) * Wp;
      float* z3 = Z3 + i * c.ldz3 + tt * Wo;
      std::fill(z3, z3 + Wo, 0.0f);
      for (int64_t b = 0; b < c.kw; ++b) {
        const float u = c.U4[b * r + i];
        const float* src = z2 + b * c.dw;
        for (int64_t ow = 0; ow < Wo; ++ow) z3[ow] += u * src[ow * c.sw];
      }
    }
  }
}

template <int VW>
DEBORA_INLINE void fwd_tasks(const Ctx& c, int64_t begin, int64_t end) {
  float* Xp = thread_workspace(c.ws_floats);
  float* Z1 = Xp + c.C * c.ldx;
  float* Z2p = Z1 + c.r * c.ldz1;
  float* Z3 = Z2p + c.r * c.R * c.Wp;
  float* stage = c.stream ? Z3 + c.r * c.ldz3 : nullptr;
  const int64_t HW = c.H * c.W, HoWo = c.Ho * c.Wo;
  for (int64_t task = begin; task < end; ++task) {
    const Tile t = tile_of(c, task);
    const float* Xs = c.X + t.n * c.C * HW;
    int64_t ldx = HW, xrow0 = 0;
    if (c.packed) {
      pack(c.C, (t.ihi - t.ilo) * c.W, Xs + t.ilo * c.W, HW, Xp, c.ldx);
      Xs = Xp, ldx = c.ldx, xrow0 = t.ilo;
    }
    chain<VW>(c, t, Xs, ldx, xrow0, Z1, Z2p, Z3);
    write_output<VW>(c.F, c.r, (t.oh1 - t.oh0) * c.Wo, c.U1sT, c.F, Z3, c.ldz3, c.Y + t.n * c.F * HoWo + t.oh0 * c.Wo,
                     HoWo, c.acc, stage, c.lds);
  }
  if (stage) stream_fence();
}

/* One backward tile. Partial sums go to `part` (float, this tile only): dU1 / s (F x r), dU2 (C x r),
 * each entry a VW-lane vector when VEC, then dU3 (kh x r), dU4 (kw x r), ds (r). */
template <int VW, bool VEC>
DEBORA_INLINE void bwd_task(const Ctx& c, const Tile& t, float* ws, float* part) {
  const int64_t r = c.r, W = c.W, Wp = c.Wp, Wo = c.Wo, HW = c.H * c.W, HoWo = c.Ho * c.Wo;
  const int64_t nR = t.oh1 - t.oh0, nT = t.oh1 - t.ohs, nOwn = t.own_hi - t.own_lo;
  const int64_t skip = t.oh0 - t.ohs;  // rows of T (and G2) before the owned output rows
  float* Xp = ws;
  float* Z1 = Xp + c.C * c.ldx;
  float* Z2p = Z1 + r * c.ldz1;
  float* Z3 = Z2p + r * c.R * Wp;
  float* dYp = Z3 + r * c.ldz3;
  float* T = dYp + c.F * c.ldy;
  float* G2p = T + r * c.ldt;
  float* G1 = G2p + r * c.t_max * Wp;
  float* stage = c.stream ? G1 + r * c.ldg1 : nullptr;
  float* margin = G1 + r * c.ldg1 + 8 * c.lds;  // T rows of one channel with zero margins (stride 1)
  float* pU1 = part;
  float* pU2 = pU1 + c.F * r * (VEC ? VW : 1);
  float* pU3 = pU2 + c.C * r * (VEC ? VW : 1);
  float* pU4 = pU3 + c.kh * r;
  float* ps = pU4 + c.kw * r;

  /* X and dY, in place or packed (Ctx::packed). In place each is read twice, by the chain's and T's
   * contractions (from memory), then by the dU2 and dU1 dots (from L2); packed, the copy reads memory
   * and both stages read the tile. Xs holds input row xrow0 first; dYs holds output row ohs first. */
  const float* Xs = c.X + t.n * c.C * HW;
  const float* dYs = c.dY + t.n * c.F * HoWo + t.ohs * Wo;
  int64_t ldx = HW, ldy = HoWo, xrow0 = 0;
  if (c.packed) {
    pack(c.C, (t.phi - t.plo) * W, Xs + t.plo * W, HW, Xp, c.ldx);
    pack(c.F, nT * Wo, dYs, HoWo, dYp, c.ldy);
    Xs = Xp, dYs = dYp, ldx = c.ldx, ldy = c.ldy, xrow0 = t.plo;
  }
  chain<VW>(c, t, Xs, ldx, xrow0, Z1, Z2p, Z3);
  /* T = U1^T dY on output rows [ohs, oh1): the gradient of Z3 before the scale by s. */
  mix<VW>(r, c.F, nT * Wo, c.U1, r, dYs, ldy, T, c.ldt, false);
  const int64_t P = nR * Wo;
  for (int64_t i = 0; i < r; ++i) ps[i] += dot<VW>(P, Z3 + i * c.ldz3, T + i * c.ldt + skip * Wo);
  dots<VW, VEC>(c.F, r, P, dYs + skip * Wo, ldy, Z3, c.ldz3, pU1, r);
  /* G3 = s T, back through the 1 x kw stage (transposed) into G2p (padded like Z2p), and dU4 on the
   * owned rows; s_i is applied to the taps and to the sums rather than to T. Stride 1 (the common
   * case) gathers each G2p row from shifted T rows; other strides scatter. */
  const int64_t M = (c.kw - 1) * c.dw;
  for (int64_t i = 0; i < r; ++i) {
    const float si = c.s[i];
    const float* Ti = T + i * c.ldt;
    if (c.sw == 1) {
      tap_dots<VW>(nT - skip, Wo, c.kw, Ti + skip * Wo, Wo, Z2p + i * nR * Wp, Wp, c.dw, si, pU4 + i, r);
    } else {
      for (int64_t b = 0; b < c.kw; ++b) {
        float d = 0.0f;
        for (int64_t tt = skip; tt < nT; ++tt) {
          const float* g3 = Ti + tt * Wo;
          const float* z2 = Z2p + (i * nR + tt - skip) * Wp + b * c.dw;
          for (int64_t ow = 0; ow < Wo; ++ow) d += g3[ow] * z2[ow * c.sw];
        }
        pU4[b * r + i] += si * d;
      }
    }
    if (c.sw == 1) {
      /* The T rows of channel i, each after M zeros (and M more at the end), copied in one pass
       * before any is read: a row that was just stored and is read back at a shift of a few floats
       * would stall on store forwarding. */
      const int64_t ldm = Wo + M;
      for (int64_t tt = 0; tt < nT; ++tt) {
        for (int64_t j = 0; j < M; ++j) margin[tt * ldm + j] = 0.0f;
        copy_row<VW>(Wo, Ti + tt * Wo, margin + tt * ldm + M);
      }
      for (int64_t j = 0; j < M; ++j) margin[nT * ldm + j] = 0.0f;
    }
    if (c.sw == 1) {
      /* g2[x] = sum_b s_i U4[b,i] g3[x - b dw], x < Wp = Wo + M. */
      comb_rows<VW>(nT, Wp, c.kw, margin + M, Wo + M, -c.dw, c.U4 + i, r, si, G2p + i * nT * Wp, Wp);
      continue;
    }
    for (int64_t tt = 0; tt < nT; ++tt) {
      const float* g3 = Ti + tt * Wo;
      float* g2 = G2p + (i * nT + tt) * Wp;
      std::fill(g2, g2 + Wp, 0.0f);
      for (int64_t b = 0; b < c.kw; ++b) {
        const float u = si * c.U4[b * r + i];
        for (int64_t ow = 0; ow < Wo; ++ow) g2[b * c.dw + ow * c.sw] += u * g3[ow];
      }
    }
  }
  /* Back through the kh x 1 stage: dU3 on the owned output rows [skip, nT) of T, whose tap a reads
   * input row (ohs + tt) sh - ph + a dh (all inside [0, H) for the rows [ulo, uhi), as in chain). */
  const int64_t ubase = (t.ohs + skip) * c.sh - c.ph;
  int64_t ulo, uhi;
  full_rows(nT - skip, ubase, c.sh, (c.kh - 1) * c.dh, c.H, ulo, uhi);
  ulo += skip, uhi += skip;
  /* Each owned G1 row ih gathers from the G2 rows whose window covers it. At stride 1, tap a of row ih
   * reads T row ih + ph - ohs - a dh, all of them inside [0, nT) for the rows [glo, ghi). */
  int64_t glo = 0, ghi = 0;
  if (c.sh == 1)
    full_rows(nOwn, t.own_lo + c.ph - t.ohs - (c.kh - 1) * c.dh, 1, (c.kh - 1) * c.dh, nT, glo, ghi);
  for (int64_t i = 0; i < r; ++i) {
    const float* G2i = G2p + i * nT * Wp + c.pw;
    const float* Z1i = Z1 + i * c.ldz1;
    if (uhi > ulo)
      tap_dots<VW>(uhi - ulo, W, c.kh, G2i + ulo * Wp, Wp, Z1i + (ubase + (ulo - skip) * c.sh - t.ilo) * W,
                   c.sh * W, c.dh * W, 1.0f, pU3 + i, r);
    for (int64_t a = 0; a < c.kh; ++a) {
      DotAcc<VW> d;
      for (int64_t tt = skip; tt < nT; ++tt) {
        if (tt >= ulo && tt < uhi) continue;
        const int64_t ih = (t.ohs + tt) * c.sh - c.ph + a * c.dh;
        if (ih >= 0 && ih < c.H) d.add(W, G2i + tt * Wp, Z1i + (ih - t.ilo) * W);
      }
      pU3[a * r + i] += d.sum();
    }
    float* G1i = G1 + i * c.ldg1;
    if (ghi > glo)
      comb_rows<VW>(ghi - glo, W, c.kh, G2i + (t.own_lo + glo + c.ph - t.ohs) * Wp, Wp, -c.dh * Wp, c.U3 + i, r, 1.0f,
                    G1i + glo * W, W);
    for (int64_t ih = t.own_lo; ih < t.own_hi; ++ih) {
      if (ih - t.own_lo >= glo && ih - t.own_lo < ghi) continue;
      /* The taps a for which ih is the input row a of some output row oh in [ohs, oh1): ih + ph - a dh
       * = oh sh. They form an arithmetic progression in a (step sh / gcd(sh, dh)) along which oh
       * falls by a constant, so the G2 rows they read are equally spaced too. */
      int64_t first = -1, step = 0, k = 0, tt0 = 0, dtt = 0;
      for (int64_t a = 0; a < c.kh; ++a) {
        const int64_t num = ih + c.ph - a * c.dh;  // = oh * sh for the output row oh this tap reads ih from
        if (num < 0 || num % c.sh != 0) continue;
        const int64_t tt = num / c.sh - t.ohs;
        if (tt < 0 || tt >= nT) continue;
        if (k == 0) first = a, tt0 = tt;
        else if (k == 1) step = a - first, dtt = tt - tt0;
        ++k;
      }
      comb<VW>(W, k, G2i + tt0 * Wp, dtt * Wp, c.U3 + std::max<int64_t>(first, 0) * r + i, step * r, 1.0f,
               G1i + (ih - t.own_lo) * W);
    }
  }
  if (nOwn == 0) return;
  const int64_t Pin = nOwn * W;
  /* dX before dU2: the streamed stores drain while the dots compute (backward 1.03x, paired, against
   * the other order, where they drained under the next tile's reads). */
  if (c.dX)
    write_output<VW>(c.C, r, Pin, c.U2T, c.C, G1, c.ldg1, c.dX + t.n * c.C * HW + t.own_lo * W, HW, c.acc, stage,
                     c.lds);
  dots<VW, VEC>(c.C, r, Pin, Xs + (t.own_lo - xrow0) * W, ldx, G1, c.ldg1, pU2, r);
}

/* Tasks [begin, end) of one partial-sum group; the group's sums (double) go to `group`. */
template <int VW, bool VEC>
DEBORA_INLINE void bwd_tasks_as(const Ctx& c, int64_t begin, int64_t end, double* group) {
  float* ws = thread_workspace(c.ws_floats);
  const int64_t nv = c.r * (c.F + c.C), ns = c.r * (c.kh + c.kw + 1);
  const int64_t np = nv * (VEC ? VW : 1) + ns;
  float* part = ws + (c.ws_floats - 16 - part_floats(c));
  for (int64_t task = begin; task < end; ++task) {
    std::fill(part, part + np, 0.0f);
    bwd_task<VW, VEC>(c, tile_of(c, task), ws, part);
    for (int64_t j = 0; j < nv; ++j) {
      if constexpr (VEC) {
        double t = 0;
        for (int l = 0; l < VW; ++l) t += part[j * VW + l];
        group[j] += t;
      } else {
        group[j] += part[j];
      }
    }
    for (int64_t j = 0; j < ns; ++j) group[nv + j] += part[nv * (VEC ? VW : 1) + j];
  }
  if (c.stream) stream_fence();
}

template <int VW>
DEBORA_INLINE void bwd_tasks(const Ctx& c, int64_t begin, int64_t end, double* group) {
  if (c.vec) bwd_tasks_as<VW, true>(c, begin, end, group);
  else bwd_tasks_as<VW, false>(c, begin, end, group);
}

/* The wrappers keep GCC from turning the short row loops of the depthwise stages (zero pads, row
 * copies of a few vectors) into memset / memmove calls, one library call per 32-float row (without
 * the attribute: pair 0.96x on one thread, 0.98x on two, paired at the bench shape). */
#if defined(__GNUC__) && !defined(__clang__)
#define DEBORA_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define DEBORA_NO_LIBCALLS
#endif
#if DEBORA_X86
DEBORA_NO_LIBCALLS DEBORA_TARGET_AVX512 void fwd_avx512(const Ctx& c, int64_t b, int64_t e) { fwd_tasks<16>(c, b, e); }
DEBORA_NO_LIBCALLS DEBORA_TARGET_AVX2 void fwd_avx2(const Ctx& c, int64_t b, int64_t e) { fwd_tasks<8>(c, b, e); }
DEBORA_NO_LIBCALLS DEBORA_TARGET_AVX512 void bwd_avx512(const Ctx& c, int64_t b, int64_t e, double* g) {
  bwd_tasks<16>(c, b, e, g);
}
DEBORA_NO_LIBCALLS DEBORA_TARGET_AVX2 void bwd_avx2(const Ctx& c, int64_t b, int64_t e, double* g) {
  bwd_tasks<8>(c, b, e, g);
}
#endif
/* Baseline: 4-wide generic vectors (SSE2 on x86-64, whatever the compiler lowers them to elsewhere). */
DEBORA_NO_LIBCALLS void fwd_base(const Ctx& c, int64_t b, int64_t e) { fwd_tasks<4>(c, b, e); }
DEBORA_NO_LIBCALLS void bwd_base(const Ctx& c, int64_t b, int64_t e, double* g) { bwd_tasks<4>(c, b, e, g); }

using FwdFn = void (*)(const Ctx&, int64_t, int64_t);
using BwdFn = void (*)(const Ctx&, int64_t, int64_t, double*);

FwdFn pick_fwd() {
#if DEBORA_X86
  return simd_dispatch([] { return &fwd_avx512; }, [] { return &fwd_avx2; }, [] { return &fwd_base; });
#else
  return &fwd_base;
#endif
}
BwdFn pick_bwd() {
#if DEBORA_X86
  return simd_dispatch([] { return &bwd_avx512; }, [] { return &bwd_avx2; }, [] { return &bwd_base; });
#else
  return &bwd_base;
#endif
}

/* ---- validation ------------------------------------------------------------------------------ */

/* Every size and geometry field, before anything is read or written (internal.h: the checks and
 * messages shared with conv2d and the CUDA twin). Sizes are capped at INT32_MAX and every product
 * the kernel forms is checked, so no index arithmetic can overflow. */
debora_status check_geometry(const char* op, const debora_conv2d_geom* g, int64_t r, Ctx& c) {
  debora_status st;
  if ((st = check_conv2d_geom(op, g, {{"r", r, 1}})) != DEBORA_OK) return st;
  c = Ctx{};
  c.N = g->batch, c.C = g->C, c.H = g->H, c.W = g->W, c.F = g->F, c.kh = g->kh, c.kw = g->kw;
  c.sh = g->stride_h, c.sw = g->stride_w, c.ph = g->pad_h, c.pw = g->pad_w, c.dh = g->dil_h, c.dw = g->dil_w;
  c.r = r;
  c.Ho = debora::conv_out_size(c.H, c.kh, c.sh, c.ph, c.dh);  // debora/math.h: shared with the CUDA twin
  c.Wo = debora::conv_out_size(c.W, c.kw, c.sw, c.pw, c.dw);
  c.Wp = c.W + 2 * c.pw;
  /* Buffer sizes (X, Y, a bound on the workspace, the partial sums of all groups) as 64-bit
   * products that cannot overflow. */
  if (!sizes_fit({c.N, c.C, c.H, c.W}) || !sizes_fit({c.N, c.F, c.Ho, c.Wo}) ||
      !sizes_fit({c.r, c.Wp, 2 * c.H + 4 * c.Ho}) || !sizes_fit({c.r, c.F + c.C + c.kh + c.kw + 1, kMaxGroups}))
    return fail_conv2d_overflow(op, g);
  return DEBORA_OK;
}

/* Caller-side scratch (the pre-scaled / transposed factors, the group sums): one per calling thread,
 * reused across calls. */
template <class T>
T* caller_scratch(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace
}  // namespace conv2d
}  // namespace debora

using debora::conv2d::Ctx;

extern "C" debora_status debora_cp_conv2d_fwd_cpu(const debora_conv2d_geom* g, int64_t r, const float* X,
                                                  const float* U1, const float* U2, const float* U3, const float* U4,
                                                  const float* s, float* Y, int accumulate) {
  static const char* op = "cp_conv2d_fwd";
  return debora::guarded(op, [&] {
    Ctx c;
    debora_status st;
    if ((st = debora::conv2d::check_geometry(op, g, r, c)) != DEBORA_OK) return st;
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X}, {"U1", U1}, {"U2", U2}, {"U3", U3}, {"U4", U4}, {"s", s}, {"Y", Y}};
    for (const auto& p : ptrs)
      if ((st = debora::check_ptr(op, p.name, p.p)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "s", s, r)) != DEBORA_OK) return st;

    thread_local std::vector<float> scratch;
    float* U1sT = debora::conv2d::caller_scratch(scratch, static_cast<size_t>(r * c.F));
    for (int64_t i = 0; i < r; ++i)
      for (int64_t f = 0; f < c.F; ++f) U1sT[i * c.F + f] = U1[f * r + i] * s[i];
    c.X = X, c.U1 = U1, c.U2 = U2, c.U3 = U3, c.U4 = U4, c.s = s, c.U1sT = U1sT, c.Y = Y, c.acc = accumulate != 0;
    c.stream = !c.acc && c.N * c.F * c.Ho * c.Wo * int64_t{sizeof(float)} >= debora::kStreamBytes;
    debora::conv2d::plan_tiles(c, false);
    const auto fn = debora::conv2d::pick_fwd();
    debora::parallel_for(c.N * c.tiles, 1, [&](int64_t b, int64_t e) { fn(c, b, e); });
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cp_conv2d_bwd_cpu(const debora_conv2d_geom* g, int64_t r, const float* X,
                                                  const float* U1, const float* U2, const float* U3, const float* U4,
                                                  const float* s, const float* dY, float* dX, int accumulate_dx,
                                                  float* dU1, float* dU2, float* dU3, float* dU4, float* ds,
                                                  float* dots) {
  static const char* op = "cp_conv2d_bwd";
  return debora::guarded(op, [&] {
    Ctx c;
    debora_status st;
    if ((st = debora::conv2d::check_geometry(op, g, r, c)) != DEBORA_OK) return st;
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X},     {"U1", U1},   {"U2", U2},   {"U3", U3},   {"U4", U4}, {"s", s},
                {"dY", dY},   {"dU1", dU1}, {"dU2", dU2}, {"dU3", dU3}, {"dU4", dU4}, {"ds", ds}};
    for (const auto& p : ptrs)
      if ((st = debora::check_ptr(op, p.name, p.p)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "s", s, r)) != DEBORA_OK) return st;

    c.X = X, c.U1 = U1, c.U2 = U2, c.U3 = U3, c.U4 = U4, c.s = s, c.dY = dY, c.dX = dX, c.acc = accumulate_dx != 0;
    /* Vector partial sums while they stay small (L2). */
    c.vec = r * (c.F + c.C) * debora::conv2d::kMaxVW * int64_t{sizeof(float)} <= (int64_t{256} << 10);
    c.stream =
        dX != nullptr && !c.acc && c.N * c.C * c.H * c.W * int64_t{sizeof(float)} >= debora::kStreamBytes;
    debora::conv2d::plan_tiles(c, true);
    const int64_t tasks = c.N * c.tiles;
    const int64_t np = r * (c.F + c.C + c.kh + c.kw + 1);
    const int64_t groups = std::max<int64_t>(
        1, std::min({tasks, debora::conv2d::kMaxGroups,
                     debora::conv2d::kMaxGroupBytes / (np * static_cast<int64_t>(sizeof(double)))}));

    thread_local std::vector<float> scratch;
    thread_local std::vector<double> sums;
    float* U2T = debora::conv2d::caller_scratch(scratch, static_cast<size_t>(r * c.C));
    for (int64_t i = 0; i < r; ++i)
      for (int64_t ch = 0; ch < c.C; ++ch) U2T[i * c.C + ch] = U2[ch * r + i];
    c.U2T = U2T;
    double* gsum = debora::conv2d::caller_scratch(sums, static_cast<size_t>(groups * np));

    /* Group k holds tasks [k*tasks/groups, (k+1)*tasks/groups): fixed by the shape, so the sums are
     * added in the same order whatever the thread count. Each group's sums are cleared by the thread that
     * fills them: cleared on the caller, the worker's groups crossed the cores once more (as in cp_linear). */
    const auto fn = debora::conv2d::pick_bwd();
    debora::parallel_for(groups, 1, [&](int64_t gb, int64_t ge) {
      for (int64_t k = gb; k < ge; ++k) {
        std::fill(gsum + k * np, gsum + (k + 1) * np, 0.0);
        fn(c, k * tasks / groups, (k + 1) * tasks / groups, gsum + k * np);
      }
    });
    for (int64_t k = 1; k < groups; ++k)
      for (int64_t j = 0; j < np; ++j) gsum[j] += gsum[k * np + j];

    const double* tU1 = gsum;
    const double* tU2 = tU1 + c.F * r;
    const double* tU3 = tU2 + c.C * r;
    const double* tU4 = tU3 + c.kh * r;
    const double* tds = tU4 + c.kw * r;
    /* The gradients, rounded to float as they are written; dots_i = sum_k <U_k[:,i], dU_k[:,i]> (the input of
     * cp_hypergrad) is summed in double from each value as it is written, not by a second pass over the factors. */
    thread_local std::vector<double> dsum;
    double* dd = dots ? debora::conv2d::caller_scratch(dsum, static_cast<size_t>(r)) : nullptr;
    if (dd) std::fill(dd, dd + r, 0.0);
    const double* t[4] = {tU1, tU2, tU3, tU4};
    const float* U[4] = {U1, U2, U3, U4};
    float* dU[4] = {dU1, dU2, dU3, dU4};
    const int64_t rows[4] = {c.F, c.C, c.kh, c.kw};
    for (int k = 0; k < 4; ++k)
      for (int64_t j = 0; j < rows[k]; ++j)
        for (int64_t i = 0; i < r; ++i) {
          /* U1's sums leave out s_i, a factor of whole columns: applied once here */
          const float g = static_cast<float>(k == 0 ? t[k][j * r + i] * s[i] : t[k][j * r + i]);
          dU[k][j * r + i] = g;
          if (dd) dd[i] += static_cast<double>(U[k][j * r + i]) * g;
        }
    for (int64_t i = 0; i < r; ++i) ds[i] = static_cast<float>(tds[i]);
    for (int64_t i = 0; dd && i < r; ++i) dots[i] = static_cast<float>(dd[i]);
    return DEBORA_OK;
  });
}
