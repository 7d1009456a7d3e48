// driver_gemm.cpp — C++ driver cases for op gemm (see driver.cpp): all four transpose combinations,
// padded leading dimensions (NaN in the gaps, which must never be read), alpha / beta including
// beta = 0 on a NaN C, and sizes that split over the pool, against a double reference with the
// bound γ_{K+3}·Σ|terms| (see test/native/gemm.test.ts); every implementation this build has
// (builtin at each SIMD level, the system BLAS), 1 and 3 threads (builtin bitwise equal); bad
// input leaving C untouched; two host threads calling at once (TSan).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "debora/debora.h"
#include "driver_common.h"

using driver::report;

namespace {

struct Case {
  int ta, tb;
  int64_t M, N, K, pad;
  float alpha, beta;
};

std::vector<float> stored(int64_t rows, int64_t cols, int64_t ld, uint32_t seed, float gap) {
  std::vector<float> v(size_t(rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols), gap);
  auto vals = driver::uniform(size_t(rows * cols), seed, -1.f, 1.f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) v[size_t(i * ld + j)] = vals[size_t(i * cols + j)];
  return v;
}

// Runs one case; returns max |C - ref| / (γ_{K+3}·bound) (<= 1 passes; NaN gives inf) and C.
double run_case(const Case& c, std::vector<float>* out) {
  const int64_t rowsA = c.ta ? c.K : c.M, colsA = c.ta ? c.M : c.K;
  const int64_t rowsB = c.tb ? c.N : c.K, colsB = c.tb ? c.K : c.N;
  const int64_t lda = std::max<int64_t>(1, colsA) + c.pad, ldb = std::max<int64_t>(1, colsB) + c.pad,
                ldc = std::max<int64_t>(1, c.N) + c.pad;
  auto A = stored(rowsA, colsA, lda, 11, NAN), B = stored(rowsB, colsB, ldb, 12, NAN);
  auto C0 = stored(c.M, c.N, ldc, 13, 12345.f);
  if (c.beta == 0)
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) C0[size_t(i * ldc + j)] = NAN;
  std::vector<float> C = C0;
  debora_status st = debora_gemm_cpu(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  if (st != DEBORA_OK) return INFINITY;
  double worst = 0;
  const double u = std::ldexp(1.0, -24) * double(c.K + 3);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0, t = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
        const double b = c.tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
        s += a * b;
        t += std::fabs(a * b);
      }
      const double cb = c.beta == 0 ? 0.0 : double(c.beta) * C0[size_t(i * ldc + j)];
      const double ref = double(c.alpha) * s + cb, bound = std::fabs(double(c.alpha)) * t + std::fabs(cb);
      const double e = std::fabs(double(C[size_t(i * ldc + j)]) - ref) / (u * bound + 1e-30);
      if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
    }
    for (int64_t j = c.N; j < ldc && i * ldc + j < int64_t(C.size()); ++j)
      if (C[size_t(i * ldc + j)] != 12345.f) worst = INFINITY;  // a gap of C was written
  }
  if (out) *out = C;
  return worst;
}

}  // namespace

void driver_gemm() {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 17, 9}, {6, 16, 257}, {13, 5, 31}, {130, 131, 129}, {20, 300, 400}};
  const float scalars[][2] = {{1, 0}, {-0.75f, 1}, {2.5f, -0.5f}};
  std::vector<int> impls{DEBORA_GEMM_BUILTIN};
  if (debora_blas_compiled()) impls.push_back(DEBORA_GEMM_BLAS);
  const debora_simd best = debora_simd_supported();
  for (int impl : impls) {
    debora_gemm_set_impl(impl);
    for (debora_simd simd : {DEBORA_SIMD_SCALAR, best}) {
      if (impl == DEBORA_GEMM_BLAS && simd != best) continue;
      debora_set_simd(simd);
      for (int threads : {1, 3}) {
        debora_set_num_threads(threads);
        int idx = 0;
        for (const auto& sh : shapes)
          for (int t = 0; t < 4; ++t, ++idx) {
            const Case c{t & 1, (t >> 1) & 1, sh[0], sh[1], sh[2], int64_t(idx % 3), scalars[idx % 3][0], scalars[idx % 3][1]};
            const double e = run_case(c, nullptr);
            report(std::string("gemm ") + (impl == DEBORA_GEMM_BLAS ? "blas" : "builtin") + " " + debora_simd_name(simd) +
                       " threads=" + std::to_string(threads) + " " + (c.ta ? "T" : "N") + (c.tb ? "T" : "N") +
                       " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
                       " pad=" + std::to_string(c.pad),
                   e <= 1, "bound_ratio=" + std::to_string(e));
          }
      }
    }
  }
  debora_set_simd(best);

  // The builtin engine splits over rows or columns, never over K: bitwise the same for any pool size.
  debora_gemm_set_impl(DEBORA_GEMM_BUILTIN);
  std::vector<float> one, three;
  const Case big{0, 1, 150, 170, 300, 0, 1.f, 0.f};
  debora_set_num_threads(1);
  run_case(big, &one);
  debora_set_num_threads(3);
  run_case(big, &three);
  report("gemm builtin bitwise equal for 1 and 3 threads", one == three);

  // Two host threads at once, in each implementation (the pool runs one of them serially).
  for (int impl : impls) {
    debora_gemm_set_impl(impl);
    double e1 = 0, e2 = 0;
    std::thread t1([&] { e1 = run_case({0, 0, 140, 150, 160, 1, 1.f, 0.f}, nullptr); });
    std::thread t2([&] { e2 = run_case({1, 1, 150, 140, 170, 2, -1.f, 0.5f}, nullptr); });
    t1.join();
    t2.join();
    report(std::string("gemm two concurrent callers ") + (impl == DEBORA_GEMM_BLAS ? "blas" : "builtin"), e1 <= 1 && e2 <= 1,
           "bound_ratios=" + std::to_string(e1) + "," + std::to_string(e2));
  }
  debora_set_num_threads(debora_hardware_threads());
  debora_gemm_set_impl(DEBORA_GEMM_AUTO);

  // Bad input: a status naming the argument, C untouched.
  std::vector<float> A(12, 1), B(20, 1), C(15, 7);
  auto untouched = [&] {
    for (float v : C)
      if (v != 7) return false;
    return true;
  };
  debora_status st = debora_gemm_cpu(0, 0, 3, 5, 4, 1, A.data(), 3, B.data(), 5, 0, C.data(), 5);
  report("gemm rejects lda < K", st == DEBORA_INVALID_ARG && untouched() && std::strstr(debora_last_error(), "'lda'"),
         debora_last_error());
  st = debora_gemm_cpu(0, 2, 3, 5, 4, 1, A.data(), 4, B.data(), 5, 0, C.data(), 5);
  report("gemm rejects trans_b = 2", st == DEBORA_INVALID_ARG && untouched() && std::strstr(debora_last_error(), "'trans_b'"),
         debora_last_error());
  st = debora_gemm_cpu(0, 0, 3, 5, 4, NAN, A.data(), 4, B.data(), 5, 0, C.data(), 5);
  report("gemm rejects NaN alpha", st == DEBORA_NON_FINITE && untouched() && std::strstr(debora_last_error(), "'alpha'"),
         debora_last_error());
  st = debora_gemm_cpu(0, 0, 3, 5, 4, 1, nullptr, 4, B.data(), 5, 0, C.data(), 5);
  report("gemm rejects null A", st == DEBORA_INVALID_ARG && untouched() && std::strstr(debora_last_error(), "'A'"),
         debora_last_error());
  st = debora_gemm_cpu(0, 0, 3, 5, 4, 1, C.data(), 4, B.data(), 5, 0, C.data() + 2, 5);
  report("gemm rejects C overlapping A", st == DEBORA_INVALID_ARG && untouched() && std::strstr(debora_last_error(), "'C'"),
         debora_last_error());
  st = debora_gemm_set_impl(9);
  report("gemm_set_impl rejects 9", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'impl'"), debora_last_error());
  st = debora_gemm_set_impl(DEBORA_GEMM_BLAS);
  report("gemm_set_impl blas is available exactly when compiled in",
         debora_blas_compiled() ? st == DEBORA_OK : st == DEBORA_BACKEND_UNAVAILABLE, debora_last_error());
  debora_gemm_set_impl(DEBORA_GEMM_AUTO);
}
