// driver_max_pool2d.cpp — C++ driver cases for op max_pool2d (see driver.cpp): forward (maxima and
// argmax) and backward against a naive reference that is lib/nn/pool.ts's loop (first cell inside
// the image, then strictly greater wins; scatter in output order), bitwise, on shapes that take the
// 2x2 stride-2 SIMD path with 8-wide, 4-wide and scalar rows and odd H / W, and generic windows with
// padding and overlap; inputs drawn from a few values so ties are everywhere; NaN cells; every SIMD
// level and 1 / 3 threads; accumulate; argmax null; bad input leaving outputs untouched; two host
// threads at once (TSan).
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
  int64_t batch, C, H, W, kh, kw, sh, sw, ph, pw;
};

int64_t out_h(const Shape& s) { return (s.H + 2 * s.ph - s.kh) / s.sh + 1; }
int64_t out_w(const Shape& s) { return (s.W + 2 * s.pw - s.kw) / s.sw + 1; }
debora_pool2d_geom geom_of(const Shape& s) { return {s.batch, s.C, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw}; }

std::string name_of(const Shape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "b%lld C%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld", (long long)s.batch,
                (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.kh, (long long)s.kw, (long long)s.sh,
                (long long)s.sw, (long long)s.ph, (long long)s.pw);
  return buf;
}

// Values from {-2, -1, 0, 1, 2} (ties in almost every window), or uniform; every 37th cell NaN when asked.
std::vector<float> input(size_t n, uint32_t seed, bool ties, bool nans) {
  std::vector<float> x = driver::uniform(n, seed, -1, 1);
  if (ties)
    for (float& v : x) v = std::floor(v * 2.5f);
  if (nans)
    for (size_t i = 3; i < n; i += 37) x[i] = NAN;
  return x;
}

struct Ref {
  std::vector<float> y, dx;
  std::vector<int32_t> am;
};

Ref reference(const Shape& s, const std::vector<float>& x, const std::vector<float>& dy) {
  const int64_t Ho = out_h(s), Wo = out_w(s), planes = s.batch * s.C;
  Ref r;
  r.y.resize(size_t(planes * Ho * Wo));
  r.am.resize(r.y.size());
  r.dx.assign(x.size(), 0.0f);
  size_t o = 0;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x.data() + pl * s.H * s.W;
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j, ++o) {
        float best = -INFINITY;
        int64_t bi = -1;
        for (int64_t a = 0; a < s.kh; ++a) {
          const int64_t hi = i * s.sh - s.ph + a;
          if (hi < 0 || hi >= s.H) continue;
          for (int64_t b = 0; b < s.kw; ++b) {
            const int64_t wi = j * s.sw - s.pw + b;
            if (wi < 0 || wi >= s.W) continue;
            const float v = xp[hi * s.W + wi];
            if (v > best || bi < 0) {
              best = v;
              bi = hi * s.W + wi;
            }
          }
        }
        r.y[o] = best;
        r.am[o] = static_cast<int32_t>(bi);
        r.dx[size_t(pl * s.H * s.W + bi)] += dy[o];
      }
  }
  return r;
}

bool same_bits(const void* a, const void* b, size_t bytes) { return std::memcmp(a, b, bytes) == 0; }

struct Got {
  std::vector<float> y, dx;
  std::vector<int32_t> am;
  bool ok = false;
};

Got run_native(const Shape& s, const std::vector<float>& x, const std::vector<float>& dy) {
  const debora_pool2d_geom g = geom_of(s);
  Got r;
  r.y.assign(dy.size(), NAN);
  r.am.assign(dy.size(), -7);
  r.dx.assign(x.size(), NAN);
  r.ok = debora_max_pool2d_fwd_cpu(&g, x.data(), r.y.data(), r.am.data()) == DEBORA_OK &&
         debora_max_pool2d_bwd_cpu(&g, r.am.data(), dy.data(), r.dx.data(), 0) == DEBORA_OK;
  return r;
}

bool matches(const Got& got, const Ref& ref) {
  return got.ok && same_bits(got.y.data(), ref.y.data(), ref.y.size() * 4) &&
         same_bits(got.am.data(), ref.am.data(), ref.am.size() * 4) &&
         same_bits(got.dx.data(), ref.dx.data(), ref.dx.size() * 4);
}

}  // namespace

void driver_max_pool2d() {
  const Shape shapes[] = {
      {2, 3, 28, 28, 2, 2, 2, 2, 0, 0},  // the small CNN's first pool: 14 outputs a row (8-wide blocks)
      {3, 5, 14, 14, 2, 2, 2, 2, 0, 0},  // second pool: 7 a row (4-wide blocks)
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},    // one cell
      {1, 2, 5, 7, 2, 2, 2, 2, 0, 0},    // odd H and W: last row / column unread; 3 a row (scalar)
      {2, 1, 9, 17, 2, 2, 2, 2, 0, 0},   // 8 a row exactly, W odd
      {1, 3, 6, 31, 2, 2, 2, 2, 0, 0},   // 15 a row: blocks at 0 and 7 overlap
      {2, 3, 7, 5, 3, 3, 2, 2, 1, 1},    // padding on both axes
      {1, 2, 9, 8, 3, 2, 2, 1, 1, 1},    // overlapping windows along W, padding
      {3, 1, 5, 5, 3, 3, 1, 1, 1, 0},    // stride 1: every cell in up to 9 windows
      {2, 2, 13, 11, 5, 4, 3, 2, 2, 2},  // asymmetric everything
      {1, 1, 3, 3, 3, 3, 1, 1, 1, 1},    // windows mostly padding
      {1, 40, 4, 4, 2, 2, 2, 2, 0, 0},   // many tiny planes (chunks of many planes)
  };
  const debora_simd best = debora_simd_supported();
  for (const Shape& s : shapes) {
    const size_t xl = size_t(s.batch * s.C * s.H * s.W), yl = size_t(s.batch * s.C * out_h(s) * out_w(s));
    for (int variant = 0; variant < 3; ++variant) {
      const bool ties = variant >= 1, nans = variant == 2;
      const auto x = input(xl, 11 + uint32_t(variant), ties, nans);
      const auto dy = driver::uniform(yl, 12, -1, 1);
      const Ref ref = reference(s, x, dy);
      for (debora_simd level : {DEBORA_SIMD_SCALAR, best}) {
        debora_set_simd(level);
        for (int threads : {1, 3}) {
          debora_set_num_threads(threads);
          const Got got = run_native(s, x, dy);
          report(std::string("max_pool2d ") + (nans ? "nan " : ties ? "ties " : "") + debora_simd_name(level) +
                     " threads=" + std::to_string(threads) + " " + name_of(s),
                 matches(got, ref), got.ok ? "" : debora_last_error());
        }
      }
    }
  }
  debora_set_simd(best);
  debora_set_num_threads(debora_hardware_threads());

  // argmax may be null (inference); accumulate adds the scatter onto dx.
  {
    const Shape s{2, 3, 10, 12, 2, 2, 2, 2, 0, 0};
    const debora_pool2d_geom g = geom_of(s);
    const size_t xl = 720, yl = 180;
    const auto x = input(xl, 5, true, false), dy = driver::uniform(yl, 6, -1, 1), base = driver::uniform(xl, 7, -1, 1);
    const Ref ref = reference(s, x, dy);
    std::vector<float> y(yl, NAN), dx = base;
    bool ok = debora_max_pool2d_fwd_cpu(&g, x.data(), y.data(), nullptr) == DEBORA_OK &&
              same_bits(y.data(), ref.y.data(), yl * 4);
    report("max_pool2d argmax null writes y only", ok, debora_last_error());
    ok = debora_max_pool2d_bwd_cpu(&g, ref.am.data(), dy.data(), dx.data(), 1) == DEBORA_OK;
    for (size_t i = 0; ok && i < xl; ++i) ok = dx[i] == base[i] + ref.dx[i];
    report("max_pool2d_bwd accumulate adds the scatter", ok, debora_last_error());
  }

  // An argmax index outside its own window (but inside the plane) still lands where it points.
  {
    const Shape s{1, 2, 4, 18, 2, 2, 2, 2, 0, 0};  // 9 outputs a row: the direct backward's rows
    const debora_pool2d_geom g = geom_of(s);
    const auto x = input(144, 8, false, false), dy = driver::uniform(36, 9, -1, 1);
    Ref ref = reference(s, x, dy);
    ref.am[5] = 70;   // plane 0, elsewhere
    ref.am[30] = 0;   // plane 1, its first cell
    std::vector<float> want(144, 0.0f), dx(144, NAN);
    for (size_t o = 0; o < 36; ++o) want[(o / 18) * 72 + size_t(ref.am[o])] += dy[o];
    bool ok = true;
    for (debora_simd level : {DEBORA_SIMD_SCALAR, best}) {
      debora_set_simd(level);
      ok = ok && debora_max_pool2d_bwd_cpu(&g, ref.am.data(), dy.data(), dx.data(), 0) == DEBORA_OK &&
           same_bits(dx.data(), want.data(), 144 * 4);
    }
    debora_set_simd(best);
    report("max_pool2d_bwd scatters an argmax from outside its window", ok, debora_last_error());
  }

  // Two host threads at once (one of them gets the pool, the other runs serially).
  debora_set_num_threads(3);
  bool ok1 = false, ok2 = false;
  auto job = [](const Shape& s, uint32_t seed, bool& ok) {
    const size_t xl = size_t(s.batch * s.C * s.H * s.W), yl = size_t(s.batch * s.C * out_h(s) * out_w(s));
    const auto x = input(xl, seed, true, false), dy = driver::uniform(yl, seed + 1, -1, 1);
    ok = matches(run_native(s, x, dy), reference(s, x, dy));
  };
  std::thread t1(job, Shape{16, 8, 28, 28, 2, 2, 2, 2, 0, 0}, 1u, std::ref(ok1));
  std::thread t2(job, Shape{9, 7, 15, 13, 3, 3, 2, 1, 1, 1}, 2u, std::ref(ok2));
  t1.join();
  t2.join();
  report("max_pool2d two concurrent callers", ok1 && ok2);
  debora_set_num_threads(debora_hardware_threads());

  // Bad input: a status naming the argument, outputs untouched.
  const debora_pool2d_geom g{2, 3, 6, 6, 2, 2, 2, 2, 0, 0};
  std::vector<float> x(216, 1), dy(54, 1), y(54, 7), dx(216, 7);
  std::vector<int32_t> am(54, 0);
  auto all7 = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float e) { return e == 7; });
  };
  debora_pool2d_geom bad = g;
  bad.pad_h = 2;
  debora_status st = debora_max_pool2d_fwd_cpu(&bad, x.data(), y.data(), am.data());
  report("max_pool2d rejects padding over half the window",
         st == DEBORA_INVALID_ARG && all7(y) && std::strstr(debora_last_error(), "'geom.pad_h'"), debora_last_error());
  bad = g;
  bad.kw = 9;
  st = debora_max_pool2d_fwd_cpu(&bad, x.data(), y.data(), am.data());
  report("max_pool2d rejects a window wider than the padded input",
         st == DEBORA_SHAPE_MISMATCH && all7(y) && std::strstr(debora_last_error(), "'geom'"), debora_last_error());
  bad = g;
  bad.stride_w = 0;
  st = debora_max_pool2d_fwd_cpu(&bad, x.data(), y.data(), am.data());
  report("max_pool2d rejects stride_w = 0",
         st == DEBORA_INVALID_ARG && all7(y) && std::strstr(debora_last_error(), "'geom.stride_w'"),
         debora_last_error());
  st = debora_max_pool2d_fwd_cpu(&g, nullptr, y.data(), am.data());
  report("max_pool2d rejects null x", st == DEBORA_INVALID_ARG && all7(y) && std::strstr(debora_last_error(), "'x'"),
         debora_last_error());
  am[53] = 36;  // H*W: one past the plane
  st = debora_max_pool2d_bwd_cpu(&g, am.data(), dy.data(), dx.data(), 0);
  report("max_pool2d_bwd rejects an argmax index past the plane",
         st == DEBORA_INVALID_ARG && all7(dx) && std::strstr(debora_last_error(), "'argmax'") &&
             std::strstr(debora_last_error(), "index 53"),
         debora_last_error());
  am[53] = 0;
  am[20] = -1;
  st = debora_max_pool2d_bwd_cpu(&g, am.data(), dy.data(), dx.data(), 1);
  report("max_pool2d_bwd rejects a negative argmax index",
         st == DEBORA_INVALID_ARG && all7(dx) && std::strstr(debora_last_error(), "received -1 at index 20"),
         debora_last_error());
  st = debora_max_pool2d_bwd_cpu(&g, nullptr, dy.data(), dx.data(), 0);
  report("max_pool2d_bwd rejects null argmax",
         st == DEBORA_INVALID_ARG && all7(dx) && std::strstr(debora_last_error(), "'argmax'"), debora_last_error());
}
