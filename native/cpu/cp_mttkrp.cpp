/* cp_mttkrp.cpp — CPU kernel of op cp_mttkrp. NOT IMPLEMENTED YET: every entry returns
 * DEBORA_NOT_IMPLEMENTED (placeholder so the build lists are complete while it is written). */
#include "internal.h"

extern "C" debora_status debora_cp_mttkrp_cpu(int, const int64_t*, int64_t, const float* const*, const float*, const float*, float* const*, float*, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_mttkrp: not implemented yet");
}

