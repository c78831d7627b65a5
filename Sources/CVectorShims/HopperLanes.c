// Sixteen wgmma chains at once, one per lane of two AVX2 vectors (declared in
// include/CVectorShims.h). This is the arithmetic of HopperStep's four-lane vector path
// (HopperStep+Vector.swift, where its exactness is proven), laid out the other way round: there
// one step's k products fill the lanes and are summed across them; here lane l holds chain l, the
// A operand is shared by all chains (a query row against sixteen keys, or one row of P against
// sixteen channels of V) and broadcast, and every sum runs down a lane, so that no step needs a
// horizontal reduction. The exponent sums of all sixteen chains fit one vector of Int16 lanes.
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

// C's part of the alignment point for eight lanes: its unbiased exponent, −1000 for zero and subnormal C.
FN_AVX2 static inline __m256i fn_c_top(__m256i c) {
  __m256i biased = _mm256_and_si256(_mm256_srli_epi32(c, 23), _mm256_set1_epi32(0xFF));
  return _mm256_blendv_epi8(_mm256_sub_epi32(biased, _mm256_set1_epi32(127)), _mm256_set1_epi32(-1000),
                            _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
}

// The lanes of `t` outside [−99, 100], as eight mask bits.
FN_AVX2 static inline int fn_outside(__m256i t) {
  __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(-99), t), _mm256_cmpgt_epi32(t, _mm256_set1_epi32(100)));
  return _mm256_movemask_ps(_mm256_castsi256_ps(out));
}

// The alignment points of sixteen steps (chains 0–7 in top[0], 8–15 in top[1]): the lane-wise
// largest product exponent, summed and compared in Int16 (sums lie in [−2000, 16 000]), and C's.
// Returns the lanes outside [−99, 100] as a 16-bit mask.
FN_AVX2 static inline int fn_lane_top(const int16_t *ae, const int16_t *be, int k, const __m256i c[2], __m256i top[2]) {
  __m256i e[4] = {_mm256_set1_epi16(-30000), _mm256_set1_epi16(-30000), _mm256_set1_epi16(-30000), _mm256_set1_epi16(-30000)};
#pragma clang loop unroll(full)
  for (int i = 0; i < k; i++)
    e[i % 4] = _mm256_max_epi16(e[i % 4], _mm256_add_epi16(_mm256_set1_epi16(ae[i]), _mm256_loadu_si256((const __m256i *)(be + 16 * i))));
  __m256i m = _mm256_max_epi16(_mm256_max_epi16(e[0], e[1]), _mm256_max_epi16(e[2], e[3]));
  top[0] = _mm256_max_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(m)), fn_c_top(c[0]));
  top[1] = _mm256_max_epi32(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(m, 1)), fn_c_top(c[1]));
  return fn_outside(top[0]) | fn_outside(top[1]) << 8;
}

// Σ_i trunc(fl(fl(a[i]·b[i])·s)) for the eight chains of B at `bv` (stride 16 per i), in Int32.
FN_AVX2 static inline __m256i fn_lane_terms(const float *av, const float *bv, int k, __m256 s) {
  __m256i t[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma clang loop unroll(full)
  for (int i = 0; i < k; i++) {
    __m256 p = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(av[i]), _mm256_loadu_ps(bv + 16 * i)), s);
    t[i % 4] = _mm256_add_epi32(t[i % 4], _mm256_cvttps_epi32(p));
  }
  return _mm256_add_epi32(_mm256_add_epi32(t[0], t[1]), _mm256_add_epi32(t[2], t[3]));
}

// The FP8 normalisation of eight lanes (F = 13): the sum (|sum| < 2^22, exact as a float) keeps
// 14 significant bits (RZ), scaled back by 2^(top − F).
FN_AVX2 static inline __m256i fn_fp8_result(const float *av, const float *bv, __m256i top, __m256i c) {
  const int F = 13;
  __m256 s = fn_power_of_two(_mm256_sub_epi32(_mm256_set1_epi32(127 + F), top));
  __m256i sum = _mm256_add_epi32(fn_lane_terms(av, bv, 32, s), _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_castsi256_ps(c), s)));
  __m256 kept = _mm256_and_ps(_mm256_cvtepi32_ps(sum), _mm256_castsi256_ps(_mm256_set1_epi32((int)0xFFFFFC00u)));
  return _mm256_castps_si256(_mm256_mul_ps(kept, fn_power_of_two(_mm256_add_epi32(_mm256_set1_epi32(127 - F), top))));
}

// Four lanes of the BF16/FP16 sum (Int32 product terms + C's term, < 2^32 in all, exact in
// double) truncated to 24 significant bits, as floats.
FN_AVX2 static inline __m128 fn_lane_kept_half(__m128i terms, __m128i cTerm) {
  __m256d sum = _mm256_add_pd(_mm256_cvtepi32_pd(terms), _mm256_cvtepi32_pd(cTerm));
  __m256d kept = _mm256_and_pd(sum, _mm256_castsi256_pd(_mm256_set1_epi64x(~((1LL << 29) - 1))));
  return _mm256_cvtpd_ps(kept);
}

// The BF16/FP16 normalisation of eight lanes (F = 25): 24 significant bits (RZ), scaled back.
FN_AVX2 static inline __m256i fn_half_result(const float *av, const float *bv, __m256i top, __m256i c) {
  const int F = 25;
  __m256 s = fn_power_of_two(_mm256_sub_epi32(_mm256_set1_epi32(127 + F), top));
  __m256i terms = fn_lane_terms(av, bv, 16, s);
  __m256i cTerm = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_castsi256_ps(c), s));
  __m256 kept = _mm256_set_m128(fn_lane_kept_half(_mm256_extracti128_si256(terms, 1), _mm256_extracti128_si256(cTerm, 1)),
                                fn_lane_kept_half(_mm256_castsi256_si128(terms), _mm256_castsi256_si128(cTerm)));
  return _mm256_castps_si256(_mm256_mul_ps(kept, fn_power_of_two(_mm256_add_epi32(_mm256_set1_epi32(127 - F), top))));
}

// The chain loop for one k (a constant after inlining, so that the loops over k unroll).
FN_AVX2 static inline long fn_lane_chain(const float *av, const int16_t *ae, const float *bv, const int16_t *be, long steps,
                                         const int k, __m256i c[2], int *outside) {
  long step = 0;
  for (; step < steps; step++) {
    long at = step * k;
    __m256i top[2];
    int mask = fn_lane_top(ae + at, be + 16 * at, k, c, top);
    if (mask) {
      *outside = mask;
      break;
    }
    const float *a = av + at, *b = bv + 16 * at;
    if (k == 32) {
      c[0] = fn_fp8_result(a, b, top[0], c[0]);
      c[1] = fn_fp8_result(a, b + 8, top[1], c[1]);
    } else {
      c[0] = fn_half_result(a, b, top[0], c[0]);
      c[1] = fn_half_result(a, b + 8, top[1], c[1]);
    }
  }
  return step;
}

FN_AVX2 long fn_hopper_lane_steps(const float *av, const int16_t *ae, const float *bv, const int16_t *be, long steps, int k,
                                  uint32_t *acc, int *outside) {
  __m256i c[2] = {_mm256_loadu_si256((const __m256i *)acc), _mm256_loadu_si256((const __m256i *)(acc + 8))};
  *outside = 0;
  long done = k == 32 ? fn_lane_chain(av, ae, bv, be, steps, 32, c, outside) : fn_lane_chain(av, ae, bv, be, steps, 16, c, outside);
  _mm256_storeu_si256((__m256i *)acc, c[0]);
  _mm256_storeu_si256((__m256i *)(acc + 8), c[1]);
  return done;
}

#else

long fn_hopper_lane_steps(const float *av, const int16_t *ae, const float *bv, const int16_t *be, long steps, int k,
                          uint32_t *acc, int *outside) {
  (void)av; (void)ae; (void)bv; (void)be; (void)steps; (void)k; (void)acc;
  *outside = 0xFFFF;
  return 0;
}

#endif
