// driver_conv2d.cpp — C++ driver cases for op conv2d (see driver.cpp): forward with bias and
// backward (dX, dK, dbias) on small seeded shapes (strides, padding, dilation, the 1x1 shortcut,
// batches below and above the pool size and the 32 dK groups) against a naive double reference,
// with 1 and 3 threads (builtin: bitwise equal) and each gemm implementation; bad input leaving
// outputs untouched; two host threads calling at once (TSan).
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

struct Shape {
  int64_t batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw;
};

int64_t out_h(const Shape& s) { return (s.H + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1; }
int64_t out_w(const Shape& s) { return (s.W + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1; }
debora_conv2d_geom geom_of(const Shape& s) {
  return {s.batch, s.C, s.H, s.W, s.F, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw};
}

struct Result {
  std::vector<float> Y, dX, dK, db;
  double err = INFINITY;  // max |got - ref| / (1 + |ref|) over all outputs
};

Result run(const Shape& s, uint32_t seed) {
  const int64_t Ho = out_h(s), Wo = out_w(s), xl = s.batch * s.C * s.H * s.W, kl = s.F * s.C * s.kh * s.kw,
                yl = s.batch * s.F * Ho * Wo;
  auto X = driver::uniform(size_t(xl), seed + 1, -1, 1), K = driver::uniform(size_t(kl), seed + 2, -1, 1),
       bias = driver::uniform(size_t(s.F), seed + 3, -1, 1), dY = driver::uniform(size_t(yl), seed + 4, -1, 1);
  std::vector<double> Y(size_t(yl), 0.0), dX(size_t(xl), 0.0), dK(size_t(kl), 0.0), db(size_t(s.F), 0.0);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t f = 0; f < s.F; ++f)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const size_t yi = size_t(((n * s.F + f) * Ho + oh) * Wo + ow);
          double y = bias[size_t(f)];
          db[size_t(f)] += dY[yi];
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t a = 0; a < s.kh; ++a)
              for (int64_t b = 0; b < s.kw; ++b) {
                const int64_t ih = oh * s.sh - s.ph + a * s.dh, iw = ow * s.sw - s.pw + b * s.dw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const size_t xi = size_t(((n * s.C + c) * s.H + ih) * s.W + iw), ki = size_t(((f * s.C + c) * s.kh + a) * s.kw + b);
                y += double(K[ki]) * X[xi];
                dX[xi] += double(K[ki]) * dY[yi];
                dK[ki] += double(X[xi]) * dY[yi];
              }
          Y[yi] = y;
        }
  Result r;
  r.Y.assign(size_t(yl), NAN);
  r.dX.assign(size_t(xl), NAN);
  r.dK.assign(size_t(kl), NAN);
  r.db.assign(size_t(s.F), NAN);
  const debora_conv2d_geom g = geom_of(s);
  debora_status a = debora_conv2d_fwd_cpu(&g, X.data(), K.data(), bias.data(), r.Y.data(), 0);
  debora_status b = debora_conv2d_bwd_cpu(&g, X.data(), K.data(), dY.data(), r.dX.data(), 0, r.dK.data(), 0, r.db.data(), 0);
  if (a != DEBORA_OK || b != DEBORA_OK) return r;
  r.err = std::max({driver::max_rel_err(r.Y.data(), Y.data(), Y.size()), driver::max_rel_err(r.dX.data(), dX.data(), dX.size()),
                    driver::max_rel_err(r.dK.data(), dK.data(), dK.size()), driver::max_rel_err(r.db.data(), db.data(), db.size())});
  return r;
}

std::string name_of(const Shape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "b%lld C%lld %lldx%lld F%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld", (long long)s.batch,
                (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.F, (long long)s.kh, (long long)s.kw,
                (long long)s.sh, (long long)s.sw, (long long)s.ph, (long long)s.pw, (long long)s.dh, (long long)s.dw);
  return buf;
}

}  // namespace

void driver_conv2d() {
  const Shape shapes[] = {
      {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1},    {3, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1},
      {2, 8, 13, 7, 9, 3, 3, 2, 2, 1, 0, 1, 1},   {3, 9, 7, 13, 8, 1, 3, 1, 2, 0, 2, 1, 2},
      {1, 7, 13, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2}, {2, 5, 9, 11, 6, 1, 1, 1, 1, 0, 0, 1, 1},
      {35, 2, 6, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1},  {1, 40, 26, 26, 3, 3, 3, 1, 1, 0, 0, 1, 1},
  };
  std::vector<int> impls{DEBORA_GEMM_BUILTIN};
  if (debora_blas_compiled()) impls.push_back(DEBORA_GEMM_BLAS);
  for (int impl : impls) {
    debora_gemm_set_impl(impl);
    for (const Shape& s : shapes) {
      std::vector<Result> rs;
      for (int threads : {1, 3}) {
        debora_set_num_threads(threads);
        rs.push_back(run(s, 7));
        // Inputs in [-1, 1], sums of at most a few thousand terms: 1e-4 relative is ~1000 roundings.
        report(std::string("conv2d ") + (impl == DEBORA_GEMM_BLAS ? "blas" : "builtin") + " threads=" +
                   std::to_string(threads) + " " + name_of(s),
               rs.back().err < 1e-4, "max_rel_err=" + std::to_string(rs.back().err));
      }
      if (impl == DEBORA_GEMM_BUILTIN)
        report("conv2d builtin bitwise equal for 1 and 3 threads " + name_of(s),
               rs[0].Y == rs[1].Y && rs[0].dX == rs[1].dX && rs[0].dK == rs[1].dK && rs[0].db == rs[1].db);
    }
  }

  // Two host threads at once (one of them gets the pool, the other runs serially).
  debora_set_num_threads(3);
  for (int impl : impls) {
    debora_gemm_set_impl(impl);
    double e1 = INFINITY, e2 = INFINITY;
    std::thread t1([&] { e1 = run({4, 6, 11, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1}, 1).err; });
    std::thread t2([&] { e2 = run({5, 3, 9, 12, 16, 3, 2, 2, 1, 0, 1, 1, 1}, 2).err; });
    t1.join();
    t2.join();
    report(std::string("conv2d two concurrent callers ") + (impl == DEBORA_GEMM_BLAS ? "blas" : "builtin"),
           e1 < 1e-4 && e2 < 1e-4, "max_rel_err=" + std::to_string(e1) + "," + std::to_string(e2));
  }
  debora_set_num_threads(debora_hardware_threads());
  debora_gemm_set_impl(DEBORA_GEMM_AUTO);

  // Bad input: a status naming the argument, outputs untouched.
  const debora_conv2d_geom g{2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1};
  std::vector<float> X(216, 1), K(108, 1), dY(288, 1), Y(288, 7), dK(108, 7);
  auto all7 = [](const std::vector<float>& v) {
    for (float x : v)
      if (x != 7) return false;
    return true;
  };
  debora_conv2d_geom bad = g;
  bad.kh = 9;
  debora_status st = debora_conv2d_fwd_cpu(&bad, X.data(), K.data(), nullptr, Y.data(), 0);
  report("conv2d rejects a kernel taller than the padded input",
         st == DEBORA_SHAPE_MISMATCH && all7(Y) && std::strstr(debora_last_error(), "'geom'"), debora_last_error());
  bad = g;
  bad.dil_w = 0;
  st = debora_conv2d_fwd_cpu(&bad, X.data(), K.data(), nullptr, Y.data(), 0);
  report("conv2d rejects dil_w = 0", st == DEBORA_INVALID_ARG && all7(Y) && std::strstr(debora_last_error(), "'geom.dil_w'"),
         debora_last_error());
  bad = g;
  bad.batch = bad.C = int64_t{1} << 30;  // each in range, their product with H x W is not
  bad.H = bad.W = 1 << 20;
  bad.kh = bad.kw = 1;
  st = debora_conv2d_fwd_cpu(&bad, X.data(), K.data(), nullptr, Y.data(), 0);
  report("conv2d rejects sizes whose product overflows 64 bits",
         st == DEBORA_INVALID_ARG && all7(Y) && std::strstr(debora_last_error(), "fit in 64 bits"), debora_last_error());
  st = debora_conv2d_fwd_cpu(&g, X.data(), nullptr, nullptr, Y.data(), 0);
  report("conv2d rejects null K", st == DEBORA_INVALID_ARG && all7(Y) && std::strstr(debora_last_error(), "'K'"),
         debora_last_error());
  st = debora_conv2d_bwd_cpu(&g, nullptr, K.data(), dY.data(), nullptr, 0, dK.data(), 0, nullptr, 0);
  report("conv2d_bwd rejects dK without X", st == DEBORA_INVALID_ARG && all7(dK) && std::strstr(debora_last_error(), "'X'"),
         debora_last_error());
  st = debora_conv2d_bwd_cpu(&g, nullptr, nullptr, dY.data(), nullptr, 0, nullptr, 0, nullptr, 0);
  report("conv2d_bwd with nothing to compute is a no-op", st == DEBORA_OK);
}
