// relu.cpp — bindings of op relu (the ReLU layer's rectifier, element-wise):
//   reluFwd(backend, x, y)                       y = max(x, 0); y may be x (in place)
//   reluBwd(backend, m, dY, dX, accumulate)      dX (+)= dY * [m > 0], m = the forward's x or y
// lib/ops/relu.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/relu.test.ts.
#include "common.h"

namespace debora_js {
namespace {

Napi::Value relu_fwd(const Napi::CallbackInfo& info) {
  static const char* op = "relu_fwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  F32 x = float32_arg(info, 1, op, "x"), y = float32_arg(info, 2, op, "y");
  const auto n = static_cast<int64_t>(x.ElementLength());
  need_length(env, y.ElementLength(), n, op, "y");
  check(env, debora_relu_fwd_cpu(n, x.Data(), y.Data()));
  return env.Undefined();
}

Napi::Value relu_bwd(const Napi::CallbackInfo& info) {
  static const char* op = "relu_bwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  F32 m = float32_arg(info, 1, op, "m"), dy = float32_arg(info, 2, op, "dY"),
                     dx = float32_arg(info, 3, op, "dX");
  const bool acc = bool_arg(info, 4, op, "accumulate");
  const auto n = static_cast<int64_t>(m.ElementLength());
  need_length(env, dy.ElementLength(), n, op, "dY");
  need_length(env, dx.ElementLength(), n, op, "dX");
  check(env, debora_relu_bwd_cpu(n, m.Data(), dy.Data(), dx.Data(), acc ? 1 : 0));
  return env.Undefined();
}

}  // namespace

void register_relu(Napi::Env env, Napi::Object exports) {
  exports.Set("reluFwd", Napi::Function::New(env, relu_fwd, "reluFwd"));
  exports.Set("reluBwd", Napi::Function::New(env, relu_bwd, "reluBwd"));
}

}  // namespace debora_js
