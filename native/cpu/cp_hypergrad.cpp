/* cp_hypergrad.cpp — CPU kernel of op cp_hypergrad (ALGORITHM.md section 3):
 * g[i] = ds[i] - dots[i] / s[i]. O(r) and memory-bound; validated in full before anything is
 * written so a bad input leaves g untouched. CUDA twin: native/cuda/cp_hypergrad.cu.
 * Tested in test/native/cp_hypergrad.test.ts against a float64 reference. */
#include "debora/math.h"
#include "internal.h"

extern "C" debora_status debora_cp_hypergrad_cpu(int64_t r, const float* ds, const float* s, const float* dots,
                                                 float* g) {
  static const char* op = "cp_hypergrad";
  return debora::guarded(op, [&] {
    debora_status st;
    if ((st = debora::check_size(op, "r", r, 0)) != DEBORA_OK) return st;
    if (r == 0) return DEBORA_OK;
    if ((st = debora::check_ptr(op, "ds", ds)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "s", s)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "dots", dots)) != DEBORA_OK) return st;
    if ((st = debora::check_ptr(op, "out", g)) != DEBORA_OK) return st;
    if ((st = debora::check_positive(op, "s", s, r)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "ds", ds, r)) != DEBORA_OK) return st;
    if ((st = debora::check_finite(op, "dots", dots, r)) != DEBORA_OK) return st;
    for (int64_t i = 0; i < r; ++i) g[i] = debora::hypergrad_component(ds[i], s[i], dots[i]);
    return DEBORA_OK;
  });
}
