/* cp_linear.cu — CUDA twin of native/cpu/cp_linear.cpp (op cp_linear, the matrix adapter on a batch):
 *   fwd: Z = X V;  Y (+)= (Z . s) U^T
 *   bwd: T = dY U;  ds = colsum(Z . T);  dU = dY^T (Z . s);  dV = X^T (T . s);  dX (+)= (T . s) V^T
 * Each rank tile (pass.cuh) runs as its own pipeline, and every large matrix crosses memory once:
 * forward reads X (pass P: Z partials per column tile) and writes Y (pass O); backward reads dY once
 * for T and dU together (pass P+Q) and X once for dV while writing dX (pass O+Q); the r-wide
 * intermediates and partial sums are small and live in the context's workspace. Z from the forward
 * saves the backward a read of X (without it Z is recomputed). Deterministic on a given device.
 * Host-pointer entries validate exactly like the CPU twin, then copy in, run and copy out.
 * Tested against the CPU twin in test/gpu/parity.cpp (and through the addon in test/gpu). */
#include "common.cuh"

namespace debora {
namespace cuda {
namespace {

/* Sizes only (the dev entries cannot read values); the same messages as the CPU's checks. */
debora_status check_dims(const char* op, int64_t N, int64_t n_in, int64_t n_out, int64_t r) {
  DEBORA_TRY(check_size(op, "N", N, 0));
  DEBORA_TRY(check_size(op, "n_in", n_in, 1));
  DEBORA_TRY(check_size(op, "n_out", n_out, 1));
  DEBORA_TRY(check_size(op, "r", r, 1));
  if (r > kMaxCudaRank)
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer <= %lld for argument 'r', received %lld", op,
                static_cast<long long>(kMaxCudaRank), static_cast<long long>(r));
  int64_t p = 0;
  if (__builtin_mul_overflow(N, n_in, &p) || __builtin_mul_overflow(N, n_out, &p) || __builtin_mul_overflow(N, r, &p) ||
      __builtin_mul_overflow(n_in + n_out, r, &p) || p > (int64_t{1} << 60))
    return fail(DEBORA_INVALID_ARG, "%s: expected sizes whose products fit in 64 bits for argument 'N', received N = %lld",
                op, static_cast<long long>(N));
  return DEBORA_OK;
}

/* The CPU twin's validation (validate() in cpu/cp_linear.cpp), on host pointers, in its order. */
debora_status validate_host(const char* op, int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                            const float* U, const float* V, const float* s) {
  DEBORA_TRY(check_dims(op, N, n_in, n_out, r));
  DEBORA_TRY(check_ptr(op, "X", N > 0 ? X : U));
  DEBORA_TRY(check_ptr(op, "U", U));
  DEBORA_TRY(check_ptr(op, "V", V));
  DEBORA_TRY(check_ptr(op, "s", s));
  return check_finite(op, "s", s, r);
}

debora_status check_dev_inputs(const char* op, const Ctx* c, int64_t N, const float* X, const float* U, const float* V,
                               const float* s) {
  if (N > 0) DEBORA_TRY(check_device_ptr(op, "X", c, X));
  DEBORA_TRY(check_device_ptr(op, "U", c, U));
  DEBORA_TRY(check_device_ptr(op, "V", c, V));
  return check_device_ptr(op, "s", c, s);
}

/* Z = X V for one rank tile, as column-tile partials (the caller sums them with finish_rows). */
PassDesc z_pass(int64_t N, int64_t K, int64_t r, int i0, int nr, int RT, const float* X, const float* V, float* Zpart) {
  PassDesc d;
  d.rows = N, d.cols = K, d.nr = nr;
  d.A = X, d.lda = K;
  d.Bp = V + i0, d.bp_c = r, d.bp_i = 1;
  d.P = Zpart, d.ldp = RT, d.p_part = N * RT;
  return d;
}

debora_status fwd(const char* op, Ctx* c, int64_t N, int64_t K, int64_t M, int64_t r, const float* X, const float* U,
                  const float* V, const float* s, float* Y, bool acc, float* Z) {
  if (N == 0) return DEBORA_OK;
  const RankTiles tiles(r);
  size_t zpart = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t];
    const PassDesc p = planned<true, false, false>(c, z_pass(N, K, r, 0, RT, RT, X, V, nullptr), RT, kAnyChunks);
    zpart = std::max(zpart, static_cast<size_t>(p.n_ct * N * RT));
  }
  float *Zpart = nullptr, *Zs = nullptr;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    Zpart = a.take<float>(zpart);
    Zs = a.take<float>(static_cast<size_t>(N) * kMaxRt);
  }));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, r - i0));
    PassDesc zp = z_pass(N, K, r, i0, nr, RT, X, V, Zpart);
    DEBORA_TRY((run_pass<true, false, false>(op, c, &zp, RT, kAnyChunks)));
    FinishRows f;
    f.rows = N, f.width = RT, f.nr = nr;
    f.nparts = static_cast<int>(zp.n_ct), f.parts = Zpart, f.part_stride = N * RT, f.ldp = RT;
    f.s = s + i0;
    f.plain = Z != nullptr ? Z + i0 : nullptr, f.ld_plain = r;
    f.scaled = Zs;
    DEBORA_TRY(run_finish_rows(op, c, f));
    PassDesc yo;
    yo.rows = N, yo.cols = M, yo.nr = nr;
    yo.Bo = U + i0, yo.bo_c = r, yo.bo_i = 1;
    yo.E2 = Zs, yo.lde2 = RT;
    yo.O = Y, yo.ldo = M, yo.accumulate = acc || t > 0;  // later rank tiles add onto the first
    DEBORA_TRY((run_pass<false, false, true>(op, c, &yo, RT, kAnyChunks)));
  }
  return DEBORA_OK;
}

debora_status bwd(const char* op, Ctx* c, int64_t N, int64_t K, int64_t M, int64_t r, const float* X, const float* U,
                  const float* V, const float* s, const float* dY, const float* Z, float* dX, bool acc_dx, float* dU,
                  float* dV, float* ds, float* dots) {
  if (N == 0) {  // no rows: every gradient is an empty sum
    DEBORA_CUDA_TRY(op, cudaMemsetAsync(dU, 0, sizeof(float) * M * r, c->stream));
    DEBORA_CUDA_TRY(op, cudaMemsetAsync(dV, 0, sizeof(float) * K * r, c->stream));
    DEBORA_CUDA_TRY(op, cudaMemsetAsync(ds, 0, sizeof(float) * r, c->stream));
    if (dots != nullptr) DEBORA_CUDA_TRY(op, cudaMemsetAsync(dots, 0, sizeof(float) * r, c->stream));
    return DEBORA_OK;
  }
  const RankTiles tiles(r);
  /* The three passes of a tile, planned without pointers to size the workspace. */
  auto y_pass = [&](int i0, int nr, int RT, const float* Zs, float* Tpart, float* dUpart) {
    PassDesc d;
    d.rows = N, d.cols = M, d.nr = nr;
    d.A = dY, d.lda = M;
    d.Bp = U + i0, d.bp_c = r, d.bp_i = 1;
    d.E = Zs, d.lde = RT;
    d.P = Tpart, d.ldp = RT, d.p_part = N * RT;
    d.Q = dUpart, d.q_c = RT, d.q_i = 1, d.q_part = M * RT;
    return d;
  };
  auto x_pass = [&](size_t t, int i0, int nr, int RT, const float* Ts, float* dVpart) {
    PassDesc d;
    d.rows = N, d.cols = K, d.nr = nr;
    d.A = X, d.lda = K;
    d.E = Ts, d.lde = RT;
    d.Q = dVpart, d.q_c = RT, d.q_i = 1, d.q_part = K * RT;
    if (dX != nullptr) {
      d.E2 = Ts, d.lde2 = RT, d.e2_sep = false;
      d.Bo = V + i0, d.bo_c = r, d.bo_i = 1;
      d.O = dX, d.ldo = K, d.accumulate = acc_dx || t > 0;
    }
    return d;
  };
  size_t zpart = 0, tpart = 0, dupart = 0, dvpart = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t];
    if (Z == nullptr) {
      const PassDesc p = planned<true, false, false>(c, z_pass(N, K, r, 0, RT, RT, X, V, nullptr), RT, kAnyChunks);
      zpart = std::max(zpart, static_cast<size_t>(p.n_ct * N * RT));
    }
    const PassDesc py = planned<true, true, false>(c, y_pass(0, RT, RT, nullptr, nullptr, nullptr), RT, kAnyChunks);
    tpart = std::max(tpart, static_cast<size_t>(py.n_ct * N * RT));
    dupart = std::max(dupart, static_cast<size_t>(py.n_rc * M * RT));
    const PassDesc px = dX != nullptr
                            ? planned<false, true, true>(c, x_pass(t, 0, RT, RT, nullptr, nullptr), RT, kAnyChunks)
                            : planned<false, true, false>(c, x_pass(t, 0, RT, RT, nullptr, nullptr), RT, kAnyChunks);
    dvpart = std::max(dvpart, static_cast<size_t>(px.n_rc * K * RT));
  }
  const int64_t nblk = finish_blocks(c, N);
  float *Zpart = nullptr, *Zp = nullptr, *Zs = nullptr, *Tpart = nullptr, *Ts = nullptr, *dUpart = nullptr,
        *dVpart = nullptr;
  double* dspart = nullptr;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    Zpart = a.take<float>(zpart);
    Zp = a.take<float>(static_cast<size_t>(N) * kMaxRt);
    Zs = a.take<float>(static_cast<size_t>(N) * kMaxRt);
    Tpart = a.take<float>(tpart);
    Ts = a.take<float>(static_cast<size_t>(N) * kMaxRt);
    dUpart = a.take<float>(dupart);
    dVpart = a.take<float>(dvpart);
    dspart = a.take<double>(static_cast<size_t>(nblk * r));
  }));

  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, r - i0));
    /* Z (unscaled, for ds) and Z . s (for dU), padded to the tile. */
    FinishRows fz;
    fz.rows = N, fz.width = RT, fz.nr = nr, fz.s = s + i0;
    fz.plain = Zp, fz.ld_plain = RT, fz.plain_padded = true, fz.scaled = Zs;
    if (Z != nullptr) {
      fz.nparts = 1, fz.parts = Z + i0, fz.part_stride = 0, fz.ldp = r;
    } else {
      PassDesc zp = z_pass(N, K, r, i0, nr, RT, X, V, Zpart);
      DEBORA_TRY((run_pass<true, false, false>(op, c, &zp, RT, kAnyChunks)));
      fz.nparts = static_cast<int>(zp.n_ct), fz.parts = Zpart, fz.part_stride = N * RT, fz.ldp = RT;
    }
    DEBORA_TRY(run_finish_rows(op, c, fz));
    /* One read of dY: T (column-tile partials) and dU (row-chunk partials). */
    PassDesc yp = y_pass(i0, nr, RT, Zs, Tpart, dUpart);
    DEBORA_TRY((run_pass<true, true, false>(op, c, &yp, RT, kAnyChunks)));
    FinishRows ft;
    ft.rows = N, ft.width = RT, ft.nr = nr, ft.s = s + i0;
    ft.nparts = static_cast<int>(yp.n_ct), ft.parts = Tpart, ft.part_stride = N * RT, ft.ldp = RT;
    ft.scaled = Ts, ft.dotwith = Zp, ft.dspart = dspart + i0, ft.ldds = r;
    DEBORA_TRY(run_finish_rows(op, c, ft));
    SumRows su;
    su.rows = M, su.nr = nr, su.nparts = static_cast<int>(yp.n_rc), su.parts = dUpart, su.part_stride = M * RT;
    su.ldp = RT, su.out = dU + i0, su.ldo = r;
    DEBORA_TRY(run_sum_rows(op, c, su));
    /* One read of X: dV (row-chunk partials), and dX written in the same pass. */
    PassDesc xp = x_pass(t, i0, nr, RT, Ts, dVpart);
    if (dX != nullptr) DEBORA_TRY((run_pass<false, true, true>(op, c, &xp, RT, kAnyChunks)));
    else DEBORA_TRY((run_pass<false, true, false>(op, c, &xp, RT, kAnyChunks)));
    SumRows sv = su;
    sv.rows = K, sv.nparts = static_cast<int>(xp.n_rc), sv.parts = dVpart, sv.part_stride = K * RT, sv.out = dV + i0;
    DEBORA_TRY(run_sum_rows(op, c, sv));
  }
  DsDots dd;
  dd.r = r, dd.dspart = dspart, dd.nblk = nblk, dd.ldds = r, dd.ds = ds, dd.dots = dots;
  dd.npairs = 2;
  dd.U[0] = U, dd.dU[0] = dU, dd.rows[0] = M;
  dd.U[1] = V, dd.dU[1] = dV, dd.rows[1] = K;
  return run_ds_dots(op, c, dd);
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;

extern "C" debora_status debora_cp_linear_fwd_cuda_dev(debora_cuda_context* ctx, int64_t N, int64_t n_in, int64_t n_out,
                                                       int64_t r, const float* X, const float* U, const float* V,
                                                       const float* s, float* Y, int accumulate, float* Z) {
  static const char* op = "cp_linear_fwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(cu::check_dims(op, N, n_in, n_out, r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    DEBORA_TRY(cu::check_dev_inputs(op, c, N, X, U, V, s));
    if (N > 0) DEBORA_TRY(cu::check_device_ptr(op, "Y", c, Y));
    DEBORA_TRY(cu::check_device_ptr(op, "Z", c, Z, false));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::fwd(op, c, N, n_in, n_out, r, X, U, V, s, Y, accumulate != 0, Z);
  });
}

extern "C" debora_status debora_cp_linear_bwd_cuda_dev(debora_cuda_context* ctx, int64_t N, int64_t n_in, int64_t n_out,
                                                       int64_t r, const float* X, const float* U, const float* V,
                                                       const float* s, const float* dY, const float* Z, float* dX,
                                                       int accumulate_dx, float* dU, float* dV, float* ds, float* dots) {
  static const char* op = "cp_linear_bwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(cu::check_dims(op, N, n_in, n_out, r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    DEBORA_TRY(cu::check_dev_inputs(op, c, N, X, U, V, s));
    if (N > 0) DEBORA_TRY(cu::check_device_ptr(op, "dY", c, dY));
    DEBORA_TRY(cu::check_device_ptr(op, "Z", c, Z, false));
    DEBORA_TRY(cu::check_device_ptr(op, "dX", c, dX, false));
    DEBORA_TRY(cu::check_device_ptr(op, "dU", c, dU));
    DEBORA_TRY(cu::check_device_ptr(op, "dV", c, dV));
    DEBORA_TRY(cu::check_device_ptr(op, "ds", c, ds));
    DEBORA_TRY(cu::check_device_ptr(op, "dots", c, dots, false));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::bwd(op, c, N, n_in, n_out, r, X, U, V, s, dY, Z, dX, accumulate_dx != 0, dU, dV, ds, dots);
  });
}

extern "C" debora_status debora_cp_linear_fwd_cuda(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                                                   const float* U, const float* V, const float* s, float* Y,
                                                   int accumulate, float* Z) {
  static const char* op = "cp_linear_fwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(cu::validate_host(op, N, n_in, n_out, r, X, U, V, s));
    if (N > 0) DEBORA_TRY(debora::check_ptr(op, "Y", Y));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    if (N == 0) return DEBORA_OK;
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t nx = N * n_in, ny = N * n_out, nu = n_out * r, nv = n_in * r, nz = N * r;
    float *dX_ = nullptr, *dU_ = nullptr, *dV_ = nullptr, *ds_ = nullptr, *dY_ = nullptr, *dZ_ = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      dX_ = a.take<float>(nx), dU_ = a.take<float>(nu), dV_ = a.take<float>(nv), ds_ = a.take<float>(r);
      dY_ = a.take<float>(ny), dZ_ = Z != nullptr ? a.take<float>(nz) : nullptr;
    }));
    DEBORA_TRY(cu::h2d(op, c, dX_, X, nx * 4));
    DEBORA_TRY(cu::h2d(op, c, dU_, U, nu * 4));
    DEBORA_TRY(cu::h2d(op, c, dV_, V, nv * 4));
    DEBORA_TRY(cu::h2d(op, c, ds_, s, r * 4));
    if (accumulate) DEBORA_TRY(cu::h2d(op, c, dY_, Y, ny * 4));
    DEBORA_TRY(cu::fwd(op, c, N, n_in, n_out, r, dX_, dU_, dV_, ds_, dY_, accumulate != 0, dZ_));
    DEBORA_TRY(cu::d2h(op, c, Y, dY_, ny * 4));
    if (Z != nullptr) DEBORA_TRY(cu::d2h(op, c, Z, dZ_, nz * 4));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cp_linear_bwd_cuda(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X,
                                                   const float* U, const float* V, const float* s, const float* dY,
                                                   const float* Z, float* dX, int accumulate_dx, float* dU, float* dV,
                                                   float* ds, float* dots) {
  static const char* op = "cp_linear_bwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    DEBORA_TRY(cu::validate_host(op, N, n_in, n_out, r, X, U, V, s));
    if (N > 0) DEBORA_TRY(debora::check_ptr(op, "dY", dY));
    DEBORA_TRY(debora::check_ptr(op, "dU", dU));
    DEBORA_TRY(debora::check_ptr(op, "dV", dV));
    DEBORA_TRY(debora::check_ptr(op, "ds", ds));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t nx = N * n_in, ny = N * n_out, nu = n_out * r, nv = n_in * r, nz = N * r;
    float *gX = nullptr, *gU = nullptr, *gV = nullptr, *gs = nullptr, *gdY = nullptr, *gZ = nullptr, *gdX = nullptr,
          *gdU = nullptr, *gdV = nullptr, *gds = nullptr, *gdots = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      gX = a.take<float>(nx), gU = a.take<float>(nu), gV = a.take<float>(nv), gs = a.take<float>(r);
      gdY = a.take<float>(ny), gZ = Z != nullptr ? a.take<float>(nz) : nullptr;
      gdX = dX != nullptr ? a.take<float>(nx) : nullptr;
      gdU = a.take<float>(nu), gdV = a.take<float>(nv), gds = a.take<float>(r);
      gdots = dots != nullptr ? a.take<float>(r) : nullptr;
    }));
    DEBORA_TRY(cu::h2d(op, c, gX, N > 0 ? X : nullptr, nx * 4));
    DEBORA_TRY(cu::h2d(op, c, gU, U, nu * 4));
    DEBORA_TRY(cu::h2d(op, c, gV, V, nv * 4));
    DEBORA_TRY(cu::h2d(op, c, gs, s, r * 4));
    DEBORA_TRY(cu::h2d(op, c, gdY, N > 0 ? dY : nullptr, ny * 4));
    if (Z != nullptr) DEBORA_TRY(cu::h2d(op, c, gZ, Z, nz * 4));
    if (dX != nullptr && accumulate_dx) DEBORA_TRY(cu::h2d(op, c, gdX, dX, nx * 4));
    DEBORA_TRY(cu::bwd(op, c, N, n_in, n_out, r, gX, gU, gV, gs, gdY, gZ, gdX, accumulate_dx != 0, gdU, gdV, gds, gdots));
    if (dX != nullptr) DEBORA_TRY(cu::d2h(op, c, dX, gdX, nx * 4));
    DEBORA_TRY(cu::d2h(op, c, dU, gdU, nu * 4));
    DEBORA_TRY(cu::d2h(op, c, dV, gdV, nv * 4));
    DEBORA_TRY(cu::d2h(op, c, ds, gds, r * 4));
    if (dots != nullptr) DEBORA_TRY(cu::d2h(op, c, dots, gdots, r * 4));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
