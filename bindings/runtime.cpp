// runtime.cpp — bindings for version, SIMD, threads and CUDA device queries. lib/info.ts shapes
// these into info(). Tested in test/native/info.test.ts and test/native/runtime.test.ts.
#include "common.h"

#ifndef DEBORA_BUILD_TOOL
#define DEBORA_BUILD_TOOL "unknown"
#endif

namespace debora_js {
namespace {

Napi::Value native_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", debora_version());
  out.Set("buildTool", DEBORA_BUILD_TOOL);
  out.Set("simdSupported", debora_simd_name(debora_simd_supported()));
  out.Set("simdActive", debora_simd_name(debora_simd_active()));
  out.Set("threads", debora_num_threads());
  out.Set("hardwareThreads", debora_hardware_threads());

  // gemm's system BLAS (op gemm): compiled in or not, which library, and the implementation gemm
  // runs now ("builtin" or "blas").
  Napi::Object blas = Napi::Object::New(env);
  blas.Set("compiled", debora_blas_compiled() != 0);
  blas.Set("library", debora_blas_library());
  blas.Set("config", debora_blas_config());
  blas.Set("gemm", debora_gemm_impl() == DEBORA_GEMM_BLAS ? "blas" : "builtin");
  out.Set("blas", blas);

  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", debora_cuda_compiled() != 0);
  cuda.Set("runtimeVersion", debora_cuda_runtime_version());
  cuda.Set("driverVersion", debora_cuda_driver_version());
  int count = 0;
  debora_status st = debora_cuda_device_count(&count);
  Napi::Array devices = Napi::Array::New(env);
  if (st == DEBORA_OK) {
    for (int i = 0; i < count; ++i) {
      debora_cuda_device d;
      debora_status dst = debora_cuda_device_info(i, &d);
      if (dst != DEBORA_OK) {
        st = dst;
        break;
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("index", i);
      o.Set("name", d.name);
      o.Set("totalMemoryBytes", static_cast<double>(d.total_memory));
      o.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
      o.Set("multiprocessors", d.multiprocessors);
      devices.Set(static_cast<uint32_t>(i), o);
    }
  }
  cuda.Set("available", st == DEBORA_OK);
  if (st != DEBORA_OK) cuda.Set("reason", debora_last_error());
  cuda.Set("devices", devices);
  out.Set("cuda", cuda);
  return out;
}

Napi::Value set_num_threads(const Napi::CallbackInfo& info) {
  int64_t n = int_arg(info, 0, "setNumThreads", "n");
  if (n < 1 || n > 1024)
    throw_error(info.Env(), "DEBORA_INVALID_ARG",
                "setNumThreads: expected an integer in [1, 1024] for argument 'n', received " + std::to_string(n));
  check(info.Env(), debora_set_num_threads(static_cast<int>(n)));
  return info.Env().Undefined();
}

Napi::Value set_simd(const Napi::CallbackInfo& info) {
  std::string name = string_arg(info, 0, "setSimd", "level");
  debora_simd level;
  if (name == "scalar") level = DEBORA_SIMD_SCALAR;
  else if (name == "avx2") level = DEBORA_SIMD_AVX2;
  else if (name == "avx512") level = DEBORA_SIMD_AVX512;
  else
    throw_error(info.Env(), "DEBORA_INVALID_ARG",
                "setSimd: expected one of 'scalar', 'avx2', 'avx512' for argument 'level', received '" + name + "'");
  check(info.Env(), debora_set_simd(level));
  return info.Env().Undefined();
}

Napi::Value roofline(const Napi::CallbackInfo& info) {
  // roofline(seconds, bytesPerArray) -> { peakGflops, bandwidthGbs }: slow (seconds), bench only.
  const double seconds = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 1.0;
  const int64_t bytes = info.Length() > 1 ? int_arg(info, 1, "roofline", "bytesPerArray") : (int64_t{256} << 20);
  double gflops = 0, gbs = 0;
  check(info.Env(), debora_roofline_peak_gflops(seconds, &gflops));
  check(info.Env(), debora_roofline_bandwidth_gbs(bytes, &gbs));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("peakGflops", gflops);
  out.Set("bandwidthGbs", gbs);
  return out;
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("nativeInfo", Napi::Function::New(env, native_info, "nativeInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_num_threads, "setNumThreads"));
  exports.Set("setSimd", Napi::Function::New(env, set_simd, "setSimd"));
  exports.Set("roofline", Napi::Function::New(env, roofline, "roofline"));
}

}  // namespace debora_js
