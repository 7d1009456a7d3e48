/* cp_materialize.cu — CUDA twin of native/cpu/cp_materialize.cpp (op cp_materialize, the dense route for
 * order d = 2..6):  out = Psi(B, s) = sum_i s_i u_i^(1) o ... o u_i^(d)  (row-major, mode 1 slowest).
 * As on the CPU, out (P x Q) = (A diag(s)) B^T with A, B the Khatri-Rao rows of the leading and trailing
 * modes (dense.cuh): per rank tile, two small kernels build them and one O pass (pass.cuh) writes out,
 * each element once (later tiles add onto it). Host-pointer entry: the CPU's validation, then copy in,
 * run, copy out. Tested against the CPU twin in test/gpu/parity.cpp. */
#include "dense.cuh"

namespace debora {
namespace cuda {
namespace {

debora_status run(const char* op, Ctx* c, const dn::Shape& sh, const float* const* factors, const float* s, float* out) {
  const Factors f = make_factors(sh, factors);
  const RankTiles tiles(sh.r);
  float *As = nullptr, *B = nullptr;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    As = a.take<float>(static_cast<size_t>(sh.P) * kMaxRt);
    B = a.take<float>(static_cast<size_t>(sh.Q) * kMaxRt);
  }));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, sh.r - i0));
    DEBORA_TRY(run_kr_rows(op, c, f, 0, sh.t, sh.P, i0, nr, RT, s, As));
    DEBORA_TRY(run_kr_rows(op, c, f, sh.t, sh.d, sh.Q, i0, nr, RT, nullptr, B));
    PassDesc o;
    o.rows = sh.P, o.cols = sh.Q, o.nr = nr;
    o.E2 = As, o.lde2 = RT;
    o.Bo = B, o.bo_c = RT, o.bo_i = 1;
    o.O = out, o.ldo = sh.Q, o.accumulate = t > 0;
    DEBORA_TRY((run_pass<false, false, true>(op, c, &o, RT, kAnyChunks)));
  }
  return DEBORA_OK;
}

/* The CPU twin's overlap checks (out must not share memory with any input). */
debora_status check_overlaps(const char* op, const dn::Shape& sh, const float* const* factors, const float* s,
                             const float* out) {
  const int64_t out_bytes = sh.N * static_cast<int64_t>(sizeof(float));
  for (int k = 0; k < sh.d; ++k)
    DEBORA_TRY(dn::check_no_overlap(op, "out", out, out_bytes, dn::factors_name(k), factors[k], sh.dims[k] * sh.r * 4));
  return dn::check_no_overlap(op, "out", out, out_bytes, "s", s, sh.r * 4);
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;

extern "C" debora_status debora_cp_materialize_cuda_dev(debora_cuda_context* ctx, int d, const int64_t* dims, int64_t r,
                                                        const float* const* factors, const float* s, float* out) {
  static const char* op = "cp_materialize";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    debora::dense::Shape sh;
    DEBORA_TRY(cu::check_shape_dev(op, d, dims, r, factors, s, &sh));
    DEBORA_TRY(debora::check_ptr(op, "out", out));
    DEBORA_TRY(cu::check_overlaps(op, sh, factors, s, out));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    DEBORA_TRY(cu::check_factors_dev(op, c, sh, factors, s));
    DEBORA_TRY(cu::check_device_ptr(op, "out", c, out));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::run(op, c, sh, factors, s, out);
  });
}

extern "C" debora_status debora_cp_materialize_cuda(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                                    const float* s, float* out) {
  static const char* op = "cp_materialize";
  namespace cu = debora::cuda;
  namespace dn = debora::dense;
  return debora::guarded(op, [&]() -> debora_status {
    dn::Shape sh;
    DEBORA_TRY(dn::validate_shape(op, d, dims, r, factors, s, &sh));
    DEBORA_TRY(debora::check_ptr(op, "out", out));
    DEBORA_TRY(cu::check_overlaps(op, sh, factors, s, out));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    cu::StagedFactors st;
    float* gout = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      cu::take_factors(a, sh, &st);
      gout = a.take<float>(static_cast<size_t>(sh.N));
    }));
    DEBORA_TRY(cu::upload_factors(op, c, sh, factors, s, st));
    DEBORA_TRY(cu::run(op, c, sh, st.p, st.s, gout));
    DEBORA_TRY(cu::d2h(op, c, out, gout, sizeof(float) * sh.N));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
