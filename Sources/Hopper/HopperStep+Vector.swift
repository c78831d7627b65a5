import LowPrecision
import CVectorShims

/// Operands split for the vector paths of ``HopperStep``: values (as `Float`), unnormalised
/// exponents (as `Int16`) and codes in separate buffers (structure of arrays), so that one
/// instruction's `k` operands load as vectors. The four-lane step reads them contiguously
/// (``pointer(_:)``); the lane chains (``HopperStep/laneChains(_:_:steps:acc:general:)``,
/// ``lanePointer(_:)``) read a shared A operand contiguously and the B operands of
/// ``HopperStep/laneCount`` chains interleaved by lane (element i of lane l at `laneCount·i + l`),
/// and need no codes. A reference type with fixed storage, so that positions in it are plain
/// pointers; shared read-only between threads once filled.
public final class HopperOperandRows: @unchecked Sendable {
  public let count: Int
  /// Whether the codes are stored (the four-lane step's general fallback reads them).
  public let keepsCodes: Bool
  @usableFromInline let values: UnsafeMutablePointer<Float>
  @usableFromInline let exponents: UnsafeMutablePointer<Int16>
  @usableFromInline let codes: UnsafeMutablePointer<UInt16>

  /// `count` zero operands (code 0 of the table's format); without `codes`, values and
  /// exponents only.
  public init(zeros count: Int, table: [HopperOperand], codes keepsCodes: Bool = true) {
    self.count = count
    self.keepsCodes = keepsCodes
    values = .allocate(capacity: max(count, 1))
    exponents = .allocate(capacity: max(count, 1))
    let codeCount = keepsCodes ? max(count, 1) : 1
    codes = .allocate(capacity: codeCount)
    values.initialize(repeating: table[0].value, count: max(count, 1))
    exponents.initialize(repeating: Int16(table[0].exponent), count: max(count, 1))
    codes.initialize(repeating: table[0].code, count: codeCount)
  }

  deinit {
    values.deallocate()
    exponents.deallocate()
    codes.deallocate()
  }

  /// Element `i` set to the split of `code` (`table` indexed by code, as ``HopperStep/aTable``).
  @inline(__always)
  public func set(_ i: Int, code: Int, table: [HopperOperand]) {
    precondition(i >= 0 && i < count)
    store(i, table[code])
  }

  /// Elements `start ..< start + codes.count` set to the splits of `codes` (8- or 16-bit codes;
  /// inlinable, so that each caller gets the loop for its code type).
  @inlinable
  public func set<Code: FixedWidthInteger>(from start: Int, codes: UnsafeBufferPointer<Code>, table: [HopperOperand]) {
    precondition(start >= 0 && start + codes.count <= count)
    table.withUnsafeBufferPointer { t in
      for i in 0..<codes.count { store(start + i, t[Int(codes[i])]) }
    }
  }

  @inlinable @inline(__always)
  func store(_ i: Int, _ split: HopperOperand) {
    values[i] = split.value
    exponents[i] = Int16(truncatingIfNeeded: split.exponent)
    if keepsCodes { codes[i] = split.code }
  }

  /// The position of element `i` for the four-lane step (only when ``keepsCodes``).
  @inlinable @inline(__always)
  public func pointer(_ i: Int) -> HopperOperandPointer {
    HopperOperandPointer(values + i, exponents + i, codes + i)
  }

  /// The position of element `i` for the lane chains.
  @inlinable @inline(__always)
  public func lanePointer(_ i: Int) -> HopperLanePointer {
    HopperLanePointer(values: values + i, exponents: exponents + i)
  }
}

/// A position in ``HopperOperandRows``.
public struct HopperOperandPointer {
  public var values: UnsafePointer<Float>
  public var exponents: UnsafePointer<Int16>
  public var codes: UnsafePointer<UInt16>

  @inlinable
  init(_ v: UnsafePointer<Float>, _ e: UnsafePointer<Int16>, _ c: UnsafePointer<UInt16>) {
    values = v
    exponents = e
    codes = c
  }

  @inlinable @inline(__always)
  public func advanced(by n: Int) -> HopperOperandPointer {
    HopperOperandPointer(values + n, exponents + n, codes + n)
  }
}

/// The vector path of ``HopperStep``, in floating point.
///
/// With `top` the alignment point and F the kept fraction bits (13 FP8, 25 BF16/FP16), each
/// product's aligned, truncated term is `trunc(a·b·2^(F − top))`: `a·b` is exact in `Float` (FP8
/// significands have ≤ 4 bits, BF16 8 and FP16 11, so products have ≤ 22 bits), the scaling by a
/// power of two is exact while the result stays normal, and the conversion to `Int32` truncates
/// toward zero (one `cvttps2dq` per four products). Terms are below 2^(F+2) in magnitude, so the
/// lanes sum them exactly in `Int32` (a lane adds ≤ 8 FP8 terms < 2^15, or 4 BF16/FP16 terms
/// < 2^27). C's term, `trunc(C·2^(F − top))`, is exact the same way (or below 1, hence 0).
///
/// This holds while −99 ≤ top ≤ 100: then products do not overflow `Float` (|a·b| < 2^102), a
/// product small enough to lose bits (< 2^−126, only BF16) has a term below 1/4 whether rounded
/// or not, and `sum · 2^(top − F)` is a normal `Float` for any nonzero sum (|sum| < 2^33). The
/// step's result is then `sum` truncated to `p_out + 1` significant bits (13 + 1 FP8, 23 + 1
/// BF16/FP16) by clearing low significand bits, scaled by 2^(top − F): exactly the model's one
/// RZ normalisation. Outside the window, a NaN or infinite operand (exponent sum ≥ 4000) or C
/// (exponent 128), a subnormal C with no larger product, the step goes to ``exactStep(_:_:c:)``.
extension HopperStep {
  /// The same step as ``callAsFunction(_:_:bStride:c:)`` on `k` contiguous split operands
  /// (32 for FP8, 16 for BF16/FP16). Same bits for every input.
  @inlinable @inline(__always)
  public func callAsFunction(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    instruction.k == 32 ? fp8Step(a, b, c: c) : halfStep(a, b, c: c)
  }

  /// FP8 (k = 32, F = 13, 13 fraction bits out); lanes sum 8 terms < 2^15, the total is < 2^21.
  @inlinable @inline(__always)
  func fp8Step(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let e = fn_maximum_short8(fn_maximum_short8(exponents(a, b, 0), exponents(a, b, 8)),
                              fn_maximum_short8(exponents(a, b, 16), exponents(a, b, 24)))
    let cBiased = Int((c >> 23) & 0xFF)
    let top = max(Int(Self.largestLane(e)), cBiased == 0 ? -1000 : cBiased - 127)
    guard top >= -99 && top <= 100 else { return Self.exactStep(instruction, a, b, c: c) }
    let F = HopperInstruction.fp8FractionBits.aligned
    let scale = Float(bitPattern: UInt32(truncatingIfNeeded: 127 + F - top) << 23)
    let s = SIMD4<Float>(repeating: scale)
    let t0 = terms(a, b, 0, s) &+ terms(a, b, 4, s), t1 = terms(a, b, 8, s) &+ terms(a, b, 12, s)
    let t2 = terms(a, b, 16, s) &+ terms(a, b, 20, s), t3 = terms(a, b, 24, s) &+ terms(a, b, 28, s)
    let cTerm = fn_truncate_float4(SIMD4<Float>(Float(bitPattern: c) * scale, 0, 0, 0))
    let sum = ((t0 &+ t1) &+ (t2 &+ t3) &+ cTerm).wrappedSum()
    // Exact as a Float; keep 14 significant bits (RZ), then scale back.
    let kept = Float(bitPattern: Float(sum).bitPattern & 0xFFFF_FC00)
    return (kept * Float(bitPattern: UInt32(truncatingIfNeeded: 127 - F + top) << 23)).bitPattern
  }

  /// BF16/FP16 (k = 16, F = 25, 23 fraction bits out); lanes sum 4 terms < 2^27, the 16 terms
  /// total < 2^31 − 16 (exact in `Int32`), C's term < 2^26 is added in 64 bits.
  @inlinable @inline(__always)
  func halfStep(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let e = fn_maximum_short8(exponents(a, b, 0), exponents(a, b, 8))
    let cBiased = Int((c >> 23) & 0xFF)
    let top = max(Int(Self.largestLane(e)), cBiased == 0 ? -1000 : cBiased - 127)
    guard top >= -99 && top <= 100 else { return Self.exactStep(instruction, a, b, c: c) }
    let F = HopperInstruction.halfFractionBits.aligned
    let scale = Float(bitPattern: UInt32(truncatingIfNeeded: 127 + F - top) << 23)
    let s = SIMD4<Float>(repeating: scale)
    let products = (terms(a, b, 0, s) &+ terms(a, b, 4, s)) &+ (terms(a, b, 8, s) &+ terms(a, b, 12, s))
    let cTerm = fn_truncate_float4(SIMD4<Float>(Float(bitPattern: c) * scale, 0, 0, 0))[0]
    let sum = Int64(products.wrappedSum()) &+ Int64(cTerm)
    // |sum| < 2^32: exact as a Double; keep 24 significant bits (RZ), then scale back.
    let kept = Double(bitPattern: Double(sum).bitPattern & ~((1 << 29) - 1))
    return (Float(kept) * Float(bitPattern: UInt32(truncatingIfNeeded: 127 - F + top) << 23)).bitPattern
  }

  /// Four truncated terms trunc(a·b·s), s = 2^(F − top).
  @inlinable @inline(__always)
  func terms(_ a: HopperOperandPointer, _ b: HopperOperandPointer, _ offset: Int, _ s: SIMD4<Float>) -> SIMD4<Int32> {
    fn_truncate_float4(floats(a, offset) * floats(b, offset) * s)
  }

  /// The step for any top, and the general model for NaN and infinite inputs: terms in
  /// `Double`, C aligned in integers, one normalisation (``TensorCoreBlock/normalize``). Static,
  /// so that the fast paths' callers need not materialise `self` for this rare call.
  @usableFromInline
  static func exactStep(_ instruction: HopperInstruction, _ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let k = instruction.k
    var productTop: Int32 = -2000
    for i in 0..<k { productTop = max(productTop, Int32(a.exponents[i]) + Int32(b.exponents[i])) }
    guard let (top, aligned) = alignment(productTop, c) else {
      return instruction.step((0..<k).map { UInt32(a.codes[$0]) }[...], (0..<k).map { UInt32(b.codes[$0]) }[...], c: c)
    }
    let block = instruction.block
    let F = block.alignedFractionBits
    let scale = Double(sign: .plus, exponent: F - Int(top), significand: 1)
    var sum: Int64 = 0
    for i in 0..<k {
      // Exact: |a·b| ≥ 2^−266 and scale ≤ 2^158 keep the product normal; the term is < 2^27.
      sum += Int64((Double(a.values[i]) * Double(b.values[i]) * scale).rounded(.towardZero))
    }
    let acc = sum &+ aligned.term(top: top, alignedFractionBits: F)
    return TensorCoreBlock.normalize(acc, top: Int(top), alignedFractionBits: F, outputFractionBits: block.outputFractionBits)
  }

  @inlinable @inline(__always)
  func exponents(_ a: HopperOperandPointer, _ b: HopperOperandPointer, _ offset: Int) -> SIMD8<Int16> {
    UnsafeRawPointer(a.exponents + offset).loadUnaligned(as: SIMD8<Int16>.self)
      &+ UnsafeRawPointer(b.exponents + offset).loadUnaligned(as: SIMD8<Int16>.self)
  }

  /// The largest of the eight lanes (lanes folded by 64-bit shifts).
  @inlinable @inline(__always)
  static func largestLane(_ e: SIMD8<Int16>) -> Int16 {
    var m = fn_maximum_short8(e, unsafeBitCast(unsafeBitCast(e, to: SIMD2<UInt64>.self) &>> 32, to: SIMD8<Int16>.self))
    m = fn_maximum_short8(m, unsafeBitCast(unsafeBitCast(m, to: SIMD2<UInt64>.self) &>> 16, to: SIMD8<Int16>.self))
    return max(m[0], m[4])
  }

  @inlinable @inline(__always)
  func floats(_ p: HopperOperandPointer, _ offset: Int) -> SIMD4<Float> {
    UnsafeRawPointer(p.values + offset).loadUnaligned(as: SIMD4<Float>.self)
  }

  /// The alignment point (the largest product exponent, C's, and −133) and C split, or `nil`
  /// when a product or C is NaN or infinite.
  @inlinable @inline(__always)
  static func alignment(_ productTop: Int32, _ c: UInt32) -> (top: Int32, c: AlignedC)? {
    let cBiased = Int32((c >> 23) & 0xFF)
    if cBiased == 0xFF || productTop >= HopperOperand.specialExponent / 2 { return nil }
    let cFraction = Int64(c & 0x7F_FFFF)
    if cBiased == 0 && cFraction == 0 { return (max(productTop, -133), AlignedC(significand: 0, exponent: 0, negative: false)) }
    let cExponent: Int32 = cBiased == 0 ? -126 : cBiased - 127
    let significand = cBiased == 0 ? cFraction : cFraction | 1 << 23
    return (max(productTop, -133, cExponent), AlignedC(significand: significand, exponent: cExponent, negative: c >> 31 != 0))
  }

  /// C as `significand · 2^(exponent − 23)`.
  @usableFromInline
  struct AlignedC {
    @usableFromInline var significand: Int64
    @usableFromInline var exponent: Int32
    @usableFromInline var negative: Bool

    @inlinable
    init(significand: Int64, exponent: Int32, negative: Bool) {
      self.significand = significand
      self.exponent = exponent
      self.negative = negative
    }

    /// C shifted to `F` fraction bits below 2^top and truncated toward zero, signed.
    @inlinable @inline(__always)
    func term(top: Int32, alignedFractionBits F: Int) -> Int64 {
      if significand == 0 { return 0 }
      let shift = Int64(top &- exponent &+ 23 &- Int32(F))
      let magnitude = shift <= 0 ? significand << -shift : (shift >= 62 ? 0 : significand >> shift)
      return negative ? -magnitude : magnitude
    }
  }
}
