import LowPrecision
import CVectorShims
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

/// The same operations on several lanes at once.
extension FlushToZero {
  /// `a ⊕ b` in every lane.
  @inlinable @inline(__always)
  public static func add(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { flushed4(flushed4(a) + flushed4(b)) }

  /// `x[i] ← x[i] ⊗ s` for every element (``multiply(_:_:)``, or IEEE `*` when not
  /// `flushSubnormals`): eight at a time in AVX2 lanes when the CPU has it (CVectorShims'
  /// SoftmaxLanes.c) and `vector`, else one by one; the same bits.
  public static func multiply(_ x: UnsafeMutableBufferPointer<Float>, by s: Float, flushSubnormals: Bool, vector: Bool = true) {
    guard vector && HopperStepPath.fastest == .avx2, let base = x.baseAddress else {
      for i in x.indices { x[i] = flushSubnormals ? multiply(x[i], s) : x[i] * s }
      return
    }
    fn_multiply_lanes(base, x.count, s, flushSubnormals ? 1 : 0)
  }

  /// `x` with subnormal lanes replaced by zeros of the same sign (zero exponent field: ±0 stays).
  @inlinable @inline(__always)
  static func flushed4(_ x: SIMD4<Float>) -> SIMD4<Float> {
    let bits = unsafeBitCast(x, to: SIMD4<UInt32>.self)
    let subnormal = (bits & 0x7F80_0000) .== 0
    return unsafeBitCast(bits.replacing(with: bits & 0x8000_0000, where: subnormal), to: SIMD4<Float>.self)
  }
}
