#!/usr/bin/env python3
"""SHA-256 fingerprints of ml_dtypes' float32 -> {e4m3fn, e5m2, bf16, fp16} conversion tables.

For every one of the 2^32 float32 bit patterns, in increasing order, the code ml_dtypes (numpy
for fp16) gives with round-to-nearest-even. The table is cut into 256 chunks of 2^24 inputs;
the fingerprint is SHA-256 of the concatenated SHA-256 digests of the chunks' codes (uint8 or
little-endian uint16). Two documented adjustments:

- NaN outputs are replaced by the canonical NaN with the output's sign (0x7F/0xFF for e4m3fn,
  0x7E/0xFE for e5m2, 0x7FC0/0xFFC0 for bf16, 0x7E00/0xFE00 for fp16). ml_dtypes already does
  this except for fp16, where numpy keeps part of the NaN payload.
- "saturate": the same table with finite overflow and +-inf mapped to +-max finite
  (as CUDA cvt.rn.satfinite); NaN stays NaN.

Usage: python3 Scripts/fingerprints.py  (needs numpy and ml_dtypes; about a minute per table)
Prints one line per table: FORMAT POLICY HEX. The Swift test
Tests/LowPrecisionTests/ExhaustiveEncodingTests.swift holds these values.
"""
import hashlib
import numpy as np
import ml_dtypes

FORMATS = {
    "e4m3fn": (ml_dtypes.float8_e4m3fn, np.uint8, 0x7F, 0x7E, None),
    "e5m2": (ml_dtypes.float8_e5m2, np.uint8, 0x7E, 0x7B, 0x7C),
    "bf16": (ml_dtypes.bfloat16, np.uint16, 0x7FC0, 0x7F7F, 0x7F80),
    "fp16": (np.float16, np.uint16, 0x7E00, 0x7BFF, 0x7C00),
}
CHUNK = 1 << 24


def tables(name):
    dtype, code_t, nan, maxc, inf = FORMATS[name]
    bits = 8 * np.dtype(code_t).itemsize
    sign = code_t(1 << (bits - 1))
    natural, saturated = hashlib.sha256(), hashlib.sha256()
    for c in range((1 << 32) // CHUNK):
        u = np.arange(c * CHUNK, (c + 1) * CHUNK, dtype=np.uint64).astype(np.uint32)
        x = u.view(np.float32)
        with np.errstate(all="ignore"):
            codes = x.astype(dtype).view(code_t).copy()
        neg = (codes & sign) != 0
        y = codes.view(dtype).astype(np.float32)
        isnan = np.isnan(y)
        codes[isnan] = np.where(neg[isnan], code_t(nan) | sign, code_t(nan))
        natural.update(hashlib.sha256(codes.astype("<" + np.dtype(code_t).str[1:]).tobytes()).digest())
        sat = codes.copy()
        over = ~np.isnan(x) & (np.isinf(y) | isnan)  # finite overflow or infinite input
        sat[over] = np.where(neg[over], code_t(maxc) | sign, code_t(maxc))
        saturated.update(hashlib.sha256(sat.astype("<" + np.dtype(code_t).str[1:]).tobytes()).digest())
    return natural.hexdigest(), saturated.hexdigest()


if __name__ == "__main__":
    for name in FORMATS:
        n, s = tables(name)
        natural = "nan" if FORMATS[name][4] is None else "infinity"
        print(name, natural, n, flush=True)
        print(name, "saturate", s, flush=True)
