/* debora.h — the native API of debora: status codes, runtime queries, thread pool, and ops.
 * Plain C-like signatures on raw pointers and shapes; no Node headers, so the GPU machines can
 * build and drive it with plain CMake. Every function returns a status and never aborts, throws
 * or prints; the detail of the last failure on this thread is in debora_last_error().
 * Tested through the addon (test/native) and the standalone driver (test/native/driver.cpp). */
#ifndef DEBORA_DEBORA_H
#define DEBORA_DEBORA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stable status codes. The JS error `.code` is debora_status_name(status), so this enum and
 * debora_status_name() in native/cpu/status.cpp are the only place the table lives. */
typedef enum debora_status {
  DEBORA_OK = 0,
  DEBORA_INVALID_ARG = 1,          /* a value is out of its domain (negative size, s_i <= 0, ...) */
  DEBORA_SHAPE_MISMATCH = 2,       /* lengths or shapes disagree */
  DEBORA_NON_FINITE = 3,           /* NaN or Inf where a finite value is required */
  DEBORA_OUT_OF_MEMORY = 4,        /* host or device allocation failed */
  DEBORA_BACKEND_UNAVAILABLE = 5,  /* e.g. CUDA requested but not compiled in or no device */
  DEBORA_CUDA_ERROR = 6,           /* a CUDA runtime call failed (call, file, line in detail) */
  DEBORA_NOT_IMPLEMENTED = 7,      /* the op exists in the API but not (yet) for this case */
  DEBORA_INTERNAL = 8              /* a bug: an unexpected C++ exception was caught */
} debora_status;

#define DEBORA_STATUS_COUNT 9

/* "DEBORA_INVALID_ARG" etc.; "DEBORA_UNKNOWN_STATUS" for values outside the enum. */
const char* debora_status_name(debora_status status);

/* Detail of the most recent failure on the calling thread ("" if none): names the argument and
 * what was received. Valid until the next debora_* call on this thread. */
const char* debora_last_error(void);
void debora_clear_error(void);

/* ---- runtime: version, SIMD, threads ---------------------------------------------------- */

const char* debora_version(void);

typedef enum debora_simd { DEBORA_SIMD_SCALAR = 0, DEBORA_SIMD_AVX2 = 1, DEBORA_SIMD_AVX512 = 2 } debora_simd;

/* Best level this CPU supports, and the level kernels use: the best one, lowered by the
 * environment variable DEBORA_SIMD=scalar|avx2|avx512 (read once) or debora_set_simd(). */
debora_simd debora_simd_supported(void);
debora_simd debora_simd_active(void);
debora_status debora_set_simd(debora_simd level);
const char* debora_simd_name(debora_simd level);

/* The shared CPU thread pool. Default size: DEBORA_NUM_THREADS if set, else the number of cores.
 * Resizing joins the old workers and starts new ones; it must not race with running kernels. */
int debora_num_threads(void);
int debora_hardware_threads(void);
debora_status debora_set_num_threads(int n);

/* Machine limits for the benchmarks, measured now with the current pool and SIMD level: peak FP32
 * FMA rate (GFLOP/s, best of 5 trials of about seconds/20 each) and STREAM-triad bandwidth (GB/s,
 * counting 3 arrays of bytes_per_array per pass; best of 6). */
debora_status debora_roofline_peak_gflops(double seconds, double* gflops);
debora_status debora_roofline_bandwidth_gbs(int64_t bytes_per_array, double* gbs);

/* ---- CUDA runtime ------------------------------------------------------------------------ */

typedef struct debora_cuda_device {
  char name[256];
  size_t total_memory;
  int cc_major;
  int cc_minor;
  int multiprocessors;
} debora_cuda_device;

/* 1 if the library was compiled with CUDA kernels. */
int debora_cuda_compiled(void);
/* Number of usable devices in *count. When CUDA is unusable returns
 * DEBORA_BACKEND_UNAVAILABLE and debora_last_error() says exactly why (not compiled in, no
 * driver, no device, ...). Never crashes on a machine without a GPU or driver. */
debora_status debora_cuda_device_count(int* count);
debora_status debora_cuda_device_info(int device, debora_cuda_device* out);
/* Runtime and driver versions as CUDA encodes them (1000*major + 10*minor); 0 if unknown. */
int debora_cuda_runtime_version(void);
int debora_cuda_driver_version(void);

/* ---- CUDA contexts and device memory ------------------------------------------------------
 * A context is one device, one stream and grow-only device workspaces (so a steady training loop
 * allocates nothing after its first step). Every *_cuda_dev op takes DEVICE pointers and a
 * context, enqueues its kernels on the context's stream and returns before they finish: tensors
 * stay on the device between ops. Ordering is the stream's; debora_cuda_synchronize() (or a
 * download) waits and reports a failure of work already enqueued. The dev ops check shapes and
 * that every pointer is device memory of the context's device, but read no values (that would
 * need a device-to-host round trip): a non-finite s propagates instead of being refused.
 * The host-pointer *_cuda ops (same arguments as the _cpu twins) validate exactly like the CPU,
 * copy in, run the same kernels on the default context and copy out before returning.
 * ctx == NULL means the default context: device 0, created on first use, alive until exit.
 * Calls on one context are serialised by a lock (they share its workspace); use one context per
 * host thread for concurrency. Failures: DEBORA_CUDA_ERROR (call, file and line in
 * debora_last_error()), DEBORA_OUT_OF_MEMORY when a device allocation fails,
 * DEBORA_BACKEND_UNAVAILABLE without a usable GPU or CUDA build. */
typedef struct debora_cuda_context debora_cuda_context;
debora_status debora_cuda_context_create(int device, debora_cuda_context** out);
/* Waits for the context's work, frees its workspaces and stream. NULL is a no-op. */
debora_status debora_cuda_context_destroy(debora_cuda_context* ctx);
debora_status debora_cuda_context_default(debora_cuda_context** out);
/* The context's cudaStream_t (as void*), to order other CUDA work with debora's. */
debora_status debora_cuda_context_stream(debora_cuda_context* ctx, void** stream);
debora_status debora_cuda_synchronize(debora_cuda_context* ctx);
/* Device buffers on the context's device. alloc of 0 bytes gives NULL; free(NULL) is a no-op and
 * free waits for work in flight (cudaFree). upload returns once src may be reused; download waits
 * for the work enqueued before it on the context's stream and returns with dst filled. */
debora_status debora_cuda_alloc(debora_cuda_context* ctx, size_t bytes, void** out);
debora_status debora_cuda_free(debora_cuda_context* ctx, void* ptr);
debora_status debora_cuda_upload(debora_cuda_context* ctx, void* dst_device, const void* src_host, size_t bytes);
debora_status debora_cuda_download(debora_cuda_context* ctx, void* dst_host, const void* src_device, size_t bytes);

/* ---- ops --------------------------------------------------------------------------------- */
/* One name per op, shared by native/cpu/<op>.cpp, native/cuda/<op>.cu, the binding, the tests
 * and the bench. See native/README.md for the op table. */

/* cp_hypergrad: the cheap hypergradient of ALGORITHM.md section 3, per component i of r
 * (concatenate the components of many adapters to do them all at once):
 *     g[i] = ds[i] - dots[i] / s[i],      dots[i] = sum_k <u_i^(k), grad_i^(k)>
 * s must be finite and > 0; ds and dots finite. On error nothing is written to g. */
debora_status debora_cp_hypergrad_cpu(int64_t r, const float* ds, const float* s, const float* dots, float* g);
/* The same on the GPU from host pointers (copies in and out). */
debora_status debora_cp_hypergrad_cuda(int64_t r, const float* ds, const float* s, const float* dots, float* g);
/* Device pointers on a context; values are not validated (see the CUDA contexts section). */
debora_status debora_cp_hypergrad_cuda_dev(debora_cuda_context* ctx, int64_t r, const float* ds, const float* s,
                                           const float* dots, float* g);

/* cp_linear: the matrix adapter (d = 2) on a batch, activation route (ALGORITHM.md section 1).
 * Row-major: X is N x n_in, U is n_out x r, V is n_in x r, Y is N x n_out, Z is N x r.
 * fwd:  Z = X V;  Y (+)= (Z . diag(s)) U^T.  Z may be null (not returned). accumulate != 0 adds
 *       into Y (which may hold the base output X W0^T), else overwrites it.
 * bwd:  T = dY U;  ds_i = sum_n Z_ni T_ni;  dU = dY^T (Z . s);  dV = X^T (T . s);
 *       dX (+)= (T . s) V^T (dX may be null: not computed);  Z may be null (recomputed);
 *       dots (may be null) = <U_:i, dU_:i> + <V_:i, dV_:i>, the input of cp_hypergrad. */
debora_status debora_cp_linear_fwd_cpu(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U,
                                       const float* V, const float* s, float* Y, int accumulate, float* Z);
debora_status debora_cp_linear_bwd_cpu(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U,
                                       const float* V, const float* s, const float* dY, const float* Z, float* dX,
                                       int accumulate_dx, float* dU, float* dV, float* ds, float* dots);
/* The same on the GPU: host pointers (copied), and device pointers on a context (see above). */
debora_status debora_cp_linear_fwd_cuda(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U,
                                        const float* V, const float* s, float* Y, int accumulate, float* Z);
debora_status debora_cp_linear_bwd_cuda(int64_t N, int64_t n_in, int64_t n_out, int64_t r, const float* X, const float* U,
                                        const float* V, const float* s, const float* dY, const float* Z, float* dX,
                                        int accumulate_dx, float* dU, float* dV, float* ds, float* dots);
debora_status debora_cp_linear_fwd_cuda_dev(debora_cuda_context* ctx, int64_t N, int64_t n_in, int64_t n_out, int64_t r,
                                            const float* X, const float* U, const float* V, const float* s, float* Y,
                                            int accumulate, float* Z);
debora_status debora_cp_linear_bwd_cuda_dev(debora_cuda_context* ctx, int64_t N, int64_t n_in, int64_t n_out, int64_t r,
                                            const float* X, const float* U, const float* V, const float* s,
                                            const float* dY, const float* Z, float* dX, int accumulate_dx, float* dU,
                                            float* dV, float* ds, float* dots);

/* cp_conv2d: the CP adapter (d = 4) of a conv kernel dK[f,c,a,b] = sum_i s_i U1[f,i] U2[c,i] U3[a,i] U4[b,i]
 * applied to an NCHW batch as the chain 1x1 (U2^T) -> depthwise kh x 1 (U3) -> depthwise 1 x kw (U4)
 * -> scale by s -> 1x1 (U1), equal to the dense convolution with dK under the same geometry.
 * U1: F x r, U2: C x r, U3: kh x r, U4: kw x r (row-major). X: batch x C x H x W, Y: batch x F x Ho x Wo,
 * Ho = (H + 2 pad_h - dil_h (kh - 1) - 1) / stride_h + 1 (likewise Wo). */
typedef struct debora_conv2d_geom {
  int64_t batch, C, H, W, F, kh, kw;
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
} debora_conv2d_geom;
debora_status debora_cp_conv2d_fwd_cpu(const debora_conv2d_geom* g, int64_t r, const float* X, const float* U1,
                                       const float* U2, const float* U3, const float* U4, const float* s, float* Y,
                                       int accumulate);
/* dX may be null; dots (may be null) = sum_k <U_k[:,i], dU_k[:,i]>. */
debora_status debora_cp_conv2d_bwd_cpu(const debora_conv2d_geom* g, int64_t r, const float* X, const float* U1,
                                       const float* U2, const float* U3, const float* U4, const float* s, const float* dY,
                                       float* dX, int accumulate_dx, float* dU1, float* dU2, float* dU3, float* dU4,
                                       float* ds, float* dots);
debora_status debora_cp_conv2d_fwd_cuda(const debora_conv2d_geom* g, int64_t r, const float* X, const float* U1,
                                        const float* U2, const float* U3, const float* U4, const float* s, float* Y,
                                        int accumulate);
debora_status debora_cp_conv2d_bwd_cuda(const debora_conv2d_geom* g, int64_t r, const float* X, const float* U1,
                                        const float* U2, const float* U3, const float* U4, const float* s,
                                        const float* dY, float* dX, int accumulate_dx, float* dU1, float* dU2,
                                        float* dU3, float* dU4, float* ds, float* dots);
/* g (the geometry struct) is a host pointer; every array is a device pointer. */
debora_status debora_cp_conv2d_fwd_cuda_dev(debora_cuda_context* ctx, const debora_conv2d_geom* g, int64_t r,
                                            const float* X, const float* U1, const float* U2, const float* U3,
                                            const float* U4, const float* s, float* Y, int accumulate);
debora_status debora_cp_conv2d_bwd_cuda_dev(debora_cuda_context* ctx, const debora_conv2d_geom* g, int64_t r,
                                            const float* X, const float* U1, const float* U2, const float* U3,
                                            const float* U4, const float* s, const float* dY, float* dX,
                                            int accumulate_dx, float* dU1, float* dU2, float* dU3, float* dU4,
                                            float* ds, float* dots);

/* cp_materialize: the dense route, any order d in [2, 6]: out = Psi(B, s) = sum_i s_i u_i^(1) o ... o u_i^(d),
 * row-major with mode 1 slowest; factors[k] is dims[k] x r row-major. */
debora_status debora_cp_materialize_cpu(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                        const float* s, float* out);
debora_status debora_cp_materialize_cuda(int d, const int64_t* dims, int64_t r, const float* const* factors,
                                         const float* s, float* out);
/* dims and the factors array itself are host arrays; factors[k], s and out are device pointers. */
debora_status debora_cp_materialize_cuda_dev(debora_cuda_context* ctx, int d, const int64_t* dims, int64_t r,
                                             const float* const* factors, const float* s, float* out);
/* cp_mttkrp: from a dense gradient G = dL/dW (same layout as cp_materialize's out):
 * grads[k][j,i] = s_i * sum over all other indices of G * prod_{m != k} factors[m][idx_m, i] (an MTTKRP),
 * ds_i = <G, u_i^(1) o ... o u_i^(d)>, dots (may be null) = sum_k <factors[k][:,i], grads[k][:,i]>. */
debora_status debora_cp_mttkrp_cpu(int d, const int64_t* dims, int64_t r, const float* const* factors, const float* s,
                                   const float* G, float* const* grads, float* ds, float* dots);
debora_status debora_cp_mttkrp_cuda(int d, const int64_t* dims, int64_t r, const float* const* factors, const float* s,
                                    const float* G, float* const* grads, float* ds, float* dots);
/* dims, factors and grads (the arrays of pointers) are host arrays; the pointers in them, s, G, ds and
 * dots are device pointers. A non-finite G gives non-finite outputs here (the host variant refuses it). */
debora_status debora_cp_mttkrp_cuda_dev(debora_cuda_context* ctx, int d, const int64_t* dims, int64_t r,
                                        const float* const* factors, const float* s, const float* G,
                                        float* const* grads, float* ds, float* dots);

/* cp_tangent: projects the Euclidean gradient G (n x r) of a factor U onto the tangent space of
 * its geometry: euclidean: out = G; oblique (unit columns): out_i = G_i - U_i <U_i, G_i>;
 * stiefel (orthonormal columns, n >= r): out = G - U sym(U^T G). out may alias G.
 * dots (may be null) accumulates dots[i] += <U_i, out_i> (0 up to rounding on a manifold). */
typedef enum debora_geometry { DEBORA_GEOM_EUCLIDEAN = 0, DEBORA_GEOM_OBLIQUE = 1, DEBORA_GEOM_STIEFEL = 2 } debora_geometry;
debora_status debora_cp_tangent_cpu(debora_geometry geometry, int64_t n, int64_t r, const float* U, const float* G,
                                    float* out, float* dots);
debora_status debora_cp_tangent_cuda(debora_geometry geometry, int64_t n, int64_t r, const float* U, const float* G,
                                     float* out, float* dots);
debora_status debora_cp_tangent_cuda_dev(debora_cuda_context* ctx, debora_geometry geometry, int64_t n, int64_t r,
                                         const float* U, const float* G, float* out, float* dots);

/* gemm: row-major SGEMM for the frozen dense base layers, C = alpha op(A) op(B) + beta C, where
 * op(A) is M x K (A stored M x K with row stride lda >= K, or K x M with lda >= M when trans_a),
 * op(B) is K x N (B stored K x N with ldb >= N, or N x K with ldb >= K when trans_b), C is M x N
 * with ldc >= N. beta == 0 overwrites C without reading it (NaN in C does not propagate); alpha == 0
 * or K == 0 reads neither A nor B. C must not overlap A or B. alpha and beta must be finite.
 * Two implementations: the system BLAS (cblas_sgemm) when the build linked one, and a built-in
 * blocked SIMD kernel; chosen by debora_gemm_set_impl (default auto: BLAS when compiled in). */
typedef enum debora_gemm_kind { DEBORA_GEMM_AUTO = 0, DEBORA_GEMM_BUILTIN = 1, DEBORA_GEMM_BLAS = 2 } debora_gemm_kind;
debora_status debora_gemm_cpu(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
/* Process-wide choice (a debora_gemm_kind); DEBORA_GEMM_BLAS without a BLAS compiled in is DEBORA_BACKEND_UNAVAILABLE. */
debora_status debora_gemm_set_impl(int impl);
/* The implementation gemm runs now: DEBORA_GEMM_BUILTIN or DEBORA_GEMM_BLAS (auto resolved). */
int debora_gemm_impl(void);
/* 1 if the build linked a system BLAS; its library file name and, for OpenBLAS, the configuration
 * and core it reports at run time ("" when absent). */
int debora_blas_compiled(void);
const char* debora_blas_library(void);
const char* debora_blas_config(void);

/* conv2d: the dense 2-D convolution of the frozen base layer on an NCHW batch (geometry as for
 * cp_conv2d), by im2col + gemm per image, parallel over the batch, with a per-thread workspace
 * bounded by a block of output rows (not by the batch). K is F x C x kh x kw, bias has F entries.
 * fwd:  Y (+)= conv(X, K) + bias          (bias may be null; accumulate != 0 adds into Y)
 * bwd:  dX (+)= conv_transpose(dY, K),  dK (+)= sum_n dY_n * im2col(X_n)^T,  dbias (+)= sum over n, pixels of dY
 *       Each output may be null (not computed); X is needed only for dK, K only for dX.
 * The products use the gemm implementation debora_gemm_set_impl chose, single-threaded inside the
 * batch-parallel loop (the op owns its threading). dK and dbias are summed per fixed group of images
 * and reduced in group order: with the builtin gemm, bitwise repeatable whatever the thread count. */
debora_status debora_conv2d_fwd_cpu(const debora_conv2d_geom* g, const float* X, const float* K, const float* bias,
                                    float* Y, int accumulate);
debora_status debora_conv2d_bwd_cpu(const debora_conv2d_geom* g, const float* X, const float* K, const float* dY,
                                    float* dX, int accumulate_dx, float* dK, int accumulate_dk, float* dbias,
                                    int accumulate_dbias);

/* relu: the rectifier of the ReLU layer, element-wise over n floats.
 * fwd:  y = max(x, 0), i.e. x > 0 ? x : 0 (NaN and -0 give +0). y may be x itself (in place).
 * bwd:  dx (+)= dy * [m > 0], m being the forward's input x or its output y (the same mask); where
 *       m <= 0 or is NaN the contribution is +0, elsewhere dy's bits. dx may be dy or m itself.
 * Outputs that partly overlap an input are refused (DEBORA_INVALID_ARG). No CUDA twin yet. */
debora_status debora_relu_fwd_cpu(int64_t n, const float* x, float* y);
debora_status debora_relu_bwd_cpu(int64_t n, const float* m, const float* dy, float* dx, int accumulate);

/* max_pool2d: 2-D max pooling of the MaxPool2d layer on an NCHW batch x (batch x C x H x W) into y
 * (batch x C x Ho x Wo), Ho = (H + 2 pad_h - kh) / stride_h + 1 (floor; likewise Wo), with
 * pad_h <= kh/2 and pad_w <= kw/2 so every window holds an input cell (padding never wins).
 * fwd:  y = the window maximum; ties go to the first cell in row-major window order (a cell wins only
 *       when strictly greater than the best so far, from the first cell inside the image; so a NaN
 *       first cell stays and later NaNs are passed over). argmax (may be null: not written) receives
 *       the winner's index hi*W + wi within its H x W plane (as PyTorch's return_indices). y and
 *       argmax must not overlap x (nor each other).
 * bwd:  dx (+)= dy scattered to argmax (windows that overlap add up); dx is zeroed first unless
 *       accumulate. Every argmax index must lie in [0, H*W): checked before anything is written.
 *       dx must not overlap dy or argmax.
 * Whole planes per pool thread; results are bitwise the same for any thread count. No CUDA twin yet. */
typedef struct debora_pool2d_geom {
  int64_t batch, C, H, W, kh, kw;
  int64_t stride_h, stride_w, pad_h, pad_w;
} debora_pool2d_geom;
debora_status debora_max_pool2d_fwd_cpu(const debora_pool2d_geom* g, const float* x, float* y, int32_t* argmax);
debora_status debora_max_pool2d_bwd_cpu(const debora_pool2d_geom* g, const int32_t* argmax, const float* dy, float* dx,
                                        int accumulate);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEBORA_DEBORA_H */
