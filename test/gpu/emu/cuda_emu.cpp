/* cuda_emu.cpp — the CPU emulator behind test/gpu/emu/cuda_runtime.h: device memory registry, one
 * synchronous "stream", and the block executor (a persistent pool of OS threads, one per thread of the
 * block, with barriers for __syncthreads and warp shuffles). Knobs (environment): DEBORA_EMU_SMS
 * (multiprocessors reported, default 3: grids stay small but partial sums still happen),
 * DEBORA_EMU_SMEM (opt-in shared memory per block, default 232448 as on an H100/H200).
 * Used by the emulated parity build (test/gpu/emu/CMakeLists.txt). */
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda_runtime.h"

struct CUstream_st {
  int id;
};

namespace {

std::mutex g_mem_mu;
std::map<uintptr_t, size_t> g_allocs;  // device allocations: base -> bytes
std::map<const void*, int> g_smem_limit;
thread_local cudaError_t g_last = cudaSuccess;

int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}

bool is_device(const void* p) {
  std::lock_guard<std::mutex> l(g_mem_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return false;
  --it;
  return a >= it->first && a < it->first + it->second;
}

/* A reusable barrier whose participant count drops as threads exit (exited threads count as arrived,
 * as on the hardware). mutex + condition variable: ThreadSanitizer sees the ordering. */
struct Barrier {
  std::mutex m;
  std::condition_variable cv;
  int participants = 0, arrived = 0;
  uint64_t gen = 0;
  void reset(int n) {
    participants = n;
    arrived = 0;
  }
  void sync() {
    std::unique_lock<std::mutex> l(m);
    const uint64_t g = gen;
    if (++arrived == participants) {
      arrived = 0;
      ++gen;
      cv.notify_all();
    } else {
      cv.wait(l, [&] { return gen != g; });
    }
  }
  void leave() {
    std::unique_lock<std::mutex> l(m);
    --participants;
    if (arrived > 0 && arrived == participants) {
      arrived = 0;
      ++gen;
      cv.notify_all();
    }
  }
};

struct Block {
  int nthreads = 0;
  std::vector<unsigned char> smem;
  Barrier bar;
  std::vector<Barrier> warp_bar;
  std::vector<float> slots;
};
Block* g_block = nullptr;

struct Copy {
  void* dst;
  const void* src;
  int bytes, src_bytes;
};
thread_local std::vector<Copy> t_copies;
thread_local std::vector<size_t> t_groups;  // end index in t_copies of each committed group

void complete_copies(size_t upto) {
  for (size_t i = 0; i < upto; ++i) {
    const Copy& c = t_copies[i];
    if (c.src_bytes > 0) std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_bytes));
    if (c.bytes > c.src_bytes) std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, static_cast<size_t>(c.bytes - c.src_bytes));
  }
  t_copies.erase(t_copies.begin(), t_copies.begin() + static_cast<std::ptrdiff_t>(upto));
  for (auto& g : t_groups) g -= std::min(g, upto);
}

/* Persistent workers; run(n, f) runs f(0..n-1) on n distinct threads at once (blocks need all of
 * their threads alive together for the barriers). */
class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void run(int n, const std::function<void(int)>& f) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
    std::unique_lock<std::mutex> l(m_);
    job_ = &f;
    njob_ = n;
    next_ = 0;
    finished_ = 0;
    cv_.notify_all();
    done_.wait(l, [&] { return finished_ == njob_; });
    job_ = nullptr;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || (job_ != nullptr && next_ < njob_); });
      if (stop_) return;
      const int tid = next_++;
      const std::function<void(int)>* f = job_;
      l.unlock();
      (*f)(tid);
      l.lock();
      if (++finished_ == njob_) done_.notify_all();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int njob_ = 0, next_ = 0, finished_ = 0;
  bool stop_ = false;
};
Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

namespace debora_emu {

thread_local uint3 t_threadIdx, t_blockIdx;
thread_local dim3 t_blockDim, t_gridDim;

void syncthreads() { g_block->bar.sync(); }

float shfl_xor(float v, int lane_mask) {
  const int tid = static_cast<int>(t_threadIdx.x), warp = tid / 32, lane = tid % 32;
  Block* b = g_block;
  b->slots[tid] = v;
  b->warp_bar[warp].sync();
  const int partner = warp * 32 + (lane ^ lane_mask);
  if (partner >= b->nthreads) {
    std::fprintf(stderr, "emu: __shfl_xor_sync reads lane %d of a partial warp\n", lane ^ lane_mask);
    std::abort();
  }
  const float r = b->slots[partner];
  b->warp_bar[warp].sync();
  return r;
}

void* dynamic_smem_raw() { return g_block->smem.data(); }

void cp_async(void* smem, const void* gmem, int bytes, int src_bytes) {
  if (src_bytes > 0 && !is_device(gmem)) {
    std::fprintf(stderr, "emu: cp.async from %p, which is not device memory\n", gmem);
    std::abort();
  }
  if (reinterpret_cast<uintptr_t>(smem) % static_cast<uintptr_t>(bytes) != 0 ||
      reinterpret_cast<uintptr_t>(gmem) % static_cast<uintptr_t>(bytes) != 0) {
    std::fprintf(stderr, "emu: cp.async of %d bytes with a misaligned address\n", bytes);
    std::abort();
  }
  t_copies.push_back({smem, gmem, bytes, src_bytes});
}
void cp_async_commit() { t_groups.push_back(t_copies.size()); }
void cp_async_wait(int n) {
  const size_t g = t_groups.size();
  if (g <= static_cast<size_t>(n)) return;
  const size_t upto = t_groups[g - static_cast<size_t>(n) - 1];
  t_groups.erase(t_groups.begin(), t_groups.begin() + static_cast<std::ptrdiff_t>(g - static_cast<size_t>(n)));
  complete_copies(upto);
}

void run_grid(const void* kernel, dim3 grid, dim3 block, size_t smem, void (*body)(void*), void* ctx) {
  const uint64_t nthreads = uint64_t{block.x} * block.y * block.z;
  size_t limit = 48 << 10;
  {
    std::lock_guard<std::mutex> l(g_mem_mu);
    auto it = g_smem_limit.find(kernel);
    if (it != g_smem_limit.end()) limit = static_cast<size_t>(it->second);
  }
  if (nthreads == 0 || nthreads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu ||
      grid.y > 65535 || grid.z > 65535 || block.y != 1 || block.z != 1) {
    g_last = cudaErrorInvalidConfiguration;
    return;
  }
  if (smem > limit) {
    g_last = cudaErrorInvalidValue;
    return;
  }
  Block b;
  b.nthreads = static_cast<int>(nthreads);
  b.smem.assign(smem + 16, 0xff);  // NaN bytes: a read of shared memory nobody wrote shows
  b.slots.assign(nthreads, 0.0f);
  b.warp_bar = std::vector<Barrier>((nthreads + 31) / 32);
  for (size_t w = 0; w < b.warp_bar.size(); ++w) b.warp_bar[w].reset(static_cast<int>(std::min<uint64_t>(32, nthreads - 32 * w)));
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        b.bar.reset(b.nthreads);
        for (size_t w = 0; w < b.warp_bar.size(); ++w)
          b.warp_bar[w].reset(static_cast<int>(std::min<uint64_t>(32, nthreads - 32 * w)));
        std::fill(b.smem.begin(), b.smem.end(), 0xff);
        g_block = &b;
        pool().run(b.nthreads, [&](int tid) {
          t_threadIdx = {static_cast<unsigned>(tid), 0, 0};
          t_blockIdx = {x, y, z};
          t_blockDim = block;
          t_gridDim = grid;
          t_copies.clear();
          t_groups.clear();
          body(ctx);
          complete_copies(t_copies.size());  // a thread's outstanding copies land when it exits
          t_groups.clear();
          b.warp_bar[tid / 32].leave();
          b.bar.leave();
        });
        g_block = nullptr;
      }
}

}  // namespace debora_emu

/* ---- runtime API ---------------------------------------------------------------------------------- */

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }
cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}
cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return cudaErrorInvalidValue;
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "debora CPU emulator");
  p->totalGlobalMem = size_t{80} << 30;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = env_int("DEBORA_EMU_SMS", 3);
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  if (d != 0) return cudaErrorInvalidValue;
  *v = a == cudaDevAttrMultiProcessorCount ? env_int("DEBORA_EMU_SMS", 3) : env_int("DEBORA_EMU_SMEM", 232448);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new CUstream_st{1};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (bytes > (size_t{64} << 30)) return cudaErrorMemoryAllocation;
  *p = std::malloc(bytes == 0 ? 1 : bytes);
  if (*p == nullptr) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xff, bytes);  // fresh device memory holds NaN bytes here (garbage on a GPU)
  std::lock_guard<std::mutex> l(g_mem_mu);
  g_allocs[reinterpret_cast<uintptr_t>(*p)] = bytes == 0 ? 1 : bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  {
    std::lock_guard<std::mutex> l(g_mem_mu);
    if (g_allocs.erase(reinterpret_cast<uintptr_t>(p)) == 0) return cudaErrorInvalidValue;
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (bytes > 0 && ((dst_dev && !is_device(dst)) || (src_dev && !is_device(src)) || (!dst_dev && is_device(dst)) ||
                    (!src_dev && is_device(src))))
    return cudaErrorInvalidValue;
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  if (bytes > 0 && !is_device(dst)) return cudaErrorInvalidValue;
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  *free_b = size_t{64} << 30;
  *total_b = size_t{80} << 30;
  return cudaSuccess;
}
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  std::memset(a, 0, sizeof *a);
  a->type = is_device(p) ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
  a->device = is_device(p) ? 0 : -2;
  return cudaSuccess;
}
cudaError_t emu_func_set_attribute(const void* f, cudaFuncAttribute, int v) {
  if (v > env_int("DEBORA_EMU_SMEM", 232448)) return cudaErrorInvalidValue;
  std::lock_guard<std::mutex> l(g_mem_mu);
  g_smem_limit[f] = v;
  return cudaSuccess;
}
