/// A value type stored in one of the named formats.
///
/// Conversions from `Float`/`Double` round with `nearestEven` and the format's natural
/// overflow policy (``FloatFormat/naturalOverflow``) unless a ``Rounding`` is given.
/// Arithmetic operators compute the exact result and round it once the same way
/// (see `EmulatedArithmetic.swift`). `==` and `<` compare values (IEEE: NaN is unordered,
/// +0 == −0); use `bitPattern` to compare codes.
public protocol LowPrecisionFloat: Hashable, Comparable, Sendable, CustomStringConvertible {
  associatedtype BitPattern: FixedWidthInteger & UnsignedInteger & Sendable
  /// The format this type stores.
  static var format: FloatFormat { get }
  /// The raw code.
  var bitPattern: BitPattern { get }
  init(bitPattern: BitPattern)
}

extension LowPrecisionFloat {
  /// `x` rounded once with `rounding`.
  @inlinable
  public init(_ x: Double, rounding: Rounding) {
    self.init(bitPattern: BitPattern(truncatingIfNeeded: Self.format.encode(x, rounding)))
  }
  /// `x` rounded once to nearest, ties to even, with the natural overflow policy.
  @inlinable
  public init(_ x: Double) { self.init(x, rounding: Self.defaultRounding) }
  /// `x` rounded once to nearest, ties to even, with the natural overflow policy.
  @inlinable @_disfavoredOverload
  public init(_ x: Float) { self.init(Double(x)) }

  /// `nearestEven` with the format's natural overflow policy.
  @inlinable
  public static var defaultRounding: Rounding { Rounding(.nearestEven, overflow: format.naturalOverflow) }

  /// The exact value.
  @inlinable public var double: Double { Self.format.decode(UInt32(bitPattern)) }
  /// The exact value (every value of these formats is a `Float`).
  @inlinable public var float: Float { Float(double) }
  @inlinable public var isNaN: Bool { Self.format.isNaN(UInt32(bitPattern)) }
  @inlinable public var isInfinite: Bool { Self.format.isInfinite(UInt32(bitPattern)) }

  @inlinable
  static func apply(_ op: (FloatFormat) -> (UInt32, UInt32, Rounding, UInt64) -> UInt32,
                    _ a: Self, _ b: Self) -> Self {
    Self(bitPattern: BitPattern(truncatingIfNeeded:
      op(format)(UInt32(a.bitPattern), UInt32(b.bitPattern), defaultRounding, 0)))
  }
  @inlinable public static func + (a: Self, b: Self) -> Self { apply(FloatFormat.add, a, b) }
  @inlinable public static func - (a: Self, b: Self) -> Self { apply(FloatFormat.subtract, a, b) }
  @inlinable public static func * (a: Self, b: Self) -> Self { apply(FloatFormat.multiply, a, b) }
  @inlinable public static func / (a: Self, b: Self) -> Self { apply(FloatFormat.divide, a, b) }
  /// `√self`, rounded once.
  @inlinable public func squareRoot() -> Self {
    Self(bitPattern: BitPattern(truncatingIfNeeded:
      Self.format.squareRoot(UInt32(bitPattern), Self.defaultRounding)))
  }
  /// `self × b + c`, rounded once.
  @inlinable public func fusedMultiplyAdd(_ b: Self, _ c: Self) -> Self {
    Self(bitPattern: BitPattern(truncatingIfNeeded: Self.format.fusedMultiplyAdd(
      UInt32(bitPattern), UInt32(b.bitPattern), UInt32(c.bitPattern), Self.defaultRounding)))
  }

  @inlinable public static func == (a: Self, b: Self) -> Bool { a.double == b.double }
  @inlinable public static func < (a: Self, b: Self) -> Bool { a.double < b.double }
  @inlinable public func hash(into hasher: inout Hasher) {
    // Consistent with ==: +0 and −0 hash alike.
    hasher.combine(double == 0 ? 0 : double)
  }
  public var description: String { "\(double)" }
}

/// OCP FP8 E4M3 "fn" (see ``FloatFormat/e4m3fn``).
public struct E4M3FN: LowPrecisionFloat {
  public static var format: FloatFormat { .e4m3fn }
  public var bitPattern: UInt8
  @inlinable public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}

/// OCP FP8 E5M2 (see ``FloatFormat/e5m2``).
public struct E5M2: LowPrecisionFloat {
  public static var format: FloatFormat { .e5m2 }
  public var bitPattern: UInt8
  @inlinable public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
}

/// bfloat16 (see ``FloatFormat/bf16``).
public struct BFloat16: LowPrecisionFloat {
  public static var format: FloatFormat { .bf16 }
  public var bitPattern: UInt16
  @inlinable public init(bitPattern: UInt16) { self.bitPattern = bitPattern }
}
