// The fused multiply-add kernels declared in include/CVectorShims.h. On x86-64 they are compiled
// for FMA3 (function-level target attributes: the rest of the package stays baseline x86-64)
// and must be called only when fn_hardware_fma() says the CPU has it.

#include "CVectorShims.h"
#include <math.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int fn_hardware_fma(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
  if ((c & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6) == 6;   // XMM and YMM state saved by the OS
}

#define FN_FMA __attribute__((target("avx,fma")))
#define FN_LANES_float 8
#define FN_LANES_double 4

// One fma, rounded once.
FN_FMA static inline float fn_fma1_float(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
FN_FMA static inline double fn_fma1_double(double a, double b, double c) {
  return _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd(a), _mm_set_sd(b), _mm_set_sd(c)));
}

// o[i] ← fma(p, x[i], o[i]) for one 256-bit vector of lanes.
FN_FMA static inline void fn_axpy_lanes_float(float *o, const float *x, float p) {
  _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_set1_ps(p), _mm256_loadu_ps(x), _mm256_loadu_ps(o)));
}
FN_FMA static inline void fn_axpy_lanes_double(double *o, const double *x, double p) {
  _mm256_storeu_pd(o, _mm256_fmadd_pd(_mm256_set1_pd(p), _mm256_loadu_pd(x), _mm256_loadu_pd(o)));
}

#else

int fn_hardware_fma(void) {
#if defined(__aarch64__)
  return 1;
#else
  return 0;
#endif
}

#define FN_FMA
#define FN_LANES_float 1
#define FN_LANES_double 1
static inline float fn_fma1_float(float a, float b, float c) { return fmaf(a, b, c); }
static inline double fn_fma1_double(double a, double b, double c) { return fma(a, b, c); }
static inline void fn_axpy_lanes_float(float *o, const float *x, float p) { *o = fmaf(p, *x, *o); }
static inline void fn_axpy_lanes_double(double *o, const double *x, double p) { *o = fma(p, *x, *o); }

#endif

// The three kernels for element type T (float or double), named with suffix S ("" or "_double").
#define FN_FMA_KERNELS(T, S)                                                                       \
  FN_FMA T fn_fma_chain##S(T initial, const T *a, const T *b, long count, long bStride) {         \
    T acc = initial;                                                                               \
    for (long i = 0; i < count; i++) acc = fn_fma1_##T(a[i], b[i * bStride], acc);                \
    return acc;                                                                                    \
  }                                                                                                \
                                                                                                   \
  /* Four chains at a time: independent, so the FMA latency overlaps; each in ascending i. */      \
  FN_FMA void fn_fma_chains##S(const T *a, const T *b, long count, long rows, long rowStride,     \
                               T *out) {                                                           \
    long r = 0;                                                                                    \
    for (; r + 4 <= rows; r += 4) {                                                                \
      const T *b0 = b + r * rowStride, *b1 = b0 + rowStride, *b2 = b1 + rowStride,                 \
              *b3 = b2 + rowStride;                                                                \
      T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                            \
      for (long i = 0; i < count; i++) {                                                           \
        const T x = a[i];                                                                          \
        s0 = fn_fma1_##T(x, b0[i], s0);                                                            \
        s1 = fn_fma1_##T(x, b1[i], s1);                                                            \
        s2 = fn_fma1_##T(x, b2[i], s2);                                                            \
        s3 = fn_fma1_##T(x, b3[i], s3);                                                            \
      }                                                                                            \
      out[r] = s0; out[r + 1] = s1; out[r + 2] = s2; out[r + 3] = s3;                              \
    }                                                                                              \
    for (; r < rows; r++) out[r] = fn_fma_chain##S(0, a, b + r * rowStride, count, 1);             \
  }                                                                                                \
                                                                                                   \
  FN_FMA void fn_fma_axpy##S(T *o, const T *x, T p, long count) {                                 \
    long i = 0;                                                                                    \
    for (; i + FN_LANES_##T <= count; i += FN_LANES_##T) fn_axpy_lanes_##T(o + i, x + i, p);       \
    for (; i < count; i++) o[i] = fn_fma1_##T(p, x[i], o[i]);                                     \
  }

FN_FMA_KERNELS(float, )
FN_FMA_KERNELS(double, _double)

// The machine's FP32 FMA peak on one core: twelve independent chains of eight lanes held in
// registers (enough to cover the FMA latency on two pipes), `iterations` steps each. Returns a
// value that depends on every lane so the work cannot be dropped.
#if defined(__x86_64__)
FN_FMA float fn_fma_peak(long iterations) {
  __m256 acc[12];
  for (int k = 0; k < 12; k++) acc[k] = _mm256_set1_ps(0.001f * (float)k);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; i++) {
    for (int k = 0; k < 12; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  __m256 s = acc[0];
  for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, acc[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}
#else
float fn_fma_peak(long iterations) {
  float acc = 0;
  for (long i = 0; i < iterations * 96; i++) acc = fmaf(acc, 0.999999f, 1e-7f);
  return acc;
}
#endif
