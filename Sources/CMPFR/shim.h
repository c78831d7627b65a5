#ifndef FLASHNUM_CMPFR_SHIM_H
#define FLASHNUM_CMPFR_SHIM_H
#include <stdio.h>
#include <gmp.h>
#include <mpfr.h>

/* mpfr_sgn is a macro in mpfr.h; expose it as a function. */
static inline int fn_mpfr_sgn(mpfr_srcptr x) { return mpfr_sgn(x); }
/* The exponent range limits are macros or functions depending on the build. */
static inline long fn_mpfr_emin_min(void) { return (long)mpfr_get_emin_min(); }
static inline long fn_mpfr_emax_max(void) { return (long)mpfr_get_emax_max(); }
static inline long fn_mpfr_prec_min(void) { return (long)MPFR_PREC_MIN; }
static inline long fn_mpfr_prec_max(void) { return (long)MPFR_PREC_MAX; }
/* Decimal text with `digits` significant digits (mpfr_snprintf is variadic). */
static inline int fn_mpfr_format(char *buffer, size_t size, int digits, mpfr_srcptr x) {
  return mpfr_snprintf(buffer, size, "%.*Re", digits, x);
}
/* r = ±Σ words[i]·2^(32·i + exponent), rounded once (words little-endian, 32 bits each). */
static inline int fn_mpfr_set_words(mpfr_ptr r, const unsigned int *words, size_t count, long exponent,
                                    int negative, mpfr_rnd_t rnd) {
  mpz_t z;
  mpz_init(z);
  mpz_import(z, count, -1, sizeof(unsigned int), 0, 0, words);
  if (negative) mpz_neg(z, z);
  int t = mpfr_set_z_2exp(r, z, exponent, rnd);
  mpz_clear(z);
  return t;
}
#endif
