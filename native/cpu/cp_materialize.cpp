/* cp_materialize.cpp — CPU kernel of op cp_materialize. NOT IMPLEMENTED YET: every entry returns
 * DEBORA_NOT_IMPLEMENTED (placeholder so the build lists are complete while it is written). */
#include "internal.h"

extern "C" debora_status debora_cp_materialize_cpu(int, const int64_t*, int64_t, const float* const*, const float*, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_materialize: not implemented yet");
}

