/* cp_conv2d.cu — CUDA twin of native/cpu/cp_conv2d.cpp (op cp_conv2d, ALGORITHM.md section 1, d = 4): the
 * CP adapter of a conv kernel applied to an NCHW batch as the chain 1x1 (U2^T) -> kh x 1 (U3) -> 1 x kw
 * (U4) -> *s -> 1x1 (U1), never forming dK. Per rank tile (pass.cuh), every large tensor crosses
 * memory once: forward reads X in a Q pass (Z1 = U2^T X, per image a C x HW matrix) and writes Y in an
 * O pass (Y = (U1 s) Z3); backward reads dY once in a P+Q pass (dU1 partials and T = U1^T dY) and X
 * once in a P+O pass (dU2 partials and dX = U2 G1). The depthwise stages (Z2, Z3 and their transposes
 * G2, G1) and the small gradients dU3, dU4, ds work on r-channel tensors, by plain kernels with the
 * geometry formulas of debora/math.h and the CPU's order of summation. Deterministic on one device.
 * Host-pointer entries validate exactly like the CPU twin, then copy in, run and copy out.
 * Tested against the CPU twin in test/gpu/parity.cpp. */
#include <climits>
#include <initializer_list>

#include "common.cuh"
#include "debora/math.h"

namespace debora {
namespace cuda {
namespace {

struct Geom {
  int64_t B, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, HW, P;  // P = Ho * Wo
  int64_t r;
};

/* The CPU twin's check_geometry (cpu/cp_conv2d.cpp): the same shared checks (cpu/internal.h), in the
 * same order, with the same messages. */
debora_status check_geometry(const char* op, const debora_conv2d_geom* g, int64_t r, Geom* out) {
  DEBORA_TRY(check_conv2d_geom(op, g, {{"r", r, 1}}));
  Geom c;
  c.B = g->batch, c.C = g->C, c.H = g->H, c.W = g->W, c.F = g->F, c.kh = g->kh, c.kw = g->kw;
  c.sh = g->stride_h, c.sw = g->stride_w, c.ph = g->pad_h, c.pw = g->pad_w, c.dh = g->dil_h, c.dw = g->dil_w;
  c.r = r;
  c.Ho = conv_out_size(c.H, c.kh, c.sh, c.ph, c.dh);
  c.Wo = conv_out_size(c.W, c.kw, c.sw, c.pw, c.dw);
  c.HW = c.H * c.W;
  c.P = c.Ho * c.Wo;
  if (!sizes_fit({c.B, c.C, c.H, c.W}) || !sizes_fit({c.B, c.F, c.Ho, c.Wo}) ||
      !sizes_fit({c.r, c.W + 2 * c.pw, 2 * c.H + 4 * c.Ho}) || !sizes_fit({c.r, c.F + c.C + c.kh + c.kw + 1, 32}))
    return fail_conv2d_overflow(op, g);
  /* CUDA launch limits (one block row per tap of the small gradients). */
  if (c.kh + c.kw + 1 > 65535)
    return fail(DEBORA_INVALID_ARG, "%s: expected kh + kw <= 65534 on the CUDA backend for argument 'geom', received "
                "kh=%lld, kw=%lld", op, static_cast<long long>(c.kh), static_cast<long long>(c.kw));
  if (r > kMaxCudaRank)
    return fail(DEBORA_INVALID_ARG, "%s: expected an integer <= %lld for argument 'r', received %lld", op,
                static_cast<long long>(kMaxCudaRank), static_cast<long long>(r));
  *out = c;
  return DEBORA_OK;
}

/* ---- small kernels on r-channel tensors (layout [B][RT][rows][cols], one rank tile) ------------------ */

/* out[row * RT + i] = src[row * r + i] (* s[i]) for i < nr, 0 beyond: a padded tile of a factor. */
__global__ void __launch_bounds__(kThreads) pad_tile_kernel(int64_t rows, int64_t r, int nr, int RT, const float* src,
                                                            const float* s, float* out) {
  const int64_t total = rows * RT;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = e / RT;
    const int i = static_cast<int>(e % RT);
    out[e] = i < nr ? (s != nullptr ? src[row * r + i] * s[i] : src[row * r + i]) : 0.0f;
  }
}

struct Mid {
  Geom g;
  int RT = 0, nr = 0;
  const float* U3 = nullptr;  // offset to the tile's first rank (row stride r)
  const float* U4 = nullptr;
  const float* s = nullptr;   // offset likewise
};

/* Z2[b,i,oh,w] = sum_a U3[a,i] Z1[b,i,ih(oh,a),w] over the rows inside the image (the kh x 1 stage). */
__global__ void __launch_bounds__(kThreads) z2_kernel(const Mid m, const float* Z1, float* Z2) {
  const Geom& g = m.g;
  const int64_t total = g.B * m.nr * g.Ho * g.W;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, oh = (e / g.W) % g.Ho, i = (e / (g.W * g.Ho)) % m.nr, b = e / (g.W * g.Ho * m.nr);
    const float* z1 = Z1 + (b * m.RT + i) * g.HW;
    float v = 0.0f;
    for (int64_t a = 0; a < g.kh; ++a) {
      const int64_t ih = conv_in_coord(oh, a, g.sh, g.ph, g.dh);
      if (ih >= 0 && ih < g.H) v = fmaf(m.U3[a * g.r + i], z1[ih * g.W + w], v);
    }
    Z2[((b * m.RT + i) * g.Ho + oh) * g.W + w] = v;
  }
}

/* Z3[b,i,oh,ow] = sum_b' U4[b',i] Z2[b,i,oh,iw(ow,b')] over the columns inside the image (1 x kw stage). */
__global__ void __launch_bounds__(kThreads) z3_kernel(const Mid m, const float* Z2, float* Z3) {
  const Geom& g = m.g;
  const int64_t total = g.B * m.nr * g.P;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.Wo, oh = (e / g.Wo) % g.Ho, i = (e / g.P) % m.nr, b = e / (g.P * m.nr);
    const float* z2 = Z2 + ((b * m.RT + i) * g.Ho + oh) * g.W;
    float v = 0.0f;
    for (int64_t k = 0; k < g.kw; ++k) {
      const int64_t iw = conv_in_coord(ow, k, g.sw, g.pw, g.dw);
      if (iw >= 0 && iw < g.W) v = fmaf(m.U4[k * g.r + i], z2[iw], v);
    }
    Z3[(b * m.RT + i) * g.P + oh * g.Wo + ow] = v;
  }
}

/* G2[b,i,oh,w] = sum over the taps b' whose output column ow reads w of U4[b',i] * (s_i T[b,i,oh,ow])
 * (the transpose of the 1 x kw stage; G3 = s T rounded first, as on the CPU). */
__global__ void __launch_bounds__(kThreads) g2_kernel(const Mid m, const float* T, float* G2) {
  const Geom& g = m.g;
  const int64_t total = g.B * m.nr * g.Ho * g.W;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, oh = (e / g.W) % g.Ho, i = (e / (g.W * g.Ho)) % m.nr, b = e / (g.W * g.Ho * m.nr);
    const float* t = T + (b * m.RT + i) * g.P + oh * g.Wo;
    const float si = m.s[i];
    float v = 0.0f;
    for (int64_t k = 0; k < g.kw; ++k) {
      const int64_t num = w + g.pw - k * g.dw;  // = ow * sw for the output column that reads w through tap k
      if (num < 0 || num % g.sw != 0) continue;
      const int64_t ow = num / g.sw;
      if (ow < g.Wo) v = fmaf(m.U4[k * g.r + i], t[ow] * si, v);
    }
    G2[((b * m.RT + i) * g.Ho + oh) * g.W + w] = v;
  }
}

/* G1[b,i,h,w] = sum over the taps a whose output row oh reads h of U3[a,i] G2[b,i,oh,w] (in increasing oh,
 * the CPU's order). */
__global__ void __launch_bounds__(kThreads) g1_kernel(const Mid m, const float* G2, float* G1) {
  const Geom& g = m.g;
  const int64_t total = g.B * m.nr * g.HW;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, h = (e / g.W) % g.H, i = (e / g.HW) % m.nr, b = e / (g.HW * m.nr);
    const float* g2 = G2 + (b * m.RT + i) * g.Ho * g.W;
    float v = 0.0f;
    for (int64_t a = g.kh - 1; a >= 0; --a) {
      const int64_t num = h + g.ph - a * g.dh;
      if (num < 0 || num % g.sh != 0) continue;
      const int64_t oh = num / g.sh;
      if (oh < g.Ho) v = fmaf(m.U3[a * g.r + i], g2[oh * g.W + w], v);
    }
    G1[(b * m.RT + i) * g.HW + h * g.W + w] = v;
  }
}

/* The small gradients of one rank tile, one block per (chunk of image rows, tap, rank):
 *   tap 0: ds_i = sum Z3 T;  tap 1 + b': dU4[b',i] = sum (s_i T) Z2 (shifted);  tap 1 + kw + a: dU3[a,i] = sum G2 Z1
 * parts[(chunk * taps + tap) * RT + i], in double. */
__global__ void __launch_bounds__(kThreads) taps_kernel(const Mid m, const float* Z1, const float* Z2, const float* Z3,
                                                        const float* T, const float* G2, int64_t rows_per_chunk,
                                                        double* parts) {
  __shared__ double sh[kThreads];
  const Geom& g = m.g;
  const int64_t chunk = blockIdx.x, tap = blockIdx.y, i = blockIdx.z;
  const int64_t taps = 1 + g.kw + g.kh;
  const int64_t row0 = chunk * rows_per_chunk, row1 = min64(g.B * g.Ho, row0 + rows_per_chunk);  // rows = (b, oh)
  const float si = m.s[i];
  double acc = 0.0;
  if (tap <= g.kw) {
    for (int64_t e = row0 * g.Wo + threadIdx.x; e < row1 * g.Wo; e += blockDim.x) {
      const int64_t ow = e % g.Wo, bo = e / g.Wo, oh = bo % g.Ho, b = bo / g.Ho;
      const float tv = T[(b * m.RT + i) * g.P + oh * g.Wo + ow];
      if (tap == 0) {
        acc += static_cast<double>(Z3[(b * m.RT + i) * g.P + oh * g.Wo + ow]) * tv;
      } else {
        const int64_t iw = conv_in_coord(ow, tap - 1, g.sw, g.pw, g.dw);
        if (iw >= 0 && iw < g.W) acc += static_cast<double>(tv * si) * Z2[((b * m.RT + i) * g.Ho + oh) * g.W + iw];
      }
    }
  } else {
    const int64_t a = tap - 1 - g.kw;
    for (int64_t e = row0 * g.W + threadIdx.x; e < row1 * g.W; e += blockDim.x) {
      const int64_t w = e % g.W, bo = e / g.W, oh = bo % g.Ho, b = bo / g.Ho;
      const int64_t ih = conv_in_coord(oh, a, g.sh, g.ph, g.dh);
      if (ih >= 0 && ih < g.H)
        acc += static_cast<double>(G2[((b * m.RT + i) * g.Ho + oh) * g.W + w]) * Z1[(b * m.RT + i) * g.HW + ih * g.W + w];
    }
  }
  acc = block_sum(acc, sh);
  if (threadIdx.x == 0) parts[(chunk * taps + tap) * m.RT + i] = acc;
}

/* Sums the tap parts over chunks into ds, dU3, dU4 (offset to the tile's first rank, row stride r). */
__global__ void __launch_bounds__(kThreads) taps_finish_kernel(const Mid m, int64_t nch, const double* parts, float* ds,
                                                               float* dU3, float* dU4) {
  const Geom& g = m.g;
  const int64_t taps = 1 + g.kw + g.kh, total = taps * m.nr;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t tap = e / m.nr, i = e % m.nr;
    double v = 0.0;
    for (int64_t c = 0; c < nch; ++c) v += parts[(c * taps + tap) * m.RT + i];
    if (tap == 0) ds[i] = static_cast<float>(v);
    else if (tap <= g.kw) dU4[(tap - 1) * g.r + i] = static_cast<float>(v);
    else dU3[(tap - 1 - g.kw) * g.r + i] = static_cast<float>(v);
  }
}

template <class K, class... Args>
debora_status launch_elems(const char* op, Ctx* c, K kernel, int64_t n, Args... args) {
  if (n == 0) return DEBORA_OK;
  DEBORA_LAUNCH(kernel, grid_for(n, kThreads), kThreads, 0, c->stream)(args...);
  DEBORA_CUDA_LAUNCHED(op);
  return DEBORA_OK;
}

/* ---- the passes ----------------------------------------------------------------------------------- */

/* Z1 = U2^T X per image: rows C, columns HW; Q (complete per chunk) at [b][i][p]. */
PassDesc z1_pass(const Geom& g, int nr, int RT, const float* X, const float* U2p, float* Q, int64_t q_part) {
  PassDesc d;
  d.rows = g.C, d.cols = g.HW, d.batch = g.B, d.nr = nr;
  d.A = X, d.lda = g.HW, d.a_b = g.C * g.HW;
  d.E = U2p, d.lde = RT;
  d.Q = Q, d.q_c = 1, d.q_i = g.HW, d.q_b = RT * g.HW, d.q_part = q_part;
  return d;
}

struct Work {
  float *U2p = nullptr, *U1p = nullptr, *U1s = nullptr, *Z1part = nullptr, *Z1 = nullptr, *Z2 = nullptr, *Z3 = nullptr;
  float *Tpart = nullptr, *T = nullptr, *G2 = nullptr, *G1 = nullptr, *P1 = nullptr, *P2 = nullptr;
  double* taps = nullptr;
};

/* Z1, Z2, Z3 of one rank tile into w (Z1 summed over row-chunk partials when the plan made several). */
debora_status chain(const char* op, Ctx* c, const Geom& g, const Mid& m, const float* X, const Work& w) {
  PassDesc zp = z1_pass(g, m.nr, m.RT, X, w.U2p, w.Z1, 0);
  const PassDesc plan = planned<false, true, false>(c, zp, m.RT, kAnyChunks);
  if (plan.n_rc > 1) {
    zp.Q = w.Z1part, zp.q_part = g.B * m.RT * g.HW;
    DEBORA_TRY((run_pass<false, true, false>(op, c, &zp, m.RT, kAnyChunks)));
    DEBORA_TRY(run_sum_flat(op, c, g.B * m.RT * g.HW, static_cast<int>(zp.n_rc), w.Z1part, zp.q_part, w.Z1));
  } else {
    DEBORA_TRY((run_pass<false, true, false>(op, c, &zp, m.RT, kAnyChunks)));
  }
  DEBORA_TRY(launch_elems(op, c, z2_kernel, g.B * m.nr * g.Ho * g.W, m, static_cast<const float*>(w.Z1), w.Z2));
  return launch_elems(op, c, z3_kernel, g.B * m.nr * g.P, m, static_cast<const float*>(w.Z2), w.Z3);
}

debora_status fwd(const char* op, Ctx* c, const Geom& g, const float* X, const float* U1, const float* U2,
                  const float* U3, const float* U4, const float* s, float* Y, bool acc) {
  const RankTiles tiles(g.r);
  size_t z1part = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t];
    const PassDesc p = planned<false, true, false>(c, z1_pass(g, RT, RT, X, nullptr, nullptr, 0), RT, kAnyChunks);
    if (p.n_rc > 1) z1part = std::max(z1part, static_cast<size_t>(p.n_rc * g.B * RT * g.HW));
  }
  Work w;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    w.U2p = a.take<float>(static_cast<size_t>(g.C) * kMaxRt);
    w.U1s = a.take<float>(static_cast<size_t>(g.F) * kMaxRt);
    w.Z1part = a.take<float>(z1part);
    w.Z1 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.HW));
    w.Z2 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.Ho * g.W));
    w.Z3 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.P));
  }));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, g.r - i0));
    Mid m;
    m.g = g, m.RT = RT, m.nr = nr, m.U3 = U3 + i0, m.U4 = U4 + i0, m.s = s + i0;
    DEBORA_TRY(launch_elems(op, c, pad_tile_kernel, g.C * RT, g.C, g.r, nr, RT, U2 + i0, static_cast<const float*>(nullptr), w.U2p));
    DEBORA_TRY(launch_elems(op, c, pad_tile_kernel, g.F * RT, g.F, g.r, nr, RT, U1 + i0, s + i0, w.U1s));
    DEBORA_TRY(chain(op, c, g, m, X, w));
    /* Y[b] (+)= (U1 s) Z3[b]: rows F, columns Ho*Wo. */
    PassDesc yo;
    yo.rows = g.F, yo.cols = g.P, yo.batch = g.B, yo.nr = nr;
    yo.E2 = w.U1s, yo.lde2 = RT;
    yo.Bo = w.Z3, yo.bo_c = 1, yo.bo_i = g.P, yo.bo_b = RT * g.P;
    yo.O = Y, yo.ldo = g.P, yo.o_b = g.F * g.P, yo.accumulate = acc || t > 0;
    DEBORA_TRY((run_pass<false, false, true>(op, c, &yo, RT, kAnyChunks)));
  }
  return DEBORA_OK;
}

debora_status bwd(const char* op, Ctx* c, const Geom& g, const float* X, const float* U1, const float* U2,
                  const float* U3, const float* U4, const float* s, const float* dY, float* dX, bool acc_dx, float* dU1,
                  float* dU2, float* dU3, float* dU4, float* ds, float* dots) {
  const RankTiles tiles(g.r);
  /* dY pass: rows F, columns Ho*Wo; P = dU1 / s partials [b * n_ct + ct][F][RT]; Q = T at [b][i][p]. */
  auto dy_pass = [&](int nr, int RT, const float* Z3, const float* U1p, float* P1, float* Q, int64_t q_part) {
    PassDesc d;
    d.rows = g.F, d.cols = g.P, d.batch = g.B, d.nr = nr;
    d.A = dY, d.lda = g.P, d.a_b = g.F * g.P;
    d.Bp = Z3, d.bp_c = 1, d.bp_i = g.P, d.bp_b = RT * g.P;
    d.E = U1p, d.lde = RT;
    d.P = P1, d.ldp = RT, d.p_part = g.F * RT;
    d.Q = Q, d.q_c = 1, d.q_i = g.P, d.q_b = RT * g.P, d.q_part = q_part;
    return d;
  };
  /* X pass: rows C, columns H*W; P = dU2 partials; O = dX[b] (+)= U2 G1[b]. */
  auto x_pass = [&](size_t t, int nr, int RT, const float* G1, const float* U2p, float* P2) {
    PassDesc d;
    d.rows = g.C, d.cols = g.HW, d.batch = g.B, d.nr = nr;
    d.A = X, d.lda = g.HW, d.a_b = g.C * g.HW;
    d.Bp = G1, d.bp_c = 1, d.bp_i = g.HW, d.bp_b = RT * g.HW;
    d.P = P2, d.ldp = RT, d.p_part = g.C * RT;
    if (dX != nullptr) {
      d.E2 = U2p, d.lde2 = RT;
      d.Bo = G1, d.bo_c = 1, d.bo_i = g.HW, d.bo_b = RT * g.HW;
      d.O = dX, d.ldo = g.HW, d.o_b = g.C * g.HW, d.accumulate = acc_dx || t > 0;
    }
    return d;
  };
  size_t z1part = 0, tpart = 0, p1 = 0, p2 = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t];
    const PassDesc pz = planned<false, true, false>(c, z1_pass(g, RT, RT, X, nullptr, nullptr, 0), RT, kAnyChunks);
    if (pz.n_rc > 1) z1part = std::max(z1part, static_cast<size_t>(pz.n_rc * g.B * RT * g.HW));
    const PassDesc py = planned<true, true, false>(c, dy_pass(RT, RT, nullptr, nullptr, nullptr, nullptr, 0), RT, kAnyChunks);
    if (py.n_rc > 1) tpart = std::max(tpart, static_cast<size_t>(py.n_rc * g.B * RT * g.P));
    p1 = std::max(p1, static_cast<size_t>(g.B * py.n_ct * g.F * RT));
    const PassDesc px = dX != nullptr ? planned<true, false, true>(c, x_pass(t, RT, RT, nullptr, nullptr, nullptr), RT, kAnyChunks)
                                      : planned<true, false, false>(c, x_pass(t, RT, RT, nullptr, nullptr, nullptr), RT, kAnyChunks);
    p2 = std::max(p2, static_cast<size_t>(g.B * px.n_ct * g.C * RT));
  }
  const int64_t taps = 1 + g.kw + g.kh, img_rows = g.B * g.Ho;
  /* Chunks of image rows for the tap sums: about four blocks per multiprocessor in all. */
  const int64_t want = std::max<int64_t>(1, 4 * int64_t{c->sms} / std::max<int64_t>(1, taps * std::min<int64_t>(g.r, kMaxRt)));
  const int64_t rows_per_chunk = std::max<int64_t>(1, (img_rows + want - 1) / want);
  const int64_t nch = (img_rows + rows_per_chunk - 1) / rows_per_chunk;
  if (nch > 0x7fffffff) return fail(DEBORA_INVALID_ARG, "%s: too many image rows for one launch", op);
  Work w;
  DEBORA_TRY(with_workspace(op, c, [&](Arena& a) {
    w.U2p = a.take<float>(static_cast<size_t>(g.C) * kMaxRt);
    w.U1p = a.take<float>(static_cast<size_t>(g.F) * kMaxRt);
    w.Z1part = a.take<float>(z1part);
    w.Z1 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.HW));
    w.Z2 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.Ho * g.W));
    w.Z3 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.P));
    w.Tpart = a.take<float>(tpart);
    w.T = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.P));
    w.G2 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.Ho * g.W));
    w.G1 = a.take<float>(static_cast<size_t>(g.B * kMaxRt * g.HW));
    w.P1 = a.take<float>(p1);
    w.P2 = a.take<float>(p2);
    w.taps = a.take<double>(static_cast<size_t>(nch * taps * kMaxRt));
  }));
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int RT = tiles.rt[t], i0 = tiles.i0[t], nr = static_cast<int>(std::min<int64_t>(RT, g.r - i0));
    Mid m;
    m.g = g, m.RT = RT, m.nr = nr, m.U3 = U3 + i0, m.U4 = U4 + i0, m.s = s + i0;
    DEBORA_TRY(launch_elems(op, c, pad_tile_kernel, g.C * RT, g.C, g.r, nr, RT, U2 + i0, static_cast<const float*>(nullptr), w.U2p));
    DEBORA_TRY(launch_elems(op, c, pad_tile_kernel, g.F * RT, g.F, g.r, nr, RT, U1 + i0, static_cast<const float*>(nullptr), w.U1p));
    DEBORA_TRY(chain(op, c, g, m, X, w));
    /* One read of dY: dU1 / s partials and T = U1^T dY. */
    PassDesc yp = dy_pass(nr, RT, w.Z3, w.U1p, w.P1, w.T, 0);
    const PassDesc yplan = planned<true, true, false>(c, yp, RT, kAnyChunks);
    if (yplan.n_rc > 1) yp.Q = w.Tpart, yp.q_part = g.B * RT * g.P;
    DEBORA_TRY((run_pass<true, true, false>(op, c, &yp, RT, kAnyChunks)));
    if (yp.n_rc > 1) DEBORA_TRY(run_sum_flat(op, c, g.B * RT * g.P, static_cast<int>(yp.n_rc), w.Tpart, yp.q_part, w.T));
    /* Back through the depthwise stages, and the small gradients. */
    DEBORA_TRY(launch_elems(op, c, g2_kernel, g.B * nr * g.Ho * g.W, m, static_cast<const float*>(w.T), w.G2));
    DEBORA_TRY(launch_elems(op, c, g1_kernel, g.B * nr * g.HW, m, static_cast<const float*>(w.G2), w.G1));
    DEBORA_LAUNCH(taps_kernel, dim3(static_cast<unsigned>(nch), static_cast<unsigned>(taps), static_cast<unsigned>(nr)), kThreads, 0, c->stream)(m, w.Z1, w.Z2, w.Z3, w.T, w.G2, rows_per_chunk, w.taps);
    DEBORA_CUDA_LAUNCHED(op);
    DEBORA_TRY(launch_elems(op, c, taps_finish_kernel, taps * nr, m, nch, static_cast<const double*>(w.taps), ds + i0,
                            dU3 + i0, dU4 + i0));
    /* One read of X: dU2 partials, and dX written in the same pass. */
    PassDesc xp = x_pass(t, nr, RT, w.G1, w.U2p, w.P2);
    if (dX != nullptr) DEBORA_TRY((run_pass<true, false, true>(op, c, &xp, RT, kAnyChunks)));
    else DEBORA_TRY((run_pass<true, false, false>(op, c, &xp, RT, kAnyChunks)));
    SumRows s1;
    s1.rows = g.F, s1.nr = nr, s1.nparts = static_cast<int>(g.B * yp.n_ct), s1.parts = w.P1, s1.part_stride = g.F * RT;
    s1.ldp = RT, s1.out = dU1 + i0, s1.ldo = g.r, s1.scale = s + i0;
    DEBORA_TRY(run_sum_rows(op, c, s1));
    SumRows s2;
    s2.rows = g.C, s2.nr = nr, s2.nparts = static_cast<int>(g.B * xp.n_ct), s2.parts = w.P2, s2.part_stride = g.C * RT;
    s2.ldp = RT, s2.out = dU2 + i0, s2.ldo = g.r;
    DEBORA_TRY(run_sum_rows(op, c, s2));
  }
  if (dots == nullptr) return DEBORA_OK;
  DsDots dd;
  dd.r = g.r, dd.dots = dots, dd.npairs = 4;
  dd.U[0] = U1, dd.dU[0] = dU1, dd.rows[0] = g.F;
  dd.U[1] = U2, dd.dU[1] = dU2, dd.rows[1] = g.C;
  dd.U[2] = U3, dd.dU[2] = dU3, dd.rows[2] = g.kh;
  dd.U[3] = U4, dd.dU[3] = dU4, dd.rows[3] = g.kw;
  return run_ds_dots(op, c, dd);
}

}  // namespace
}  // namespace cuda
}  // namespace debora

using debora::cuda::Arena;
using debora::cuda::Ctx;
using debora::cuda::Geom;

extern "C" debora_status debora_cp_conv2d_fwd_cuda_dev(debora_cuda_context* ctx, const debora_conv2d_geom* g, int64_t r,
                                                       const float* X, const float* U1, const float* U2, const float* U3,
                                                       const float* U4, const float* s, float* Y, int accumulate) {
  static const char* op = "cp_conv2d_fwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    Geom geo;
    DEBORA_TRY(cu::check_geometry(op, g, r, &geo));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X}, {"U1", U1}, {"U2", U2}, {"U3", U3}, {"U4", U4}, {"s", s}, {"Y", Y}};
    for (const auto& p : ptrs) DEBORA_TRY(cu::check_device_ptr(op, p.name, c, p.p));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::fwd(op, c, geo, X, U1, U2, U3, U4, s, Y, accumulate != 0);
  });
}

extern "C" debora_status debora_cp_conv2d_bwd_cuda_dev(debora_cuda_context* ctx, const debora_conv2d_geom* g, int64_t r,
                                                       const float* X, const float* U1, const float* U2, const float* U3,
                                                       const float* U4, const float* s, const float* dY, float* dX,
                                                       int accumulate_dx, float* dU1, float* dU2, float* dU3,
                                                       float* dU4, float* ds, float* dots) {
  static const char* op = "cp_conv2d_bwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    Geom geo;
    DEBORA_TRY(cu::check_geometry(op, g, r, &geo));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, ctx, &c));
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X},     {"U1", U1},   {"U2", U2},   {"U3", U3},   {"U4", U4},   {"s", s},
                {"dY", dY},   {"dU1", dU1}, {"dU2", dU2}, {"dU3", dU3}, {"dU4", dU4}, {"ds", ds}};
    for (const auto& p : ptrs) DEBORA_TRY(cu::check_device_ptr(op, p.name, c, p.p));
    DEBORA_TRY(cu::check_device_ptr(op, "dX", c, dX, false));
    DEBORA_TRY(cu::check_device_ptr(op, "dots", c, dots, false));
    std::lock_guard<std::mutex> lock(c->mu);
    return cu::bwd(op, c, geo, X, U1, U2, U3, U4, s, dY, dX, accumulate_dx != 0, dU1, dU2, dU3, dU4, ds, dots);
  });
}

extern "C" debora_status debora_cp_conv2d_fwd_cuda(const debora_conv2d_geom* g, int64_t r, const float* X,
                                                   const float* U1, const float* U2, const float* U3, const float* U4,
                                                   const float* s, float* Y, int accumulate) {
  static const char* op = "cp_conv2d_fwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    Geom geo;
    DEBORA_TRY(cu::check_geometry(op, g, r, &geo));
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X}, {"U1", U1}, {"U2", U2}, {"U3", U3}, {"U4", U4}, {"s", s}, {"Y", Y}};
    for (const auto& p : ptrs) DEBORA_TRY(debora::check_ptr(op, p.name, p.p));
    DEBORA_TRY(debora::check_finite(op, "s", s, r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t nx = geo.B * geo.C * geo.HW, ny = geo.B * geo.F * geo.P;
    float *gX = nullptr, *gU1 = nullptr, *gU2 = nullptr, *gU3 = nullptr, *gU4 = nullptr, *gs = nullptr, *gY = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      gX = a.take<float>(nx), gU1 = a.take<float>(geo.F * r), gU2 = a.take<float>(geo.C * r);
      gU3 = a.take<float>(geo.kh * r), gU4 = a.take<float>(geo.kw * r), gs = a.take<float>(r), gY = a.take<float>(ny);
    }));
    DEBORA_TRY(cu::h2d(op, c, gX, X, nx * 4));
    DEBORA_TRY(cu::h2d(op, c, gU1, U1, geo.F * r * 4));
    DEBORA_TRY(cu::h2d(op, c, gU2, U2, geo.C * r * 4));
    DEBORA_TRY(cu::h2d(op, c, gU3, U3, geo.kh * r * 4));
    DEBORA_TRY(cu::h2d(op, c, gU4, U4, geo.kw * r * 4));
    DEBORA_TRY(cu::h2d(op, c, gs, s, r * 4));
    if (accumulate) DEBORA_TRY(cu::h2d(op, c, gY, Y, ny * 4));
    DEBORA_TRY(cu::fwd(op, c, geo, gX, gU1, gU2, gU3, gU4, gs, gY, accumulate != 0));
    DEBORA_TRY(cu::d2h(op, c, Y, gY, ny * 4));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}

extern "C" debora_status debora_cp_conv2d_bwd_cuda(const debora_conv2d_geom* g, int64_t r, const float* X,
                                                   const float* U1, const float* U2, const float* U3, const float* U4,
                                                   const float* s, const float* dY, float* dX, int accumulate_dx,
                                                   float* dU1, float* dU2, float* dU3, float* dU4, float* ds,
                                                   float* dots) {
  static const char* op = "cp_conv2d_bwd";
  namespace cu = debora::cuda;
  return debora::guarded(op, [&]() -> debora_status {
    Geom geo;
    DEBORA_TRY(cu::check_geometry(op, g, r, &geo));
    const struct {
      const char* name;
      const void* p;
    } ptrs[] = {{"X", X},     {"U1", U1},   {"U2", U2},   {"U3", U3},   {"U4", U4},   {"s", s},
                {"dY", dY},   {"dU1", dU1}, {"dU2", dU2}, {"dU3", dU3}, {"dU4", dU4}, {"ds", ds}};
    for (const auto& p : ptrs) DEBORA_TRY(debora::check_ptr(op, p.name, p.p));
    DEBORA_TRY(debora::check_finite(op, "s", s, r));
    Ctx* c = nullptr;
    DEBORA_TRY(cu::resolve(op, nullptr, &c));
    std::lock_guard<std::mutex> lock(c->mu);
    const size_t nx = geo.B * geo.C * geo.HW, ny = geo.B * geo.F * geo.P;
    const size_t n1 = geo.F * r, n2 = geo.C * r, n3 = geo.kh * r, n4 = geo.kw * r;
    float *gX = nullptr, *gU1 = nullptr, *gU2 = nullptr, *gU3 = nullptr, *gU4 = nullptr, *gs = nullptr, *gdY = nullptr;
    float *gdX = nullptr, *gdU1 = nullptr, *gdU2 = nullptr, *gdU3 = nullptr, *gdU4 = nullptr, *gds = nullptr,
          *gdots = nullptr;
    DEBORA_TRY(cu::with_staging(op, c, [&](Arena& a) {
      gX = a.take<float>(nx), gU1 = a.take<float>(n1), gU2 = a.take<float>(n2), gU3 = a.take<float>(n3);
      gU4 = a.take<float>(n4), gs = a.take<float>(r), gdY = a.take<float>(ny);
      gdX = dX != nullptr ? a.take<float>(nx) : nullptr;
      gdU1 = a.take<float>(n1), gdU2 = a.take<float>(n2), gdU3 = a.take<float>(n3), gdU4 = a.take<float>(n4);
      gds = a.take<float>(r), gdots = dots != nullptr ? a.take<float>(r) : nullptr;
    }));
    DEBORA_TRY(cu::h2d(op, c, gX, X, nx * 4));
    DEBORA_TRY(cu::h2d(op, c, gU1, U1, n1 * 4));
    DEBORA_TRY(cu::h2d(op, c, gU2, U2, n2 * 4));
    DEBORA_TRY(cu::h2d(op, c, gU3, U3, n3 * 4));
    DEBORA_TRY(cu::h2d(op, c, gU4, U4, n4 * 4));
    DEBORA_TRY(cu::h2d(op, c, gs, s, r * 4));
    DEBORA_TRY(cu::h2d(op, c, gdY, dY, ny * 4));
    if (dX != nullptr && accumulate_dx) DEBORA_TRY(cu::h2d(op, c, gdX, dX, nx * 4));
    DEBORA_TRY(cu::bwd(op, c, geo, gX, gU1, gU2, gU3, gU4, gs, gdY, gdX, accumulate_dx != 0, gdU1, gdU2, gdU3, gdU4,
                       gds, gdots));
    if (dX != nullptr) DEBORA_TRY(cu::d2h(op, c, dX, gdX, nx * 4));
    DEBORA_TRY(cu::d2h(op, c, dU1, gdU1, n1 * 4));
    DEBORA_TRY(cu::d2h(op, c, dU2, gdU2, n2 * 4));
    DEBORA_TRY(cu::d2h(op, c, dU3, gdU3, n3 * 4));
    DEBORA_TRY(cu::d2h(op, c, dU4, gdU4, n4 * 4));
    DEBORA_TRY(cu::d2h(op, c, ds, gds, r * 4));
    if (dots != nullptr) DEBORA_TRY(cu::d2h(op, c, dots, gdots, r * 4));
    DEBORA_CUDA_TRY(op, cudaStreamSynchronize(c->stream));
    return DEBORA_OK;
  });
}
