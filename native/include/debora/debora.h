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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEBORA_DEBORA_H */
