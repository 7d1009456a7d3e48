/* cp_conv2d.cpp — CPU kernel of op cp_conv2d. NOT IMPLEMENTED YET: every entry returns
 * DEBORA_NOT_IMPLEMENTED (placeholder so the build lists are complete while it is written). */
#include "internal.h"

extern "C" debora_status debora_cp_conv2d_fwd_cpu(const debora_conv2d_geom*, int64_t, const float*, const float*, const float*, const float*, const float*, const float*, float*, int) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_conv2d: not implemented yet");
}

extern "C" debora_status debora_cp_conv2d_bwd_cpu(const debora_conv2d_geom*, int64_t, const float*, const float*, const float*, const float*, const float*, const float*, const float*, float*, int, float*, float*, float*, float*, float*, float*) {
  return debora::fail(DEBORA_NOT_IMPLEMENTED, "cp_conv2d: not implemented yet");
}

