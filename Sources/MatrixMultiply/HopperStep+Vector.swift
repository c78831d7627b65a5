/// Operands split for the vector path of ``HopperStep``: significands, exponents and codes in
/// separate buffers (structure of arrays), so that one instruction's `k` operands load as
/// vectors. A reference type with fixed storage, so that positions in it are plain pointers;
/// shared read-only between threads once filled.
public final class HopperOperandRows: @unchecked Sendable {
  public let count: Int
  @usableFromInline let significands: UnsafeMutablePointer<Int32>
  @usableFromInline let exponents: UnsafeMutablePointer<Int32>
  @usableFromInline let codes: UnsafeMutablePointer<UInt16>

  /// `count` zero operands (code 0 of the table's format).
  public init(zeros count: Int, table: [HopperOperand]) {
    self.count = count
    significands = .allocate(capacity: max(count, 1))
    exponents = .allocate(capacity: max(count, 1))
    codes = .allocate(capacity: max(count, 1))
    significands.initialize(repeating: table[0].significand, count: max(count, 1))
    exponents.initialize(repeating: table[0].exponent, count: max(count, 1))
    codes.initialize(repeating: table[0].code, count: max(count, 1))
  }

  deinit {
    significands.deallocate()
    exponents.deallocate()
    codes.deallocate()
  }

  /// Element `i` set to the split of `code` (`table` indexed by code, as ``HopperStep/aTable``).
  @inline(__always)
  public func set(_ i: Int, code: Int, table: [HopperOperand]) {
    precondition(i >= 0 && i < count)
    let t = table[code]
    significands[i] = t.significand
    exponents[i] = t.exponent
    codes[i] = t.code
  }

  /// The position of element `i`.
  @inlinable @inline(__always)
  public func pointer(_ i: Int) -> HopperOperandPointer {
    HopperOperandPointer(significands + i, exponents + i, codes + i)
  }
}

/// A position in ``HopperOperandRows``.
public struct HopperOperandPointer {
  public var significands: UnsafePointer<Int32>
  public var exponents: UnsafePointer<Int32>
  public var codes: UnsafePointer<UInt16>

  @inlinable
  init(_ s: UnsafePointer<Int32>, _ e: UnsafePointer<Int32>, _ c: UnsafePointer<UInt16>) {
    significands = s
    exponents = e
    codes = c
  }

  @inlinable @inline(__always)
  public func advanced(by n: Int) -> HopperOperandPointer {
    HopperOperandPointer(significands + n, exponents + n, codes + n)
  }
}

extension HopperStep {
  /// The same step as ``callAsFunction(_:_:bStride:c:)`` on `k` contiguous split operands, with
  /// the products, alignment shifts and truncations done on SIMD vectors (32 lanes for FP8,
  /// 16 for BF16/FP16). Same bits; blocks with NaN or infinite operands take the general path.
  @inlinable @inline(__always)
  public func callAsFunction(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    instruction.k == 32 ? vector32(a, b, c: c) : vector16(a, b, c: c)
  }

  @inlinable @inline(__always)
  func vector32(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let e0 = lanes(a.exponents, 0) &+ lanes(b.exponents, 0), e1 = lanes(a.exponents, 8) &+ lanes(b.exponents, 8)
    let e2 = lanes(a.exponents, 16) &+ lanes(b.exponents, 16), e3 = lanes(a.exponents, 24) &+ lanes(b.exponents, 24)
    guard let (top, aligned) = alignment(pointwiseMax(pointwiseMax(e0, e1), pointwiseMax(e2, e3)).max(), c) else {
      return general(a, b, c: c)
    }
    let t = SIMD8<Int32>(repeating: top)
    var sum = terms(a, b, 0, e0, t) &+ terms(a, b, 8, e1, t)
    sum &+= terms(a, b, 16, e2, t) &+ terms(a, b, 24, e3, t)  // |sum| < 2^21
    let acc = Int64(sum.wrappedSum()) &+ aligned.term(top: top, alignedFractionBits: block.alignedFractionBits)
    return TensorCoreBlock.normalize(acc, top: Int(top), alignedFractionBits: block.alignedFractionBits, outputFractionBits: block.outputFractionBits)
  }

  @inlinable @inline(__always)
  func vector16(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let e0 = lanes(a.exponents, 0) &+ lanes(b.exponents, 0), e1 = lanes(a.exponents, 8) &+ lanes(b.exponents, 8)
    guard let (top, aligned) = alignment(pointwiseMax(e0, e1).max(), c) else { return general(a, b, c: c) }
    let t = SIMD8<Int32>(repeating: top)
    // Each term < 2^27: sum the two halves in 64 bits.
    let q0 = terms(a, b, 0, e0, t), q1 = terms(a, b, 8, e1, t)
    let acc = SIMD8<Int64>(truncatingIfNeeded: q0).wrappedSum() &+ SIMD8<Int64>(truncatingIfNeeded: q1).wrappedSum()
      &+ aligned.term(top: top, alignedFractionBits: block.alignedFractionBits)
    return TensorCoreBlock.normalize(acc, top: Int(top), alignedFractionBits: block.alignedFractionBits, outputFractionBits: block.outputFractionBits)
  }

  @inlinable @inline(__always)
  func lanes(_ p: UnsafePointer<Int32>, _ offset: Int) -> SIMD8<Int32> {
    UnsafeRawPointer(p + offset).loadUnaligned(as: SIMD8<Int32>.self)
  }

  /// Eight aligned, truncated, signed product terms: sign(p)·(|p|·2^productShift >> (top − e)).
  @inlinable @inline(__always)
  func terms(_ a: HopperOperandPointer, _ b: HopperOperandPointer, _ offset: Int, _ e: SIMD8<Int32>, _ top: SIMD8<Int32>) -> SIMD8<Int32> {
    let p = lanes(a.significands, offset) &* lanes(b.significands, offset)
    let s = p &>> 31  // 0 or −1
    let magnitude = (p ^ s) &- s
    let shift = pointwiseMin(top &- e, SIMD8(repeating: 31))
    let q = (magnitude &<< Int32(productShift)) &>> shift
    return (q ^ s) &- s
  }

  /// The alignment point (the largest product exponent, C's, and −133) and C split, or `nil`
  /// when a product or C is NaN or infinite.
  @inlinable @inline(__always)
  func alignment(_ productTop: Int32, _ c: UInt32) -> (top: Int32, c: AlignedC)? {
    let cBiased = Int32((c >> 23) & 0xFF)
    if cBiased == 0xFF || productTop > HopperOperand.specialExponent / 2 { return nil }
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

  @usableFromInline
  func general(_ a: HopperOperandPointer, _ b: HopperOperandPointer, c: UInt32) -> UInt32 {
    let k = instruction.k
    return block((0..<k).map { UInt32(a.codes[$0]) }, (0..<k).map { UInt32(b.codes[$0]) }, c: c)
  }
}
