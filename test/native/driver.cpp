// driver.cpp — standalone C++ test driver over native/ (no Node): the runtime, the thread pool
// and cp_hypergrad here; every other op in test/native/driver_<op>.cpp. Each op runs on small
// seeded inputs against naive double-precision references, and bad inputs must leave outputs
// untouched. Built with ASan+UBSan and with TSan and run by test/native/driver.test.ts (and by
// ctest). Prints one line per case, then "N passed, N failed".
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../native/cpu/thread_pool.h"
#include "debora/debora.h"
#include "driver_common.h"

using driver::report;

namespace {

void test_pool_coverage() {
  // Every index visited exactly once, for sizes around the chunking boundaries.
  for (int threads : {1, 2, 3, 7}) {
    debora_set_num_threads(threads);
    for (int64_t n : {1, 2, 3, 17, 64, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (auto& h : hits) h.store(0);
      debora::parallel_for(n, 5, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      bool ok = true;
      for (auto& h : hits) ok = ok && h.load() == 1;
      report("pool_coverage threads=" + std::to_string(threads) + " n=" + std::to_string(n), ok);
    }
  }
  debora_set_num_threads(debora_hardware_threads());
}

void test_pool_nested_and_concurrent() {
  debora_set_num_threads(3);
  // A nested parallel_for runs serially on the caller instead of deadlocking.
  std::atomic<int64_t> total{0};
  debora::parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      debora::parallel_for(10, 1, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
  });
  report("pool_nested", total.load() == 80, "total=" + std::to_string(total.load()));

  // Two host threads using the pool at once: both complete with correct sums.
  std::atomic<int64_t> a{0}, b{0};
  auto work = [](std::atomic<int64_t>& acc) {
    for (int rep = 0; rep < 200; ++rep)
      debora::parallel_for(1000, 10, [&](int64_t lo, int64_t hi) {
        int64_t s = 0;
        for (int64_t i = lo; i < hi; ++i) s += i;
        acc.fetch_add(s);
      });
  };
  std::thread t1(work, std::ref(a)), t2(work, std::ref(b));
  t1.join();
  t2.join();
  const int64_t want = 200LL * (999LL * 1000LL / 2);
  report("pool_concurrent_callers", a.load() == want && b.load() == want);

  // An exception in one chunk reaches the caller after all chunks ended; the pool stays usable.
  bool caught = false;
  try {
    debora::parallel_for(100, 1, [&](int64_t lo, int64_t) {
      if (lo == 0) throw std::runtime_error("chunk failure");
    });
  } catch (const std::runtime_error&) {
    caught = true;
  }
  std::atomic<int64_t> after{0};
  debora::parallel_for(100, 1, [&](int64_t lo, int64_t hi) { after.fetch_add(hi - lo); });
  report("pool_exception_propagates", caught && after.load() == 100);
  debora_set_num_threads(debora_hardware_threads());
}

// Many short jobs back to back from two host threads (so workers arrive late for one job while the next
// is published, the case the pool's generation-tagged claims exist for), some throwing, some with pauses
// long enough for the workers to fall asleep (DEBORA_SPIN_US is 100 us by default), across resizes.
// Every index of every job that does not throw must be visited exactly once, and only the throwing jobs
// may throw.
void test_pool_stress() {
  for (int threads : {2, 3, 2}) {
    debora_set_num_threads(threads);
    std::atomic<int> bad{0};
    auto caller = [&bad](uint32_t seed) {
      uint32_t v = seed;
      auto next = [&v] { return v = v * 1664525u + 1013904223u, v >> 8; };
      for (int job = 0; job < 1500; ++job) {
        const int64_t n = 1 + next() % 150, min_chunk = 1 + next() % 6;
        const bool throws = next() % 16 == 0;
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        for (auto& h : hits) h.store(0);
        bool threw = false;
        try {
          debora::parallel_for(n, min_chunk, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
            if (throws && b == 0) throw std::runtime_error("chunk failure");
          });
        } catch (const std::runtime_error&) {
          threw = true;
        }
        bool once = true;
        for (auto& h : hits) once = once && h.load() == 1;
        /* A throwing job's other chunks may or may not run (the serial path stops at the throw). */
        if (threw != throws || (!throws && !once)) bad.fetch_add(1);
        if (next() % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(150 + next() % 300));
      }
    };
    std::thread other(caller, 7u + static_cast<uint32_t>(threads));
    caller(11u);
    other.join();
    report("pool_stress threads=" + std::to_string(threads), bad.load() == 0, "bad jobs=" + std::to_string(bad.load()));
  }
  debora_set_num_threads(debora_hardware_threads());
}

}  // namespace

void driver_cp_hypergrad() {
  for (int64_t r : {1, 7, 8, 15, 16, 17, 257}) {
    auto ds = driver::uniform(static_cast<size_t>(r), 1u + static_cast<uint32_t>(r), -2.f, 2.f);
    auto s = driver::uniform(static_cast<size_t>(r), 2u + static_cast<uint32_t>(r), 0.05f, 3.f);
    auto dots = driver::uniform(static_cast<size_t>(r), 3u + static_cast<uint32_t>(r), -2.f, 2.f);
    std::vector<float> g(static_cast<size_t>(r), NAN);
    debora_status st = debora_cp_hypergrad_cpu(r, ds.data(), s.data(), dots.data(), g.data());
    double max_err = 0;
    for (int64_t i = 0; i < r; ++i) {
      double ref = static_cast<double>(ds[i]) - static_cast<double>(dots[i]) / static_cast<double>(s[i]);
      double err = std::fabs(ref - g[i]) / (1.0 + std::fabs(ref));
      if (!(err <= max_err)) max_err = std::isnan(err) ? INFINITY : err;
    }
    // One division and one subtraction in float: relative error a few ulps.
    report("cp_hypergrad r=" + std::to_string(r), st == DEBORA_OK && max_err < 1e-6, "max_rel_err=" + std::to_string(max_err));
  }
  // Errors: status, a message naming the argument, and an untouched output.
  std::vector<float> ds{1, 2, 3}, s{1, 0, 2}, dots{1, 1, 1}, g{7, 7, 7};
  debora_status st = debora_cp_hypergrad_cpu(3, ds.data(), s.data(), dots.data(), g.data());
  bool untouched = g[0] == 7 && g[1] == 7 && g[2] == 7;
  report("cp_hypergrad rejects s<=0", st == DEBORA_INVALID_ARG && untouched && std::strstr(debora_last_error(), "'s'"),
         debora_last_error());
  s[1] = 1;
  dots[2] = NAN;
  st = debora_cp_hypergrad_cpu(3, ds.data(), s.data(), dots.data(), g.data());
  report("cp_hypergrad rejects NaN dots", st == DEBORA_NON_FINITE && g[2] == 7 && std::strstr(debora_last_error(), "'dots'"),
         debora_last_error());
  st = debora_cp_hypergrad_cpu(-1, ds.data(), s.data(), dots.data(), g.data());
  report("cp_hypergrad rejects r<0", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'r'"), debora_last_error());
  st = debora_cp_hypergrad_cpu(3, nullptr, s.data(), dots.data(), g.data());
  report("cp_hypergrad rejects null ds", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'ds'"));
}

namespace {

void test_runtime() {
  report("status names", std::strcmp(debora_status_name(DEBORA_SHAPE_MISMATCH), "DEBORA_SHAPE_MISMATCH") == 0 &&
                             std::strcmp(debora_status_name(static_cast<debora_status>(99)), "DEBORA_UNKNOWN_STATUS") == 0);
  report("set_num_threads rejects 0", debora_set_num_threads(0) == DEBORA_INVALID_ARG);
  debora_simd best = debora_simd_supported();
  bool ok = debora_set_simd(DEBORA_SIMD_SCALAR) == DEBORA_OK && debora_simd_active() == DEBORA_SIMD_SCALAR &&
            debora_set_simd(best) == DEBORA_OK && debora_simd_active() == best;
  report("set_simd round trip", ok);
  int count = -1;
  debora_status st = debora_cuda_device_count(&count);
  report("cuda_device_count never crashes", (st == DEBORA_OK && count > 0) ||
                                                (st == DEBORA_BACKEND_UNAVAILABLE && count == 0 && debora_last_error()[0] != 0),
         debora_last_error());
}

}  // namespace

int main() {
  test_runtime();
  test_pool_coverage();
  test_pool_nested_and_concurrent();
  test_pool_stress();
  driver_cp_hypergrad();
  driver_cp_linear();
  driver_cp_conv2d();
  driver_cp_dense();
  driver_cp_tangent();
  driver_gemm();
  driver_conv2d();
  driver_relu();
  driver_max_pool2d();
  std::printf("%d passed, %d failed\n", driver::passed(), driver::failed());
  return driver::failed() == 0 ? 0 : 1;
}
