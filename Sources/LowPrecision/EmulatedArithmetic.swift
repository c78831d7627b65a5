// Arithmetic on codes of any FloatFormat, each operation rounded once.
//
// Why a Double intermediate is wide enough (every format has ≤ 11 significant bits and
// |x| < 2^129, nonzero |x| ≥ 2^-150):
// - ×: the product of two ≤ 11-bit significands has ≤ 22 bits, and its magnitude lies in
//   [2^-300, 2^258], inside Double's normal range: the Double product is exact.
// - +, −: TwoSum (Knuth) gives s = fl(x+y) and the exact error e = (x+y) − s, with no
//   overflow possible at these magnitudes; the sign of e is the sign of the true value minus s.
// - fma: x·y is exact (above), then TwoSum of it and z is exact in the same way.
// - ÷: q = fl(x/y) and r = fma(−q, y, x) = x − q·y exactly (the remainder of a
//   round-to-nearest quotient is representable when no underflow occurs, and x − q·y is
//   ≥ 2^-350 in magnitude here, far above Double's subnormals); sign(x/y − q) = sign(r)·sign(y).
// - √: s = fl(√x) and r = fma(−s, s, x) = x − s² exactly (same argument); sign(√x − s) = sign(r).
// Then `round(approximation:errorSign:)` rounds the exact value once (see its proof).

extension FloatFormat {
  /// `a + b`, rounded once. NaN operands, and ∞ − ∞, give the canonical positive NaN.
  /// An exact zero sum is +0 (−0 under `down`), except that zeros of one sign keep it (IEEE 754).
  @inlinable
  public func add(_ a: UInt32, _ b: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    sum(decode(a), decode(b), rounding, random: random)
  }

  /// `a − b`, rounded once (`a + (−b)`).
  @inlinable
  public func subtract(_ a: UInt32, _ b: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    sum(decode(a), -decode(b), rounding, random: random)
  }

  /// `a × b`, rounded once. 0 × ∞ and NaN operands give the canonical positive NaN.
  @inlinable
  public func multiply(_ a: UInt32, _ b: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let p = decode(a) * decode(b)  // exact (see above)
    return p.isNaN ? canonicalNaN : encode(p, rounding, random: random)
  }

  /// `a ÷ b`, rounded once. x/±0 = ±∞ for x ≠ 0 (or per the overflow policy in formats
  /// without infinity), 0/0 and ∞/∞ give the canonical positive NaN.
  @inlinable
  public func divide(_ a: UInt32, _ b: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let x = decode(a), y = decode(b)
    let q = x / y
    if q.isNaN { return canonicalNaN }
    if !q.isFinite || q == 0 { return encode(q, rounding, random: random) }
    let r = x.addingProduct(-q, y)   // x − q·y, exact
    return round(approximation: q, errorSign: signum(r) * signum(y), rounding, random: random)
  }

  /// `√a`, rounded once. √(−0) = −0; negative operands give the canonical positive NaN.
  @inlinable
  public func squareRoot(_ a: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    let x = decode(a)
    let s = x.squareRoot()
    if s.isNaN { return canonicalNaN }
    if !s.isFinite || s == 0 { return encode(s, rounding, random: random) }
    let r = x.addingProduct(-s, s)   // x − s², exact
    return round(approximation: s, errorSign: signum(r), rounding, random: random)
  }

  /// `a × b + c`, rounded once (fused).
  @inlinable
  public func fusedMultiplyAdd(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ rounding: Rounding, random: UInt64 = 0) -> UInt32 {
    sum(decode(a) * decode(b), decode(c), rounding, random: random)
  }

  /// The exact sum `x + y` of two Doubles whose sum cannot overflow, rounded once.
  @inlinable
  func sum(_ x: Double, _ y: Double, _ rounding: Rounding, random: UInt64) -> UInt32 {
    let s = x + y
    if s.isNaN { return canonicalNaN }
    if !s.isFinite { return encode(s, rounding, random: random) }
    if s == 0 {
      // Exact zero (IEEE 754 §6.3): zeros of one sign keep it; any other exact zero sum is
      // +0, or −0 under `down`.
      let sameSignZeros = x == 0 && y == 0 && x.sign == y.sign
      let negative = sameSignZeros ? x.sign == .minus : rounding.mode == .down
      return encode(negative ? -0.0 : 0.0, rounding, random: random)
    }
    // TwoSum: e = (x + y) − s exactly.
    let bb = s - x
    let e = (x - (s - bb)) + (y - bb)
    return round(approximation: s, errorSign: signum(e), rounding, random: random)
  }

  /// The canonical NaN with the sign bit clear (traps for formats without NaN).
  @inlinable
  var canonicalNaN: UInt32 {
    guard let nan = nanCode(negative: false) else {
      preconditionFailure("format \(name) has no NaN for an invalid operation")
    }
    return nan
  }
}

@inlinable
func signum(_ x: Double) -> Int { x > 0 ? 1 : (x < 0 ? -1 : 0) }
