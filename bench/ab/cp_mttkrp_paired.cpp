// cp_mttkrp_paired.cpp — bench/ab.sh cp_mttkrp: cp_mttkrp (every mode, ds and dots) at an older revision (built
// with its namespace renamed to debora::dense_old and its entry point to old_mttkrp, so its inline kernels do not
// merge with the new ones at link time) and from the working tree, in ONE process, alternated in blocks of 200
// calls after 20 warm-up calls. A call takes 20-250 us, and on these machines separate processes for such short
// calls differ by up to 1.4x from process to process; within one process the per-block ratio is stable.
// Usage: run-both <dims, e.g. 64x64x3x3> <r> <blocks>; two pool threads. Prints medians, minima and the per-block
// ratio old/new (median and quartiles).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include "debora/debora.h"
extern "C" debora_status old_mttkrp(int, const int64_t*, int64_t, const float* const*, const float*, const float*,
                                    float* const*, float*, float*);
int main(int argc, char** argv) {
  if (argc < 4) return std::fprintf(stderr, "usage: %s <dims like 64x64x3x3> <r> <blocks>\n", argv[0]), 2;
  const std::string name = argv[1]; /* strtok below cuts argv[1] */
  std::vector<int64_t> dims;
  for (char* p = std::strtok(argv[1], "x"); p != nullptr; p = std::strtok(nullptr, "x")) dims.push_back(atoll(p));
  const int64_t r = atoll(argv[2]);
  const int blocks = std::max(4, atoi(argv[3]));
  debora_set_num_threads(2);
  int64_t N = 1;
  for (int64_t n : dims) N *= n;
  unsigned v = 1;
  auto rnd = [&] { v = v * 1664525u + 1013904223u; return (v >> 8) / 16777216.0f * 2 - 1; };
  std::vector<std::vector<float>> U, g;
  std::vector<const float*> Up;
  std::vector<float*> gp;
  for (int64_t n : dims) {
    U.emplace_back(n * r);
    for (auto& x : U.back()) x = rnd();
    g.emplace_back(n * r);
  }
  for (size_t k = 0; k < dims.size(); ++k) Up.push_back(U[k].data()), gp.push_back(g[k].data());
  std::vector<float> s(r), G(N), ds(r), dots(r);
  for (auto& x : s) x = 0.1f + std::abs(rnd());
  for (auto& x : G) x = rnd();
  const int d = static_cast<int>(dims.size());
  std::vector<double> t_old, t_new, ratio;
  for (int b = 0; b < blocks; ++b)
    for (int side = 0; side < 2; ++side) {
      auto call = [&] {
        return side == 0 ? old_mttkrp(d, dims.data(), r, Up.data(), s.data(), G.data(), gp.data(), ds.data(), dots.data())
                         : debora_cp_mttkrp_cpu(d, dims.data(), r, Up.data(), s.data(), G.data(), gp.data(), ds.data(),
                                                dots.data());
      };
      for (int i = 0; i < 20; ++i) call();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 200; ++i)
        if (call() != DEBORA_OK) return std::fprintf(stderr, "cp_mttkrp failed: %s\n", debora_last_error()), 1;
      (side == 0 ? t_old : t_new)
          .push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 200);
    }
  for (int b = 0; b < blocks; ++b) ratio.push_back(t_old[b] / t_new[b]);
  for (auto* t : {&t_old, &t_new, &ratio}) std::sort(t->begin(), t->end());
  std::printf("%s r=%lld: old %.4f ms (min %.4f), new %.4f ms (min %.4f); speedup per block: median %.2f, quartiles "
              "%.2f-%.2f\n",
              name.c_str(), static_cast<long long>(r), t_old[blocks / 2], t_old[0], t_new[blocks / 2], t_new[0],
              ratio[blocks / 2], ratio[blocks / 4], ratio[3 * blocks / 4]);
}
