/// A binary floating-point storage format of at most 16 bits, described by its fields.
///
/// A code (bit pattern) of `bitWidth` bits is laid out as
/// `[sign (if signed)] [exponentBits] [fractionBits]`, most significant first.
/// A finite nonzero code with biased exponent `E` and fraction `F` has the value
///
/// - `(-1)^s · (1 + F/2^fractionBits) · 2^(E - bias)` when `E > 0` or the format
///   has no subnormals (then `E = 0` is an ordinary binade),
/// - `(-1)^s · (F/2^fractionBits) · 2^(1 - bias)` when `E = 0` and the format has
///   subnormals (this includes the zeros).
///
/// Which codes are NaN or infinity is given by `specials` (see ``SpecialEncoding``).
/// Every value of every format of this kind is exactly representable as a `Double`
/// (and, with at most 8 exponent bits and 23 fraction bits, as a `Float`).
///
/// Invariants (checked by `init`): `1 ≤ exponentBits ≤ 8`, `0 ≤ fractionBits ≤ 10`,
/// total width ≤ 16 bits. The width limit keeps every exact sum, product and
/// remainder used by the emulated arithmetic inside a `Double` (see
/// `EmulatedArithmetic.swift`).
public struct FloatFormat: Hashable, Sendable {
  /// How the format spends codes on NaN and infinity.
  public enum SpecialEncoding: Hashable, Sendable {
    /// IEEE 754 style: the all-ones exponent holds ±infinity (fraction 0) and NaNs
    /// (fraction ≠ 0). Examples: fp16, bf16, e5m2, IEEE-style e4m3.
    case ieee
    /// OCP "fn" (finite): no infinity; only the all-ones code `S.1111.111` is NaN, so the
    /// all-ones exponent still holds finite values. Example: e4m3fn (max 448).
    case finiteAllOnesNaN
    /// "fnuz" (finite, unsigned zero): no infinity, no negative zero; the code
    /// `1.0000.000` (negative zero's pattern) is the only NaN. Examples: e4m3fnuz, e5m2fnuz.
    case finiteNegativeZeroNaN
    /// Unsigned exponent-only scale format: the all-ones code is NaN; no infinity, no zero.
    /// Example: e8m0 (OCP MX scale).
    case unsignedAllOnesNaN
    /// No NaN and no infinity at all; overflow must saturate. Example: e2m1 (fp4).
    case none
  }

  /// Short name used on the command line (`e4m3fn`, `bf16`, ...).
  public let name: String
  /// Number of exponent bits.
  public let exponentBits: Int
  /// Number of stored fraction bits (the significand has one more, hidden, bit for normals).
  public let fractionBits: Int
  /// Exponent bias: a normal code with biased exponent `E` has scale `2^(E - bias)`.
  public let bias: Int
  /// Whether the top bit is a sign bit.
  public let isSigned: Bool
  /// Whether biased exponent 0 encodes subnormals (and zero). When false (e8m0),
  /// biased exponent 0 is an ordinary binade and the format has no zero.
  public let hasSubnormals: Bool
  /// NaN and infinity encoding.
  public let specials: SpecialEncoding

  // Derived constants, computed once (the encoder reads them on every call).
  /// Total number of bits of a code.
  public let bitWidth: Int
  /// The sign bit's mask (0 for unsigned formats).
  public let signMask: UInt32
  /// Mask of the exponent and fraction fields (the magnitude part of a code).
  public let magnitudeMask: UInt32
  /// Unbiased exponent of the smallest normal binade: `1 - bias` with subnormals, `-bias` without.
  public let minExponent: Int
  /// The magnitude code (sign cleared) of the largest finite value.
  public let maxFiniteMagnitudeCode: UInt32
  /// Whether the format distinguishes -0 from +0.
  public let hasNegativeZero: Bool

  public init(
    name: String, exponentBits: Int, fractionBits: Int, bias: Int,
    isSigned: Bool = true, hasSubnormals: Bool = true, specials: SpecialEncoding
  ) {
    precondition((1...8).contains(exponentBits), "exponentBits must be in 1...8")
    precondition((0...10).contains(fractionBits), "fractionBits must be in 0...10")
    precondition(exponentBits + fractionBits + (isSigned ? 1 : 0) <= 16, "at most 16 bits")
    precondition(isSigned || specials == .unsignedAllOnesNaN || specials == .none,
                 "unsigned formats use .unsignedAllOnesNaN or .none")
    self.name = name
    self.exponentBits = exponentBits
    self.fractionBits = fractionBits
    self.bias = bias
    self.isSigned = isSigned
    self.hasSubnormals = hasSubnormals
    self.specials = specials
    bitWidth = exponentBits + fractionBits + (isSigned ? 1 : 0)
    signMask = isSigned ? 1 << UInt32(exponentBits + fractionBits) : 0
    magnitudeMask = (1 << UInt32(exponentBits + fractionBits)) - 1
    minExponent = hasSubnormals ? 1 - bias : -bias
    hasNegativeZero = isSigned && hasSubnormals && specials != .finiteNegativeZeroNaN
    switch specials {
    case .ieee:
      maxFiniteMagnitudeCode = UInt32((1 << exponentBits) - 2) << UInt32(fractionBits) | ((1 << UInt32(fractionBits)) - 1)
    case .finiteAllOnesNaN, .unsignedAllOnesNaN:
      maxFiniteMagnitudeCode = magnitudeMask - 1
    case .finiteNegativeZeroNaN, .none:
      maxFiniteMagnitudeCode = magnitudeMask
    }
  }

  // MARK: Derived layout

  /// Number of distinct codes, `2^bitWidth`.
  @inlinable public var codeCount: Int { 1 << bitWidth }
  /// Largest biased exponent field value.
  @inlinable public var maxBiasedExponent: Int { (1 << exponentBits) - 1 }

  /// Whether the format has infinities.
  public var hasInfinity: Bool { specials == .ieee }
  /// Whether the format has a NaN code.
  public var hasNaN: Bool { specials != .none }
  /// Whether the format has a zero (exactly when biased exponent 0 encodes subnormals).
  @inlinable public var hasZero: Bool { hasSubnormals }

  /// Code of the canonical NaN with the given sign (the sign is ignored where the format's
  /// NaN has no sign). IEEE formats: all-ones exponent with the top fraction bit set
  /// (a quiet NaN); `fn`: `S.1111.111`; `fnuz`: `0x80`; e8m0: `0xFF`. `nil` if the format has no NaN.
  public func nanCode(negative: Bool = false) -> UInt32? {
    switch specials {
    case .ieee:
      precondition(fractionBits > 0, "an IEEE-style format needs a fraction bit for NaN")
      let quiet: UInt32 = 1 << UInt32(fractionBits - 1)
      return (negative ? signMask : 0) | UInt32(maxBiasedExponent) << UInt32(fractionBits) | quiet
    case .finiteAllOnesNaN: return (negative ? signMask : 0) | magnitudeMask
    case .finiteNegativeZeroNaN: return signMask
    case .unsignedAllOnesNaN: return magnitudeMask
    case .none: return nil
    }
  }

  /// Code of ±infinity, or `nil` if the format has no infinity.
  public func infinityCode(negative: Bool) -> UInt32? {
    guard specials == .ieee else { return nil }
    return (negative ? signMask : 0) | UInt32(maxBiasedExponent) << UInt32(fractionBits)
  }

  /// Code of ±(largest finite value).
  @inlinable public func maxFiniteCode(negative: Bool) -> UInt32 {
    (negative ? signMask : 0) | maxFiniteMagnitudeCode
  }

  /// Whether `code` is a NaN of this format. Bits above `bitWidth` are ignored.
  public func isNaN(_ code: UInt32) -> Bool {
    let c = code & (signMask | magnitudeMask)
    let mag = c & magnitudeMask
    switch specials {
    case .ieee:
      return mag >> UInt32(fractionBits) == UInt32(maxBiasedExponent) && mag & ((1 << UInt32(fractionBits)) - 1) != 0
    case .finiteAllOnesNaN, .unsignedAllOnesNaN: return mag == magnitudeMask
    case .finiteNegativeZeroNaN: return c == signMask
    case .none: return false
    }
  }

  /// Whether `code` is ±infinity.
  public func isInfinite(_ code: UInt32) -> Bool {
    specials == .ieee && (code & magnitudeMask) == UInt32(maxBiasedExponent) << UInt32(fractionBits)
  }
}

extension FloatFormat: CustomStringConvertible {
  public var description: String { name }
}
