/* cp_tangent.cpp — CPU kernel of op cp_tangent: the Riemannian gradient of a factor U (n x r, row-major) from
 * its Euclidean gradient G (ALGORITHM.md sections 2-3):
 *   euclidean  out = G
 *   oblique    out_i = G_i - U_i <U_i, G_i>          (columns of unit norm)
 *   stiefel    out = G - U sym(U^T G), sym(A) = (A + A^T) / 2    (orthonormal columns, n >= r)
 * and dots[i] += <U_i, out_i> when dots is given (~0 on a manifold: the input of cp_hypergrad).
 * out may be G itself: every reduction (U^T G or the column dots) is finished before out is written, and
 * each out element depends on its own G element only. Reductions run in double over fixed row chunks (set
 * by the shape, not the thread count), so results are bitwise reproducible. Generic loop bodies compiled
 * for AVX-512, AVX2 and scalar (native/cpu/simd.h). Tested in test/native/cp_tangent.test.ts,
 * test/native/hypergrad_identities.test.ts and test/native/driver_cp_tangent.cpp. */
#include <algorithm>
#include <cstring>
#include <vector>

#include "cp_dense_common.h"
#include "debora/math.h"
#include "internal.h"
#include "simd.h"
#include "thread_pool.h"

namespace {

#define DEBORA_INLINE inline __attribute__((always_inline))

/* c[i] += sum_{j in [j0, j1)} U[j, i] G[j, i] */
DEBORA_INLINE void col_dots_body(int64_t j0, int64_t j1, int64_t r, const float* __restrict U,
                                 const float* __restrict G, double* __restrict c) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = 0; i < r; ++i) c[i] += static_cast<double>(U[j * r + i]) * static_cast<double>(G[j * r + i]);
}

/* out[j, i] = G[j, i] - U[j, i] c[i], rounded once; acc[i] += U[j, i] out[j, i]. G and out may be equal. */
DEBORA_INLINE void oblique_body(int64_t j0, int64_t j1, int64_t r, const float* __restrict U, const float* G,
                                const double* __restrict c, float* out, double* __restrict acc) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = 0; i < r; ++i) {
      const double u = U[j * r + i];
      const float o = debora::oblique_component(G[j * r + i], U[j * r + i], c[i]);  // debora/math.h
      out[j * r + i] = o;
      acc[i] += u * static_cast<double>(o);
    }
}

/* Stiefel works on blocks of kRowBlock rows converted to double and padded to rd = r rounded up to 8 columns
 * (and to a multiple of 4 rows) with zeros, so the products below are whole 4 x 8 register tiles with no
 * tails: a 4 x 8 tile of accumulators is 8 AVX2 registers, fed by 4 broadcasts and 2 loads per step. */
constexpr int64_t kRowBlock = 64;

/* Thread-local, grow-only double scratch for the converted blocks (one per thread of the pool). */
double* block_scratch(size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

/* dst (rows4 x rd, rows4 = nb rounded up to 4) = src rows [j0, j0 + nb) in double, zero-padded. */
DEBORA_INLINE void to_double(const float* __restrict src, int64_t j0, int64_t nb, int64_t r, int64_t rd,
                             double* __restrict dst) {
  const int64_t rows4 = (nb + 3) / 4 * 4;
  for (int64_t j = 0; j < nb; ++j) {
    const float* __restrict s = src + (j0 + j) * r;
    double* __restrict d = dst + j * rd;
    for (int64_t b = 0; b < r; ++b) d[b] = static_cast<double>(s[b]);
    for (int64_t b = r; b < rd; ++b) d[b] = 0.0;
  }
  for (int64_t j = nb * rd; j < rows4 * rd; ++j) dst[j] = 0.0;
}

/* Four doubles as one GCC vector: one AVX2 register in the AVX2/AVX-512 wrappers, two SSE2 registers in the
 * scalar one. Explicit register tiles: GCC does not keep an auto-vectorised 4 x 8 array in registers. */
typedef double d4 __attribute__((vector_size(32)));
#define DEBORA_LOAD4(p) (*reinterpret_cast<const d4u*>(p))
typedef double d4u __attribute__((vector_size(32), aligned(8)));

/* M (rd x rd) += sum_{j in [j0, j1)} U[j, :]^T G[j, :] */
DEBORA_INLINE void gram_body(int64_t j0, int64_t j1, int64_t r, int64_t rd, const float* U, const float* G,
                             double* __restrict M) {
  double* Ud = block_scratch(static_cast<size_t>(2 * kRowBlock * rd));
  double* Gd = Ud + kRowBlock * rd;
  for (int64_t jb = j0; jb < j1; jb += kRowBlock) {
    const int64_t nb = std::min(kRowBlock, j1 - jb);
    to_double(U, jb, nb, r, rd, Ud);
    to_double(G, jb, nb, r, rd, Gd);
    for (int64_t a0 = 0; a0 < rd; a0 += 4)
      for (int64_t b0 = 0; b0 < rd; b0 += 8) {
        d4 acc[4][2] = {};
        for (int64_t j = 0; j < nb; ++j) {
          const d4 g0 = DEBORA_LOAD4(Gd + j * rd + b0), g1 = DEBORA_LOAD4(Gd + j * rd + b0 + 4);
          for (int aa = 0; aa < 4; ++aa) {
            const double u = Ud[j * rd + a0 + aa];
            acc[aa][0] += u * g0;
            acc[aa][1] += u * g1;
          }
        }
        for (int aa = 0; aa < 4; ++aa)
          for (int h = 0; h < 2; ++h) {
            d4u* m = reinterpret_cast<d4u*>(M + (a0 + aa) * rd + b0 + 4 * h);
            *m = *m + acc[aa][h];
          }
      }
  }
}

/* out[j, :] = G[j, :] - U[j, :] S (S: rd x rd), rounded once; acc[b] += U[j, b] out[j, b]. G and out may be
 * equal: a block of G is converted before that block of out is written. */
DEBORA_INLINE void stiefel_body(int64_t j0, int64_t j1, int64_t r, int64_t rd, const float* U, const float* G,
                                const double* __restrict S, float* out, double* __restrict acc) {
  double* Ud = block_scratch(static_cast<size_t>(2 * kRowBlock * rd));
  double* Gd = Ud + kRowBlock * rd;
  for (int64_t jb = j0; jb < j1; jb += kRowBlock) {
    const int64_t nb = std::min(kRowBlock, j1 - jb);
    to_double(U, jb, nb, r, rd, Ud);
    to_double(G, jb, nb, r, rd, Gd);
    for (int64_t j4 = 0; j4 < nb; j4 += 4)
      for (int64_t b0 = 0; b0 < rd; b0 += 8) {
        d4 o[4][2];
        for (int jj = 0; jj < 4; ++jj) {
          o[jj][0] = DEBORA_LOAD4(Gd + (j4 + jj) * rd + b0);
          o[jj][1] = DEBORA_LOAD4(Gd + (j4 + jj) * rd + b0 + 4);
        }
        for (int64_t a = 0; a < r; ++a) {
          const d4 s0 = DEBORA_LOAD4(S + a * rd + b0), s1 = DEBORA_LOAD4(S + a * rd + b0 + 4);
          for (int jj = 0; jj < 4; ++jj) {
            const double u = Ud[(j4 + jj) * rd + a];
            o[jj][0] -= u * s0;
            o[jj][1] -= u * s1;
          }
        }
        const int64_t rows = std::min<int64_t>(4, nb - j4), cols = std::min<int64_t>(8, r - b0);
        for (int64_t jj = 0; jj < rows; ++jj)
          for (int64_t bb = 0; bb < cols; ++bb) {
            const float v = static_cast<float>(o[jj][bb / 4][bb % 4]);
            out[(jb + j4 + jj) * r + b0 + bb] = v;
            acc[b0 + bb] += Ud[(j4 + jj) * rd + b0 + bb] * static_cast<double>(v);
          }
      }
  }
}

struct Kernels {
  void (*col_dots)(int64_t, int64_t, int64_t, const float*, const float*, double*);
  void (*oblique)(int64_t, int64_t, int64_t, const float*, const float*, const double*, float*, double*);
  void (*gram)(int64_t, int64_t, int64_t, int64_t, const float*, const float*, double*);
  void (*stiefel)(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const double*, float*, double*);
};

#define DEBORA_TANGENT_LEVEL(NS, TARGET)                                                                            \
  namespace NS {                                                                                                    \
  TARGET void col_dots(int64_t j0, int64_t j1, int64_t r, const float* U, const float* G, double* c) {              \
    col_dots_body(j0, j1, r, U, G, c);                                                                              \
  }                                                                                                                 \
  TARGET void oblique(int64_t j0, int64_t j1, int64_t r, const float* U, const float* G, const double* c, float* o, \
                      double* acc) {                                                                                \
    oblique_body(j0, j1, r, U, G, c, o, acc);                                                                       \
  }                                                                                                                 \
  TARGET void gram(int64_t j0, int64_t j1, int64_t r, int64_t rd, const float* U, const float* G, double* M) {      \
    gram_body(j0, j1, r, rd, U, G, M);                                                                              \
  }                                                                                                                 \
  TARGET void stiefel(int64_t j0, int64_t j1, int64_t r, int64_t rd, const float* U, const float* G,                \
                      const double* S, float* o, double* acc) {                                                     \
    stiefel_body(j0, j1, r, rd, U, G, S, o, acc);                                                                   \
  }                                                                                                                 \
  constexpr Kernels kernels{col_dots, oblique, gram, stiefel};                                                      \
  }

DEBORA_TANGENT_LEVEL(scalar_level, )
#if DEBORA_X86
DEBORA_TANGENT_LEVEL(avx2_level, DEBORA_TARGET_AVX2)
DEBORA_TANGENT_LEVEL(avx512_level, DEBORA_TARGET_AVX512)
#endif

Kernels active_kernels() {
#if DEBORA_X86
  return debora::simd_dispatch([] { return avx512_level::kernels; }, [] { return avx2_level::kernels; },
                               [] { return scalar_level::kernels; });
#else
  return scalar_level::kernels;
#endif
}

/* Work (multiply-adds) per chunk at least; chunk boundaries depend on the shape only. */
constexpr int64_t kChunkWork = int64_t{1} << 18;
constexpr int64_t kMaxChunks = 16;

struct Chunks {
  int64_t count, rows;  // chunk c covers rows [c * rows, min(n, (c + 1) * rows))
};

Chunks make_chunks(int64_t n, int64_t work_per_row) {
  int64_t count = std::min<int64_t>(kMaxChunks, std::max<int64_t>(1, n * work_per_row / kChunkWork));
  count = std::min(count, n);
  const int64_t rows = (n + count - 1) / count;
  return {(n + rows - 1) / rows, rows};
}

/* Runs body(c, j0, j1) for every chunk, on the pool when there is more than one. */
template <class F>
void for_chunks(const Chunks& ch, int64_t n, F&& body) {
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) body(c, c * ch.rows, std::min(n, (c + 1) * ch.rows));
  };
  if (ch.count == 1) run(0, 1);
  else debora::parallel_for(ch.count, 1, run);
}

/* sum over chunks of parts[c * len + i] into dst[i], in chunk order */
void sum_parts(const std::vector<double>& parts, int64_t count, int64_t len, double* dst) {
  for (int64_t i = 0; i < len; ++i) dst[i] = 0.0;
  for (int64_t c = 0; c < count; ++c)
    for (int64_t i = 0; i < len; ++i) dst[i] += parts[static_cast<size_t>(c * len + i)];
}

}  // namespace

extern "C" debora_status debora_cp_tangent_cpu(debora_geometry geometry, int64_t n, int64_t r, const float* U,
                                               const float* G, float* out, float* dots) {
  static const char* op = "cp_tangent";
  namespace dn = debora::dense;
  return debora::guarded(op, [&] {
    /* The value may come from an unchecked int cast (bindings/cp_tangent.cpp): read its bytes as an int, since
     * loading an enum object that holds no enumerator's value is itself undefined. */
    static_assert(sizeof(debora_geometry) == sizeof(int), "debora_geometry is int-sized");
    int geom;
    std::memcpy(&geom, &geometry, sizeof geom);
    if (geom != DEBORA_GEOM_EUCLIDEAN && geom != DEBORA_GEOM_OBLIQUE && geom != DEBORA_GEOM_STIEFEL)
      return debora::fail(DEBORA_INVALID_ARG,
                          "%s: expected one of 0 (euclidean), 1 (oblique), 2 (stiefel) for argument 'geometry', "
                          "received %d", op, geom);
    debora_status st;
    if ((st = debora::check_size(op, "n", n, 1)) != DEBORA_OK) return st;
    if ((st = debora::check_size(op, "r", r, 1)) != DEBORA_OK) return st;
    int64_t nr = 0;
    if (__builtin_mul_overflow(n, r, &nr) || nr > (int64_t{1} << 56))
      return debora::fail(DEBORA_INVALID_ARG,
                          "%s: expected n * r <= 2^56 for argument 'r', received n = %lld, r = %lld",
                          op, static_cast<long long>(n), static_cast<long long>(r));
    if (geom == DEBORA_GEOM_STIEFEL && n < r)
      return debora::fail(DEBORA_INVALID_ARG,
                          "%s: expected n >= r for argument 'n' (stiefel needs at least as many rows as the rank 'r' "
                          "for orthonormal columns; use geometry 'oblique' for this factor), received n = %lld, "
                          "r = %lld", op, static_cast<long long>(n), static_cast<long long>(r));
    if ((st = debora::check_ptr(op, "U", U)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "G", G)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "out", out)) != DEBORA_OK) return st;
    const int64_t bytes = nr * 4;
    if (dn::overlaps(out, bytes, U, bytes))
      return debora::fail(DEBORA_INVALID_ARG, "%s: expected a buffer that does not overlap 'U' for argument 'out', "
                          "received an overlapping one", op);
    if (out != G && dn::overlaps(out, bytes, G, bytes))
      return debora::fail(DEBORA_INVALID_ARG, "%s: expected either 'G' itself or a buffer that does not overlap it "
                          "for argument 'out', received a partly overlapping one", op);
    if (dn::overlaps(dots, r * 4, U, bytes) || dn::overlaps(dots, r * 4, G, bytes) ||
        dn::overlaps(dots, r * 4, out, bytes))
      return debora::fail(DEBORA_INVALID_ARG, "%s: expected a buffer that does not overlap 'U', 'G' or 'out' for "
                          "argument 'dots', received an overlapping one", op);
    if ((st = dn::check_finite_fast(op, "U", U, nr)) != DEBORA_OK) return st;
    if ((st = dn::check_finite_fast(op, "G", G, nr)) != DEBORA_OK) return st;

    const Kernels K = active_kernels();
    std::vector<double> acc(static_cast<size_t>(r), 0.0);
    if (geom == DEBORA_GEOM_EUCLIDEAN) {
      if (out != G) std::memcpy(out, G, static_cast<size_t>(bytes));
      if (dots != nullptr) {
        const Chunks ch = make_chunks(n, r);
        std::vector<double> parts(static_cast<size_t>(ch.count * r), 0.0);
        for_chunks(ch, n, [&](int64_t c, int64_t j0, int64_t j1) { K.col_dots(j0, j1, r, U, G, &parts[c * r]); });
        sum_parts(parts, ch.count, r, acc.data());
      }
    } else if (geom == DEBORA_GEOM_OBLIQUE) {
      const Chunks ch = make_chunks(n, r);
      std::vector<double> parts(static_cast<size_t>(ch.count * r), 0.0), c(static_cast<size_t>(r));
      for_chunks(ch, n, [&](int64_t k, int64_t j0, int64_t j1) { K.col_dots(j0, j1, r, U, G, &parts[k * r]); });
      sum_parts(parts, ch.count, r, c.data());
      std::fill(parts.begin(), parts.end(), 0.0);
      for_chunks(ch, n, [&](int64_t k, int64_t j0, int64_t j1) {
        K.oblique(j0, j1, r, U, G, c.data(), out, &parts[k * r]);
      });
      sum_parts(parts, ch.count, r, acc.data());
    } else {
      const Chunks ch = make_chunks(n, r * r);
      const int64_t rd = (r + 7) / 8 * 8;
      const size_t rr = static_cast<size_t>(rd * rd);
      std::vector<double> parts(ch.count * rr, 0.0), S(rr);
      for_chunks(ch, n, [&](int64_t k, int64_t j0, int64_t j1) { K.gram(j0, j1, r, rd, U, G, &parts[k * rr]); });
      sum_parts(parts, ch.count, static_cast<int64_t>(rr), S.data());
      for (int64_t a = 0; a < rd; ++a)  // symmetrise in place: S = (M + M^T) / 2
        for (int64_t b = a + 1; b < rd; ++b) {
          const double v = debora::sym_entry(S[a * rd + b], S[b * rd + a]);
          S[a * rd + b] = v;
          S[b * rd + a] = v;
        }
      std::vector<double> dparts(static_cast<size_t>(ch.count * rd), 0.0);
      for_chunks(ch, n, [&](int64_t k, int64_t j0, int64_t j1) {
        K.stiefel(j0, j1, r, rd, U, G, S.data(), out, &dparts[k * rd]);
      });
      std::vector<double> dsum(static_cast<size_t>(rd));
      sum_parts(dparts, ch.count, rd, dsum.data());
      std::copy(dsum.begin(), dsum.begin() + r, acc.begin());
    }
    if (dots != nullptr)
      for (int64_t i = 0; i < r; ++i) dots[i] = debora::accumulate_dot(dots[i], acc[i]);
    return DEBORA_OK;
  });
}
