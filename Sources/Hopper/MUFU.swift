import LowPrecision
/// The H100's multi-function unit (MUFU) approximations, bit for bit, in the forms that
/// FlashAttention-3 issues (`--use_fast_math`): `ex2.approx.ftz.f32`, `rcp.approx.ftz.f32`,
/// `lg2.approx.ftz.f32`, and (softcap) `tanh.approx.f32`.
///
/// None of the four is correctly rounded. Each reduces its argument, looks up a quadratic
/// `c0 + c1·xl + c2·xl²` for the interval named by the top bits of the reduced argument, evaluates
/// it in fixed point with a truncated squarer, adds a rounding bias and truncates to 23 fraction
/// bits. The tables are in `MUFU+Tables.swift`.
///
/// `.ftz` (ex2, rcp, lg2): a subnormal argument is read as a zero of the same sign, and a subnormal
/// result is written as a zero of the same sign; `tanh` has no `.ftz` form and returns subnormals
/// as they are. Any NaN argument gives the canonical NaN `0x7FFFFFFF`.
///
/// Accuracy (not the contract — the contract is the bits): `ex2` is within 2 ulp of `2^x`, `rcp`
/// within 1 ulp of `1/x`, `lg2` has an absolute error below 2^-22 near 1.
public enum MUFU {
  /// The NaN every MUFU operation returns for a NaN argument.
  public static let nan = Float(bitPattern: 0x7FFF_FFFF)

  /// `ex2.approx.ftz.f32`: ≈ 2^x. Exact (a power of two) for integer `x`; `ex2(±0) = 1`,
  /// `ex2(−∞) = +0`, `ex2(+∞) = +∞`, `+0` for `x < −126` (the result would be subnormal),
  /// `+∞` for `x ≥ 128`.
  public static func ex2(_ argument: Float) -> Float {
    let x = flushed(argument)
    if x.isNaN { return nan }
    if x.isInfinite { return x < 0 ? 0 : .infinity }
    if x == 0 { return 1 }
    // Below −126 the unit squares 2^(x/2); under .ftz every such result is flushed anyway.
    let halve = x < -126
    let y = halve ? x * 0.5 : x
    var integral = y.rounded(.towardZero)
    let fraction = y - integral  // exact
    // The fraction as 23-bit fixed point; negative fractions become 1 − |f| (one's complement).
    var bits: UInt32 = 0
    if fraction != 0 {
      let significand = (fraction.bitPattern | 1 << 23) & 0xFF_FFFF
      bits = significand >> UInt32(min(-Int(fraction.exponent), 24))
      if fraction < 0 && bits != 0 {
        bits = ~bits
        integral -= 1
      }
    }
    let high = Int((bits >> 17) & 0x3F), low = UInt64(bits & 0x1_FFFF)
    let c = (UInt64(ex2Table[3 * high]), UInt64(ex2Table[3 * high + 1]), UInt64(ex2Table[3 * high + 2]))
    var sum = c.0 << 32 &+ (c.1 &* low) << 19 &+ c.2 &* square(UInt32(low))
    sum &+= 0x6FC4_0000_0000_0000 >> 30
    let r = Float(bitPattern: 127 << 23 | UInt32((sum >> 34) & 0x7F_FFFF))
    let power: Float = integral > 127 ? .infinity : integral < -126 ? 0 : Float(sign: .plus, exponent: Int(integral), significand: 1)
    let result = power * r
    return flushed(halve ? result * result : result)
  }

  /// `rcp.approx.ftz.f32`: ≈ 1/x. `rcp(±0) = ±∞` (subnormals count as zeros), `rcp(±∞) = ±0`;
  /// a result below 2^-126 in magnitude is flushed to a signed zero.
  public static func rcp(_ argument: Float) -> Float {
    let x = flushed(argument)
    if x.isNaN { return nan }
    if x.isInfinite { return Float(sign: x.sign, exponent: 0, significand: 0) }
    if x == 0 { return Float(sign: x.sign, exponent: 0, significand: .infinity) }
    let bits = x.bitPattern
    let high = Int((bits >> 16) & 0x7F), low = UInt64(bits & 0xFFFF)
    let c = (UInt64(rcpTable[3 * high]), UInt64(rcpTable[3 * high + 1]), UInt64(rcpTable[3 * high + 2]))
    var sum = c.0 << 30 &- (c.1 &* low) << 17 &+ c.2 &* (square(UInt32(low << 1)) >> 2)
    sum &+= 0x67E7_0000_0000_0000 >> 31
    var exponent: UInt32 = 127
    if sum >> 56 == 0 {
      exponent -= 1
      sum <<= 1
    }
    let sign: UInt32 = x.sign == .minus ? 1 << 31 : 0
    let r = Float(bitPattern: sign | exponent << 23 | UInt32((sum >> 33) & 0x7F_FFFF))
    // r·2^(−e(x)) in two exact steps (r ∈ [0.5, 2), e(x) ∈ [−126, 127]).
    let e = -Int(x.exponent)
    let half = e / 2
    let scaled = r * Float(sign: .plus, exponent: half, significand: 1) * Float(sign: .plus, exponent: e - half, significand: 1)
    return flushed(scaled)
  }

  /// `lg2.approx.ftz.f32`: ≈ log2(x), with an absolute (not relative) error. `lg2(1) = 0`,
  /// `lg2(±0) = −∞` (subnormals count as zeros), `lg2(+∞) = +∞`, NaN for negative `x`.
  public static func lg2(_ argument: Float) -> Float {
    let x = flushed(argument)
    if x.isNaN { return nan }
    if x == 0 { return -.infinity }
    if x.sign == .minus { return nan }
    if x.isInfinite { return .infinity }
    if x == 1 { return 0 }
    let bits = x.bitPattern
    let high = Int((bits >> 17) & 0x3F), low = UInt64(bits & 0x1_FFFF)
    let c = (UInt64(lg2Table[3 * high]), UInt64(lg2Table[3 * high + 1]), UInt64(lg2Table[3 * high + 2]))
    var sum = c.0 << 30 &+ (c.1 &* low) << 18 &- c.2 &* square(UInt32(low))
    sum &+= 0x868B_0000_0000_0000 >> 31
    // Add the exponent (weight 2^56), take the magnitude, drop the low 20 bits.
    let signed = Int64(bitPattern: sum) &+ Int64(x.exponent) << 56
    var magnitude = signed.magnitude & ~((1 << 20) - 1)
    if magnitude == 0 { return 0 }
    var exponent: UInt32 = 127
    while magnitude >> 56 == 0 { exponent -= 1; magnitude <<= 1 }
    while magnitude >> 57 != 0 { exponent += 1; magnitude >>= 1 }
    let sign: UInt32 = x < 1 ? 1 << 31 : 0
    return Float(bitPattern: sign | exponent << 23 | UInt32((magnitude >> 33) & 0x7F_FFFF))
  }

  /// `tanh.approx.f32` (MUFU.TANH), the tanh of FlashAttention-3's softcap: ≈ tanh(x), relative
  /// error below 2^-16.6. Not flushed: `tanh(x) = x` for |x| < 2^-8 (subnormals and ±0 included);
  /// ±1 for |x| ≥ 8 and ±∞; the canonical NaN `0x7FFFFFFF` for any NaN; odd, `tanh(−x) = −tanh(x)`,
  /// for every input. In between, the binade [2^e, 2^(e+1)) of |x| drops the low d fraction bits
  /// (``tanhDroppedBits``), picks an interval by the next 6 − d, and evaluates
  /// `A + ⌊(B·xl·2^17 − C·square(xl)) / 2^34⌋` on the remaining 17-bit offset xl, in units of
  /// 2^(q − 23) with q = min(e, 0) − 1; a sum of 25 bits loses its lowest (truncation).
  public static func tanh(_ x: Float) -> Float {
    if x.isNaN { return nan }
    let magnitude = x.magnitude
    if magnitude < 0x1p-8 { return x }
    if magnitude >= 8 { return Float(sign: x.sign, exponent: 0, significand: 1) }
    let bits = magnitude.bitPattern
    let e = Int(bits >> 23) - 127  // −8 … 2
    let dropped = tanhDroppedBits[e + 8]
    let fraction = bits & 0x7F_FFFF
    let row = tanhFirstRow[e + 8] + Int(fraction >> (17 + dropped))
    let offset = (fraction >> dropped) & 0x1_FFFF
    let c = (Int64(tanhTable[3 * row]), Int64(tanhTable[3 * row + 1]), Int64(tanhTable[3 * row + 2]))
    let sum = (c.1 * Int64(offset)) << 17 - c.2 * Int64(square(offset))
    var y = c.0 + (sum >> 34)  // an arithmetic shift: the floor
    var q = min(e, 0) - 1
    if y >= 1 << 24 {
      y >>= 1
      q += 1
    }
    // y ∈ [2^23, 2^24): exactly representable, and the product with a power of two is exact.
    return Float(sign: x.sign, exponent: q - 23, significand: Float(y))
  }

  /// The unit's truncated squarer: `x²` less the partial-product bits it never forms
  /// (the anti-diagonal and the first nine rows of the folded partial-product matrix, in the
  /// low 19 columns).
  static func square(_ x: UInt32) -> UInt64 {
    let columns: UInt32 = (1 << 19) - 1
    // Bits 0…9 of x spread to the even positions 0…18 (higher ones fall outside the 19 columns).
    var antidiagonal = x & 0x3FF
    antidiagonal = (antidiagonal | antidiagonal << 8) & 0x00FF_00FF
    antidiagonal = (antidiagonal | antidiagonal << 4) & 0x0F0F_0F0F
    antidiagonal = (antidiagonal | antidiagonal << 2) & 0x3333_3333
    antidiagonal = (antidiagonal | antidiagonal << 1) & 0x5555_5555
    var error = UInt64(antidiagonal & columns)
    for i in 0..<9 {
      let row = (x << UInt32(i + 1)) & ~((1 << UInt32(2 * i + 2)) - 1) & columns
      error += UInt64(row & (0 &- ((x >> UInt32(i)) & 1)))  // the row exists where bit i of x is set
    }
    return UInt64(x) * UInt64(x) - error
  }

  /// `x` with a subnormal replaced by a zero of the same sign (`.ftz`).
  @inline(__always)
  public static func flushed(_ x: Float) -> Float {
    x.isSubnormal ? Float(sign: x.sign, exponent: 0, significand: 0) : x
  }
}

extension MUFU {
  /// The modelled operations, by PTX name.
  public enum Operation: String, CaseIterable, Sendable {
    case ex2, rcp, lg2, tanh

    /// The operations of the H100 fixtures (`mufu-h100.npy`, `mufu-h100-hashes.bin`), in their column order.
    public static let h100Fixtures: [Operation] = [.ex2, .rcp, .lg2]

    @inline(__always)
    public func callAsFunction(_ x: Float) -> Float {
      switch self {
      case .ex2: MUFU.ex2(x)
      case .rcp: MUFU.rcp(x)
      case .lg2: MUFU.lg2(x)
      case .tanh: MUFU.tanh(x)
      }
    }
  }

  /// A fingerprint of `operation` over the 2^20 float32 bit patterns `chunk << 20 …
  /// chunk << 20 | 0xFFFFF` (chunk < 4096): the sum mod 2^64 of SplitMix64's finalizer of
  /// `x << 32 | f(x)` — what `Scripts/mufu_probe.cu hashes` computes on a GPU, so that equal
  /// fingerprints of all 4096 chunks mean equal outputs on all 2^32 inputs.
  public static func chunkHash(_ operation: Operation, chunk: Int) -> UInt64 {
    var sum: UInt64 = 0
    for low in 0..<UInt32(1 << 20) {
      let x = UInt32(chunk) << 20 | low
      sum &+= mix(UInt64(x) << 32 | UInt64(operation(Float(bitPattern: x)).bitPattern))
    }
    return sum
  }

  /// SplitMix64's finalizer.
  static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
