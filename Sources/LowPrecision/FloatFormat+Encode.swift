// The one rounding routine every encoding and every emulated operation goes through.

extension FloatFormat {
  /// Rounds the exact value `±significand · 2^exponent` to this format, once.
  ///
  /// - Parameters:
  ///   - negative: the sign of the value.
  ///   - significand: the integer significand, `0 < significand < 2^62`.
  ///   - exponent: the power of two it is scaled by (any `Int`; no range limit).
  ///   - rounding: mode and overflow policy (see ``RoundingMode`` and ``OverflowPolicy``);
  ///     call ``validate(_:)`` first, this routine only `precondition`s it.
  ///   - random: the random word for stochastic rounding (its low `randomBits` bits are used).
  /// - Returns: the code, in the low `bitWidth` bits.
  ///
  /// The algorithm is integer-only: the value's binade (with the exponent floored at the
  /// subnormal binade) fixes the grid step `2^q`; the significand is split into a quotient and
  /// a remainder by that step, and the mode decides from the remainder alone. Nothing is
  /// rounded twice. Underflow gives ±0 (+0 for formats without −0; the least value for
  /// formats without zero); overflow is resolved by `rounding.overflow`.
  @inlinable
  public func round(
    negative: Bool, significand: UInt64, exponent: Int, _ rounding: Rounding, random: UInt64 = 0
  ) -> UInt32 {
    precondition(significand > 0 && significand < 1 << 62, "significand out of range")
    if negative && !isSigned { return nanCode()! }
    let f = fractionBits
    let topBit = exponent + (63 - significand.leadingZeroBitCount)  // ⌊log2 |x|⌋
    let stepExponent = max(topBit, minExponent) - f                 // grid step 2^stepExponent
    let shift = stepExponent - exponent
    var q: UInt64
    if shift <= 0 {
      q = significand << UInt64(-shift)  // exact: q ≤ 2^(f+1)
    } else {
      q = significand >> UInt64(shift)   // Swift's smart shift: ≥ 64 gives 0
      let remainder = shift >= 64 ? significand : significand & ((1 << UInt64(shift)) - 1)
      if remainder != 0 {
        // Compare the remainder with half a step, 2^(shift−1); the remainder is < 2^62.
        let half: Int = shift - 1 >= 63 ? -1 : (remainder < (1 << UInt64(shift - 1)) ? -1
          : (remainder == (1 << UInt64(shift - 1)) ? 0 : 1))
        var up = false
        switch rounding.mode {
        case .nearestEven: up = half > 0 || (half == 0 && q & 1 == 1)
        case .nearestAway: up = half >= 0
        case .towardZero: up = false
        case .up: up = !negative
        case .down: up = negative
        case .odd:
          // The candidate with an odd last code bit. With fraction bits that is the last
          // significand bit; without (e8m0) the code is the biased exponent.
          if f > 0 { q |= 1 } else { up = (stepExponent + bias) & 1 == 0 }
        case .stochastic(let bits):
          let b = UInt64(bits)
          // The top `bits` bits of remainder / 2^shift, i.e. ⌊r·2^bits⌋.
          let top = UInt64(shift) >= b ? remainder >> (UInt64(shift) - b) : remainder << (b - UInt64(shift))
          up = top + (random & ((1 << b) - 1)) >= 1 << b
        }
        if up { q += 1 }
      }
    }
    if q == 0 {
      if !hasZero { return 0 }  // no zero (e8m0): the least value
      return negative && hasNegativeZero ? signMask : 0
    }
    // Now the result is q · 2^stepExponent with q ≤ 2^(f+1).
    let hidden = UInt64(1) << UInt64(f)
    var magnitude: UInt64
    if q < hidden {
      magnitude = q  // subnormal: biased exponent 0 (only reachable with subnormals)
    } else if q >> UInt64(f + 1) != 0 {
      magnitude = UInt64(stepExponent + f + 1 + bias) << UInt64(f)  // carried into the next binade
    } else {
      magnitude = UInt64(stepExponent + f + bias) << UInt64(f) | (q - hidden)
    }
    if magnitude > UInt64(maxFiniteMagnitudeCode) {
      return overflowCode(negative: negative, rounding)
    }
    return (negative ? signMask : 0) | UInt32(magnitude)
  }

  /// The code a finite value that overflows becomes (see ``OverflowPolicy``).
  @inlinable
  public func overflowCode(negative: Bool, _ rounding: Rounding) -> UInt32 {
    if rounding.overflow == .saturate { return maxFiniteCode(negative: negative) }
    let towardZeroSide: Bool
    switch rounding.mode {
    case .towardZero: towardZeroSide = true
    case .up: towardZeroSide = negative
    case .down: towardZeroSide = !negative
    default: towardZeroSide = false
    }
    if towardZeroSide { return maxFiniteCode(negative: negative) }
    if rounding.overflow == .infinity, let inf = infinityCode(negative: negative) { return inf }
    guard let nan = nanCode(negative: negative) else {
      preconditionFailure("format \(name) has no NaN: overflow needs --overflow saturate")
    }
    return nan
  }

  /// The code of `x`, rounded once.
  ///
  /// NaN becomes the canonical NaN with `x`'s sign (precondition: the format has a NaN);
  /// ±infinity as described in ``OverflowPolicy``; ±0 becomes ±0 (+0 where there is no −0;
  /// NaN for e8m0, which has no zero); negative values in an unsigned format become NaN.
  @inlinable
  public func encode(_ x: Double, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let negative = x.sign == .minus
    if x.isNaN {
      guard let nan = nanCode(negative: negative) else {
        preconditionFailure("format \(name) cannot encode NaN")
      }
      return nan
    }
    if x.isInfinite {
      if negative && !isSigned { return nanCode()! }
      if rounding.overflow == .saturate { return maxFiniteCode(negative: negative) }
      if let inf = infinityCode(negative: negative) { return inf }
      guard let nan = nanCode(negative: negative) else {
        preconditionFailure("format \(name) cannot encode infinity without --overflow saturate")
      }
      return nan
    }
    if x == 0 {
      if !hasZero { return nanCode()! }
      return negative && hasNegativeZero ? signMask : 0
    }
    let bits = x.bitPattern
    let biased = Int((bits >> 52) & 0x7FF)
    let fraction = bits & ((1 << 52) - 1)
    if biased == 0 {
      return round(negative: negative, significand: fraction, exponent: -1074, rounding, random: random)
    }
    return round(negative: negative, significand: fraction | (1 << 52), exponent: biased - 1075,
                 rounding, random: random)
  }

  /// The code of `x` (exactly `encode(Double(x))`: the widening is exact).
  @inlinable
  public func encode(_ x: Float, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    encode(Double(x), rounding, random: random)
  }

  /// Rounds the exact value `approximation + δ` once, where `approximation` is the
  /// `Double` nearest to the exact value and only the sign of the tiny error `δ` is known
  /// (`errorSign` ∈ {−1, 0, +1}; `|δ| ≤ ulp(approximation)/2`).
  ///
  /// Why this is exact: every grid point and every midpoint of this format is a `Double`
  /// (at most 12 significant bits). No `Double` lies strictly between `approximation` and
  /// its neighbour on the side of `δ`, so any value there compares with every grid point and
  /// midpoint exactly as the true value does. The value `approximation ± ¼ulp` is such a
  /// value, and it is representable exactly as an integer significand with two more bits.
  @inlinable
  public func round(approximation: Double, errorSign: Int, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    if errorSign == 0 || !approximation.isFinite || approximation == 0 {
      return encode(approximation, rounding, random: random)
    }
    let negative = approximation.sign == .minus
    let bits = approximation.bitPattern
    let biased = Int((bits >> 52) & 0x7FF)
    let fraction = bits & ((1 << 52) - 1)
    let significand = biased == 0 ? fraction : fraction | (1 << 52)
    let exponent = biased == 0 ? -1074 : biased - 1075
    // Nudge the magnitude by a quarter ulp in the direction of the true value.
    let magnitudeGrows = (errorSign > 0) != negative
    let nudged = magnitudeGrows ? (significand << 2) + 1 : (significand << 2) - 1
    return round(negative: negative, significand: nudged, exponent: exponent - 2, rounding, random: random)
  }
}
