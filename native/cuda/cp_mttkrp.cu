/* cp_mttkrp.cu — CUDA twin of native/cpu/cp_mttkrp.cpp (op cp_mttkrp, the backward of the dense route for
 * order d = 2..6) from the dense gradient G:
 *   grads[k][j, i] = s_i sum_{idx_k = j} G[idx] prod_{m != k} U_m[idx_m, i],  ds_i = <G, u_i^(1) o ... o u_i^(d)>,
 *   dots_i = sum_k <U_k[:, i], grads[k][:, i]>  (dots may be null).
 * As on the CPU, with A, B the Khatri-Rao rows of the leading / trailing modes (dense.cuh), Y = G B and
 * Z = G^T A come from ONE read of G per rank tile (pass P+Q of pass.cuh); the mode gradients, ds and
 * dots are small kernels on Y, Z. The host entry refuses a non-finite G up front (same status and
 * message as the CPU); the dev entry does not read values. Tested against the CPU twin in
 * test/gpu/parity.cpp. */
#include "dense.cuh"

namespace debora {
namespace cuda {
namespace {

PassDesc g_pass(const dn::Shape& sh, int nr, int RT, const float* G, const float* A, const float* B, float* Ypart,
                float* Zpart) {
  PassDesc d;
  d.rows = sh.P, d.cols = sh.Q, d.nr = nr;
  d.A = G, d.lda = sh.Q;
  d.Bp = B, d.bp_c = RT, d.bp_i = 1;
  d.E = A, d.lde = RT;
  d.P = Ypart, d.ldp = RT, d.p_part = sh.P * RT;
  d.Q = Zpart, d.q_c = RT, d.q_i = 1, d.q_part = sh.Q * RT;
  return d;
}

debora_status run(const char* op, Ctx* c, const dn::Shape& sh, const float* const* factors, const float* s,
                  const float* G, float* const* grads, float* ds, float* dots) {
  const Factors f = make_factors(sh, factors);
  const RankTiles tiles(sh.r);
  size_t ypart = 0, zpart = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t];
    const PassDesc p = planned<true, true, false>(c, g_pass(sh, RT, RT, G, nullptr, nullptr, nullptr, nullptr), RT,
                                                  kAnyChunks);
    ypart = std::max(ypart, static_cast<size_t>(p.n_ct * sh.P * RT));
    zpart = std::max(zpart, static_cast<size_t>(p.n_rc * sh.Q * RT));
  }
  const int64_t nblk = finish_blocks(c, sh.P);
  float *A = nullptr, *B = nullptr, *Ypart = nullptr, *Y = nullptr, *Zpart = nullptr, *Z = nullptr;
  double* dspart = nullptr;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    A = a.take<float>(static_cast<size_t>(sh.P) * kMaxRt);
    B = a.take<float>(static_cast<size_t>(sh.Q) * kMaxRt);
    Ypart = a.take<float>(ypart);
    Y = a.take<float>(static_cast<size_t>(sh.P) * kMaxRt);
    Zpart = a.take<float>(zpart);
    Z = a.take<float>(static_cast<size_t>(sh.Q) * kMaxRt);
    dspart = a.take<double>(static_cast<size_t>(nblk * sh.r));
  }));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, sh.r - i0));
    DEBORA_TRY(run_kr_rows(op, c, f, 0, sh.t, sh.P, i0, nr, RT, nullptr, A));
    DEBORA_TRY(run_kr_rows(op, c, f, sh.t, sh.d, sh.Q, i0, nr, RT, nullptr, B));
    PassDesc p = g_pass(sh, nr, RT, G, A, B, Ypart, Zpart);
    DEBORA_TRY((run_pass<true, true, false>(op, c, &p, RT, kAnyChunks)));
    FinishRows fy;
    fy.rows = sh.P, fy.width = RT, fy.nr = nr;
    fy.nparts = static_cast<int>(p.n_ct), fy.parts = Ypart, fy.part_stride = sh.P * RT, fy.ldp = RT;
    fy.plain = Y, fy.ld_plain = RT, fy.plain_padded = true;
    fy.dotwith = A, fy.dspart = dspart + i0, fy.ldds = sh.r;
    DEBORA_TRY(run_finish_rows(op, c, fy));
    SumRows sz;
    sz.rows = sh.Q, sz.nr = nr, sz.nparts = static_cast<int>(p.n_rc), sz.parts = Zpart, sz.part_stride = sh.Q * RT;
    sz.ldp = RT, sz.out = Z, sz.ldo = RT;
    DEBORA_TRY(run_sum_rows(op, c, sz));
    SideGrads lead;
    lead.f = f, lead.k0 = 0, lead.k1 = sh.t, lead.M = Y, lead.width = RT, lead.nr = nr, lead.i0 = i0, lead.s = s;
    for (int k = 0; k < sh.d; ++k) lead.grads[k] = grads[k];
    DEBORA_TRY(run_side_grads(op, c, lead));
    SideGrads trail = lead;
    trail.k0 = sh.t, trail.k1 = sh.d, trail.M = Z;
    DEBORA_TRY(run_side_grads(op, c, trail));
  }
  DsDots dd;
  dd.r = sh.r, dd.dspart = dspart, dd.nblk = nblk, dd.ldds = sh.r, dd.ds = ds, dd.dots = dots;
  dd.npairs = sh.d;
  for (int k = 0; k < sh.d; ++k) dd.U[k] = factors[k], dd.dU[k] = grads[k], dd.rows[k] = sh.dims[k];
  return run_ds_dots(op, c, dd);
}

/* The CPU twin's pointer and overlap checks, in its order. */
debora_status check_buffers(const char* op, const dn::Shape& sh, const float* const* factors, const float* s,
                            const float* G, float* const* grads, float* ds, float* dots) {
  struct Buf {
    const char* name;
    const void* p;
    int64_t bytes;
  };
  const int64_t r = sh.r;
  DEBORA_TRY(check_ptr(op, "G", G));
  DEBORA_TRY(check_ptr(op, "grads", grads));
  Buf outs[dn::kMaxOrder + 2], ins[dn::kMaxOrder + 2];
  int n_out = 0, n_in = 0;
  for (int k = 0; k < sh.d; ++k) {
    DEBORA_TRY(check_ptr(op, dn::grads_name(k), grads[k]));
    outs[n_out++] = {dn::grads_name(k), grads[k], sh.dims[k] * r * 4};
    ins[n_in++] = {dn::factors_name(k), factors[k], sh.dims[k] * r * 4};
  }
  DEBORA_TRY(check_ptr(op, "ds", ds));
  outs[n_out++] = {"ds", ds, r * 4};
  if (dots != nullptr) outs[n_out++] = {"dots", dots, r * 4};
  ins[n_in++] = {"s", s, r * 4};
  ins[n_in++] = {"G", G, sh.N * 4};
  for (int a = 0; a < n_out; ++a) {
    for (int b = 0; b < n_in; ++b)
      DEBORA_TRY(dn::check_no_overlap(op, outs[a].name, outs[a].p, outs[a].bytes, ins[b].name, ins[b].p, ins[b].bytes));
    for (int b = a + 1; b < n_out; ++b)
      DEBORA_TRY(dn::check_no_overlap(op, outs[b].name, outs[b].p, outs[b].bytes, outs[a].name, outs[a].p, outs[a].bytes));
  }
  return DEBORA_OK;
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;

extern "C" debora_status debora_cp_mttkrp_cuda_dev(debora_cuda_context* ctx, int d, const int64_t* dims, int64_t r,
                                                   const float* const* factors, const float* s, const float* G,
                                                   float* const* grads, float* ds, float* dots) {
  static const char* op = "cp_mttkrp";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    debora::dense::Shape sh;
    DEBORA_TRY(cu::check_shape_dev(op, d, dims, r, factors, s, &sh));
    DEBORA_TRY(cu::check_buffers(op, sh, factors, s, G, grads, ds, dots));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    DEBORA_TRY(cu::check_factors_dev(op, c, sh, factors, s));
    DEBORA_TRY(cu::check_device_ptr(op, "G", c, G));
    for (int k = 0; k < d; ++k) DEBORA_TRY(cu::check_device_ptr(op, debora::dense::grads_name(k), c, grads[k]));
    DEBORA_TRY(cu::check_device_ptr(op, "ds", c, ds));
    DEBORA_TRY(cu::check_device_ptr(op, "dots", c, dots, false));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::run(op, c, sh, factors, s, G, grads, ds, dots);
  });
}

extern "C" debora_status debora_cp_mttkrp_cuda(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                               const float* s, const float* G, float* const* grads, float* ds,
                                               float* dots) {
  static const char* op = "cp_mttkrp";
  namespace cu = debora::cuda;
  namespace dn = debora::dense;
  return debora::guarded(op, [&]() -> debora_status {
    dn::Shape sh;
    DEBORA_TRY(dn::validate_shape(op, d, dims, r, factors, s, &sh));
    DEBORA_TRY(cu::check_buffers(op, sh, factors, s, G, grads, ds, dots));
    DEBORA_TRY(dn::check_finite_fast(op, "G", G, sh.N));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    cu::StagedFactors st;
    float *gG = nullptr, *gds = nullptr, *gdots = nullptr;
    float* ggrads[dn::kMaxOrder] = {nullptr};
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      cu::take_factors(a, sh, &st);
      gG = a.take<float>(static_cast<size_t>(sh.N));
      for (int k = 0; k < d; ++k) ggrads[k] = a.take<float>(static_cast<size_t>(sh.dims[k] * r));
      gds = a.take<float>(static_cast<size_t>(r));
      gdots = dots != nullptr ? a.take<float>(static_cast<size_t>(r)) : nullptr;
    }));
    DEBORA_TRY(cu::upload_factors(op, c, sh, factors, s, st));
    DEBORA_TRY(cu::h2d(op, c, gG, G, sizeof(float) * sh.N));
    DEBORA_TRY(cu::run(op, c, sh, st.p, st.s, gG, ggrads, gds, gdots));
    for (int k = 0; k < d; ++k) DEBORA_TRY(cu::d2h(op, c, grads[k], ggrads[k], sizeof(float) * sh.dims[k] * r));
    DEBORA_TRY(cu::d2h(op, c, ds, gds, sizeof(float) * r));
    if (dots != nullptr) DEBORA_TRY(cu::d2h(op, c, dots, gdots, sizeof(float) * r));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
