// max_pool2d.cpp — bindings of op max_pool2d (the MaxPool2d layer, NCHW):
//   maxPool2dFwd(backend, geom, x, y, argmax|null)
//   maxPool2dBwd(backend, geom, argmax, dY, dX, accumulate)
// geom = [batch, C, H, W, kh, kw, strideH, strideW, padH, padW]; argmax is an Int32Array of
// indices within each H x W plane. lib/ops/max_pool2d.ts validates first; lengths are re-checked
// here only for memory safety (the kernel checks the geometry and the argmax values).
// Tested in test/native/max-pool2d.test.ts.
#include "common.h"

namespace debora_js {
namespace {

struct Shapes {
  debora_pool2d_geom g;
  int64_t x_len, y_len;  // -1 when the kernel will refuse the geometry (it then names the field)
};

Shapes geom_arg(const Napi::CallbackInfo& info, size_t index, const char* op) {
  std::vector<int64_t> v = int_list_arg(info, index, op, "geom");
  if (v.size() != 10)
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected 10 integers for argument 'geom'");
  Shapes s;
  s.g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
  const auto& g = s.g;
  const bool sane = g.batch > 0 && g.C > 0 && g.H > 0 && g.W > 0 && g.kh > 0 && g.kw > 0 && g.stride_h > 0 &&
                    g.stride_w > 0 && g.pad_h >= 0 && g.pad_w >= 0 && 2 * g.pad_h <= g.kh && 2 * g.pad_w <= g.kw &&
                    g.kh <= g.H + 2 * g.pad_h && g.kw <= g.W + 2 * g.pad_w;
  s.x_len = sane ? sizes_product({g.batch, g.C, g.H, g.W}) : -1;
  s.y_len = sane ? sizes_product({g.batch, g.C, (g.H + 2 * g.pad_h - g.kh) / g.stride_h + 1,
                                  (g.W + 2 * g.pad_w - g.kw) / g.stride_w + 1})
                 : -1;
  return s;
}

void need_index_length(Napi::Env env, size_t have, int64_t want, const char* op) {
  if (want >= 0 && static_cast<int64_t>(have) != want)
    throw_error(env, "DEBORA_SHAPE_MISMATCH",
                std::string(op) + ": expected an Int32Array of length " + std::to_string(want) +
                    " for argument 'argmax', received length " + std::to_string(have));
}

Napi::Value max_pool2d_fwd(const Napi::CallbackInfo& info) {
  static const char* op = "max_pool2d_fwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  const Shapes sh = geom_arg(info, 1, op);
  F32 x = float32_arg(info, 2, op, "x"), y = float32_arg(info, 3, op, "y");
  int32_t* am = nullptr;
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    Napi::Int32Array a = int32_arg(info, 4, op, "argmax");
    need_index_length(env, a.ElementLength(), sh.y_len, op);
    am = a.Data();
  }
  if (sh.x_len >= 0) {
    need_length(env, x.ElementLength(), sh.x_len, op, "x");
    need_length(env, y.ElementLength(), sh.y_len, op, "y");
  }
  check(env, debora_max_pool2d_fwd_cpu(&sh.g, x.Data(), y.Data(), am));
  return env.Undefined();
}

Napi::Value max_pool2d_bwd(const Napi::CallbackInfo& info) {
  static const char* op = "max_pool2d_bwd";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  const Shapes sh = geom_arg(info, 1, op);
  Napi::Int32Array am = int32_arg(info, 2, op, "argmax");
  F32 dy = float32_arg(info, 3, op, "dY"), dx = float32_arg(info, 4, op, "dX");
  const bool acc = bool_arg(info, 5, op, "accumulate");
  if (sh.x_len >= 0) {
    need_index_length(env, am.ElementLength(), sh.y_len, op);
    need_length(env, dy.ElementLength(), sh.y_len, op, "dY");
    need_length(env, dx.ElementLength(), sh.x_len, op, "dX");
  }
  check(env, debora_max_pool2d_bwd_cpu(&sh.g, am.Data(), dy.Data(), dx.Data(), acc ? 1 : 0));
  return env.Undefined();
}

}  // namespace

void register_max_pool2d(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool2dFwd", Napi::Function::New(env, max_pool2d_fwd, "maxPool2dFwd"));
  exports.Set("maxPool2dBwd", Napi::Function::New(env, max_pool2d_bwd, "maxPool2dBwd"));
}

}  // namespace debora_js
