import LowPrecision

/// An input code split once for ``HopperStep``: value = significand · 2^(exponent − fraction bits),
/// the significand signed (zero for ±0), the exponent unnormalised (subnormals use the format's
/// minimum exponent); `value` is the same number as a `Float` (exact for every input format of
/// the tensor-core instructions; 0 for NaN and infinite codes). NaN and infinite codes carry a
/// huge exponent so that any block holding one takes the general path; zeros carry an exponent
/// far below the −133 floor, so that zero products never move the alignment point.
public struct HopperOperand: Sendable {
  public var significand: Int32
  public var exponent: Int32
  public var code: UInt16
  public var value: Float

  /// Exponent of NaN and infinite codes: a sum of two exponents is ≥ `specialExponent / 2` exactly
  /// when an operand is special. Sums of two exponents lie in [−2000, 16 000], so that the vector
  /// rows keep them, and their differences, in `Int16`.
  @usableFromInline static let specialExponent: Int32 = 8000
  static let zeroExponent: Int32 = -1000
}

/// One tensor-core step of a `wgmma` instruction on pre-split operands, for long chains (the
/// attention schedules). Bitwise the same as ``HopperInstruction/step(_:_:c:)`` (and so as
/// ``TensorCoreBlock``); the tests compare both on random and special inputs.
///
/// The arithmetic is integer: each product's magnitude is shifted to F = 13 (FP8) or 25
/// (BF16/FP16) fraction bits below the largest unnormalised exponent of the block (C included,
/// floored at −133), truncated, summed exactly in 64 bits, then normalised and truncated once.
/// Blocks with a NaN or infinite operand (rare) go through ``TensorCoreBlock``.
public struct HopperStep: Sendable {
  public let instruction: HopperInstruction
  /// Split operands indexed by code.
  public let aTable: [HopperOperand]
  public let bTable: [HopperOperand]
  @usableFromInline let block: TensorCoreBlock
  @usableFromInline let productShift: Int

  /// The fast step of a `wgmma` instruction (the `mma.sync` FP8 forms are not tensor-core steps
  /// and are not offered).
  public init(_ instruction: HopperInstruction) {
    precondition(!instruction.isFP8MMASync, "\(instruction) has no fast step")
    self.instruction = instruction
    let (fa, fb) = instruction.inputFormats
    aTable = Self.table(fa)
    bTable = Self.table(fb)
    block = instruction.block
    productShift = block.alignedFractionBits - fa.fractionBits - fb.fractionBits
  }

  /// Every code of `format` split.
  static func table(_ format: FloatFormat) -> [HopperOperand] {
    (0..<(1 << format.bitWidth)).map { i in
      let code = UInt32(i)
      switch TensorCoreBlock.split(code, format) {
      case .nan, .infinite: return HopperOperand(significand: 0, exponent: HopperOperand.specialExponent, code: UInt16(i), value: 0)
      case .zero: return HopperOperand(significand: 0, exponent: HopperOperand.zeroExponent, code: UInt16(i), value: 0)
      case .finite(let t):
        return HopperOperand(significand: Int32(t.negative ? -t.significand : t.significand), exponent: Int32(t.exponent), code: UInt16(i),
                             value: Float(format.decode(code)))
      }
    }
  }

  /// `Σ_{i<k} a[i]·b[i·bStride] + c` for one instruction (`k` products), as FP32 bits.
  @inline(__always)
  public func callAsFunction(_ a: UnsafePointer<HopperOperand>, _ b: UnsafePointer<HopperOperand>, bStride: Int, c: UInt32) -> UInt32 {
    let k = instruction.k
    var productTop: Int32 = -2000
    for i in 0..<k {
      // A zero's exponent (−1000) keeps zero products below the −133 floor; a special's (8000)
      // puts the block at or above 4000.
      productTop = max(productTop, a[i].exponent &+ b[i &* bStride].exponent)
    }
    guard let (top, aligned) = Self.alignment(productTop, c) else { return general(a, b, bStride: bStride, c: c) }
    let F = Int32(block.alignedFractionBits)
    var acc: Int64 = 0
    for i in 0..<k {
      let x = a[i], y = b[i &* bStride]
      let product = Int64(x.significand) &* Int64(y.significand)
      let shift = top &- (x.exponent &+ y.exponent)
      let magnitude = shift >= 62 ? 0 : (Int64(product.magnitude) << Int64(productShift)) >> Int64(shift)
      acc &+= product < 0 ? -magnitude : magnitude
    }
    acc &+= aligned.term(top: top, alignedFractionBits: Int(F))
    return TensorCoreBlock.normalize(acc, top: Int(top), alignedFractionBits: Int(F), outputFractionBits: block.outputFractionBits)
  }

  func general(_ a: UnsafePointer<HopperOperand>, _ b: UnsafePointer<HopperOperand>, bStride: Int, c: UInt32) -> UInt32 {
    let k = instruction.k
    return block((0..<k).map { UInt32(a[$0].code) }, (0..<k).map { UInt32(b[$0 * bStride].code) }, c: c)
  }
}
