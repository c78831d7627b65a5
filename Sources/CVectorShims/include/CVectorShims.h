// Lane-wise vector operations that Swift's SIMD types do not lower to single instructions on
// baseline x86-64 (SSE2): Swift's float → integer SIMD conversion is a generic per-lane loop, and
// its lane-wise integer maximum is sometimes scalarized. These `static inline` functions on
// Clang extended vectors (imported by Swift as SIMD4<Float>, SIMD4<Int32>, SIMD8<Int16>) are
// inlined into the Swift callers and compile to one instruction each (cvttps2dq, pmaxsw on
// x86-64; fcvtzs, smax on arm64). Below them, fused multiply-add loops compiled for the CPU's
// FMA instructions (CVectorShims.c), chosen at run time.

#ifndef CVECTORSHIMS_H
#define CVECTORSHIMS_H

#include <stdint.h>

typedef float fn_float4 __attribute__((ext_vector_type(4)));
typedef int32_t fn_int4 __attribute__((ext_vector_type(4)));
typedef int16_t fn_short8 __attribute__((ext_vector_type(8)));

/// Each lane of `x` rounded toward zero to an Int32. Every lane must be finite and below 2^31 in
/// magnitude (the result is unspecified otherwise; x86-64 gives INT32_MIN).
static inline __attribute__((always_inline)) fn_int4 fn_truncate_float4(fn_float4 x) {
  return __builtin_convertvector(x, fn_int4);
}

/// The lane-wise maximum of two Int16 vectors.
static inline __attribute__((always_inline)) fn_short8 fn_maximum_short8(fn_short8 a, fn_short8 b) {
  return a > b ? a : b;
}

/// Fused multiply-add kernels (each `fma` one IEEE 754 fusedMultiplyAdd, rounded once to
/// nearest-even), compiled for the x86-64 FMA3 instructions and called only when
/// `fn_hardware_fma()` is nonzero; the same bits as any correctly rounded `fma` loop in the
/// same order. Each has a `float` form and a `double` one (suffix `_double`).

/// Nonzero when the CPU executes the kernels below in hardware: on x86-64, FMA3 and AVX present
/// and the AVX state enabled by the OS; always on arm64; never elsewhere.
int fn_hardware_fma(void);

/// `acc ← fma(a[i], b[i·bStride], acc)` for i = 0 ..< count, from `acc = initial`.
float fn_fma_chain(float initial, const float *a, const float *b, long count, long bStride);
double fn_fma_chain_double(double initial, const double *a, const double *b, long count, long bStride);

/// `rows` independent chains: `out[r] = fn_fma_chain(0, a, b + r·rowStride, count, 1)`. The
/// chains are interleaved, each still in ascending i.
void fn_fma_chains(const float *a, const float *b, long count, long rows, long rowStride, float *out);
void fn_fma_chains_double(const double *a, const double *b, long count, long rows, long rowStride, double *out);

/// `out[r] = fn_fma_chain(0, a, row r, count, 1)` for the rows of `groups` groups of eight, stored
/// interleaved: element i of row 8g + l at `b[(g·count + i)·8 + l]`. One chain per lane, 32 at once.
void fn_fma_chains8(const float *a, const float *b, long count, long groups, float *out);

/// `o[c] ← fma(p[j], v[j·d + c], o[c])` for j = 0 ..< n in order, for every c < d: n calls of
/// `fn_fma_axpy(o, v + j·d, p[j], d)` in one pass, with 64 channels of `o` kept in registers.
void fn_fma_axpy_rows(float *o, const float *v, const float *p, long n, long d);

/// `o[i] ← fma(p, x[i], o[i])` for i = 0 ..< count (independent lanes, 256 bits at a time).
void fn_fma_axpy(float *o, const float *x, float p, long count);
void fn_fma_axpy_double(double *o, const double *x, double p, long count);

/// Runs `iterations` steps of 96 independent FP32 fused multiply-adds (twelve chains of eight lanes,
/// in registers) and returns a value depending on all of them: the FMA peak of one core is
/// 192·iterations flops over its run time. Only when `fn_hardware_fma()` is nonzero (on x86-64).
float fn_fma_peak(long iterations);

/// Double-word kernels of the certified reference (DoubleWord.c). Each exists as `_fma` (FMA3 and
/// AVX; call only when `fn_hardware_fma()` is nonzero) and `_baseline`; both give the same bits.
/// Pairs are stored `hi, lo` with `|lo| ≤ ulp(hi)/2`. u = 2^-53.

/// Compensated dot product in four lanes (lane l takes the indices ≡ l mod 4; each lane a Sum2 of
/// error-free products, lanes joined by error-free sums): `out[0] + out[1]` ≈ Σ a[i]·b[i] as a
/// normalized pair, `out[2]` = the float sum of |fl(a[i]·b[i])|. Error bound: see
/// ReferenceAttention+DoubleWord.swift.
void fn_dw_dot_fma(const double *a, const double *b, long n, double *out);
void fn_dw_dot_baseline(const double *a, const double *b, long n, double *out);

/// For c < n, one Sum2 step of `sum[c] + err[c] ≈ Σ (ph + pl)·v[c]`: `p = fl(ph·v)` and its exact
/// error, `sum ← two_sum(sum, p)`, `err ← err + ((error of p + error of the sum) + fl(pl·v))`,
/// and `mag[c] += |p|`.
void fn_dw_axpy_fma(double *sum, double *err, double *mag, const double *v, double ph, double pl, long n);
void fn_dw_axpy_baseline(double *sum, double *err, double *mag, const double *v, double ph, double pl, long n);

/// `out[j] = exp(x[j])` for n pairs, in double-word arithmetic; `x[j]` in [-300, 1]. `constants`:
/// see ReferenceAttention+DoubleWord.swift (155 values).
void fn_dw_exps_fma(const double *x, long n, const double *constants, double *out);
void fn_dw_exps_baseline(const double *x, long n, const double *constants, double *out);

/// `out[j] = ((s[j] − m)·(sh + sl))` for n pairs `s[j]`, as normalized pairs: the difference
/// rounded once (relative ≤ u² of it plus ≤ u³ of |s|, |m|), the product by the pair `(sh, sl)`
/// with DWTimesDW3.
void fn_dw_scaled_differences_fma(const double *s, long n, double m, double sh, double sl, double *out);
void fn_dw_scaled_differences_baseline(const double *s, long n, double m, double sh, double sl, double *out);

/// Sixteen chains of wgmma steps (HopperLanes.c), one per lane, sharing their A operand: for step
/// j < `steps`, lane l computes `acc[l] ← step(A[j·k ..< (j+1)·k], B_l[same], C = acc[l])` with
/// A's values `av` and exponents `ae` (HopperOperand's split) contiguous and B interleaved by lane
/// (element i of lane l at `16·i + l`). k is 32 (FP8, F = 13) or 16 (BF16/FP16, F = 25). Returns the
/// steps done; when fewer than `steps`, `acc` holds the state before the next step and `*outside`
/// the lanes whose alignment point leaves [−99, 100] (that step needs the general model). Only
/// when `fn_hardware_avx2()` is nonzero.
long fn_hopper_lane_steps(const float *av, const int16_t *ae, const float *bv, const int16_t *be, long steps, int k,
                          uint32_t *acc, int *outside);

/// `y[i]` = the H100's `ex2.approx.ftz.f32` of `x[i]` for i < n (SoftmaxLanes.c; the Hopper module's
/// `MUFU.ex2` is the definition), `table` its 64 (c0, c1, c2) rows. Only when
/// `fn_hardware_avx2()` is nonzero.
void fn_mufu_ex2(const float *x, float *y, long n, const uint32_t *table);
/// `y[i]` = ex2 of `fma(x[i], a, b)` (`fused`) or of `fl(fl(x[i]·a) + b)`, with every operand
/// and result of the FP32 operations flushed when `ftz` (`FFMA.FTZ`, `FMUL.FTZ`, `FADD.FTZ`).
void fn_mufu_ex2_multiply_add(const float *x, float *y, long n, float a, float b, int fused, int ftz, const uint32_t *table);
/// `x[i] ← x[i] ⊗ s` for i < n, flushed as `FMUL.FTZ` when `ftz`.
void fn_multiply_lanes(float *x, long n, float s, int ftz);

/// The float32 → small-float encoder in every rounding mode (Encode.c), eight lanes with AVX2.
/// A format is described by the fields below (filled from `FloatFormat` and one `Rounding`; the
/// specials' codes are the generic encoder's own); it must be signed, with subnormals, with a NaN,
/// or be e8m0 (`unsigned_exponent_only`: unsigned, no subnormals, no fraction, bias 127).
typedef enum {
  FN_ROUND_NEAREST_EVEN = 0, FN_ROUND_NEAREST_AWAY, FN_ROUND_TOWARD_ZERO, FN_ROUND_UP, FN_ROUND_DOWN,
  FN_ROUND_ODD, FN_ROUND_STOCHASTIC
} fn_round_mode;

typedef struct {
  uint32_t fraction_bits;         ///< f
  uint32_t min_normal_exponent;   ///< float32 biased exponent of the least normal binade (1 − bias + 127)
  uint32_t max_finite_magnitude;  ///< the largest finite code, sign cleared
  uint32_t sign_mask;             ///< the code's sign bit
  uint32_t has_negative_zero;     ///< 0: a result that rounds to zero is +0
  uint32_t nan_code[2];           ///< the code of +NaN, −NaN
  uint32_t infinity_code[2];      ///< the code of +∞, −∞
  uint32_t overflow_code[2];      ///< the code of a positive, negative finite overflow
  int32_t mode;                   ///< fn_round_mode
  uint32_t random_bits;           ///< B (1...32), stochastic only
  uint64_t seed;                  ///< the random stream's seed, stochastic only
  int32_t code_bytes;             ///< 1 or 2: the width of each stored code
  int32_t unsigned_exponent_only; ///< 1 for e8m0 (nan_code[1] is then the code of negative and zero inputs)
} fn_encode_traits;

/// Nonzero when the CPU has AVX2, F16C and FMA3 with the YMM state enabled.
int fn_hardware_avx2(void);

/// `dst[i]` = the code of `src[i]`, i < n; stochastic rounding uses the random word of element
/// `first_index + i`: SplitMix64's finalizer of `seed + (first_index + i + 1)·0x9E3779B97F4A7C15`,
/// low B bits. Only when `fn_hardware_avx2()` is nonzero.
/// bf16 (`fp16` = 0) or fp16 (`fp16` = 1) codes → float32, exact; NaN codes give the canonical
/// quiet NaN with their sign. Only when `fn_hardware_avx2()` is nonzero.
void fn_vector_decode16(const uint16_t *src, float *dst, long n, int fp16);

void fn_vector_encode(const float *src, void *dst, long n, const fn_encode_traits *traits, uint64_t first_index);

#endif
