// cuda_buffer.cpp — bindings of the device-buffer API (debora_cuda_alloc / free / upload / download on
// the default CUDA context) and of cp_linear's device-pointer entries, for lib/cuda-buffer.ts:
//   cudaBufferAlloc(n) -> handle, cudaBufferFree(handle), cudaBufferUpload(handle, src, offset),
//   cudaBufferDownload(handle, dst, offset), cudaSynchronize(),
//   cpLinearFwdDev(N, nIn, nOut, r, X, U, V, s, Y, accumulate, Z|null),
//   cpLinearBwdDev(N, nIn, nOut, r, X, U, V, s, dY, Z|null, dX|null, accumulateDx, dU, dV, ds, dots|null)
// A handle is a type-tagged External owning n floats of device memory; its finalizer frees them when
// the JS object is collected (free() does it earlier). Lengths and freed handles are checked here, so
// a kernel never reads past a buffer. Tested in test/gpu/cuda-buffer.test.ts.
#include "common.h"

namespace debora_js {
namespace {

struct DeviceBuffer {
  float* p = nullptr;
  int64_t n = 0;  // floats
};

// Marks our Externals, so a foreign External is refused instead of being dereferenced.
const napi_type_tag kDeviceBufferTag = {0x6465626f72616375ull, 0x64615f6275666672ull};

DeviceBuffer* buffer_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name,
                         bool allow_null = false) {
  Napi::Value v = info[index];
  if (allow_null && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsExternal() || !v.As<Napi::External<DeviceBuffer>>().CheckTypeTag(&kDeviceBufferTag))
    throw_error(info.Env(), "DEBORA_INVALID_ARG", std::string(op) + ": expected a CudaBuffer for argument '" + name + "'");
  DeviceBuffer* b = v.As<Napi::External<DeviceBuffer>>().Data();
  if (b->p == nullptr && b->n > 0)
    throw_error(info.Env(), "DEBORA_INVALID_ARG",
                std::string(op) + ": expected a live CudaBuffer for argument '" + name + "', received a freed one");
  return b;
}

Napi::Value cuda_buffer_alloc(const Napi::CallbackInfo& info) {
  static const char* op = "cuda_alloc";
  Napi::Env env = info.Env();
  const int64_t n = int_arg(info, 0, op, "length");
  if (n < 0 || n > (int64_t{1} << 40))
    throw_error(env, "DEBORA_INVALID_ARG", "cuda_alloc: expected a length in [0, 2^40] for argument 'length'");
  void* p = nullptr;
  check(env, debora_cuda_alloc(nullptr, static_cast<size_t>(n) * sizeof(float), &p));
  auto* b = new DeviceBuffer{static_cast<float*>(p), n};
  auto ext = Napi::External<DeviceBuffer>::New(env, b, [](Napi::Env, DeviceBuffer* d) {
    debora_cuda_free(nullptr, d->p);  // a finalizer cannot throw; cudaFree only fails if the context is gone
    delete d;
  });
  ext.TypeTag(&kDeviceBufferTag);
  return ext;
}

Napi::Value cuda_buffer_free(const Napi::CallbackInfo& info) {
  DeviceBuffer* b = buffer_arg(info, 0, "cuda_free", "buffer", true);
  if (b != nullptr && b->p != nullptr) {
    float* p = b->p;
    b->p = nullptr;  // freed even if cudaFree reports an earlier asynchronous error
    check(info.Env(), debora_cuda_free(nullptr, p));
  }
  return info.Env().Undefined();
}

// Copies host[0, len) to/from device[offset, offset + len): the range must fit the buffer.
Napi::Value cuda_buffer_copy(const Napi::CallbackInfo& info, bool upload) {
  const char* op = upload ? "cuda_upload" : "cuda_download";
  Napi::Env env = info.Env();
  DeviceBuffer* b = buffer_arg(info, 0, op, "buffer");
  F32 host = float32_arg(info, 1, op, upload ? "src" : "dst");
  const int64_t offset = int_arg(info, 2, op, "offset");
  const int64_t len = static_cast<int64_t>(host.ElementLength());
  if (offset < 0 || offset > b->n || len > b->n - offset)
    throw_error(env, "DEBORA_SHAPE_MISMATCH",
                std::string(op) + ": expected " + std::to_string(len) + " floats at offset " + std::to_string(offset) +
                    " to fit a CudaBuffer of length " + std::to_string(b->n));
  const size_t bytes = static_cast<size_t>(len) * sizeof(float);
  check(env, upload ? debora_cuda_upload(nullptr, b->p + offset, host.Data(), bytes)
                    : debora_cuda_download(nullptr, host.Data(), b->p + offset, bytes));
  return env.Undefined();
}
Napi::Value cuda_buffer_upload(const Napi::CallbackInfo& info) { return cuda_buffer_copy(info, true); }
Napi::Value cuda_buffer_download(const Napi::CallbackInfo& info) { return cuda_buffer_copy(info, false); }

Napi::Value cuda_synchronize(const Napi::CallbackInfo& info) {
  check(info.Env(), debora_cuda_synchronize(nullptr));
  return info.Env().Undefined();
}

// The device pointer of a buffer that must hold `want` floats (null when absent and allowed).
float* sized(const Napi::CallbackInfo& info, size_t index, const char* op, const char* name, int64_t want,
             bool optional = false) {
  DeviceBuffer* b = buffer_arg(info, index, op, name, optional);
  if (b == nullptr) return nullptr;
  need_length(info.Env(), static_cast<size_t>(b->n), want, op, name);
  return b->p;
}

Napi::Value cp_linear_fwd_dev(const Napi::CallbackInfo& info) {
  static const char* op = "cp_linear_fwd";
  const int64_t N = int_arg(info, 0, op, "N"), ni = int_arg(info, 1, op, "nIn"), no = int_arg(info, 2, op, "nOut"),
                r = int_arg(info, 3, op, "r");
  float* X = sized(info, 4, op, "X", sizes_product({N, ni}));
  float* U = sized(info, 5, op, "U", sizes_product({no, r}));
  float* V = sized(info, 6, op, "V", sizes_product({ni, r}));
  float* s = sized(info, 7, op, "s", r);
  float* Y = sized(info, 8, op, "Y", sizes_product({N, no}));
  const bool acc = bool_arg(info, 9, op, "accumulate");
  float* Z = sized(info, 10, op, "Z", sizes_product({N, r}), true);
  check(info.Env(), debora_cp_linear_fwd_cuda_dev(nullptr, N, ni, no, r, X, U, V, s, Y, acc ? 1 : 0, Z));
  return info.Env().Undefined();
}

Napi::Value cp_linear_bwd_dev(const Napi::CallbackInfo& info) {
  static const char* op = "cp_linear_bwd";
  const int64_t N = int_arg(info, 0, op, "N"), ni = int_arg(info, 1, op, "nIn"), no = int_arg(info, 2, op, "nOut"),
                r = int_arg(info, 3, op, "r");
  float* X = sized(info, 4, op, "X", sizes_product({N, ni}));
  float* U = sized(info, 5, op, "U", sizes_product({no, r}));
  float* V = sized(info, 6, op, "V", sizes_product({ni, r}));
  float* s = sized(info, 7, op, "s", r);
  float* dY = sized(info, 8, op, "dY", sizes_product({N, no}));
  float* Z = sized(info, 9, op, "Z", sizes_product({N, r}), true);
  float* dX = sized(info, 10, op, "dX", sizes_product({N, ni}), true);
  const bool acc = bool_arg(info, 11, op, "accumulateDx");
  float* dU = sized(info, 12, op, "dU", sizes_product({no, r}));
  float* dV = sized(info, 13, op, "dV", sizes_product({ni, r}));
  float* ds = sized(info, 14, op, "ds", r);
  float* dots = sized(info, 15, op, "dots", r, true);
  check(info.Env(),
        debora_cp_linear_bwd_cuda_dev(nullptr, N, ni, no, r, X, U, V, s, dY, Z, dX, acc ? 1 : 0, dU, dV, ds, dots));
  return info.Env().Undefined();
}

}  // namespace

void register_cuda_buffer(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaBufferAlloc", Napi::Function::New(env, cuda_buffer_alloc, "cudaBufferAlloc"));
  exports.Set("cudaBufferFree", Napi::Function::New(env, cuda_buffer_free, "cudaBufferFree"));
  exports.Set("cudaBufferUpload", Napi::Function::New(env, cuda_buffer_upload, "cudaBufferUpload"));
  exports.Set("cudaBufferDownload", Napi::Function::New(env, cuda_buffer_download, "cudaBufferDownload"));
  exports.Set("cudaSynchronize", Napi::Function::New(env, cuda_synchronize, "cudaSynchronize"));
  exports.Set("cpLinearFwdDev", Napi::Function::New(env, cp_linear_fwd_dev, "cpLinearFwdDev"));
  exports.Set("cpLinearBwdDev", Napi::Function::New(env, cp_linear_bwd_dev, "cpLinearBwdDev"));
}

}  // namespace debora_js
