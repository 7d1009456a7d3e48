// cp_linear_loop.cpp — one side of bench/ab.sh cp_linear: runs cp_linear fwd + bwd (Z reused, 768 -> 768,
// two threads, or T=<n> in the environment) on seeded data for a given time and prints the median ms of the forward, the backward and the pair.
// ACC=1 in the environment accumulates into Y and dX (the path lib/nn's layers take: base output plus adapter, so
// nothing is streamed); by default both are overwritten, as in the bench. ZNULL=1 passes no Z to the backward (it
// recomputes Z = X V from X's rows). DOTS=1 asks the backward for dots (as a dEBORA training step does). Built twice:
// with -DOLD against the kernels of an older revision (symbols renamed), and against the working tree.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <cmath>
#include "debora/debora.h"
#include "time_pair.h"
#ifdef OLD
extern "C" debora_status old_fwd(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*, float*, int, float*);
extern "C" debora_status old_bwd(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*, const float*, const float*, float*, int, float*, float*, float*, float*);
#define FWD old_fwd
#define BWD old_bwd
#else
#define FWD debora_cp_linear_fwd_cpu
#define BWD debora_cp_linear_bwd_cpu
#endif
int main(int argc, char** argv) {
  const int64_t N = atoi(argv[1]), r = atoi(argv[2]), nin = 768, nout = 768; const double secs = atof(argv[3]);
  debora_set_num_threads(getenv("T") ? atoi(getenv("T")) : 2);
  std::vector<float> X(N * nin), dY(N * nout), Y(N * nout), dX(N * nin), U(nout * r), V(nin * r), s(r), Z(N * r), dU(nout * r), dV(nin * r), ds(r);
  unsigned v = 1; auto rnd = [&] { v = v * 1664525u + 1013904223u; return (v >> 8) / 16777216.0f * 2 - 1; };
  for (auto& x : X) x = rnd(); for (auto& x : dY) x = rnd(); for (auto& x : U) x = rnd(); for (auto& x : V) x = rnd(); for (auto& x : s) x = 0.1f + std::abs(rnd());
  const int acc = getenv("ACC") != nullptr && atoi(getenv("ACC")) != 0;
  const float* Zb = getenv("ZNULL") != nullptr && atoi(getenv("ZNULL")) != 0 ? nullptr : Z.data();
  std::vector<float> dots(r);
  float* dp = getenv("DOTS") != nullptr && atoi(getenv("DOTS")) != 0 ? dots.data() : nullptr;
  auto fwd = [&] { FWD(N, nin, nout, r, X.data(), U.data(), V.data(), s.data(), Y.data(), acc, Z.data()); };
  auto bwd = [&] {
    BWD(N, nin, nout, r, X.data(), U.data(), V.data(), s.data(), dY.data(), Zb, dX.data(), acc, dU.data(), dV.data(),
        ds.data(), dp);
  };
  time_pair(secs, fwd, bwd);
}
