import CMPFR

/// An arbitrary-precision binary floating-point number (MPFR), with value semantics.
///
/// Every operation names the precision of its result (in bits) and its rounding mode, and
/// rounds once (MPFR's correct rounding). Operands may have any precision. Storage is an
/// `mpfr_t` owned by a private reference; copies share it until one of them is changed
/// (copy-on-write), and it is freed with `mpfr_clear` when the last copy goes.
///
/// Exponent range: MPFR's default (about ±2^62), far beyond anything attention needs, so
/// no operation here overflows or underflows unless the caller narrows the range with
/// ``withExponentRange(minExponent:maxExponent:_:)`` (used to emulate small formats, with
/// ``subnormalize(ternary:_:)``). MPFR keeps that range per thread.
public struct BigFloat: @unchecked Sendable {
  @usableFromInline final class Storage {
    @usableFromInline let pointer: UnsafeMutablePointer<__mpfr_struct>
    init(precision: Int) {
      pointer = .allocate(capacity: 1)
      mpfr_init2(pointer, mpfr_prec_t(precision))
    }
    deinit {
      mpfr_clear(pointer)
      pointer.deallocate()
    }
  }

  @usableFromInline var storage: Storage

  /// A NaN of the given precision (MPFR's initial value).
  public init(precision: Int) {
    precondition(precision >= Int(fn_mpfr_prec_min()) && precision <= Int(fn_mpfr_prec_max()),
                 "precision out of MPFR's range")
    storage = Storage(precision: precision)
  }

  /// `x` rounded to `precision` bits (exact when `precision ≥ 53`).
  public init(_ x: Double, precision: Int = 53, rounding: PreciseRounding = .nearestEven) {
    self.init(precision: precision)
    mpfr_set_d(storage.pointer, x, rounding.mpfr)
  }

  /// The exact value of the integer `n` (precision 64, or more if asked).
  public init(_ n: Int, precision: Int = 64) {
    self.init(precision: max(precision, 64))
    mpfr_set_si(storage.pointer, n, MPFR_RNDN)
  }

  /// Parses a decimal or hexadecimal (`0x1.8p3`) number, rounded to `precision` bits.
  /// Returns `nil` if `text` is not a complete number.
  public init?(_ text: String, precision: Int, rounding: PreciseRounding = .nearestEven) {
    self.init(precision: precision)
    var end: UnsafeMutablePointer<CChar>? = nil
    let ok = text.withCString { s -> Bool in
      mpfr_strtofr(storage.pointer, s, &end, 0, rounding.mpfr)
      return end != nil && end!.pointee == 0 && !text.isEmpty
    }
    if !ok { return nil }
  }

  @inlinable var pointer: UnsafePointer<__mpfr_struct> { UnsafePointer(storage.pointer) }

  /// Precision in bits.
  public var precision: Int { Int(mpfr_get_prec(pointer)) }
  public var isNaN: Bool { mpfr_nan_p(pointer) != 0 }
  public var isInfinite: Bool { mpfr_inf_p(pointer) != 0 }
  public var isZero: Bool { mpfr_zero_p(pointer) != 0 }
  /// −1, 0 or +1 (0 for zeros and NaN).
  public var signum: Int { Int(fn_mpfr_sgn(pointer)) }
  /// True for negative values and −0.
  public var isSignMinus: Bool { mpfr_signbit(pointer) != 0 }

  /// The value rounded to a `Double` with `rounding` (IEEE double range, with subnormals:
  /// results below 2^-1022 are rounded once to the subnormal grid).
  public func double(_ rounding: PreciseRounding = .nearestEven) -> Double {
    // Round once to the double format, subnormals included.
    Self.withExponentRange(minExponent: -1073, maxExponent: 1024) {
      let r = BigFloat(precision: 53)
      var t = mpfr_set(r.storage.pointer, pointer, rounding.mpfr)
      t = mpfr_check_range(r.storage.pointer, t, rounding.mpfr)
      _ = mpfr_subnormalize(r.storage.pointer, t, rounding.mpfr)
      return mpfr_get_d(r.pointer, rounding.mpfr)
    }
  }

  /// The exponent `e` with `2^(e-1) ≤ |x| < 2^e` (MPFR's convention); `nil` for 0, ∞, NaN.
  public var exponent: Int? {
    mpfr_regular_p(pointer) != 0 ? Int(mpfr_get_exp(pointer)) : nil
  }

  /// Decimal text with `digits` significant digits (e.g. `1.2345678e-3`).
  public func text(digits: Int = 20) -> String {
    if isNaN { return "nan" }
    if isInfinite { return isSignMinus ? "-inf" : "inf" }
    var buffer = [CChar](repeating: 0, count: digits + 64)
    let n = fn_mpfr_format(&buffer, buffer.count, CInt(max(digits - 1, 0)), pointer)
    return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// MPFR's rounding modes.
public enum PreciseRounding: Sendable, CaseIterable {
  case nearestEven, towardZero, up, down, awayFromZero
  @usableFromInline var mpfr: mpfr_rnd_t {
    switch self {
    case .nearestEven: MPFR_RNDN
    case .towardZero: MPFR_RNDZ
    case .up: MPFR_RNDU
    case .down: MPFR_RNDD
    case .awayFromZero: MPFR_RNDA
    }
  }
}

extension BigFloat {
  /// Calls `body` with `Double`s whose exact sum is the value, without allocating: the
  /// significand cut into 53-bit chunks from the top (each chunk truncated, so every part has
  /// the value's sign; zero chunks skipped), at most ⌈precision / 53⌉ parts. Returns `false`,
  /// calling nothing, for zero, infinities and NaN, and when a part would fall outside the normal
  /// `Double` range (|value| ≥ 2^1024, or its lowest chunk below 2^−1022), where a split in
  /// `Double`s could be inexact.
  @discardableResult
  public func forEachDoublePart(_ body: (Double) -> Void) -> Bool {
    guard mpfr_regular_p(pointer) != 0 else { return false }
    let x = pointer.pointee
    let precision = Int(x._mpfr_prec), exponent = Int(x._mpfr_exp)   // value = 0.b₁b₂… · 2^exponent
    let chunks = (precision + 52) / 53
    guard exponent <= 1024 && exponent - 53 * chunks >= -1022 else { return false }
    let limbs = (precision + 63) / 64
    let d = x._mpfr_d!
    // 64 significand bits from `offset` (0 = the leading bit), zero past the end.
    func window(_ offset: Int) -> UInt64 {
      let index = limbs - 1 - offset / 64, shift = offset % 64
      if index < 0 { return 0 }
      let high = UInt64(d[index]) << shift
      return shift == 0 || index == 0 ? high : high | UInt64(d[index - 1]) >> (64 - shift)
    }
    let negative = x._mpfr_sign < 0
    for k in 0..<chunks {
      let chunk = window(53 * k) >> 11
      if chunk == 0 { continue }
      let part = Double(sign: negative ? .minus : .plus, exponent: exponent - 53 * (k + 1), significand: Double(chunk))
      body(part)
    }
    return true
  }
}
