import Diagnostics
/// How a real value is rounded to a format's grid.
///
/// Every mode rounds the *exact* value once. With an unbounded exponent range, the
/// candidates are the two neighbouring grid points `lo < x < hi`; the mode picks one:
///
/// | mode | picks |
/// |---|---|
/// | `nearestEven` | the nearer; ties to the one with an even last significand bit (IEEE default); in formats without fraction bits (e8m0), where every significand is 1, ties go away from zero (as MPFR and ml_dtypes) |
/// | `nearestAway` | the nearer; ties away from zero |
/// | `towardZero` | the one of smaller magnitude (truncation) |
/// | `up` | `hi` (toward +∞) |
/// | `down` | `lo` (toward −∞) |
/// | `odd` | the one with an odd last code bit (von Neumann / round-to-odd); exact values stay |
/// | `stochastic(randomBits: B)` | `hi` in magnitude with probability `⌊r·2^B⌋ / 2^B`, where `r ∈ [0,1)` is the distance from the smaller-magnitude neighbour in units of the grid step; the `B` low bits of the caller's random word decide |
///
/// With `B` random bits, stochastic rounding is unbiased only up to the part of `r` below
/// `2^-B`: the expected result is smaller in magnitude than `x` by up to `2^-B` grid steps
/// (the bits of `r` below the `B` used ones are truncated). Values exactly on the grid are
/// never moved.
public enum RoundingMode: Hashable, Sendable {
  case nearestEven
  case nearestAway
  case towardZero
  case up
  case down
  case odd
  /// Stochastic rounding with `randomBits` (1...32) random bits per rounding.
  case stochastic(randomBits: Int)

  /// The command-line spelling (`nearest-even`, ..., `stochastic`).
  public var name: String {
    switch self {
    case .nearestEven: "nearest-even"
    case .nearestAway: "nearest-away"
    case .towardZero: "toward-zero"
    case .up: "up"
    case .down: "down"
    case .odd: "odd"
    case .stochastic: "stochastic"
    }
  }

  /// The deterministic modes, in a fixed order.
  public static let deterministic: [RoundingMode] = [
    .nearestEven, .nearestAway, .towardZero, .up, .down, .odd,
  ]
}

/// What a finite value beyond the largest finite value becomes.
///
/// Overflow is detected after rounding with an unbounded exponent: a value overflows
/// when its rounded magnitude exceeds the format's largest finite value (so under
/// `nearestEven`, e4m3fn's 464 rounds to 448 and 465 overflows).
///
/// | policy | overflow result |
/// |---|---|
/// | `nan` | NaN (OCP non-saturating conversion, as ml_dtypes for e4m3fn); but `towardZero`, and `down`/`up` on the side toward zero, give ±max finite, as in IEEE 754 |
/// | `infinity` | ±infinity (IEEE 754), with the same ±max exceptions for directed modes |
/// | `saturate` | ±max finite always (as CUDA `cvt.rn.satfinite`); ±infinity inputs also become ±max; NaN stays NaN |
///
/// Infinite inputs: ±infinity when the format has infinity (under `nan` and `infinity`),
/// NaN when it has not (under `nan`), ±max under `saturate`.
public enum OverflowPolicy: String, Hashable, Sendable, CaseIterable {
  case nan
  case infinity
  case saturate
}

/// A rounding mode together with an overflow policy: everything an encoding needs.
public struct Rounding: Hashable, Sendable {
  public var mode: RoundingMode
  public var overflow: OverflowPolicy
  public init(_ mode: RoundingMode, overflow: OverflowPolicy) {
    self.mode = mode
    self.overflow = overflow
  }
}

/// A configuration that a format cannot honour.
public struct FormatError: FlashNumericsError, Hashable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

extension FloatFormat {
  /// The non-saturating policy that the format's own specials suggest: `infinity` for IEEE-style
  /// formats, `nan` for the `fn`/`fnuz`/e8m0 formats, `saturate` for formats without NaN (e2m1).
  public var naturalOverflow: OverflowPolicy {
    switch specials {
    case .ieee: .infinity
    case .finiteAllOnesNaN, .finiteNegativeZeroNaN, .unsignedAllOnesNaN: .nan
    case .none: .saturate
    }
  }

  /// Throws when this format cannot use `rounding` (an overflow value it does not have,
  /// or a number of random bits outside 1...32).
  public func validate(_ rounding: Rounding) throws(FormatError) {
    switch rounding.overflow {
    case .infinity where !hasInfinity:
      throw FormatError("format \(name) has no infinity; use --overflow nan or saturate")
    case .nan where !hasNaN:
      throw FormatError("format \(name) has no NaN; use --overflow saturate")
    default: break
    }
    if case .stochastic(let bits) = rounding.mode, !(1...32).contains(bits) {
      throw FormatError("stochastic rounding needs 1...32 random bits, got \(bits)")
    }
  }
}
