/* cuda_check.h — turns a failing CUDA runtime call into DEBORA_CUDA_ERROR (or
 * DEBORA_OUT_OF_MEMORY) with the call, file and line in debora_last_error(). CUDA sources only. */
#ifndef DEBORA_CUDA_CHECK_H
#define DEBORA_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "../cpu/internal.h"

namespace debora {

inline debora_status cuda_fail(cudaError_t err, const char* op, const char* call, const char* file, int line) {
  cudaGetLastError(); /* clear the sticky-free error state so the next call starts clean */
  return fail(err == cudaErrorMemoryAllocation ? DEBORA_OUT_OF_MEMORY : DEBORA_CUDA_ERROR, "%s: %s failed: %s (%s) at %s:%d",
              op, call, cudaGetErrorName(err), cudaGetErrorString(err), file, line);
}

}  // namespace debora

#define DEBORA_CUDA_TRY(op, call)                                                     \
  do {                                                                                \
    cudaError_t debora_err_ = (call);                                                 \
    if (debora_err_ != cudaSuccess) return debora::cuda_fail(debora_err_, op, #call, __FILE__, __LINE__); \
  } while (0)

#endif
