// cp_mttkrp_loop.cpp — one side of bench/ab.sh cp_mttkrp: runs cp_mttkrp (every mode, ds and dots) on seeded
// data of the given dims (e.g. 64x64x3x3) and rank for a given time, two pool threads, and prints the median ms.
// Built twice: with -DOLD against the kernels of an older revision (symbol renamed), and against the working tree.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "debora/debora.h"
#include "time_pair.h"
#ifdef OLD
extern "C" debora_status old_mttkrp(int, const int64_t*, int64_t, const float* const*, const float*, const float*,
                                    float* const*, float*, float*);
#define MTTKRP old_mttkrp
#else
#define MTTKRP debora_cp_mttkrp_cpu
#endif
int main(int argc, char** argv) {
  std::vector<int64_t> dims;
  for (char* p = std::strtok(argv[1], "x"); p != nullptr; p = std::strtok(nullptr, "x")) dims.push_back(atoll(p));
  const int64_t r = atoll(argv[2]);
  const double secs = atof(argv[3]);
  debora_set_num_threads(2);
  int64_t N = 1;
  for (int64_t n : dims) N *= n;
  unsigned v = 1;
  auto rnd = [&] { v = v * 1664525u + 1013904223u; return (v >> 8) / 16777216.0f * 2 - 1; };
  std::vector<std::vector<float>> U, grads;
  std::vector<const float*> Up;
  std::vector<float*> gp;
  for (int64_t n : dims) {
    U.emplace_back(n * r);
    for (auto& x : U.back()) x = rnd();
    grads.emplace_back(n * r);
  }
  for (size_t k = 0; k < dims.size(); ++k) Up.push_back(U[k].data()), gp.push_back(grads[k].data());
  std::vector<float> s(r), G(N), ds(r), dots(r);
  for (auto& x : s) x = 0.1f + std::abs(rnd());
  for (auto& x : G) x = rnd();
  time_one(secs, [&] {
    MTTKRP(static_cast<int>(dims.size()), dims.data(), r, Up.data(), s.data(), G.data(), gp.data(), ds.data(),
           dots.data());
  });
}
