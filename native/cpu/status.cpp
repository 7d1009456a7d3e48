/* status.cpp — status names, the per-thread last-error message, the library version and the
 * shared argument checks (sizes, pointers, finite values, NCHW geometries). Tested in
 * test/native/errors.test.ts and by each op's bad-input tests. */
#include <climits>
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

bool sizes_fit(std::initializer_list<int64_t> sizes) {
  int64_t p = 1;
  for (int64_t v : sizes)
    if (__builtin_mul_overflow(p, v, &p) || p > (INT64_MAX >> 3)) return false;
  return true;
}

debora_status check_fields(const char* op, std::initializer_list<IntField> fields) {
  for (const auto& f : fields)
    if (f.value < f.min || f.value > INT32_MAX)
      return fail(DEBORA_INVALID_ARG, "%s: expected an integer in [%lld, %d] for argument '%s', received %lld", op,
                  static_cast<long long>(f.min), INT32_MAX, f.name, static_cast<long long>(f.value));
  return DEBORA_OK;
}

debora_status check_conv2d_geom(const char* op, const debora_conv2d_geom* g, std::initializer_list<IntField> extra) {
  debora_status st;
  if ((st = check_ptr(op, "geom", g)) != DEBORA_OK) return st;
  if ((st = check_fields(op, {{"geom.batch", g->batch, 1},
                              {"geom.C", g->C, 1},
                              {"geom.H", g->H, 1},
                              {"geom.W", g->W, 1},
                              {"geom.F", g->F, 1},
                              {"geom.kh", g->kh, 1},
                              {"geom.kw", g->kw, 1},
                              {"geom.stride_h", g->stride_h, 1},
                              {"geom.stride_w", g->stride_w, 1},
                              {"geom.pad_h", g->pad_h, 0},
                              {"geom.pad_w", g->pad_w, 0},
                              {"geom.dil_h", g->dil_h, 1},
                              {"geom.dil_w", g->dil_w, 1}})) != DEBORA_OK)
    return st;
  if ((st = check_fields(op, extra)) != DEBORA_OK) return st;
  /* Checked before any output size is computed: C++ division truncates toward zero and would turn
   * -1/2 into an output row. */
  const int64_t eff_h = g->dil_h * (g->kh - 1) + 1, eff_w = g->dil_w * (g->kw - 1) + 1;
  if (eff_h > g->H + 2 * g->pad_h)
    return fail(DEBORA_SHAPE_MISMATCH,
                "%s: expected a dilated kernel height dil_h*(kh-1)+1 <= H + 2*pad_h (an output height >= 1) for "
                "argument 'geom', received kh=%lld, dil_h=%lld, H=%lld, pad_h=%lld",
                op, static_cast<long long>(g->kh), static_cast<long long>(g->dil_h), static_cast<long long>(g->H),
                static_cast<long long>(g->pad_h));
  if (eff_w > g->W + 2 * g->pad_w)
    return fail(DEBORA_SHAPE_MISMATCH,
                "%s: expected a dilated kernel width dil_w*(kw-1)+1 <= W + 2*pad_w (an output width >= 1) for "
                "argument 'geom', received kw=%lld, dil_w=%lld, W=%lld, pad_w=%lld",
                op, static_cast<long long>(g->kw), static_cast<long long>(g->dil_w), static_cast<long long>(g->W),
                static_cast<long long>(g->pad_w));
  return DEBORA_OK;
}

debora_status fail_conv2d_overflow(const char* op, const debora_conv2d_geom* g) {
  return fail(DEBORA_INVALID_ARG,
              "%s: expected sizes whose products fit in 64 bits for argument 'geom', received batch=%lld, C=%lld, "
              "H=%lld, W=%lld, F=%lld",
              op, static_cast<long long>(g->batch), static_cast<long long>(g->C), static_cast<long long>(g->H),
              static_cast<long long>(g->W), static_cast<long long>(g->F));
}

}  // namespace debora
