/// How a dot product `c + Σ a[i]·b[i]` is accumulated (the CUDA-core / reference models; the
/// H100 tensor-core models are ``HopperInstruction``).
///
/// Every model takes its operands exactly as given (FP32 models take `Float` operands: a
/// value that is not an FP32 number must be rounded to FP32 by the caller first) and states
/// where it rounds:
///
/// | model | rounding |
/// |---|---|
/// | `fp32Sequential` | `acc ← fma32(a[i], b[i], acc)` for i ascending, starting from `c`: one RNE rounding per term (the product is never rounded on its own) |
/// | `fp32Pairwise` | products rounded to FP32 (RNE), summed in a balanced binary tree of FP32 additions (halves of ⌈n/2⌉ and ⌊n/2⌋ terms), then `c ⊕ tree` |
/// | `fp32Exact` | `c + Σ a[i]·b[i]` computed exactly (``ExactAccumulator``) and rounded once to FP32 (RNE) |
/// | `fp64` | `acc ← fma64(a[i], b[i], acc)` for i ascending, in `Double` |
public enum Accumulation: String, CaseIterable, Sendable {
  case fp32Sequential = "fp32-sequential"
  case fp32Pairwise = "fp32-pairwise"
  case fp32Exact = "fp32-exact"
  case fp64

  /// Whether the model works on FP32 operands (all but `fp64`).
  public var isFP32: Bool { self != .fp64 }

  /// `initial + Σ_{i<count} a[i] · b[i·bStride]` under this model (an FP32 model).
  @inlinable
  public func dot(initial: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                  count: Int, bStride: Int = 1) -> Float {
    switch self {
    case .fp32Sequential, .fp64:
      return FusedMultiplyAdd.chain(initial: initial, a, b, count: count, bStride: bStride)
    case .fp32Pairwise:
      if count == 0 { return initial }
      return initial + Self.pairwise(a, b, 0, count, bStride)
    case .fp32Exact:
      var acc = ExactAccumulator()
      acc.add(Double(initial))
      for i in 0..<count { acc.addProduct(Double(a[i]), Double(b[i * bStride])) }
      return acc.float()
    }
  }

  @usableFromInline
  static func pairwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ start: Int, _ count: Int,
                       _ bStride: Int) -> Float {
    if count == 1 { return a[start] * b[start * bStride] }
    let left = (count + 1) / 2
    return pairwise(a, b, start, left, bStride) + pairwise(a, b, start + left, count - left, bStride)
  }
}
