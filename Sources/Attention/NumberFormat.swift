import LowPrecision
import MatrixMultiply

/// The number format of one stage of a computation: `Double`, `Float`, or one of the emulated
/// formats of `LowPrecision` with its rounding and overflow policy.
public enum NumberFormat: Hashable, Sendable, CustomStringConvertible {
  /// IEEE binary64: nothing is rounded beyond what `Double` arithmetic already does
  /// (the "exact" choice for a stage in error attribution).
  case fp64
  /// IEEE binary32, round to nearest even, overflow to ±∞.
  case fp32
  /// An emulated format, rounded with `rounding` (a deterministic mode).
  case low(FloatFormat, Rounding)

  /// `format` with round-to-nearest-even and the given overflow policy (default: saturate
  /// when the format has no infinity to overflow to, as hardware casts to e4m3fn do with
  /// `.satfinite`; the format's own otherwise).
  public static func rne(_ format: FloatFormat, overflow: OverflowPolicy? = nil) -> NumberFormat {
    .low(format, Rounding(.nearestEven, overflow: overflow ?? format.naturalOverflow))
  }

  /// Short name: `fp64`, `fp32`, or the format's name (with `/sat` when saturating).
  public var description: String {
    switch self {
    case .fp64: "fp64"
    case .fp32: "fp32"
    case .low(let f, let r): r.overflow == .saturate && f.hasInfinity ? "\(f.name)/sat" : f.name
    }
  }

  /// The largest finite value.
  public var maxFinite: Double {
    switch self {
    case .fp64: .greatestFiniteMagnitude
    case .fp32: Double(Float.greatestFiniteMagnitude)
    case .low(let f, _): f.maxFinite
    }
  }

  /// Whether every value of the format is a `Float` (all but `fp64`).
  public var fitsInFloat: Bool {
    switch self {
    case .fp64: false
    case .fp32: true
    case .low(let f, _): f.exponentBits <= 8 && f.fractionBits <= 23
    }
  }

  /// `x` rounded once to this format (the value, as a `Double`); `random` is the word a
  /// stochastic rounding uses (ignored by the other modes).
  @inlinable
  public func round(_ x: Double, random: UInt64 = 0) -> Double {
    switch self {
    case .fp64: x
    case .fp32: Double(Float(x))
    case .low(let f, let r): f.decode(f.encode(x, r, random: random))
    }
  }

  /// Whether the format rounds stochastically.
  public var roundsStochastically: Bool {
    if case .low(_, let r) = self, case .stochastic = r.mode { return true }
    return false
  }

  /// The exact quotient `x / s` rounded once to this format (`s > 0`): the quotient in
  /// `Double` and the sign of its error (from an FMA residual) feed one rounding.
  /// `random` is the word a stochastic rounding uses (ignored by the other modes).
  @inlinable
  public func roundQuotient(_ x: Double, _ s: Double, random: UInt64 = 0) -> Double {
    let q = x / s
    let residual = x.addingProduct(-q, s)   // x − q·s, exact (FMA)
    let sign = residual > 0 ? 1 : (residual < 0 ? -1 : 0)
    switch self {
    case .fp64: return q
    case .fp32: return Double(Float(roundingApproximation: q, errorSign: sign))
    case .low(let f, let r): return f.decode(f.round(approximation: q, errorSign: sign, r, random: random))
    }
  }
}
