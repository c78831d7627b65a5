import Attention
import Reference

/// What a measured point's output is compared with: the exact attention of the unquantized
/// inputs, computed one of three ways. Every command (sweep, table, regress, crosscheck) computes
/// it through ``compute(_:options:)``, so the same inputs give the same reference bits.
public enum ReferenceSpec: Hashable, Sendable {
  /// The MPFR reference (``ReferenceAttention``) at `bits` of working precision, each output
  /// the `Double` nearest the working-precision result.
  case mpfr(bits: Int)
  /// The double-word reference (``ReferenceAttention/doubleWord(_:options:threads:kernels:)``):
  /// about 2^-100 per step with a rigorous bound, MPFR at 128 bits for the quotients and for the
  /// rows its bound does not certify to 53 bits. Its outputs are certified to Double precision.
  case doubleWord
  /// The emulator's all-`Double` pipeline (naive, ``PrecisionPlan/fp64``): fast, uncertified.
  case fp64

  /// `mpfr-BITS` or `fp64`, as results files name it.
  public var name: String {
    switch self {
    case .mpfr(let b): "mpfr-\(b)"
    case .doubleWord: "double-word"
    case .fp64: "fp64"
    }
  }

  /// The reference output of `inputs` (float64 values, O's layout), on `options.threads` workers
  /// (the values do not depend on the count).
  public func compute(_ inputs: AttentionInputs, options: AttentionOptions) throws -> AttentionTensor {
    switch self {
    case .mpfr(let bits):
      try ReferenceAttention.compute(inputs, options: options, precision: bits, threads: options.threads)
    case .doubleWord:
      try ReferenceAttention.doubleWord(inputs, options: options, threads: options.threads).output
    case .fp64:
      try EmulatedAttention.run(AttentionOperands(inputs), plan: .fp64, algorithm: .naive, options: options)
    }
  }

  /// The same values as ``compute(_:options:)`` with, for MPFR and double-word, a rigorous bound on their error
  /// (``ReferenceAttention/bounded(_:options:precision:threads:)``: one run, the same roundings).
  public func computeBounded(_ inputs: AttentionInputs, options: AttentionOptions)
    throws -> (output: AttentionTensor, bound: ErrorBound?)
  {
    switch self {
    case .mpfr(let bits):
      let (o, bound) = try ReferenceAttention.bounded(inputs, options: options, precision: bits, threads: options.threads)
      return (o, bound)
    case .doubleWord:
      let (o, bound, _) = try ReferenceAttention.doubleWord(inputs, options: options, threads: options.threads)
      return (o, bound)
    case .fp64:
      return (try compute(inputs, options: options), nil)
    }
  }
}
