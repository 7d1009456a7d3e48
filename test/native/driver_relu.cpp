// driver_relu.cpp — C++ driver cases for op relu (see driver.cpp): forward and backward against the
// scalar definition (bitwise: the kernel does no arithmetic but the accumulate's one add) on sizes
// around the vector and chunk widths, with NaN, +-0 and infinities in the input, outputs poisoned
// first; in place; accumulate; every SIMD level and 1 / 3 threads; bad input leaving outputs
// untouched; two host threads at once (TSan).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "debora/debora.h"
#include "driver_common.h"

using driver::report;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Uniform in [-1, 1] with a sprinkling of the special values the select must get right.
std::vector<float> input(size_t n, uint32_t seed) {
  std::vector<float> x = driver::uniform(n, seed, -1, 1);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, INFINITY, -INFINITY, 1e-40f, -1e-40f};
  for (size_t i = 0; i < n; i += 5) x[i] = specials[(i / 5) % 7];
  return x;
}

// One size: forward, in-place forward, backward from x and from y, accumulate; all bitwise.
bool run(size_t n, uint32_t seed, std::string& detail) {
  const std::vector<float> x = input(n, seed), dy = driver::uniform(n, seed + 1, -1, 1),
                           base = driver::uniform(n, seed + 2, -1, 1);
  std::vector<float> ry(n), rdx(n), racc(n);
  for (size_t i = 0; i < n; ++i) {
    ry[i] = x[i] > 0.0f ? x[i] : 0.0f;
    rdx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    racc[i] = base[i] + (x[i] > 0.0f ? dy[i] : 0.0f);
  }
  const auto N = static_cast<int64_t>(n);
  std::vector<float> y(n, NAN), inplace = x, dx1(n, NAN), dx2(n, NAN), acc = base, dyc = dy;
  bool ok = debora_relu_fwd_cpu(N, x.data(), y.data()) == DEBORA_OK && same_bits(y, ry);
  if (!ok) detail += " fwd";
  if (!(debora_relu_fwd_cpu(N, inplace.data(), inplace.data()) == DEBORA_OK && same_bits(inplace, ry))) {
    ok = false;
    detail += " fwd-in-place";
  }
  if (!(debora_relu_bwd_cpu(N, x.data(), dy.data(), dx1.data(), 0) == DEBORA_OK && same_bits(dx1, rdx))) {
    ok = false;
    detail += " bwd(x)";
  }
  if (!(debora_relu_bwd_cpu(N, y.data(), dy.data(), dx2.data(), 0) == DEBORA_OK && same_bits(dx2, rdx))) {
    ok = false;
    detail += " bwd(y)";
  }
  if (!(debora_relu_bwd_cpu(N, x.data(), dy.data(), acc.data(), 1) == DEBORA_OK && same_bits(acc, racc))) {
    ok = false;
    detail += " bwd-accumulate";
  }
  if (!(debora_relu_bwd_cpu(N, x.data(), dyc.data(), dyc.data(), 0) == DEBORA_OK && same_bits(dyc, rdx))) {
    ok = false;
    detail += " bwd-in-place";
  }
  return ok;
}

}  // namespace

void driver_relu() {
  const size_t sizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 97, 16383, 16385, 100003};
  const debora_simd best = debora_simd_supported();
  for (debora_simd level : {DEBORA_SIMD_SCALAR, best}) {
    debora_set_simd(level);
    for (int threads : {1, 3}) {
      debora_set_num_threads(threads);
      for (size_t n : sizes) {
        std::string detail;
        const bool ok = run(n, static_cast<uint32_t>(n), detail);
        report(std::string("relu ") + debora_simd_name(level) + " threads=" + std::to_string(threads) +
                   " n=" + std::to_string(n),
               ok, detail.empty() ? "" : "mismatch in" + detail);
      }
    }
  }
  debora_set_simd(best);

  // Two host threads at once (one of them gets the pool, the other runs serially).
  debora_set_num_threads(3);
  bool ok1 = false, ok2 = false;
  std::string d1, d2;
  std::thread t1([&] { ok1 = run(200003, 1, d1); });
  std::thread t2([&] { ok2 = run(150001, 2, d2); });
  t1.join();
  t2.join();
  report("relu two concurrent callers", ok1 && ok2, d1 + d2);
  debora_set_num_threads(debora_hardware_threads());

  // Bad input: a status naming the argument, outputs untouched.
  std::vector<float> x(64, 1), dy(64, 1), out(64, 7);
  auto all7 = [](const float* v, size_t n) {
    for (size_t i = 0; i < n; ++i)
      if (v[i] != 7) return false;
    return true;
  };
  debora_status st = debora_relu_fwd_cpu(-1, x.data(), out.data());
  report("relu rejects n < 0",
         st == DEBORA_INVALID_ARG && all7(out.data(), 64) && std::strstr(debora_last_error(), "'n'"),
         debora_last_error());
  st = debora_relu_fwd_cpu(64, nullptr, out.data());
  report("relu rejects null x",
         st == DEBORA_INVALID_ARG && all7(out.data(), 64) && std::strstr(debora_last_error(), "'x'"),
         debora_last_error());
  st = debora_relu_bwd_cpu(64, x.data(), dy.data(), nullptr, 0);
  report("relu_bwd rejects null dx", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'dx'"),
         debora_last_error());
  // out shifted by one element over x: a partial overlap.
  std::vector<float> buf(65, 7);
  st = debora_relu_fwd_cpu(64, buf.data(), buf.data() + 1);
  report("relu rejects a partial overlap of y and x",
         st == DEBORA_INVALID_ARG && all7(buf.data(), 65) && std::strstr(debora_last_error(), "'y'"),
         debora_last_error());
  st = debora_relu_bwd_cpu(64, x.data(), buf.data() + 1, buf.data(), 1);
  report("relu_bwd rejects a partial overlap of dx and dy",
         st == DEBORA_INVALID_ARG && all7(buf.data(), 65) && std::strstr(debora_last_error(), "'dx'"),
         debora_last_error());
  st = debora_relu_fwd_cpu(0, nullptr, nullptr);
  report("relu with n = 0 is a no-op", st == DEBORA_OK);
}
