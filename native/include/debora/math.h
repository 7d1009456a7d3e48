/* math.h — the formulas both backends must agree on, written once as inline functions usable
 * from g++ (native/cpu) and nvcc (native/cuda, host and device). Keep it free of headers that
 * nvcc device code cannot use. Tested through every op that uses it (test/native, test/gpu). */
#ifndef DEBORA_MATH_H
#define DEBORA_MATH_H

#if defined(__CUDACC__)
#define DEBORA_HD __host__ __device__ __forceinline__
#else
#define DEBORA_HD inline
#endif

#include <stdint.h>

namespace debora {

/* ALGORITHM.md section 3: G_i = ds_i - (1/s_i) * sum_k <u_i^(k), g_i^(k)>. Divide rather than
 * multiply by a reciprocal so both backends round identically. */
DEBORA_HD float hypergrad_component(float ds, float s, float dot_sum) { return ds - dot_sum / s; }

/* Convolution geometry (cp_conv2d): the output size along one axis, and the input coordinate that
 * output coordinate o reads through tap a (outside [0, in) means padding). The caller has checked
 * dil * (k - 1) + 1 <= in + 2 * pad, so the numerator is non-negative and / is a floor. */
DEBORA_HD int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}
DEBORA_HD int64_t conv_in_coord(int64_t o, int64_t a, int64_t stride, int64_t pad, int64_t dil) {
  return o * stride - pad + a * dil;
}

/* cp_tangent, oblique geometry: one element of G_i - U_i <U_i, G_i>, with the column dot c in double
 * and the result rounded once to float. */
DEBORA_HD float oblique_component(float g, float u, double c) {
  return static_cast<float>(static_cast<double>(g) - static_cast<double>(u) * c);
}
/* cp_tangent, stiefel geometry: an entry of sym(M) = (M + M^T) / 2. */
DEBORA_HD double sym_entry(double m_ab, double m_ba) { return 0.5 * (m_ab + m_ba); }
/* cp_tangent: dots[i] += <U_i, out_i>, the sum kept in double and added to the float once. */
DEBORA_HD float accumulate_dot(float dots, double sum) { return static_cast<float>(static_cast<double>(dots) + sum); }

}  // namespace debora

#endif /* DEBORA_MATH_H */
