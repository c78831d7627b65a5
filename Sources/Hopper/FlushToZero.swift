import LowPrecision
/// FP32 CUDA-core arithmetic in the `.ftz` forms that `--use_fast_math` kernels issue
/// (`FADD.FTZ`, `FMUL.FTZ`, `FFMA.FTZ`): IEEE binary32 with round-to-nearest-even, except that a
/// subnormal operand is read as a zero of the same sign and a subnormal result (after rounding)
/// is written as a zero of the same sign.
public enum FlushToZero {
  /// `a ⊕ b`.
  @inline(__always)
  public static func add(_ a: Float, _ b: Float) -> Float {
    MUFU.flushed(MUFU.flushed(a) + MUFU.flushed(b))
  }

  /// `a ⊗ b`.
  @inline(__always)
  public static func multiply(_ a: Float, _ b: Float) -> Float {
    MUFU.flushed(MUFU.flushed(a) * MUFU.flushed(b))
  }

  /// `fma(a, b, c) = a·b + c` with one rounding.
  @inline(__always)
  public static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
    MUFU.flushed(MUFU.flushed(c).addingProduct(MUFU.flushed(a), MUFU.flushed(b)))
  }
}
