// driver_common.h — helpers shared by the C++ driver files (test/native/driver*.cpp): case
// reporting ("PASS name: detail" / "FAIL ..."), seeded inputs, and max relative error.
#ifndef DEBORA_DRIVER_COMMON_H
#define DEBORA_DRIVER_COMMON_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace driver {

inline int& passed() {
  static int n = 0;
  return n;
}
inline int& failed() {
  static int n = 0;
  return n;
}

inline void report(const std::string& name, bool ok, const std::string& detail = "") {
  std::printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  (ok ? passed() : failed())++;
}

inline std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// max_i |a_i - ref_i| / (1 + |ref_i|); NaN anywhere gives +inf (so a poisoned output fails).
inline double max_rel_err(const float* a, const double* ref, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    double e = std::fabs(static_cast<double>(a[i]) - ref[i]) / (1.0 + std::fabs(ref[i]));
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}

}  // namespace driver

// One entry point per op file; main() in driver.cpp calls them all.
void driver_cp_hypergrad();
void driver_cp_linear();
void driver_cp_conv2d();
void driver_cp_dense();  // cp_materialize + cp_mttkrp
void driver_cp_tangent();
void driver_gemm();
void driver_conv2d();
void driver_relu();
void driver_max_pool2d();

#endif
