// cp_mttkrp.cpp — binding of op cp_mttkrp (dense route gradients, order 2..6):
//   cpMttkrp(backend, dims, r, factors, s, G, grads, ds, dots|null), and cpMttkrpAsync (a Promise).
// backend 0 = cpu, 1 = cuda (the host-pointer CUDA entry: copies in and out).
// lib/ops/cp_dense.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/cp_dense.test.ts.
#include "common.h"

namespace debora_js {
namespace {

OpCall parse(const Napi::CallbackInfo& info) {
  static const char* op = "cp_mttkrp";
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  std::vector<int64_t> dims = int_list_arg(info, 1, op, "dims");
  const int64_t r = int_arg(info, 2, op, "r");
  std::vector<OptionalF32> factors = float32_list_arg(info, 3, op, "factors", false);
  F32 s = float32_arg(info, 4, op, "s"), G = float32_arg(info, 5, op, "G");
  std::vector<OptionalF32> grads = float32_list_arg(info, 6, op, "grads", false);
  F32 ds = float32_arg(info, 7, op, "ds");
  OptionalF32 dots = optional_float32_arg(info, 8, op, "dots");
  if (dims.size() < 2 || dims.size() > 6 || factors.size() != dims.size() || grads.size() != dims.size())
    throw_error(env, "DEBORA_INVALID_ARG", "cp_mttkrp: expected 2 to 6 dims and one factor and one grad per dim");
  int64_t total = 1;
  std::vector<const float*> fptrs(dims.size());
  std::vector<float*> gptrs(dims.size());
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t n = sizes_product({dims[k], r});
    need_length(env, factors[k].length, n, op, "factors", k);
    need_length(env, grads[k].length, n, op, "grads", k);
    fptrs[k] = factors[k].data;
    gptrs[k] = grads[k].data;
    total = sizes_product({total, dims[k]});
  }
  need_length(env, s.ElementLength(), r, op, "s");
  need_length(env, G.ElementLength(), total, op, "G");
  need_length(env, ds.ElementLength(), r, op, "ds");
  need_length(env, dots.length, r, op, "dots", dots.data != nullptr);
  float *sp = s.Data(), *g = G.Data(), *dsp = ds.Data(), *dt = dots.data;
  // Keep the very typed arrays whose data pointers were taken (not the JS arrays holding them).
  std::vector<Napi::Value> keep{info[4], info[5], info[7], info[8]};
  for (const auto& f : factors) keep.push_back(f.value);
  for (const auto& g : grads) keep.push_back(g.value);
  auto fn = cuda ? debora_cp_mttkrp_cuda : debora_cp_mttkrp_cpu;
  return {[=] { return fn(static_cast<int>(dims.size()), dims.data(), r, fptrs.data(), sp, g, gptrs.data(), dsp, dt); },
          keep};
}

}  // namespace

void register_cp_mttkrp(Napi::Env env, Napi::Object exports) {
  export_op<parse>(env, exports, "cpMttkrp");
}

}  // namespace debora_js
