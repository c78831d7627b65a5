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

// Chains of eight rows at once, one per lane: `b` holds the rows in groups of eight, interleaved
// (element i of row 8g + l at b[(g·count + i)·8 + l]). Four groups (32 chains) run together so
// the FMA latency overlaps; every lane is its own chain, in ascending i, from +0.
#if defined(__x86_64__)
FN_FMA void fn_fma_chains8(const float *a, const float *b, long count, long groups, float *out) {
  long g = 0;
  for (; g + 4 <= groups; g += 4) {
    const float *b0 = b + g * count * 8, *b1 = b0 + count * 8, *b2 = b1 + count * 8, *b3 = b2 + count * 8;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (long i = 0; i < count; i++) {
      const __m256 x = _mm256_set1_ps(a[i]);
      s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b0 + 8 * i), s0);
      s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b1 + 8 * i), s1);
      s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b2 + 8 * i), s2);
      s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b3 + 8 * i), s3);
    }
    _mm256_storeu_ps(out + 8 * g, s0);
    _mm256_storeu_ps(out + 8 * g + 8, s1);
    _mm256_storeu_ps(out + 8 * g + 16, s2);
    _mm256_storeu_ps(out + 8 * g + 24, s3);
  }
  for (; g < groups; g++) {
    const float *b0 = b + g * count * 8;
    __m256 s0 = _mm256_setzero_ps();
    for (long i = 0; i < count; i++) s0 = _mm256_fmadd_ps(_mm256_set1_ps(a[i]), _mm256_loadu_ps(b0 + 8 * i), s0);
    _mm256_storeu_ps(out + 8 * g, s0);
  }
}

// o[c] ← fma(p[j], v[j·d + c], o[c]) for j ascending, every c: 64 channels of O stay in
// registers while all n rows of V pass, then the next 64.
FN_FMA void fn_fma_axpy_rows(float *o, const float *v, const float *p, long n, long d) {
  long c = 0;
  for (; c + 64 <= d; c += 64) {
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_loadu_ps(o + c + 8 * k);
    for (long j = 0; j < n; j++) {
      const __m256 pj = _mm256_set1_ps(p[j]);
      const float *row = v + j * d + c;
      for (int k = 0; k < 8; k++) acc[k] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 8 * k), acc[k]);
    }
    for (int k = 0; k < 8; k++) _mm256_storeu_ps(o + c + 8 * k, acc[k]);
  }
  for (; c + 8 <= d; c += 8) {
    __m256 acc = _mm256_loadu_ps(o + c);
    for (long j = 0; j < n; j++) acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(v + j * d + c), acc);
    _mm256_storeu_ps(o + c, acc);
  }
  for (; c < d; c++) {
    float acc = o[c];
    for (long j = 0; j < n; j++) acc = fn_fma1_float(p[j], v[j * d + c], acc);
    o[c] = acc;
  }
}
#else
void fn_fma_axpy_rows(float *o, const float *v, const float *p, long n, long d) {
  for (long c = 0; c < d; c++) {
    float acc = o[c];
    for (long j = 0; j < n; j++) acc = fmaf(p[j], v[j * d + c], acc);
    o[c] = acc;
  }
}

void fn_fma_chains8(const float *a, const float *b, long count, long groups, float *out) {
  for (long g = 0; g < groups; g++) {
    for (int l = 0; l < 8; l++) {
      float acc = 0;
      for (long i = 0; i < count; i++) acc = fmaf(a[i], b[(g * count + i) * 8 + l], acc);
      out[8 * g + l] = acc;
    }
  }
}
#endif

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
