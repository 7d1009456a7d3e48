// cp_conv2d_loop.cpp — one side of bench/ab.sh cp_conv2d: runs cp_conv2d fwd + bwd at the bench shape
// (batch 32, C = F = 64, 32x32, 3x3, padding 1, r = 8) or another square one on seeded data for a given
// time and prints the median ms of one fwd, one bwd and one pair. Built twice: with -DOLD against the
// kernels of an older revision (symbols renamed), and against the working tree. Also handy under perf record.
//   run <threads> <seconds> [batch [r [C [H]]]]      (F = C, W = H)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "debora/debora.h"
#include "time_pair.h"
#ifdef OLD
extern "C" debora_status old_fwd(const debora_conv2d_geom*, int64_t, const float*, const float*, const float*,
                                 const float*, const float*, const float*, float*, int);
extern "C" debora_status old_bwd(const debora_conv2d_geom*, int64_t, const float*, const float*, const float*,
                                 const float*, const float*, const float*, const float*, float*, int, float*, float*,
                                 float*, float*, float*, float*);
#define FWD old_fwd
#define BWD old_bwd
#else
#define FWD debora_cp_conv2d_fwd_cpu
#define BWD debora_cp_conv2d_bwd_cpu
#endif
int main(int argc, char** argv) {
  debora_set_num_threads(argc > 1 ? atoi(argv[1]) : 2);
  const double secs = argc > 2 ? atof(argv[2]) : 1.0;
  const int64_t B = argc > 3 ? atoi(argv[3]) : 32, r = argc > 4 ? atoi(argv[4]) : 8, C = argc > 5 ? atoi(argv[5]) : 64,
                H = argc > 6 ? atoi(argv[6]) : 32, W = H, F = C, k = 3;
  if (B < 1 || r < 1 || C < 1 || H < 1) { fprintf(stderr, "cp_conv2d_loop: batch, r, C and H must be >= 1\n"); return 2; }
  const debora_conv2d_geom g{B, C, H, W, F, k, k, 1, 1, 1, 1, 1, 1};
  std::vector<float> X(B * C * H * W), dY(B * F * H * W), Y(B * F * H * W), dX(B * C * H * W), U1(F * r), U2(C * r),
      U3(k * r), U4(k * r), s(r), dU1(F * r), dU2(C * r), dU3(k * r), dU4(k * r), ds(r), dots(r);
  unsigned v = 1;
  auto rnd = [&] { v = v * 1664525u + 1013904223u; return (v >> 8) / 16777216.0f * 2 - 1; };
  for (auto* a : {&X, &dY, &U1, &U2, &U3, &U4}) for (auto& x : *a) x = rnd();
  for (auto& x : s) x = 0.1f + std::abs(rnd());
  auto fwd = [&] { FWD(&g, r, X.data(), U1.data(), U2.data(), U3.data(), U4.data(), s.data(), Y.data(), 0); };
  auto bwd = [&] {
    BWD(&g, r, X.data(), U1.data(), U2.data(), U3.data(), U4.data(), s.data(), dY.data(), dX.data(), 0, dU1.data(),
        dU2.data(), dU3.data(), dU4.data(), ds.data(), dots.data());
  };
  time_pair(secs, fwd, bwd);
}
