import LowPrecision

/// One fused dot-product-add step of a Hopper (sm_90) tensor core, bit for bit:
/// `D = Σ a[i]·b[i] + c` over one block of `a.count` products, with FP32 `c` and `D`.
///
/// The arithmetic (measured on an H100; docs/hopper-arithmetic.md):
/// products are exact and keep the unnormalised exponent `e_a + e_b`; the alignment point is the
/// largest exponent among the nonzero terms *including c*, floored at −133; every term is shifted
/// there and its magnitude truncated toward zero to `alignedFractionBits` (F) fraction bits; the
/// truncated terms are summed exactly; the sum is normalised once and truncated (RZ) to
/// `outputFractionBits` fraction bits. Overflow gives ±Inf (not ±max), an exact or underflowed
/// zero is +0, any NaN (or 0·Inf, or +Inf − Inf) gives 0x7FFFFFFF, subnormal inputs and outputs
/// are kept. Inputs are raw codes of `aFormat`/`bFormat`; `c` and the result are FP32 bits.
public struct TensorCoreBlock: Hashable, Sendable {
  public var aFormat: FloatFormat
  public var bFormat: FloatFormat
  /// Fraction bits kept after alignment (F): 13 for FP8 wgmma, 25 for BF16/FP16.
  public var alignedFractionBits: Int
  /// Fraction bits of the result: 13 (FP8 wgmma's e8m13 value) or 23 (full FP32).
  public var outputFractionBits: Int

  public init(aFormat: FloatFormat, bFormat: FloatFormat, alignedFractionBits: Int, outputFractionBits: Int) {
    self.aFormat = aFormat
    self.bFormat = bFormat
    self.alignedFractionBits = alignedFractionBits
    self.outputFractionBits = outputFractionBits
  }

  /// FP32's canonical NaN as the tensor core writes it.
  public static let nan: UInt32 = 0x7FFF_FFFF

  /// An operand split as `(−1)^negative · significand · 2^(exponent − fractionBits)`; subnormals
  /// use the minimum exponent and no hidden bit.
  struct Term {
    var negative: Bool
    var significand: Int64
    var exponent: Int
    var fractionBits: Int
  }

  enum Special { case finite(Term), zero, infinite(negative: Bool), nan }

  static func split(_ code: UInt32, _ format: FloatFormat) -> Special {
    if format.isNaN(code) { return .nan }
    let negative = code & format.signMask != 0
    if format.isInfinite(code) { return .infinite(negative: negative) }
    let magnitude = code & format.magnitudeMask
    if magnitude == 0 && format.hasZero { return .zero }
    let f = format.fractionBits
    let biased = Int(magnitude >> UInt32(f))
    let fraction = Int64(magnitude & ((1 << UInt32(f)) - 1))
    if biased == 0 && format.hasSubnormals {
      return .finite(Term(negative: negative, significand: fraction, exponent: format.minExponent, fractionBits: f))
    }
    return .finite(Term(negative: negative, significand: fraction | (1 << Int64(f)), exponent: biased - format.bias, fractionBits: f))
  }

  static func splitFP32(_ bits: UInt32) -> Special {
    let negative = bits >> 31 != 0
    let biased = Int((bits >> 23) & 0xFF)
    let fraction = Int64(bits & 0x7F_FFFF)
    if biased == 0xFF { return fraction == 0 ? .infinite(negative: negative) : .nan }
    if biased == 0 {
      return fraction == 0 ? .zero : .finite(Term(negative: negative, significand: fraction, exponent: -126, fractionBits: 23))
    }
    return .finite(Term(negative: negative, significand: fraction | (1 << 23), exponent: biased - 127, fractionBits: 23))
  }

  /// `Σ a[i]·b[i] + c`, one block (`a.count == b.count`), as FP32 bits.
  public func callAsFunction(_ a: some Collection<UInt32>, _ b: some Collection<UInt32>, c: UInt32) -> UInt32 {
    precondition(a.count == b.count, "operand lengths differ")
    var terms: [Term] = []
    terms.reserveCapacity(a.count + 1)
    var sawNaN = false, sawPlusInf = false, sawMinusInf = false
    for (x, y) in zip(a, b) {
      switch (Self.split(x, aFormat), Self.split(y, bFormat)) {
      case (.nan, _), (_, .nan): sawNaN = true
      case (.infinite, .zero), (.zero, .infinite): sawNaN = true
      case (.infinite(let s), .infinite(let t)):
        if s != t { sawMinusInf = true } else { sawPlusInf = true }
      case (.infinite(let s), .finite(let t)), (.finite(let t), .infinite(let s)):
        if s != t.negative { sawMinusInf = true } else { sawPlusInf = true }
      case (.zero, _), (_, .zero): break
      case (.finite(let s), .finite(let t)):
        terms.append(Term(negative: s.negative != t.negative, significand: s.significand * t.significand,
                          exponent: s.exponent + t.exponent, fractionBits: s.fractionBits + t.fractionBits))
      }
    }
    switch Self.splitFP32(c) {
    case .nan: sawNaN = true
    case .infinite(let s): if s { sawMinusInf = true } else { sawPlusInf = true }
    case .zero: break
    case .finite(let t): terms.append(t)
    }
    if sawNaN || (sawPlusInf && sawMinusInf) { return Self.nan }
    if sawPlusInf { return 0x7F80_0000 }
    if sawMinusInf { return 0xFF80_0000 }
    return sum(terms)
  }

  /// Aligns, truncates, sums exactly, normalises and truncates once (spec §3 steps 3–5).
  func sum(_ terms: [Term]) -> UInt32 {
    let F = alignedFractionBits
    let top = terms.reduce(-133) { max($0, $1.exponent) }
    var acc: Int64 = 0
    for t in terms {
      let shift = (top - t.exponent) + t.fractionBits - F
      let q = shift <= 0 ? t.significand << Int64(-shift) : t.significand >> Int64(shift)  // smart shifts
      acc += t.negative ? -q : q
    }
    return Self.normalize(acc, top: top, alignedFractionBits: F, outputFractionBits: outputFractionBits)
  }

  /// The FP32 bits of `acc · 2^(top − F)` truncated (RZ) to `outputFractionBits` fraction bits:
  /// +0 for zero or underflow, ±Inf above FP32's range, subnormals kept.
  @inlinable @inline(__always)
  static func normalize(_ acc: Int64, top: Int, alignedFractionBits F: Int, outputFractionBits pOut: Int) -> UInt32 {
    if acc == 0 { return 0 }
    let negative = acc < 0
    let magnitude = UInt64(acc.magnitude)
    let bitLength = 64 - magnitude.leadingZeroBitCount
    let exponent = max((top - F) + bitLength - 1, -126)
    let shift = (exponent - pOut) - (top - F)
    var q = shift <= 0 ? magnitude << UInt64(-shift) : magnitude >> UInt64(shift)
    if q == 0 { return 0 }
    let sign: UInt32 = negative ? 0x8000_0000 : 0
    if exponent > 127 { return sign | 0x7F80_0000 }
    q <<= UInt64(23 - pOut)
    if q >= 1 << 23 { return sign | UInt32(exponent + 127) << 23 | UInt32(q - (1 << 23)) }
    return sign | UInt32(q)
  }
}
