#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LowPrecision
import MatrixMultiply

/// Where the softmax scale enters.
public enum SoftmaxScaling: String, CaseIterable, Hashable, Sendable {
  /// FlashAttention's form: `P = exp2(fma(S, sl2, −m·sl2))` with `sl2 = scale · log₂e` rounded
  /// to the softmax arithmetic once; S itself is never scaled.
  case foldedIntoExp2 = "exp2-folded"
  /// Textbook form: `S ← S ⊗ scale` (rounded to the score format), then `P = exp(S − m)`.
  case appliedToScores = "scores"
}

/// How the final `O / l` is formed.
public enum Normalization: String, CaseIterable, Hashable, Sendable {
  /// `inv = 1 ⊘ l` once per row (0 when `l` is 0 or NaN), then `O ⊗ inv` (FlashAttention).
  case reciprocal
  /// `O ⊘ l` per element.
  case divide
}

/// The numeric choice of every stage of attention. Each rounding is named; `fp64` for a stage
/// means "as exact as `Double`" (used to attribute error to one stage at a time).
///
/// Stages, in order:
/// 1. `S = Q·Kᵀ` accumulated with ``scoreAccumulation`` on the stored Q and K values; per-row
///    scales of Q and K, when present, multiply `S` as `S ⊗ fl(s_q ⊗ s_k)` in the softmax
///    arithmetic; the result is rounded to ``scoreFormat``.
/// 2. Softmax in ``softmaxArithmetic`` (every operation — subtract, multiply, FMA, exp2/exp,
///    add, divide — rounded once to it; FP32 operations are native `Float` operations; exp is
///    the `Double` libm value rounded once, which is within one ulp of the exact value) with
///    the scale placed by ``softmaxScaling``.
/// 3. `P` (times `2^probabilityOffset`, exact) rounded to ``probabilityFormat`` before `P·V`;
///    the row sum `l` adds the unrounded `P` (FlashAttention) unless ``rowSumOfRoundedP``. A
///    stochastic probability format takes element (b, h, i, j)'s random word from the stream of
///    ``stochasticSeed`` at index ((b·H + h)·N + i)·M + j: the same bits for any blocking or
///    thread count. (The other stages round deterministically.)
/// 4. `P·V` accumulated with ``valueAccumulation`` (FP32 models take FP32 operands: P in a
///    wider format is rounded to FP32 first).
/// 5. Normalization by ``normalization`` (the offset cancels between `O` and `l`), times the
///    V scale when it is constant per head, then the cast to ``outputFormat``.
public struct PrecisionPlan: Hashable, Sendable {
  public var scoreAccumulation: Accumulation = .fp32Sequential
  public var scoreFormat: NumberFormat = .fp32
  /// `fp32`, `fp64`, or an emulated format (each operation computed in `Double` and rounded
  /// once to it, which is exact for fp16/bf16 operands).
  public var softmaxArithmetic: NumberFormat = .fp32
  public var softmaxScaling: SoftmaxScaling = .foldedIntoExp2
  public var probabilityFormat: NumberFormat = .fp32
  /// `P` is multiplied by `2^probabilityOffset` before its rounding (FA3 FP8: 8, so that P in
  /// [0, 256] uses e4m3's range).
  public var probabilityOffset: Int = 0
  public var rowSumOfRoundedP: Bool = false
  public var valueAccumulation: Accumulation = .fp32Sequential
  public var normalization: Normalization = .reciprocal
  public var outputFormat: NumberFormat = .fp32
  /// The seed of stochastic P rounding (read only when ``probabilityFormat`` rounds stochastically).
  public var stochasticSeed: UInt64 = 0

  /// Whether ``probabilityFormat`` rounds stochastically.
  public var stochasticProbabilities: Bool { probabilityFormat.roundsStochastically }

  public init() {}

  /// Every stage in FP32 (inputs should be FP32 values).
  public static let fp32 = PrecisionPlan()

  /// Every stage in `Double`: the emulator's exact-as-possible pipeline.
  public static var fp64: PrecisionPlan {
    var p = PrecisionPlan()
    p.scoreAccumulation = .fp64
    p.scoreFormat = .fp64
    p.softmaxArithmetic = .fp64
    p.probabilityFormat = .fp64
    p.valueAccumulation = .fp64
    p.outputFormat = .fp64
    return p
  }

  /// FlashAttention with 16-bit inputs: FP32 accumulation and softmax, P rounded to the input
  /// format, output in the input format.
  public static func flash16(_ format: FloatFormat) -> PrecisionPlan {
    var p = PrecisionPlan()
    p.probabilityFormat = .rne(format)
    p.outputFormat = .rne(format)
    return p
  }

  /// FlashAttention-3 FP8: P offset by 2^8 and rounded to e4m3fn with saturation, output bf16.
  public static var flashFP8: PrecisionPlan {
    var p = PrecisionPlan()
    p.probabilityFormat = .rne(.e4m3fn, overflow: .saturate)
    p.probabilityOffset = 8
    p.outputFormat = .rne(.bf16)
    return p
  }

  /// A one-line summary, e.g. `S fp32-sequential→fp32, softmax fp32 (exp2-folded), P e4m3fn·2^8, PV fp32-sequential, out bf16`.
  public var summary: String {
    "S \(scoreAccumulation.rawValue)→\(scoreFormat), softmax \(softmaxArithmetic) (\(softmaxScaling.rawValue)), "
      + "P \(probabilityFormat)\(probabilityOffset != 0 ? "·2^\(probabilityOffset)" : "")\(rowSumOfRoundedP ? " (rounded row sum)" : ""), "
      + "PV \(valueAccumulation.rawValue), \(normalization.rawValue), out \(outputFormat)"
  }

  /// Checks the choices that have constraints.
  public func validate() throws(AttentionError) {
    for (name, f) in [("softmax arithmetic", softmaxArithmetic), ("score format", scoreFormat), ("output format", outputFormat)] {
      if f.roundsStochastically {
        throw AttentionError("\(name): stochastic rounding applies to the probability format only")
      }
    }
    guard (-64...64).contains(probabilityOffset) else {
      throw AttentionError("probability offset must be in -64...64, got \(probabilityOffset)")
    }
  }
}

/// The softmax arithmetic: each operation rounded once to `format`.
@usableFromInline
struct SoftmaxArithmetic: Sendable {
  @usableFromInline let format: NumberFormat
  @usableFromInline let kind: Int   // 0 fp64, 1 fp32, 2 emulated
  @usableFromInline init(_ format: NumberFormat) {
    self.format = format
    switch format {
    case .fp64: kind = 0
    case .fp32: kind = 1
    case .low: kind = 2
    }
  }
  @inlinable func round(_ x: Double) -> Double { kind == 0 ? x : (kind == 1 ? Double(Float(x)) : format.round(x)) }
  @inlinable func add(_ a: Double, _ b: Double) -> Double {
    kind == 1 ? Double(Float(a) + Float(b)) : round(a + b)
  }
  @inlinable func sub(_ a: Double, _ b: Double) -> Double {
    kind == 1 ? Double(Float(a) - Float(b)) : round(a - b)
  }
  @inlinable func mul(_ a: Double, _ b: Double) -> Double {
    kind == 1 ? Double(Float(a) * Float(b)) : round(a * b)
  }
  @inlinable func div(_ a: Double, _ b: Double) -> Double {
    kind == 1 ? Double(Float(a) / Float(b)) : round(a / b)
  }
  @inlinable func fma(_ a: Double, _ b: Double, _ c: Double) -> Double {
    kind == 1 ? Double(Float(c).addingProduct(Float(a), Float(b))) : round(c.addingProduct(a, b))
  }
  @inlinable func exp2(_ x: Double) -> Double { round(LibM.exp2(x)) }
  @inlinable func exp(_ x: Double) -> Double { round(LibM.exp(x)) }
}
