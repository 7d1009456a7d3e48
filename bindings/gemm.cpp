// gemm.cpp — bindings of op gemm (row-major SGEMM for the frozen dense base layers):
//   gemm(backend, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//   gemmAsync(same arguments) -> Promise;  gemmSetImpl(0 auto | 1 builtin | 2 blas);  gemmImpl() -> 1 | 2
// lib/ops/gemm.ts validates first; lengths are re-checked here only for memory safety (a matrix of
// `rows` rows with leading dimension ld needs (rows - 1) * ld + cols elements, not rows * ld).
// Tested in test/native/gemm.test.ts.
#include <cmath>

#include "common.h"

namespace debora_js {
namespace {

float float_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected a number for argument '" + name + "'");
  return static_cast<float>(info[index].As<Napi::Number>().DoubleValue());
}

// Refuses a buffer shorter than a rows x cols matrix with leading dimension ld. Sizes the native
// validation will reject anyway (negative, ld < cols) are left to it: nothing is read before that.
void need_matrix(Napi::Env env, size_t have, int64_t rows, int64_t cols, int64_t ld, const char* op, const char* name) {
  if (rows < 0 || cols < 0 || ld < std::max<int64_t>(1, cols)) return;
  if (rows == 0 || cols == 0) return;
  const int64_t body = sizes_product({rows - 1, ld});
  const int64_t want = body < 0 || body > INT64_MAX - cols ? -1 : body + cols;
  if (want < 0 || static_cast<int64_t>(have) < want)
    throw_error(env, "DEBORA_SHAPE_MISMATCH",
                std::string(op) + ": expected a Float32Array of length >= " + std::to_string(want) + " for argument '" +
                    name + "', received length " + std::to_string(have));
}

OpCall parse(const Napi::CallbackInfo& info) {
  static const char* op = "gemm";
  Napi::Env env = info.Env();
  cpu_only(env, int_arg(info, 0, op, "backend"), op);
  const bool ta = bool_arg(info, 1, op, "transA"), tb = bool_arg(info, 2, op, "transB");
  const int64_t M = int_arg(info, 3, op, "M"), N = int_arg(info, 4, op, "N"), K = int_arg(info, 5, op, "K");
  const float alpha = float_arg(info, 6, op, "alpha");
  F32 A = float32_arg(info, 7, op, "A");
  const int64_t lda = int_arg(info, 8, op, "lda");
  F32 B = float32_arg(info, 9, op, "B");
  const int64_t ldb = int_arg(info, 10, op, "ldb");
  const float beta = float_arg(info, 11, op, "beta");
  F32 C = float32_arg(info, 12, op, "C");
  const int64_t ldc = int_arg(info, 13, op, "ldc");
  need_matrix(env, A.ElementLength(), ta ? K : M, ta ? M : K, lda, op, "A");
  need_matrix(env, B.ElementLength(), tb ? N : K, tb ? K : N, ldb, op, "B");
  need_matrix(env, C.ElementLength(), M, N, ldc, op, "C");
  const float *a = A.Data(), *b = B.Data();
  float* c = C.Data();
  return {[=] { return debora_gemm_cpu(ta ? 1 : 0, tb ? 1 : 0, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc); },
          {info[7], info[9], info[12]}};
}

Napi::Value gemm_set_impl(const Napi::CallbackInfo& info) {
  const int64_t impl = int_arg(info, 0, "gemmSetImpl", "impl");
  check(info.Env(), debora_gemm_set_impl(impl < 0 || impl > 2 ? -1 : static_cast<int>(impl)));
  return info.Env().Undefined();
}

Napi::Value gemm_impl(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), debora_gemm_impl()); }

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  export_op<parse>(env, exports, "gemm");
  exports.Set("gemmSetImpl", Napi::Function::New(env, gemm_set_impl, "gemmSetImpl"));
  exports.Set("gemmImpl", Napi::Function::New(env, gemm_impl, "gemmImpl"));
}

}  // namespace debora_js
