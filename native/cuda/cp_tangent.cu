/* cp_tangent.cu — CUDA twin of native/cpu/cp_tangent.cpp (op cp_tangent): the tangent projection of a
 * factor gradient G (n x r) at U for its geometry, and dots[i] += <U_i, out_i>:
 *   euclidean  out = G;   oblique  out_i = G_i - U_i <U_i, G_i>;   stiefel  out = G - U sym(U^T G)
 * with the element formulas of debora/math.h. Reductions (column dots, the Gram matrix U^T G, the
 * dots) run in double over row chunks fixed by the shape and device, summed in chunk order, so the
 * result is bitwise repeatable; out may be G itself (each element is read, then written, by one
 * thread, after the reductions it needs have finished). The work is O(n r^2) at most: small next to
 * the adapter passes, so these are plain one-thread-per-element kernels.
 * Tested against the CPU twin in test/gpu/parity.cpp. */
#include "../cpu/cp_dense_common.h"
#include "common.cuh"
#include "debora/math.h"

namespace debora {
namespace cuda {
namespace {

/* Rows per chunk: about four chunks per multiprocessor, at least 64 rows. */
int64_t chunk_rows(const Ctx* c, int64_t n) { return max64(64, (n + 4 * c->sms - 1) / (4 * int64_t{c->sms})); }

/* Thread layout of the per-column kernels: ipb columns x rpi rows per block (grid.y over columns). */
struct ColLayout {
  int ipb, rpi;
};
__device__ __forceinline__ ColLayout col_layout(int64_t r) {
  const int ipb = r < kThreads ? static_cast<int>(r) : kThreads;
  return {ipb, kThreads / ipb};
}

/* parts[chunk * r + i] = sum over the chunk's rows of U[j, i] * W[j, i] (W = G for the column dots,
 * out for dots). */
__global__ void __launch_bounds__(kThreads) col_dots_kernel(int64_t n, int64_t r, const float* U, const float* W,
                                                            int64_t rows, double* parts) {
  __shared__ double sh[kThreads];
  const ColLayout L = col_layout(r);
  const int t = threadIdx.x, sub = t / L.ipb;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * L.ipb + t % L.ipb;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * rows, j1 = min64(n, j0 + rows);
  double acc = 0.0;
  if (sub < L.rpi && i < r)
    for (int64_t j = j0 + sub; j < j1; j += L.rpi) acc += static_cast<double>(U[j * r + i]) * static_cast<double>(W[j * r + i]);
  sh[t] = acc;
  __syncthreads();
  if (t < L.ipb && i < r) {
    double s = 0.0;
    for (int k = 0; k < L.rpi; ++k) s += sh[k * L.ipb + t];
    parts[blockIdx.x * r + i] = s;
  }
}

/* out[i] = sum_c parts[c * len + i] (chunk order). */
__global__ void __launch_bounds__(kThreads) sum_chunks_kernel(int64_t len, int64_t nch, const double* parts, double* out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < len;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (int64_t c = 0; c < nch; ++c) s += parts[c * len + i];
    out[i] = s;
  }
}

/* dots[i] = accumulate_dot(dots[i], sum_c parts[c * r + i]). */
__global__ void __launch_bounds__(kThreads) dots_kernel(int64_t r, int64_t nch, const double* parts, float* dots) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < r;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (int64_t c = 0; c < nch; ++c) s += parts[c * r + i];
    dots[i] = accumulate_dot(dots[i], s);
  }
}

/* out = oblique projection with column dots cdot; parts (if any) = chunk sums of U . out. G and out
 * may be the same array (not __restrict__). */
__global__ void __launch_bounds__(kThreads) oblique_kernel(int64_t n, int64_t r, const float* __restrict__ U,
                                                           const float* G, const double* __restrict__ cdot,
                                                           float* out, int64_t rows, double* parts) {
  __shared__ double sh[kThreads];
  const ColLayout L = col_layout(r);
  const int t = threadIdx.x, sub = t / L.ipb;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * L.ipb + t % L.ipb;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * rows, j1 = min64(n, j0 + rows);
  double acc = 0.0;
  if (sub < L.rpi && i < r) {
    const double c = cdot[i];
    for (int64_t j = j0 + sub; j < j1; j += L.rpi) {
      const float u = U[j * r + i];
      const float o = oblique_component(G[j * r + i], u, c);
      out[j * r + i] = o;
      acc += static_cast<double>(u) * static_cast<double>(o);
    }
  }
  if (parts == nullptr) return;
  sh[t] = acc;
  __syncthreads();
  if (t < L.ipb && i < r) {
    double s = 0.0;
    for (int k = 0; k < L.rpi; ++k) s += sh[k * L.ipb + t];
    parts[blockIdx.x * r + i] = s;
  }
}

/* parts[chunk * r * r + a * r + b] = sum over the chunk's rows of U[j, a] G[j, b] (grid.y over pairs). */
__global__ void __launch_bounds__(kThreads) gram_kernel(int64_t n, int64_t r, const float* __restrict__ U,
                                                        const float* __restrict__ G, int64_t rows, double* parts) {
  const int64_t p = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (p >= r * r) return;
  const int64_t a = p / r, b = p % r;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * rows, j1 = min64(n, j0 + rows);
  double acc = 0.0;
  for (int64_t j = j0; j < j1; ++j) acc += static_cast<double>(U[j * r + a]) * static_cast<double>(G[j * r + b]);
  parts[blockIdx.x * r * r + p] = acc;
}

/* S = sym(M) with M = sum_c parts[c] (chunk order, both entries summed the same way). */
__global__ void __launch_bounds__(kThreads) sym_kernel(int64_t r, int64_t nch, const double* parts, double* S) {
  const int64_t rr = r * r;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < rr;
       p += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t a = p / r, b = p % r;
    double mab = 0.0, mba = 0.0;
    for (int64_t c = 0; c < nch; ++c) {
      mab += parts[c * rr + a * r + b];
      mba += parts[c * rr + b * r + a];
    }
    S[p] = sym_entry(mab, mba);
  }
}

/* out[j, b] = G[j, b] - sum_a U[j, a] S[a, b] (double, a in order, rounded once); parts as oblique. */
__global__ void __launch_bounds__(kThreads) stiefel_kernel(int64_t n, int64_t r, const float* __restrict__ U,
                                                           const float* G, const double* __restrict__ S, float* out,
                                                           int64_t rows, double* parts) {
  __shared__ double sh[kThreads];
  const ColLayout L = col_layout(r);
  const int t = threadIdx.x, sub = t / L.ipb;
  const int64_t b = static_cast<int64_t>(blockIdx.y) * L.ipb + t % L.ipb;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * rows, j1 = min64(n, j0 + rows);
  double acc = 0.0;
  if (sub < L.rpi && b < r) {
    for (int64_t j = j0 + sub; j < j1; j += L.rpi) {
      double o = G[j * r + b];
      for (int64_t a = 0; a < r; ++a) o -= static_cast<double>(U[j * r + a]) * S[a * r + b];
      const float v = static_cast<float>(o);
      out[j * r + b] = v;
      acc += static_cast<double>(U[j * r + b]) * static_cast<double>(v);
    }
  }
  if (parts == nullptr) return;
  sh[t] = acc;
  __syncthreads();
  if (t < L.ipb && b < r) {
    double s = 0.0;
    for (int k = 0; k < L.rpi; ++k) s += sh[k * L.ipb + t];
    parts[blockIdx.x * r + b] = s;
  }
}

debora_status run(const char* op, Ctx* c, int geom, int64_t n, int64_t r, const float* U, const float* G, float* out,
                  float* dots) {
  const int64_t rows = chunk_rows(c, n), nch = (n + rows - 1) / rows;
  const int ipb = static_cast<int>(std::min<int64_t>(r, kThreads));
  const dim3 col_grid(static_cast<unsigned>(nch), static_cast<unsigned>((r + ipb - 1) / ipb));
  const int64_t rr = geom == DEBORA_GEOM_STIEFEL ? r * r : 0;
  if (col_grid.y > 65535 || (rr > 0 && (rr + kThreads - 1) / kThreads > 65535))
    return fail(DEBORA_INVALID_ARG, "%s: expected r <= %d on the CUDA backend for argument 'r', received %lld", op,
                geom == DEBORA_GEOM_STIEFEL ? 4096 : 65535 * kThreads, static_cast<long long>(r));
  double *parts = nullptr, *cdot = nullptr, *dparts = nullptr;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    parts = a.take<double>(static_cast<size_t>(nch * std::max(r, rr)));
    cdot = a.take<double>(static_cast<size_t>(std::max(r, rr)));
    dparts = a.take<double>(static_cast<size_t>(nch * r));
  }));
  if (geom == DEBORA_GEOM_EUCLIDEAN) {
    if (out != G) DEBORA_CUDA_TRY(op, cudaMemcpyAsync(out, G, sizeof(float) * n * r, cudaMemcpyDeviceToDevice, c->stream));
    if (dots == nullptr) return DEBORA_OK;
    DEBORA_LAUNCH(col_dots_kernel, col_grid, kThreads, 0, c->stream)(n, r, U, G, rows, dparts);
    DEBORA_CUDA_LAUNCHED(op);
  } else if (geom == DEBORA_GEOM_OBLIQUE) {
    DEBORA_LAUNCH(col_dots_kernel, col_grid, kThreads, 0, c->stream)(n, r, U, G, rows, parts);
    DEBORA_CUDA_LAUNCHED(op);
    DEBORA_LAUNCH(sum_chunks_kernel, grid_for(r, kThreads), kThreads, 0, c->stream)(r, nch, parts, cdot);
    DEBORA_CUDA_LAUNCHED(op);
    DEBORA_LAUNCH(oblique_kernel, col_grid, kThreads, 0, c->stream)(n, r, U, G, cdot, out, rows, dots ? dparts : nullptr);
    DEBORA_CUDA_LAUNCHED(op);
  } else {
    const dim3 gram_grid(static_cast<unsigned>(nch), static_cast<unsigned>((rr + kThreads - 1) / kThreads));
    DEBORA_LAUNCH(gram_kernel, gram_grid, kThreads, 0, c->stream)(n, r, U, G, rows, parts);
    DEBORA_CUDA_LAUNCHED(op);
    DEBORA_LAUNCH(sym_kernel, grid_for(rr, kThreads), kThreads, 0, c->stream)(r, nch, parts, cdot);
    DEBORA_CUDA_LAUNCHED(op);
    DEBORA_LAUNCH(stiefel_kernel, col_grid, kThreads, 0, c->stream)(n, r, U, G, cdot, out, rows, dots ? dparts : nullptr);
    DEBORA_CUDA_LAUNCHED(op);
  }
  if (dots != nullptr) {
    DEBORA_LAUNCH(dots_kernel, grid_for(r, kThreads), kThreads, 0, c->stream)(r, nch, dparts, dots);
    DEBORA_CUDA_LAUNCHED(op);
  }
  return DEBORA_OK;
}

/* The CPU twin's checks on everything but values, in its order and with its messages. */
debora_status check_args(const char* op, debora_geometry geometry, int64_t n, int64_t r, const float* U, const float* G,
                         float* out, float* dots, int* geom_out) {
  namespace dn = debora::dense;
  static_assert(sizeof(debora_geometry) == sizeof(int), "debora_geometry is int-sized");
  int geom;
  std::memcpy(&geom, &geometry, sizeof geom);
  if (geom != DEBORA_GEOM_EUCLIDEAN && geom != DEBORA_GEOM_OBLIQUE && geom != DEBORA_GEOM_STIEFEL)
    return fail(DEBORA_INVALID_ARG,
                "%s: expected one of 0 (euclidean), 1 (oblique), 2 (stiefel) for argument 'geometry', received %d", op,
                geom);
  DEBORA_TRY(check_size(op, "n", n, 1));
  DEBORA_TRY(check_size(op, "r", r, 1));
  int64_t nr = 0;
  if (__builtin_mul_overflow(n, r, &nr) || nr > (int64_t{1} << 56))
    return fail(DEBORA_INVALID_ARG, "%s: expected n * r <= 2^56 for argument 'r', received n = %lld, r = %lld", op,
                static_cast<long long>(n), static_cast<long long>(r));
  if (geom == DEBORA_GEOM_STIEFEL && n < r)
    return fail(DEBORA_INVALID_ARG,
                "%s: expected n >= r for argument 'n' (stiefel needs at least as many rows as the rank 'r' for "
                "orthonormal columns; use geometry 'oblique' for this factor), received n = %lld, r = %lld",
                op, static_cast<long long>(n), static_cast<long long>(r));
  DEBORA_TRY(check_ptr(op, "U", U));
  DEBORA_TRY(check_ptr(op, "G", G));
  DEBORA_TRY(check_ptr(op, "out", out));
  const int64_t bytes = nr * 4;
  if (dn::overlaps(out, bytes, U, bytes))
    return fail(DEBORA_INVALID_ARG, "%s: expected a buffer that does not overlap 'U' for argument 'out', received an "
                "overlapping one", op);
  if (out != G && dn::overlaps(out, bytes, G, bytes))
    return fail(DEBORA_INVALID_ARG, "%s: expected either 'G' itself or a buffer that does not overlap it for argument "
                "'out', received a partly overlapping one", op);
  if (dn::overlaps(dots, r * 4, U, bytes) || dn::overlaps(dots, r * 4, G, bytes) || dn::overlaps(dots, r * 4, out, bytes))
    return fail(DEBORA_INVALID_ARG, "%s: expected a buffer that does not overlap 'U', 'G' or 'out' for argument "
                "'dots', received an overlapping one", op);
  *geom_out = geom;
  return DEBORA_OK;
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;

extern "C" debora_status debora_cp_tangent_cuda_dev(debora_cuda_context* ctx, debora_geometry geometry, int64_t n,
                                                    int64_t r, const float* U, const float* G, float* out,
                                                    float* dots) {
  static const char* op = "cp_tangent";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    int geom = 0;
    DEBORA_TRY(cu::check_args(op, geometry, n, r, U, G, out, dots, &geom));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    DEBORA_TRY(cu::check_device_ptr(op, "U", c, U));
    DEBORA_TRY(cu::check_device_ptr(op, "G", c, G));
    DEBORA_TRY(cu::check_device_ptr(op, "out", c, out));
    DEBORA_TRY(cu::check_device_ptr(op, "dots", c, dots, false));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::run(op, c, geom, n, r, U, G, out, dots);
  });
}

extern "C" debora_status debora_cp_tangent_cuda(debora_geometry geometry, int64_t n, int64_t r, const float* U,
                                                const float* G, float* out, float* dots) {
  static const char* op = "cp_tangent";
  namespace cu = debora::cuda;
  namespace dn = debora::dense;
  return debora::guarded(op, [&]() -> debora_status {
    int geom = 0;
    DEBORA_TRY(cu::check_args(op, geometry, n, r, U, G, out, dots, &geom));
    DEBORA_TRY(dn::check_finite_fast(op, "U", U, n * r));
    DEBORA_TRY(dn::check_finite_fast(op, "G", G, n * r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t nr = static_cast<size_t>(n * r);
    float *gU = nullptr, *gG = nullptr, *gout = nullptr, *gdots = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      gU = a.take<float>(nr), gG = a.take<float>(nr);
      gout = out == G ? gG : a.take<float>(nr);  // in place stays in place
      gdots = dots != nullptr ? a.take<float>(r) : nullptr;
    }));
    DEBORA_TRY(cu::h2d(op, c, gU, U, nr * 4));
    DEBORA_TRY(cu::h2d(op, c, gG, G, nr * 4));
    if (dots != nullptr) DEBORA_TRY(cu::h2d(op, c, gdots, dots, r * 4));
    DEBORA_TRY(cu::run(op, c, geom, n, r, gU, gG, gout, gdots));
    DEBORA_TRY(cu::d2h(op, c, out, gout, nr * 4));
    if (dots != nullptr) DEBORA_TRY(cu::d2h(op, c, dots, gdots, r * 4));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
