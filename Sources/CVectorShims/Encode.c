// float32 → small-float encoding in every rounding mode, eight lanes at a time with AVX2,
// declared in include/CVectorShims.h. The generic encoder (FloatFormat.round) is the definition;
// this kernel must give its bits for every input, mode and format it is given (the tests compare
// them over all 2^32 inputs). Call it only when fn_hardware_avx2() is nonzero.
//
// Per lane, with a = |x|'s bits, E = a >> 23, E' = max(E, 1) and sig the 24-bit significand
// (hidden bit set when E > 0), the value is sig·2^(E' − 150). The format's grid step in that
// binade is 2^(E' − 150 + shift) with
//     shift = (23 − f) + max(0, minE − E'),
// minE being the float32 biased exponent of the format's least normal binade. Then
//     q = sig >> shift (truncated multiple of the step), rem = sig mod 2^shift,
//     frac = rem as a 32-bit binary fraction of the step (exact for shift ≤ 32, truncated beyond:
//            there the value is below 2^-8 of a step, which only the sticky bit rem ≠ 0 sees),
// the mode adds 0 or 1 to q, and the magnitude code is q + (max(E' − minE, 0) << f): in the
// normal range q carries the hidden bit, so the sum is the biased exponent and the fraction
// (a carry out of the fraction moves to the next binade), and below it q is the subnormal code.
// A code above the largest finite one overflows; NaN and ±infinity inputs are selected last.
// AVX2's variable shifts give 0 for counts of 32 and more, which is what q and the fraction need.

#include "CVectorShims.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int fn_hardware_avx2(void) {
  if (!fn_hardware_fma()) return 0;   // AVX and OS support for the YMM state
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29))) return 0;   // F16C
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return (b & (1u << 5)) != 0;
}

#define FN_AVX2 __attribute__((target("avx2,fma,f16c")))

// Low 64 bits of a·c for four 64-bit lanes (AVX2 has no 64-bit multiply): lo(a)·lo(c) in full,
// plus the two cross products mod 2^32 from one 32-bit multiply by c with its halves swapped.
FN_AVX2 static inline __m256i fn_mul64(__m256i a, __m256i c) {
  __m256i lo = _mm256_mul_epu32(a, c);
  __m256i cross = _mm256_mullo_epi32(a, _mm256_shuffle_epi32(c, 0xB1));   // (lo a·hi c, hi a·lo c)
  __m256i sum = _mm256_add_epi32(cross, _mm256_srli_epi64(cross, 32));      // low dword: their sum
  return _mm256_add_epi64(lo, _mm256_slli_epi64(sum, 32));
}

// SplitMix64's finalizer on four lanes.
FN_AVX2 static inline __m256i fn_mix64(__m256i z) {
  z = fn_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), _mm256_set1_epi64x((long long)0xBF58476D1CE4E5B9ull));
  z = fn_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), _mm256_set1_epi64x((long long)0x94D049BB133111EBull));
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

// Unsigned a > b, lane-wise.
FN_AVX2 static inline __m256i fn_gtu(__m256i a, __m256i b) {
  const __m256i bias = _mm256_set1_epi32((int)0x80000000u);
  return _mm256_cmpgt_epi32(_mm256_xor_si256(a, bias), _mm256_xor_si256(b, bias));
}

FN_AVX2 static inline __m256i fn_select(__m256i mask, __m256i yes, __m256i no) {
  return _mm256_blendv_epi8(no, yes, mask);
}

// The traits as vectors, built once per call.
typedef struct {
  __m256i f, minE, shiftBase, keep, wordShift, signMask, maxMag, over[2], inf[2], nan[2];
  int negativeZero;
} fn_encode_vectors;

FN_AVX2 static inline fn_encode_vectors fn_encode_setup(const fn_encode_traits *t) {
  fn_encode_vectors k;
  k.f = _mm256_set1_epi32((int)t->fraction_bits);
  k.minE = _mm256_set1_epi32((int)t->min_normal_exponent);
  k.shiftBase = _mm256_set1_epi32(23 - (int)t->fraction_bits);
  unsigned bits = t->mode == FN_ROUND_STOCHASTIC ? t->random_bits : 32;
  k.keep = _mm256_set1_epi32((int)(0xFFFFFFFFu << (32 - bits)));
  k.wordShift = _mm256_set1_epi32(32 - (int)bits);
  k.signMask = _mm256_set1_epi32((int)t->sign_mask);
  k.maxMag = _mm256_set1_epi32((int)t->max_finite_magnitude);
  for (int s = 0; s < 2; s++) {
    k.over[s] = _mm256_set1_epi32((int)t->overflow_code[s]);
    k.inf[s] = _mm256_set1_epi32((int)t->infinity_code[s]);
    k.nan[s] = _mm256_set1_epi32((int)t->nan_code[s]);
  }
  k.negativeZero = t->has_negative_zero != 0;
  return k;
}

// The codes of eight inputs; `words` holds the low 32 bits of their random words (stochastic).
// `mode` is a constant at every call, so each mode's loop keeps only its own steps.
FN_AVX2 static inline __attribute__((always_inline)) __m256i fn_encode8(__m256i u, __m256i words, const fn_encode_vectors *k, const int mode) {
  const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
  __m256i neg = _mm256_srai_epi32(u, 31);                                 // all ones when negative
  __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i e = _mm256_srli_epi32(a, 23);
  __m256i e1 = _mm256_max_epi32(e, one);
  __m256i sig = _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0x7FFFFF)),
                                _mm256_andnot_si256(_mm256_cmpeq_epi32(e, zero), _mm256_set1_epi32(0x800000)));
  __m256i below = _mm256_max_epi32(_mm256_sub_epi32(k->minE, e1), zero);
  __m256i shift = _mm256_add_epi32(k->shiftBase, below);
  __m256i q = _mm256_srlv_epi32(sig, shift);
  __m256i rem = _mm256_sub_epi32(sig, _mm256_sllv_epi32(q, shift));
  __m256i inc;   // all ones where the magnitude rounds up
  if (mode == FN_ROUND_NEAREST_EVEN || mode == FN_ROUND_NEAREST_AWAY || mode == FN_ROUND_STOCHASTIC) {
    // frac = rem · 2^(32 − shift): a left shift while shift ≤ 32, a right shift beyond.
    const __m256i thirtyTwo = _mm256_set1_epi32(32), halfStep = _mm256_set1_epi32((int)0x80000000u);
    __m256i frac = fn_select(_mm256_cmpgt_epi32(shift, thirtyTwo),
                             _mm256_srlv_epi32(rem, _mm256_sub_epi32(shift, thirtyTwo)),
                             _mm256_sllv_epi32(rem, _mm256_sub_epi32(thirtyTwo, shift)));
    if (mode == FN_ROUND_NEAREST_EVEN) {
      // Ties go up when q is odd: frac + (q & 1) > 2^31 as unsigned (frac + 1 never wraps:
      // frac ≤ 2^32 − 2 when shift < 32, and frac < 2^24 from shift 32 on).
      inc = fn_gtu(_mm256_add_epi32(frac, _mm256_and_si256(q, one)), halfStep);
    } else if (mode == FN_ROUND_NEAREST_AWAY) {
      inc = fn_gtu(frac, _mm256_set1_epi32(0x7FFFFFFF));
    } else {
      // Up when ⌊r·2^B⌋ + (word mod 2^B) ≥ 2^B; both scaled to the top B of 32 bits: a carry.
      __m256i top = _mm256_and_si256(frac, k->keep);
      __m256i r = _mm256_sllv_epi32(words, k->wordShift);
      inc = fn_gtu(r, _mm256_xor_si256(top, _mm256_set1_epi32(-1)));
    }
  } else {
    __m256i inexact = _mm256_xor_si256(_mm256_cmpeq_epi32(rem, zero), _mm256_set1_epi32(-1));
    if (mode == FN_ROUND_UP) inc = _mm256_andnot_si256(neg, inexact);
    else if (mode == FN_ROUND_DOWN) inc = _mm256_and_si256(neg, inexact);
    else if (mode == FN_ROUND_ODD) { q = _mm256_or_si256(q, _mm256_and_si256(inexact, one)); inc = zero; }
    else inc = zero;   // toward zero
  }
  q = _mm256_sub_epi32(q, inc);   // inc is −1 where set
  __m256i mag = _mm256_add_epi32(q, _mm256_sllv_epi32(_mm256_max_epi32(_mm256_sub_epi32(e1, k->minE), zero), k->f));
  __m256i sign = _mm256_and_si256(neg, k->signMask);
  if (!k->negativeZero) sign = _mm256_andnot_si256(_mm256_cmpeq_epi32(mag, zero), sign);
  __m256i code = _mm256_or_si256(sign, mag);
  code = fn_select(_mm256_cmpgt_epi32(mag, k->maxMag), fn_select(neg, k->over[1], k->over[0]), code);
  const __m256i expAll = _mm256_set1_epi32(0x7F800000);
  __m256i special = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F7FFFFF));
  __m256i specialCode = fn_select(_mm256_cmpeq_epi32(a, expAll), fn_select(neg, k->inf[1], k->inf[0]), fn_select(neg, k->nan[1], k->nan[0]));
  return fn_select(special, specialCode, code);
}

// e8m0 (unsigned, no zero, no subnormals, no fraction; value 2^(E − 127), the float32 bias): the
// code of a normal float32 is its biased exponent E, plus one when the mode rounds the fraction
// up; below 2^-126 the grid step is 2^-127 (22 fraction bits of a float32 subnormal) and every
// value under 2^-126 that does not round up is the least code, 0. Negative values, zeros and NaN
// give NaN; the generic encoder's ties (always away: every significand is 1) and round-to-odd
// (the odd code of the two) are followed.
FN_AVX2 static inline __attribute__((always_inline)) __m256i fn_encode8_e8m0(__m256i u, __m256i words, const fn_encode_vectors *k, const int mode) {
  const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
  __m256i neg = _mm256_srai_epi32(u, 31);
  __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i e = _mm256_srli_epi32(a, 23);
  __m256i sub = _mm256_cmpeq_epi32(e, zero);
  // The fraction of the step as 32 bits: 23 bits of a normal, 22 below 2^-126 (the top one is q).
  __m256i fracBits = _mm256_and_si256(a, _mm256_set1_epi32(0x7FFFFF));
  __m256i frac = fn_select(sub, _mm256_slli_epi32(fracBits, 10), _mm256_slli_epi32(fracBits, 9));
  __m256i q = _mm256_and_si256(sub, _mm256_srli_epi32(fracBits, 22));   // below 2^-126: 2^-127 ≤ x?
  __m256i t = e;                                                          // the truncated code of a normal
  __m256i inexact = _mm256_xor_si256(_mm256_cmpeq_epi32(frac, zero), _mm256_set1_epi32(-1));
  __m256i inc;
  if (mode == FN_ROUND_NEAREST_EVEN || mode == FN_ROUND_NEAREST_AWAY) {
    // Ties away (the truncated significand is 1: odd); below 2^-126 q = 0 ties stay at 0, the same code.
    inc = fn_gtu(frac, _mm256_set1_epi32(0x7FFFFFFF));
  } else if (mode == FN_ROUND_STOCHASTIC) {
    __m256i top = _mm256_and_si256(frac, k->keep);
    __m256i r = _mm256_sllv_epi32(words, k->wordShift);
    inc = fn_gtu(r, _mm256_xor_si256(top, _mm256_set1_epi32(-1)));
  } else if (mode == FN_ROUND_UP) {
    inc = inexact;                                                        // negative inputs are NaN
  } else if (mode == FN_ROUND_ODD) {
    // The candidate with an odd code: up when the truncated code is even (below 2^-126 with
    // q = 0 the code stays 0 either way).
    __m256i even = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_or_si256(t, q), one), zero);
    inc = _mm256_and_si256(inexact, fn_select(sub, _mm256_set1_epi32(-1), even));
  } else {
    inc = zero;                                                           // toward zero, down
  }
  // Normal: E + inc. Below 2^-126: q + inc − 1, at least 0.
  __m256i up = _mm256_and_si256(inc, one);
  __m256i code = fn_select(sub, _mm256_max_epi32(_mm256_sub_epi32(_mm256_add_epi32(q, up), one), zero), _mm256_add_epi32(e, up));
  code = fn_select(_mm256_cmpgt_epi32(code, k->maxMag), k->over[0], code);
  __m256i special = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F7FFFFF));
  code = fn_select(special, fn_select(_mm256_cmpeq_epi32(a, _mm256_set1_epi32(0x7F800000)), k->inf[0], k->nan[0]), code);
  // Negative values (−0 included) and +0 are NaN.
  __m256i nanInput = _mm256_or_si256(neg, _mm256_cmpeq_epi32(a, zero));
  return fn_select(nanInput, k->nan[1], code);
}

// Words of elements i .. i+7 from the two counters (low 32 bits, in element order).
FN_AVX2 static inline __attribute__((always_inline)) __m256i fn_words8(__m256i s0, __m256i s1) {
  const __m256i lowDwords = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0);
  __m256i w0 = _mm256_permutevar8x32_epi32(fn_mix64(s0), lowDwords);
  __m256i w1 = _mm256_permutevar8x32_epi32(fn_mix64(s1), lowDwords);
  return _mm256_permute2x128_si256(w0, w1, 0x20);
}

FN_AVX2 static inline __attribute__((always_inline)) void fn_store_codes(void *dst, long i, __m256i code, const int bytes) {
  __m128i lo = _mm256_castsi256_si128(code), hi = _mm256_extracti128_si256(code, 1);
  __m128i w16 = _mm_packus_epi32(lo, hi);
  if (bytes == 1) _mm_storel_epi64((__m128i *)((uint8_t *)dst + i), _mm_packus_epi16(w16, w16));
  else _mm_storeu_si128((__m128i *)((uint16_t *)dst + i), w16);
}

// One (mode, code width) loop; both are constants at each call site below.
FN_AVX2 static inline __attribute__((always_inline)) void fn_encode_loop(
    const float *src, void *dst, long n, const fn_encode_traits *t, uint64_t first_index, const int mode, const int bytes,
    const int e8m0) {
  const fn_encode_vectors k = fn_encode_setup(t);
  const uint64_t gamma = 0x9E3779B97F4A7C15ull;
  const __m256i step8 = _mm256_set1_epi64x((long long)(gamma * 8));
  // Counters of elements i .. i+7: seed + (first_index + i + j + 1)·γ, j = 0..7.
  uint64_t base = t->seed + (first_index + 1) * gamma;
  __m256i s0 = _mm256_add_epi64(_mm256_set1_epi64x((long long)base),
                                _mm256_set_epi64x((long long)(3 * gamma), (long long)(2 * gamma), (long long)gamma, 0));
  __m256i s1 = _mm256_add_epi64(s0, _mm256_set1_epi64x((long long)(4 * gamma)));
  const __m256i none = _mm256_setzero_si256();
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i words = none;
    if (mode == FN_ROUND_STOCHASTIC) {
      words = fn_words8(s0, s1);
      s0 = _mm256_add_epi64(s0, step8);
      s1 = _mm256_add_epi64(s1, step8);
    }
    __m256i u = _mm256_loadu_si256((const __m256i *)(src + i));
    fn_store_codes(dst, i, e8m0 ? fn_encode8_e8m0(u, words, &k, mode) : fn_encode8(u, words, &k, mode), bytes);
  }
  if (i < n) {
    // The tail through the same lanes: padded input, the next words, a partial store.
    float x[8] = {0};
    memcpy(x, src + i, (size_t)(n - i) * sizeof(float));
    __m256i words = mode == FN_ROUND_STOCHASTIC ? fn_words8(s0, s1) : none;
    uint32_t codes[8];
    __m256i u = _mm256_loadu_si256((const __m256i *)x);
    _mm256_storeu_si256((__m256i *)codes, e8m0 ? fn_encode8_e8m0(u, words, &k, mode) : fn_encode8(u, words, &k, mode));
    for (long j = 0; j < n - i; j++) {
      if (bytes == 1) ((uint8_t *)dst)[i + j] = (uint8_t)codes[j];
      else ((uint16_t *)dst)[i + j] = (uint16_t)codes[j];
    }
  }
}

#define FN_ENCODE_CASE(MODE)                                                                        \
  case MODE:                                                                                       \
    if (t->unsigned_exponent_only) fn_encode_loop(src, dst, n, t, first_index, MODE, 1, 1);        \
    else if (t->code_bytes == 1) fn_encode_loop(src, dst, n, t, first_index, MODE, 1, 0);          \
    else fn_encode_loop(src, dst, n, t, first_index, MODE, 2, 0);                                  \
    break;

FN_AVX2 void fn_vector_encode(const float *src, void *dst, long n, const fn_encode_traits *t, uint64_t first_index) {
  switch (t->mode) {
    FN_ENCODE_CASE(FN_ROUND_NEAREST_EVEN)
    FN_ENCODE_CASE(FN_ROUND_NEAREST_AWAY)
    FN_ENCODE_CASE(FN_ROUND_TOWARD_ZERO)
    FN_ENCODE_CASE(FN_ROUND_UP)
    FN_ENCODE_CASE(FN_ROUND_DOWN)
    FN_ENCODE_CASE(FN_ROUND_ODD)
    FN_ENCODE_CASE(FN_ROUND_STOCHASTIC)
  default: break;
  }
}

// 16-bit codes → float32, exact; NaN codes give the canonical quiet NaN with their sign.
FN_AVX2 void fn_vector_decode16(const uint16_t *src, float *dst, long n, int fp16) {
  const __m256i magMask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i signBit = _mm256_set1_epi32((int)0x80000000u), qnan = _mm256_set1_epi32(0x7FC00000);
  long i = 0;
  if (!fp16) {
    // bf16 is the top half of binary32: shift, and canonicalize NaNs only in the blocks of 64
    // codes that hold one (their largest magnitude, kept as the loop goes, says so).
    const __m128i magnitude = _mm_set1_epi16(0x7FFF), infCode = _mm_set1_epi16(0x7F80);
    for (; i + 64 <= n; i += 64) {
      __m128i most = _mm_setzero_si128();
      for (int k = 0; k < 64; k += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i + k));
        most = _mm_max_epu16(most, _mm_and_si128(h, magnitude));
        _mm256_storeu_si256((__m256i *)(dst + i + k), _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
      }
      if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_max_epu16(most, infCode), infCode)) != 0xFFFF) {
        for (int k = 0; k < 64; k += 8) {
          __m256i u = _mm256_loadu_si256((const __m256i *)(dst + i + k));
          __m256i isNaN = _mm256_cmpgt_epi32(_mm256_and_si256(u, magMask), inf);
          _mm256_storeu_si256((__m256i *)(dst + i + k), _mm256_blendv_epi8(u, _mm256_or_si256(_mm256_and_si256(u, signBit), qnan), isNaN));
        }
      }
    }
  }
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
    __m256i u = fp16 ? _mm256_castps_si256(_mm256_cvtph_ps(h)) : _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    __m256i isNaN = _mm256_cmpgt_epi32(_mm256_and_si256(u, magMask), inf);
    u = _mm256_blendv_epi8(u, _mm256_or_si256(_mm256_and_si256(u, signBit), qnan), isNaN);
    _mm256_storeu_si256((__m256i *)(dst + i), u);
  }
  if (i < n) {
    uint16_t h[8] = {0};
    float f[8];
    memcpy(h, src + i, (size_t)(n - i) * sizeof(uint16_t));
    fn_vector_decode16(h, f, 8, fp16);
    memcpy(dst + i, f, (size_t)(n - i) * sizeof(float));
  }
}

#else

void fn_vector_decode16(const uint16_t *src, float *dst, long n, int fp16) {
  (void)src; (void)dst; (void)n; (void)fp16;
}

int fn_hardware_avx2(void) { return 0; }
void fn_vector_encode(const float *src, void *dst, long n, const fn_encode_traits *t, uint64_t first_index) {
  (void)src; (void)dst; (void)n; (void)t; (void)first_index;
}

#endif
