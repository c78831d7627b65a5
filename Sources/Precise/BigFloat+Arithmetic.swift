import CMPFR

/// The result of one MPFR operation: the rounded value and MPFR's ternary value
/// (the sign of rounded − exact: 0 when exact, > 0 when rounded up, < 0 when rounded down).
public struct Rounded: Sendable {
  public var value: BigFloat
  public var ternary: Int
}

extension BigFloat {
  static func unary(
    _ x: BigFloat, _ precision: Int, _ rounding: PreciseRounding,
    _ op: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> CInt
  ) -> Rounded {
    let r = BigFloat(precision: precision)
    let t = op(r.storage.pointer, x.pointer, rounding.mpfr)
    return Rounded(value: r, ternary: Int(t))
  }

  static func binary(
    _ x: BigFloat, _ y: BigFloat, _ precision: Int, _ rounding: PreciseRounding,
    _ op: (UnsafeMutablePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, UnsafePointer<__mpfr_struct>, mpfr_rnd_t) -> CInt
  ) -> Rounded {
    let r = BigFloat(precision: precision)
    let t = op(r.storage.pointer, x.pointer, y.pointer, rounding.mpfr)
    return Rounded(value: r, ternary: Int(t))
  }

  /// `x + y` rounded once to `precision` bits.
  public static func add(_ x: BigFloat, _ y: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    binary(x, y, precision, rounding, mpfr_add)
  }
  /// `x − y` rounded once to `precision` bits.
  public static func subtract(_ x: BigFloat, _ y: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    binary(x, y, precision, rounding, mpfr_sub)
  }
  /// `x × y` rounded once to `precision` bits.
  public static func multiply(_ x: BigFloat, _ y: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    binary(x, y, precision, rounding, mpfr_mul)
  }
  /// `x ÷ y` rounded once to `precision` bits.
  public static func divide(_ x: BigFloat, _ y: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    binary(x, y, precision, rounding, mpfr_div)
  }
  /// `x × y + z` rounded once to `precision` bits.
  public static func fusedMultiplyAdd(_ x: BigFloat, _ y: BigFloat, _ z: BigFloat, precision: Int,
                                      _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    let r = BigFloat(precision: precision)
    let t = mpfr_fma(r.storage.pointer, x.pointer, y.pointer, z.pointer, rounding.mpfr)
    return Rounded(value: r, ternary: Int(t))
  }
  /// `√x` rounded once.
  public static func squareRoot(_ x: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    unary(x, precision, rounding, mpfr_sqrt)
  }
  /// `e^x` rounded once.
  public static func exp(_ x: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    unary(x, precision, rounding, mpfr_exp)
  }
  /// `2^x` rounded once.
  public static func exp2(_ x: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    unary(x, precision, rounding, mpfr_exp2)
  }
  /// Natural logarithm rounded once.
  public static func log(_ x: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    unary(x, precision, rounding, mpfr_log)
  }
  /// `x` rounded once to `precision` bits.
  public static func rounded(_ x: BigFloat, precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    unary(x, precision, rounding, mpfr_set)
  }

  /// `x · 2^k`, exact (the exponent range is MPFR's default).
  public static func scaled(_ x: BigFloat, byPowerOfTwo k: Int) -> BigFloat {
    let r = BigFloat(precision: x.precision)
    mpfr_mul_2si(r.storage.pointer, x.pointer, k, MPFR_RNDN)
    return r
  }

  /// `Σ terms`, rounded once to `precision` bits (MPFR's `mpfr_sum`: correct rounding of the
  /// exact sum, whatever the number of terms and cancellations).
  public static func sum(_ terms: [BigFloat], precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    let r = BigFloat(precision: precision)
    var pointers: [UnsafeMutablePointer<__mpfr_struct>?] = terms.map { $0.storage.pointer }
    let t = withExtendedLifetime(terms) {
      mpfr_sum(r.storage.pointer, &pointers, UInt(terms.count), rounding.mpfr)
    }
    return Rounded(value: r, ternary: Int(t))
  }

  /// `Σ a[i]·b[i]` of Doubles, computed exactly (each product is exact at 106 bits) and
  /// rounded once to `precision` bits.
  public static func dot(_ a: [Double], _ b: [Double], precision: Int, _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    precondition(a.count == b.count, "dot: lengths differ")
    let products = zip(a, b).map { x, y in
      multiply(BigFloat(x), BigFloat(y), precision: 106).value  // exact: 53 + 53 bits
    }
    return sum(products, precision: precision, rounding)
  }

  /// Runs `body` with MPFR's exponent range set to `[minExponent, maxExponent]` on this thread
  /// (MPFR's convention: a regular value is `m · 2^e` with `0.5 ≤ m < 1` and
  /// `minExponent ≤ e ≤ maxExponent`), and restores the previous range afterwards.
  /// Values made inside should be passed through ``checkRange(ternary:_:)`` and
  /// ``subnormalize(ternary:_:)`` to emulate a format with gradual underflow.
  public static func withExponentRange<T>(minExponent: Int, maxExponent: Int, _ body: () throws -> T) rethrows -> T {
    let (oldMin, oldMax) = (mpfr_get_emin(), mpfr_get_emax())
    precondition(mpfr_set_emin(mpfr_exp_t(minExponent)) == 0 && mpfr_set_emax(mpfr_exp_t(maxExponent)) == 0,
                 "exponent range outside MPFR's limits")
    defer {
      mpfr_set_emin(oldMin)
      mpfr_set_emax(oldMax)
    }
    return try body()
  }

  /// MPFR's `mpfr_check_range` then `mpfr_subnormalize` on a freshly rounded result: brings it
  /// into the current exponent range and rounds it once more to the subnormal grid *as if* it
  /// had been rounded there directly (MPFR guarantees no double rounding given the ternary).
  public mutating func subnormalize(ternary: Int, _ rounding: PreciseRounding) -> Int {
    if !isKnownUniquelyReferenced(&storage) { self = Self.rounded(self, precision: precision).value }
    var t = mpfr_check_range(storage.pointer, CInt(ternary), rounding.mpfr)
    t = mpfr_subnormalize(storage.pointer, t, rounding.mpfr)
    return Int(t)
  }
}

extension Rounded {
  /// The rounded value brought into the current exponent range with gradual underflow
  /// (see ``BigFloat/subnormalize(ternary:_:)``).
  public func subnormalized(_ rounding: PreciseRounding) -> Rounded {
    var v = value
    let t = v.subnormalize(ternary: ternary, rounding)
    return Rounded(value: v, ternary: t)
  }
}

extension BigFloat {
  /// `±Σ words[i] · 2^(32·i + exponent)` (words little-endian, 32 bits each), rounded once to
  /// `precision` bits: the read-out of an exact fixed-point sum.
  public static func fromWords(_ words: [UInt32], exponent: Int, negative: Bool, precision: Int,
                               _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    words.withUnsafeBufferPointer { fromWords($0, exponent: exponent, negative: negative, precision: precision, rounding) }
  }

  /// ``fromWords(_:exponent:negative:precision:_:)`` on words in a buffer.
  public static func fromWords(_ words: UnsafeBufferPointer<UInt32>, exponent: Int, negative: Bool, precision: Int,
                               _ rounding: PreciseRounding = .nearestEven) -> Rounded {
    let r = BigFloat(precision: precision)
    // Only the span between the lowest and highest non-zero words matters (value unchanged).
    let low = words.firstIndex { $0 != 0 } ?? 0
    let high = words.lastIndex { $0 != 0 } ?? -1
    let t = fn_mpfr_set_words(r.storage.pointer, words.baseAddress.map { $0 + low }, max(0, high - low + 1),
                              exponent + 32 * low, negative ? 1 : 0, rounding.mpfr)
    return Rounded(value: r, ternary: Int(t))
  }
}
