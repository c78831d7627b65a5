import LowPrecision

/// An obviously correct, slow-to-build but fast-to-query reference for rounding into a format:
/// the sorted list of its non-negative finite values, plus one virtual value just beyond the
/// largest (the next grid point of the top binade), which stands for overflow.
///
/// It knows nothing of the encoder's integer algorithm: it only compares the input with
/// neighbouring values and midpoints, all exact Doubles.
struct GridOracle {
  let format: FloatFormat
  /// Non-negative finite values, ascending, with their codes.
  let values: [Double]
  let codes: [UInt32]
  /// The first grid point beyond the largest finite value.
  let beyond: Double

  init(_ format: FloatFormat) {
    self.format = format
    var pairs: [(Double, UInt32)] = []
    for c in 0..<UInt32(format.codeCount) where c & format.signMask == 0 {
      let v = format.decode(c)
      if v.isFinite { pairs.append((v, c)) }
    }
    pairs.sort { $0.0 < $1.0 }
    values = pairs.map(\.0)
    codes = pairs.map(\.1)
    let maxValue = values.last!
    // The grid step of the top binade: 2^(exponent of max − fractionBits).
    beyond = maxValue + Double(sign: .plus, exponent: maxValue.exponent - format.fractionBits, significand: 1)
  }

  /// Index `j` with `values[j] ≤ m < values[j+1]` (or the last index).
  func bracket(_ m: Double) -> Int {
    var lo = 0, hi = values.count - 1
    if m >= values[hi] { return hi }
    while hi - lo > 1 {
      let mid = (lo + hi) / 2
      if values[mid] <= m { lo = mid } else { hi = mid }
    }
    return lo
  }

  enum Choice { case lower, upper }

  /// The expected code of the finite, nonzero-or-zero value `x` under `rounding`, with the
  /// random word `random` for stochastic rounding; `j` is `bracket(|x|)` (callers walking
  /// inputs in order keep it incrementally).
  func expected(_ x: Double, j: Int, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let negative = x.sign == .minus
    let m = abs(x)
    if !format.isSigned && negative && x != 0 { return format.nanCode()! }
    if x == 0 {
      if !format.hasZero { return format.nanCode()! }
      return negative && format.hasNegativeZero ? format.signMask : 0
    }
    let lo = values[j]
    let hi = j + 1 < values.count ? values[j + 1] : beyond
    let loCode = codes[j]
    let hiIsBeyond = j + 1 >= values.count
    // Below the least value of a format without zero (e8m0) everything becomes the least value.
    if !format.hasZero && m < values[0] { return codes[0] }
    var choice: Choice
    if m == lo {
      choice = .lower
    } else {
      let mid = (lo + hi) / 2  // exact: both have few bits
      switch rounding.mode {
      case .nearestEven:
        // Even: the last code bit; the virtual point beyond has the code after the max.
        // Without fraction bits every significand is 1: ties go away from zero.
        let tieLower = format.fractionBits > 0 && loCode & 1 == 0
        choice = m < mid ? .lower : (m > mid ? .upper : (tieLower ? .lower : .upper))
      case .nearestAway: choice = m < mid ? .lower : .upper
      case .towardZero: choice = .lower
      case .up: choice = negative ? .lower : .upper
      case .down: choice = negative ? .upper : .lower
      case .odd: choice = loCode & 1 == 1 ? .lower : .upper
      case .stochastic(let bits):
        let fraction = (m - lo) / (hi - lo)  // exact: hi − lo is a power of two here
        let scaled = (fraction * Double(sign: .plus, exponent: bits, significand: 1)).rounded(.down)
        let r = Double(random & ((1 << UInt64(bits)) - 1))
        choice = scaled + r >= Double(sign: .plus, exponent: bits, significand: 1) ? .upper : .lower
      }
    }
    if choice == .upper && hiIsBeyond {
      return overflow(negative: negative, rounding)
    }
    let code = choice == .lower ? loCode : codes[j + 1]
    if code == 0 && !format.hasNegativeZero { return 0 }
    return (negative ? format.signMask : 0) | code
  }

  /// IEEE 754 overflow, restated: round-to-nearest-like modes go to infinity (or NaN, or max
  /// under saturate); directed modes toward zero stay at ±max.
  func overflow(negative: Bool, _ rounding: Rounding) -> UInt32 {
    let maxCode = format.maxFiniteCode(negative: negative)
    if rounding.overflow == .saturate { return maxCode }
    switch rounding.mode {
    case .towardZero: return maxCode
    case .up where negative: return maxCode
    case .down where !negative: return maxCode
    default: break
    }
    if rounding.overflow == .infinity { return format.infinityCode(negative: negative)! }
    return format.nanCode(negative: negative)!
  }

  /// The expected code for any Double, including NaN and infinities.
  func expected(_ x: Double, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let negative = x.sign == .minus
    if x.isNaN { return format.nanCode(negative: negative)! }
    if x.isInfinite {
      if negative && !format.isSigned { return format.nanCode()! }
      if rounding.overflow == .saturate { return format.maxFiniteCode(negative: negative) }
      return format.infinityCode(negative: negative) ?? format.nanCode(negative: negative)!
    }
    return expected(x, j: bracket(abs(x)), rounding, random: random)
  }
}
