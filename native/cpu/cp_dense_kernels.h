/* cp_dense_kernels.h — bodies of the dense-route ops cp_materialize and cp_mttkrp, written once against a
 * vector traits type `V` (cp_dense_simd.h). NO include guard on purpose: each op file includes it once per
 * SIMD level, inside `namespace <level> { using V = <Traits>; ... }` and that level's GCC target region, so
 * the same code becomes scalar, AVX2 and AVX-512 machine code. Requires cp_dense_common.h, thread_pool.h.
 * Algorithms and layouts: docs/kernels-dense.md. Tested in test/native/cp_dense.test.ts and
 * test/native/driver_cp_dense.cpp (which also builds it with an emulated 16-wide vector). */

constexpr int64_t W = V::W;
using vec = V::vec;

/* Below this many multiply-adds a call is not cut into chunks: waking a worker costs microseconds (milliseconds
 * when the other core is busy: measured here), as much as the whole 64x64x3x3 r=8 case (PEERS.md: small kernels
 * are call-bound). cp_mttkrp may still run its two products on two threads there (run_mttkrp_roles). */
constexpr int64_t kParallelMinWork = int64_t{1} << 20;
/* Multiply-adds per parallel chunk at least, so a chunk outweighs its dispatch and its partial buffer. */
constexpr int64_t kWorkPerChunk = int64_t{1} << 18;

/* ---- the micro-kernel ----------------------------------------------------------------------------------
 * C[m, v*W .. v*W+W) (+)= sum_k a[m*am + k*ak] * b[k*bk + v*W ..], for m < MR, v < NV: MR broadcasts and NV
 * vector loads feed MR*NV independent FMA chains per step of k (MR*NV <= 12 keeps them in 16 registers with
 * room for the operands). Strides make one kernel serve every product below:
 *   materialize  out[p, q]  = sum_i  A[p, i] Bt[i, q]      (a: packed rows of A, b: packed columns of Bt)
 *   mttkrp       Y[p, i]   += sum_q  G[p, q] B[q, i]       (a: rows of G, broadcast along q)
 *                Z[q, i]   += sum_p  G[p, q] A[p, i]       (a: columns of G, broadcast along p) */
template <int MR, int NV, bool kAccumulate>
inline void mk(int64_t K, const float* __restrict a, int64_t am, int64_t ak, const float* __restrict b, int64_t bk,
               float* __restrict c, int64_t cm) {
  vec acc[MR][NV];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) acc[m][v] = kAccumulate ? V::load(c + m * cm + v * W) : V::zero();
  for (int64_t k = 0; k < K; ++k) {
    vec bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + k * bk + v * W);
    for (int m = 0; m < MR; ++m) {
      const vec av = V::set1(a[m * am + k * ak]);
      for (int v = 0; v < NV; ++v) acc[m][v] = V::fma(av, bv[v], acc[m][v]);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) V::store(c + m * cm + v * W, acc[m][v]);
}

/* Rows per micro-kernel call for NV vectors of columns: MR*NV <= 12 accumulators. */
constexpr int rows_for(int nv) { return nv == 1 ? 8 : nv == 2 ? 6 : nv == 3 ? 4 : 3; }

/* C[0..M) rows, NV vectors wide, += over K: full micro-tiles, then the few leftover rows one at a time (one
 * instantiation per NV instead of one per leftover count: they are a small share of any large call). */
template <int NV>
inline void gemm_acc_nv(int64_t M, int64_t K, const float* a, int64_t am, int64_t ak, const float* b, int64_t bk,
                        float* c, int64_t cm) {
  constexpr int R = rows_for(NV);
  int64_t m = 0;
  for (; m + R <= M; m += R) mk<R, NV, true>(K, a + m * am, am, ak, b, bk, c + m * cm, cm);
  for (; m < M; ++m) mk<1, NV, true>(K, a + m * am, am, ak, b, bk, c + m * cm, cm);
}

/* C (M x nvec*W, row stride cm) += sum_k a(m, k) b(k, :), in column groups of up to 4 vectors. */
inline void gemm_acc(int64_t nvec, int64_t M, int64_t K, const float* a, int64_t am, int64_t ak, const float* b,
                     int64_t bk, float* c, int64_t cm) {
  if (M <= 0 || K <= 0) return;
  for (int64_t v0 = 0; v0 < nvec; v0 += 4) {
    const int64_t nv = std::min<int64_t>(4, nvec - v0);
    const float* bb = b + v0 * W;
    float* cc = c + v0 * W;
    switch (nv) {
      case 1: gemm_acc_nv<1>(M, K, a, am, ak, bb, bk, cc, cm); break;
      case 2: gemm_acc_nv<2>(M, K, a, am, ak, bb, bk, cc, cm); break;
      case 3: gemm_acc_nv<3>(M, K, a, am, ak, bb, bk, cc, cm); break;
      default: gemm_acc_nv<4>(M, K, a, am, ak, bb, bk, cc, cm); break;
    }
  }
}

/* ---- rows of Khatri-Rao products ---------------------------------------------------------------------------
 * Factors are used through copies padded to rp = r rounded up to W (zero columns) so every row operation is
 * whole vectors. */

/* out (n x rp, n = prod of dims[k0..k1)) = the Khatri-Rao product of modes [k0, k1), row-major (last mode
 * fastest): out[(i_k0, ..., i_{k1-1}), :] = prod_k Up[k][i_k, :]. Built from the last mode backwards in place
 * at the end of out, one vector multiply per vector of output: the block for mode k's last index is the
 * previous block itself (scaled in place, after the blocks before it, which do not overlap it, are written). */
inline void build_kr(const int64_t* dims, const float* const* Up, int64_t rp, int k0, int k1, float* out) {
  int64_t n = 1;
  for (int k = k0; k < k1; ++k) n *= dims[k];
  int64_t len = dims[k1 - 1];
  std::memcpy(out + (n - len) * rp, Up[k1 - 1], sizeof(float) * static_cast<size_t>(len * rp));
  for (int k = k1 - 2; k >= k0; --k) {
    const float* src = out + (n - len) * rp;
    float* dst = out + (n - dims[k] * len) * rp;
    for (int64_t ik = 0; ik < dims[k]; ++ik) {
      const float* u = Up[k] + ik * rp;
      float* blk = dst + ik * len * rp;
      for (int64_t j = 0; j < len; ++j)
        for (int64_t v = 0; v < rp; v += W)
          V::store(blk + j * rp + v, V::mul(V::load(u + v), V::load(src + j * rp + v)));
    }
    len *= dims[k];
  }
}

/* dst[0..rp) = src[0..r) and zeros, r <= rp (a multiple of W): whole and partial vector loads, one store each. */
inline void pad_row(const float* __restrict src, int64_t r, int64_t rp, float* __restrict dst) {
  for (int64_t v = 0; v < rp; v += W)
    V::store(dst + v, v + W <= r ? V::load(src + v) : v < r ? V::load_first(src + v, r - v) : V::zero());
}

/* Up[k] = factors[k] padded to rp columns (or the factor itself when r = rp), and s padded likewise, carved
 * from ws; returns the first unused float of ws. */
inline float* pad_inputs(const Shape& sh, const float* const* U, const float* s, int64_t rp, const float** Up,
                         float** spad, float* ws) {
  const int64_t r = sh.r;
  for (int k = 0; k < sh.d; ++k) {
    if (rp == r) {
      Up[k] = U[k];
      continue;
    }
    float* dst = ws;
    ws += sh.dims[k] * rp;
    for (int64_t j = 0; j < sh.dims[k]; ++j) pad_row(U[k] + j * r, r, rp, dst + j * rp);
    Up[k] = dst;
  }
  *spad = ws;
  pad_row(s, r, rp, ws);
  return ws + rp;
}

inline int64_t padded_size(const Shape& sh, int64_t rp) {
  int64_t n = rp;
  if (rp != sh.r)
    for (int k = 0; k < sh.d; ++k) n += sh.dims[k] * rp;
  return n;
}

/* ---- cp_materialize -------------------------------------------------------------------------------------
 * out (P x Q) = (A diag(s)) Bt with A = KR(leading modes) (P x r) and Bt = KR(trailing modes)^T (r x Q): a GEMM
 * with inner dimension r. Both operands are packed once per call: A diag(s) in MR-row groups (i-major within a
 * group), Bt in NR-column tiles (zero beyond Q). Each output element is written once and never read. */
constexpr int kMatMR = 6;
constexpr int kMatNV = 2;
constexpr int64_t kMatNR = kMatNV * W;
constexpr int64_t kMatRowBlock = 8 * kMatMR;                                       /* rows per unit of work */
constexpr int64_t kMatColPanel = std::max<int64_t>(kMatNR, 256 / kMatNR * kMatNR); /* columns per unit */

inline void run_materialize(const Shape& sh, const float* const* U, const float* s, float* out) {
  const int64_t r = sh.r, P = sh.P, Q = sh.Q, rp = round_up(r, W);
  const int64_t n_groups = (P + kMatMR - 1) / kMatMR, Qp = round_up(Q, kMatNR);
  float* ws = scratch(0, static_cast<size_t>(padded_size(sh, rp) + n_groups * kMatMR * r + Qp * r +
                                             std::max(P, Q) * rp));
  const float* Up[kMaxOrder];
  float* spad = nullptr;
  float* Apack = pad_inputs(sh, U, s, rp, Up, &spad, ws);
  float* Bpack = Apack + n_groups * kMatMR * r;
  float* kr = Bpack + Qp * r; /* Khatri-Rao rows of a side with several modes, before packing */

  /* Apack[(g r + i) MR + m] = s_i A[g MR + m, i] (zero rows past P) */
  const float* A = Up[0];
  if (sh.t > 1) {
    build_kr(sh.dims, Up, rp, 0, sh.t, kr);
    A = kr;
  }
  std::memset(Apack + (n_groups - 1) * kMatMR * r, 0, sizeof(float) * static_cast<size_t>(kMatMR * r));
  for (int64_t p = 0; p < P; ++p) {
    float* dst = Apack + (p / kMatMR) * r * kMatMR + p % kMatMR;
    for (int64_t i = 0; i < r; ++i) dst[i * kMatMR] = spad[i] * A[p * rp + i];
  }
  /* Bpack[(j r + i) NR + c] = Bt[i, j NR + c]: each NR-column tile's r x NR block is contiguous. */
  const float* B = Up[sh.d - 1];
  if (sh.d - sh.t > 1) {
    build_kr(sh.dims, Up, rp, sh.t, sh.d, kr);
    B = kr;
  }
  std::memset(Bpack + (Qp - kMatNR) * r, 0, sizeof(float) * static_cast<size_t>(kMatNR * r));
  for (int64_t j = 0; j < Qp / kMatNR; ++j) {
    const int64_t cols = std::min<int64_t>(kMatNR, Q - j * kMatNR);
    const float* src = B + j * kMatNR * rp;
    float* dst = Bpack + j * r * kMatNR;
    for (int64_t i = 0; i < r; ++i)
      for (int64_t c = 0; c < cols; ++c) dst[i * kMatNR + c] = src[c * rp + i];
  }

  const int64_t n_rb = (P + kMatRowBlock - 1) / kMatRowBlock, n_cp = (Q + kMatColPanel - 1) / kMatColPanel;
  auto units = [&](int64_t b, int64_t e) {
    alignas(64) float tmp[kMatMR * kMatNR];
    for (int64_t u = b; u < e; ++u) {
      const int64_t rb = u / n_cp, cp = u % n_cp;
      const int64_t p1 = std::min(P, (rb + 1) * kMatRowBlock), q1 = std::min(Q, (cp + 1) * kMatColPanel);
      for (int64_t p = rb * kMatRowBlock; p < p1; p += kMatMR) {
        const int64_t rows = std::min<int64_t>(kMatMR, p1 - p);
        const float* ap = Apack + (p / kMatMR) * r * kMatMR;
        for (int64_t q = cp * kMatColPanel; q < q1; q += kMatNR) {
          const int64_t cols = std::min<int64_t>(kMatNR, Q - q);
          const float* bt = Bpack + (q / kMatNR) * r * kMatNR;
          if (rows == kMatMR && cols == kMatNR) {
            mk<kMatMR, kMatNV, false>(r, ap, 1, kMatMR, bt, kMatNR, out + p * Q + q, Q);
          } else {
            mk<kMatMR, kMatNV, false>(r, ap, 1, kMatMR, bt, kMatNR, tmp, kMatNR);
            for (int64_t m = 0; m < rows; ++m)
              std::memcpy(out + (p + m) * Q + q, tmp + m * kMatNR, sizeof(float) * static_cast<size_t>(cols));
          }
        }
      }
    }
  };
  if (sh.N * r < kParallelMinWork || pool_size() == 1) units(0, n_rb * n_cp);
  else parallel_for(n_rb * n_cp, 1, units);
}

/* ---- cp_mttkrp -------------------------------------------------------------------------------------------
 * With A = KR(leading modes) (P x rp) and B = KR(trailing modes) (Q x rp):  Y = G B  (P x rp)  and
 * Z = G^T A  (Q x rp), computed together tile by tile so each tile of G comes from memory once and is reused
 * from cache by both products. Everything else is O((P + Q) r d): a leading mode's gradient sums rows of
 * s . Y times the other leading factors, a trailing mode's sums rows of s . Z; ds_i = sum_p Y[p,i] A[p,i]. */
constexpr int64_t kTileRows = 48; /* rows of G per tile (the K of the Z product); a multiple of 3, 4, 6 and 8 */
constexpr int64_t kTileCols = 64; /* columns of G per tile: G tile 12 KiB, B and Z slices 64 x rp: L1-sized */

/* Which of the two products a block computes: both (one pass over G) or one of them (the two-role path below). */
constexpr int kProdY = 1, kProdZ = 2, kProdYZ = 3;

inline void mttkrp_block(int64_t rp, int64_t Q, const float* G, const float* A, const float* B, int64_t p0,
                         int64_t p1, int64_t q0, int64_t q1, float* Y, float* Z, int prods = kProdYZ) {
  const int64_t nvec = rp / W;
  /* A short last tile takes the leftover along (tiles up to twice the size) rather than run on its own. */
  for (int64_t qb = q0, qe; qb < q1; qb = qe) {
    qe = q1 - qb < 2 * kTileCols ? q1 : qb + kTileCols;
    for (int64_t pb = p0, pe; pb < p1; pb = pe) {
      pe = p1 - pb < 2 * kTileRows ? p1 : pb + kTileRows;
      const float* g = G + pb * Q + qb;
      if (prods & kProdY) gemm_acc(nvec, pe - pb, qe - qb, g, Q, 1, B + qb * rp, rp, Y + pb * rp, rp);
      if (prods & kProdZ) gemm_acc(nvec, qe - qb, pe - pb, g, 1, Q, A + pb * rp, rp, Z + qb * rp, rp);
    }
  }
}

/* ---- cp_mttkrp for small ranks: vectorised along q -------------------------------------------------------
 * With r well below the vector width (r = 8 under AVX-512 fills half of each rank vector) the kernels above
 * waste lanes, and with a single rank vector every FMA also needs its own broadcast. Here the vectors run
 * along the columns q of G instead, in groups of kQR ranks (r padded to rq, a multiple of kQR, <= rp):
 *   Y[p, i]  += sum_q G[p, q-vector] . Bt[i, q-vector], reduced across lanes at the end of each tile (yq);
 *   Zt[i, q] += sum_p A[p, i] G[p, q-vector], broadcast along the rank, into Zt (rq x columns) (zq),
 * kQMR x kQR and kQR x kQNV accumulators: 3 + 8 loads per 24 FMAs under AVX-512, every lane used. Bt is B
 * transposed (rq x Q, zero rows past r); Zt is added into Z (q x rp) once per block. Only whole vectors of
 * columns go this way; the last Q mod W columns of a block take the rank-vectorised mttkrp_block. */
constexpr int kQR = V::kQR > 0 ? V::kQR : 1; /* array bounds for ScalarTraits, which never takes this path */
/* Columns per tile: one lane reduction per 64 vectors. The G tile (48 rows) is then 96 KiB under AVX2 and 192 KiB
 * under AVX-512: L2, not L1; yq streams 3 rows of it, zq a 48-row strip of 3 vectors. */
constexpr int64_t kQTileCols = 64 * W;

template <int MR>
inline void yq(int64_t nv, const float* __restrict g, int64_t ldg, const float* __restrict bt, int64_t ldb,
               float* __restrict y, int64_t ldy) {
  vec acc[MR][kQR];
  for (int m = 0; m < MR; ++m)
    for (int i = 0; i < kQR; ++i) acc[m][i] = V::zero();
  for (int64_t v = 0; v < nv; ++v) {
    vec gv[MR];
    for (int m = 0; m < MR; ++m) gv[m] = V::load(g + m * ldg + v * W);
    for (int i = 0; i < kQR; ++i) {
      vec b = V::load(bt + i * ldb + v * W);
      V::in_register(b);
      for (int m = 0; m < MR; ++m) acc[m][i] = V::fma(gv[m], b, acc[m][i]);
    }
  }
  for (int m = 0; m < MR; ++m) V::hsum_add(acc[m], y + m * ldy);
}

/* zt is written (first = true: the block's first row tile) or added to. */
template <int NQ>
inline void zq(int64_t K, const float* __restrict g, int64_t ldg, const float* __restrict a, int64_t lda,
               float* __restrict zt, int64_t ldz, bool first) {
  vec acc[kQR][NQ];
  for (int i = 0; i < kQR; ++i)
    for (int v = 0; v < NQ; ++v) acc[i][v] = first ? V::zero() : V::load(zt + i * ldz + v * W);
  for (int64_t k = 0; k < K; ++k) {
    vec gv[NQ];
    for (int v = 0; v < NQ; ++v) gv[v] = V::load(g + k * ldg + v * W);
    for (int i = 0; i < kQR; ++i) {
      const vec av = V::set1(a[k * lda + i]);
      for (int v = 0; v < NQ; ++v) acc[i][v] = V::fma(av, gv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < kQR; ++i)
    for (int v = 0; v < NQ; ++v) V::store(zt + i * ldz + v * W, acc[i][v]);
}

/* The small-rank path is taken for r <= 8 (under AVX-512 it uses every lane where the rank kernel uses half;
 * under AVX2 one rank vector makes the rank kernel load-bound, 9 loads per 8 FMAs against 7 per 12 here) and
 * rows of 8 vectors at least, long enough to carry the lane reductions. Measured: docs/kernels-dense.md. */
inline bool use_qpath(int64_t r, int64_t Q) { return V::kQR > 0 && r <= 8 && Q >= 8 * W; }

/* As mttkrp_block, for the block rows [p0, p1) x columns [q0, q1), with Bt (rq x Q, row stride Q) and zt
 * scratch of rq * (q1 - q0) floats (rq = r rounded up to kQR). Y and Z are added to, like mttkrp_block. With
 * prods = kProdY, A, Z and zt are not used; with kProdZ, B, Bt and Y are not. */
inline void mttkrp_block_q(int64_t r, int64_t rp, int64_t Q, const float* G, const float* A, const float* B,
                           const float* Bt, int64_t p0, int64_t p1, int64_t q0, int64_t q1, float* Y, float* Z,
                           float* zt, int prods = kProdYZ) {
  if (p1 <= p0) return; /* no rows: zt would never be written by a first row tile (chunks are never empty) */
  const int64_t rq = round_up(r, kQR), qv = q0 + (q1 - q0) / W * W, nq = qv - q0;
  for (int64_t qb = q0, qe; qb < qv; qb = qe) {
    qe = qv - qb < 2 * kQTileCols ? qv : qb + kQTileCols;
    for (int64_t pb = p0, pe; pb < p1; pb = pe) {
      pe = p1 - pb < 2 * kTileRows ? p1 : pb + kTileRows;
      const int64_t nv = (qe - qb) / W;
      for (int64_t i0 = 0; i0 < rq; i0 += kQR) {
        if (prods & kProdY) {
          const float* bt = Bt + i0 * Q + qb;
          int64_t p = pb;
          for (; p + V::kQMR <= pe; p += V::kQMR) yq<V::kQMR>(nv, G + p * Q + qb, Q, bt, Q, Y + p * rp + i0, rp);
          for (; p < pe; ++p) yq<1>(nv, G + p * Q + qb, Q, bt, Q, Y + p * rp + i0, rp);
        }
        if (!(prods & kProdZ)) continue;
        float* z = zt + i0 * nq + (qb - q0);
        const float* g = G + pb * Q + qb;
        const float* a = A + pb * rp + i0;
        int64_t v = 0;
        for (; v + V::kQNV <= nv; v += V::kQNV) zq<V::kQNV>(pe - pb, g + v * W, Q, a, rp, z + v * W, nq, pb == p0);
        for (; v < nv; ++v) zq<1>(pe - pb, g + v * W, Q, a, rp, z + v * W, nq, pb == p0);
      }
    }
  }
  if (prods & kProdZ)
    for (int64_t q = 0; q < nq; q += W)
      for (int64_t i0 = 0; i0 < rq; i0 += kQR) V::transpose_add_out(zt + i0 * nq + q, nq, Z + (q0 + q) * rp + i0, rp);
  if (qv < q1) mttkrp_block(rp, Q, G, A, B, p0, p1, qv, q1, Y, Z, prods);
}

/* Bt (rq x Q) = the first rq columns of B (Q x rp) transposed, for the small-rank path (B's padded columns are
 * zero). */
inline void build_bt(const float* B, int64_t Q, int64_t rp, int64_t rq, float* Bt) {
  int64_t q = 0;
  for (; q + W <= Q; q += W)
    for (int64_t i0 = 0; i0 < rq; i0 += kQR) V::transpose_in(B + q * rp + i0, rp, Bt + i0 * Q + q, Q);
  for (; q < Q; ++q)
    for (int64_t i = 0; i < rq; ++i) Bt[i * Q + q] = B[q * rp + i];
}

/* ds[0..rp) = sum_p Y[p, :] * A[p, :], in a register (through memory each row would wait on the last). */
inline void ds_sum(const float* Y, const float* A, int64_t P, int64_t rp, float* ds) {
  for (int64_t v = 0; v < rp; v += W) {
    vec sum = V::zero();
    for (int64_t p = 0; p < P; ++p) sum = V::fma(V::load(Y + p * rp + v), V::load(A + p * rp + v), sum);
    V::store(ds + v, sum);
  }
}

/* dst[0..n) += sum over parts 1..C-1 of parts[c * stride ..], in part order (deterministic). */
inline void reduce_parts(float* parts, int64_t C, int64_t stride, int64_t n) {
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t c = 1; c < C; ++c) {
      const float* __restrict src = parts + c * stride;
      float* __restrict dst = parts;
      for (int64_t j = b; j < e; j += W) V::store(dst + j, V::add(V::load(dst + j), V::load(src + j)));
    }
  };
  if (C <= 1) return;
  /* n is a multiple of rp, hence of W; chunks of 4096 (a multiple of every W) keep whole vectors. */
  if (n * C < kParallelMinWork / 8) body(0, n);
  else parallel_for(n / 4096 + 1, 1, [&](int64_t b, int64_t e) { body(b * 4096, std::min(n, e * 4096)); });
}

/* True when x[0..n) (n a multiple of W) is all finite: x * 0 is 0 for finite x and NaN otherwise. */
inline bool all_finite(const float* x, int64_t n) {
  vec acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()}; /* four chains: one would wait on FMA latency */
  const vec zero = V::zero();
  int64_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W)
    for (int c = 0; c < 4; ++c) acc[c] = V::fma(V::load(x + j + c * W), zero, acc[c]);
  for (; j < n; j += W) acc[0] = V::fma(V::load(x + j), zero, acc[0]);
  alignas(64) float lanes[W];
  V::store(lanes, V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3])));
  for (int64_t l = 0; l < W; ++l)
    if (lanes[l] != 0.0f) return false;
  return true;
}

/* dots_acc[0..rp) += sum_j U[j, :] * (s * M[j, :]) for n rows of stride rp: the dots of one mode from its padded
 * factor and unscaled gradient. s * M rounds exactly as the gradient written to grads[k] does, so this is the
 * literal <U_k[:, i], grads[k][:, i]>; the sum runs in a register (through memory each row would wait on the last). */
inline void add_dots(const float* U, const float* spad, const float* M, int64_t n, int64_t rp, float* dots_acc) {
  for (int64_t v = 0; v < rp; v += W) {
    const vec sv = V::load(spad + v);
    vec sum = V::zero();
    for (int64_t j = 0; j < n; ++j) sum = V::fma(V::load(U + j * rp + v), V::mul(sv, V::load(M + j * rp + v)), sum);
    V::store(dots_acc + v, V::add(V::load(dots_acc + v), sum));
  }
}

/* dst[0..r) = s[0..r) * m[0..r) (a gradient row out of its padded accumulator): whole and partial vector stores. */
inline void scale_row(const float* __restrict s, const float* __restrict m, int64_t r, float* __restrict dst) {
  int64_t v = 0;
  for (; v + W <= r; v += W) V::store(dst + v, V::mul(V::load(s + v), V::load(m + v)));
  if (v < r) V::store_first(dst + v, V::mul(V::load(s + v), V::load(m + v)), r - v);
}

/* Floats of scratch side_grads needs for a side of n rows (modes [k0, k1)). */
inline int64_t side_work(const Shape& sh, int64_t rp, int64_t n, int k0, int k1) {
  if (k1 - k0 == 1) return 0;
  int64_t sum_n = 0;
  for (int k = k0; k < k1; ++k) sum_n += sh.dims[k];
  return (sum_n + 3 * (n / sh.dims[k0])) * rp;
}

/* Gradients of the modes [k0, k1) from M (n x rp, n = product of those modes, last mode fastest), and each mode's
 * dots added to dots[k] (rp floats; the modes may share one; dots null: none):
 *   grads[k][l, i] = s_i sum_{rows j with idx_k = l} M[j, i] prod_{m in [k0, k1), m != k} U_m[idx_m, i].
 * One mode: a scaled copy. Several: mode by mode from the slowest, each level is the same pair of contractions
 * as the main pass, on the small M:  g_k[l] = sum_q W[l, q] . KR_rest[q]  and  W'[q] = sum_l W[l, q] . U_k[l],
 * then W' (the rest of the modes) goes to the next level. O(n r) in all, accumulators in registers. */
inline void side_grads(const Shape& sh, const float* const* Up, const float* spad, int64_t rp, const float* M,
                       int64_t n, int k0, int k1, float* const* grads, float* work, float* const* dots) {
  const int64_t r = sh.r;
  if (k1 - k0 == 1) {
    for (int64_t j = 0; j < n; ++j) scale_row(spad, M + j * rp, r, grads[k0] + j * r);
    if (dots != nullptr) add_dots(Up[k0], spad, M, n, rp, dots[k0]);
    return;
  }
  float* gacc[kMaxOrder];
  for (int k = k0; k < k1; ++k) {
    gacc[k] = work;
    work += sh.dims[k] * rp;
  }
  const int64_t cap = (n / sh.dims[k0]) * rp;
  float* kr = work;
  float* wbuf[2] = {work + cap, work + 2 * cap};
  const float* Wcur = M;
  int64_t rows = n;
  for (int k = k0; k < k1; ++k) {
    const int64_t nk = sh.dims[k], rest = rows / nk;
    if (k == k1 - 1) {  // rest == 1: the remaining W is this mode's gradient
      std::memcpy(gacc[k], Wcur, sizeof(float) * static_cast<size_t>(nk * rp));
      break;
    }
    build_kr(sh.dims, Up, rp, k + 1, k1, kr);
    float* Wnext = wbuf[(k - k0) & 1];
    std::memset(Wnext, 0, sizeof(float) * static_cast<size_t>(rest * rp));
    for (int64_t l = 0; l < nk; ++l) {
      const float* Wl = Wcur + l * rest * rp;
      for (int64_t v = 0; v < rp; v += W) {
        const vec u = V::load(Up[k] + l * rp + v);
        vec acc = V::zero();
        for (int64_t q = 0; q < rest; ++q) {
          const vec w = V::load(Wl + q * rp + v);
          acc = V::fma(w, V::load(kr + q * rp + v), acc);
          V::store(Wnext + q * rp + v, V::fma(w, u, V::load(Wnext + q * rp + v)));
        }
        V::store(gacc[k] + l * rp + v, acc);
      }
    }
    Wcur = Wnext;
    rows = rest;
  }
  for (int k = k0; k < k1; ++k) {
    for (int64_t l = 0; l < sh.dims[k]; ++l) scale_row(spad, gacc[k] + l * rp, r, grads[k] + l * r);
    if (dots != nullptr) add_dots(Up[k], spad, gacc[k], sh.dims[k], rp, dots[k]);
  }
}

/* The error for a G whose products are not finite (found by checking the small Y and Z, see run_mttkrp): names
 * the first non-finite element of G, or says the values overflow float32. */
inline debora_status non_finite_g(const char* op, const Shape& sh, const float* G) {
  for (int64_t j = 0; j < sh.N; ++j)
    if (!std::isfinite(G[j]))
      return fail(DEBORA_NON_FINITE, "%s: expected finite values for argument 'G', received %s at index %lld", op,
                  std::isnan(G[j]) ? "NaN" : (G[j] > 0 ? "Infinity" : "-Infinity"), static_cast<long long>(j));
  return fail(DEBORA_NON_FINITE, "%s: expected values whose products fit in float32 for argument 'G', received "
              "values that overflow it", op);
}

/* ---- cp_mttkrp on two threads for small G: one product per thread ------------------------------------------
 * Below kParallelMinWork the chunked path in run_mttkrp stays on one thread: cut into chunks, each thread would
 * read what the other has just written (its half of Bt, the Y partials), about 800 cache lines crossing per call
 * at ~0.3 us each here. Cut by product instead, a thread reads only the inputs (G, the factors, s) and writes only
 * its own scratch: role Y computes Y = G B, the leading modes' gradients and ds; role Z computes Z = G^T A and the
 * trailing modes' gradients; each pads the factors and builds the Khatri-Rao rows it needs itself (duplicated
 * O((P + Q) r) work, against half of the O(N r) work saved). G is read by both cores, so only while it fits each
 * core's L2. A role cannot know whether the other's product overflowed, so the gradients are staged (in the
 * caller's scratch: see RoleOut) and the caller writes every output after both checks (only those few rows cross
 * between the cores). Y and Z are tiled
 * as on one thread and the dots are summed mode by mode in the one-thread order: every output is bitwise the
 * one-thread result. Measured (docs/kernels-dense.md): 64x64x3x3, r = 8, 1.20-1.27x; 32x32x3x3, r = 16 (N rp =
 * 2^17.2) 0.92x, hence the lower bound. */
constexpr int64_t kRolesMinWork = int64_t{1} << 18; /* N rp below this: one thread */
constexpr int64_t kRolesMaxG = int64_t{1} << 16;    /* floats of G (256 KiB): both cores keep it in L2 */

/* What a role hands back, in memory the caller owns (its own scratch slot 0): the role's thread-local scratch is
 * the worker's, which may start another job (another caller's) as soon as this one's parallel_for returns. */
struct RoleOut {
  float* stage;            /* in: the role's share of the caller's buffer: role_stage_size floats, 64-byte aligned */
  float* grads[kMaxOrder]; /* out, the role's modes only: dims[k] x r, scaled by s, ready to copy out */
  float* ds;               /* out: rp floats (role Y only) */
  float* dots[kMaxOrder];  /* out, the role's modes only: rp floats each (set, but not filled, without dots) */
  bool finite;             /* out: the role's product was finite; nothing else is filled when it is not */
};

/* Floats a role stages: its modes' gradients, then ds and one dots row per mode, in whole cache lines (so the two
 * roles' shares of the caller's buffer never share a line). */
inline int64_t role_stage_size(const Shape& sh, int64_t rp, bool y) {
  int64_t n = (1 + kMaxOrder) * rp;
  for (int k = y ? 0 : sh.t; k < (y ? sh.t : sh.d); ++k) n += sh.dims[k] * sh.r;
  return round_up(n, 16);
}

inline bool use_roles(const Shape& sh, int64_t rp) {
  return sh.N * rp >= kRolesMinWork && sh.N * rp < kParallelMinWork && sh.N <= kRolesMaxG && pool_size() >= 2;
}

/* One role, y = true (Y and the modes [0, t)) or false (Z and [t, d)). Its temporaries are in the scratch slot of
 * its role (1 or 2) of whichever thread runs it (if one thread runs both, they do not share buffers); its results
 * go to out->stage. */
inline void mttkrp_role(const Shape& sh, const float* const* U, const float* s, const float* G, bool y, bool want_dots,
                        RoleOut* out) {
  const int64_t r = sh.r, rp = round_up(r, W), P = sh.P, Q = sh.Q;
  const int t = sh.t, d = sh.d, k0 = y ? 0 : t, k1 = y ? t : d;
  const int64_t n = y ? P : Q; /* rows of the role's product */
  /* The role's product needs the Khatri-Rao rows of the other side (B for Y, A for Z); role Y's ds needs A too. */
  const bool kr_a = t > 1, kr_b = d - t > 1;
  const bool need_a = kr_a, need_b = y && kr_b;
  const bool qpath = use_qpath(r, Q);
  const int64_t rq = round_up(r, kQR);
  float* ws = scratch(y ? 1 : 2, static_cast<size_t>(padded_size(sh, rp) + (need_a ? P * rp : 0) +
                                                     (need_b ? Q * rp : 0) + n * rp + side_work(sh, rp, n, k0, k1) +
                                                     (qpath ? rq * Q : 0)));
  const float* Up[kMaxOrder];
  float* spad = nullptr;
  float* Abuf = pad_inputs(sh, U, s, rp, Up, &spad, ws);
  float* Bbuf = Abuf + (need_a ? P * rp : 0);
  float* M = Bbuf + (need_b ? Q * rp : 0); /* Y or Z */
  float* side = M + n * rp;
  float* qbuf = side + side_work(sh, rp, n, k0, k1); /* Bt (role Y: read by yq) or zt (role Z: written by zq) */
  float* acc = out->stage;                          /* ds, then each mode's dots */
  float* gout = acc + (1 + kMaxOrder) * rp;
  if (need_a) build_kr(sh.dims, Up, rp, 0, t, Abuf);
  if (need_b) build_kr(sh.dims, Up, rp, t, d, Bbuf);
  const float* A = kr_a ? Abuf : Up[0];
  const float* B = y ? (kr_b ? Bbuf : Up[d - 1]) : nullptr;
  std::memset(M, 0, sizeof(float) * static_cast<size_t>(n * rp));
  const int prods = y ? kProdY : kProdZ;
  if (qpath) {
    if (y) build_bt(B, Q, rp, rq, qbuf);
    mttkrp_block_q(r, rp, Q, G, A, B, qbuf, 0, P, 0, Q, y ? M : nullptr, y ? nullptr : M, qbuf, prods);
  } else {
    mttkrp_block(rp, Q, G, A, B, 0, P, 0, Q, y ? M : nullptr, y ? nullptr : M, prods);
  }
  out->finite = all_finite(M, n * rp);
  if (!out->finite) return;
  float* staged[kMaxOrder] = {};
  float* dots[kMaxOrder] = {};
  for (int k = k0; k < k1; ++k) {
    staged[k] = gout;
    gout += sh.dims[k] * r;
    dots[k] = acc + (1 + k) * rp;
  }
  if (want_dots) std::memset(acc + rp, 0, sizeof(float) * static_cast<size_t>(kMaxOrder * rp));
  side_grads(sh, Up, spad, rp, M, n, k0, k1, staged, side, want_dots ? dots : nullptr);
  for (int k = 0; k < kMaxOrder; ++k) out->grads[k] = staged[k], out->dots[k] = dots[k];
  out->ds = nullptr;
  if (y) {
    ds_sum(M, A, P, rp, acc);
    out->ds = acc;
  }
}

inline debora_status run_mttkrp_roles(const char* op, const Shape& sh, const float* const* U, const float* s,
                                      const float* G, float* const* grads, float* ds, float* dots) {
  const int64_t r = sh.r, rp = round_up(r, W);
  const int64_t ny = role_stage_size(sh, rp, true), nz = role_stage_size(sh, rp, false);
  float* stage = scratch(0, static_cast<size_t>(ny + nz)); /* the caller's: see RoleOut */
  RoleOut outs[2];                                         /* [0]: role Y, [1]: role Z */
  outs[0].stage = stage;
  outs[1].stage = stage + ny;
  /* Chunk 0 is role Z: the caller usually claims chunk 0 first, about 1 us before the worker takes chunk 1 (a
   * spinning worker can take it first: speed only), and role Z is the longer of the two at the bench shape (it
   * also resolves d - t >= 2 trailing modes from Z). */
  parallel_for(2, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) mttkrp_role(sh, U, s, G, c == 1, dots != nullptr, &outs[1 - c]);
  });
  if (!outs[0].finite || !outs[1].finite) return non_finite_g(op, sh, G);
  for (int k = 0; k < sh.d; ++k)
    std::memcpy(grads[k], outs[k < sh.t ? 0 : 1].grads[k], sizeof(float) * static_cast<size_t>(sh.dims[k] * r));
  std::memcpy(ds, outs[0].ds, sizeof(float) * static_cast<size_t>(r));
  if (dots != nullptr) /* mode by mode from zero, the order of the one-thread path: the same bits */
    for (int64_t i = 0; i < r; ++i) {
      float sum = 0.0f;
      for (int k = 0; k < sh.d; ++k) sum += outs[k < sh.t ? 0 : 1].dots[k][i];
      dots[i] = sum;
    }
  return DEBORA_OK;
}

inline debora_status run_mttkrp(const char* op, const Shape& sh, const float* const* U, const float* s,
                                const float* G, float* const* grads, float* ds, float* dots) {
  const int64_t r = sh.r, rp = round_up(r, W), P = sh.P, Q = sh.Q;
  const int t = sh.t, d = sh.d;
  if (use_roles(sh, rp)) return run_mttkrp_roles(op, sh, U, s, G, grads, ds, dots);

  /* Chunks: one per thread at most, over the longer side of the P x Q view; each chunk owns a partial of
   * the product along the other side, summed afterwards in chunk order (bitwise reproducible for a given
   * thread count). */
  const bool split_rows = P >= Q;
  const int64_t len = split_rows ? P : Q;
  int64_t C = 1;
  if (sh.N * rp >= kParallelMinWork) {
    C = std::min<int64_t>(pool_size(), std::max<int64_t>(1, sh.N * rp / kWorkPerChunk));
    C = std::max<int64_t>(1, std::min(C, len / 8));
  }

  /* A single-mode side is the (padded) factor itself; several modes need their Khatri-Rao rows built. */
  const bool kr_a = t > 1, kr_b = d - t > 1;
  const int64_t nY = P * rp * (split_rows ? 1 : C), nZ = Q * rp * (split_rows ? C : 1);
  const int64_t n_side = std::max(side_work(sh, rp, P, 0, t), side_work(sh, rp, Q, t, d));
  /* Small ranks: Bt (rq x Q) and the chunks' Zt: one over all Q columns per chunk when the chunks split the rows,
   * the chunk's own columns when they split the columns (so rq x Q in all). */
  const bool qpath = use_qpath(r, Q);
  const int64_t rq = round_up(r, kQR), n_q = qpath ? rq * Q * (1 + (split_rows ? C : 1)) : 0;
  float* ws = scratch(0, static_cast<size_t>(padded_size(sh, rp) + (kr_a ? P * rp : 0) + (kr_b ? Q * rp : 0) + nY +
                                             nZ + n_side + 2 * rp + n_q));
  const float* Up[kMaxOrder];
  float* spad = nullptr;
  float* Abuf = pad_inputs(sh, U, s, rp, Up, &spad, ws);
  float* Bbuf = Abuf + (kr_a ? P * rp : 0);
  float* Y = Bbuf + (kr_b ? Q * rp : 0);
  float* Z = Y + nY;
  float* side = Z + nZ;
  float* acc = side + n_side; /* ds, then the dots: rp floats each */
  float* Bt = acc + 2 * rp;
  float* zt = Bt + (qpath ? rq * Q : 0);
  if (kr_a) build_kr(sh.dims, Up, rp, 0, t, Abuf);
  if (kr_b) build_kr(sh.dims, Up, rp, t, d, Bbuf);
  const float* A = kr_a ? Abuf : Up[0];
  const float* B = kr_b ? Bbuf : Up[d - 1];
  if (qpath) build_bt(B, Q, rp, rq, Bt);
  auto block = [&](int64_t p0, int64_t p1, int64_t q0, int64_t q1, float* Yc, float* Zc, int64_t c) {
    if (qpath) mttkrp_block_q(r, rp, Q, G, A, B, Bt, p0, p1, q0, q1, Yc, Zc, zt + (split_rows ? c * Q : q0) * rq);
    else mttkrp_block(rp, Q, G, A, B, p0, p1, q0, q1, Yc, Zc);
  };

  auto chunk = [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      /* Chunk bounds on multiples of 48 rows/columns (whole micro-tiles) when the side is long enough. */
      const int64_t align = len >= 48 * C ? 48 : 1;
      const int64_t lo = c == 0 ? 0 : len * c / C / align * align;
      const int64_t hi = c + 1 == C ? len : len * (c + 1) / C / align * align;
      if (split_rows) {
        float* Zc = Z + c * Q * rp;
        std::memset(Y + lo * rp, 0, sizeof(float) * static_cast<size_t>((hi - lo) * rp));
        std::memset(Zc, 0, sizeof(float) * static_cast<size_t>(Q * rp));
        block(lo, hi, 0, Q, Y, Zc, c);
      } else {
        float* Yc = Y + c * P * rp;
        std::memset(Yc, 0, sizeof(float) * static_cast<size_t>(P * rp));
        std::memset(Z + lo * rp, 0, sizeof(float) * static_cast<size_t>((hi - lo) * rp));
        block(0, P, lo, hi, Yc, Z, c);
      }
    }
  };
  if (C == 1) chunk(0, 1);
  else parallel_for(C, 1, chunk);
  if (split_rows) reduce_parts(Z, C, Q * rp, Q * rp);
  else reduce_parts(Y, C, P * rp, P * rp);

  /* G is not scanned up front (that would be a second pass over the largest input): a NaN or infinity
   * anywhere in row p of G makes Y[p, :] non-finite (x * NaN = NaN, inf * 0 = NaN, inf + finite = inf), so
   * checking the small Y and Z before any output is written catches it; only then is G searched, to name
   * the first offending index. */
  if (!all_finite(Y, P * rp) || !all_finite(Z, Q * rp)) return non_finite_g(op, sh, G);

  float* dots_acc = dots != nullptr ? acc + rp : nullptr;
  if (dots_acc != nullptr) std::memset(dots_acc, 0, sizeof(float) * static_cast<size_t>(rp));
  float* dots_k[kMaxOrder]; /* every mode adds into the one accumulator */
  for (int k = 0; k < kMaxOrder; ++k) dots_k[k] = dots_acc;
  float* const* dk = dots != nullptr ? dots_k : nullptr;
  side_grads(sh, Up, spad, rp, Y, P, 0, t, grads, side, dk);
  side_grads(sh, Up, spad, rp, Z, Q, t, d, grads, side, dk);
  ds_sum(Y, A, P, rp, acc);
  std::memcpy(ds, acc, sizeof(float) * static_cast<size_t>(r));
  if (dots != nullptr) std::memcpy(dots, dots_acc, sizeof(float) * static_cast<size_t>(r));
  return DEBORA_OK;
}
