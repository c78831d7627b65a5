import CMPFR

extension BigFloat: Equatable {
  /// Numeric equality (IEEE: NaN ≠ NaN, +0 == −0), whatever the precisions.
  public static func == (x: BigFloat, y: BigFloat) -> Bool { mpfr_equal_p(x.pointer, y.pointer) != 0 }
}

extension BigFloat: Comparable {
  /// Numeric order; false whenever a NaN is involved.
  public static func < (x: BigFloat, y: BigFloat) -> Bool { mpfr_less_p(x.pointer, y.pointer) != 0 }
}

extension BigFloat: CustomStringConvertible {
  public var description: String { text(digits: max(17, precision * 30103 / 100000 + 2)) }
}

extension BigFloat {
  /// `x + y` at the larger precision of the two, rounded to nearest even.
  public static func + (x: BigFloat, y: BigFloat) -> BigFloat { add(x, y, precision: max(x.precision, y.precision)).value }
  /// `x − y` at the larger precision of the two, rounded to nearest even.
  public static func - (x: BigFloat, y: BigFloat) -> BigFloat { subtract(x, y, precision: max(x.precision, y.precision)).value }
  /// `x × y` at the larger precision of the two, rounded to nearest even.
  public static func * (x: BigFloat, y: BigFloat) -> BigFloat { multiply(x, y, precision: max(x.precision, y.precision)).value }
  /// `x ÷ y` at the larger precision of the two, rounded to nearest even.
  public static func / (x: BigFloat, y: BigFloat) -> BigFloat { divide(x, y, precision: max(x.precision, y.precision)).value }
  /// `−x`, exact.
  public static prefix func - (x: BigFloat) -> BigFloat {
    let r = BigFloat(precision: x.precision)
    mpfr_neg(r.storage.pointer, x.pointer, MPFR_RNDN)
    return r
  }
}
