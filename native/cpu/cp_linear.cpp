/* cp_linear.cpp — CPU kernel of op cp_linear. NOT IMPLEMENTED YET: every entry returns
 * DEBORA_NOT_IMPLEMENTED (placeholder so the build lists are complete while it is written). */
#include "internal.h"

extern "C" debora_status debora_cp_linear_fwd_cpu(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*, float*, int, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_linear: not implemented yet");
}

extern "C" debora_status debora_cp_linear_bwd_cpu(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*, const float*, const float*, float*, int, float*, float*, float*, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_linear: not implemented yet");
}

