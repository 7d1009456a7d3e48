// timing.cpp — times the CUDA kernels on device-resident data (the *_cuda_dev entries) with CUDA events
// on the context's stream: warm-up, then the median of at least 10 runs (and 0.2 s). Also measures the
// HBM roofline (a device-to-device cudaMemcpy: bytes read + written per second) and times the CPU
// twins on the same shapes (median of 3 after a warm-up, all cores). Prints one line per case and, with
// --json FILE, writes the cases (shapes, ms, bytes that must cross memory) for bench/peers/
// torch_gpu_peer.py and the table of bench/gpu-check.sh. Exits 77 without a usable GPU.
// Usage: debora_timing [--json FILE] [--quick] [--no-cpu]. Built with -DDEBORA_BUILD_TESTS=ON and CUDA.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "debora/debora.h"

namespace {

debora_cuda_context* g_ctx = nullptr;
cudaStream_t g_stream = nullptr;
bool g_quick = false, g_cpu = true;

void die(const char* what) {
  std::fprintf(stderr, "timing: %s failed: %s\n", what, debora_last_error());
  std::exit(1);
}
void ok(debora_status st, const char* what) {
  if (st != DEBORA_OK) die(what);
}
void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "timing: %s failed: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median ms of fn() on the GPU: 3 warm-up runs, then >= 10 runs and >= 0.2 s (at most 200). */
double time_gpu(const std::function<void()>& fn) {
  cudaEvent_t a, b;
  cuda_ok(cudaEventCreate(&a), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&b), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) fn();
  ok(debora_cuda_synchronize(g_ctx), "warm-up");
  std::vector<double> ms;
  double total = 0;
  while ((ms.size() < 10 || total < 200.0) && ms.size() < 200) {
    cuda_ok(cudaEventRecord(a, g_stream), "cudaEventRecord");
    fn();
    cuda_ok(cudaEventRecord(b, g_stream), "cudaEventRecord");
    cuda_ok(cudaEventSynchronize(b), "cudaEventSynchronize");
    float t = 0;
    cuda_ok(cudaEventElapsedTime(&t, a, b), "cudaEventElapsedTime");
    ms.push_back(t);
    total += t;
  }
  ok(debora_cuda_synchronize(g_ctx), "timed runs");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(ms);
}

/* Median ms of fn() on the CPU: one warm-up, then 3 runs. */
double time_cpu(const std::function<void()>& fn) {
  if (!g_cpu) return -1;
  fn();
  std::vector<double> ms;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(ms);
}

/* Seeded values in [lo, hi) from xorshift64 (fast enough for the 2^28-element inputs). */
std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  std::vector<float> v(n);
  for (auto& e : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    e = lo + (hi - lo) * static_cast<float>((x >> 40) * (1.0 / 16777216.0));
  }
  return v;
}

/* A device copy of a host vector (or n uninitialised floats when v is empty). */
struct Dev {
  float* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<float>& v, size_t n_ = 0) : n(v.empty() ? n_ : v.size()) {
    void* q = nullptr;
    ok(debora_cuda_alloc(g_ctx, n * 4, &q), "debora_cuda_alloc");
    p = static_cast<float*>(q);
    if (!v.empty()) ok(debora_cuda_upload(g_ctx, p, v.data(), n * 4), "debora_cuda_upload");
  }
  ~Dev() { debora_cuda_free(g_ctx, p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

struct Case {
  std::string id, op, shape_json;
  double gpu_ms, floor_ms, cpu_ms;
};
std::vector<Case> g_cases;
double g_bw = 0;  // GB/s

void record(const std::string& id, const std::string& op, const std::string& shape, double gpu_ms, double bytes,
            double cpu_ms) {
  const double floor_ms = bytes / (g_bw * 1e9) * 1e3;
  g_cases.push_back({id, op, shape, gpu_ms, floor_ms, cpu_ms});
  std::printf("%-44s gpu %9.3f ms  floor %8.3f ms  %5.1f%% of HBM roofline  cpu %10.2f ms\n", id.c_str(), gpu_ms,
              floor_ms, 100.0 * floor_ms / gpu_ms, cpu_ms);
  std::fflush(stdout);
}

void bandwidth() {
  const size_t bytes = size_t{1} << 31;
  void *a = nullptr, *b = nullptr;
  ok(debora_cuda_alloc(g_ctx, bytes, &a), "alloc (bandwidth)");
  ok(debora_cuda_alloc(g_ctx, bytes, &b), "alloc (bandwidth)");
  cuda_ok(cudaMemsetAsync(a, 0, bytes, g_stream), "cudaMemsetAsync");
  const double ms =
      time_gpu([&] { cuda_ok(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, g_stream), "cudaMemcpyAsync"); });
  g_bw = 2.0 * bytes / (ms * 1e-3) / 1e9;  // read + write
  std::printf("HBM roofline: device-to-device copy of %zu MiB: %.3f ms = %.0f GB/s (read + write)\n", bytes >> 20, ms, g_bw);
  ok(debora_cuda_free(g_ctx, a), "free");
  ok(debora_cuda_free(g_ctx, b), "free");
}

/* cp_linear forward + backward, as a training step runs them: fwd writes Y and Z, bwd reuses Z. */
void linear(int64_t N, int64_t n, int64_t r) {
  const int64_t ni = n, no = n;
  auto X = uniform(N * ni, 1, -1, 1), dY = uniform(N * no, 2, -1, 1);
  auto U = uniform(no * r, 3, -1, 1), V = uniform(ni * r, 4, -1, 1), s = uniform(r, 5, 0.1f, 1);
  Dev dX_(X), ddY(dY), dU(U), dV(V), ds_(s), dYo({}, N * no), dZ({}, N * r), ddX({}, N * ni), ddU({}, no * r),
      ddV({}, ni * r), dds({}, r), ddots({}, r);
  const double gpu = time_gpu([&] {
    ok(debora_cp_linear_fwd_cuda_dev(g_ctx, N, ni, no, r, dX_.p, dU.p, dV.p, ds_.p, dYo.p, 0, dZ.p), "cp_linear_fwd");
    ok(debora_cp_linear_bwd_cuda_dev(g_ctx, N, ni, no, r, dX_.p, dU.p, dV.p, ds_.p, ddY.p, dZ.p, ddX.p, 0, ddU.p, ddV.p,
                                     dds.p, ddots.p),
       "cp_linear_bwd");
  });
  /* What must cross memory: fwd reads X, writes Y; bwd reads X and dY, writes dX (Z: written, read). */
  const double bytes = 4.0 * (2 * N * ni + 2 * N * no + N * ni + 2 * N * r);
  std::vector<float> Y(N * no), Z(N * r), gX(N * ni), gU(no * r), gV(ni * r), gs(r), gd(r);
  const double cpu = time_cpu([&] {
    debora_cp_linear_fwd_cpu(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), Y.data(), 0, Z.data());
    debora_cp_linear_bwd_cpu(N, ni, no, r, X.data(), U.data(), V.data(), s.data(), dY.data(), Z.data(), gX.data(), 0,
                             gU.data(), gV.data(), gs.data(), gd.data());
  });
  char id[96], shape[160];
  std::snprintf(id, sizeof id, "cp_linear_fwd_bwd N=%lld n=%lld r=%lld", (long long)N, (long long)n, (long long)r);
  std::snprintf(shape, sizeof shape, "{\"N\": %lld, \"n_in\": %lld, \"n_out\": %lld, \"r\": %lld}", (long long)N,
                (long long)ni, (long long)no, (long long)r);
  record(id, "cp_linear_fwd_bwd", shape, gpu, bytes, cpu);
}

void conv(debora_conv2d_geom g, int64_t r) {
  const int64_t Ho = (g.H + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1) / g.stride_h + 1;
  const int64_t Wo = (g.W + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1) / g.stride_w + 1;
  const int64_t nx = g.batch * g.C * g.H * g.W, ny = g.batch * g.F * Ho * Wo;
  auto X = uniform(nx, 1, -1, 1), dY = uniform(ny, 2, -1, 1), U1 = uniform(g.F * r, 3, -1, 1);
  auto U2 = uniform(g.C * r, 4, -1, 1), U3 = uniform(g.kh * r, 5, -1, 1), U4 = uniform(g.kw * r, 6, -1, 1);
  auto s = uniform(r, 7, 0.1f, 1);
  Dev dX_(X), ddY(dY), d1(U1), d2(U2), d3(U3), d4(U4), dsv(s), dYo({}, ny), ddX({}, nx), g1({}, g.F * r),
      g2({}, g.C * r), g3({}, g.kh * r), g4({}, g.kw * r), gs({}, r), gd({}, r);
  const double gpu = time_gpu([&] {
    ok(debora_cp_conv2d_fwd_cuda_dev(g_ctx, &g, r, dX_.p, d1.p, d2.p, d3.p, d4.p, dsv.p, dYo.p, 0), "cp_conv2d_fwd");
    ok(debora_cp_conv2d_bwd_cuda_dev(g_ctx, &g, r, dX_.p, d1.p, d2.p, d3.p, d4.p, dsv.p, ddY.p, ddX.p, 0, g1.p, g2.p,
                                     g3.p, g4.p, gs.p, gd.p),
       "cp_conv2d_bwd");
  });
  const double bytes = 4.0 * (3 * nx + 2 * ny);  // fwd: X, Y; bwd: X, dY, dX
  std::vector<float> Y(ny), gX(nx), h1(g.F * r), h2(g.C * r), h3(g.kh * r), h4(g.kw * r), hs(r), hd(r);
  const double cpu = time_cpu([&] {
    debora_cp_conv2d_fwd_cpu(&g, r, X.data(), U1.data(), U2.data(), U3.data(), U4.data(), s.data(), Y.data(), 0);
    debora_cp_conv2d_bwd_cpu(&g, r, X.data(), U1.data(), U2.data(), U3.data(), U4.data(), s.data(), dY.data(), gX.data(),
                             0, h1.data(), h2.data(), h3.data(), h4.data(), hs.data(), hd.data());
  });
  char id[128], shape[400];
  std::snprintf(id, sizeof id, "cp_conv2d_fwd_bwd %lldx%lldx%lldx%lld F=%lld %lldx%lld r=%lld", (long long)g.batch,
                (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.F, (long long)g.kh, (long long)g.kw,
                (long long)r);
  std::snprintf(shape, sizeof shape,
                "{\"batch\": %lld, \"C\": %lld, \"H\": %lld, \"W\": %lld, \"F\": %lld, \"kh\": %lld, \"kw\": %lld, "
                "\"stride\": %lld, \"pad\": %lld, \"dil\": %lld, \"r\": %lld}",
                (long long)g.batch, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.F, (long long)g.kh,
                (long long)g.kw, (long long)g.stride_h, (long long)g.pad_h, (long long)g.dil_h, (long long)r);
  record(id, "cp_conv2d_fwd_bwd", shape, gpu, bytes, cpu);
}

void dense(const std::vector<int64_t>& dims, int64_t r) {
  const int d = static_cast<int>(dims.size());
  int64_t N = 1;
  for (int64_t n : dims) N *= n;
  std::vector<std::vector<float>> F;
  std::vector<std::unique_ptr<Dev>> dF, dgrads;
  std::vector<const float*> fp, dfp;
  std::vector<float*> gp, dgp;
  std::vector<std::vector<float>> grads;
  for (int k = 0; k < d; ++k) {
    F.push_back(uniform(dims[k] * r, 10 + k, -1, 1));
    grads.emplace_back(dims[k] * r);
    dF.emplace_back(new Dev(F.back()));
    dgrads.emplace_back(new Dev({}, dims[k] * r));
  }
  for (int k = 0; k < d; ++k) fp.push_back(F[k].data()), dfp.push_back(dF[k]->p), gp.push_back(grads[k].data()), dgp.push_back(dgrads[k]->p);
  auto s = uniform(r, 20, 0.1f, 1), G = uniform(N, 21, -1, 1);
  Dev dsv(s), dG(G), dout({}, N), dds({}, r), ddots({}, r);
  std::vector<float> out(N), hs(r), hd(r);
  std::string dims_s, dims_j;
  for (int64_t n : dims) dims_s += (dims_s.empty() ? "" : "x") + std::to_string(n), dims_j += (dims_j.empty() ? "" : ", ") + std::to_string(n);
  const std::string shape = "{\"dims\": [" + dims_j + "], \"r\": " + std::to_string(r) + "}";
  const double gm = time_gpu([&] { ok(debora_cp_materialize_cuda_dev(g_ctx, d, dims.data(), r, dfp.data(), dsv.p, dout.p), "cp_materialize"); });
  const double cm = time_cpu([&] { debora_cp_materialize_cpu(d, dims.data(), r, fp.data(), s.data(), out.data()); });
  record("cp_materialize " + dims_s + " r=" + std::to_string(r), "cp_materialize", shape, gm, 4.0 * N, cm);
  const double gk = time_gpu([&] {
    ok(debora_cp_mttkrp_cuda_dev(g_ctx, d, dims.data(), r, dfp.data(), dsv.p, dG.p, dgp.data(), dds.p, ddots.p), "cp_mttkrp");
  });
  const double ck = time_cpu([&] { debora_cp_mttkrp_cpu(d, dims.data(), r, fp.data(), s.data(), G.data(), gp.data(), hs.data(), hd.data()); });
  record("cp_mttkrp " + dims_s + " r=" + std::to_string(r), "cp_mttkrp", shape, gk, 4.0 * N, ck);
}

void tangent(int64_t n, int64_t r) {
  auto U = uniform(n * r, 1, -1, 1), G = uniform(n * r, 2, -1, 1);
  Dev dU(U), dG(G), dout({}, n * r), ddots(std::vector<float>(r, 0.0f));
  std::vector<float> out(n * r), dots(r, 0.0f);
  const double g = time_gpu([&] { ok(debora_cp_tangent_cuda_dev(g_ctx, DEBORA_GEOM_STIEFEL, n, r, dU.p, dG.p, dout.p, ddots.p), "cp_tangent"); });
  const double c = time_cpu([&] { debora_cp_tangent_cpu(DEBORA_GEOM_STIEFEL, n, r, U.data(), G.data(), out.data(), dots.data()); });
  const std::string shape = "{\"geometry\": \"stiefel\", \"n\": " + std::to_string(n) + ", \"r\": " + std::to_string(r) + "}";
  record("cp_tangent stiefel n=" + std::to_string(n) + " r=" + std::to_string(r), "cp_tangent", shape, g, 4.0 * 5 * n * r, c);
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
    else if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--no-cpu") == 0) g_cpu = false;
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick] [--no-cpu]\n", argv[0]);
      return 2;
    }
  }
  int count = 0;
  if (debora_cuda_device_count(&count) != DEBORA_OK) {
    std::printf("SKIP gpu timing: %s\n", debora_last_error());
    return 77;
  }
  debora_cuda_device dev;
  ok(debora_cuda_device_info(0, &dev), "debora_cuda_device_info");
  std::printf("device 0: %s, cc %d.%d, %d SMs; CPU: %d threads\n", dev.name, dev.cc_major, dev.cc_minor,
              dev.multiprocessors, debora_num_threads());
  ok(debora_cuda_context_create(0, &g_ctx), "debora_cuda_context_create");
  void* st = nullptr;
  ok(debora_cuda_context_stream(g_ctx, &st), "debora_cuda_context_stream");
  g_stream = static_cast<cudaStream_t>(st);
  bandwidth();
  /* The targets: matrix adapter N = 65536, n = 4096, r in {8, 32}; conv adapter fwd + bwd. */
  linear(65536, 4096, 8);
  linear(65536, 4096, 32);
  if (!g_quick) linear(8192, 768, 16);
  conv({32, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1}, 8);
  if (!g_quick) conv({32, 128, 56, 56, 128, 3, 3, 1, 1, 1, 1, 1, 1}, 16);
  dense({512, 512, 3, 3}, 16);
  if (!g_quick) dense({4096, 4096}, 32);
  tangent(4096, 32);
  ok(debora_cuda_context_destroy(g_ctx), "debora_cuda_context_destroy");
  if (json) {
    FILE* f = std::fopen(json, "w");
    if (!f) {
      std::fprintf(stderr, "timing: cannot write %s\n", json);
      return 1;
    }
    std::fprintf(f, "{\"device\": \"%s\", \"bandwidth_gbs\": %.1f, \"cpu_threads\": %d, \"cases\": [\n", dev.name, g_bw,
                 debora_num_threads());
    for (size_t i = 0; i < g_cases.size(); ++i) {
      const Case& c = g_cases[i];
      std::fprintf(f, "  {\"id\": \"%s\", \"op\": \"%s\", \"shape\": %s, \"median_ms\": %.5f, \"floor_ms\": %.5f, \"cpu_ms\": %s}%s\n",
                   c.id.c_str(), c.op.c_str(), c.shape_json.c_str(), c.gpu_ms, c.floor_ms,
                   c.cpu_ms < 0 ? "null" : std::to_string(c.cpu_ms).c_str(), i + 1 < g_cases.size() ? "," : "");
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}
