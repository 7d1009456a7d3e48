// common.h — shared pieces of the N-API glue: turning a native status into a JS error of the
// class lib/errors.ts registered (with a stable `.code`), and unwrapping typed-array arguments.
// No math lives in bindings/. Tested through every binding in test/native.
#ifndef DEBORA_BINDINGS_COMMON_H
#define DEBORA_BINDINGS_COMMON_H

#include <napi.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "debora/debora.h"

namespace debora_js {

// Throws (as a C++ Napi::Error, rethrown to JS by node-addon-api) an error with
// .code = debora_status_name(status) and the native detail message.
[[noreturn]] void throw_status(Napi::Env env, debora_status status);
// Throws when status != DEBORA_OK.
inline void check(Napi::Env env, debora_status status) {
  if (status != DEBORA_OK) throw_status(env, status);
}
// Throws an error with the given code and message (for checks done in the binding itself).
[[noreturn]] void throw_error(Napi::Env env, const char* code, const std::string& message);

// A Float32Array argument: its data, its length, and the array itself (a local handle: async work keeps the array
// alive only once `value` reaches run_async, before the binding returns). Read with a
// single napi_get_typedarray_info call: unwrapping a Napi::Float32Array makes three (plus napi_is_typedarray), which
// was most of the binding's cost on small calls (cpMttkrp with 11 arrays: ~3.5 us before, measured 2026-11-30).
struct F32 {
  float* data = nullptr;
  size_t length = 0;
  Napi::Value value;  // empty when an optional argument is absent
  float* Data() const { return data; }
  size_t ElementLength() const { return length; }
  operator Napi::Value() const { return value; }  // the array itself, e.g. to return it
};
// The Float32Array at info[index]; throws DEBORA_INVALID_ARG naming `name` otherwise.
// The binding only guards against misuse of the raw addon: lib/ validates first.
F32 float32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
// The Int32Array at info[index] (index arrays such as max_pool2d's argmax), same rules.
Napi::Int32Array int32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
// A Float32Array or null/undefined (-> nullptr data, length 0).
using OptionalF32 = F32;
OptionalF32 optional_float32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
// An array of Float32Array (entries may be null when allow_null).
std::vector<OptionalF32> float32_list_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name,
                                          bool allow_null);
std::vector<int64_t> int_list_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
// Memory safety for callers that bypass lib/: a buffer shorter than the shapes say is refused
// (DEBORA_SHAPE_MISMATCH) before the kernel could read or write past it. Null buffers pass.
void need_length(Napi::Env env, size_t have, int64_t want, const char* op, const char* name, bool present = true);
// The same for element k of a list argument (the name `name[k]` is only built for the error).
void need_length(Napi::Env env, size_t have, int64_t want, const char* op, const char* name, size_t k);
// Product of sizes, or -1 if any is negative or the product overflows (then need_length refuses).
int64_t sizes_product(std::initializer_list<int64_t> sizes);
// Backend 0 (cpu) is always there; ops without a CUDA twin yet refuse backend 1 clearly.
void cpu_only(Napi::Env env, int64_t backend, const char* op);
// For ops with a CUDA twin: true for backend 1 (cuda), false for 0 (cpu); throws DEBORA_INVALID_ARG otherwise.
bool cuda_backend(Napi::Env env, int64_t backend, const char* op);

// Runs `work` (a native call returning a status) on a libuv worker thread and returns a Promise
// that resolves to undefined or rejects with the DeboraError. `keep` holds the JS buffers the
// work reads and writes alive until it finishes; JS must not touch them meanwhile (documented in
// the async wrappers). The shared CPU pool is used from the worker thread like from any caller.
Napi::Promise run_async(Napi::Env env, std::function<debora_status()> work, std::vector<Napi::Value> keep);

// An op call parsed and checked on the JS thread: `work` runs the kernel, `keep` lists the JS buffers it reads
// and writes (for run_async). One parser per op gives both of its entry points through export_op.
struct OpCall {
  std::function<debora_status()> work;
  std::vector<Napi::Value> keep;
};
using OpParser = OpCall (*)(const Napi::CallbackInfo&);

template <OpParser parse>
Napi::Value call_sync(const Napi::CallbackInfo& info) {
  check(info.Env(), parse(info).work());
  return info.Env().Undefined();
}
template <OpParser parse>
Napi::Value call_async(const Napi::CallbackInfo& info) {
  OpCall c = parse(info);
  return run_async(info.Env(), std::move(c.work), std::move(c.keep));
}
// Exports `name` (synchronous: returns undefined or throws the DeboraError) and `name`Async (a Promise).
template <OpParser parse>
void export_op(Napi::Env env, Napi::Object exports, const std::string& name) {
  exports.Set(name, Napi::Function::New(env, call_sync<parse>, name));
  exports.Set(name + "Async", Napi::Function::New(env, call_async<parse>, name + "Async"));
}

// Registration of each binding file's functions on the module exports.
void register_errors(Napi::Env env, Napi::Object exports);
void register_runtime(Napi::Env env, Napi::Object exports);
void register_cp_hypergrad(Napi::Env env, Napi::Object exports);
void register_cp_linear(Napi::Env env, Napi::Object exports);
void register_cp_conv2d(Napi::Env env, Napi::Object exports);
void register_cp_materialize(Napi::Env env, Napi::Object exports);
void register_cp_mttkrp(Napi::Env env, Napi::Object exports);
void register_cp_tangent(Napi::Env env, Napi::Object exports);
void register_gemm(Napi::Env env, Napi::Object exports);
void register_conv2d(Napi::Env env, Napi::Object exports);
void register_relu(Napi::Env env, Napi::Object exports);
void register_max_pool2d(Napi::Env env, Napi::Object exports);
void register_cuda_buffer(Napi::Env env, Napi::Object exports);

}  // namespace debora_js

#endif
