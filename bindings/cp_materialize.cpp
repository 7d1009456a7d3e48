// cp_materialize.cpp — binding of op cp_materialize (dense route, order 2..6):
//   cpMaterialize(backend, dims, r, factors, s, out), and cpMaterializeAsync (a Promise).
// backend 0 = cpu, 1 = cuda (the host-pointer CUDA entry: copies in and out).
// lib/ops/cp_dense.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/cp_dense.test.ts.
#include "common.h"

namespace debora_js {
namespace {

OpCall parse(const Napi::CallbackInfo& info) {
  static const char* op = "cp_materialize";
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  std::vector<int64_t> dims = int_list_arg(info, 1, op, "dims");
  const int64_t r = int_arg(info, 2, op, "r");
  std::vector<OptionalF32> factors = float32_list_arg(info, 3, op, "factors", false);
  F32 s = float32_arg(info, 4, op, "s"), out = float32_arg(info, 5, op, "out");
  if (dims.size() < 2 || dims.size() > 6 || factors.size() != dims.size())
    throw_error(env, "DEBORA_INVALID_ARG", "cp_materialize: expected 2 to 6 dims and one factor per dim for argument 'factors'");
  int64_t total = 1;
  std::vector<const float*> ptrs(dims.size());
  for (size_t k = 0; k < dims.size(); ++k) {
    need_length(env, factors[k].length, sizes_product({dims[k], r}), op, "factors", k);
    ptrs[k] = factors[k].data;
    total = sizes_product({total, dims[k]});
  }
  need_length(env, s.ElementLength(), r, op, "s");
  need_length(env, out.ElementLength(), total, op, "out");
  const float* sp = s.Data();
  float* o = out.Data();
  // Keep the very typed arrays whose data pointers were taken (not the JS array holding the factors).
  std::vector<Napi::Value> keep{info[4], info[5]};
  for (const auto& f : factors) keep.push_back(f.value);
  auto fn = cuda ? debora_cp_materialize_cuda : debora_cp_materialize_cpu;
  return {[=] { return fn(static_cast<int>(dims.size()), dims.data(), r, ptrs.data(), sp, o); }, keep};
}

}  // namespace

void register_cp_materialize(Napi::Env env, Napi::Object exports) {
  export_op<parse>(env, exports, "cpMaterialize");
}

}  // namespace debora_js
