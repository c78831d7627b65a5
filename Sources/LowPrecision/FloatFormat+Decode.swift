extension FloatFormat {
  /// The exact value of `code` (bits above `bitWidth` are ignored).
  ///
  /// Every finite value of a `FloatFormat` is a `Double` (and a `Float`), so this is exact.
  /// NaN codes decode to a quiet NaN carrying the code's sign bit (no payload);
  /// infinity codes to ±infinity.
  @inlinable
  public func decode(_ code: UInt32) -> Double {
    let c = code & (signMask | magnitudeMask)
    let negative = c & signMask != 0
    if isNaN(c) { return negative ? -Double.nan : Double.nan }
    if isInfinite(c) { return negative ? -Double.infinity : Double.infinity }
    let mag = c & magnitudeMask
    let biased = Int(mag >> UInt32(fractionBits))
    let fraction = UInt64(mag & ((1 << UInt32(fractionBits)) - 1))
    let value: Double
    if biased == 0 && hasSubnormals {
      // Subnormal or zero: fraction · 2^(minExponent − fractionBits).
      value = Double(sign: .plus, exponent: minExponent - fractionBits, significand: Double(fraction))
    } else {
      let significand = Double((UInt64(1) << UInt64(fractionBits)) | fraction)
      value = Double(sign: .plus, exponent: biased - bias - fractionBits, significand: significand)
    }
    return negative ? -value : value
  }

  /// The exact value of `code` as a `Float` (exact: every value of these formats is a `Float`).
  @inlinable
  public func decodeFloat(_ code: UInt32) -> Float { Float(decode(code)) }

  /// Largest finite value.
  public var maxFinite: Double { decode(maxFiniteMagnitudeCode) }
  /// Smallest positive normal value (`2^minExponent`).
  public var minNormal: Double { Double(sign: .plus, exponent: minExponent, significand: 1) }
  /// Smallest positive value: the least subnormal, or `minNormal` without subnormals.
  public var minPositive: Double {
    hasSubnormals ? Double(sign: .plus, exponent: minExponent - fractionBits, significand: 1) : minNormal
  }
}
