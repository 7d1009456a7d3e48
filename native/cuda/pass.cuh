/* pass.cuh — the one streaming kernel behind every large product of the CUDA adapter ops
 * (cp_linear, cp_conv2d, cp_materialize, cp_mttkrp). A "pass" walks a row-major matrix A once
 * (rows x cols, e.g. X, dY, G) and/or writes one O (e.g. Y, dX), with the rank-r operands small:
 *   P  P[row, i]  = sum_{col in tile} A[row, col] Bp[col, i]   (e.g. Z = X V, T = dY U; partial per
 *                                                                column tile, summed by the caller)
 *   Q  Q[col, i] += sum_{row in chunk} A[row, col] E[row, i]   (e.g. dU = dY^T Zs; partial per row chunk)
 *   O  O[row, col] (+)= sum_i E2[row, i] Bo[col, i]            (e.g. Y = Zs U^T, dX = Ts V^T)
 * in any combination, so each large matrix crosses memory once per call (cp_linear's backward reads
 * dY for T and dU together). Each thread owns TK consecutive columns and keeps Bp/Bo/Q for them in
 * registers; rows stream through a 3-stage cp.async pipeline in shared memory (each thread copies
 * exactly the A elements it later reads; only the shared E rows need the block barrier). P sums over
 * the columns of a warp with a transposing butterfly (RT-1 + 5-log2(RT) shuffles for RT sums) and
 * over the warps in shared memory, in a fixed order: results are bitwise repeatable on one device.
 * The rank is processed in tiles of RT in {8, 16, 32} (TK*RT = 64 registers per operand); any r
 * works (tiles are passes; the padding ranks carry zeros). Needs sm_80+ (cp.async).
 * Included by native/cuda/<op>.cu (internal linkage); tested through test/gpu/parity.cpp. */
#ifndef DEBORA_CUDA_PASS_CUH
#define DEBORA_CUDA_PASS_CUH

#include <algorithm>
#include <cstdint>
#include <vector>

#include "context.h"

namespace debora {
namespace cuda {
namespace {

constexpr int kStages = 3;     // pipeline depth: two stages of loads in flight while one computes
constexpr int kMaxWarps = 8;   // 256 threads per block at most
constexpr int kMaxRt = 32;

__host__ __device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

struct PassDesc {
  int64_t rows = 0, cols = 0;  // of A / O, per batch item
  int64_t batch = 1;
  int64_t chunk_rows = 0;      // rows per row chunk (a multiple of G)
  int64_t n_rc = 1, n_ct = 1;  // row chunks, column tiles (of nthreads * TK columns)
  int G = 4;                   // rows per pipeline stage
  int nr = 0;                  // valid ranks of this tile (<= RT); the rest are padding. Every
                               // operand below is already offset to the tile's first rank.
  /* A[batch * a_b + row * lda + col]; a_vec: rows may be copied in TK-wide vectors (aligned). */
  const float* A = nullptr;
  int64_t lda = 0, a_b = 0;
  bool a_vec = false;
  /* Per-column operands, read once per block: Bp(col, i) = Bp[batch * bp_b + col * bp_c + i * bp_i]. */
  const float* Bp = nullptr;
  int64_t bp_c = 0, bp_i = 0, bp_b = 0;
  const float* Bo = nullptr;
  int64_t bo_c = 0, bo_i = 0, bo_b = 0;
  /* Per-row operands, streamed with A: E(row, i) = E[batch * e_b + row * lde + i], i < RT; 16-byte
   * aligned, lde % 4 == 0, zero in the padding ranks [nr, RT). e2_sep: E2 is not E (else E serves O). */
  const float* E = nullptr;
  int64_t lde = 0, e_b = 0;
  const float* E2 = nullptr;
  int64_t lde2 = 0, e2_b = 0;
  bool e2_sep = false;
  /* P partials: P[(batch * n_ct + ct) * p_part + row * ldp + i]. */
  float* P = nullptr;
  int64_t ldp = 0, p_part = 0;
  /* Q (partial per row chunk): Q[rc * q_part + batch * q_b + col * q_c + i * q_i]. */
  float* Q = nullptr;
  int64_t q_c = 0, q_i = 0, q_part = 0, q_b = 0;
  /* O[batch * o_b + row * ldo + col], overwritten or (accumulate) added to; o_vec: vector stores. */
  float* O = nullptr;
  int64_t ldo = 0, o_b = 0;
  bool accumulate = false, o_vec = false;
};

/* ---- cp.async (sm_80+) --------------------------------------------------------------------------
 * src_bytes < N zero-fills the rest of the destination (src_bytes = 0: a pure zero-fill, nothing is
 * read; src still points at valid memory so no tool ever sees a wild address). */
#ifdef DEBORA_CUDA_EMU
template <int N>
__device__ __forceinline__ void cp_async(void* smem, const void* gmem, int src_bytes) {
  ::debora_emu::cp_async(smem, gmem, N, src_bytes);
}
__device__ __forceinline__ void cp_async_commit() { ::debora_emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  ::debora_emu::cp_async_wait(N);
}
#else
template <int N>
__device__ __forceinline__ void cp_async(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  if constexpr (N == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(s), "l"(gmem), "n"(N), "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
#endif

/* Sums v[0..RT) over the 32 lanes of a warp with RT-1 + 5-log2(RT) shuffles instead of 5*RT: each
 * step halves the values a lane keeps (the half its lane bit selects) and adds its partner's copy of
 * them. Lane l ends with the sum for rank index l / (32 / RT) in v[0] (the returned value). */
template <int W, int O, int RT>
__device__ __forceinline__ void transpose_step(float (&v)[RT], int lane) {
  if constexpr (W >= 1) {
    const bool upper = (lane & O) != 0;
#pragma unroll
    for (int j = 0; j < W; ++j) {
      const float send = upper ? v[j] : v[j + W];
      const float keep = upper ? v[j + W] : v[j];
      v[j] = keep + __shfl_xor_sync(0xffffffffu, send, O);
    }
    transpose_step<W / 2, O / 2, RT>(v, lane);
  }
}
template <int RT>
__device__ __forceinline__ float warp_transpose_sum(float (&v)[RT], int lane) {
  transpose_step<RT / 2, 16, RT>(v, lane);
  float x = v[0];
#pragma unroll
  for (int o = 16 / RT; o >= 1; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

template <int RT, bool DO_P, bool DO_Q, bool DO_O>
__global__ void __launch_bounds__(kMaxWarps * 32, 1) pass_kernel(const PassDesc d) {
  constexpr int TK = 64 / RT;              // columns per thread: 8, 4, 2
  constexpr int VEC = TK < 4 ? TK : 4;     // floats per vector copy / load
  constexpr int NP = TK / VEC;             // vector parts per thread and row
  constexpr int LPR = 32 / RT;             // lanes holding each rank's warp sum
  constexpr bool HAS_A = DO_P || DO_Q;
  DEBORA_DYNAMIC_SMEM(float, smem);

  const int nthr = blockDim.x, t = threadIdx.x, lane = t & 31, warp = t >> 5, nw = nthr >> 5;
  int64_t bx = blockIdx.x;
  const int64_t rc = bx % d.n_rc;
  bx /= d.n_rc;
  const int64_t ct = bx % d.n_ct;
  const int64_t batch = bx / d.n_ct;
  const int64_t rbeg = rc * d.chunk_rows;
  const int64_t rend = min64(d.rows, rbeg + d.chunk_rows);
  const int64_t c0 = (ct * nthr + t) * TK;  // this thread's first column
  const int G = d.G;

  /* Stage layout: A (own copies), previous O (own, when accumulating), E rows, E2 rows. A thread's
   * vector part j of row g sits at ((g * NP + j) * nthr + t) * VEC: consecutive lanes read
   * consecutive 16 bytes, free of bank conflicts. */
  const int a_fl = HAS_A ? G * nthr * TK : 0;
  const int o_fl = (DO_O && d.accumulate) ? G * nthr * TK : 0;
  const int e_fl = DO_Q ? G * RT : 0;
  const int e2_fl = (DO_O && d.e2_sep) ? G * RT : 0;
  const int stage_fl = a_fl + o_fl + e_fl + e2_fl;
  float* red = smem + kStages * stage_fl;  // [2][G][nw][RT]: per-warp P sums, double-buffered

  const float* Ab = HAS_A ? d.A + batch * d.a_b : nullptr;
  const float* Eb = DO_Q ? d.E + batch * d.e_b : nullptr;
  const float* E2b = (DO_O && d.e2_sep) ? d.E2 + batch * d.e2_b : nullptr;
  float* Ob = DO_O ? d.O + batch * d.o_b : nullptr;

  /* Per-column operands in registers, zero outside the matrix and in the padding ranks. */
  float bp[DO_P ? TK : 1][RT], bo[DO_O ? TK : 1][RT], q[DO_Q ? TK : 1][RT];
#pragma unroll
  for (int k = 0; k < TK; ++k) {
    const int64_t col = c0 + k;
#pragma unroll
    for (int i = 0; i < RT; ++i) {
      const bool ok = col < d.cols && i < d.nr;
      if constexpr (DO_P) bp[k][i] = ok ? d.Bp[batch * d.bp_b + col * d.bp_c + i * d.bp_i] : 0.0f;
      if constexpr (DO_O) bo[k][i] = ok ? d.Bo[batch * d.bo_b + col * d.bo_c + i * d.bo_i] : 0.0f;
      if constexpr (DO_Q) q[k][i] = 0.0f;
    }
  }

  /* Copies this thread's columns of `rows` rows from M (row stride ld) into dst (own layout). */
  auto copy_own = [&](float* dst, const float* M, int64_t ld, int64_t row0, bool vec) {
    for (int g = 0; g < G; ++g) {
      const int64_t row = row0 + g;
      const bool row_ok = row < rend;
#pragma unroll
      for (int j = 0; j < NP; ++j) {
        const int64_t col = c0 + j * VEC;
        float* sp = dst + ((g * NP + j) * nthr + t) * VEC;
        if (vec) {
          const int64_t n = row_ok ? max64(0, min64(VEC, d.cols - col)) : 0;
          cp_async<VEC * 4>(sp, n > 0 ? M + row * ld + col : M, static_cast<int>(n * 4));
        } else {
#pragma unroll
          for (int e = 0; e < VEC; ++e) {
            const bool ok = row_ok && col + e < d.cols;
            cp_async<4>(sp + e, ok ? M + row * ld + col + e : M, ok ? 4 : 0);
          }
        }
      }
    }
  };
  /* Copies the RT ranks of G rows of a per-row operand (block-shared). */
  auto copy_rows = [&](float* dst, const float* M, int64_t ld, int64_t row0) {
    for (int qq = t; qq < G * (RT / 4); qq += nthr) {
      const int g = qq / (RT / 4), part = qq % (RT / 4);
      const int64_t row = row0 + g;
      const bool ok = row < rend;
      cp_async<16>(dst + g * RT + part * 4, ok ? M + row * ld + part * 4 : M, ok ? 16 : 0);
    }
  };
  auto issue = [&](int64_t s, int buf) {
    float* st = smem + buf * stage_fl;
    const int64_t row0 = rbeg + s * G;
    if constexpr (HAS_A) copy_own(st, Ab, d.lda, row0, d.a_vec);
    if constexpr (DO_O) {
      if (d.accumulate) copy_own(st + a_fl, Ob, d.ldo, row0, d.o_vec);
    }
    if constexpr (DO_Q) copy_rows(st + a_fl + o_fl, Eb, d.lde, row0);
    if constexpr (DO_O) {
      if (d.e2_sep) copy_rows(st + a_fl + o_fl + e_fl, E2b, d.lde2, row0);
    }
  };

  auto compute = [&](int64_t s, int buf, float* rbuf) {
    const float* st = smem + buf * stage_fl;
    const int64_t row0 = rbeg + s * G;
    for (int g = 0; g < G; ++g) {
      const int64_t row = row0 + g;
      if (row >= rend) break;  // uniform over the block
      float a[TK];
      if constexpr (HAS_A) {
#pragma unroll
        for (int j = 0; j < NP; ++j) {
          const float* sp = st + ((g * NP + j) * nthr + t) * VEC;
          if constexpr (VEC == 4) {
            const float4 v = *reinterpret_cast<const float4*>(sp);
            a[j * 4 + 0] = v.x, a[j * 4 + 1] = v.y, a[j * 4 + 2] = v.z, a[j * 4 + 3] = v.w;
          } else {
            const float2 v = *reinterpret_cast<const float2*>(sp);
            a[j * 2 + 0] = v.x, a[j * 2 + 1] = v.y;
          }
        }
      }
      if constexpr (DO_P) {
        float p[RT];
#pragma unroll
        for (int i = 0; i < RT; ++i) p[i] = 0.0f;
#pragma unroll
        for (int k = 0; k < TK; ++k)
#pragma unroll
          for (int i = 0; i < RT; ++i) p[i] = fmaf(a[k], bp[k][i], p[i]);
        const float v = warp_transpose_sum<RT>(p, lane);
        if ((lane & (LPR - 1)) == 0) rbuf[(g * nw + warp) * RT + lane / LPR] = v;
      }
      const float* e = st + a_fl + o_fl + g * RT;  // E rows (also E2's when !e2_sep)
      if constexpr (DO_Q) {
        float ev[RT];
#pragma unroll
        for (int i = 0; i < RT; i += 4) {
          const float4 v = *reinterpret_cast<const float4*>(e + i);
          ev[i] = v.x, ev[i + 1] = v.y, ev[i + 2] = v.z, ev[i + 3] = v.w;
        }
#pragma unroll
        for (int k = 0; k < TK; ++k)
#pragma unroll
          for (int i = 0; i < RT; ++i) q[k][i] = fmaf(a[k], ev[i], q[k][i]);
      }
      if constexpr (DO_O) {
        const float* e2 = d.e2_sep ? st + a_fl + o_fl + e_fl + g * RT : e;
        float ev[RT];
#pragma unroll
        for (int i = 0; i < RT; i += 4) {
          const float4 v = *reinterpret_cast<const float4*>(e2 + i);
          ev[i] = v.x, ev[i + 1] = v.y, ev[i + 2] = v.z, ev[i + 3] = v.w;
        }
        float o[TK];
#pragma unroll
        for (int k = 0; k < TK; ++k) o[k] = 0.0f;
        if (d.accumulate) {
#pragma unroll
          for (int j = 0; j < NP; ++j)
#pragma unroll
            for (int k = 0; k < VEC; ++k) o[j * VEC + k] = st[a_fl + ((g * NP + j) * nthr + t) * VEC + k];
        }
#pragma unroll
        for (int k = 0; k < TK; ++k)
#pragma unroll
          for (int i = 0; i < RT; ++i) o[k] = fmaf(ev[i], bo[k][i], o[k]);
        float* orow = Ob + row * d.ldo;
        if (d.o_vec && c0 + TK <= d.cols) {
#pragma unroll
          for (int j = 0; j < NP; ++j) {
            if constexpr (VEC == 4)
              *reinterpret_cast<float4*>(orow + c0 + j * 4) = make_float4(o[j * 4], o[j * 4 + 1], o[j * 4 + 2], o[j * 4 + 3]);
            else
              *reinterpret_cast<float2*>(orow + c0 + j * 2) = make_float2(o[j * 2], o[j * 2 + 1]);
          }
        } else {
#pragma unroll
          for (int k = 0; k < TK; ++k)
            if (c0 + k < d.cols) orow[c0 + k] = o[k];
        }
      }
    }
  };

  /* The warp sums of a stage, summed over warps in order and written as this column tile's partial. */
  float* Pb = DO_P ? d.P + (batch * d.n_ct + ct) * d.p_part : nullptr;
  auto flush_p = [&](int64_t s, const float* rbuf) {
    const int64_t row0 = rbeg + s * G;
    for (int qq = t; qq < G * RT; qq += nthr) {
      const int g = qq / RT, i = qq % RT;
      const int64_t row = row0 + g;
      if (row < rend && i < d.nr) {
        float sum = 0.0f;
        for (int w = 0; w < nw; ++w) sum += rbuf[(g * nw + w) * RT + i];
        Pb[row * d.ldp + i] = sum;
      }
    }
  };

  const int64_t n_stages = rend > rbeg ? (rend - rbeg + G - 1) / G : 0;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < n_stages) issue(s, s);
    cp_async_commit();  // empty groups keep the group count uniform
  }
  for (int64_t it = 0; it < n_stages; ++it) {
    cp_async_wait<kStages - 2>();  // this thread's copies of stage `it` have landed
    __syncthreads();               // everyone's have; everyone is done with stage it-1's buffer
    if constexpr (DO_P) {
      if (it > 0) flush_p(it - 1, red + ((it - 1) & 1) * G * nw * RT);
    }
    if (it + kStages - 1 < n_stages) issue(it + kStages - 1, static_cast<int>((it + kStages - 1) % kStages));
    cp_async_commit();
    compute(it, static_cast<int>(it % kStages), red + (it & 1) * G * nw * RT);
  }
  cp_async_wait<0>();
  if constexpr (DO_P) {
    if (n_stages > 0) {
      __syncthreads();
      flush_p(n_stages - 1, red + ((n_stages - 1) & 1) * G * nw * RT);
    }
  }
  if constexpr (DO_Q) {
    float* Qb = d.Q + rc * d.q_part + batch * d.q_b;
#pragma unroll
    for (int k = 0; k < TK; ++k) {
      const int64_t col = c0 + k;
      if (col < d.cols) {
#pragma unroll
        for (int i = 0; i < RT; ++i)
          if (i < d.nr) Qb[col * d.q_c + i * d.q_i] = q[k][i];
      }
    }
  }
}

/* ---- host side ------------------------------------------------------------------------------------ */

/* Rank tiles: RT in {8, 16, 32}, the smallest that covers what is left (at most 32), one pass each.
 * The padded rank rpad (the row stride of per-row operands) is the end of the last tile. */
struct RankTiles {
  std::vector<int> i0, rt;
  int64_t rpad = 0;
  explicit RankTiles(int64_t r) {
    int64_t i = 0;
    while (i < r) {
      const int64_t rem = r - i;
      const int t = rem <= 8 ? 8 : rem <= 16 ? 16 : 32;
      i0.push_back(static_cast<int>(i));
      rt.push_back(t);
      i += t;
    }
    rpad = i;
  }
  size_t size() const { return i0.size(); }
};
/* Ranks the CUDA ops accept: the rank index is an int in the kernels. */
constexpr int64_t kMaxCudaRank = int64_t{1} << 24;

/* The launch shape of a pass over rows x cols (x batch) for rank tile RT. max_rc = 1 asks for
 * complete Q (no row chunks); rows == 0 still gives one chunk (Q is written as zeros). */
struct PassPlan {
  int nthreads = 32;
  size_t smem = 0;
};
inline PassPlan plan_pass(const Ctx* c, int RT, PassDesc* d, bool has_a, bool do_q, bool do_o, int64_t max_rc) {
  const int TK = 64 / RT;
  const int64_t want_threads = (d->cols + TK - 1) / TK;
  const int nw = static_cast<int>(std::min<int64_t>(kMaxWarps, std::max<int64_t>(1, (want_threads + 31) / 32)));
  PassPlan p;
  p.nthreads = nw * 32;
  d->n_ct = std::max<int64_t>(1, (d->cols + int64_t{p.nthreads} * TK - 1) / (int64_t{p.nthreads} * TK));
  /* Four rows per stage; fewer when the stages would not fit the opt-in shared memory. */
  int G = 4;
  for (;;) {
    const size_t stage = (has_a ? size_t(G) * p.nthreads * TK : 0) + (do_o && d->accumulate ? size_t(G) * p.nthreads * TK : 0) +
                         (do_q ? size_t(G) * RT : 0) + (do_o && d->e2_sep ? size_t(G) * RT : 0);
    p.smem = (kStages * stage + 2 * size_t(G) * nw * RT) * sizeof(float);
    if (p.smem <= c->max_smem || G == 1) break;
    G /= 2;
  }
  d->G = G;
  /* Row chunks: enough blocks for about two per multiprocessor, at least 8 stages per chunk. */
  const int64_t others = d->n_ct * d->batch;
  int64_t n_rc = std::max<int64_t>(1, (2 * int64_t{c->sms} + others - 1) / others);
  n_rc = std::min(n_rc, std::max<int64_t>(1, d->rows / (8 * G)));
  n_rc = std::max<int64_t>(1, std::min(n_rc, max_rc));
  int64_t chunk = d->rows > 0 ? (d->rows + n_rc - 1) / n_rc : G;
  chunk = (chunk + G - 1) / G * G;
  d->chunk_rows = chunk;
  d->n_rc = d->rows > 0 ? (d->rows + chunk - 1) / chunk : 1;
  return p;
}

template <int RT, bool DO_P, bool DO_Q, bool DO_O>
debora_status launch_pass_rt(const char* op, Ctx* c, const PassDesc& d, const PassPlan& p) {
  auto kernel = pass_kernel<RT, DO_P, DO_Q, DO_O>;
  const int64_t blocks = d.n_rc * d.n_ct * d.batch;
  if (blocks > int64_t{0x7fffffff})
    return fail(DEBORA_INVALID_ARG, "%s: the problem needs %lld thread blocks, more than one launch allows", op,
                static_cast<long long>(blocks));
  if (p.smem > (48u << 10)) {
    DEBORA_CUDA_TRY(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(p.smem)));
  }
  DEBORA_LAUNCH(kernel, static_cast<unsigned>(blocks), p.nthreads, p.smem, c->stream)(d);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* Fills the launch shape of *d (n_ct, n_rc, chunk_rows, G) for rank tile RT: callers plan a copy
 * first to size their partial buffers (the plan depends on sizes and flags only, never on pointers).
 * d->e2_sep must be set by the caller when DO_Q and DO_O (true unless E2 is E). */
template <bool DO_P, bool DO_Q, bool DO_O>
PassPlan prepare_pass(const Ctx* c, PassDesc* d, int RT, int64_t max_rc) {
  constexpr bool HAS_A = DO_P || DO_Q;
  if (!DO_O) d->e2_sep = false;
  if (DO_O && !DO_Q) d->e2_sep = true;  // without Q there are no E rows to share
  if (!DO_O) d->accumulate = false;
  const int TK = 64 / RT, VEC = TK < 4 ? TK : 4;
  auto aligned = [&](const float* p, int64_t ld, int64_t bstride) {
    return p != nullptr && reinterpret_cast<uintptr_t>(p) % (VEC * 4) == 0 && ld % VEC == 0 && bstride % VEC == 0;
  };
  d->a_vec = HAS_A && aligned(d->A, d->lda, d->a_b);
  d->o_vec = DO_O && aligned(d->O, d->ldo, d->o_b);
  return plan_pass(c, RT, d, HAS_A, DO_Q, DO_O, max_rc);
}

template <bool DO_P, bool DO_Q, bool DO_O>
PassDesc planned(const Ctx* c, PassDesc d, int RT, int64_t max_rc) {
  prepare_pass<DO_P, DO_Q, DO_O>(c, &d, RT, max_rc);
  return d;
}

/* Plans (into *d) and launches one rank tile on the context's stream. */
template <bool DO_P, bool DO_Q, bool DO_O>
debora_status run_pass(const char* op, Ctx* c, PassDesc* d, int RT, int64_t max_rc) {
  const PassPlan p = prepare_pass<DO_P, DO_Q, DO_O>(c, d, RT, max_rc);
  switch (RT) {
    case 8: return launch_pass_rt<8, DO_P, DO_Q, DO_O>(op, c, *d, p);
    case 16: return launch_pass_rt<16, DO_P, DO_Q, DO_O>(op, c, *d, p);
    case 32: return launch_pass_rt<32, DO_P, DO_Q, DO_O>(op, c, *d, p);
    default: return fail(DEBORA_INTERNAL, "%s: rank tile %d is not one of 8, 16, 32", op, RT);
  }
}

constexpr int64_t kAnyChunks = int64_t{1} << 40;

}  // namespace
}  // namespace cuda
}  // namespace debora

#endif
