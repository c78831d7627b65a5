/*
 * flashnumerics.h — the C ABI of libFlashNumericsC.so (FlashNumerics' emulated number formats,
 * the FA3 forward kernel's bit-exact twin, emulated attention schemes, the MPFR reference and
 * error metrics). The Python package `flashnumerics` calls it through ctypes.
 *
 * Conventions
 *  - Arrays are C-order and caller-allocated; sizes are int64_t element counts.
 *    Q is (batch, seqlen_q, heads, head_dim); K and V are (batch, seqlen_k, kv_heads, head_dim);
 *    O is like Q; LSE is (batch, heads, seqlen_q), natural log, float32.
 *  - Codes (format bit patterns) travel as uint32_t (fn_encode, fn_decode, fn_mma) or, for the
 *    FA3 kernel, uint16_t (bf16/fp16 bits, or e4m3fn bytes in the low 8 bits).
 *  - A softmax_scale of NaN means the default 1/sqrt(head_dim); a window side < 0 is unbounded.
 *  - Functions returning int32_t return 0 on success and 2 on bad input; then fn_last_error()
 *    gives the calling thread's one-line message (the text `flashnum` prints after
 *    "flashnum: error: "). No input aborts the process: sizes are checked against the
 *    library's limits (FLASHNUM_MAX_TENSOR_ELEMENTS) before anything is allocated.
 *  - Strings returned as `char *` are malloc'd: release them with fn_free.
 *  - Results do not depend on `threads` (1...4096).
 */
#ifndef FLASHNUMERICS_H
#define FLASHNUMERICS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char *fn_version(void);
const char *fn_last_error(void);
void fn_free(char *p);
/* The most elements one tensor may hold (FLASHNUM_MAX_TENSOR_ELEMENTS, default 2^28). */
int64_t fn_tensor_limit(void);

/* Formats and conversions. */
char *fn_formats_json(void);
int32_t fn_encode(const char *format, const char *rounding, const char *overflow, uint64_t seed, int32_t random_bits,
                  const double *x, int64_t n, uint32_t *codes, int32_t threads);
/* As fn_encode from float32 values; codes are uint8 (formats of <= 8 bits) or uint16. */
int32_t fn_encode_f32(const char *format, const char *rounding, const char *overflow, uint64_t seed, int32_t random_bits,
                      const float *x, int64_t n, void *codes, int32_t threads);
int32_t fn_decode(const char *format, const uint32_t *codes, int64_t n, double *out);
int32_t fn_mma(const char *instruction, int64_t t, int64_t m, int64_t n, int64_t k, const uint32_t *a, const uint32_t *b,
               const uint32_t *c, uint32_t *d);
int32_t fn_mufu(const char *function, const float *x, int64_t n, float *out);

/* Attention. */
int32_t fn_flash_attn(const char *element, int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int64_t heads, int64_t kv_heads,
                      int64_t head_dim, int64_t head_dim_v, const uint16_t *q, const uint16_t *k, const uint16_t *v, const float *q_descale,
                      const float *k_descale, const float *v_descale, int32_t causal, double softmax_scale, double softcap,
                      int32_t num_splits,
                      const int32_t *cache_seqlens, int32_t sm_count, const char *schedule, int32_t threads, uint16_t *out,
                      float *lse);
int32_t fn_flash_attn_varlen(const char *element, int64_t batch, int64_t total_q, int64_t total_k, int64_t heads, int64_t kv_heads,
                             int64_t head_dim, int64_t head_dim_v, const int32_t *cu_seqlens_q, const int32_t *cu_seqlens_k,
                             int64_t max_seqlen_q, int64_t max_seqlen_k, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                             const float *q_descale, const float *k_descale, const float *v_descale, int32_t causal,
                             double softmax_scale, double softcap, int32_t num_splits, int32_t sm_count, const char *schedule, int32_t threads,
                             uint16_t *out, float *lse);
int32_t fn_attention(const char *scheme, const char *algorithm, int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int64_t heads,
                     int64_t kv_heads, int64_t head_dim, const double *q, const double *k, const double *v, int32_t causal,
                     int64_t window_left, int64_t window_right, double softmax_scale, uint64_t rotation_seed, int32_t threads, double *out);
int32_t fn_reference(int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int64_t heads, int64_t kv_heads, int64_t head_dim,
                     const double *q, const double *k, const double *v, int32_t causal, int64_t window_left, int64_t window_right,
                     double softmax_scale, int32_t precision_bits, int32_t threads, double *out, int32_t *certified_bits);
char *fn_metrics_json(int64_t n, const double *output, const double *reference, const char *format);
char *fn_attribute_json(const char *scheme, const char *algorithm, int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int64_t heads,
                        int64_t kv_heads, int64_t head_dim, const double *q, const double *k, const double *v, int32_t causal,
                        int64_t window_left, int64_t window_right, double softmax_scale, uint64_t rotation_seed, int32_t precision_bits,
                        int32_t threads);
int32_t fn_fa3_case_inputs(const char *element, int64_t head_dim, int64_t head_dim_v, int64_t seqlen_q, int64_t seqlen_k,
                           int64_t batch, int64_t heads, int64_t kv_heads, int32_t causal, const char *distribution, int32_t hadamard,
                           uint64_t seed, int64_t nan_codes, uint16_t *q, uint16_t *k, uint16_t *v, float *q_descale,
                           float *k_descale, float *v_descale);
char *fn_table_fa3_json(int64_t batch, int64_t seqlen, int64_t heads, int64_t head_dim, uint64_t seed, int32_t reference_bits,
                        int32_t threads);

#ifdef __cplusplus
}
#endif
#endif
