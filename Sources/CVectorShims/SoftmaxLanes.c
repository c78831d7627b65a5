// The FA3 softmax's GPU operations on eight lanes with AVX2 (declared in include/CVectorShims.h):
// the H100's ex2.approx.ftz.f32, its argument (FFMA.FTZ or FMUL.FTZ + FADD.FTZ), and FMUL.FTZ.
// MUFU.ex2 and FlushToZero in the Hopper module are the definitions, and these kernels are their
// operations lane by lane; the tests compare ex2 on every float32 input.
//
// Per lane: a subnormal argument reads as a zero of its sign; NaN gives 0x7FFFFFFF, ±∞ gives
// +∞ / +0, ±0 gives 1. Otherwise y = x (or x/2 below −126, squared at the end), i = trunc(y),
// f = y − i (exact), and the 23-bit fixed-point fraction b = ⌊|f|·2^23⌋ (for f < 0 and b ≠ 0:
// b = ~b, i = i − 1, the one's complement of 1 − |f|). With h = b[22:17] and l = b[16:0], the
// table row (c0, c1, c2) = table[3h ...], and in 64-bit arithmetic modulo 2^64
//   s = c0·2^32 + c1·l·2^19 + c2·square(l) + 0x6FC4·2^18,
// the significand is 1 + ((s >> 34) mod 2^23)·2^−23, scaled by 2^i (+∞ above 127, 0 below −126),
// flushed when subnormal. square(l) is the unit's truncated squarer: l² less the anti-diagonal
// bits 0…9 of l spread to even positions, and the rows i < 9 (l << (i+1) with its low 2i + 2
// bits cleared, where bit i of l is set), all within the low 19 columns.

#include "CVectorShims.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define FN_AVX2 __attribute__((target("avx2,fma,f16c")))

// x with subnormal lanes replaced by zeros of the same sign.
FN_AVX2 static inline __m256 fn_flushed(__m256 x) {
  __m256i bits = _mm256_castps_si256(x);
  __m256i exponent = _mm256_and_si256(bits, _mm256_set1_epi32(0x7F800000));
  __m256i subnormal = _mm256_cmpeq_epi32(exponent, _mm256_setzero_si256());
  return _mm256_castsi256_ps(_mm256_blendv_epi8(bits, _mm256_and_si256(bits, _mm256_set1_epi32((int)0x80000000u)), subnormal));
}

// What the truncated squarer leaves out of l² for eight 17-bit lanes l.
FN_AVX2 static inline __m256i fn_square_error(__m256i x) {
  const __m256i columns = _mm256_set1_epi32((1 << 19) - 1);
  __m256i a = _mm256_and_si256(x, _mm256_set1_epi32(0x3FF));
  a = _mm256_and_si256(_mm256_or_si256(a, _mm256_slli_epi32(a, 8)), _mm256_set1_epi32(0x00FF00FF));
  a = _mm256_and_si256(_mm256_or_si256(a, _mm256_slli_epi32(a, 4)), _mm256_set1_epi32(0x0F0F0F0F));
  a = _mm256_and_si256(_mm256_or_si256(a, _mm256_slli_epi32(a, 2)), _mm256_set1_epi32(0x33333333));
  a = _mm256_and_si256(_mm256_or_si256(a, _mm256_slli_epi32(a, 1)), _mm256_set1_epi32(0x55555555));
  __m256i error = _mm256_and_si256(a, columns);
  for (int i = 0; i < 9; i++) {
    __m256i row = _mm256_and_si256(_mm256_slli_epi32(x, i + 1), _mm256_set1_epi32((int)(~((1u << (2 * i + 2)) - 1) & ((1u << 19) - 1))));
    __m256i present = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_and_si256(_mm256_srli_epi32(x, i), _mm256_set1_epi32(1)));
    error = _mm256_add_epi32(error, _mm256_and_si256(row, present));
  }
  return error;   // < 2^23 in every lane
}

// The low 64 bits of the s above for four lanes, from 64-bit lanes of c0, c1, c2, l and the squarer's error.
FN_AVX2 static inline __m256i fn_ex2_sum(__m256i c0, __m256i c1, __m256i c2, __m256i l, __m256i error) {
  __m256i square = _mm256_sub_epi64(_mm256_mul_epu32(l, l), error);                     // < 2^34
  __m256i c2Square = _mm256_add_epi64(_mm256_mul_epu32(c2, square),
                                      _mm256_slli_epi64(_mm256_mul_epu32(c2, _mm256_srli_epi64(square, 32)), 32));
  __m256i s = _mm256_add_epi64(_mm256_slli_epi64(c0, 32), _mm256_slli_epi64(_mm256_mul_epu32(c1, l), 19));
  s = _mm256_add_epi64(s, c2Square);
  return _mm256_add_epi64(s, _mm256_set1_epi64x((long long)(0x6FC4000000000000ull >> 30)));
}

FN_AVX2 static inline __m256 fn_ex2_lanes(__m256 argument, const uint32_t *table) {
  __m256 x = fn_flushed(argument);
  __m256i xBits = _mm256_castps_si256(x);
  __m256i magnitude = _mm256_and_si256(xBits, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000));
  __m256i infinite = _mm256_cmpeq_epi32(magnitude, _mm256_set1_epi32(0x7F800000));
  __m256i zero = _mm256_cmpeq_epi32(magnitude, _mm256_setzero_si256());
  __m256 halve = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
  __m256 y = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(0.5f)), halve);
  __m256 integral = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  __m256 fraction = _mm256_sub_ps(y, integral);
  __m256 absFraction = _mm256_and_ps(fraction, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  __m256i b = _mm256_cvttps_epi32(_mm256_mul_ps(absFraction, _mm256_set1_ps(8388608.0f)));
  __m256i negative = _mm256_andnot_si256(_mm256_cmpeq_epi32(b, _mm256_setzero_si256()),
                                         _mm256_castps_si256(_mm256_cmp_ps(fraction, _mm256_setzero_ps(), _CMP_LT_OQ)));
  b = _mm256_xor_si256(b, negative);
  integral = _mm256_sub_ps(integral, _mm256_and_ps(_mm256_castsi256_ps(negative), _mm256_set1_ps(1.0f)));
  __m256i high = _mm256_and_si256(_mm256_srli_epi32(b, 17), _mm256_set1_epi32(0x3F));
  __m256i low = _mm256_and_si256(b, _mm256_set1_epi32(0x1FFFF));
  __m256i row = _mm256_mullo_epi32(high, _mm256_set1_epi32(3));
  __m256i c0 = _mm256_i32gather_epi32((const int *)table, row, 4);
  __m256i c1 = _mm256_i32gather_epi32((const int *)table + 1, row, 4);
  __m256i c2 = _mm256_i32gather_epi32((const int *)table + 2, row, 4);
  __m256i error = fn_square_error(low);
#define FN_WIDEN(v, h) _mm256_cvtepu32_epi64(h ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v))
  __m256i s0 = fn_ex2_sum(FN_WIDEN(c0, 0), FN_WIDEN(c1, 0), FN_WIDEN(c2, 0), FN_WIDEN(low, 0), FN_WIDEN(error, 0));
  __m256i s1 = fn_ex2_sum(FN_WIDEN(c0, 1), FN_WIDEN(c1, 1), FN_WIDEN(c2, 1), FN_WIDEN(low, 1), FN_WIDEN(error, 1));
#undef FN_WIDEN
  // (s >> 34) mod 2^23 in the low half of each 64-bit lane, gathered into eight 32-bit lanes.
  const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  __m128i r0 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_srli_epi64(s0, 34), pick));
  __m128i r1 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_srli_epi64(s1, 34), pick));
  __m256i r = _mm256_and_si256(_mm256_set_m128i(r1, r0), _mm256_set1_epi32(0x7FFFFF));
  __m256 significand = _mm256_castsi256_ps(_mm256_or_si256(r, _mm256_set1_epi32(127 << 23)));
  // 2^i: +∞ above 127, 0 below −126.
  __m256i exponentField = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(
      _mm256_max_ps(_mm256_min_ps(integral, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-126.0f))), _mm256_set1_epi32(127)), 23);
  __m256 power = _mm256_castsi256_ps(exponentField);
  power = _mm256_blendv_ps(power, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(integral, _mm256_set1_ps(127.0f), _CMP_GT_OQ));
  power = _mm256_blendv_ps(power, _mm256_setzero_ps(), _mm256_cmp_ps(integral, _mm256_set1_ps(-126.0f), _CMP_LT_OQ));
  __m256 result = fn_flushed(_mm256_mul_ps(power, significand));
  result = _mm256_blendv_ps(result, fn_flushed(_mm256_mul_ps(result, result)), halve);
  // Specials last: ±0 → 1, ±∞ → +∞ / +0, NaN → 0x7FFFFFFF.
  result = _mm256_blendv_ps(result, _mm256_set1_ps(1.0f), _mm256_castsi256_ps(zero));
  __m256 infiniteResult = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_srai_epi32(xBits, 31)), _mm256_set1_ps(__builtin_inff()));
  result = _mm256_blendv_ps(result, infiniteResult, _mm256_castsi256_ps(infinite));
  return _mm256_blendv_ps(result, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), _mm256_castsi256_ps(nan));
}

// The exponent argument of eight lanes: fma(x, a, b) rounded once, or fl(fl(x·a) + b), with
// every operand and result flushed when `ftz`.
FN_AVX2 static inline __m256 fn_ex2_argument(__m256 x, __m256 a, __m256 b, int fused, int ftz) {
  if (ftz) x = fn_flushed(x);
  if (fused) {
    __m256 r = _mm256_fmadd_ps(x, a, b);
    return ftz ? fn_flushed(r) : r;
  }
  __m256 product = _mm256_mul_ps(x, a);
  if (ftz) product = fn_flushed(product);
  __m256 r = _mm256_add_ps(product, b);
  return ftz ? fn_flushed(r) : r;
}

// What the exported loops compute per lane.
enum { FN_EX2, FN_EX2_OF_ARGUMENT, FN_MULTIPLY };

// One operation on eight lanes; `a`, `b` already flushed when `ftz`.
FN_AVX2 static inline __m256 fn_softmax_lanes(__m256 x, const int op, __m256 a, __m256 b, int fused, int ftz, const uint32_t *table) {
  switch (op) {
  case FN_EX2: return fn_ex2_lanes(x, table);
  case FN_EX2_OF_ARGUMENT: return fn_ex2_lanes(fn_ex2_argument(x, a, b, fused, ftz), table);
  default: return ftz ? fn_flushed(_mm256_mul_ps(fn_flushed(x), a)) : _mm256_mul_ps(x, a);
  }
}

// y[i] = op(x[i]) for i < n, eight at a time; the tail through the same lanes, padded with zeros.
FN_AVX2 static inline void fn_softmax_loop(const float *x, float *y, long n, const int op, float a, float b, int fused, int ftz,
                                           const uint32_t *table) {
  __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  if (ftz) {
    va = fn_flushed(va);
    vb = fn_flushed(vb);
  }
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, fn_softmax_lanes(_mm256_loadu_ps(x + i), op, va, vb, fused, ftz, table));
  if (i < n) {
    float in[8] = {0}, out[8];
    memcpy(in, x + i, (size_t)(n - i) * sizeof(float));
    _mm256_storeu_ps(out, fn_softmax_lanes(_mm256_loadu_ps(in), op, va, vb, fused, ftz, table));
    memcpy(y + i, out, (size_t)(n - i) * sizeof(float));
  }
}

FN_AVX2 void fn_mufu_ex2(const float *x, float *y, long n, const uint32_t *table) {
  fn_softmax_loop(x, y, n, FN_EX2, 0, 0, 0, 0, table);
}

FN_AVX2 void fn_mufu_ex2_multiply_add(const float *x, float *y, long n, float a, float b, int fused, int ftz, const uint32_t *table) {
  fn_softmax_loop(x, y, n, FN_EX2_OF_ARGUMENT, a, b, fused, ftz, table);
}

FN_AVX2 void fn_multiply_lanes(float *x, long n, float s, int ftz) {
  fn_softmax_loop(x, x, n, FN_MULTIPLY, s, 0, 0, ftz, 0);
}

#else

void fn_multiply_lanes(float *x, long n, float s, int ftz) {
  (void)x; (void)n; (void)s; (void)ftz;
}

void fn_mufu_ex2(const float *x, float *y, long n, const uint32_t *table) {
  (void)x; (void)y; (void)n; (void)table;
}

void fn_mufu_ex2_multiply_add(const float *x, float *y, long n, float a, float b, int fused, int ftz, const uint32_t *table) {
  (void)x; (void)y; (void)n; (void)a; (void)b; (void)fused; (void)ftz; (void)table;
}

#endif
