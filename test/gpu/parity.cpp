// parity.cpp — standalone CUDA-vs-CPU parity driver over native/ (plain CMake, no Node): runs
// every CUDA op and its CPU twin on the same seeded inputs of awkward sizes and compares.
// Prints one line per case and "N passed, N failed"; without a usable GPU it prints the reason,
// "SKIP", and exits 77 (ctest's skip code). Run by bench/gpu-check.sh and by ctest.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "debora/debora.h"

namespace {

int g_passed = 0, g_failed = 0;

void report(const std::string& name, bool ok, const std::string& detail) {
  std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  (ok ? g_passed : g_failed)++;
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

void parity_cp_hypergrad() {
  // Around the block size (256) and a large odd size; guard values after the end must survive.
  for (int64_t r : {1, 255, 256, 257, 100003}) {
    const size_t n = static_cast<size_t>(r);
    auto ds = uniform(n, 11, -3, 3), s = uniform(n, 12, 1e-3f, 4), dots = uniform(n, 13, -3, 3);
    std::vector<float> cpu(n + 4, NAN), gpu(n + 4, NAN);
    for (size_t i = n; i < n + 4; ++i) gpu[i] = 12345.f;
    debora_status a = debora_cp_hypergrad_cpu(r, ds.data(), s.data(), dots.data(), cpu.data());
    debora_status b = debora_cp_hypergrad_cuda(r, ds.data(), s.data(), dots.data(), gpu.data());
    double worst = 0;  // same formula, correctly rounded on both sides: expect bitwise equality
    for (size_t i = 0; i < n; ++i) {
      double e = std::fabs(static_cast<double>(cpu[i]) - gpu[i]);
      if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
    }
    bool guard = gpu[n] == 12345.f && gpu[n + 3] == 12345.f;
    report("cp_hypergrad r=" + std::to_string(r), a == DEBORA_OK && b == DEBORA_OK && worst == 0 && guard,
           "max_abs_diff=" + std::to_string(worst) + (b != DEBORA_OK ? std::string(" cuda: ") + debora_last_error() : ""));
  }
}

}  // namespace

int main() {
  int count = 0;
  if (debora_cuda_device_count(&count) != DEBORA_OK) {
    std::printf("SKIP gpu parity: %s\n", debora_last_error());
    return 77;
  }
  debora_cuda_device dev;
  if (debora_cuda_device_info(0, &dev) == DEBORA_OK)
    std::printf("device 0: %s, cc %d.%d, %.1f GiB\n", dev.name, dev.cc_major, dev.cc_minor,
                static_cast<double>(dev.total_memory) / (1 << 30));
  parity_cp_hypergrad();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
