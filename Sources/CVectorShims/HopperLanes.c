// Eight wgmma chains at once, one per AVX2 lane (declared in include/CVectorShims.h). This is the
// arithmetic of HopperStep's four-lane vector path (HopperStep+Vector.swift, where its exactness
// is proven), laid out the other way round: there one step's k products fill the lanes and are
// summed across them; here lane l holds chain l, the A operand is shared by all chains (a query
// row against eight keys, or one row of P against eight channels of V) and broadcast, and every
// sum runs down a lane, so that no step needs a horizontal reduction.
//
// Per lane and step, with F = 13 (k = 32, FP8) or 25 (k = 16, BF16/FP16):
//   top   = max(max_i (ea[i] + eb[i]), C's unbiased exponent, or −1000 for a zero/subnormal C)
//   s     = 2^(F − top)
//   terms = trunc(fl(fl(a[i]·b[i])·s)) and trunc(fl(C·s)), each exact (the same operations as
//           the four-lane path, in the same order), summed exactly: FP8 in Int32 (< 2^22), and
//           BF16/FP16 the 16 product terms in Int32 (< 2^31) with C's term added in double (< 2^32)
//   D     = the sum with its significand truncated to 14 (FP8) or 24 significant bits, times 2^(top − F).
// The step is exact only while −99 ≤ top ≤ 100 (NaN, infinite and extreme operands fall
// outside); a step with any lane outside stops the chain before it, and the caller computes that
// step by the general model.

#include "CVectorShims.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define FN_AVX2 __attribute__((target("avx2,fma,f16c")))

// 2^e for eight exponents e (biased result in [1, 254]).
FN_AVX2 static inline __m256 fn_power_of_two(__m256i biased) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}

// The alignment point of eight steps: the lane-wise largest product exponent and C's. Returns the
// lanes outside [−99, 100] as a bit mask.
FN_AVX2 static inline int fn_lane_top(const int32_t *ae, const int32_t *be, int k, __m256i c, __m256i *top) {
  __m256i e0 = _mm256_set1_epi32(-30000), e1 = e0;
  for (int i = 0; i < k; i += 2) {
    e0 = _mm256_max_epi32(e0, _mm256_add_epi32(_mm256_set1_epi32(ae[i]), _mm256_loadu_si256((const __m256i *)(be + 8 * i))));
    e1 = _mm256_max_epi32(e1, _mm256_add_epi32(_mm256_set1_epi32(ae[i + 1]), _mm256_loadu_si256((const __m256i *)(be + 8 * i + 8))));
  }
  __m256i biased = _mm256_and_si256(_mm256_srli_epi32(c, 23), _mm256_set1_epi32(0xFF));
  __m256i cTop = _mm256_blendv_epi8(_mm256_sub_epi32(biased, _mm256_set1_epi32(127)), _mm256_set1_epi32(-1000),
                                    _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
  __m256i t = _mm256_max_epi32(_mm256_max_epi32(e0, e1), cTop);
  *top = t;
  __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(-99), t), _mm256_cmpgt_epi32(t, _mm256_set1_epi32(100)));
  return _mm256_movemask_ps(_mm256_castsi256_ps(out));
}

// Σ_i trunc(fl(fl(a[i]·b[i])·s)) per lane, in Int32.
FN_AVX2 static inline __m256i fn_lane_terms(const float *av, const float *bv, int k, __m256 s) {
  __m256i t0 = _mm256_setzero_si256(), t1 = t0;
  for (int i = 0; i < k; i += 2) {
    __m256 p0 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(av[i]), _mm256_loadu_ps(bv + 8 * i)), s);
    __m256 p1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(av[i + 1]), _mm256_loadu_ps(bv + 8 * i + 8)), s);
    t0 = _mm256_add_epi32(t0, _mm256_cvttps_epi32(p0));
    t1 = _mm256_add_epi32(t1, _mm256_cvttps_epi32(p1));
  }
  return _mm256_add_epi32(t0, t1);
}

// One FP8 step (k = 32, F = 13) of eight chains; 0 when done, else the mask of lanes outside the window.
FN_AVX2 static inline int fn_lane_step_fp8(const float *av, const int32_t *ae, const float *bv, const int32_t *be, __m256i *acc) {
  __m256i top;
  int outside = fn_lane_top(ae, be, 32, *acc, &top);
  if (outside) return outside;
  const int F = 13;
  __m256 s = fn_power_of_two(_mm256_sub_epi32(_mm256_set1_epi32(127 + F), top));
  __m256i sum = _mm256_add_epi32(fn_lane_terms(av, bv, 32, s), _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_castsi256_ps(*acc), s)));
  // |sum| < 2^22: exact as a float; keep 14 significant bits (RZ), then scale back.
  __m256 kept = _mm256_and_ps(_mm256_cvtepi32_ps(sum), _mm256_castsi256_ps(_mm256_set1_epi32((int)0xFFFFFC00u)));
  *acc = _mm256_castps_si256(_mm256_mul_ps(kept, fn_power_of_two(_mm256_add_epi32(_mm256_set1_epi32(127 - F), top))));
  return 0;
}

// Four lanes of the BF16/FP16 sum (Int32 product terms + C's term, < 2^32 in all, exact in
// double) truncated to 24 significant bits, as floats.
FN_AVX2 static inline __m128 fn_lane_kept_half(__m128i terms, __m128i cTerm) {
  __m256d sum = _mm256_add_pd(_mm256_cvtepi32_pd(terms), _mm256_cvtepi32_pd(cTerm));
  __m256d kept = _mm256_and_pd(sum, _mm256_castsi256_pd(_mm256_set1_epi64x(~((1LL << 29) - 1))));
  return _mm256_cvtpd_ps(kept);
}

// One BF16/FP16 step (k = 16, F = 25) of eight chains; 0 when done, else the mask of lanes outside the window.
FN_AVX2 static inline int fn_lane_step_half(const float *av, const int32_t *ae, const float *bv, const int32_t *be, __m256i *acc) {
  __m256i top;
  int outside = fn_lane_top(ae, be, 16, *acc, &top);
  if (outside) return outside;
  const int F = 25;
  __m256 s = fn_power_of_two(_mm256_sub_epi32(_mm256_set1_epi32(127 + F), top));
  __m256i terms = fn_lane_terms(av, bv, 16, s);
  __m256i cTerm = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_castsi256_ps(*acc), s));
  __m256 kept = _mm256_set_m128(fn_lane_kept_half(_mm256_extracti128_si256(terms, 1), _mm256_extracti128_si256(cTerm, 1)),
                                fn_lane_kept_half(_mm256_castsi256_si128(terms), _mm256_castsi256_si128(cTerm)));
  *acc = _mm256_castps_si256(_mm256_mul_ps(kept, fn_power_of_two(_mm256_add_epi32(_mm256_set1_epi32(127 - F), top))));
  return 0;
}

FN_AVX2 long fn_hopper_lane_steps(const float *av, const int32_t *ae, const float *bv, const int32_t *be, long steps, int k,
                                  uint32_t *acc, int *outside) {
  __m256i c = _mm256_loadu_si256((const __m256i *)acc);
  long step = 0;
  *outside = 0;
  for (; step < steps; step++) {
    long at = step * k;
    int mask = k == 32 ? fn_lane_step_fp8(av + at, ae + at, bv + 8 * at, be + 8 * at, &c)
                       : fn_lane_step_half(av + at, ae + at, bv + 8 * at, be + 8 * at, &c);
    if (mask) {
      *outside = mask;
      break;
    }
  }
  _mm256_storeu_si256((__m256i *)acc, c);
  return step;
}

#else

long fn_hopper_lane_steps(const float *av, const int32_t *ae, const float *bv, const int32_t *be, long steps, int k,
                          uint32_t *acc, int *outside) {
  (void)av; (void)ae; (void)bv; (void)be; (void)steps; (void)k; (void)acc;
  *outside = 0xFF;
  return 0;
}

#endif
