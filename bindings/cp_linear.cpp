// cp_linear.cpp — bindings of op cp_linear (matrix adapter, activation route):
//   cpLinearFwd(backend, N, nIn, nOut, r, X, U, V, s, Y, accumulate, Z|null)
//   cpLinearBwd(backend, N, nIn, nOut, r, X, U, V, s, dY, Z|null, dX|null, accumulateDx, dU, dV, ds, dots|null)
// and cpLinearFwdAsync / cpLinearBwdAsync with the same arguments, returning a Promise.
// backend 0 = cpu, 1 = cuda (the host-pointer CUDA entry: copies in and out).
// lib/ops/cp_linear.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/cp_linear.test.ts.
#include "common.h"

namespace debora_js {
namespace {

OpCall parse_fwd(const Napi::CallbackInfo& info) {
  static const char* op = "cp_linear_fwd";
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  const int64_t N = int_arg(info, 1, op, "N"), n_in = int_arg(info, 2, op, "nIn"), n_out = int_arg(info, 3, op, "nOut"),
                r = int_arg(info, 4, op, "r");
  F32 X = float32_arg(info, 5, op, "X"), U = float32_arg(info, 6, op, "U"), V = float32_arg(info, 7, op, "V"),
                     s = float32_arg(info, 8, op, "s"), Y = float32_arg(info, 9, op, "Y");
  const bool acc = bool_arg(info, 10, op, "accumulate");
  OptionalF32 Z = optional_float32_arg(info, 11, op, "Z");
  need_length(env, X.ElementLength(), sizes_product({N, n_in}), op, "X");
  need_length(env, U.ElementLength(), sizes_product({n_out, r}), op, "U");
  need_length(env, V.ElementLength(), sizes_product({n_in, r}), op, "V");
  need_length(env, s.ElementLength(), r, op, "s");
  need_length(env, Y.ElementLength(), sizes_product({N, n_out}), op, "Y");
  need_length(env, Z.length, sizes_product({N, r}), op, "Z", Z.data != nullptr);
  float *x = X.Data(), *u = U.Data(), *v = V.Data(), *sp = s.Data(), *y = Y.Data(), *z = Z.data;
  auto fn = cuda ? debora_cp_linear_fwd_cuda : debora_cp_linear_fwd_cpu;
  return {[=] { return fn(N, n_in, n_out, r, x, u, v, sp, y, acc ? 1 : 0, z); },
          {info[5], info[6], info[7], info[8], info[9], info[11]}};
}

OpCall parse_bwd(const Napi::CallbackInfo& info) {
  static const char* op = "cp_linear_bwd";
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  const int64_t N = int_arg(info, 1, op, "N"), n_in = int_arg(info, 2, op, "nIn"), n_out = int_arg(info, 3, op, "nOut"),
                r = int_arg(info, 4, op, "r");
  F32 X = float32_arg(info, 5, op, "X"), U = float32_arg(info, 6, op, "U"), V = float32_arg(info, 7, op, "V"),
                     s = float32_arg(info, 8, op, "s"), dY = float32_arg(info, 9, op, "dY");
  OptionalF32 Z = optional_float32_arg(info, 10, op, "Z");
  OptionalF32 dX = optional_float32_arg(info, 11, op, "dX");
  const bool acc = bool_arg(info, 12, op, "accumulateDx");
  F32 dU = float32_arg(info, 13, op, "dU"), dV = float32_arg(info, 14, op, "dV"),
                     ds = float32_arg(info, 15, op, "ds");
  OptionalF32 dots = optional_float32_arg(info, 16, op, "dots");
  need_length(env, X.ElementLength(), sizes_product({N, n_in}), op, "X");
  need_length(env, U.ElementLength(), sizes_product({n_out, r}), op, "U");
  need_length(env, V.ElementLength(), sizes_product({n_in, r}), op, "V");
  need_length(env, s.ElementLength(), r, op, "s");
  need_length(env, dY.ElementLength(), sizes_product({N, n_out}), op, "dY");
  need_length(env, Z.length, sizes_product({N, r}), op, "Z", Z.data != nullptr);
  need_length(env, dX.length, sizes_product({N, n_in}), op, "dX", dX.data != nullptr);
  need_length(env, dU.ElementLength(), sizes_product({n_out, r}), op, "dU");
  need_length(env, dV.ElementLength(), sizes_product({n_in, r}), op, "dV");
  need_length(env, ds.ElementLength(), r, op, "ds");
  need_length(env, dots.length, r, op, "dots", dots.data != nullptr);
  float *x = X.Data(), *u = U.Data(), *v = V.Data(), *sp = s.Data(), *dy = dY.Data(), *z = Z.data, *dx = dX.data,
        *du = dU.Data(), *dv = dV.Data(), *dsp = ds.Data(), *dt = dots.data;
  auto fn = cuda ? debora_cp_linear_bwd_cuda : debora_cp_linear_bwd_cpu;
  return {[=] { return fn(N, n_in, n_out, r, x, u, v, sp, dy, z, dx, acc ? 1 : 0, du, dv, dsp, dt); },
          {info[5], info[6], info[7], info[8], info[9], info[10], info[11], info[13], info[14], info[15], info[16]}};
}

}  // namespace

void register_cp_linear(Napi::Env env, Napi::Object exports) {
  export_op<parse_fwd>(env, exports, "cpLinearFwd");
  export_op<parse_bwd>(env, exports, "cpLinearBwd");
}

}  // namespace debora_js
