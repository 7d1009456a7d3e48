// errors.cpp — native status -> JS error. lib/errors.ts registers its DeboraError class once at
// load (setErrorClass) so errors from the addon are `instanceof DeboraError` with a stable .code;
// before that, a plain Error with the same name and code is thrown. Tested in test/native/errors.test.ts.
#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "common.h"

namespace debora_js {
namespace {

struct InstanceData {
  Napi::FunctionReference error_class;
};

InstanceData& data(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", "setErrorClass: expected a function for argument 'cls'");
  data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value status_codes(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env(), DEBORA_STATUS_COUNT);
  for (uint32_t i = 0; i < DEBORA_STATUS_COUNT; ++i)
    out.Set(i, Napi::String::New(info.Env(), debora_status_name(static_cast<debora_status>(i))));
  return out;
}

// Deliberately throws a C++ exception that is not a Napi::Error, to prove (in a test) that the
// build catches every exception at the boundary instead of aborting the process.
Napi::Value throw_native_exception(const Napi::CallbackInfo&) { throw std::runtime_error("deliberate test exception"); }

}  // namespace

void throw_error(Napi::Env env, const char* code, const std::string& message) {
  InstanceData* d = env.GetInstanceData<InstanceData>();
  Napi::Object err;
  if (d != nullptr && !d->error_class.IsEmpty()) {
    err = d->error_class.New({Napi::String::New(env, message), Napi::String::New(env, code)});
  } else {
    err = Napi::Error::New(env, message).Value();
    err.Set("name", "DeboraError");
    err.Set("code", code);
  }
  throw Napi::Error(env, err);
}

void throw_status(Napi::Env env, debora_status status) {
  std::string msg = debora_last_error();
  if (msg.empty()) msg = std::string("native call failed with ") + debora_status_name(status);
  throw_error(env, debora_status_name(status), msg);
}

namespace {
// True when v is a Float32Array, with *out filled; one napi_get_typedarray_info call, which fails (without a
// pending JS exception) for anything that is not a typed array.
bool read_f32(napi_env env, napi_value v, F32* out) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float32_array)
    return false;
  *out = {static_cast<float*>(data), length, Napi::Value(env, v)};
  return true;
}
}  // namespace

F32 float32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  F32 a;
  if (info.Length() <= index || !read_f32(info.Env(), info[index], &a))
    throw_error(info.Env(), "DEBORA_INVALID_ARG",
                std::string(op) + ": expected a Float32Array for argument '" + name + "'");
  return a;
}

Napi::Int32Array int32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected an Int32Array for argument '" + name + "'");
  return info[index].As<Napi::Int32Array>();
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected an integer for argument '" + name + "'");
  double v = info[index].As<Napi::Number>().DoubleValue();
  // Range first: casting NaN, Inf or |v| >= 2^63 to int64 is undefined behaviour.
  if (!(std::fabs(v) <= 9007199254740992.0) || v != std::trunc(v))
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected an integer for argument '" + name + "'");
  return static_cast<int64_t>(v);
}

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsString())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected a string for argument '" + name + "'");
  return info[index].As<Napi::String>().Utf8Value();
}

OptionalF32 optional_float32_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || info[index].IsNull() || info[index].IsUndefined()) return {};
  return float32_arg(info, index, op, name);
}

std::vector<OptionalF32> float32_list_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name,
                                          bool allow_null) {
  if (info.Length() <= index || !info[index].IsArray())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected an array of Float32Array for argument '" + name + "'");
  Napi::Array arr = info[index].As<Napi::Array>();
  const uint32_t n = arr.Length(); /* one napi call, not one per element */
  std::vector<OptionalF32> out(n);
  for (uint32_t k = 0; k < n; ++k) {
    Napi::Value v = arr.Get(k);
    if (allow_null && (v.IsNull() || v.IsUndefined())) continue;
    if (!read_f32(info.Env(), v, &out[k]))
      throw_error(info.Env(), "DEBORA_INVALID_ARG",
                  std::string(op) + ": expected a Float32Array for argument '" + name + "[" + std::to_string(k) + "]'");
  }
  return out;
}

std::vector<int64_t> int_list_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsArray())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected an array of integers for argument '" + name + "'");
  Napi::Array arr = info[index].As<Napi::Array>();
  const uint32_t n = arr.Length();
  std::vector<int64_t> out(n);
  for (uint32_t k = 0; k < n; ++k) {
    Napi::Value v = arr.Get(k);
    double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.5;
    if (!(std::fabs(x) <= 9007199254740992.0) || x != std::trunc(x))
      throw_error(info.Env(), "DEBORA_INVALID_ARG",
                  std::string(op) + ": expected an integer for argument '" + name + "[" + std::to_string(k) + "]'");
    out[k] = static_cast<int64_t>(x);
  }
  return out;
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name) {
  if (info.Length() <= index || !info[index].IsBoolean())
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected a boolean for argument '" + name + "'");
  return info[index].As<Napi::Boolean>().Value();
}

void need_length(Napi::Env env, size_t have, int64_t want, const char* op, const char* name, bool present) {
  if (!present) return;
  if (want < 0 || static_cast<int64_t>(have) != want)
    throw_error(env, "DEBORA_SHAPE_MISMATCH",
                std::string(op) + ": expected a Float32Array of length " + std::to_string(want) + " for argument '" + name +
                    "', received length " + std::to_string(have));
}

void need_length(Napi::Env env, size_t have, int64_t want, const char* op, const char* name, size_t k) {
  if (want < 0 || static_cast<int64_t>(have) != want)
    need_length(env, have, want, op, (std::string(name) + "[" + std::to_string(k) + "]").c_str());
}

int64_t sizes_product(std::initializer_list<int64_t> sizes) {
  int64_t p = 1;
  for (int64_t v : sizes) {
    if (v < 0) return -1;
    if (v != 0 && p > INT64_MAX / v) return -1;
    p *= v;
  }
  return p;
}

bool cuda_backend(Napi::Env env, int64_t backend, const char* op) {
  if (backend == 0 || backend == 1) return backend == 1;
  throw_error(env, "DEBORA_INVALID_ARG", std::string(op) + ": expected backend 0 (cpu) or 1 (cuda) for argument 'backend'");
}

void cpu_only(Napi::Env env, int64_t backend, const char* op) {
  if (backend == 0) return;
  if (backend == 1)
    throw_error(env, "DEBORA_NOT_IMPLEMENTED", std::string(op) + ": the CUDA kernel is not implemented yet; use backend 'cpu'");
  throw_error(env, "DEBORA_INVALID_ARG", std::string(op) + ": expected backend 0 (cpu) or 1 (cuda) for argument 'backend'");
}

namespace {

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::function<debora_status()> work, std::vector<Napi::Value> keep)
      : Napi::AsyncWorker(env, "debora:op"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& v : keep)
      if (v.IsObject()) keep_.push_back(Napi::Persistent(v));  // null = optional buffer not given
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    status_ = work_();  // native code never throws; a status comes back
    if (status_ != DEBORA_OK) {
      message_ = debora_last_error();  // thread-local: read it on this worker thread
      if (message_.empty()) message_ = std::string("native call failed with ") + debora_status_name(status_);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_ == DEBORA_OK) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    try {
      throw_error(env, debora_status_name(status_), message_);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<debora_status()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  debora_status status_ = DEBORA_OK;
  std::string message_;
};

}  // namespace

Napi::Promise run_async(Napi::Env env, std::function<debora_status()> work, std::vector<Napi::Value> keep) {
  auto* w = new OpWorker(env, std::move(work), std::move(keep));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

void register_errors(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new InstanceData());
  exports.Set("setErrorClass", Napi::Function::New(env, set_error_class, "setErrorClass"));
  exports.Set("statusCodes", Napi::Function::New(env, status_codes, "statusCodes"));
  exports.Set("throwNativeException", Napi::Function::New(env, throw_native_exception, "throwNativeException"));
}

}  // namespace debora_js
