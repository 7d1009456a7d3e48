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

namespace debora {

/* ALGORITHM.md section 3: G_i = ds_i - (1/s_i) * sum_k <u_i^(k), g_i^(k)>. Divide rather than
 * multiply by a reciprocal so both backends round identically. */
DEBORA_HD float hypergrad_component(float ds, float s, float dot_sum) { return ds - dot_sum / s; }

}  // namespace debora

#endif /* DEBORA_MATH_H */
