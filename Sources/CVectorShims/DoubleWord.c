// Double-word ("double-double") kernels of the certified reference, declared in
// include/CVectorShims.h. Each is written once as an always-inline body and compiled twice: for
// the CPU's FMA3/AVX instructions (called when fn_hardware_fma() is nonzero) and for baseline
// x86-64. Every operation is an IEEE 754 operation rounded to nearest-even and no two are ever
// contracted (the pragma below), and the fused multiply-adds only form error-free products, so
// the two builds give the same bits.

#pragma STDC FP_CONTRACT OFF

#include "CVectorShims.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#define FN_DW_FMA __attribute__((target("avx,fma")))
#else
#define FN_DW_FMA
#endif
#define FN_INLINE static inline __attribute__((always_inline))

typedef double fn_double4 __attribute__((ext_vector_type(4)));

// Unaligned loads and stores of four doubles (macros: a vector-typed function outside the AVX
// build would change the calling convention).
#define fn_load4(p) ({ fn_double4 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define fn_store4(p, v) do { fn_double4 w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

// Error-free transformations. two_sum: s + e = a + b exactly (Knuth, any magnitudes);
// fast_two_sum: the same when |a| ≥ |b| or a = 0 (Dekker); two_prod: p + e = a·b exactly
// (barring underflow of e).
#define FN_TWO_SUM(s, e, a, b) do { s = (a) + (b); __typeof__(s) z_ = s - (a); \
  e = ((a) - (s - z_)) + ((b) - z_); } while (0)
#define FN_FAST_TWO_SUM(s, e, a, b) do { s = (a) + (b); e = (b) - (s - (a)); } while (0)

// ---- Compensated dot product (Dot2 in four lanes) ----------------------------------------------

FN_INLINE void dw_dot(const double *a, const double *b, long n, double *out) {
  fn_double4 s = 0, e = 0, m = 0;
  long i = 0;
  for (; i < n; i += 4) {
    fn_double4 x = 0, y = 0;
    if (i + 4 <= n) { x = fn_load4(a + i); y = fn_load4(b + i); }
    else { for (long l = 0; i + l < n; l++) { x[l] = a[i + l]; y[l] = b[i + l]; } }
    fn_double4 p = x * y;
    fn_double4 pe = __builtin_elementwise_fma(x, y, -p);
    fn_double4 t, se;
    FN_TWO_SUM(t, se, s, p);
    s = t;
    e = e + (pe + se);
    m = m + __builtin_elementwise_abs(p);
  }
  double t01, e01, t23, e23, t, et, hi, lo;
  FN_TWO_SUM(t01, e01, s[0], s[1]);
  FN_TWO_SUM(t23, e23, s[2], s[3]);
  FN_TWO_SUM(t, et, t01, t23);
  double err = ((e[0] + e[1]) + (e[2] + e[3])) + ((e01 + e23) + et);
  FN_TWO_SUM(hi, lo, t, err);
  out[0] = hi;
  out[1] = lo;
  out[2] = (m[0] + m[1]) + (m[2] + m[3]);
}

// ---- Scaled accumulation (one Sum2 step per lane) ----------------------------------------------

FN_INLINE void dw_axpy(double *sum, double *err, double *mag, const double *v, double ph, double pl, long n) {
  long c = 0;
  const fn_double4 h = ph, l = pl;
  for (; c + 4 <= n; c += 4) {
    fn_double4 x = fn_load4(v + c), s = fn_load4(sum + c);
    fn_double4 p = h * x;
    fn_double4 pe = __builtin_elementwise_fma(h, x, -p);
    fn_double4 t, se;
    FN_TWO_SUM(t, se, s, p);
    fn_store4(sum + c, t);
    fn_store4(err + c, fn_load4(err + c) + ((pe + se) + l * x));
    fn_store4(mag + c, fn_load4(mag + c) + __builtin_elementwise_abs(p));
  }
  for (; c < n; c++) {
    double x = v[c], s = sum[c];
    double p = ph * x;
    double pe = __builtin_fma(ph, x, -p);
    double t, se;
    FN_TWO_SUM(t, se, s, p);
    sum[c] = t;
    err[c] = err[c] + ((pe + se) + pl * x);
    mag[c] = mag[c] + fabs(p);
  }
}

// ---- Double-word arithmetic on normalized pairs (|lo| ≤ ulp(hi)/2) -----------------------------

typedef struct { double hi, lo; } dw;

// AccurateDWPlusDW (Joldes, Muller, Popescu 2017, Algorithm 6): relative error ≤ 3u²/(1 − 4u).
FN_INLINE dw dw_add(dw x, dw y) {
  double sh, sl, th, tl, vh, vl;
  FN_TWO_SUM(sh, sl, x.hi, y.hi);
  FN_TWO_SUM(th, tl, x.lo, y.lo);
  double c = sl + th;
  FN_FAST_TWO_SUM(vh, vl, sh, c);
  double w = tl + vl;
  dw z;
  FN_FAST_TWO_SUM(z.hi, z.lo, vh, w);
  return z;
}

// DWTimesDW3 (same paper, Algorithm 12, with FMA): relative error below 4u²; the bounds of the
// reference use 5u².
FN_INLINE dw dw_mul(dw x, dw y) {
  double ch = x.hi * y.hi;
  double cl1 = __builtin_fma(x.hi, y.hi, -ch);
  double tl0 = x.lo * y.lo;
  double tl1 = __builtin_fma(x.hi, y.lo, tl0);
  double cl2 = __builtin_fma(x.lo, y.hi, tl1);
  double cl3 = cl1 + cl2;
  dw z;
  FN_FAST_TWO_SUM(z.hi, z.lo, ch, cl3);
  return z;
}

// ---- exp in double-word arithmetic -------------------------------------------------------------

FN_INLINE dw dw_exp(dw x, const double *k) {
  // k: [0] 64/ln 2, [1..2] ln2/64 as a pair, [3..26] 1/n! for n = 0 ..< 12 as pairs,
  // [27..154] 2^(i/64) for i = 0 ..< 64 as pairs.
  double kk = nearbyint(x.hi * k[0]);
  dw kl = dw_mul((dw){kk, 0}, (dw){k[1], k[2]});
  dw r = dw_add(x, (dw){-kl.hi, -kl.lo});
  dw h = {k[3 + 2 * 11], k[4 + 2 * 11]};
  for (int n = 10; n >= 0; n--) h = dw_add(dw_mul(h, r), (dw){k[3 + 2 * n], k[4 + 2 * n]});
  long q = (long)kk;
  long i = q & 63, e = (q - i) / 64;
  dw t = dw_mul((dw){k[27 + 2 * i], k[28 + 2 * i]}, h);
  double scale = ldexp(1.0, (int)e);
  t.hi *= scale;
  t.lo *= scale;
  return t;
}

FN_INLINE void dw_exps(const double *x, long n, const double *constants, double *out) {
  for (long j = 0; j < n; j++) {
    dw e = dw_exp((dw){x[2 * j], x[2 * j + 1]}, constants);
    out[2 * j] = e.hi;
    out[2 * j + 1] = e.lo;
  }
}

FN_INLINE void dw_scaled_differences(const double *s, long n, double m, double sh, double sl, double *out) {
  for (long j = 0; j < n; j++) {
    // (s_hi − m) + s_lo as a normalized pair: the first two steps are exact, the last rounds once.
    double t, tau, a, b, dh, c;
    FN_TWO_SUM(t, tau, s[2 * j], -m);
    FN_TWO_SUM(a, b, tau, s[2 * j + 1]);
    FN_TWO_SUM(dh, c, t, a);
    dw d;
    FN_TWO_SUM(d.hi, d.lo, dh, c + b);
    dw p = dw_mul(d, (dw){sh, sl});
    out[2 * j] = p.hi;
    out[2 * j + 1] = p.lo;
  }
}

// ---- The two builds ----------------------------------------------------------------------------

#define FN_DW_BUILD(ATTR, S)                                                                       \
  ATTR void fn_dw_dot##S(const double *a, const double *b, long n, double *out) {                 \
    dw_dot(a, b, n, out);                                                                          \
  }                                                                                                \
  ATTR void fn_dw_axpy##S(double *sum, double *err, double *mag, const double *v, double ph,      \
                          double pl, long n) {                                                     \
    dw_axpy(sum, err, mag, v, ph, pl, n);                                                          \
  }                                                                                                \
  ATTR void fn_dw_exps##S(const double *x, long n, const double *constants, double *out) {        \
    dw_exps(x, n, constants, out);                                                                 \
  }                                                                                                \
  ATTR void fn_dw_scaled_differences##S(const double *s, long n, double m, double sh, double sl,  \
                                        double *out) {                                             \
    dw_scaled_differences(s, n, m, sh, sl, out);                                                   \
  }

FN_DW_BUILD(FN_DW_FMA, _fma)
FN_DW_BUILD(, _baseline)
