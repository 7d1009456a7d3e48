// parity.cpp — standalone CUDA-vs-CPU parity driver over native/ (plain CMake, no Node): runs every
// CUDA op, through its host-pointer entry and its device-pointer entry, against its CPU twin on the
// same seeded inputs of awkward sizes (1, block size +- 1, non-powers of two, r = 1 and r above the
// rank tile), plus the error paths. One line per case, then "N passed, N failed"; without a usable
// GPU it prints the reason, "SKIP", and exits 77 (ctest's skip code). `--quick`: the small cases only
// (for compute-sanitizer); `--filter TEXT`: only the cases whose label contains TEXT.
// Run by bench/gpu-check.sh, by ctest (gpu_parity) and, on the CPU emulator, by test/gpu/emu.
//
// Tolerance (stated once, used for every multilinear op): both backends evaluate the same polynomial
// in float with at most k roundings along any path, so each is within gamma_k * sum|terms| of the
// exact value (Higham, Accuracy and Stability, section 3.1), and they differ by at most
// 2 gamma_k sum|terms|, gamma_k = k u / (1 - k u), u = 2^-24. sum|terms| per element is the CPU op
// run on |inputs| (and |initial output| where it accumulates). k per op: cp_linear n_in + n_out + N +
// r + 4 (native/README.md), cp_conv2d batch (H W + Ho Wo) + C + F + kh + kw + r + 8, cp_materialize
// r + d + 2, cp_mttkrp prod(dims) + d + r + 4. cp_tangent (double sums, rounded once) and
// cp_hypergrad (one formula) are checked as stated at their cases. The device-pointer entry runs the
// same kernels with the same plan, so it must equal the host-pointer entry bitwise. Outputs start
// as NaN (an unwritten element fails) and sit between guard regions (a canary NaN payload) that must
// stay untouched, in host memory for the host entry and in device memory for the dev entry (guards of
// 36 or 37 floats, so device buffers are 16-byte aligned in some cases and misaligned in others).
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "debora/debora.h"

namespace {

using Vec = std::vector<float>;
int g_passed = 0, g_failed = 0;
bool g_quick = false;
const char* g_filter = nullptr;
bool selected(const std::string& label) { return g_filter == nullptr || label.find(g_filter) != std::string::npos; }

void report(const std::string& name, bool ok, const std::string& detail) {
  std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  std::fflush(stdout);
  (ok ? g_passed : g_failed)++;
}

Vec uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(n);
  for (auto& x : v) x = d(gen);
  return v;
}
Vec absv(const Vec& v) {
  Vec a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(v[i]);
  return a;
}

float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
const float kCanary = bits_to_float(0x7fc0beefu);  // a NaN payload no kernel produces
const float kPoison = bits_to_float(0x7fc00000u);  // plain NaN: an output element nobody wrote
bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

double gamma_k(double k) {
  const double u = std::ldexp(1.0, -24);
  return k * u / (1 - k * u);
}

/* A host output between guard regions. */
struct HostOut {
  size_t n, guard;
  Vec buf;
  HostOut(size_t n_, size_t guard_, const Vec* init) : n(n_), guard(guard_), buf(n_ + 2 * guard_, kCanary) {
    for (size_t i = 0; i < n; ++i) buf[guard + i] = init ? (*init)[i] : kPoison;
  }
  float* p() { return buf.data() + guard; }
  bool guards_ok() const {
    for (size_t i = 0; i < guard; ++i)
      if (!same_bits(buf[i], kCanary) || !same_bits(buf[guard + n + i], kCanary)) return false;
    return true;
  }
  Vec content() const { return Vec(buf.begin() + guard, buf.begin() + guard + n); }
};

/* A device array between guard regions (device memory of ctx). */
struct DevArr {
  debora_cuda_context* ctx;
  size_t n, guard;
  float* base = nullptr;
  debora_status st = DEBORA_OK;
  DevArr(debora_cuda_context* c, size_t n_, size_t guard_, const Vec* content) : ctx(c), n(n_), guard(guard_) {
    Vec all(n + 2 * guard, kCanary);
    for (size_t i = 0; i < n; ++i) all[guard + i] = content ? (*content)[i] : kPoison;
    void* p = nullptr;
    st = debora_cuda_alloc(ctx, all.size() * 4, &p);
    base = static_cast<float*>(p);
    if (st == DEBORA_OK) st = debora_cuda_upload(ctx, base, all.data(), all.size() * 4);
  }
  ~DevArr() { debora_cuda_free(ctx, base); }
  DevArr(const DevArr&) = delete;
  DevArr& operator=(const DevArr&) = delete;
  float* p() { return base + guard; }
  Vec all() {
    Vec v(n + 2 * guard, 0.0f);
    if (debora_cuda_download(ctx, v.data(), base, v.size() * 4) != DEBORA_OK) std::fill(v.begin(), v.end(), kPoison);
    return v;
  }
  bool guards_ok(const Vec& a) const {
    for (size_t i = 0; i < guard; ++i)
      if (!same_bits(a[i], kCanary) || !same_bits(a[guard + n + i], kCanary)) return false;
    return true;
  }
  Vec content(const Vec& a) const { return Vec(a.begin() + guard, a.begin() + guard + n); }
};

/* ---- the generic harness for the multilinear ops ------------------------------------------------- */

struct In {
  std::string name;
  Vec data;
  bool present = true;
};
struct Out {
  std::string name;
  size_t n = 0;
  bool present = true;
  Vec init;  // non-empty: the op accumulates into it
};
using Ptrs = std::vector<const float*>;
using OutPtrs = std::vector<float*>;
using Fn = std::function<debora_status(const Ptrs&, const OutPtrs&)>;
using DevFn = std::function<debora_status(debora_cuda_context*, const Ptrs&, const OutPtrs&)>;

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

/* Runs the op on the CPU (and on |inputs|), through the CUDA host entry and the dev entry, and
 * reports one line: worst |gpu - cpu| / tol over all outputs, dev == host bitwise, guards. */
void harness(const std::string& label, debora_cuda_context* ctx, size_t guard, std::vector<In> ins,
             std::vector<Out> outs, double k, const Fn& cpu, const Fn& host, const DevFn& dev) {
  if (!selected(label)) return;
  const size_t ni = ins.size(), no = outs.size();
  Ptrs in_p(ni), abs_p(ni);
  std::vector<Vec> abs_in(ni);
  for (size_t i = 0; i < ni; ++i) {
    abs_in[i] = absv(ins[i].data);
    in_p[i] = ins[i].present ? ins[i].data.data() : nullptr;
    abs_p[i] = ins[i].present ? abs_in[i].data() : nullptr;
  }
  /* CPU, and the CPU on absolute values (the per-element sum |terms|). */
  std::vector<Vec> cpu_out(no), abs_out(no);
  OutPtrs cpu_p(no), absout_p(no);
  for (size_t o = 0; o < no; ++o) {
    cpu_out[o] = outs[o].init.empty() ? Vec(outs[o].n, kPoison) : outs[o].init;
    abs_out[o] = outs[o].init.empty() ? Vec(outs[o].n, 0.0f) : absv(outs[o].init);
    cpu_p[o] = outs[o].present ? cpu_out[o].data() : nullptr;
    absout_p[o] = outs[o].present ? abs_out[o].data() : nullptr;
  }
  const debora_status sc = cpu(in_p, cpu_p);
  const debora_status sa = cpu(abs_p, absout_p);
  /* CUDA, host pointers. */
  std::vector<HostOut> hout;
  hout.reserve(no);
  OutPtrs host_p(no);
  for (size_t o = 0; o < no; ++o) {
    hout.emplace_back(outs[o].n, guard, outs[o].init.empty() ? nullptr : &outs[o].init);
    host_p[o] = outs[o].present ? hout[o].p() : nullptr;
  }
  const debora_status sh = host(in_p, host_p);
  const std::string host_err = sh != DEBORA_OK ? debora_last_error() : "";
  /* CUDA, device pointers. */
  std::vector<std::unique_ptr<DevArr>> din, dout;
  Ptrs dev_in(ni);
  OutPtrs dev_out(no);
  bool alloc_ok = true;
  for (size_t i = 0; i < ni; ++i) {
    din.emplace_back(new DevArr(ctx, ins[i].data.size(), guard, &ins[i].data));
    alloc_ok = alloc_ok && din.back()->st == DEBORA_OK;
    dev_in[i] = ins[i].present ? din.back()->p() : nullptr;
  }
  for (size_t o = 0; o < no; ++o) {
    dout.emplace_back(new DevArr(ctx, outs[o].n, guard, outs[o].init.empty() ? nullptr : &outs[o].init));
    alloc_ok = alloc_ok && dout.back()->st == DEBORA_OK;
    dev_out[o] = outs[o].present ? dout.back()->p() : nullptr;
  }
  debora_status sd = alloc_ok ? dev(ctx, dev_in, dev_out) : DEBORA_OUT_OF_MEMORY;
  std::string dev_err = sd != DEBORA_OK ? debora_last_error() : "";
  if (sd == DEBORA_OK) {
    sd = debora_cuda_synchronize(ctx);
    if (sd != DEBORA_OK) dev_err = debora_last_error();
  }

  bool ok = sc == DEBORA_OK && sa == DEBORA_OK && sh == DEBORA_OK && sd == DEBORA_OK;
  double worst = 0;
  std::string worst_name = "-", problems;
  bool bitwise = true, guards = true, inputs_kept = true;
  for (size_t o = 0; ok && o < no; ++o) {
    if (!outs[o].present) continue;
    if (!hout[o].guards_ok()) guards = false, problems += " host-guard:" + outs[o].name;
    const Vec h = hout[o].content();
    const Vec all = dout[o]->all();
    if (!dout[o]->guards_ok(all)) guards = false, problems += " dev-guard:" + outs[o].name;
    const Vec d = dout[o]->content(all);
    for (size_t e = 0; e < outs[o].n; ++e) {
      if (!same_bits(h[e], d[e])) {
        if (bitwise) problems += " dev!=host:" + outs[o].name + "[" + std::to_string(e) + "]";
        bitwise = false;
      }
      const double tol = 2 * gamma_k(k) * abs_out[o][e] + 1e-35;
      const double err = std::fabs(static_cast<double>(h[e]) - cpu_out[o][e]);
      const double ratio = err / tol;
      if (!(ratio <= worst)) {
        worst = std::isnan(ratio) ? INFINITY : ratio;
        worst_name = outs[o].name + "[" + std::to_string(e) + "]";
      }
    }
  }
  for (size_t i = 0; ok && i < ni; ++i) {  // the kernels must not write to their inputs
    const Vec all = din[i]->all();
    if (!din[i]->guards_ok(all) || din[i]->content(all) != ins[i].data) inputs_kept = false, problems += " input:" + ins[i].name;
  }
  ok = ok && worst <= 1.0 && bitwise && guards && inputs_kept;
  std::string detail = "err/tol=" + fmt("%.3g", worst) + " at " + worst_name + (bitwise ? ", dev==host" : "") +
                       (guards ? ", guards ok" : "") + problems;
  if (sc != DEBORA_OK || sa != DEBORA_OK) detail += std::string(" cpu: ") + debora_status_name(sc);
  if (sh != DEBORA_OK) detail += std::string(" cuda host: ") + debora_status_name(sh) + " " + host_err;
  if (sd != DEBORA_OK) detail += std::string(" cuda dev: ") + debora_status_name(sd) + " " + dev_err;
  report(label, ok, detail);
}

/* ---- cp_linear ---------------------------------------------------------------------------------------- */

void parity_cp_linear(debora_cuda_context* ctx) {
  struct Case {
    int64_t N, nin, nout, r;
    unsigned flags;  // 1 accumulate Y, 2 Z, 4 dX, 8 accumulate dX, 16 dots
    bool quick;
  };
  // Column tiles are 256 threads x (64 / RT) columns: 2048 for r <= 8, 1024 for r <= 16, 512 above.
  const Case cases[] = {
      {1, 1, 1, 1, 0, true},          {5, 7, 3, 1, 31, true},          {37, 129, 65, 9, 22, true},
      {64, 2049, 33, 8, 5, true},     {33, 513, 17, 33, 30, true},     {0, 5, 6, 3, 20, true},
      {257, 2047, 255, 8, 17, false}, {256, 2048, 256, 8, 6, false},   {300, 1025, 1023, 16, 29, false},
      {129, 511, 513, 32, 14, false}, {1000, 100, 37, 65, 7, false},   {4, 4096, 4096, 3, 20, false},
      {2000, 64, 64, 1, 31, false},   {3, 5, 7, 100, 6, false},        {513, 255, 2049, 24, 28, false},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    if (g_quick && !c.quick) continue;
    ++seed;
    const bool acc = c.flags & 1, withZ = c.flags & 2, withDx = c.flags & 4, accDx = c.flags & 8, dots = c.flags & 16;
    const size_t guard = 36 + seed % 2;
    const int64_t N = c.N, ni = c.nin, no = c.nout, r = c.r;
    const Vec X = uniform(N * ni, seed, -1, 1), U = uniform(no * r, seed + 1, -1, 1), V = uniform(ni * r, seed + 2, -1, 1);
    const Vec s = uniform(r, seed + 3, 0.05f, 2), Y0 = uniform(N * no, seed + 4, -1, 1);
    const Vec dY = uniform(N * no, seed + 5, -1, 1), dX0 = uniform(N * ni, seed + 6, -1, 1);
    const double k = ni + no + N + r + 4;
    char label[160];
    std::snprintf(label, sizeof label, "cp_linear_fwd N=%" PRId64 " n_in=%" PRId64 " n_out=%" PRId64 " r=%" PRId64 "%s%s", N,
                  ni, no, r, acc ? " acc" : "", withZ ? " Z" : "");
    std::vector<Out> fo = {{"Y", size_t(N * no), true, acc ? Y0 : Vec()}, {"Z", size_t(N * r), withZ, {}}};
    harness(label, ctx, guard, {{"X", X}, {"U", U}, {"V", V}, {"s", s}}, fo, k,
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_linear_fwd_cpu(N, ni, no, r, i[0], i[1], i[2], i[3], o[0], acc, o[1]); },
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_linear_fwd_cuda(N, ni, no, r, i[0], i[1], i[2], i[3], o[0], acc, o[1]); },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_linear_fwd_cuda_dev(cx, N, ni, no, r, i[0], i[1], i[2], i[3], o[0], acc, o[1]);
            });
    /* Z for the backward: the forward's (CPU) Z, or absent (recomputed). */
    Vec Z(N * r);
    debora_cp_linear_fwd_cpu(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), Vec(N * no).data(), 0, Z.data());
    std::snprintf(label, sizeof label, "cp_linear_bwd N=%" PRId64 " n_in=%" PRId64 " n_out=%" PRId64 " r=%" PRId64 "%s%s%s%s", N,
                  ni, no, r, withZ ? " Z" : "", withDx ? " dX" : "", accDx ? "+acc" : "", dots ? " dots" : "");
    std::vector<Out> bo = {{"dX", size_t(N * ni), withDx, withDx && accDx ? dX0 : Vec()},
                           {"dU", size_t(no * r), true, {}},
                           {"dV", size_t(ni * r), true, {}},
                           {"ds", size_t(r), true, {}},
                           {"dots", size_t(r), dots, {}}};
    const int ad = withDx && accDx;
    harness(label, ctx, guard, {{"X", X}, {"U", U}, {"V", V}, {"s", s}, {"dY", dY}, {"Z", Z, withZ}}, bo, k,
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_linear_bwd_cpu(N, ni, no, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], ad, o[1], o[2], o[3], o[4]);
            },
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_linear_bwd_cuda(N, ni, no, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], ad, o[1], o[2], o[3], o[4]);
            },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_linear_bwd_cuda_dev(cx, N, ni, no, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], ad, o[1], o[2],
                                                   o[3], o[4]);
            });
  }
}

/* ---- cp_conv2d ---------------------------------------------------------------------------------------- */

void parity_cp_conv2d(debora_cuda_context* ctx) {
  struct Case {
    debora_conv2d_geom g;
    int64_t r;
    unsigned flags;  // 1 accumulate Y, 4 dX, 8 accumulate dX, 16 dots
    bool quick;
  };
  // {batch, C, H, W, F, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w}
  const Case cases[] = {
      {{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, 1, 0, true},
      {{2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1}, 5, 21, true},
      {{2, 4, 9, 11, 3, 3, 2, 2, 1, 0, 1, 2, 1}, 9, 12, true},
      {{3, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1}, 8, 29, false},
      {{2, 5, 13, 17, 6, 5, 1, 1, 2, 2, 0, 1, 1}, 17, 4, false},
      {{1, 3, 6, 6, 2, 1, 4, 1, 1, 0, 2, 1, 2}, 33, 21, false},
      {{4, 16, 31, 33, 24, 3, 3, 2, 2, 1, 1, 1, 1}, 8, 20, false},
      {{2, 300, 8, 8, 70, 3, 3, 1, 1, 1, 1, 1, 1}, 16, 5, false},
      {{1, 2, 45, 46, 3, 7, 7, 1, 1, 3, 3, 1, 1}, 2, 28, false},
      {{5, 7, 12, 10, 9, 2, 3, 3, 2, 0, 1, 1, 3}, 40, 31, false},
  };
  uint32_t seed = 300;
  for (const Case& c : cases) {
    if (g_quick && !c.quick) continue;
    ++seed;
    const debora_conv2d_geom g = c.g;
    const int64_t r = c.r;
    const bool acc = c.flags & 1, withDx = c.flags & 4, accDx = c.flags & 8, dots = c.flags & 16;
    const size_t guard = 36 + seed % 2;
    const int64_t Ho = (g.H + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1) / g.stride_h + 1;
    const int64_t Wo = (g.W + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1) / g.stride_w + 1;
    const size_t nx = g.batch * g.C * g.H * g.W, ny = g.batch * g.F * Ho * Wo;
    const Vec X = uniform(nx, seed, -1, 1), U1 = uniform(g.F * r, seed + 1, -1, 1), U2 = uniform(g.C * r, seed + 2, -1, 1);
    const Vec U3 = uniform(g.kh * r, seed + 3, -1, 1), U4 = uniform(g.kw * r, seed + 4, -1, 1);
    const Vec s = uniform(r, seed + 5, 0.05f, 2), Y0 = uniform(ny, seed + 6, -1, 1), dY = uniform(ny, seed + 7, -1, 1);
    const Vec dX0 = uniform(nx, seed + 8, -1, 1);
    const double k = g.batch * (g.H * g.W + Ho * Wo) + g.C + g.F + g.kh + g.kw + r + 8;
    char geo[200];
    std::snprintf(geo, sizeof geo, "%" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64 " F=%" PRId64 " k=%" PRId64 "x%" PRId64 " s=%" PRId64
                  ",%" PRId64 " p=%" PRId64 ",%" PRId64 " d=%" PRId64 ",%" PRId64 " r=%" PRId64,
                  g.batch, g.C, g.H, g.W, g.F, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w, r);
    std::vector<In> fin = {{"X", X}, {"U1", U1}, {"U2", U2}, {"U3", U3}, {"U4", U4}, {"s", s}};
    harness(std::string("cp_conv2d_fwd ") + geo + (acc ? " acc" : ""), ctx, guard, fin, {{"Y", ny, true, acc ? Y0 : Vec()}}, k,
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_conv2d_fwd_cpu(&g, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], acc); },
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_conv2d_fwd_cuda(&g, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], acc); },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_conv2d_fwd_cuda_dev(cx, &g, r, i[0], i[1], i[2], i[3], i[4], i[5], o[0], acc);
            });
    std::vector<In> bin = fin;
    bin.push_back({"dY", dY});
    std::vector<Out> bo = {{"dX", nx, withDx, withDx && accDx ? dX0 : Vec()},
                           {"dU1", size_t(g.F * r), true, {}},
                           {"dU2", size_t(g.C * r), true, {}},
                           {"dU3", size_t(g.kh * r), true, {}},
                           {"dU4", size_t(g.kw * r), true, {}},
                           {"ds", size_t(r), true, {}},
                           {"dots", size_t(r), dots, {}}};
    const int ad = withDx && accDx;
    harness(std::string("cp_conv2d_bwd ") + geo + (withDx ? " dX" : "") + (ad ? "+acc" : "") + (dots ? " dots" : ""), ctx,
            guard, bin, bo, k,
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_conv2d_bwd_cpu(&g, r, i[0], i[1], i[2], i[3], i[4], i[5], i[6], o[0], ad, o[1], o[2], o[3], o[4],
                                              o[5], o[6]);
            },
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_conv2d_bwd_cuda(&g, r, i[0], i[1], i[2], i[3], i[4], i[5], i[6], o[0], ad, o[1], o[2], o[3], o[4],
                                               o[5], o[6]);
            },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_conv2d_bwd_cuda_dev(cx, &g, r, i[0], i[1], i[2], i[3], i[4], i[5], i[6], o[0], ad, o[1], o[2], o[3],
                                                   o[4], o[5], o[6]);
            });
  }
}

/* ---- cp_materialize / cp_mttkrp --------------------------------------------------------------------- */

void parity_dense(debora_cuda_context* ctx) {
  struct Case {
    std::vector<int64_t> dims;
    int64_t r;
    bool dots, quick;
  };
  const Case cases[] = {
      {{1, 1}, 1, true, true},          {{3, 4, 5}, 2, false, true},        {{2, 3, 2, 5}, 9, true, true},
      {{300, 257}, 8, true, false},     {{2049, 5}, 33, false, false},      {{3, 1, 4, 2, 5}, 16, true, false},
      {{2, 3, 2, 2, 3, 2}, 7, true, false}, {{64, 33, 17}, 32, false, false}, {{16, 16, 3, 3}, 40, true, false},
      {{1, 4097}, 5, true, false},
  };
  uint32_t seed = 500;
  for (const Case& c : cases) {
    if (g_quick && !c.quick) continue;
    ++seed;
    const int d = static_cast<int>(c.dims.size());
    const int64_t r = c.r;
    const size_t guard = 36 + seed % 2;
    int64_t N = 1;
    std::string shape;
    for (int64_t n : c.dims) N *= n, shape += (shape.empty() ? "" : "x") + std::to_string(n);
    shape += " r=" + std::to_string(r);
    std::vector<In> ins;
    for (int k = 0; k < d; ++k) ins.push_back({"U" + std::to_string(k), uniform(c.dims[k] * r, seed + k, -1, 1)});
    ins.push_back({"s", uniform(r, seed + 10, 0.05f, 2)});
    const int64_t* dims = c.dims.data();
    auto factors = [d](const Ptrs& i) { return std::vector<const float*>(i.begin(), i.begin() + d); };
    harness("cp_materialize " + shape, ctx, guard, ins, {{"out", size_t(N), true, {}}}, double(r + d + 2),
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_materialize_cpu(d, dims, r, factors(i).data(), i[d], o[0]); },
            [&](const Ptrs& i, const OutPtrs& o) { return debora_cp_materialize_cuda(d, dims, r, factors(i).data(), i[d], o[0]); },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_materialize_cuda_dev(cx, d, dims, r, factors(i).data(), i[d], o[0]);
            });
    std::vector<In> min = ins;
    min.push_back({"G", uniform(N, seed + 20, -1, 1)});
    std::vector<Out> mo;
    for (int k = 0; k < d; ++k) mo.push_back({"grads" + std::to_string(k), size_t(c.dims[k] * r), true, {}});
    mo.push_back({"ds", size_t(r), true, {}});
    mo.push_back({"dots", size_t(r), c.dots, {}});
    auto grads = [d](const OutPtrs& o) { return std::vector<float*>(o.begin(), o.begin() + d); };
    harness("cp_mttkrp " + shape + (c.dots ? " dots" : ""), ctx, guard, min, mo, double(N + d + r + 4),
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_mttkrp_cpu(d, dims, r, factors(i).data(), i[d], i[d + 1], grads(o).data(), o[d], o[d + 1]);
            },
            [&](const Ptrs& i, const OutPtrs& o) {
              return debora_cp_mttkrp_cuda(d, dims, r, factors(i).data(), i[d], i[d + 1], grads(o).data(), o[d], o[d + 1]);
            },
            [&](debora_cuda_context* cx, const Ptrs& i, const OutPtrs& o) {
              return debora_cp_mttkrp_cuda_dev(cx, d, dims, r, factors(i).data(), i[d], i[d + 1], grads(o).data(), o[d], o[d + 1]);
            });
  }
}

/* ---- cp_tangent ----------------------------------------------------------------------------------------
 * Both backends sum in double and round once, so per element |gpu - cpu| <= u (|cpu| + |gpu|) plus the
 * double-precision sums' error: tol = 2u max(|cpu|, |gpu|) + 4 (n + r) 2^-53 scale, with scale = |G| +
 * |U| S_abs (S_abs the Gram matrix of |U|, |G|, symmetrised; oblique: its diagonal). dots adds the
 * out tolerances weighted by |U|. Euclidean out is a copy: bitwise. */
void parity_cp_tangent(debora_cuda_context* ctx) {
  struct Case {
    debora_geometry geom;
    int64_t n, r;
    bool inplace, dots, quick;
  };
  const Case cases[] = {
      {DEBORA_GEOM_EUCLIDEAN, 1, 1, false, true, true}, {DEBORA_GEOM_OBLIQUE, 5, 3, true, true, true},
      {DEBORA_GEOM_STIEFEL, 5, 3, false, true, true},   {DEBORA_GEOM_OBLIQUE, 300, 33, false, true, false},
      {DEBORA_GEOM_STIEFEL, 300, 33, true, true, false}, {DEBORA_GEOM_STIEFEL, 1000, 8, false, false, false},
      {DEBORA_GEOM_EUCLIDEAN, 257, 9, true, true, false}, {DEBORA_GEOM_OBLIQUE, 2048, 1, false, true, false},
      {DEBORA_GEOM_STIEFEL, 64, 64, false, true, false}, {DEBORA_GEOM_OBLIQUE, 100003, 4, true, false, false},
  };
  const char* names[] = {"euclidean", "oblique", "stiefel"};
  uint32_t seed = 700;
  const double u = std::ldexp(1.0, -24), ud = std::ldexp(1.0, -53);
  for (const Case& c : cases) {
    if (g_quick && !c.quick) continue;
    ++seed;
    const int64_t n = c.n, r = c.r;
    const size_t nr = n * r, guard = 36 + seed % 2;
    const std::string label = std::string("cp_tangent ") + names[c.geom] + " n=" + std::to_string(n) + " r=" +
                              std::to_string(r) + (c.inplace ? " in-place" : "") + (c.dots ? " dots" : "");
    if (!selected(label)) continue;
    const Vec U = uniform(nr, seed, -1, 1), G = uniform(nr, seed + 1, -1, 1), dots0 = uniform(r, seed + 2, -1, 1);
    /* scale per element, in double */
    std::vector<double> M(r * r, 0.0), scale(nr);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t a = 0; a < r; ++a)
        for (int64_t b = 0; b < r; ++b) M[a * r + b] += std::fabs(double(U[j * r + a])) * std::fabs(double(G[j * r + b]));
    for (int64_t j = 0; j < n; ++j)
      for (int64_t b = 0; b < r; ++b) {
        double v = std::fabs(double(G[j * r + b]));
        if (c.geom == DEBORA_GEOM_OBLIQUE) v += std::fabs(double(U[j * r + b])) * M[b * r + b];
        if (c.geom == DEBORA_GEOM_STIEFEL)
          for (int64_t a = 0; a < r; ++a) v += std::fabs(double(U[j * r + a])) * 0.5 * (M[a * r + b] + M[b * r + a]);
        scale[j * r + b] = v;
      }
    /* CPU */
    Vec cpu_out = c.inplace ? G : Vec(nr, kPoison), cpu_dots = dots0;
    const debora_status sc = debora_cp_tangent_cpu(c.geom, n, r, U.data(), c.inplace ? cpu_out.data() : G.data(),
                                                   cpu_out.data(), c.dots ? cpu_dots.data() : nullptr);
    /* CUDA host: in place means out == G (a guarded copy of G). */
    HostOut hout(nr, guard, c.inplace ? &G : nullptr), hdots(r, guard, &dots0);
    const debora_status sh = debora_cp_tangent_cuda(c.geom, n, r, U.data(), c.inplace ? hout.p() : G.data(), hout.p(),
                                                    c.dots ? hdots.p() : nullptr);
    const std::string herr = sh != DEBORA_OK ? debora_last_error() : "";
    /* CUDA dev */
    DevArr dU(ctx, nr, guard, &U), dG(ctx, nr, guard, &G), dout(ctx, nr, guard, c.inplace ? &G : nullptr),
        ddots(ctx, r, guard, &dots0);
    debora_status sd = debora_cp_tangent_cuda_dev(ctx, c.geom, n, r, dU.p(), c.inplace ? dout.p() : dG.p(), dout.p(),
                                                  c.dots ? ddots.p() : nullptr);
    std::string derr = sd != DEBORA_OK ? debora_last_error() : "";
    if (sd == DEBORA_OK && (sd = debora_cuda_synchronize(ctx)) != DEBORA_OK) derr = debora_last_error();
    bool ok = sc == DEBORA_OK && sh == DEBORA_OK && sd == DEBORA_OK;
    double worst = 0;
    std::string where = "-", problems;
    if (ok) {
      const Vec h = hout.content(), oall = dout.all(), dall = ddots.all();
      const Vec d = dout.content(oall), dd = ddots.content(dall);
      if (!hout.guards_ok() || !hdots.guards_ok() || !dout.guards_ok(oall) || !ddots.guards_ok(dall)) problems += " guards";
      std::vector<double> tol_out(nr);
      for (size_t e = 0; e < nr; ++e) {
        if (!same_bits(h[e], d[e])) problems += problems.find("dev!=host") == std::string::npos ? " dev!=host" : "";
        const double tol = c.geom == DEBORA_GEOM_EUCLIDEAN
                               ? 0.0
                               : 2 * u * std::max(std::fabs(double(h[e])), std::fabs(double(cpu_out[e]))) +
                                     4.0 * (n + r) * ud * scale[e] + 1e-38;
        tol_out[e] = tol;
        const double err = std::fabs(double(h[e]) - cpu_out[e]);
        const double ratio = tol > 0 ? err / tol : (err == 0 ? 0.0 : INFINITY);
        if (!(ratio <= worst)) worst = std::isnan(ratio) ? INFINITY : ratio, where = "out[" + std::to_string(e) + "]";
      }
      if (c.dots) {
        const Vec hd = hdots.content();
        for (int64_t b = 0; b < r; ++b) {
          if (!same_bits(hd[b], dd[b])) problems += " dots dev!=host";
          double tol = 2 * u * std::max(std::fabs(double(hd[b])), std::fabs(double(cpu_dots[b]))) + 1e-38;
          for (int64_t j = 0; j < n; ++j)
            tol += std::fabs(double(U[j * r + b])) * (tol_out[j * r + b] + 4.0 * n * ud * std::fabs(double(cpu_out[j * r + b])));
          const double ratio = std::fabs(double(hd[b]) - cpu_dots[b]) / tol;
          if (!(ratio <= worst)) worst = std::isnan(ratio) ? INFINITY : ratio, where = "dots[" + std::to_string(b) + "]";
        }
      }
      const Vec uall = dU.all();
      if (dU.content(uall) != U || !dU.guards_ok(uall)) problems += " input:U";
    }
    ok = ok && worst <= 1.0 && problems.empty();
    std::string detail = "err/tol=" + fmt("%.3g", worst) + " at " + where + problems;
    if (sh != DEBORA_OK) detail += std::string(" cuda host: ") + debora_status_name(sh) + " " + herr;
    if (sd != DEBORA_OK) detail += std::string(" cuda dev: ") + debora_status_name(sd) + " " + derr;
    report(label, ok, detail);
  }
}

/* ---- cp_hypergrad: the same formula (debora/math.h), correctly rounded on both sides: bitwise ---------- */

void parity_cp_hypergrad(debora_cuda_context* ctx) {
  for (int64_t r : {1, 255, 256, 257, 100003}) {
    if ((g_quick && r > 300) || !selected("cp_hypergrad r=" + std::to_string(r))) continue;
    const size_t n = static_cast<size_t>(r), guard = 36 + r % 2;
    const Vec ds = uniform(n, 11, -3, 3), s = uniform(n, 12, 1e-3f, 4), dots = uniform(n, 13, -3, 3);
    Vec cpu(n, kPoison);
    HostOut gpu(n, guard, nullptr);
    const debora_status a = debora_cp_hypergrad_cpu(r, ds.data(), s.data(), dots.data(), cpu.data());
    const debora_status b = debora_cp_hypergrad_cuda(r, ds.data(), s.data(), dots.data(), gpu.p());
    const std::string berr = b != DEBORA_OK ? debora_last_error() : "";
    DevArr dds(ctx, n, guard, &ds), dsv(ctx, n, guard, &s), ddots(ctx, n, guard, &dots), dout(ctx, n, guard, nullptr);
    debora_status c = debora_cp_hypergrad_cuda_dev(ctx, r, dds.p(), dsv.p(), ddots.p(), dout.p());
    if (c == DEBORA_OK) c = debora_cuda_synchronize(ctx);
    const Vec h = gpu.content(), all = dout.all(), d = dout.content(all);
    size_t diff = 0;
    for (size_t i = 0; i < n; ++i) diff += !same_bits(cpu[i], h[i]) + !same_bits(h[i], d[i]);
    const bool guards = gpu.guards_ok() && dout.guards_ok(all);
    report("cp_hypergrad r=" + std::to_string(r), a == DEBORA_OK && b == DEBORA_OK && c == DEBORA_OK && diff == 0 && guards,
           "elements differing from the CPU (host or dev entry): " + std::to_string(diff) + (guards ? ", guards ok" : ", GUARDS") +
               (b != DEBORA_OK ? " cuda: " + berr : ""));
  }
}

/* ---- error paths: statuses like the CPU's, nothing written, the context still usable ------------------- */

void errors(debora_cuda_context* ctx) {
  if (!selected("error:")) return;
  const int64_t N = 3, ni = 4, no = 5, r = 2;
  const Vec X = uniform(N * ni, 1, -1, 1), U = uniform(no * r, 2, -1, 1), V = uniform(ni * r, 3, -1, 1);
  Vec s = uniform(r, 4, 0.5f, 1);
  {  // a non-finite s: DEBORA_NON_FINITE from both backends, Y untouched
    s[1] = NAN;
    Vec Yc(N * no, 7.0f);
    HostOut Yh(N * no, 36, &Yc);
    const debora_status a = debora_cp_linear_fwd_cpu(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), Yc.data(), 0, nullptr);
    const std::string ma = debora_last_error();
    const debora_status b = debora_cp_linear_fwd_cuda(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), Yh.p(), 0, nullptr);
    const std::string mb = debora_last_error();
    const bool untouched = Yh.content() == Vec(N * no, 7.0f) && Yh.guards_ok();
    report("error: cp_linear_fwd non-finite s", a == DEBORA_NON_FINITE && b == a && ma == mb && untouched,
           std::string(debora_status_name(b)) + ": " + mb);
    s[1] = 0.75f;
  }
  {  // a host pointer given to a dev entry: DEBORA_INVALID_ARG naming the argument, output untouched
    DevArr dX(ctx, N * ni, 36, &X), dU(ctx, no * r, 36, &U), dV(ctx, ni * r, 36, &V), ds(ctx, r, 36, &s);
    const Vec seven(N * no, 7.0f);
    DevArr dY(ctx, N * no, 36, &seven);
    const debora_status st =
        debora_cp_linear_fwd_cuda_dev(ctx, N, ni, no, r, X.data(), dU.p(), dV.p(), ds.p(), dY.p(), 0, nullptr);
    const std::string msg = debora_last_error();
    const Vec all = dY.all();
    report("error: cp_linear_fwd_dev host pointer for X",
           st == DEBORA_INVALID_ARG && msg.find("'X'") != std::string::npos && dY.content(all) == seven && dY.guards_ok(all),
           std::string(debora_status_name(st)) + ": " + msg);
  }
  {  // a kernel larger than the padded input: DEBORA_SHAPE_MISMATCH like the CPU
    const debora_conv2d_geom g = {1, 1, 2, 2, 1, 5, 1, 1, 1, 0, 0, 1, 1};
    const Vec one(64, 1.0f);
    Vec Y(64, 7.0f);
    const debora_status a = debora_cp_conv2d_fwd_cpu(&g, 1, one.data(), one.data(), one.data(), one.data(), one.data(),
                                                     one.data(), Y.data(), 0);
    const std::string ma = debora_last_error();
    const debora_status b = debora_cp_conv2d_fwd_cuda(&g, 1, one.data(), one.data(), one.data(), one.data(), one.data(),
                                                      one.data(), Y.data(), 0);
    const std::string mb = debora_last_error();
    report("error: cp_conv2d_fwd kernel larger than the input", a == DEBORA_SHAPE_MISMATCH && b == a && ma == mb &&
                                                                    Y == Vec(64, 7.0f),
           std::string(debora_status_name(b)) + ": " + mb);
  }
  {  // a NaN in G: DEBORA_NON_FINITE from both backends, gradients untouched
    const int64_t dims[2] = {3, 4};
    const Vec f0 = uniform(3 * 2, 5, -1, 1), f1 = uniform(4 * 2, 6, -1, 1);
    Vec G = uniform(12, 7, -1, 1);
    G[5] = NAN;
    const float* fac[2] = {f0.data(), f1.data()};
    Vec g0(6, 7.0f), g1(8, 7.0f), ds(2, 7.0f);
    float* gr[2] = {g0.data(), g1.data()};
    const debora_status a = debora_cp_mttkrp_cpu(2, dims, 2, fac, s.data(), G.data(), gr, ds.data(), nullptr);
    const std::string ma = debora_last_error();
    const debora_status b = debora_cp_mttkrp_cuda(2, dims, 2, fac, s.data(), G.data(), gr, ds.data(), nullptr);
    const std::string mb = debora_last_error();
    report("error: cp_mttkrp non-finite G", a == DEBORA_NON_FINITE && b == a && ma == mb && g0 == Vec(6, 7.0f) &&
                                                ds == Vec(2, 7.0f),
           std::string(debora_status_name(b)) + ": " + mb);
  }
  {  // an impossible allocation: DEBORA_OUT_OF_MEMORY, and the context keeps working
    void* p = nullptr;
    const debora_status st = debora_cuda_alloc(ctx, size_t{1} << 60, &p);
    const std::string msg = debora_last_error();
    Vec Y(N * no, 0.0f);
    const debora_status after =
        debora_cp_linear_fwd_cuda(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), Y.data(), 0, nullptr);
    report("error: cuda_alloc 2^60 bytes", st == DEBORA_OUT_OF_MEMORY && p == nullptr && after == DEBORA_OK,
           std::string(debora_status_name(st)) + ": " + msg);
  }
  {  // a device index out of range
    debora_cuda_context* c2 = nullptr;
    const debora_status st = debora_cuda_context_create(4096, &c2);
    report("error: cuda_context_create device 4096", st == DEBORA_INVALID_ARG && c2 == nullptr,
           std::string(debora_status_name(st)) + ": " + debora_last_error());
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) g_filter = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--filter TEXT]\n", argv[0]);
      return 2;
    }
  }
  int count = 0;
  if (debora_cuda_device_count(&count) != DEBORA_OK) {
    std::printf("SKIP gpu parity: %s\n", debora_last_error());
    return 77;
  }
  debora_cuda_device dev;
  if (debora_cuda_device_info(0, &dev) == DEBORA_OK)
    std::printf("device 0: %s, cc %d.%d, %.1f GiB, %d SMs\n", dev.name, dev.cc_major, dev.cc_minor,
                static_cast<double>(dev.total_memory) / (1 << 30), dev.multiprocessors);
  debora_cuda_context* ctx = nullptr;
  if (debora_cuda_context_create(0, &ctx) != DEBORA_OK) {
    std::printf("FAIL cuda_context_create: %s\n0 passed, 1 failed\n", debora_last_error());
    return 1;
  }
  parity_cp_hypergrad(ctx);
  parity_cp_linear(ctx);
  parity_cp_conv2d(ctx);
  parity_dense(ctx);
  parity_cp_tangent(ctx);
  errors(ctx);
  const debora_status st = debora_cuda_context_destroy(ctx);
  report("cuda_context_destroy", st == DEBORA_OK, st == DEBORA_OK ? "ok" : debora_last_error());
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
