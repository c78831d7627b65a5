/// An exact accumulator for sums of `Double`s and of products of `Double`s (a fixed-point
/// "superaccumulator" in the manner of Kulisch).
///
/// The value is `Σ digits[i] · 2^(32·i + baseExponent)` with signed 64-bit digits of radix
/// 2^32, wide enough for every product of two finite `Double`s (2^-2148 ... 2^2048) with room
/// for carries. Nothing is ever rounded: ``add(_:)`` and ``addProduct(_:_:)`` are exact, and
/// the result is read out once, either as the exact digits (``magnitudeDigits()``, to round
/// with MPFR) or rounded once to `Float` / `Double` (``float()``, ``double()``).
///
/// Non-finite terms are kept aside: any NaN, or +∞ together with −∞, makes the sum NaN; one
/// kind of infinity makes it that infinity.
public struct ExactAccumulator: Sendable {
  /// Weight of digit 0: 2^-2176 (a multiple of 32 below the least product, 2^-2148).
  public static let baseExponent = -2176
  /// Number of digits: up to 2^2176, above the largest product (< 2^2048) plus carries.
  public static let digitCount = 136
  /// Additions after which carries are propagated (each changes a digit by < 2^34).
  @usableFromInline static let normalizeEvery = 1 << 26

  @usableFromInline var digits: [Int64]
  /// The digits that may be non-zero: `lowDigit ... highDigit` (empty when `highDigit < lowDigit`).
  /// Read-outs, normalisation and ``reset()`` touch only these.
  @usableFromInline var lowDigit = ExactAccumulator.digitCount
  @usableFromInline var highDigit = -1
  @usableFromInline var pending = 0
  @usableFromInline var positiveInfinity = false
  @usableFromInline var negativeInfinity = false
  @usableFromInline var nan = false

  public init() { digits = Array(repeating: 0, count: Self.digitCount) }

  /// Whether the sum so far is exactly zero (and no non-finite term was added).
  public var isZero: Bool {
    !nan && !positiveInfinity && !negativeInfinity && (highDigit < lowDigit || digits[lowDigit...highDigit].allSatisfy { $0 == 0 })
  }

  /// Sets the sum back to zero, keeping the storage (clears only the digits in use).
  public mutating func reset() {
    if lowDigit <= highDigit {
      digits.withUnsafeMutableBufferPointer { p in
        for i in lowDigit...highDigit { p[i] = 0 }
      }
    }
    lowDigit = Self.digitCount
    highDigit = -1
    pending = 0
    positiveInfinity = false
    negativeInfinity = false
    nan = false
  }

  /// Adds `x` exactly.
  @inlinable
  public mutating func add(_ x: Double) {
    guard x.isFinite else { addNonFinite(x); return }
    if x == 0 { return }
    let bits = x.bitPattern
    let biased = Int((bits >> 52) & 0x7FF)
    let fraction = bits & ((1 << 52) - 1)
    let significand = biased == 0 ? fraction : fraction | (1 << 52)
    let exponent = biased == 0 ? -1074 : biased - 1075
    addSignificand(significand, exponent: exponent, negative: x.sign == .minus)
  }

  /// Adds `a · b` exactly: the integer significands (< 2^53 each) are multiplied into a 106-bit
  /// integer, which is added at the sum of the exponents (no floating-point rounding at all).
  @inlinable @inline(__always)
  public mutating func addProduct(_ a: Double, _ b: Double) {
    guard a.isFinite && b.isFinite else { addNonFinite(a * b); return }
    let x = a.bitPattern, y = b.bitPattern
    let ex = Int((x >> 52) & 0x7FF), ey = Int((y >> 52) & 0x7FF)
    let mx = ex == 0 ? x & ((1 << 52) - 1) : (x & ((1 << 52) - 1)) | (1 << 52)
    let my = ey == 0 ? y & ((1 << 52) - 1) : (y & ((1 << 52) - 1)) | (1 << 52)
    if mx == 0 || my == 0 { return }
    let exponent = (ex == 0 ? -1074 : ex - 1075) + (ey == 0 ? -1074 : ey - 1075)
    addWide(mx.multipliedFullWidth(by: my), exponent: exponent, negative: (x ^ y) >> 63 != 0)
  }

  /// Adds `a · b` exactly for operands split once (``SplitDouble``): the same as
  /// ``addProduct(_:_:)-(Double,Double)`` on their values, without decoding them again.
  @inlinable @inline(__always)
  public mutating func addProduct(_ a: SplitDouble, _ b: SplitDouble) {
    if a.significand == 0 || b.significand == 0 { return }
    addWide(a.significand.multipliedFullWidth(by: b.significand), exponent: Int(a.exponent) + Int(b.exponent),
            negative: a.negative != b.negative)
  }

  /// Adds `Σ a_t · b_t` exactly over `count` pairs of split operands given by `pair(t)`: the
  /// same as `count` calls of ``addProduct(_:_:)-(SplitDouble,SplitDouble)``, with the storage
  /// checked once for the whole batch instead of once per product.
  @inlinable @inline(__always)
  public mutating func addProducts(_ count: Int, _ pair: (Int) -> (SplitDouble, SplitDouble)) {
    var start = 0
    while start < count {
      let n = min(count - start, Self.normalizeEvery / 2)
      if pending + n >= Self.normalizeEvery { normalize() }
      var (low, high) = (lowDigit, highDigit)
      digits.withUnsafeMutableBufferPointer { p in
        for t in start..<(start + n) {
          let (a, b) = pair(t)
          if a.significand == 0 || b.significand == 0 { continue }
          let i = Self.addWide(a.significand.multipliedFullWidth(by: b.significand), exponent: Int(a.exponent) + Int(b.exponent),
                               negative: a.negative != b.negative, into: p)
          low = min(low, i)
          high = max(high, i + 4)
        }
      }
      (lowDigit, highDigit) = (low, high)
      pending &+= n
      start += n
    }
  }

  /// Adds `±(high · 2^64 + low) · 2^exponent` (a product of two significands, < 2^106).
  @inlinable @inline(__always)
  mutating func addWide(_ product: (high: UInt64, low: UInt64), exponent: Int, negative: Bool) {
    let i = digits.withUnsafeMutableBufferPointer { Self.addWide(product, exponent: exponent, negative: negative, into: $0) }
    lowDigit = min(lowDigit, i)
    highDigit = max(highDigit, i + 4)
    pending &+= 1
    if pending >= Self.normalizeEvery { normalize() }
  }

  /// Adds the product to the digits `p[i ... i+4]` and returns `i`. Every digit changes by less
  /// than 2^34 in magnitude.
  @inlinable @inline(__always)
  static func addWide(_ product: (high: UInt64, low: UInt64), exponent: Int, negative: Bool, into p: UnsafeMutableBufferPointer<Int64>) -> Int {
    let position = exponent - Self.baseExponent
    precondition(position >= 0 && position < (Self.digitCount - 5) * 32, "ExactAccumulator: exponent out of range")
    let i = position >> 5, r = UInt64(position & 31)
    let mask: UInt64 = 0xFFFF_FFFF
    // Four 32-bit pieces (the top one < 2^10), each shifted by r < 32: every digit change < 2^33.
    let s0 = (product.low & mask) << r, s1 = (product.low >> 32) << r
    let s2 = (product.high & mask) << r, s3 = (product.high >> 32) << r
    // Signed without a branch (signs are unpredictable): (d ^ m) − m is d or −d.
    let m: Int64 = negative ? -1 : 0
    let d0 = (Int64(s0 & mask) ^ m) &- m
    let d1 = ((Int64(s0 >> 32) &+ Int64(s1 & mask)) ^ m) &- m
    let d2 = ((Int64(s1 >> 32) &+ Int64(s2 & mask)) ^ m) &- m
    let d3 = ((Int64(s2 >> 32) &+ Int64(s3 & mask)) ^ m) &- m
    let d4 = (Int64(s3 >> 32) ^ m) &- m
    p[i] &+= d0; p[i + 1] &+= d1; p[i + 2] &+= d2; p[i + 3] &+= d3; p[i + 4] &+= d4
    return i
  }

  /// Adds `±significand · 2^exponent` (significand < 2^53).
  @inlinable
  mutating func addSignificand(_ significand: UInt64, exponent: Int, negative: Bool) {
    let position = exponent - Self.baseExponent
    precondition(position >= 0 && position < (Self.digitCount - 3) * 32, "ExactAccumulator: exponent out of range")
    let i = position >> 5, r = UInt64(position & 31)
    let low = significand & 0xFFFF_FFFF, high = significand >> 32   // 32 and 21 bits
    let a = low << r, b = high << r                                  // < 2^63, < 2^53
    let m: Int64 = negative ? -1 : 0
    let d0 = (Int64(a & 0xFFFF_FFFF) ^ m) &- m
    let d1 = ((Int64(a >> 32) &+ Int64(b & 0xFFFF_FFFF)) ^ m) &- m
    let d2 = (Int64(b >> 32) ^ m) &- m
    lowDigit = min(lowDigit, i)
    highDigit = max(highDigit, i + 2)
    digits.withUnsafeMutableBufferPointer { p in
      p[i] &+= d0; p[i + 1] &+= d1; p[i + 2] &+= d2
    }
    pending &+= 1
    if pending >= Self.normalizeEvery { normalize() }
  }

  @usableFromInline
  mutating func addNonFinite(_ x: Double) {
    if x.isNaN { nan = true } else if x > 0 { positiveInfinity = true } else { negativeInfinity = true }
  }

  /// Propagates carries so that the digits in use below the highest lie in [0, 2^32); the
  /// highest keeps the sign (and any carry).
  @usableFromInline
  mutating func normalize() {
    if lowDigit < highDigit {
      let (low, high) = (lowDigit, highDigit)
      digits.withUnsafeMutableBufferPointer { p in
        var carry: Int64 = 0
        for i in low..<high {
          let v = p[i] + carry
          carry = v >> 32                     // arithmetic shift: floor division
          p[i] = v & 0xFFFF_FFFF
        }
        p[high] += carry
      }
    }
    pending = 0
  }

  /// The special value of the sum if a non-finite term was added, else `nil`.
  public var nonFiniteValue: Double? {
    if nan || (positiveInfinity && negativeInfinity) { return .nan }
    if positiveInfinity { return .infinity }
    if negativeInfinity { return -.infinity }
    return nil
  }

  /// The exact finite sum as sign and magnitude: `±Σ words[i] · 2^(32·i + baseExponent)`,
  /// words little-endian, each < 2^32 (all ``digitCount`` words, trailing zeros kept).
  public func magnitudeDigits() -> (negative: Bool, words: [UInt32]) {
    withMagnitudeWords { negative, words, exponent in
      var all = [UInt32](repeating: 0, count: Self.digitCount)
      let first = (exponent - Self.baseExponent) / 32
      for (k, w) in words.enumerated() where w != 0 { all[first + k] = w }
      return (negative, all)
    }
  }

  /// Calls `body` with the exact finite sum as sign and magnitude, `±Σ words[i] · 2^(32·i +
  /// exponent)` (words little-endian, each < 2^32, covering only the digits in use), from a
  /// temporary buffer: no allocation, and the accumulator is not changed.
  public func withMagnitudeWords<R>(_ body: (_ negative: Bool, _ words: UnsafeBufferPointer<UInt32>, _ exponent: Int) -> R) -> R {
    guard lowDigit <= highDigit else {
      return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 1) { w in body(false, UnsafeBufferPointer(start: w.baseAddress, count: 0), Self.baseExponent) }
    }
    let (low, high) = (lowDigit, highDigit)
    let n = high - low + 1
    return digits.withUnsafeBufferPointer { d in
      withUnsafeTemporaryAllocation(of: UInt32.self, capacity: n + 1) { w in
        // Carries into the temporary words; the highest digit, with its carry, is the signed top.
        var carry: Int64 = 0
        for k in 0..<(n - 1) {
          let v = d[low + k] + carry
          carry = v >> 32
          w[k] = UInt32(truncatingIfNeeded: v)
        }
        var top = d[high] + carry
        let negative = top < 0
        if negative {
          // Negate: two's complement over the radix-2^32 words, then the top.
          var borrow: Int64 = 0
          for k in 0..<(n - 1) {
            let v = -Int64(w[k]) + borrow
            borrow = v >> 32
            w[k] = UInt32(truncatingIfNeeded: v)
          }
          top = -top + borrow
        }
        w[n - 1] = UInt32(truncatingIfNeeded: top)
        w[n] = UInt32(truncatingIfNeeded: top >> 32)   // |top| < 2^63
        return body(negative, UnsafeBufferPointer(w), Self.baseExponent + 32 * low)
      }
    }
  }

  /// The `Double` nearest the sum, with the sign of (exact − returned) as `errorSign`
  /// (−1, 0, +1). Exact for sums of magnitude ≥ 2^-1021 (below that the result may be
  /// rounded twice; sums that small never occur in attention).
  public func approximation() -> (value: Double, errorSign: Int) {
    if let special = nonFiniteValue { return (special, 0) }
    return withMagnitudeWords { negative, words, exponent in
      guard let top = words.lastIndex(where: { $0 != 0 }) else { return (0, 0) }
      // A 96-bit view of the three leading words, then a 62-bit window with a sticky bit.
      func word(_ j: Int) -> UInt128 { j >= 0 ? UInt128(words[j]) : 0 }
      let view = word(top) << 64 | word(top - 1) << 32 | word(top - 2)
      var sticky = top >= 3 && words[0...(top - 3)].contains { $0 != 0 }
      let leading = 127 - view.leadingZeroBitCount
      let shift = leading + 1 - 62
      var window: UInt64
      if shift > 0 {
        window = UInt64(view >> UInt128(shift))
        sticky = sticky || view & ((1 << UInt128(shift)) - 1) != 0
      } else {
        window = UInt64(view << UInt128(-shift))
      }
      var windowExponent = 32 * (top - 2) + shift + exponent
      if sticky { window = window << 1 | 1; windowExponent -= 1 }
      let magnitude = Double(window)                                  // RN to 53 bits
      let exact = UInt64(magnitude) == window                         // window < 2^63: convertible
      var errorSign = exact ? 0 : (UInt64(magnitude) < window ? 1 : -1)
      let value = Double(sign: .plus, exponent: windowExponent, significand: magnitude)
      if negative { errorSign = -errorSign }
      return (negative ? -value : value, errorSign)
    }
  }

  /// The sum rounded once to `Double` (nearest, ties to even); see ``approximation()``.
  public func double() -> Double { approximation().value }

  /// The sum rounded once to `Float` (nearest, ties to even; overflow gives ±∞).
  public func float() -> Float {
    let (d, e) = approximation()
    return Float(roundingApproximation: d, errorSign: e)
  }
}

/// A finite `Double` decoded once, `±significand · 2^exponent` (significand < 2^53, 0 for ±0),
/// for operands that enter many exact products (``ExactAccumulator/addProduct(_:_:)-(SplitDouble,SplitDouble)``).
public struct SplitDouble: Sendable, Hashable {
  public var significand: UInt64
  public var exponent: Int32
  public var negative: Bool

  /// Splits `x`, which must be finite.
  @inlinable
  public init(_ x: Double) {
    precondition(x.isFinite, "SplitDouble: \(x) is not finite")
    let bits = x.bitPattern
    let biased = Int32((bits >> 52) & 0x7FF)
    let fraction = bits & ((1 << 52) - 1)
    significand = biased == 0 ? fraction : fraction | (1 << 52)
    exponent = biased == 0 ? -1074 : biased - 1075
    negative = bits >> 63 != 0
  }
}

extension Float {
  /// The `Float` nearest the exact value `approximation + δ`, where `approximation` is the
  /// `Double` nearest it and only the sign of `δ` is known.
  ///
  /// Exact because every `Float` and every midpoint of two `Float`s is a `Double`: no
  /// midpoint lies strictly between the value and its nearest `Double`, so `Float(approximation)`
  /// is right unless `approximation` is itself a midpoint, and then `δ` breaks the tie.
  @inlinable
  public init(roundingApproximation d: Double, errorSign: Int) {
    let f = Float(d)
    guard errorSign != 0, d.isFinite, Double(f) != d else { self = f; return }
    let below = Double(f) < d ? f : f.nextDown
    let above = below.nextUp
    if below.isFinite && above.isFinite && (Double(below) + Double(above)) / 2 == d {
      self = errorSign > 0 ? above : below
    } else {
      self = f
    }
  }
}
