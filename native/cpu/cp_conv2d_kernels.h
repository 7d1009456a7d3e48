/* cp_conv2d_kernels.h — private to native/cpu/cp_conv2d.cpp: the register-blocked building blocks
 * of the fused CP conv chain, written once over GCC vector extensions of VW floats and force-inlined
 * into the AVX-512 / AVX2 / baseline wrappers there (the simd.h convention: the wrapper's target
 * attribute decides the instructions). Vectors never cross a function boundary by value, so no
 * ABI depends on the target. Tested through test/native/cp_conv2d.test.ts and
 * test/native/driver_cp_conv2d.cpp. */
#ifndef DEBORA_CP_CONV2D_KERNELS_H
#define DEBORA_CP_CONV2D_KERNELS_H

#include <cstdint>

#define DEBORA_INLINE inline __attribute__((always_inline))

namespace debora {
namespace conv2d {

template <int VW>
struct Vt {
  typedef float V __attribute__((vector_size(VW * sizeof(float))));
  /* An unaligned, aliasing view: loads and stores straight from float buffers. */
  typedef float U __attribute__((vector_size(VW * sizeof(float)), aligned(alignof(float)), may_alias));
};

#define CV_LD(p) (*reinterpret_cast<const U*>(p))
#define CV_ST(p) (*reinterpret_cast<U*>(p))
/* x - 0 is exact for every x (x + 0 is not, for -0), so this folds to a plain broadcast. */
#define CV_SPLAT(x) ((x) - V{})

template <int VW>
DEBORA_INLINE float hsum(const typename Vt<VW>::V& v) {
  float t = 0;
  #pragma GCC unroll 32
  for (int j = 0; j < VW; ++j) t += v[j];
  return t;
}

/* A non-temporal store of one vector to a VW-aligned address (at VW = 16 a whole cache line: the
 * line goes to memory without being read first and without evicting the tile). Inline assembly,
 * not an intrinsic, because these templates carry no target attribute of their own; only the
 * NT = true instantiations, made inside the SIMD wrappers of cp_conv2d.cpp, emit it. */
template <int VW>
DEBORA_INLINE void nt_store(float* p, const typename Vt<VW>::V& v) {
  using V = typename Vt<VW>::V;
#if defined(__x86_64__) || defined(__i386__)
  if constexpr (VW == 4) asm volatile("movntps %1, %0" : "=m"(*reinterpret_cast<V*>(p)) : "x"(v));
  else asm volatile("vmovntps %1, %0" : "=m"(*reinterpret_cast<V*>(p)) : "v"(v));
#else
  *reinterpret_cast<V*>(p) = v;
#endif
}

/* A non-temporal store of one float (movnti): the partial cache lines at either end of a streamed
 * run. A plain store there would read the line from memory first (and hold up every store behind it
 * until it arrived), for a line that the run next to it, written later, completes anyway. */
DEBORA_INLINE void nt_store_float(float* p, float v) {
#if defined(__x86_64__) || defined(__i386__)
  int32_t bits;
  __builtin_memcpy(&bits, &v, sizeof bits);
  asm volatile("movnti %1, %0" : "=m"(*reinterpret_cast<int32_t*>(p)) : "r"(bits));
#else
  *p = v;
#endif
}

/* ---- depthwise rows --------------------------------------------------------------------------
 * The kh x 1 and 1 x kw stages (and their transposes) make each output row from a few source rows
 * (taps) of the same channel. A row is formed in registers from all its taps and stored once,
 * instead of one read-modify-write pass per tap: on rows of a few vectors (W = 32) the per-pass
 * overhead was most of the cost. In every stage the taps of a row are equally spaced, both in the
 * source (ss floats apart: a row of the plane, or a float) and in the factor (ws apart), so a row
 * is described by its first tap, two strides and a count, all in registers. (Collecting tap
 * pointers and weights in a small array first cost 4x the arithmetic: GCC read two adjacent
 * weights back with one 8-byte load, which cannot be forwarded from the two 4-byte stores.) */

/* Rows t < rows of a depthwise stage whose taps all lie inside the source: dst[t*ldd + j] =
 * sum_{q<K} (alpha * w[q*ws]) * src[t*lds + q*ss + j] for j < n, K a compile-time tap count. The rows of
 * a stage are equally spaced too (stride 1, or any stride vertically), so one call covers all the
 * interior rows of a channel: the weights are read once per call, not once per 32-float row (per-row
 * set-up was most of the cost of these stages). */
template <int VW, int K>
DEBORA_INLINE void comb_rows_k(int64_t rows, int64_t n, const float* src, int64_t lds, int64_t ss, const float* w,
                               int64_t ws, float alpha, float* __restrict dst, int64_t ldd) {
  using V = typename Vt<VW>::V;
  using U = typename Vt<VW>::U;
  /* Scalars, splat at each use (GCC folds the splat into the FMA's broadcast): an array of splat
   * vectors was built lane by lane with 16 masked moves each. */
  float wq[K];
  #pragma GCC unroll 16
  for (int q = 0; q < K; ++q) wq[q] = alpha * w[q * ws];
  for (int64_t t = 0; t < rows; ++t, src += lds, dst += ldd) {
    int64_t j = 0;
    for (; j + 2 * VW <= n; j += 2 * VW) {
      V a0 = {}, a1 = {};
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) {
        a0 += CV_SPLAT(wq[q]) * CV_LD(src + q * ss + j);
        a1 += CV_SPLAT(wq[q]) * CV_LD(src + q * ss + j + VW);
      }
      CV_ST(dst + j) = a0;
      CV_ST(dst + j + VW) = a1;
    }
    if (j + VW <= n) {
      V a0 = {};
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) a0 += CV_SPLAT(wq[q]) * CV_LD(src + q * ss + j);
      CV_ST(dst + j) = a0;
      j += VW;
    }
    if (j == n) continue;
    if (n >= VW) {
      /* The last partial vector as a whole vector ending at n: it recomputes a few outputs with the
       * same operations in the same order (same values), instead of a scalar tail. */
      j = n - VW;
      V a0 = {};
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) a0 += CV_SPLAT(wq[q]) * CV_LD(src + q * ss + j);
      CV_ST(dst + j) = a0;
      continue;
    }
    for (; j < n; ++j) {
      float s = 0.0f;
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) s += wq[q] * src[q * ss + j];
      dst[j] = s;
    }
  }
}

/* The same for any tap count k (0 gives zero rows). */
template <int VW>
DEBORA_INLINE void comb_rows_any(int64_t rows, int64_t n, int64_t k, const float* src, int64_t lds, int64_t ss,
                                 const float* w, int64_t ws, float alpha, float* __restrict dst, int64_t ldd) {
  using V = typename Vt<VW>::V;
  using U = typename Vt<VW>::U;
  for (int64_t t = 0; t < rows; ++t, src += lds, dst += ldd) {
    int64_t j = 0;
    for (; j + VW <= n; j += VW) {
      V a0 = {};
      for (int64_t q = 0; q < k; ++q) a0 += CV_SPLAT(alpha * w[q * ws]) * CV_LD(src + q * ss + j);
      CV_ST(dst + j) = a0;
    }
    for (; j < n; ++j) {
      float s = 0.0f;
      for (int64_t q = 0; q < k; ++q) s += (alpha * w[q * ws]) * src[q * ss + j];
      dst[j] = s;
    }
  }
}

/* Depthwise rows: the common 3-tap case with the tap loop unrolled and the weights in registers
 * (unrolling 1 and 2 taps as well added a minute to the compile for kernel shapes that are rarer). */
template <int VW>
DEBORA_INLINE void comb_rows(int64_t rows, int64_t n, int64_t k, const float* src, int64_t lds, int64_t ss,
                             const float* w, int64_t ws, float alpha, float* __restrict dst, int64_t ldd) {
  if (k == 3) return comb_rows_k<VW, 3>(rows, n, src, lds, ss, w, ws, alpha, dst, ldd);  // 3x3 kernels, by far the most common
  comb_rows_any<VW>(rows, n, k, src, lds, ss, w, ws, alpha, dst, ldd);
}

/* One depthwise row (an edge row, whose taps are cut by the border, or a stride with no row pattern). */
template <int VW>
DEBORA_INLINE void comb(int64_t n, int64_t k, const float* src, int64_t ss, const float* w, int64_t ws, float alpha,
                        float* __restrict dst) {
  comb_rows<VW>(1, n, k, src, 0, ss, w, ws, alpha, dst, 0);
}

/* dst[j] = src[j] for j < n, in vectors (a library call per short row costs more than the copy). */
template <int VW>
DEBORA_INLINE void copy_row(int64_t n, const float* __restrict src, float* __restrict dst) {
  using U = typename Vt<VW>::U;
  int64_t j = 0;
  for (; j + VW <= n; j += VW) CV_ST(dst + j) = CV_LD(src + j);
  for (; j < n; ++j) dst[j] = src[j];
}

/* A dot product summed over many rows with one horizontal sum at the end: acc[] += x[j] * y[j] over
 * the whole vectors of n, tail += the rest. Four accumulators, so the sum over a row of a few vectors
 * is not one chain of dependent FMAs (on W = 32 that chain, not the FMA rate, set the speed). */
template <int VW>
struct DotAcc {
  typename Vt<VW>::V acc[4] = {};
  float tail = 0;
  DEBORA_INLINE void add(int64_t n, const float* __restrict x, const float* __restrict y) {
    using U = typename Vt<VW>::U;
    int64_t j = 0;
    for (; j + 4 * VW <= n; j += 4 * VW)
      #pragma GCC unroll 32
      for (int q = 0; q < 4; ++q) acc[q] += CV_LD(x + j + q * VW) * CV_LD(y + j + q * VW);
    /* The last 0-3 vectors, each into an accumulator named at compile time (an index known only at run
     * time kept all four in memory: a store-to-load chain through every row). */
    #pragma GCC unroll 3
    for (int q = 0; q < 3; ++q)
      if (j + VW <= n) {
        acc[q] += CV_LD(x + j) * CV_LD(y + j);
        j += VW;
      }
    for (; j < n; ++j) tail += x[j] * y[j];
  }
  DEBORA_INLINE float sum() const { return hsum<VW>((acc[0] + acc[1]) + (acc[2] + acc[3])) + tail; }
};

/* <x, y>: one row through DotAcc (explicit vectors: GCC does not reassociate a float reduction on
 * its own). */
template <int VW>
DEBORA_INLINE float dot(int64_t n, const float* __restrict x, const float* __restrict y) {
  DotAcc<VW> d;
  d.add(n, x, y);
  return d.sum();
}

/* The factor gradient of a depthwise stage over many rows: out[q*os] += alpha * sum_{t<rows} sum_{j<n}
 * x[t*ldx + j] * y[t*ldy + q*ys + j] for q < K, the K taps in one pass (each x row read once). Two
 * accumulators per tap, so a row of two vectors is not one chain of dependent FMAs per tap. */
template <int VW, int K>
DEBORA_INLINE void tap_dots_k(int64_t rows, int64_t n, const float* __restrict x, int64_t ldx, const float* __restrict y,
                              int64_t ldy, int64_t ys, float alpha, float* out, int64_t os) {
  using V = typename Vt<VW>::V;
  using U = typename Vt<VW>::U;
  V a[K][2] = {};
  float tail[K] = {};
  for (int64_t t = 0; t < rows; ++t, x += ldx, y += ldy) {
    int64_t j = 0;
    for (; j + 2 * VW <= n; j += 2 * VW) {
      const V x0 = CV_LD(x + j), x1 = CV_LD(x + j + VW);
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) {
        a[q][0] += x0 * CV_LD(y + q * ys + j);
        a[q][1] += x1 * CV_LD(y + q * ys + j + VW);
      }
    }
    if (j + VW <= n) {
      const V x0 = CV_LD(x + j);
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) a[q][0] += x0 * CV_LD(y + q * ys + j);
      j += VW;
    }
    for (; j < n; ++j)
      #pragma GCC unroll 16
      for (int q = 0; q < K; ++q) tail[q] += x[j] * y[q * ys + j];
  }
  #pragma GCC unroll 16
  for (int q = 0; q < K; ++q) out[q * os] += alpha * (hsum<VW>(a[q][0] + a[q][1]) + tail[q]);
}

/* The same for any tap count k (k outputs). */
template <int VW>
DEBORA_INLINE void tap_dots(int64_t rows, int64_t n, int64_t k, const float* x, int64_t ldx, const float* y,
                            int64_t ldy, int64_t ys, float alpha, float* out, int64_t os) {
  if (k == 3) return tap_dots_k<VW, 3>(rows, n, x, ldx, y, ldy, ys, alpha, out, os);
  for (int64_t q = 0; q < k; ++q) {
    DotAcc<VW> d;
    for (int64_t t = 0; t < rows; ++t) d.add(n, x + t * ldx, y + t * ldy + q * ys);
    out[q * os] += alpha * d.sum();
  }
}

/* ---- mix: a 1x1 convolution over K channels --------------------------------------------------
 * out[m*ldo + p] (+)= sum_k A[k*lda + m] * in[k*ldi + p] for m < M, p < P. Blocks of MB outputs x
 * NB vectors of pixels stay in registers for the whole K loop: per k, NB loads and MB broadcasts
 * feed MB*NB FMAs. PF: also prefetch, into L2, each input row's NB vectors two blocks ahead (see mix). */
template <int VW, int MB, int NB, bool NT = false, bool PF = false>
DEBORA_INLINE void mix_block(int64_t K, const float* __restrict A, int64_t lda, const float* __restrict in,
                             int64_t ldi, float* __restrict out, int64_t ldo, bool acc) {
  using V = typename Vt<VW>::V;
  using U = typename Vt<VW>::U;
  V c[MB][NB] = {};
  for (int64_t k = 0; k < K; ++k) {
    const float* ik = in + k * ldi;
    const float* ak = A + k * lda;
    if constexpr (PF) {
      #pragma GCC unroll 32
      for (int n = 0; n < NB; ++n) __builtin_prefetch(ik + (2 * NB + n) * VW, 0, 2);  // prefetcht1
    }
    V x[NB];
    #pragma GCC unroll 32
    for (int n = 0; n < NB; ++n) x[n] = CV_LD(ik + n * VW);
    #pragma GCC unroll 32
    for (int m = 0; m < MB; ++m) {
      const V a = CV_SPLAT(ak[m]);
      #pragma GCC unroll 32
      for (int n = 0; n < NB; ++n) c[m][n] += a * x[n];
    }
  }
  #pragma GCC unroll 32
  for (int m = 0; m < MB; ++m)
    #pragma GCC unroll 32
    for (int n = 0; n < NB; ++n) {
      float* o = out + m * ldo + n * VW;
      if constexpr (NT) nt_store<VW>(o, c[m][n]);
      else if (acc) CV_ST(o) = CV_LD(o) + c[m][n];
      else CV_ST(o) = c[m][n];
    }
}

/* The last M % MB rows, with the largest block that fits (compile-time block sizes). */
template <int VW, int MB, int NB, bool PF = false>
DEBORA_INLINE void mix_rest(int64_t rest, int64_t K, const float* A, int64_t lda, const float* in, int64_t ldi,
                            float* out, int64_t ldo, bool acc) {
  if constexpr (MB > 0) {
    if (rest == MB) mix_block<VW, MB, NB, false, PF>(K, A, lda, in, ldi, out, ldo, acc);
    else mix_rest<VW, MB - 1, NB, PF>(rest, K, A, lda, in, ldi, out, ldo, acc);
  }
}

/* Only the first block of rows prefetches: the later ones read lines it has already asked for. With
 * M < MB (r < 8 at AVX-512) that first block is a mix_rest one. */
template <int VW, int MB, int NB, bool PF = false>
DEBORA_INLINE void mix_rows(int64_t M, int64_t K, const float* A, int64_t lda, const float* in, int64_t ldi, float* out,
                            int64_t ldo, bool acc) {
  if (M < MB) return mix_rest<VW, MB - 1, NB, PF>(M, K, A, lda, in, ldi, out, ldo, acc);
  mix_block<VW, MB, NB, false, PF>(K, A, lda, in, ldi, out, ldo, acc);
  int64_t m = MB;
  for (; m + MB <= M; m += MB) mix_block<VW, MB, NB>(K, A + m, lda, in, ldi, out + m * ldo, ldo, acc);
  if (m < M) mix_rest<VW, MB - 1, NB>(M - m, K, A + m, lda, in, ldi, out + m * ldo, ldo, acc);
}

/* Pixel-block outer, row-block inner: for a large K (the 1x1 convolutions C -> r and F -> r) the
 * K x NB*VW input block stays in L1 while every block of output rows passes over it. Read in place
 * from the image (AVX-512), the K input rows are K streams a plane apart, more than the hardware
 * prefetchers follow (on a Zen 4 the Z1 and T contractions ran at about 12 GB/s per core), so each
 * block prefetches its rows' lines two blocks ahead into L2 (prefetcht1): rows a plane apart share
 * L1 sets, so lines prefetched into L1 were evicted before use. Paired on that machine: pair
 * 1.28-1.50x on two threads, 1.45-1.51x on one; 1.00x at AVX2, where mix reads packed tiles from L2
 * (docs/kernels-conv2d.md, "Seventh look"). */
template <int VW>
DEBORA_INLINE void mix(int64_t M, int64_t K, int64_t P, const float* A, int64_t lda, const float* in, int64_t ldi,
                       float* out, int64_t ldo, bool acc) {
  /* 12 (AVX2, SSE: 16 registers) or 24 (AVX-512: 32 registers) accumulators. */
  constexpr int MB = VW >= 16 ? 8 : 4;
  constexpr int NB = 3;
  int64_t p = 0;
  /* Prefetched while the block two ahead is still in the row (one block ahead into L1: 1.05x slower than
   * two; four ahead: no faster). */
  for (; p + 3 * NB * VW <= P; p += NB * VW) mix_rows<VW, MB, NB, true>(M, K, A, lda, in + p, ldi, out + p, ldo, acc);
  for (; p + NB * VW <= P; p += NB * VW) mix_rows<VW, MB, NB>(M, K, A, lda, in + p, ldi, out + p, ldo, acc);
  for (; p + VW <= P; p += VW) mix_rows<VW, MB, 1>(M, K, A, lda, in + p, ldi, out + p, ldo, acc);
  for (; p < P; ++p)
    for (int64_t m = 0; m < M; ++m) {
      float t = 0;
      for (int64_t k = 0; k < K; ++k) t += A[k * lda + m] * in[k * ldi + p];
      out[m * ldo + p] = acc ? out[m * ldo + p] + t : t;
    }
}

/* MB output rows over all P pixels, in blocks of NB or 1 vectors. With NT the blocks start at pixel
 * `head` (out + head VW-aligned, ldo a multiple of VW) and are streamed, and so are the pixels on
 * either side of them, one float at a time. Otherwise a last partial vector of an overwrite is a whole
 * vector ending at P, recomputing a few outputs to the same values (as in comb_rows_k); only an
 * accumulation, or fewer than VW pixels, goes one pixel at a time. */
template <int VW, int MB, bool NT>
DEBORA_INLINE void mix_strip(int64_t K, int64_t P, const float* A, int64_t lda, const float* in, int64_t ldi,
                             float* out, int64_t ldo, bool acc, int64_t head) {
  constexpr int NB = 3;
  /* Pixels [q0, q1) one at a time (fewer than VW pixels, or the tail of an accumulation). */
  auto pixels = [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q)
      #pragma GCC unroll 32
      for (int m = 0; m < MB; ++m) {
        float t = 0;
        for (int64_t k = 0; k < K; ++k) t += A[k * lda + m] * in[k * ldi + q];
        out[m * ldo + q] = acc ? out[m * ldo + q] + t : t;
      }
  };
  /* NT: lanes [j0, j1) of the vector at pixel q, computed into a buffer and streamed one float at a
   * time (nt_store_float): the pixels on either side of the aligned vectors. */
  auto stream_lanes = [&](int64_t q, int64_t j0, int64_t j1) {
    alignas(64) float part[MB * VW];
    mix_block<VW, MB, 1>(K, A, lda, in + q, ldi, part, VW, false);
    for (int m = 0; m < MB; ++m)
      for (int64_t j = j0; j < j1; ++j) nt_store_float(out + m * ldo + q + j, part[m * VW + j]);
  };
  if (P < VW) return pixels(0, P);
  int64_t p = 0;
  if (head > 0) {
    stream_lanes(0, 0, head);
    p = head;
  }
  for (; p + NB * VW <= P; p += NB * VW) mix_block<VW, MB, NB, NT>(K, A, lda, in + p, ldi, out + p, ldo, acc);
  for (; p + VW <= P; p += VW) mix_block<VW, MB, 1, NT>(K, A, lda, in + p, ldi, out + p, ldo, acc);
  if (p == P) return;
  if constexpr (NT) return stream_lanes(P - VW, p - (P - VW), VW);
  if (!acc) return mix_block<VW, MB, 1>(K, A, lda, in + (P - VW), ldi, out + (P - VW), ldo, false);
  pixels(p, P);
}

template <int VW, int MB, bool NT>
DEBORA_INLINE void mix_strip_rest(int64_t rest, int64_t K, int64_t P, const float* A, int64_t lda, const float* in,
                                  int64_t ldi, float* out, int64_t ldo, bool acc, int64_t head) {
  if constexpr (MB > 0) {
    if (rest == MB) mix_strip<VW, MB, NT>(K, P, A, lda, in, ldi, out, ldo, acc, head);
    else mix_strip_rest<VW, MB - 1, NT>(rest, K, P, A, lda, in, ldi, out, ldo, acc, head);
  }
}

template <int VW, bool NT>
DEBORA_INLINE void mix_wide_as(int64_t M, int64_t K, int64_t P, const float* A, int64_t lda, const float* in,
                               int64_t ldi, float* out, int64_t ldo, bool acc, int64_t head) {
  constexpr int MB = VW >= 16 ? 8 : 4;
  int64_t m = 0;
  for (; m + MB <= M; m += MB) mix_strip<VW, MB, NT>(K, P, A + m, lda, in, ldi, out + m * ldo, ldo, acc, head);
  if (m < M) mix_strip_rest<VW, MB - 1, NT>(M - m, K, P, A + m, lda, in, ldi, out + m * ldo, ldo, acc, head);
}

/* Row-block outer, pixels inner: for a small K (the 1x1 convolutions r -> F and r -> C that write Y
 * and dX) the K x P input stays in L1 and each output row is written as one sequential run. */
template <int VW>
DEBORA_INLINE void mix_wide(int64_t M, int64_t K, int64_t P, const float* A, int64_t lda, const float* in,
                            int64_t ldi, float* out, int64_t ldo, bool acc) {
  mix_wide_as<VW, false>(M, K, P, A, lda, in, ldi, out, ldo, acc, 0);
}

/* mix_wide overwriting `out` with non-temporal stores, when every row starts at the same offset from
 * a VW-aligned address (ldo a multiple of VW); false (nothing written) otherwise. The stores leave
 * the core while the next block computes, instead of in a copy phase of their own; the caller
 * fences (stream.h) before the result is read. */
template <int VW>
DEBORA_INLINE bool mix_wide_nt(int64_t M, int64_t K, int64_t P, const float* A, int64_t lda, const float* in,
                               int64_t ldi, float* out, int64_t ldo) {
  if (ldo % VW != 0) return false;
  constexpr uintptr_t kBytes = VW * sizeof(float);
  const uintptr_t off = reinterpret_cast<uintptr_t>(out) % kBytes;  // a multiple of sizeof(float)
  const int64_t head = static_cast<int64_t>((kBytes - off) % kBytes / sizeof(float));
  mix_wide_as<VW, true>(M, K, P, A, lda, in, ldi, out, ldo, false, head);
  return true;
}

/* ---- dots: many dot products over pixels ------------------------------------------------------
 * D[m*ldd + n] += sum_{p<P} A[m*lda + p] * B[n*ldb + p]: a factor gradient (e.g. dU2 = X^T G1).
 * MB x NB accumulators; per pixel vector MB + NB loads feed MB*NB FMAs. With VEC the sums stay
 * VW-lane vectors, D[(m*ldd + n)*VW + lane] (the remainder pixels go to lane 0): no horizontal sum
 * per call, which on a tile of a few hundred pixels would cost a third of the time. */
template <int VW, bool VEC, int MB, int NB>
DEBORA_INLINE void dots_block(int64_t P, const float* __restrict A, int64_t lda, const float* __restrict B,
                              int64_t ldb, float* __restrict D, int64_t ldd) {
  using V = typename Vt<VW>::V;
  using U = typename Vt<VW>::U;
  V c[MB][NB];
  #pragma GCC unroll 32
  for (int m = 0; m < MB; ++m)
    #pragma GCC unroll 32
    for (int n = 0; n < NB; ++n) {
      if constexpr (VEC) c[m][n] = CV_LD(D + (m * ldd + n) * VW);
      else c[m][n] = V{};
    }
  int64_t p = 0;
  for (; p + VW <= P; p += VW) {
    V a[MB], b[NB];
    #pragma GCC unroll 32
    for (int m = 0; m < MB; ++m) a[m] = CV_LD(A + m * lda + p);
    #pragma GCC unroll 32
    for (int n = 0; n < NB; ++n) b[n] = CV_LD(B + n * ldb + p);
    #pragma GCC unroll 32
    for (int m = 0; m < MB; ++m)
      #pragma GCC unroll 32
      for (int n = 0; n < NB; ++n) c[m][n] += a[m] * b[n];
  }
  if constexpr (VEC) {
    /* Only a remainder touches a single lane: inserting into a vector makes GCC spill all of them. */
    #pragma GCC unroll 32
    for (int m = 0; m < MB; ++m)
      #pragma GCC unroll 32
      for (int n = 0; n < NB; ++n) CV_ST(D + (m * ldd + n) * VW) = c[m][n];
    if (p < P)
      #pragma GCC unroll 32
      for (int m = 0; m < MB; ++m)
        #pragma GCC unroll 32
        for (int n = 0; n < NB; ++n) {
          float t = 0;
          for (int64_t q = p; q < P; ++q) t += A[m * lda + q] * B[n * ldb + q];
          D[(m * ldd + n) * VW] += t;
        }
  } else {
    #pragma GCC unroll 32
    for (int m = 0; m < MB; ++m)
      #pragma GCC unroll 32
      for (int n = 0; n < NB; ++n) {
        float t = 0;
        for (int64_t q = p; q < P; ++q) t += A[m * lda + q] * B[n * ldb + q];
        D[m * ldd + n] += hsum<VW>(c[m][n]) + t;
      }
  }
}

template <int VW, bool VEC, int MB, int NB>
DEBORA_INLINE void dots_nrest(int64_t rest, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb,
                              float* D, int64_t ldd) {
  if constexpr (NB > 0) {
    if (rest == NB) dots_block<VW, VEC, MB, NB>(P, A, lda, B, ldb, D, ldd);
    else dots_nrest<VW, VEC, MB, NB - 1>(rest, P, A, lda, B, ldb, D, ldd);
  }
}

template <int VW, bool VEC, int MB, int NB>
DEBORA_INLINE void dots_cols(int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb, float* D,
                             int64_t ldd) {
  constexpr int64_t dn = VEC ? VW : 1;  // D's element stride
  int64_t n = 0;
  for (; n + NB <= N; n += NB) dots_block<VW, VEC, MB, NB>(P, A, lda, B + n * ldb, ldb, D + n * dn, ldd);
  if (n < N) dots_nrest<VW, VEC, MB, NB - 1>(N - n, P, A, lda, B + n * ldb, ldb, D + n * dn, ldd);
}

template <int VW, bool VEC, int MB, int NB>
DEBORA_INLINE void dots_mrest(int64_t rest, int64_t N, int64_t P, const float* A, int64_t lda, const float* B,
                              int64_t ldb, float* D, int64_t ldd) {
  if constexpr (MB > 0) {
    if (rest == MB) dots_cols<VW, VEC, MB, NB>(N, P, A, lda, B, ldb, D, ldd);
    else dots_mrest<VW, VEC, MB - 1, NB>(rest, N, P, A, lda, B, ldb, D, ldd);
  }
}

template <int VW, bool VEC>
DEBORA_INLINE void dots(int64_t M, int64_t N, int64_t P, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float* D, int64_t ldd) {
  /* 9 accumulators + 6 operands fit AVX2's 16 registers; AVX-512 has room for 16 + 8. */
  constexpr int MB = VW >= 16 ? 4 : 3;
  constexpr int NB = VW >= 16 ? 4 : 3;
  constexpr int64_t dm = VEC ? VW : 1;
  /* Pixel chunks keep the B rows of a chunk in L1 while every block of A rows passes over them. */
  constexpr int64_t kChunk = 512;
  for (int64_t p0 = 0; p0 < P; p0 += kChunk) {
    const int64_t len = P - p0 < kChunk ? P - p0 : kChunk;
    int64_t m = 0;
    for (; m + MB <= M; m += MB)
      dots_cols<VW, VEC, MB, NB>(N, len, A + m * lda + p0, lda, B + p0, ldb, D + m * ldd * dm, ldd);
    if (m < M)
      dots_mrest<VW, VEC, MB - 1, NB>(M - m, N, len, A + m * lda + p0, lda, B + p0, ldb, D + m * ldd * dm, ldd);
  }
}

#undef CV_LD
#undef CV_ST
#undef CV_SPLAT

}  // namespace conv2d
}  // namespace debora

#endif
