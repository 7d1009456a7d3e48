/* cp_dense_common.h — private to cp_materialize.cpp and cp_mttkrp.cpp (the dense route, order d = 2..6):
 * argument validation shared by both ops (and, for the finite and overlap checks, cp_tangent.cpp), the
 * row/column split of the tensor and grow-only scratch buffers. Layout and algorithms: docs/kernels-dense.md.
 * Tested through test/native/cp_dense.test.ts and test/native/driver_cp_dense.cpp. */
#ifndef DEBORA_CP_DENSE_COMMON_H
#define DEBORA_CP_DENSE_COMMON_H

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "internal.h"

namespace debora {
namespace dense {

constexpr int kMinOrder = 2;
constexpr int kMaxOrder = 6;

/* The tensor seen as a P x Q row-major matrix: modes [0, t) index the rows (P = n_0 ... n_{t-1}) and modes
 * [t, d) the columns (Q = n_t ... n_{d-1}); row-major with mode 1 slowest makes this a free reshape. */
struct Shape {
  int d = 0;
  int64_t dims[kMaxOrder] = {0};
  int64_t r = 0;
  int t = 1;
  int64_t P = 1, Q = 1, N = 1;
};

/* The split with the smallest P + Q (ties: the smaller t, i.e. the wider rows). Both ops keep O((P + Q) r)
 * intermediates (Khatri-Rao products of each side and the two partial contractions), so a balanced split
 * minimises their size and the post-processing; P x Q = N whatever t. */
inline void choose_split(Shape* sh) {
  int64_t best = -1;
  for (int t = 1; t < sh->d; ++t) {
    int64_t P = 1, Q = 1;
    for (int k = 0; k < t; ++k) P *= sh->dims[k];
    for (int k = t; k < sh->d; ++k) Q *= sh->dims[k];
    if (best < 0 || P + Q < best) {
      best = P + Q;
      sh->t = t;
      sh->P = P;
      sh->Q = Q;
    }
  }
}

/* Argument names per mode, spelled out so validation never formats a string unless it fails. */
inline const char* dims_name(int k) {
  static const char* const names[kMaxOrder] = {"dims[0]", "dims[1]", "dims[2]", "dims[3]", "dims[4]", "dims[5]"};
  return names[k];
}
inline const char* factors_name(int k) {
  static const char* const names[kMaxOrder] = {"factors[0]", "factors[1]", "factors[2]",
                                               "factors[3]", "factors[4]", "factors[5]"};
  return names[k];
}
inline const char* grads_name(int k) {
  static const char* const names[kMaxOrder] = {"grads[0]", "grads[1]", "grads[2]", "grads[3]", "grads[4]", "grads[5]"};
  return names[k];
}

/* True when the byte ranges [a, a + na) and [b, b + nb) share a byte (both non-null). Compared as integers:
 * the pointers may come from unrelated allocations. */
inline bool overlaps(const void* a, int64_t na, const void* b, int64_t nb) {
  if (a == nullptr || b == nullptr || na <= 0 || nb <= 0) return false;
  const uintptr_t x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + static_cast<uintptr_t>(nb) && y < x + static_cast<uintptr_t>(na);
}

/* check_finite with a fast path: an integer scan the compiler vectorises (exponent bits all ones = NaN or
 * infinity); the message, with the first offending index, is formatted by check_finite only on failure. */
inline debora_status check_finite_fast(const char* op, const char* name, const float* x, int64_t n) {
  uint32_t bad = 0;
  for (int64_t j = 0; j < n; ++j) {
    uint32_t bits;
    std::memcpy(&bits, x + j, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0 ? check_finite(op, name, x, n) : DEBORA_OK;
}

/* Validates what both ops share (d, dims, r, factors, s) and fills *sh. Factors and s must be finite: they
 * are O(sum n_k r) to scan, and a NaN there would silently poison every output element. */
inline debora_status validate_shape(const char* op, int d, const int64_t* dims, int64_t r, const float* const* factors,
                                    const float* s, Shape* sh) {
  debora_status st;
  if (d < kMinOrder || d > kMaxOrder)
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer in [%d, %d] for argument 'd', received %d", op, kMinOrder,
                kMaxOrder, d);
  if ((st = check_ptr(op, "dims", dims)) != DEBORA_OK) return st;
  sh->d = d;
  sh->N = 1;
  for (int k = 0; k < d; ++k) {
    if ((st = check_size(op, dims_name(k), dims[k], 1)) != DEBORA_OK) return st;
    sh->dims[k] = dims[k];
    /* Bound N and N * r so every index and workspace size below fits comfortably in int64. */
    if (__builtin_mul_overflow(sh->N, dims[k], &sh->N) || sh->N > (int64_t{1} << 48))
      return fail(DEBORA_INVALID_ARG, "%s: expected dims whose product is at most 2^48 for argument 'dims', received "
                  "a product above it at dims[%d] = %lld", op, k, static_cast<long long>(dims[k]));
  }
  if ((st = check_size(op, "r", r, 1)) != DEBORA_OK) return st;
  if (r > (int64_t{1} << 24))
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer <= 16777216 for argument 'r', received %lld", op,
                static_cast<long long>(r));
  int64_t nr = 0;
  if (__builtin_mul_overflow(sh->N, r, &nr) || nr > (int64_t{1} << 56))
    return fail(DEBORA_INVALID_ARG, "%s: expected prod(dims) * r <= 2^56 for argument 'r', received r = %lld", op,
                static_cast<long long>(r));
  sh->r = r;
  if ((st = check_ptr(op, "factors", factors)) != DEBORA_OK) return st;
  for (int k = 0; k < d; ++k)
    if ((st = check_ptr(op, factors_name(k), factors[k])) != DEBORA_OK) return st;
  if ((st = check_ptr(op, "s", s)) != DEBORA_OK) return st;
  for (int k = 0; k < d; ++k)
    if ((st = check_finite_fast(op, factors_name(k), factors[k], dims[k] * r)) != DEBORA_OK) return st;
  if ((st = check_finite_fast(op, "s", s, r)) != DEBORA_OK) return st;
  choose_split(sh);
  return DEBORA_OK;
}

/* An output must not share memory with an input (the kernels read inputs after writing outputs). */
inline debora_status check_no_overlap(const char* op, const char* out_name, const void* out, int64_t out_bytes,
                                      const char* in_name, const void* in, int64_t in_bytes) {
  if (overlaps(out, out_bytes, in, in_bytes))
    return fail(DEBORA_INVALID_ARG, "%s: expected a buffer that does not overlap '%s' for argument '%s', received "
                "an overlapping one", op, in_name, out_name);
  return DEBORA_OK;
}

/* Grow-only, 64-byte aligned, per-thread scratch: a steady training loop allocates nothing and takes no
 * first-touch page faults after the first call of a given size (PEERS.md: ~10 us per fresh 4 KiB page).
 * Slots keep the caller's buffers apart from those of the chunks a worker (or the caller) runs. */
inline float* scratch(int slot, size_t n) {
  constexpr int kSlots = 4;
  thread_local std::vector<float> bufs[kSlots];
  std::vector<float>& b = bufs[slot];
  if (b.size() < n + 16) b.resize(n + 16);
  const uintptr_t p = reinterpret_cast<uintptr_t>(b.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace dense
}  // namespace debora

#endif
