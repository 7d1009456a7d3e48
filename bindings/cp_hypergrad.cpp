// cp_hypergrad.cpp — binding of op cp_hypergrad: cpHypergrad(backend, ds, s, dots, out), backend
// 0 = cpu, 1 = cuda. lib/ops.ts validates lengths first; this only unwraps and dispatches.
// Tested in test/native/cp_hypergrad.test.ts and test/gpu.
#include "common.h"

namespace debora_js {
namespace {

Napi::Value cp_hypergrad(const Napi::CallbackInfo& info) {
  static const char* op = "cp_hypergrad";
  const int64_t backend = int_arg(info, 0, op, "backend");
  F32 ds = float32_arg(info, 1, op, "ds");
  F32 s = float32_arg(info, 2, op, "s");
  F32 dots = float32_arg(info, 3, op, "dots");
  F32 out = float32_arg(info, 4, op, "out");
  const size_t r = ds.ElementLength();
  if (s.ElementLength() != r || dots.ElementLength() != r || out.ElementLength() != r)
    throw_error(info.Env(), "DEBORA_SHAPE_MISMATCH", "cp_hypergrad: ds, s, dots and out must have the same length");
  if (backend != 0 && backend != 1)
    throw_error(info.Env(), "DEBORA_INVALID_ARG", "cp_hypergrad: expected backend 0 (cpu) or 1 (cuda) for argument 'backend'");
  auto fn = backend == 1 ? debora_cp_hypergrad_cuda : debora_cp_hypergrad_cpu;
  check(info.Env(), fn(static_cast<int64_t>(r), ds.Data(), s.Data(), dots.Data(), out.Data()));
  return out;
}

}  // namespace

void register_cp_hypergrad(Napi::Env env, Napi::Object exports) {
  exports.Set("cpHypergrad", Napi::Function::New(env, cp_hypergrad, "cpHypergrad"));
}

}  // namespace debora_js
