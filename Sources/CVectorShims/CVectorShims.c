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
FN_FMA static inline float fn_fma1(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
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
static inline float fn_fma1(float a, float b, float c) { return fmaf(a, b, c); }

#endif

FN_FMA float fn_fma_chain(float initial, const float *a, const float *b, long count, long bStride) {
  float acc = initial;
  for (long i = 0; i < count; i++) acc = fn_fma1(a[i], b[i * bStride], acc);
  return acc;
}

FN_FMA void fn_fma_chains(const float *a, const float *b, long count, long rows, long rowStride, float *out) {
  long r = 0;
  // Four chains at a time: independent, so the FMA latency overlaps; each in ascending i.
  for (; r + 4 <= rows; r += 4) {
    const float *b0 = b + r * rowStride, *b1 = b0 + rowStride, *b2 = b1 + rowStride, *b3 = b2 + rowStride;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (long i = 0; i < count; i++) {
      const float x = a[i];
      s0 = fn_fma1(x, b0[i], s0);
      s1 = fn_fma1(x, b1[i], s1);
      s2 = fn_fma1(x, b2[i], s2);
      s3 = fn_fma1(x, b3[i], s3);
    }
    out[r] = s0; out[r + 1] = s1; out[r + 2] = s2; out[r + 3] = s3;
  }
  for (; r < rows; r++) out[r] = fn_fma_chain(0, a, b + r * rowStride, count, 1);
}

FN_FMA void fn_fma_axpy(float *o, const float *x, float p, long count) {
  long i = 0;
#if defined(__x86_64__)
  const __m256 pv = _mm256_set1_ps(p);
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(o + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(o + i)));
  }
#endif
  for (; i < count; i++) o[i] = fn_fma1(p, x[i], o[i]);
}
