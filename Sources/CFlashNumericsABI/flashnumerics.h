/*
 * flashnumerics.h — the C ABI of libFlashNumericsC.so (FlashNumerics' emulated number formats,
 * the FA3 forward kernel's bit-exact twin, emulated attention schemes, the MPFR reference and
 * error metrics). The Python package `flashnumerics` builds its ctypes binding from this file.
 *
 * Conventions
 *  - A call with more than a few inputs takes them in one struct declared here (fields by name,
 *    so an argument cannot be swapped unnoticed); outputs follow it as pointers.
 *  - Arrays are C-order and caller-allocated; sizes are int64_t element counts.
 *    Q is (batch, seqlen_q, heads, head_dim); K is (batch, seqlen_k, kv_heads, head_dim);
 *    V is (batch, seqlen_k, kv_heads, head_dim_v); O is like Q with head_dim_v;
 *    LSE is (batch, heads, seqlen_q), natural log, float32.
 *  - Codes (format bit patterns) travel as uint32_t (fn_encode from doubles, fn_decode, fn_mma)
 *    or at the format's width; for the FA3 kernel as uint16_t (bf16/fp16 bits, or e4m3fn bytes in
 *    the low 8 bits).
 *  - A softmax_scale of 0 means the default 1/sqrt(head_dim); any other value must be finite and
 *    in [2^-126, FLT_MAX/log2(e)] (NaN is refused). A window side < 0 is unbounded.
 *  - Functions returning int32_t return 0 on success and 2 on bad input; then fn_last_error()
 *    gives the calling thread's one-line message (the text `flashnum` prints after
 *    "flashnum: error: "). No input aborts the process: sizes are checked against the limits
 *    (fn_get_limits) with overflow-checked products before anything is allocated; a limit
 *    variable that is set but malformed fails every call, as it fails every command.
 *  - Strings returned as `char *` are malloc'd: release them with fn_free. NULL means an error.
 *  - Results do not depend on `threads` (1...4096).
 *  - Layout: one field per line, `TYPE NAME;`, so that the Python binding can read this file.
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

/* The resource limits in force: FLASHNUM_MAX_TENSOR_ELEMENTS and FLASHNUM_MAX_GRID_POINTS, or
 * their defaults (2^28 and 10^6). */
typedef struct fn_limits {
  int64_t tensor_elements;
  int64_t grid_points;
} fn_limits;
int32_t fn_get_limits(fn_limits *out);

/* The layout of every struct below as JSON ({"NAME": {"size": S, "fields": {"FIELD": {"offset": O,
 * "type": T}, ...}}, ...}; T is the type Swift imported the field as), as the library was
 * compiled: a binding checks its own layout and field types against it. */
char *fn_abi_layout_json(void);

/* ---- Formats and conversions ---- */

char *fn_formats_json(void);

/* Rounds `count` values to `format` once. Either value_bits 64 (double values) with code_bits 32
 * (one uint32 code each), or value_bits 32 (float values) with code_bits 8 (formats of <= 8
 * bits) or 16 (up to 16 bits; the vectorized kernels). */
typedef struct fn_encode_args {
  const char *format;
  const char *rounding;    /* nearest-even (NULL), nearest-away, toward-zero, up, down, odd, stochastic */
  const char *overflow;    /* nan, infinity, saturate; NULL: the format's own */
  uint64_t seed;           /* stochastic rounding: element i uses random word i of this seed */
  int32_t random_bits;     /* stochastic rounding: 1...32; otherwise 0 */
  int32_t value_bits;
  const void *values;
  int64_t count;
  int32_t code_bits;
  int32_t threads;
} fn_encode_args;
int32_t fn_encode(const fn_encode_args *args, void *codes);

int32_t fn_decode(const char *format, const uint32_t *codes, int64_t count, double *out);

/* One emulated H100 MMA per tile: A (tiles, m, k), B (tiles, n, k) codes of the instruction's
 * input formats, C and D (tiles, m, n) FP32 bit patterns. */
typedef struct fn_mma_args {
  const char *instruction;
  int64_t tiles;
  int64_t m;
  int64_t n;
  int64_t k;
  const uint32_t *a;
  const uint32_t *b;
  const uint32_t *c;
} fn_mma_args;
int32_t fn_mma(const fn_mma_args *args, uint32_t *d);

int32_t fn_mufu(const char *function, const float *x, int64_t count, float *out);

/* ---- Attention ---- */

/* The sizes of one attention call. head_dim_v <= 0 means head_dim. For the varlen kernel
 * (fn_flash_attn_varlen) batch counts the sequences and seqlen_q / seqlen_k are the totals of
 * the packed Q and K. */
typedef struct fn_shape {
  int64_t batch;
  int64_t seqlen_q;
  int64_t seqlen_k;
  int64_t heads;
  int64_t kv_heads;
  int64_t head_dim;
  int64_t head_dim_v;
} fn_shape;

/* The FlashAttention-3 forward kernel, bit for bit, on codes (uint16 each). */
typedef struct fn_kernel_args {
  const char *element;             /* bf16, fp16 or e4m3fn */
  fn_shape shape;
  const uint16_t *q;
  const uint16_t *k;
  const uint16_t *v;
  const float *q_descale;          /* e4m3fn: (batch, kv_heads) float32; NULL: 1 */
  const float *k_descale;
  const float *v_descale;
  int32_t causal;
  double softmax_scale;
  double softcap;                  /* 0: off; > 0: softcap*tanh(score*scale/softcap), finite in float32 */
  int32_t num_splits;              /* 1: none; 0: the kernel's heuristic; up to 256 */
  const int32_t *cache_seqlens;    /* fn_flash_attn: (batch,) keys used per entry; NULL: all */
  const int32_t *cu_seqlens_q;     /* fn_flash_attn_varlen: (batch + 1,) sequence starts */
  const int32_t *cu_seqlens_k;
  int64_t max_seqlen_q;            /* fn_flash_attn_varlen: as passed to the kernel; 0: the longest */
  int64_t max_seqlen_k;
  int32_t sm_count;                /* the GPU's SMs, for the split heuristics */
  const char *schedule;            /* NULL or "": the kernel's; else "NAME=VALUE;NAME=VALUE" */
  int32_t threads;
} fn_kernel_args;
/* out: O's bits (like Q, head_dim_v); lse: (batch, heads, seqlen_q). Refuses cu_seqlens. */
int32_t fn_flash_attn(const fn_kernel_args *args, uint16_t *out, float *lse);
/* out: (total_q, heads, head_dim_v); lse: (heads, total_q). Refuses cache_seqlens. */
int32_t fn_flash_attn_varlen(const fn_kernel_args *args, uint16_t *out, float *lse);

/* Emulated attention of value inputs (float64). fn_reference and fn_attribute_json read the
 * fields they need (fn_reference ignores scheme, algorithm and rotation_seed; fn_attention ignores
 * precision_bits). */
typedef struct fn_attention_args {
  const char *scheme;
  const char *algorithm;           /* NULL: blocked */
  fn_shape shape;                  /* head_dim_v must be head_dim or <= 0 */
  const double *q;
  const double *k;
  const double *v;
  int32_t causal;
  int64_t window_left;
  int64_t window_right;
  int32_t top_left;                /* 0: causal/window aligned bottom-right (FlashAttention); 1: top-left (PyTorch SDPA) */
  const double *bias;              /* NULL, or an additive score bias (0 / -inf for a boolean mask) */
  int64_t bias_count;              /* elements readable at bias */
  int64_t bias_stride_batch;       /* element strides of the bias over (batch, heads, seqlen_q, seqlen_k); */
  int64_t bias_stride_head;        /* each >= 0, 0 broadcasts the axis */
  int64_t bias_stride_query;
  int64_t bias_stride_key;
  double softmax_scale;
  uint64_t rotation_seed;          /* draws a random rotation (the -hadamard schemes); others ignore it */
  int32_t precision_bits;          /* MPFR precision of the reference: 24...8192 */
  int32_t threads;
} fn_attention_args;
/* out: O's values (each a value of the scheme's output format). */
int32_t fn_attention(const fn_attention_args *args, double *out);
/* out: the doubles nearest the MPFR outputs; certified_bits: the least number of correct leading
 * bits over all outputs (the rigorous error bound). */
int32_t fn_reference(const fn_attention_args *args, double *out, int32_t *certified_bits);
/* {"metrics": {...}, "attribution": [{"stage", "rmse_with_stage_exact", "contribution"}, ...]} */
char *fn_attribute_json(const fn_attention_args *args);

/* Error metrics of `count` outputs against a reference as a JSON object (non-finite numbers as
 * the strings "inf", "-inf", "nan"); with a format name also max_ulp and mean_ulp. */
char *fn_metrics_json(int64_t count, const double *output, const double *reference, const char *format);

/* The inputs of a crosscheck case (the keys of a case.json file). */
typedef struct fn_case_args {
  const char *element;
  fn_shape shape;
  int32_t causal;
  const char *distribution;        /* sparse-outliers (the FA3 paper's inputs) or gaussian; NULL: sparse-outliers */
  int32_t hadamard;
  uint64_t seed;
  int64_t nan_codes;
} fn_case_args;
typedef struct fn_case_outputs {
  uint16_t *q;
  uint16_t *k;
  uint16_t *v;
  float *q_descale;                /* e4m3fn only; (batch, kv_heads) */
  float *k_descale;
  float *v_descale;
} fn_case_outputs;
int32_t fn_fa3_case_inputs(const fn_case_args *args, const fn_case_outputs *out);

/* The FA3 paper's Table 3 on the emulator for one input and rotation seed (`flashnum table paper-rmse
 * --seeds S --rotation-seeds S --json`). reference_bits: 0 the FP64 reference (uncertified),
 * -1 the double-word one, else MPFR bits in 24...8192. */
typedef struct fn_table_args {
  int64_t batch;
  int64_t seq_len;
  int64_t heads;
  int64_t head_dim;
  uint64_t seed;
  int32_t reference_bits;
  int32_t threads;
} fn_table_args;
char *fn_table_paper_rmse_json(const fn_table_args *args);

#ifdef __cplusplus
}
#endif
#endif
