// cp_conv2d.cpp — bindings of op cp_conv2d (CP adapter of a conv kernel, NCHW):
//   cpConv2dFwd(backend, geom, r, X, U1, U2, U3, U4, s, Y, accumulate)
//   cpConv2dBwd(backend, geom, r, X, U1, U2, U3, U4, s, dY, dX|null, accumulateDx, dU1, dU2, dU3, dU4, ds, dots|null)
// and cpConv2dFwdAsync / cpConv2dBwdAsync with the same arguments, returning a Promise.
// geom = [batch, C, H, W, F, kh, kw, strideH, strideW, padH, padW, dilH, dilW].
// backend 0 = cpu, 1 = cuda (the host-pointer CUDA entry: copies in and out).
// lib/ops/cp_conv2d.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/cp_conv2d.test.ts.
#include "common.h"

namespace debora_js {
namespace {

struct Shapes {
  debora_conv2d_geom g;
  int64_t Ho, Wo;
};

Shapes geom_arg(const Napi::CallbackInfo& info, size_t index, const char* op) {
  std::vector<int64_t> v = int_list_arg(info, index, op, "geom");
  if (v.size() != 13)
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected 13 integers for argument 'geom'");
  Shapes s;
  s.g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  // Output size as the kernel computes it; a non-positive size is left for the kernel to reject.
  const auto& g = s.g;
  s.Ho = (g.stride_h > 0) ? (g.H + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1) / g.stride_h + 1 : -1;
  s.Wo = (g.stride_w > 0) ? (g.W + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1) / g.stride_w + 1 : -1;
  return s;
}

void check_factors(Napi::Env env, const Shapes& sh, int64_t r, const F32* U, const char* op,
                   const char* const* names) {
  const int64_t rows[4] = {sh.g.F, sh.g.C, sh.g.kh, sh.g.kw};
  for (int k = 0; k < 4; ++k) need_length(env, U[k].ElementLength(), sizes_product({rows[k], r}), op, names[k]);
}

OpCall parse_fwd(const Napi::CallbackInfo& info) {
  static const char* op = "cp_conv2d_fwd";
  static const char* names[4] = {"U1", "U2", "U3", "U4"};
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  Shapes sh = geom_arg(info, 1, op);
  const int64_t r = int_arg(info, 2, op, "r");
  F32 X = float32_arg(info, 3, op, "X");
  F32 U[4] = {float32_arg(info, 4, op, "U1"), float32_arg(info, 5, op, "U2"), float32_arg(info, 6, op, "U3"),
                             float32_arg(info, 7, op, "U4")};
  F32 s = float32_arg(info, 8, op, "s"), Y = float32_arg(info, 9, op, "Y");
  const bool acc = bool_arg(info, 10, op, "accumulate");
  const auto& g = sh.g;
  if (sh.Ho > 0 && sh.Wo > 0) {
    need_length(env, X.ElementLength(), sizes_product({g.batch, g.C, g.H, g.W}), op, "X");
    check_factors(env, sh, r, U, op, names);
    need_length(env, s.ElementLength(), r, op, "s");
    need_length(env, Y.ElementLength(), sizes_product({g.batch, g.F, sh.Ho, sh.Wo}), op, "Y");
  }
  float *x = X.Data(), *u1 = U[0].Data(), *u2 = U[1].Data(), *u3 = U[2].Data(), *u4 = U[3].Data(), *sp = s.Data(),
        *y = Y.Data();
  const debora_conv2d_geom gg = g;
  auto fn = cuda ? debora_cp_conv2d_fwd_cuda : debora_cp_conv2d_fwd_cpu;
  return {[=] { return fn(&gg, r, x, u1, u2, u3, u4, sp, y, acc ? 1 : 0); },
          {info[3], info[4], info[5], info[6], info[7], info[8], info[9]}};
}

OpCall parse_bwd(const Napi::CallbackInfo& info) {
  static const char* op = "cp_conv2d_bwd";
  static const char* names[4] = {"U1", "U2", "U3", "U4"};
  static const char* dnames[4] = {"dU1", "dU2", "dU3", "dU4"};
  Napi::Env env = info.Env();
  const bool cuda = cuda_backend(env, int_arg(info, 0, op, "backend"), op);
  Shapes sh = geom_arg(info, 1, op);
  const int64_t r = int_arg(info, 2, op, "r");
  F32 X = float32_arg(info, 3, op, "X");
  F32 U[4] = {float32_arg(info, 4, op, "U1"), float32_arg(info, 5, op, "U2"), float32_arg(info, 6, op, "U3"),
                             float32_arg(info, 7, op, "U4")};
  F32 s = float32_arg(info, 8, op, "s"), dY = float32_arg(info, 9, op, "dY");
  OptionalF32 dX = optional_float32_arg(info, 10, op, "dX");
  const bool acc = bool_arg(info, 11, op, "accumulateDx");
  F32 dU[4] = {float32_arg(info, 12, op, "dU1"), float32_arg(info, 13, op, "dU2"),
                              float32_arg(info, 14, op, "dU3"), float32_arg(info, 15, op, "dU4")};
  F32 ds = float32_arg(info, 16, op, "ds");
  OptionalF32 dots = optional_float32_arg(info, 17, op, "dots");
  const auto& g = sh.g;
  if (sh.Ho > 0 && sh.Wo > 0) {
    need_length(env, X.ElementLength(), sizes_product({g.batch, g.C, g.H, g.W}), op, "X");
    check_factors(env, sh, r, U, op, names);
    check_factors(env, sh, r, dU, op, dnames);
    need_length(env, s.ElementLength(), r, op, "s");
    need_length(env, dY.ElementLength(), sizes_product({g.batch, g.F, sh.Ho, sh.Wo}), op, "dY");
    need_length(env, dX.length, sizes_product({g.batch, g.C, g.H, g.W}), op, "dX", dX.data != nullptr);
    need_length(env, ds.ElementLength(), r, op, "ds");
    need_length(env, dots.length, r, op, "dots", dots.data != nullptr);
  }
  float *x = X.Data(), *u1 = U[0].Data(), *u2 = U[1].Data(), *u3 = U[2].Data(), *u4 = U[3].Data(), *sp = s.Data(),
        *dy = dY.Data(), *dx = dX.data, *d1 = dU[0].Data(), *d2 = dU[1].Data(), *d3 = dU[2].Data(), *d4 = dU[3].Data(),
        *dsp = ds.Data(), *dt = dots.data;
  const debora_conv2d_geom gg = g;
  auto fn = cuda ? debora_cp_conv2d_bwd_cuda : debora_cp_conv2d_bwd_cpu;
  return {[=] { return fn(&gg, r, x, u1, u2, u3, u4, sp, dy, dx, acc ? 1 : 0, d1, d2, d3, d4, dsp, dt); },
          {info[3], info[4], info[5], info[6], info[7], info[8], info[9], info[10], info[12], info[13], info[14], info[15],
           info[16], info[17]}};
}

}  // namespace

void register_cp_conv2d(Napi::Env env, Napi::Object exports) {
  export_op<parse_fwd>(env, exports, "cpConv2dFwd");
  export_op<parse_bwd>(env, exports, "cpConv2dBwd");
}

}  // namespace debora_js
