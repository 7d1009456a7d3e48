/* cuda_runtime.h (CPU emulator) — stands in for the CUDA runtime and device builtins so the native/cuda sources
 * compile as plain C++ (-DDEBORA_CUDA_EMU) and run on the CPU: a thread block is real OS threads (so
 * ThreadSanitizer sees missing barriers), __syncthreads a barrier, warp shuffles a per-warp barrier and
 * exchange, cp.async copies complete only at cp.async.wait_group (so reading a stage early shows),
 * dynamic shared memory starts as NaN bytes, and device memory is malloc'd (so AddressSanitizer is a
 * memcheck). Only what debora's kernels use. It checks logic and indexing, not speed or the real
 * memory model: the real check is bench/gpu-check.sh on a GPU. Used by test/gpu/emu/CMakeLists.txt. */
#ifndef DEBORA_CUDA_EMU_RUNTIME_H
#define DEBORA_CUDA_EMU_RUNTIME_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

/* ---- qualifiers and builtin types ----------------------------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)
#define CUDART_VERSION 13000

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
struct float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

/* ---- runtime API ---------------------------------------------------------------------------------- */
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorLaunchOutOfResources = 701,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum cudaMemoryType { cudaMemoryTypeUnregistered = 0, cudaMemoryTypeHost = 1, cudaMemoryTypeDevice = 2, cudaMemoryTypeManaged = 3 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
constexpr unsigned cudaStreamNonBlocking = 1;

struct CUstream_st;
typedef CUstream_st* cudaStream_t;

struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor, multiProcessorCount;
};

const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p);
cudaError_t emu_func_set_attribute(const void* f, cudaFuncAttribute a, int v);
template <class F>
cudaError_t cudaFuncSetAttribute(F f, cudaFuncAttribute a, int v) {
  return emu_func_set_attribute(reinterpret_cast<const void*>(f), a, v);
}

/* ---- device side ---------------------------------------------------------------------------------- */
namespace debora_emu {

extern thread_local uint3 t_threadIdx, t_blockIdx;
extern thread_local dim3 t_blockDim, t_gridDim;

void syncthreads();
float shfl_xor(float v, int lane_mask);
void* dynamic_smem_raw();
template <class T>
T* dynamic_smem() {
  return static_cast<T*>(dynamic_smem_raw());
}
void cp_async(void* smem, const void* gmem, int bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int n);

/* Runs `body` once per thread of every block of the grid (blocks one after the other, each block's
 * threads concurrently); records a launch error (cudaGetLastError) instead for a bad configuration. */
void run_grid(const void* kernel, dim3 grid, dim3 block, size_t smem, void (*body)(void*), void* ctx);

template <class... P>
struct Launcher {
  void (*kernel)(P...);
  dim3 grid, block;
  size_t smem;
  template <class... A>
  void operator()(A&&... a) const {
    std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
    struct Ctx {
      void (*k)(P...);
      std::tuple<std::decay_t<P>...>* args;
    } ctx{kernel, &args};
    run_grid(reinterpret_cast<const void*>(kernel), grid, block, smem,
             [](void* p) {
               Ctx* c = static_cast<Ctx*>(p);
               std::apply(c->k, *c->args);
             },
             &ctx);
  }
};
template <class... P>
Launcher<P...> launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t) {
  return Launcher<P...>{kernel, grid, block, smem};
}

}  // namespace debora_emu

#define threadIdx (::debora_emu::t_threadIdx)
#define blockIdx (::debora_emu::t_blockIdx)
#define blockDim (::debora_emu::t_blockDim)
#define gridDim (::debora_emu::t_gridDim)
#define __syncthreads() ::debora_emu::syncthreads()
#define __shfl_xor_sync(mask, v, o) ::debora_emu::shfl_xor((v), (o))

#endif
