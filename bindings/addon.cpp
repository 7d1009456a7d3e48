// addon.cpp — module entry of the debora addon: each bindings/*.cpp registers its functions.
#include "common.h"

namespace {
Napi::Object init(Napi::Env env, Napi::Object exports) {
  debora_js::register_errors(env, exports);
  debora_js::register_runtime(env, exports);
  debora_js::register_cp_hypergrad(env, exports);
  debora_js::register_cp_linear(env, exports);
  debora_js::register_cp_conv2d(env, exports);
  debora_js::register_cp_materialize(env, exports);
  debora_js::register_cp_mttkrp(env, exports);
  debora_js::register_cp_tangent(env, exports);
  debora_js::register_gemm(env, exports);
  debora_js::register_conv2d(env, exports);
  debora_js::register_relu(env, exports);
  debora_js::register_max_pool2d(env, exports);
  debora_js::register_cuda_buffer(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(debora, init)
