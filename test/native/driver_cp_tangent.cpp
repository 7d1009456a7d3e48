// driver_cp_tangent.cpp — C++ driver cases for op cp_tangent (see driver.cpp): euclidean, oblique and stiefel
// projections against a naive double reference at every SIMD level, tangency and idempotence on the manifold,
// out aliasing G, bitwise equality across thread counts, and bad inputs leaving outputs untouched.
// Tolerance: the kernel reduces in double and rounds each output once, so |out - ref| <= u |ref| plus double
// rounding far below it; we allow 2u (|G| + |U| |S|) with S the reference's (abs) correction, u = 2^-24.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "debora/debora.h"
#include "driver_common.h"

using driver::report;

namespace {

constexpr double kU = 1.0 / 16777216.0;

struct Ref {
  std::vector<double> out, scale, dots;  // scale: |G| + |U| |correction|, the error scale of out
};

// out = G - U C with C = diag(<U_i, G_i>) (oblique) or sym(U^T G) (stiefel); abs: the same on |U|, |G|.
Ref reference(debora_geometry geom, int64_t n, int64_t r, const std::vector<float>& U, const std::vector<float>& G) {
  Ref ref;
  ref.out.assign(static_cast<size_t>(n * r), 0.0);
  ref.scale.assign(static_cast<size_t>(n * r), 0.0);
  ref.dots.assign(static_cast<size_t>(r), 0.0);
  std::vector<double> C(static_cast<size_t>(r * r), 0.0), Cabs(static_cast<size_t>(r * r), 0.0);
  if (geom != DEBORA_GEOM_EUCLIDEAN) {
    for (int64_t a = 0; a < r; ++a)
      for (int64_t b = 0; b < r; ++b) {
        if (geom == DEBORA_GEOM_OBLIQUE && a != b) continue;
        double m = 0, mt = 0, ma = 0;
        for (int64_t j = 0; j < n; ++j) {
          m += static_cast<double>(U[j * r + a]) * G[j * r + b];
          mt += static_cast<double>(U[j * r + b]) * G[j * r + a];
          ma += std::fabs(static_cast<double>(U[j * r + a])) * std::fabs(static_cast<double>(G[j * r + b])) +
                std::fabs(static_cast<double>(U[j * r + b])) * std::fabs(static_cast<double>(G[j * r + a]));
        }
        C[a * r + b] = 0.5 * (m + mt);
        Cabs[a * r + b] = 0.5 * ma;
      }
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t b = 0; b < r; ++b) {
      double o = G[j * r + b], sc = std::fabs(static_cast<double>(G[j * r + b]));
      for (int64_t a = 0; a < r; ++a) {
        o -= static_cast<double>(U[j * r + a]) * C[a * r + b];
        sc += std::fabs(static_cast<double>(U[j * r + a])) * Cabs[a * r + b];
      }
      ref.out[j * r + b] = o;
      ref.scale[j * r + b] = sc;
      ref.dots[b] += static_cast<double>(U[j * r + b]) * o;
    }
  return ref;
}

// Columns scaled to unit norm (oblique) or orthonormalised by modified Gram-Schmidt (stiefel), in double.
std::vector<float> on_manifold(debora_geometry geom, int64_t n, int64_t r, std::vector<float> U) {
  if (geom == DEBORA_GEOM_EUCLIDEAN) return U;
  std::vector<double> Q(U.begin(), U.end());
  for (int64_t i = 0; i < r; ++i) {
    if (geom == DEBORA_GEOM_STIEFEL)
      for (int64_t a = 0; a < i; ++a) {
        double dot = 0;
        for (int64_t j = 0; j < n; ++j) dot += Q[j * r + a] * Q[j * r + i];
        for (int64_t j = 0; j < n; ++j) Q[j * r + i] -= dot * Q[j * r + a];
      }
    double nrm = 0;
    for (int64_t j = 0; j < n; ++j) nrm += Q[j * r + i] * Q[j * r + i];
    nrm = std::sqrt(nrm);
    for (int64_t j = 0; j < n; ++j) Q[j * r + i] /= nrm;
  }
  return std::vector<float>(Q.begin(), Q.end());
}

const char* geom_name(debora_geometry g) {
  return g == DEBORA_GEOM_EUCLIDEAN ? "euclidean" : g == DEBORA_GEOM_OBLIQUE ? "oblique" : "stiefel";
}

void case_reference_and_properties() {
  const debora_simd best = debora_simd_supported();
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},   {7, 3},    {17, 8}, {5, 5},
                                                           {64, 17}, {300, 32}, {9, 1}};
  uint32_t seed = 40;
  for (debora_geometry geom : {DEBORA_GEOM_EUCLIDEAN, DEBORA_GEOM_OBLIQUE, DEBORA_GEOM_STIEFEL})
    for (auto [n, r] : shapes) {
      std::vector<float> U = on_manifold(geom, n, r, driver::uniform(static_cast<size_t>(n * r), seed++, -1.f, 1.f));
      std::vector<float> G = driver::uniform(static_cast<size_t>(n * r), seed++, -2.f, 2.f);
      std::vector<float> d0 = driver::uniform(static_cast<size_t>(r), seed++, -1.f, 1.f);
      const Ref ref = reference(geom, n, r, U, G);
      const std::string name = std::string("cp_tangent ") + geom_name(geom) + " n=" + std::to_string(n) +
                               " r=" + std::to_string(r);
      for (int level = DEBORA_SIMD_SCALAR; level <= static_cast<int>(best); ++level) {
        debora_set_simd(static_cast<debora_simd>(level));
        std::vector<float> out(G.size(), NAN), dots = d0;
        debora_status st = debora_cp_tangent_cpu(geom, n, r, U.data(), G.data(), out.data(), dots.data());
        double worst = 0;
        for (size_t j = 0; j < out.size(); ++j) {
          const double e = std::fabs(out[j] - ref.out[j]) / (2 * kU * ref.scale[j] + 1e-30);
          if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
        }
        for (int64_t i = 0; i < r; ++i) {
          double su = 0;
          for (int64_t j = 0; j < n; ++j) su += std::fabs(static_cast<double>(U[j * r + i])) * ref.scale[j * r + i];
          const double want = d0[i] + ref.dots[i];
          const double e = std::fabs(dots[i] - want) / (kU * (std::fabs(want) + 2 * su) + 1e-30);
          if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
        }
        report(name + " simd=" + debora_simd_name(static_cast<debora_simd>(level)), st == DEBORA_OK && worst <= 1,
               "worst err/bound=" + std::to_string(worst));
      }
      debora_set_simd(best);

      std::vector<float> out(G.size(), NAN), again(G.size(), NAN), alias = G;
      debora_status st = debora_cp_tangent_cpu(geom, n, r, U.data(), G.data(), out.data(), nullptr);
      st = st ? st : debora_cp_tangent_cpu(geom, n, r, U.data(), out.data(), again.data(), nullptr);
      st = st ? st : debora_cp_tangent_cpu(geom, n, r, U.data(), alias.data(), alias.data(), nullptr);
      // Idempotent: P(P(G)) = P(G) up to the rounding of one more projection of a tangent vector.
      double idem = 0, tang = 0, gmax = 0;
      for (size_t j = 0; j < out.size(); ++j) {
        idem = std::max(idem, std::fabs(static_cast<double>(again[j]) - out[j]));
        gmax = std::max(gmax, std::fabs(static_cast<double>(G[j])));
      }
      // Tangent: U^T out + out^T U = 0 (stiefel; its diagonal for oblique), up to float rounding of U and out.
      if (geom != DEBORA_GEOM_EUCLIDEAN)
        for (int64_t a = 0; a < r; ++a)
          for (int64_t b = 0; b < r; ++b) {
            if (geom == DEBORA_GEOM_OBLIQUE && a != b) continue;
            double m = 0;
            for (int64_t j = 0; j < n; ++j)
              m += static_cast<double>(U[j * r + a]) * out[j * r + b] +
                   static_cast<double>(out[j * r + a]) * U[j * r + b];
            tang = std::max(tang, std::fabs(m));
          }
      const double tol = 8 * kU * static_cast<double>(n + r) * gmax;
      report(name + " idempotent, tangent, aliasing",
             st == DEBORA_OK && idem <= tol && tang <= tol &&
                 std::memcmp(alias.data(), out.data(), out.size() * 4) == 0,
             "idem=" + std::to_string(idem) + " tangency=" + std::to_string(tang) + " tol=" + std::to_string(tol));
      if (geom == DEBORA_GEOM_EUCLIDEAN)
        report(name + " is a copy", std::memcmp(out.data(), G.data(), G.size() * 4) == 0);
    }
}

// Chunk boundaries depend on the shape only: bitwise the same result with 1, 2 or 3 threads.
void case_threads() {
  // Row chunks hold at least 2^18 multiply-adds: oblique costs n r, stiefel n r^2 per pass.
  const int64_t r = 32;
  for (auto [geom, n] : {std::pair<debora_geometry, int64_t>{DEBORA_GEOM_OBLIQUE, 20011},
                         std::pair<debora_geometry, int64_t>{DEBORA_GEOM_STIEFEL, 4099}}) {
    std::vector<float> U = on_manifold(geom, n, r, driver::uniform(static_cast<size_t>(n * r), 7, -1, 1));
    std::vector<float> G = driver::uniform(static_cast<size_t>(n * r), 8, -1, 1);
    std::vector<float> first, first_dots;
    bool same = true, ok = true;
    for (int threads : {1, 2, 3}) {
      debora_set_num_threads(threads);
      std::vector<float> out(G.size(), NAN), dots(static_cast<size_t>(r), 0.5f);
      ok = ok && debora_cp_tangent_cpu(geom, n, r, U.data(), G.data(), out.data(), dots.data()) == DEBORA_OK;
      if (first.empty()) {
        first = out;
        first_dots = dots;
      } else {
        same = same && first == out && first_dots == dots;
      }
    }
    const Ref ref = reference(geom, n, r, U, G);
    double worst = 0;
    for (size_t j = 0; j < first.size(); ++j)
      worst = std::max(worst, std::fabs(first[j] - ref.out[j]) / (2 * kU * ref.scale[j] + 1e-30));
    report(std::string("cp_tangent ") + geom_name(geom) + " n=" + std::to_string(n) +
               " r=32 threads 1/2/3 bitwise equal",
           ok && same && worst <= 1, "worst err/bound=" + std::to_string(worst));
  }
  debora_set_num_threads(debora_hardware_threads());
}

void case_errors() {
  const int64_t n = 6, r = 4;
  std::vector<float> U = on_manifold(DEBORA_GEOM_STIEFEL, n, r, driver::uniform(24, 3, -1, 1));
  std::vector<float> G = driver::uniform(24, 4, -1, 1);
  const float S = -777.f;
  auto names = [](const char* what) { return std::strstr(debora_last_error(), what) != nullptr; };
  auto run = [&](const std::string& name, debora_geometry geom, int64_t nn, int64_t rr, const float* u, const float* g,
                 debora_status want, const char* arg) {
    std::vector<float> out(64, S), dots(8, S);
    debora_status st = debora_cp_tangent_cpu(geom, nn, rr, u, g, out.data(), dots.data());
    const bool untouched = std::all_of(out.begin(), out.end(), [&](float x) { return x == S; }) &&
                           std::all_of(dots.begin(), dots.end(), [&](float x) { return x == S; });
    report("cp_tangent rejects " + name, st == want && names(arg) && untouched, debora_last_error());
  };
  // (3 is the largest value the enum's range holds; casting anything else is undefined, so the TypeScript tests
  // send -1 and 7 through the binding instead.)
  run("geometry=3", static_cast<debora_geometry>(3), n, r, U.data(), G.data(), DEBORA_INVALID_ARG, "'geometry'");
  run("stiefel with n < r", DEBORA_GEOM_STIEFEL, 3, 8, U.data(), G.data(), DEBORA_INVALID_ARG, "oblique");
  run("n=0", DEBORA_GEOM_OBLIQUE, 0, r, U.data(), G.data(), DEBORA_INVALID_ARG, "'n'");
  run("r=0", DEBORA_GEOM_OBLIQUE, n, 0, U.data(), G.data(), DEBORA_INVALID_ARG, "'r'");
  run("null U", DEBORA_GEOM_OBLIQUE, n, r, nullptr, G.data(), DEBORA_INVALID_ARG, "'U'");
  run("null G", DEBORA_GEOM_STIEFEL, n, r, U.data(), nullptr, DEBORA_INVALID_ARG, "'G'");
  std::vector<float> Gbad = G;
  Gbad[5] = NAN;
  run("NaN G", DEBORA_GEOM_STIEFEL, n, r, U.data(), Gbad.data(), DEBORA_NON_FINITE, "'G'");
  std::vector<float> Ubad = U;
  Ubad[0] = -INFINITY;
  run("Inf U", DEBORA_GEOM_OBLIQUE, n, r, Ubad.data(), G.data(), DEBORA_NON_FINITE, "'U'");
  {
    std::vector<float> out(24, S);
    debora_status st = debora_cp_tangent_cpu(DEBORA_GEOM_OBLIQUE, n, r, U.data(), G.data(), nullptr, nullptr);
    report("cp_tangent rejects null out", st == DEBORA_INVALID_ARG && names("'out'"), debora_last_error());
    std::vector<float> buf(40, S);
    std::copy(U.begin(), U.end(), buf.begin());
    st = debora_cp_tangent_cpu(DEBORA_GEOM_OBLIQUE, n, r, buf.data(), G.data(), buf.data() + 8, nullptr);
    report("cp_tangent rejects out overlapping U",
           st == DEBORA_INVALID_ARG && names("'out'") && std::equal(U.begin(), U.end(), buf.begin()) && buf[30] == S,
           debora_last_error());
    std::copy(G.begin(), G.end(), buf.begin());
    st = debora_cp_tangent_cpu(DEBORA_GEOM_STIEFEL, n, r, U.data(), buf.data(), buf.data() + 3, nullptr);
    report("cp_tangent rejects out partly overlapping G",
           st == DEBORA_INVALID_ARG && names("'out'") && std::equal(G.begin(), G.end(), buf.begin()) && buf[30] == S,
           debora_last_error());
    std::vector<float> o(24, S);
    st = debora_cp_tangent_cpu(DEBORA_GEOM_OBLIQUE, n, r, U.data(), G.data(), o.data(), o.data() + 20);
    report("cp_tangent rejects dots overlapping out", st == DEBORA_INVALID_ARG && names("'dots'") && o[0] == S,
           debora_last_error());
  }
}

}  // namespace

void driver_cp_tangent() {
  case_reference_and_properties();
  case_threads();
  case_errors();
}
