/* common.cuh — the small kernels the CUDA op files share around their passes (pass.cuh): finishing
 * an r-wide row intermediate (sum of its column-tile partials, scale by s, zero padding, partial
 * sums of ds), summing row-chunk partials into a factor gradient, and the final ds / dots. Every
 * reduction runs in a fixed order (deterministic on a device); the small ones in double.
 * Included by native/cuda/<op>.cu (internal linkage); tested through test/gpu/parity.cpp. */
#ifndef DEBORA_CUDA_COMMON_CUH
#define DEBORA_CUDA_COMMON_CUH

#include <cstdint>

#include "pass.cuh"

namespace debora {
namespace cuda {
namespace {

constexpr int kThreads = 256;  // block size of the small kernels (a power of two: block_sum)

/* Sum over the block in a fixed tree order; every thread gets the result. */
template <class T>
__device__ T block_sum(T v, T* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o >>= 1) {
    if (static_cast<int>(threadIdx.x) < o) sh[threadIdx.x] += sh[threadIdx.x + o];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}

inline unsigned grid_for(int64_t n, int64_t per_block) {
  const int64_t b = (n + per_block - 1) / per_block;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 0x7fffffff ? 0x7fffffff : b));
}

/* ---- finishing a rank tile of an N x RT row intermediate ------------------------------------------
 * v[n, i] = sum over parts p of parts[p * part_stride + n * ldp + i]   (i < nr; 0 in the padding)
 * plain[n * ld_plain + i] = v (i < nr, or i < width when ld_plain >= width: padded, zeros kept)
 * scaled[n * width + i] = v * s[i]  (0 in the padding);  dspart[blk * ldds + i] = sum_n dotwith * v */
struct FinishRows {
  int64_t rows = 0;
  int width = 0, nr = 0;
  int nparts = 1;
  const float* parts = nullptr;
  int64_t part_stride = 0, ldp = 0;
  const float* s = nullptr;
  float* plain = nullptr;
  int64_t ld_plain = 0;
  bool plain_padded = false;
  float* scaled = nullptr;
  const float* dotwith = nullptr;  // rows x width
  double* dspart = nullptr;
  int64_t ldds = 0;
  int64_t rows_per_block = 0;
};

__global__ void __launch_bounds__(kThreads) finish_rows_kernel(const FinishRows f) {
  __shared__ double sh[kThreads];
  const int t = threadIdx.x;
  const int ipb = f.width < kThreads ? f.width : kThreads;  // width <= 32 in practice
  const int rpi = kThreads / ipb;
  const int i = t % ipb, sub = t / ipb;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * f.rows_per_block;
  const int64_t r1 = min64(f.rows, r0 + f.rows_per_block);
  double acc = 0.0;
  if (sub < rpi) {
    for (int64_t n = r0 + sub; n < r1; n += rpi) {
      float v = 0.0f;
      if (i < f.nr)
        for (int p = 0; p < f.nparts; ++p) v += f.parts[p * f.part_stride + n * f.ldp + i];
      if (f.plain != nullptr && (i < f.nr || f.plain_padded)) f.plain[n * f.ld_plain + i] = v;
      if (f.scaled != nullptr) f.scaled[n * f.width + i] = i < f.nr ? v * f.s[i] : 0.0f;
      if (f.dotwith != nullptr) acc += static_cast<double>(f.dotwith[n * f.width + i]) * static_cast<double>(v);
    }
  }
  if (f.dspart != nullptr) {
    sh[t] = acc;
    __syncthreads();
    if (t < ipb && t < f.nr) {
      double sum = 0.0;
      for (int k = 0; k < rpi; ++k) sum += sh[k * ipb + t];
      f.dspart[blockIdx.x * f.ldds + t] = sum;
    }
  }
}

/* Blocks of finish_rows for `rows` rows: fixed by the shape and the device, the same for every rank
 * tile, so ds partials of all tiles share one [blocks x r] layout. */
inline int64_t finish_blocks(const Ctx* c, int64_t rows) {
  const int64_t per = max64(64, (rows + 4 * c->sms - 1) / (4 * int64_t{c->sms}));
  return rows > 0 ? (rows + per - 1) / per : 0;
}

inline debora_status run_finish_rows(const char* op, Ctx* c, FinishRows f) {
  if (f.rows == 0) return DEBORA_OK;
  const int64_t blocks = finish_blocks(c, f.rows);
  f.rows_per_block = (f.rows + blocks - 1) / blocks;
  DEBORA_LAUNCH(finish_rows_kernel, static_cast<unsigned>(blocks), kThreads, 0, c->stream)(f);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* ---- summing row-chunk partials into a (tile of a) factor gradient ---------------------------------
 * out[row * ldo + i] = (sum_p parts[p * part_stride + row * ldp + i]) * (scale ? scale[i] : 1), i < nr,
 * summed in double in part order. */
struct SumRows {
  int64_t rows = 0;
  int nr = 0;
  int nparts = 1;
  const float* parts = nullptr;
  int64_t part_stride = 0, ldp = 0;
  float* out = nullptr;
  int64_t ldo = 0;
  const float* scale = nullptr;
};

__global__ void __launch_bounds__(kThreads) sum_rows_kernel(const SumRows a) {
  const int64_t total = a.rows * a.nr;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = e / a.nr;
    const int i = static_cast<int>(e % a.nr);
    double acc = 0.0;
    for (int p = 0; p < a.nparts; ++p) acc += a.parts[p * a.part_stride + row * a.ldp + i];
    a.out[row * a.ldo + i] = static_cast<float>(a.scale != nullptr ? acc * a.scale[i] : acc);
  }
}

inline debora_status run_sum_rows(const char* op, Ctx* c, const SumRows& a) {
  if (a.rows * a.nr == 0) return DEBORA_OK;
  DEBORA_LAUNCH(sum_rows_kernel, grid_for(a.rows * a.nr, kThreads), kThreads, 0, c->stream)(a);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* out[e] = sum_p parts[p * stride + e] (float, part order), e < n. */
__global__ void __launch_bounds__(kThreads) sum_flat_kernel(int64_t n, int nparts, const float* parts, int64_t stride,
                                                            float* out) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = 0.0f;
    for (int p = 0; p < nparts; ++p) v += parts[p * stride + e];
    out[e] = v;
  }
}

inline debora_status run_sum_flat(const char* op, Ctx* c, int64_t n, int nparts, const float* parts, int64_t stride,
                                  float* out) {
  if (n == 0) return DEBORA_OK;
  DEBORA_LAUNCH(sum_flat_kernel, grid_for(n, kThreads), kThreads, 0, c->stream)(n, nparts, parts, stride, out);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* ---- ds and dots ------------------------------------------------------------------------------------
 * One block per rank i: ds[i] = sum_b dspart[b * ldds + i] (when ds), and
 * dots[i] = sum_k <U_k[:, i], dU_k[:, i]> over the factor / gradient pairs (row-major rows x r). */
constexpr int kMaxPairs = 6;
struct DsDots {
  int64_t r = 0;
  const double* dspart = nullptr;
  int64_t nblk = 0, ldds = 0;
  float* ds = nullptr;
  float* dots = nullptr;
  int npairs = 0;
  const float* U[kMaxPairs] = {nullptr};
  const float* dU[kMaxPairs] = {nullptr};
  int64_t rows[kMaxPairs] = {0};
};

__global__ void __launch_bounds__(kThreads) ds_dots_kernel(const DsDots a) {
  __shared__ double sh[kThreads];
  const int64_t i = blockIdx.x;
  if (a.ds != nullptr) {
    double v = 0.0;
    for (int64_t b = threadIdx.x; b < a.nblk; b += blockDim.x) v += a.dspart[b * a.ldds + i];
    v = block_sum(v, sh);
    if (threadIdx.x == 0) a.ds[i] = static_cast<float>(v);
  }
  if (a.dots != nullptr) {
    double v = 0.0;
    for (int k = 0; k < a.npairs; ++k)
      for (int64_t j = threadIdx.x; j < a.rows[k]; j += blockDim.x)
        v += static_cast<double>(a.U[k][j * a.r + i]) * static_cast<double>(a.dU[k][j * a.r + i]);
    v = block_sum(v, sh);
    if (threadIdx.x == 0) a.dots[i] = static_cast<float>(v);
  }
}

inline debora_status run_ds_dots(const char* op, Ctx* c, const DsDots& a) {
  if (a.r == 0 || (a.ds == nullptr && a.dots == nullptr)) return DEBORA_OK;
  DEBORA_LAUNCH(ds_dots_kernel, static_cast<unsigned>(a.r), kThreads, 0, c->stream)(a);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* Host-variant helpers: copy host arrays in and out on the context's stream. */
inline debora_status h2d(const char* op, Ctx* c, void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || src == nullptr) return DEBORA_OK;
  DEBORA_CUDA_TRY(op, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
  return DEBORA_OK;
}
inline debora_status d2h(const char* op, Ctx* c, void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == nullptr) return DEBORA_OK;
  DEBORA_CUDA_TRY(op, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
  return DEBORA_OK;
}

}  // namespace
}  // namespace cuda
}  // namespace debora

#define DEBORA_TRY(expr)                       \
  do {                                         \
    const debora_status debora_st_ = (expr);   \
    if (debora_st_ != DEBORA_OK) return debora_st_; \
  } while (0)

#endif
