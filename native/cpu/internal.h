/* internal.h — helpers shared by the native implementation (not part of the public API):
 * recording a failure with a message that names the argument, and the guard that turns any
 * C++ exception into a status so nothing escapes the C API. */
#ifndef DEBORA_INTERNAL_H
#define DEBORA_INTERNAL_H

#include <cmath>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <new>

#include "debora/debora.h"

namespace debora {

/* printf-style; stores the message for debora_last_error() and returns `status`. */
debora_status fail(debora_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void clear_error();

/* Runs `body` (returning debora_status) and converts exceptions into statuses. */
template <class F>
debora_status guarded(const char* op, F&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(DEBORA_OUT_OF_MEMORY, "%s: host allocation failed", op);
  } catch (const std::exception& e) {
    return fail(DEBORA_INTERNAL, "%s: unexpected exception: %s", op, e.what());
  } catch (...) {
    return fail(DEBORA_INTERNAL, "%s: unexpected non-standard exception", op);
  }
}

/* Argument checks used by every op; each names the argument in its message. */
debora_status check_size(const char* op, const char* name, int64_t value, int64_t min_value);
debora_status check_ptr(const char* op, const char* name, const void* p);
/* Fails on the first non-finite element, naming the argument and the index. */
debora_status check_finite(const char* op, const char* name, const float* x, int64_t n);
/* Fails on the first element that is not finite and > 0. */
debora_status check_positive(const char* op, const char* name, const float* x, int64_t n);

/* A row stride (floats) for rows of n floats that are read together: whole 64-byte lines, and an
 * odd number of them, so the rows spread over all L1 sets. A stride of a power of two lines (a
 * 32 x 32 plane: 4 KiB) puts every row in the same set; 768 floats (48 lines) puts them in four. */
inline int64_t odd_line_stride(int64_t n) {
  int64_t lines = (n + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
}

/* Geometry checks shared by the NCHW ops (conv2d, cp_conv2d, max_pool2d and their CUDA twins), so
 * every one refuses the same input with the same message. */
/* Whether the product of non-negative sizes fits in an int64_t with room for pointer arithmetic. */
bool sizes_fit(std::initializer_list<int64_t> sizes);
/* A named integer argument and its least allowed value. */
struct IntField {
  const char* name;
  int64_t value, min;
};
/* Each field in [min, INT32_MAX], in order: the first outside fails, naming it. */
debora_status check_fields(const char* op, std::initializer_list<IntField> fields);
/* A conv2d geometry: `g` non-null, each of its fields and then each of `extra` (e.g. the rank) in
 * range, and the dilated kernel no larger than the padded input (an output of at least 1 x 1). */
debora_status check_conv2d_geom(const char* op, const debora_conv2d_geom* g, std::initializer_list<IntField> extra);
/* The failure for a conv2d geometry whose buffer sizes would overflow 64 bits. */
debora_status fail_conv2d_overflow(const char* op, const debora_conv2d_geom* g);

}  // namespace debora

#endif
