// driver_cp_linear.cpp — C++ driver cases for op cp_linear (see driver.cpp): forward and backward
// on small awkward shapes against a naive double reference, at every SIMD level this CPU has, with 1
// and 3 threads (so the sanitizers see the pool and the per-chunk partials), the backward with Z and
// dX given and without either, and bad input leaving outputs untouched.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "debora/debora.h"
#include "driver_common.h"

namespace {

struct Ref {
  std::vector<double> Y, dX, dU, dV, ds;
};

Ref reference(int64_t N, int64_t nin, int64_t nout, int64_t r, const std::vector<float>& X, const std::vector<float>& U,
              const std::vector<float>& V, const std::vector<float>& s, const std::vector<float>& dY) {
  Ref o;
  o.Y.assign(N * nout, 0);
  o.dX.assign(N * nin, 0);
  o.dU.assign(nout * r, 0);
  o.dV.assign(nin * r, 0);
  o.ds.assign(r, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < r; ++i) {
      double z = 0, t = 0;
      for (int64_t k = 0; k < nin; ++k) z += double(X[n * nin + k]) * V[k * r + i];
      for (int64_t j = 0; j < nout; ++j) t += double(dY[n * nout + j]) * U[j * r + i];
      for (int64_t j = 0; j < nout; ++j) {
        o.Y[n * nout + j] += z * s[i] * U[j * r + i];
        o.dU[j * r + i] += double(dY[n * nout + j]) * z * s[i];
      }
      for (int64_t k = 0; k < nin; ++k) {
        o.dV[k * r + i] += double(X[n * nin + k]) * t * s[i];
        o.dX[n * nin + k] += t * s[i] * V[k * r + i];
      }
      o.ds[i] += z * t;
    }
  return o;
}

}  // namespace

void driver_cp_linear() {
  // r = 8 and 16 exactly use the factors in place; AVX-512 runs k1 and k3 at r <= 16 in its several-k-per-vector
  // kernels (K not a multiple of 4, K under one k3 block included); 17, 40: a last 8 columns after 16-lane ones.
  // {1100, 7, 960, 5} and {1100, 961, 6, 3} have an output of >= 4 MiB (Y, then dX): streaming stores, and the
  // backward's from-DRAM blocks (X fetched during k1 of dY). The two after them have rows a multiple of 16
  // floats: under AVX-512 those go out straight from k2's tiles (aligned non-temporal stores, a head and a tail
  // of plain ones at whatever offset the allocator gives). The last one has three chunks at 3 threads and
  // partials of (200 + 220 + 1) x 40 floats: the backward's parallel reduction (two chunks reduce on the caller).
  const int64_t shapes[][4] = {{1, 1, 1, 1},      {7, 9, 5, 3},      {65, 17, 8, 9},     {130, 12, 31, 17},
                               {130, 13, 31, 8},  {97, 33, 47, 16},  {200, 5, 6, 40},    {1100, 7, 960, 5},
                               {1100, 961, 6, 3}, {700, 7, 1504, 5}, {700, 1504, 6, 3}, {260, 200, 220, 40}};
  const debora_simd best = debora_simd_supported();
  for (int level = DEBORA_SIMD_SCALAR; level <= static_cast<int>(best); ++level) {
    for (int threads : {1, 3}) {
      debora_set_simd(static_cast<debora_simd>(level));
      debora_set_num_threads(threads);
      for (const auto& sh : shapes) {
        const int64_t N = sh[0], nin = sh[1], nout = sh[2], r = sh[3];
        auto X = driver::uniform(N * nin, 1, -1, 1), U = driver::uniform(nout * r, 2, -1, 1),
             V = driver::uniform(nin * r, 3, -1, 1), s = driver::uniform(r, 4, 0.1f, 2), dY = driver::uniform(N * nout, 5, -1, 1);
        Ref ref = reference(N, nin, nout, r, X, U, V, s, dY);
        std::vector<float> Y(N * nout, NAN), Z(N * r, NAN), dX(N * nin, NAN), dU(nout * r, NAN), dV(nin * r, NAN), ds(r, NAN),
            dots(r, NAN);
        debora_status a = debora_cp_linear_fwd_cpu(N, nin, nout, r, X.data(), U.data(), V.data(), s.data(), Y.data(), 0, Z.data());
        debora_status b = debora_cp_linear_bwd_cpu(N, nin, nout, r, X.data(), U.data(), V.data(), s.data(), dY.data(), Z.data(),
                                                   dX.data(), 0, dU.data(), dV.data(), ds.data(), dots.data());
        // Without Z (recomputed from X) and without dX: the factor gradients must be the same.
        std::vector<float> dU2(nout * r, NAN), dV2(nin * r, NAN), ds2(r, NAN);
        debora_status c = debora_cp_linear_bwd_cpu(N, nin, nout, r, X.data(), U.data(), V.data(), s.data(), dY.data(), nullptr,
                                                   nullptr, 0, dU2.data(), dV2.data(), ds2.data(), nullptr);
        // Inputs in [-1, 1], sums of at most a few hundred terms: 1e-4 relative is ~1000 roundings.
        double e = std::max({driver::max_rel_err(Y.data(), ref.Y.data(), Y.size()),
                             driver::max_rel_err(dX.data(), ref.dX.data(), dX.size()),
                             driver::max_rel_err(dU.data(), ref.dU.data(), dU.size()),
                             driver::max_rel_err(dV.data(), ref.dV.data(), dV.size()),
                             driver::max_rel_err(ds.data(), ref.ds.data(), ds.size()),
                             driver::max_rel_err(dU2.data(), ref.dU.data(), dU2.size()),
                             driver::max_rel_err(dV2.data(), ref.dV.data(), dV2.size()),
                             driver::max_rel_err(ds2.data(), ref.ds.data(), ds2.size())});
        driver::report(std::string("cp_linear fwd+bwd ") + debora_simd_name(static_cast<debora_simd>(level)) + " threads=" +
                           std::to_string(threads) + " N=" + std::to_string(N) + " nin=" + std::to_string(nin) +
                           " nout=" + std::to_string(nout) + " r=" + std::to_string(r),
                       a == DEBORA_OK && b == DEBORA_OK && c == DEBORA_OK && e < 1e-4, "max_rel_err=" + std::to_string(e));
      }
    }
  }
  debora_set_simd(best);
  debora_set_num_threads(debora_hardware_threads());

  std::vector<float> X(12, 1), U(6, 1), V(6, 1), s{1, NAN}, Y(12, 7);
  debora_status st = debora_cp_linear_fwd_cpu(4, 3, 3, 2, X.data(), U.data(), V.data(), s.data(), Y.data(), 0, nullptr);
  bool untouched = true;
  for (float y : Y) untouched = untouched && y == 7;
  driver::report("cp_linear rejects NaN s, Y untouched",
                 st == DEBORA_NON_FINITE && untouched && std::strstr(debora_last_error(), "'s'") != nullptr, debora_last_error());
  st = debora_cp_linear_fwd_cpu(4, 0, 3, 2, X.data(), U.data(), V.data(), s.data(), Y.data(), 0, nullptr);
  driver::report("cp_linear rejects n_in=0", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'n_in'") != nullptr,
                 debora_last_error());
}
