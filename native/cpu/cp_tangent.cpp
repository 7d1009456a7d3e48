/* cp_tangent.cpp — CPU kernel of op cp_tangent. NOT IMPLEMENTED YET: every entry returns
 * DEBORA_NOT_IMPLEMENTED (placeholder so the build lists are complete while it is written). */
#include "internal.h"

extern "C" debora_status debora_cp_tangent_cpu(debora_geometry, int64_t, int64_t, const float*, const float*, float*, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_tangent: not implemented yet");
}

