/* status.cpp — status names, the per-thread last-error message, the library version and the
 * shared argument checks. Tested in test/native/errors.test.ts. */
#include <cstdarg>
#include <cstdio>

#include "internal.h"

#ifndef DEBORA_VERSION
#error "DEBORA_VERSION must be defined by the build (it comes from package.json)"
#endif

namespace {
thread_local char g_last_error[1024] = {0};
}

extern "C" const char* debora_status_name(debora_status status) {
  switch (status) {
    case DEBORA_OK: return "DEBORA_OK";
    case DEBORA_INVALID_ARG: return "DEBORA_INVALID_ARG";
    case DEBORA_SHAPE_MISMATCH: return "DEBORA_SHAPE_MISMATCH";
    case DEBORA_NON_FINITE: return "DEBORA_NON_FINITE";
    case DEBORA_OUT_OF_MEMORY: return "DEBORA_OUT_OF_MEMORY";
    case DEBORA_BACKEND_UNAVAILABLE: return "DEBORA_BACKEND_UNAVAILABLE";
    case DEBORA_CUDA_ERROR: return "DEBORA_CUDA_ERROR";
    case DEBORA_NOT_IMPLEMENTED: return "DEBORA_NOT_IMPLEMENTED";
    case DEBORA_INTERNAL: return "DEBORA_INTERNAL";
  }
  return "DEBORA_UNKNOWN_STATUS";
}

extern "C" const char* debora_last_error(void) { return g_last_error; }
extern "C" void debora_clear_error(void) { g_last_error[0] = '\0'; }
extern "C" const char* debora_version(void) { return DEBORA_VERSION; }

namespace debora {
namespace {
/* Non-finite values spelled as JavaScript prints them, so messages read the same from TS and C++. */
const char* js_special(float v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return nullptr;
}
}  // namespace

debora_status fail(debora_status status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  return status;
}

void clear_error() { g_last_error[0] = '\0'; }

debora_status check_size(const char* op, const char* name, int64_t value, int64_t min_value) {
  if (value < min_value)
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer >= %lld for argument '%s', received %lld", op,
                static_cast<long long>(min_value), name, static_cast<long long>(value));
  return DEBORA_OK;
}

debora_status check_ptr(const char* op, const char* name, const void* p) {
  if (p == nullptr) return fail(DEBORA_INVALID_ARG, "%s: expected a buffer for argument '%s', received null", op, name);
  return DEBORA_OK;
}

debora_status check_finite(const char* op, const char* name, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      return fail(DEBORA_NON_FINITE, "%s: expected finite values for argument '%s', received %s at index %lld", op,
                  name, js_special(x[i]), static_cast<long long>(i));
  return DEBORA_OK;
}

debora_status check_positive(const char* op, const char* name, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]))
      return fail(DEBORA_NON_FINITE, "%s: expected finite values > 0 for argument '%s', received %s at index %lld", op,
                  name, js_special(x[i]), static_cast<long long>(i));
    if (!(x[i] > 0.0f))
      return fail(DEBORA_INVALID_ARG, "%s: expected values > 0 for argument '%s', received %g at index %lld", op, name,
                  static_cast<double>(x[i]), static_cast<long long>(i));
  }
  return DEBORA_OK;
}

}  // namespace debora
