// driver_cp_conv2d.cpp — C++ driver cases for op cp_conv2d (see driver.cpp): forward and backward
// on small seeded shapes (strides, padding, dilation, odd sizes, ranks 1..17) against a naive
// double-precision reference of the dense convolution with the materialised dK (backward: the
// dense kernel gradient, then its MTTKRPs), at every SIMD level this CPU has and several thread
// counts (bitwise equal: the kernel's reduction order does not depend on threads); bad inputs
// must leave every output untouched; two host threads calling at once (TSan). The building blocks
// are also run with 16-lane (AVX-512 width) generic vectors, which the compiler lowers to what this
// CPU has, so the AVX-512 instantiation's blocking and remainders are tested on any machine.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../../native/cpu/cp_conv2d_kernels.h"
#include "debora/debora.h"
#include "driver_common.h"

using driver::report;

namespace {

struct Shape {
  int64_t batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, r;
};

int64_t out_h(const Shape& s) { return (s.H + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1; }
int64_t out_w(const Shape& s) { return (s.W + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1; }

debora_conv2d_geom geom_of(const Shape& s) {
  return {s.batch, s.C, s.H, s.W, s.F, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw};
}

std::string name_of(const Shape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "b%lld C%lld %lldx%lld F%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld r%lld",
                (long long)s.batch, (long long)s.C, (long long)s.H, (long long)s.W, (long long)s.F, (long long)s.kh,
                (long long)s.kw, (long long)s.sh, (long long)s.sw, (long long)s.ph, (long long)s.pw, (long long)s.dh,
                (long long)s.dw, (long long)s.r);
  return buf;
}

struct Inputs {
  std::vector<float> X, U1, U2, U3, U4, s, dY;
};

Inputs make_inputs(const Shape& sh, uint32_t seed) {
  const size_t xl = size_t(sh.batch * sh.C * sh.H * sh.W), yl = size_t(sh.batch * sh.F * out_h(sh) * out_w(sh));
  Inputs in;
  in.X = driver::uniform(xl, seed + 1, -1.f, 1.f);
  in.U1 = driver::uniform(size_t(sh.F * sh.r), seed + 2, -1.f, 1.f);
  in.U2 = driver::uniform(size_t(sh.C * sh.r), seed + 3, -1.f, 1.f);
  in.U3 = driver::uniform(size_t(sh.kh * sh.r), seed + 4, -1.f, 1.f);
  in.U4 = driver::uniform(size_t(sh.kw * sh.r), seed + 5, -1.f, 1.f);
  in.s = driver::uniform(size_t(sh.r), seed + 6, -1.5f, 2.f);  // any finite s, signs included
  in.dY = driver::uniform(yl, seed + 7, -1.f, 1.f);
  return in;
}

// The dense reference: dK materialised, then the textbook convolution and its gradients.
struct Reference {
  std::vector<double> Y, dX, dU1, dU2, dU3, dU4, ds, dots;
};

Reference reference(const Shape& g, const Inputs& in) {
  const int64_t Ho = out_h(g), Wo = out_w(g), r = g.r;
  auto kidx = [&](int64_t f, int64_t c, int64_t a, int64_t b) { return ((f * g.C + c) * g.kh + a) * g.kw + b; };
  std::vector<double> K(size_t(g.F * g.C * g.kh * g.kw), 0.0), GK(K.size(), 0.0);
  for (int64_t f = 0; f < g.F; ++f)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t a = 0; a < g.kh; ++a)
        for (int64_t b = 0; b < g.kw; ++b) {
          double v = 0;
          for (int64_t i = 0; i < r; ++i)
            v += double(in.s[i]) * in.U1[f * r + i] * in.U2[c * r + i] * in.U3[a * r + i] * in.U4[b * r + i];
          K[size_t(kidx(f, c, a, b))] = v;
        }
  Reference ref;
  ref.Y.assign(size_t(g.batch * g.F * Ho * Wo), 0.0);
  ref.dX.assign(size_t(g.batch * g.C * g.H * g.W), 0.0);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t f = 0; f < g.F; ++f)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const size_t yi = size_t(((n * g.F + f) * Ho + oh) * Wo + ow);
          double acc = 0;
          const double dy = in.dY[yi];
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t a = 0; a < g.kh; ++a)
              for (int64_t b = 0; b < g.kw; ++b) {
                const int64_t ih = oh * g.sh - g.ph + a * g.dh, iw = ow * g.sw - g.pw + b * g.dw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const size_t xi = size_t(((n * g.C + c) * g.H + ih) * g.W + iw);
                acc += K[size_t(kidx(f, c, a, b))] * in.X[xi];
                ref.dX[xi] += K[size_t(kidx(f, c, a, b))] * dy;
                GK[size_t(kidx(f, c, a, b))] += dy * in.X[xi];
              }
          ref.Y[yi] = acc;
        }
  // Factor gradients: MTTKRPs of the dense kernel gradient.
  ref.dU1.assign(size_t(g.F * r), 0.0);
  ref.dU2.assign(size_t(g.C * r), 0.0);
  ref.dU3.assign(size_t(g.kh * r), 0.0);
  ref.dU4.assign(size_t(g.kw * r), 0.0);
  ref.ds.assign(size_t(r), 0.0);
  ref.dots.assign(size_t(r), 0.0);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t f = 0; f < g.F; ++f)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t a = 0; a < g.kh; ++a)
          for (int64_t b = 0; b < g.kw; ++b) {
            const double G = GK[size_t(kidx(f, c, a, b))], si = in.s[i];
            const double u1 = in.U1[f * r + i], u2 = in.U2[c * r + i], u3 = in.U3[a * r + i], u4 = in.U4[b * r + i];
            ref.dU1[size_t(f * r + i)] += si * G * u2 * u3 * u4;
            ref.dU2[size_t(c * r + i)] += si * G * u1 * u3 * u4;
            ref.dU3[size_t(a * r + i)] += si * G * u1 * u2 * u4;
            ref.dU4[size_t(b * r + i)] += si * G * u1 * u2 * u3;
            ref.ds[size_t(i)] += G * u1 * u2 * u3 * u4;
          }
  const std::vector<float>* U[4] = {&in.U1, &in.U2, &in.U3, &in.U4};
  const std::vector<double>* dU[4] = {&ref.dU1, &ref.dU2, &ref.dU3, &ref.dU4};
  for (int k = 0; k < 4; ++k)
    for (size_t j = 0; j < U[k]->size(); ++j) ref.dots[j % size_t(r)] += double((*U[k])[j]) * (*dU[k])[j];
  return ref;
}

// max |a - ref| / max(1, max |ref|): the error relative to the output's scale.
double scaled_err(const std::vector<float>& a, const std::vector<double>& ref) {
  double worst = 0, scale = 1;
  for (double v : ref) scale = std::fmax(scale, std::fabs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(double(a[i]) - ref[i]) / scale;
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
  }
  return worst;
}

struct Outputs {
  std::vector<float> Y, dX, dU1, dU2, dU3, dU4, ds, dots;
  debora_status fst, bst;
};

Outputs run(const Shape& sh, const Inputs& in, bool want_dx, float poison) {
  const debora_conv2d_geom g = geom_of(sh);
  Outputs o;
  o.Y.assign(size_t(sh.batch * sh.F * out_h(sh) * out_w(sh)), poison);
  o.dX.assign(in.X.size(), poison);
  o.dU1.assign(in.U1.size(), poison);
  o.dU2.assign(in.U2.size(), poison);
  o.dU3.assign(in.U3.size(), poison);
  o.dU4.assign(in.U4.size(), poison);
  o.ds.assign(in.s.size(), poison);
  o.dots.assign(in.s.size(), poison);
  o.fst = debora_cp_conv2d_fwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(), in.U4.data(),
                                   in.s.data(), o.Y.data(), 0);
  o.bst = debora_cp_conv2d_bwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(), in.U4.data(),
                                   in.s.data(), in.dY.data(), want_dx ? o.dX.data() : nullptr, 0, o.dU1.data(),
                                   o.dU2.data(), o.dU3.data(), o.dU4.data(), o.ds.data(), o.dots.data());
  return o;
}

const Shape kShapes[] = {
    // batch, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, r
    {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {3, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 3},
    {1, 8, 13, 7, 9, 3, 3, 2, 2, 1, 0, 1, 1, 8},
    {2, 9, 7, 13, 8, 1, 3, 1, 2, 0, 2, 1, 2, 17},
    {3, 17, 5, 7, 3, 5, 2, 1, 1, 2, 1, 1, 1, 3},
    {1, 7, 13, 13, 17, 3, 3, 1, 1, 2, 2, 2, 2, 8},
    {2, 3, 13, 5, 9, 5, 2, 2, 1, 0, 1, 2, 1, 1},
    {1, 4, 31, 19, 5, 3, 3, 1, 1, 1, 1, 1, 1, 4},  // batch 1, tall: many row tiles per image
    {1, 3, 3, 3, 2, 1, 1, 1, 1, 2, 2, 1, 1, 2},    // padding beyond the kernel: zero rows at the edges
    {2, 5, 11, 9, 4, 3, 1, 3, 2, 0, 1, 1, 1, 5},   // stride 3: input rows no window reads
    {1, 3, 21, 23, 4, 19, 17, 1, 1, 9, 8, 1, 1, 3},  // 19x17 "same": more taps per row than one group of 16
    // Outputs of >= 4 MiB take the streamed-store path (Y, then dX), with rows not 32-byte aligned.
    {1, 3, 129, 129, 64, 3, 3, 1, 1, 1, 1, 1, 1, 4},
    {1, 64, 129, 129, 3, 3, 3, 1, 1, 1, 1, 1, 1, 4},
    // The backward's workspace for a whole image (r = 12: 1.4 MB even with X and dY read in place) would
    // exceed the 1 MiB budget, so rows are split.
    {16, 64, 64, 64, 2, 3, 3, 1, 1, 1, 1, 1, 1, 12},
    // r*(F+C) > 4096: factor-gradient partial sums kept as scalars instead of vectors.
    {2, 257, 5, 5, 240, 1, 3, 1, 1, 0, 1, 1, 1, 9},
};

void test_against_reference() {
  const debora_simd best = debora_simd_supported();
  for (const Shape& sh : kShapes) {
    const Inputs in = make_inputs(sh, uint32_t(sh.C * 131 + sh.H * 7 + sh.r));
    const Reference ref = reference(sh, in);
    for (int lvl = DEBORA_SIMD_SCALAR; lvl <= best; ++lvl) {
      debora_set_simd(static_cast<debora_simd>(lvl));
      const Outputs o = run(sh, in, true, NAN);
      // float32 sums of C*kh*kw*r (forward, dX) or batch*Ho*Wo*... (factor gradients) products of
      // values in [-1, 1]: relative to the output's scale, at most ~1e-6 here; 1e-5 leaves room.
      const double errs[] = {scaled_err(o.Y, ref.Y),     scaled_err(o.dX, ref.dX),   scaled_err(o.dU1, ref.dU1),
                             scaled_err(o.dU2, ref.dU2), scaled_err(o.dU3, ref.dU3), scaled_err(o.dU4, ref.dU4),
                             scaled_err(o.ds, ref.ds),   scaled_err(o.dots, ref.dots)};
      double worst = 0;
      for (double e : errs) worst = std::fmax(worst, std::isnan(e) ? INFINITY : e);
      char detail[200];
      std::snprintf(detail, sizeof detail, "Y %.1e dX %.1e dU1 %.1e dU2 %.1e dU3 %.1e dU4 %.1e ds %.1e dots %.1e",
                    errs[0], errs[1], errs[2], errs[3], errs[4], errs[5], errs[6], errs[7]);
      report(std::string("cp_conv2d ") + debora_simd_name(static_cast<debora_simd>(lvl)) + " " + name_of(sh),
             o.fst == DEBORA_OK && o.bst == DEBORA_OK && worst < 1e-5, detail);
    }
    debora_set_simd(best);
  }
}

// Streamed outputs (>= 4 MiB, rows a multiple of 16 floats) go out from registers with non-temporal
// stores: whole vectors from the first 64-byte boundary of each run, single floats before and after
// it. Y and dX placed at each float offset from a cache line, at every SIMD level, with guard
// values on both sides that must survive.
void test_streamed_offsets() {
  const Shape shapes[] = {{2, 3, 64, 64, 160, 3, 3, 1, 1, 1, 1, 1, 1, 4},    // Y streamed
                          {2, 160, 64, 64, 3, 3, 3, 1, 1, 1, 1, 1, 1, 4}};   // dX streamed
  const debora_simd best = debora_simd_supported();
  for (const Shape& sh : shapes) {
    const Inputs in = make_inputs(sh, uint32_t(sh.C + sh.F));
    const Reference ref = reference(sh, in);
    const debora_conv2d_geom g = geom_of(sh);
    const size_t ny = ref.Y.size(), nx = ref.dX.size(), pad = 64;
    std::vector<float> ybuf(ny + 2 * pad), xbuf(nx + 2 * pad), dU1(in.U1.size()), dU2(in.U2.size()),
        dU3(in.U3.size()), dU4(in.U4.size()), ds(in.s.size());
    bool ok = true;
    double worst = 0;
    for (int lvl = DEBORA_SIMD_SCALAR; lvl <= best; ++lvl) {
      debora_set_simd(static_cast<debora_simd>(lvl));
      for (size_t off : {0, 1, 4, 12, 15}) {
        // Y and dX start `off` floats after a 64-byte boundary inside their buffers.
        auto at = [&](std::vector<float>& b) {
          const size_t mis = (reinterpret_cast<uintptr_t>(b.data()) % 64) / sizeof(float);
          return b.data() + (16 - mis) % 16 + 16 + off;
        };
        std::fill(ybuf.begin(), ybuf.end(), 7.f);
        std::fill(xbuf.begin(), xbuf.end(), 7.f);
        float *Y = at(ybuf), *dX = at(xbuf);
        ok = ok && debora_cp_conv2d_fwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(),
                                            in.U4.data(), in.s.data(), Y, 0) == DEBORA_OK;
        ok = ok && debora_cp_conv2d_bwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(),
                                            in.U4.data(), in.s.data(), in.dY.data(), dX, 0, dU1.data(), dU2.data(),
                                            dU3.data(), dU4.data(), ds.data(), nullptr) == DEBORA_OK;
        worst = std::fmax(worst, scaled_err(std::vector<float>(Y, Y + ny), ref.Y));
        worst = std::fmax(worst, scaled_err(std::vector<float>(dX, dX + nx), ref.dX));
        for (float* b : {ybuf.data(), xbuf.data()}) {
          const float* o = b == ybuf.data() ? Y : dX;
          const size_t n = b == ybuf.data() ? ny : nx;
          for (const float* q = b; q < o; ++q) ok = ok && *q == 7.f;
          for (const float* q = o + n; q < b + (b == ybuf.data() ? ybuf.size() : xbuf.size()); ++q) ok = ok && *q == 7.f;
        }
      }
    }
    debora_set_simd(best);
    char detail[64];
    std::snprintf(detail, sizeof detail, "max scaled err %.1e", worst);
    report(std::string("cp_conv2d streamed outputs at every offset, ") + name_of(sh), ok && worst < 1e-5, detail);
  }
}

void test_accumulate_and_null_dx() {
  const Shape sh{2, 5, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 4};
  const Inputs in = make_inputs(sh, 77);
  const Reference ref = reference(sh, in);
  const debora_conv2d_geom g = geom_of(sh);
  std::vector<float> Y0 = driver::uniform(ref.Y.size(), 5, -3.f, 3.f), Y = Y0;
  std::vector<float> dX0 = driver::uniform(ref.dX.size(), 6, -3.f, 3.f), dX = dX0;
  std::vector<float> dU1(in.U1.size()), dU2(in.U2.size()), dU3(in.U3.size()), dU4(in.U4.size()), ds(in.s.size());
  debora_status fst = debora_cp_conv2d_fwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(),
                                               in.U4.data(), in.s.data(), Y.data(), 1);
  debora_status bst = debora_cp_conv2d_bwd_cpu(&g, sh.r, in.X.data(), in.U1.data(), in.U2.data(), in.U3.data(),
                                               in.U4.data(), in.s.data(), in.dY.data(), dX.data(), 1, dU1.data(),
                                               dU2.data(), dU3.data(), dU4.data(), ds.data(), nullptr);
  std::vector<double> wantY(ref.Y), wantdX(ref.dX);
  for (size_t i = 0; i < wantY.size(); ++i) wantY[i] += Y0[i];
  for (size_t i = 0; i < wantdX.size(); ++i) wantdX[i] += dX0[i];
  report("cp_conv2d accumulate adds into Y and dX", fst == DEBORA_OK && bst == DEBORA_OK &&
                                                        scaled_err(Y, wantY) < 1e-5 && scaled_err(dX, wantdX) < 1e-5);
  // dX = null: everything else still computed.
  const Outputs o = run(sh, in, false, NAN);
  bool untouched = true;
  for (float v : o.dX) untouched = untouched && std::isnan(v);
  report("cp_conv2d dX=null skips dX", o.bst == DEBORA_OK && untouched && scaled_err(o.dU2, ref.dU2) < 1e-4 &&
                                           scaled_err(o.ds, ref.ds) < 1e-4);
}

void test_thread_independence() {
  // Same shape, 1 / 2 / 3 threads: bitwise equal outputs (fixed tiling and reduction order).
  const Shape sh{5, 6, 11, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1, 5};
  const Inputs in = make_inputs(sh, 99);
  const int saved = debora_num_threads();
  std::vector<Outputs> outs;
  for (int t : {1, 2, 3}) {
    debora_set_num_threads(t);
    outs.push_back(run(sh, in, true, NAN));
  }
  debora_set_num_threads(saved);
  bool same = true;
  for (size_t k = 1; k < outs.size(); ++k) {
    const Outputs &a = outs[0], &b = outs[k];
    same = same && a.Y == b.Y && a.dX == b.dX && a.dU1 == b.dU1 && a.dU2 == b.dU2 && a.dU3 == b.dU3 &&
           a.dU4 == b.dU4 && a.ds == b.ds && a.dots == b.dots;
  }
  report("cp_conv2d bitwise equal on 1, 2, 3 threads", same && outs[0].fst == DEBORA_OK && outs[0].bst == DEBORA_OK);
}

void test_concurrent_callers() {
  // Two host threads at once: one gets the pool, the other runs serially; both must be right.
  const Shape sh{4, 6, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 3};
  const Inputs in = make_inputs(sh, 1234);
  const Outputs want = run(sh, in, true, NAN);
  bool ok[2] = {true, true};
  auto work = [&](int k) {
    for (int rep = 0; rep < 20; ++rep) {
      const Outputs o = run(sh, in, true, NAN);
      ok[k] = ok[k] && o.Y == want.Y && o.dX == want.dX && o.dU2 == want.dU2 && o.ds == want.ds;
    }
  };
  std::thread t1(work, 0), t2(work, 1);
  t1.join();
  t2.join();
  report("cp_conv2d two concurrent callers", ok[0] && ok[1]);
}

void test_errors() {
  const Shape base{2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2};
  const Inputs in = make_inputs(base, 7);
  struct Case {
    const char* what;
    Shape sh;
    int64_t r;
    bool nan_s, null_x;
    debora_status want;
    const char* arg;
  } cases[] = {
      {"kernel taller than padded input", {2, 3, 5, 5, 4, 9, 3, 1, 1, 1, 1, 1, 1, 2}, 2, false, false,
       DEBORA_SHAPE_MISMATCH, "'geom'"},
      {"dilated kernel wider than padded input (-1/2 would truncate to an output)",
       {2, 3, 5, 5, 4, 3, 2, 1, 2, 1, 0, 1, 5, 2}, 2, false, false, DEBORA_SHAPE_MISMATCH, "'geom'"},
      {"stride 0", {2, 3, 5, 5, 4, 3, 3, 0, 1, 1, 1, 1, 1, 2}, 2, false, false, DEBORA_INVALID_ARG, "'geom.stride_h'"},
      {"negative padding", {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, -1, 1, 1, 2}, 2, false, false, DEBORA_INVALID_ARG,
       "'geom.pad_w'"},
      {"dilation 0", {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 0, 1, 2}, 2, false, false, DEBORA_INVALID_ARG, "'geom.dil_h'"},
      {"batch 0", {0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2}, 2, false, false, DEBORA_INVALID_ARG, "'geom.batch'"},
      {"r 0", base, 0, false, false, DEBORA_INVALID_ARG, "'r'"},
      {"r above INT32_MAX", base, int64_t{1} << 31, false, false, DEBORA_INVALID_ARG, "'r'"},
      {"sizes in range whose product overflows 64 bits",
       {int64_t{1} << 30, int64_t{1} << 30, 1 << 20, 1 << 20, 1, 1, 1, 1, 1, 0, 0, 1, 1, 2}, 2, false, false,
       DEBORA_INVALID_ARG, "fit in 64 bits"},
      {"NaN in s", base, 2, true, false, DEBORA_NON_FINITE, "'s'"},
      {"null X", base, 2, false, true, DEBORA_INVALID_ARG, "'X'"},
  };
  for (const Case& k : cases) {
    const debora_conv2d_geom g = geom_of(k.sh);
    std::vector<float> s = in.s;
    if (k.nan_s) s[1] = NAN;
    const float* X = k.null_x ? nullptr : in.X.data();
    // Outputs sized for the base shape (the kernel must fail before touching any of them).
    std::vector<float> Y(400, 7.f), dX(in.X.size(), 7.f), dU1(in.U1.size(), 7.f), dU2(in.U2.size(), 7.f),
        dU3(in.U3.size(), 7.f), dU4(in.U4.size(), 7.f), ds(2, 7.f), dots(2, 7.f);
    const debora_status fst = debora_cp_conv2d_fwd_cpu(&g, k.r, X, in.U1.data(), in.U2.data(), in.U3.data(),
                                                       in.U4.data(), s.data(), Y.data(), 0);
    const std::string fmsg = debora_last_error();
    const debora_status bst = debora_cp_conv2d_bwd_cpu(
        &g, k.r, X, in.U1.data(), in.U2.data(), in.U3.data(), in.U4.data(), s.data(), in.dY.data(), dX.data(), 0,
        dU1.data(), dU2.data(), dU3.data(), dU4.data(), ds.data(), dots.data());
    const std::string bmsg = debora_last_error();
    bool untouched = true;
    for (const auto* v : {&Y, &dX, &dU1, &dU2, &dU3, &dU4, &ds, &dots})
      for (float x : *v) untouched = untouched && x == 7.f;
    report(std::string("cp_conv2d rejects ") + k.what,
           fst == k.want && bst == k.want && untouched && fmsg.find(k.arg) != std::string::npos &&
               bmsg.find(k.arg) != std::string::npos && fmsg.find("cp_conv2d_fwd") == 0,
           bmsg);
  }
  const debora_status st = debora_cp_conv2d_fwd_cpu(nullptr, 1, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                    nullptr, 0);
  report("cp_conv2d rejects null geom", st == DEBORA_INVALID_ARG && std::strstr(debora_last_error(), "'geom'"));
}

// The kernels of cp_conv2d_kernels.h at VW lanes against double loops, on awkward sizes
// (remainder rows, columns and pixels for every block shape).
template <int VW>
void test_building_blocks(const char* label) {
  using namespace debora::conv2d;
  std::mt19937 gen(42 + VW);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = d(gen);
    return v;
  };
  double worst = 0;
  bool ok = true;
  for (int64_t M : {1, 3, 7, 8, 9, 17})
    for (int64_t K : {1, 5, 16})
      for (int64_t P : {1, 15, 16, 17, 47, 48, 49, 100}) {
        const int64_t lda = M + 1, ldi = P + 3, ldo = P + 5;
        const auto A = rnd(size_t(K * lda)), in = rnd(size_t(K * ldi)), out0 = rnd(size_t(M * ldo));
        for (int variant = 0; variant < 4; ++variant) {
          const bool acc = variant % 2 == 1;
          std::vector<float> out = out0;
          if (variant < 2) mix<VW>(M, K, P, A.data(), lda, in.data(), ldi, out.data(), ldo, acc);
          else mix_wide<VW>(M, K, P, A.data(), lda, in.data(), ldi, out.data(), ldo, acc);
          for (int64_t m = 0; m < M; ++m)
            for (int64_t p = 0; p < ldo; ++p) {
              double want = p < P ? 0.0 : out0[size_t(m * ldo + p)];  // past P: untouched
              if (p < P) {
                for (int64_t k = 0; k < K; ++k) want += double(A[size_t(k * lda + m)]) * in[size_t(k * ldi + p)];
                if (acc) want += out0[size_t(m * ldo + p)];
              }
              const double e = std::fabs(out[size_t(m * ldo + p)] - want) / (1.0 + std::fabs(want));
              worst = std::fmax(worst, std::isnan(e) ? INFINITY : e);
            }
        }
        // dots: D[m][n] += sum_p A[m][p] B[n][p], scalar and VW-lane accumulators.
        const int64_t N = K;  // reuse K's values for the second dimension
        const auto Am = rnd(size_t(M * ldi)), Bn = rnd(size_t(N * ldo));
        std::vector<double> want(size_t(M * N));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double t = 0.5;  // D starts at 0.5 (lane 0 in the vector layout): it is added to
            for (int64_t p = 0; p < P; ++p) t += double(Am[size_t(m * ldi + p)]) * Bn[size_t(n * ldo + p)];
            want[size_t(m * N + n)] = t;
          }
        std::vector<float> Ds(size_t(M * N), 0.5f), Dv(size_t(M * N * VW), 0.0f);
        for (int64_t j = 0; j < M * N; ++j) Dv[size_t(j * VW)] = 0.5f;
        dots<VW, false>(M, N, P, Am.data(), ldi, Bn.data(), ldo, Ds.data(), N);
        dots<VW, true>(M, N, P, Am.data(), ldi, Bn.data(), ldo, Dv.data(), N);
        for (int64_t j = 0; j < M * N; ++j) {
          double v = 0;
          for (int l = 0; l < VW; ++l) v += Dv[size_t(j * VW + l)];
          const double w = want[size_t(j)];
          worst = std::fmax(worst, std::fabs(Ds[size_t(j)] - w) / (1.0 + std::fabs(w)));
          worst = std::fmax(worst, std::fabs(v - w) / (1.0 + std::fabs(w)));
        }
        const double dd = dot<VW>(P, Am.data(), Bn.data());
        double dref = 0;
        for (int64_t p = 0; p < P; ++p) dref += double(Am[size_t(p)]) * Bn[size_t(p)];
        worst = std::fmax(worst, std::fabs(dd - dref) / (1.0 + std::fabs(dref)));
        ok = ok && !std::isnan(worst);
      }
  // comb: one depthwise row from k equally spaced taps (forward or backward source stride), for tap
  // counts around the unrolled 3 (0 writes a zero row) and row lengths around the vector width.
  for (int64_t k : {0, 1, 2, 3, 4, 17})
    for (int64_t n : {int64_t{1}, int64_t{VW - 1}, int64_t{VW}, int64_t{VW + 1}, int64_t{2 * VW + 3}, int64_t{34}})
      for (int64_t ss : {int64_t{1}, int64_t{-2}, n + 3}) {
        const int64_t ws = 3, span = (k > 0 ? (k - 1) * std::abs(ss) : 0) + n;
        const auto src = rnd(size_t(span + 8)), w = rnd(size_t(k * ws + 1)), dst0 = rnd(size_t(n + 4));
        const float* s0 = src.data() + (ss < 0 ? span - n : 0);  // tap 0's row; the others at s0 + q * ss
        const float alpha = 0.75f;
        std::vector<float> dst = dst0;
        comb<VW>(n, k, s0, ss, w.data(), ws, alpha, dst.data());
        for (int64_t j = 0; j < n + 4; ++j) {
          double want = j < n ? 0.0 : dst0[size_t(j)];  // past n: untouched
          for (int64_t q = 0; j < n && q < k; ++q) want += double(alpha * w[size_t(q * ws)]) * s0[q * ss + j];
          const double e = std::fabs(dst[size_t(j)] - want) / (1.0 + std::fabs(want));
          worst = std::fmax(worst, std::isnan(e) ? INFINITY : e);
        }
      }
  // comb_rows: three equally spaced rows in one call (source row stride lds, destination ldd), each as
  // comb; tap_dots: per-tap sums over those rows, added (times alpha) into every os-th output.
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t n : {int64_t{1}, int64_t{VW - 1}, int64_t{VW}, int64_t{VW + 1}, int64_t{2 * VW + 3}, int64_t{34}})
      for (int64_t ss : {int64_t{1}, int64_t{-2}, n + 3}) {
        const int64_t rows = 3, lds = n + 5, ldd = n + 2, ldx = n + 1, ws = 2, os = 3;
        const int64_t back = ss < 0 ? (k - 1) * -ss : 0;  // tap 0 of row 0 sits this far into src
        const auto src = rnd(size_t(back + rows * lds + (k - 1) * std::abs(ss) + n + 8)), w = rnd(size_t(k * ws + 1));
        const auto dst0 = rnd(size_t(rows * ldd + 4)), x = rnd(size_t(rows * ldx)), out0 = rnd(size_t(k * os));
        const float* s0 = src.data() + back;
        const float alpha = -1.25f;
        std::vector<float> dst = dst0, out = out0;
        comb_rows<VW>(rows, n, k, s0, lds, ss, w.data(), ws, alpha, dst.data(), ldd);
        tap_dots<VW>(rows, n, k, x.data(), ldx, s0, lds, ss, alpha, out.data(), os);
        for (int64_t i = 0; i < rows * ldd + 4; ++i) {
          const int64_t tr = i / ldd, j = i % ldd;
          double want = dst0[size_t(i)];  // past n in a row, and past the last row: untouched
          if (tr < rows && j < n) {
            want = 0;
            for (int64_t q = 0; q < k; ++q) want += double(alpha * w[size_t(q * ws)]) * s0[tr * lds + q * ss + j];
          }
          const double e = std::fabs(dst[size_t(i)] - want) / (1.0 + std::fabs(want));
          worst = std::fmax(worst, std::isnan(e) ? INFINITY : e);
        }
        for (int64_t i = 0; i < k * os; ++i) {
          double want = out0[size_t(i)];
          if (i % os == 0)
            for (int64_t tr = 0; tr < rows; ++tr)
              for (int64_t j = 0; j < n; ++j)
                want += double(alpha) * x[size_t(tr * ldx + j)] * s0[tr * lds + (i / os) * ss + j];
          const double e = std::fabs(out[size_t(i)] - want) / (1.0 + std::fabs(want));
          worst = std::fmax(worst, std::isnan(e) ? INFINITY : e);
        }
      }
  // Sums of at most 100 float products of values in [-1, 1].
  char detail[64];
  std::snprintf(detail, sizeof detail, "max_rel_err=%.1e", worst);
  report(std::string("cp_conv2d building blocks, ") + label, ok && worst < 1e-5, detail);
}

}  // namespace

void driver_cp_conv2d() {
  test_building_blocks<4>("4 lanes");
  test_building_blocks<8>("8 lanes");
  test_building_blocks<16>("16 lanes (the AVX-512 instantiation, emulated)");
  test_against_reference();
  test_accumulate_and_null_dx();
  test_streamed_offsets();
  test_thread_independence();
  test_concurrent_callers();
  test_errors();
}
