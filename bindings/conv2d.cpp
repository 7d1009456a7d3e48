// conv2d.cpp — bindings of op conv2d (dense convolution of a frozen base layer, NCHW):
//   conv2dFwd(backend, geom, X, K, bias|null, Y, accumulate)
//   conv2dBwd(backend, geom, X|null, K|null, dY, dX|null, accumulateDx, dK|null, accumulateDk, dbias|null, accumulateDbias)
// and conv2dFwdAsync / conv2dBwdAsync with the same arguments, returning a Promise.
// geom = [batch, C, H, W, F, kh, kw, strideH, strideW, padH, padW, dilH, dilW].
// lib/ops/conv2d.ts validates first; lengths are re-checked here only for memory safety.
// Tested in test/native/conv2d.test.ts.
#include "common.h"

namespace debora_js {
namespace {

struct Shapes {
  debora_conv2d_geom g;
  int64_t Ho, Wo;
  bool sane;  // every field in range and an output of at least 1 x 1; else the kernel reports it
};

Shapes geom_arg(const Napi::CallbackInfo& info, size_t index, const char* op) {
  std::vector<int64_t> v = int_list_arg(info, index, op, "geom");
  if (v.size() != 13)
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected 13 integers for argument 'geom'");
  Shapes s;
  s.g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  const auto& g = s.g;
  s.sane = g.batch > 0 && g.C > 0 && g.H > 0 && g.W > 0 && g.F > 0 && g.stride_h > 0 && g.stride_w > 0 && g.pad_h >= 0 && g.pad_w >= 0 && g.dil_h > 0 && g.dil_w > 0 && g.kh > 0 &&
           g.kw > 0;
  const int64_t nh = g.H + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1, nw = g.W + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1;
  s.sane = s.sane && nh >= 0 && nw >= 0;
  s.Ho = s.sane ? nh / g.stride_h + 1 : -1;
  s.Wo = s.sane ? nw / g.stride_w + 1 : -1;
  return s;
}

OpCall parse_fwd(const Napi::CallbackInfo& info) {
  static const char* op = "conv2d_fwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  const Shapes sh = geom_arg(info, 1, op);
  F32 X = float32_arg(info, 2, op, "X"), K = float32_arg(info, 3, op, "K");
  OptionalF32 bias = optional_float32_arg(info, 4, op, "bias");
  F32 Y = float32_arg(info, 5, op, "Y");
  const bool acc = bool_arg(info, 6, op, "accumulate");
  const auto& g = sh.g;
  if (sh.sane) {
    need_length(env, X.ElementLength(), sizes_product({g.batch, g.C, g.H, g.W}), op, "X");
    need_length(env, K.ElementLength(), sizes_product({g.F, g.C, g.kh, g.kw}), op, "K");
    need_length(env, bias.length, g.F, op, "bias", bias.data != nullptr);
    need_length(env, Y.ElementLength(), sizes_product({g.batch, g.F, sh.Ho, sh.Wo}), op, "Y");
  }
  const float *x = X.Data(), *k = K.Data(), *b = bias.data;
  float* y = Y.Data();
  const debora_conv2d_geom gg = g;
  return {[=] { return debora_conv2d_fwd_cpu(&gg, x, k, b, y, acc ? 1 : 0); }, {info[2], info[3], info[4], info[5]}};
}

OpCall parse_bwd(const Napi::CallbackInfo& info) {
  static const char* op = "conv2d_bwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  const Shapes sh = geom_arg(info, 1, op);
  OptionalF32 X = optional_float32_arg(info, 2, op, "X"), K = optional_float32_arg(info, 3, op, "K");
  F32 dY = float32_arg(info, 4, op, "dY");
  OptionalF32 dX = optional_float32_arg(info, 5, op, "dX");
  const bool acc_dx = bool_arg(info, 6, op, "accumulateDx");
  OptionalF32 dK = optional_float32_arg(info, 7, op, "dK");
  const bool acc_dk = bool_arg(info, 8, op, "accumulateDk");
  OptionalF32 dbias = optional_float32_arg(info, 9, op, "dbias");
  const bool acc_db = bool_arg(info, 10, op, "accumulateDbias");
  const auto& g = sh.g;
  if (sh.sane) {
    const int64_t x_len = sizes_product({g.batch, g.C, g.H, g.W}), k_len = sizes_product({g.F, g.C, g.kh, g.kw});
    need_length(env, X.length, x_len, op, "X", X.data != nullptr);
    need_length(env, K.length, k_len, op, "K", K.data != nullptr);
    need_length(env, dY.ElementLength(), sizes_product({g.batch, g.F, sh.Ho, sh.Wo}), op, "dY");
    need_length(env, dX.length, x_len, op, "dX", dX.data != nullptr);
    need_length(env, dK.length, k_len, op, "dK", dK.data != nullptr);
    need_length(env, dbias.length, g.F, op, "dbias", dbias.data != nullptr);
  }
  const float *x = X.data, *k = K.data, *dy = dY.Data();
  float *dx = dX.data, *dk = dK.data, *db = dbias.data;
  const debora_conv2d_geom gg = g;
  return {[=] {
            return debora_conv2d_bwd_cpu(&gg, x, k, dy, dx, acc_dx ? 1 : 0, dk, acc_dk ? 1 : 0, db, acc_db ? 1 : 0);
          },
          {info[2], info[3], info[4], info[5], info[7], info[9]}};
}

}  // namespace

void register_conv2d(Napi::Env env, Napi::Object exports) {
  export_op<parse_fwd>(env, exports, "conv2dFwd");
  export_op<parse_bwd>(env, exports, "conv2dBwd");
}

}  // namespace debora_js
