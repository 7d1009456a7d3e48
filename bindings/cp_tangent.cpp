// cp_tangent.cpp — binding of op cp_tangent (tangent projection of a factor gradient):
//   cpTangent(backend, geometry (0 euclidean, 1 oblique, 2 stiefel), n, r, U, G, out, dots|null)
// backend 0 = cpu, 1 = cuda (the host-pointer CUDA entry: copies in and out).
// lib/ops/cp_tangent.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/cp_tangent.test.ts.
#include "common.h"

namespace debora_js {
namespace {

Napi::Value cp_tangent(const Napi::CallbackInfo& info) {
  static const char* op = "cp_tangent";
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  const int64_t geom = int_arg(info, 1, op, "geometry"), n = int_arg(info, 2, op, "n"), r = int_arg(info, 3, op, "r");
  F32 U = float32_arg(info, 4, op, "U"), G = float32_arg(info, 5, op, "G"), out = float32_arg(info, 6, op, "out");
  OptionalF32 dots = optional_float32_arg(info, 7, op, "dots");
  if (geom < 0 || geom > 2)  // checked here: casting an out-of-range int to the enum is undefined
    throw_error(env, "DEBORA_INVALID_ARG",
                "cp_tangent: expected 0 (euclidean), 1 (oblique) or 2 (stiefel) for argument 'geometry', received " +
                    std::to_string(geom));
  need_length(env, U.ElementLength(), sizes_product({n, r}), op, "U");
  need_length(env, G.ElementLength(), sizes_product({n, r}), op, "G");
  need_length(env, out.ElementLength(), sizes_product({n, r}), op, "out");
  need_length(env, dots.length, r, op, "dots", dots.data != nullptr);
  auto fn = cuda ? debora_cp_tangent_cuda : debora_cp_tangent_cpu;
  check(env, fn(static_cast<debora_geometry>(geom), n, r, U.Data(), G.Data(), out.Data(), dots.data));
  return env.Undefined();
}

}  // namespace

void register_cp_tangent(Napi::Env env, Napi::Object exports) {
  exports.Set("cpTangent", Napi::Function::New(env, cp_tangent, "cpTangent"));
}

}  // namespace debora_js
