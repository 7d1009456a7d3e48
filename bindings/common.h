// common.h — shared pieces of the N-API glue: turning a native status into a JS error of the
// class lib/errors.ts registered (with a stable `.code`), and unwrapping typed-array arguments.
// No math lives in bindings/. Tested through every binding in test/native.
#ifndef DEBORA_BINDINGS_COMMON_H
#define DEBORA_BINDINGS_COMMON_H

#include <napi.h>

#include <string>

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

// The Float32Array at info[index]; throws DEBORA_INVALID_ARG naming `name` otherwise.
// The binding only guards against misuse of the raw addon: lib/ validates first.
Napi::Float32Array float32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);
std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name);

// Registration of each binding file's functions on the module exports.
void register_errors(Napi::Env env, Napi::Object exports);
void register_runtime(Napi::Env env, Napi::Object exports);
void register_cp_hypergrad(Napi::Env env, Napi::Object exports);

}  // namespace debora_js

#endif
