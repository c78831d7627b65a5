import LowPrecision
import Precise

/// Rounding into a `FloatFormat` done by MPFR: precision `fractionBits + 1`, the format's
/// minimum exponent, gradual underflow by `mpfr_subnormalize`, and an unbounded maximum
/// exponent; overflow is then resolved by ``GridOracle/overflow(negative:_:)`` (IEEE 754 rules).
/// Modes MPFR lacks are built from its directed roundings:
/// - nearest-away: round toward zero (z) and away (a); when they differ, compare the exact
///   value with their midpoint using a 2048-bit evaluation and its ternary value;
/// - odd: of z and a, the one whose code is odd.
struct MPFROracle {
  let format: FloatFormat
  let grid: GridOracle
  let codeOf: [Double: UInt32]

  init(_ format: FloatFormat) {
    self.format = format
    grid = GridOracle(format)
    codeOf = Dictionary(uniqueKeysWithValues: zip(grid.values, grid.codes))
  }

  /// `compute(precision, rounding)` must return the operation's result correctly rounded to
  /// `precision` bits with `rounding` (any MPFR operation does).
  func expected(_ rounding: Rounding, negativeHint: Bool = false, _ compute: (Int, PreciseRounding) -> Rounded) -> UInt32 {
    let p = format.fractionBits + 1
    let exact = compute(2048, .nearestEven)  // outside the narrowed range: no underflow
    if exact.value.isNaN { return format.nanCode()! }
    if !format.isSigned && exact.value.isSignMinus && !exact.value.isZero { return format.nanCode()! }
    // A directed rounding inside the format's exponent range (gradual underflow).
    func directed(_ r: PreciseRounding) -> Rounded {
      BigFloat.withExponentRange(minExponent: format.minExponent - format.fractionBits + 1, maxExponent: 1 << 20) {
        compute(p, r).subnormalized(r)
      }
    }
    switch rounding.mode {
    case .nearestEven: return code(directed(.nearestEven), rounding)
    case .towardZero: return code(directed(.towardZero), rounding)
    case .up: return code(directed(.up), rounding)
    case .down: return code(directed(.down), rounding)
    case .nearestAway, .odd:
      let z = directed(.towardZero), a = directed(.awayFromZero)
      let zc = code(z, rounding), ac = code(a, rounding)
      if zc == ac { return zc }
      if case .odd = rounding.mode {
        // Zero's code is even, so a tiny value goes to `a`; a `z` beyond the max overflows.
        return zc & 1 == 1 && isFinite(z) ? zc : ac
      }
      // nearest-away: compare the exact value with the midpoint of z and a (exact in Double).
      let mid = BigFloat((z.value.double() + a.value.double()) / 2)
      let cmp: Int
      if exact.value > mid { cmp = 1 } else if exact.value < mid { cmp = -1 } else { cmp = exact.ternary == 0 ? 0 : (exact.ternary > 0 ? -1 : 1) }
      let away = exact.value.isSignMinus ? cmp <= 0 : cmp >= 0
      return away ? ac : zc
    case .stochastic: fatalError("stochastic rounding has no MPFR oracle")
    }
  }

  /// Whether a rounded value is within the format's finite range.
  func isFinite(_ r: Rounded) -> Bool { abs(r.value.double()) <= grid.values.last! }

  /// The code of an MPFR result (already on the format's grid, or beyond its max).
  func code(_ r: Rounded, _ rounding: Rounding) -> UInt32 {
    let v = r.value
    let negative = v.isSignMinus
    if v.isNaN { return format.nanCode()! }
    if !format.isSigned && negative && !v.isZero { return format.nanCode()! }
    if v.isZero {
      if !format.hasZero { return r.ternary != 0 ? grid.codes[0] : format.nanCode()! }
      return negative && format.hasNegativeZero ? format.signMask : 0
    }
    // An exact infinity (x/0, ∞ ± finite) is not an overflow: it is encoded like an infinite input.
    if v.isInfinite { return grid.expected(negative ? -.infinity : .infinity, rounding) }
    let d = v.double()
    if abs(d) > grid.values.last! { return grid.overflow(negative: negative, rounding) }
    guard let c = codeOf[abs(d)] else { fatalError("MPFR result \(d) is not on the \(format) grid") }
    return c == 0 ? 0 : (negative ? format.signMask : 0) | c
  }

  /// The expected code of `x` rounded into the format.
  func encode(_ x: Double, _ rounding: Rounding) -> UInt32 {
    if !x.isFinite { return grid.expected(x, rounding) }
    if x == 0 { return grid.expected(x, rounding) }
    let big = BigFloat(x)
    return expected(rounding) { p, r in BigFloat.rounded(big, precision: p, r) }
  }
}
